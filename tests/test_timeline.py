"""Overlapping involvements resolved into one stage at a time, by the stage model's precedence."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.stages import load_stage_model
from journeys.timeline import flatten_timeline

ORDER = sorted(load_stage_model().ids, key=lambda s: (load_stage_model().get(s).precedence,
                                                      load_stage_model().get(s).order))


def timeline(*rows: tuple) -> list[tuple]:
    """rows: (person, stage, start, end) -> [(person, stage, start, end, new_cover)]."""
    frame = pd.DataFrame(rows, columns=["person_id", "stage", "start", "end"])
    frame["start"], frame["end"] = pd.to_datetime(frame["start"]), pd.to_datetime(frame["end"])
    out = flatten_timeline(frame, ORDER)
    return [(r.person_id, r.stage, f"{r.start:%m-%d}", f"{r.end:%m-%d}", bool(r.new_cover))
            for r in out.itertuples()]


def test_protection_plan_outranks_child_in_need_while_both_are_open() -> None:
    assert timeline((1, "child_in_need", "2024-01-01", "2024-06-01"),
                    (1, "child_protection", "2024-02-01", "2024-03-01")) == [
        (1, "child_in_need", "01-01", "02-01", True),
        (1, "child_protection", "02-01", "03-01", False),
        (1, "child_in_need", "03-01", "06-01", False)]


def test_care_outranks_everything_and_ties_keep_one_stage() -> None:
    assert timeline((1, "section_47", "2024-01-01", "2024-03-01"),
                    (1, "foster_other", "2024-02-01", "2024-05-01"),
                    (1, "child_protection", "2024-02-15", "2024-04-01")) == [
        (1, "section_47", "01-01", "02-01", True), (1, "foster_other", "02-01", "05-01", False)]


def test_same_day_handover_keeps_both_stages_in_order() -> None:
    assert timeline((1, "referral", "2024-01-01", "2024-01-01"),
                    (1, "section_47", "2024-01-01", "2024-01-10")) == [
        (1, "referral", "01-01", "01-01", True), (1, "section_47", "01-01", "01-10", False)]


def test_instant_inside_a_higher_stage_disappears() -> None:
    assert timeline((1, "child_protection", "2024-01-01", "2024-03-01"),
                    (1, "referral", "2024-02-01", "2024-02-01")) == [
        (1, "child_protection", "01-01", "03-01", True)]


def test_gap_starts_a_new_cover_and_children_do_not_mix() -> None:
    assert timeline((1, "referral", "2024-01-01", "2024-01-05"),
                    (1, "assessment", "2024-01-05", "2024-02-01"),
                    (1, "referral", "2024-05-01", "2024-05-03"),
                    (2, "assessment", "2024-01-02", "2024-01-03")) == [
        (1, "referral", "01-01", "01-05", True), (1, "assessment", "01-05", "02-01", False),
        (1, "referral", "05-01", "05-03", True), (2, "assessment", "01-02", "01-03", True)]


def test_adjacent_equal_stages_merge() -> None:
    assert timeline((1, "child_in_need", "2024-01-01", "2024-02-01"),
                    (1, "child_in_need", "2024-02-01", "2024-03-01")) == [
        (1, "child_in_need", "01-01", "03-01", True)]


def test_open_intervals_must_be_censored_first() -> None:
    frame = pd.DataFrame({"person_id": [1], "stage": ["referral"], "start": pd.to_datetime(["2024-01-01"]),
                          "end": pd.to_datetime([None])})
    with pytest.raises(ValueError, match="censor open ones first"):
        flatten_timeline(frame, ORDER)


@st.composite
def _intervals(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    rows = []
    for _ in range(n):
        start = draw(st.integers(0, 30))
        rows.append((draw(st.integers(1, 3)), draw(st.sampled_from(ORDER[:6] + ORDER[-3:])), start,
                     start + draw(st.integers(0, 10))))
    frame = pd.DataFrame(rows, columns=["person_id", "stage", "start", "end"])
    base = pd.Timestamp("2024-01-01")
    frame["start"] = base + pd.to_timedelta(frame["start"], unit="D")
    frame["end"] = base + pd.to_timedelta(frame["end"], unit="D")
    return frame


@settings(max_examples=200, deadline=None)
@given(_intervals())
def test_every_moment_shows_the_highest_ranked_active_stage(frame: pd.DataFrame) -> None:
    out = flatten_timeline(frame, ORDER)
    rank = {s: i for i, s in enumerate(ORDER)}
    for person, segs in out.groupby("person_id"):
        segs = segs.sort_values("start", kind="stable")
        assert (segs["start"].to_numpy()[1:] >= segs["end"].to_numpy()[:-1]).all(), "segments overlap"
        mine = frame[frame["person_id"] == person]
        for seg in segs.itertuples():
            if seg.end > seg.start:  # a lasting segment: check the middle of it against brute force
                mid = seg.start + (seg.end - seg.start) / 2
                active = mine[(mine["start"] <= mid) & (mid < mine["end"])]
                assert seg.stage == max(active["stage"], key=rank.__getitem__)
        # every lasting moment a child is in some interval is covered by a segment
        lasting = mine[mine["end"] > mine["start"]]
        covered = sum((s.end - s.start).days for s in segs.itertuples())
        days = set()
        for iv in lasting.itertuples():
            days |= set(pd.date_range(iv.start, iv.end - pd.Timedelta(days=1)))
        assert covered == len(days)


def test_two_instants_at_one_moment_show_the_higher_ranked() -> None:
    assert timeline((1, "referral", "2024-01-01", "2024-01-01"),
                    (1, "assessment", "2024-01-01", "2024-01-01")) == [(1, "assessment", "01-01", "01-01", True)]
