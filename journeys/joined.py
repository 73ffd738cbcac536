"""Joined-up journeys: care spells and front-door / child-in-need intervals as one journey per child.

In joined-up data a journey starts at a referral (or whatever the child was first known for) and
ends at case closure or leaving care, whichever is later: a continuous cover of involvement. Where
sources overlap in time the stage model's precedence decides the stage (`journeys.timeline`); the
journey's outcome is that of the involvement that ended last (ties go to the higher-ranked stage,
so leaving care outranks the case closure recorded the same day).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from journeys.spells import SPELL_COLUMNS
from journeys.stages import OPEN, UNKNOWN_EXIT, StageModel
from journeys.timeline import flatten_timeline

INTERVAL_COLUMNS = ["person_id", "stage", "start", "end", "outcome", "exit_detail", "left_truncated", "moves"]
#: A case open between its recorded stages (after an assessment, before a plan; after a plan ends,
#: before closure) counts as child in need; it ranks below every recorded stage.
COVER = "(case open)"
COVER_STAGE = "child_in_need"


def precedence_order(model: StageModel) -> list[str]:
    """Stages from lowest to highest precedence (ties in chart order)."""
    stages = model.of_kind("stage")
    return sorted(stages, key=lambda s: (model.get(s).precedence, model.get(s).order))


def care_intervals(spells: pd.DataFrame) -> pd.DataFrame:
    """Care spells as intervals; only a care journey's last spell carries its outcome (or `open`), which the
    joined spell keeps as `exit_detail` where the joined journey goes on (`_ended_with`)."""
    last = spells["step"].shift(-1, fill_value=1).eq(1).to_numpy()
    return pd.DataFrame({
        "person_id": spells["person_id"], "stage": spells["stage"], "start": spells["start"], "end": spells["end"],
        "outcome": spells["next_stage"].where(last), "exit_detail": spells["exit_detail"].where(last),
        "left_truncated": spells["left_truncated"] & (spells["step"] == 1), "moves": spells["moves"],
    })


def joined_spells(intervals: pd.DataFrame, model: StageModel, authority: str) -> pd.DataFrame:
    """Spells of joined-up journeys from intervals of every source (see INTERVAL_COLUMNS).

    `end` must be filled (open intervals censored at their source's extract date, with outcome
    `open`). Returns the spells table of DESIGN 2.
    """
    order = [COVER, *precedence_order(model)]
    intervals = intervals.assign(person_id=intervals["person_id"].to_numpy(dtype=np.uint64))  # no gaps in ids here
    segments = flatten_timeline(intervals[["person_id", "stage", "start", "end"]], order)
    journey_id = np.cumsum(segments["new_cover"].to_numpy())
    segments = _merge_cover(segments.assign(journey_id=journey_id))
    journey_id = segments["journey_id"].to_numpy()
    owned = _assign_journeys(segments, intervals)  # each interval's journey, worked out once
    ends = _journey_ends(owned, {s: i for i, s in enumerate(order)})
    first_of_person = segments.groupby("person_id", sort=False)["journey_id"].transform("min")
    journey_no = (segments["journey_id"] - first_of_person + 1).astype(np.int32)
    step = segments.groupby("journey_id").cumcount().astype(np.int32) + 1
    last = np.append(journey_id[1:] != journey_id[:-1], True)
    next_stage = segments["stage"].shift(-1).where(~last, segments["journey_id"].map(ends["outcome"]))
    prev_end = segments.groupby("person_id", sort=False)["end"].shift().where(segments["new_cover"])
    since = (segments["start"] - prev_end).dt.days.where(segments["new_cover"])
    return pd.DataFrame({
        "person_id": segments["person_id"], "authority": authority, "journey_no": journey_no, "step": step,
        "stage": segments["stage"].astype("str"), "start": segments["start"], "end": segments["end"],
        "next_stage": next_stage.astype("str"),
        "exit_detail": segments["journey_id"].map(ends["exit_detail"])
        .where(last, _ended_with(segments, intervals, model)).astype("object").where(lambda s: s.notna(), None),
        "moves": _moves(segments, intervals),
        "left_truncated": segments["journey_id"].map(_truncated(owned)).astype(bool),
        "re_entry": journey_no > 1,
        "days_since_previous": since.groupby(segments["journey_id"]).transform("max").astype("Int64"),
    }).loc[:, SPELL_COLUMNS]


def _ended_with(segments: pd.DataFrame, intervals: pd.DataFrame, model: StageModel) -> pd.Series:
    """For a stay that ends while its journey goes on, the outcome its own involvement ended with.

    A period of care that ends (returned home, special guardianship...) while the case stays open
    as child in need goes on to a stage, so `next_stage` cannot say how care ended; the Overview's
    ceasings by reason need it. Matched on the interval that ends with the segment (care outranks
    every stage, so a care spell is one segment); None where none ends there with an outcome.
    """
    outcomes = set(model.of_kind("outcome")) - {UNKNOWN_EXIT}
    ending = intervals[intervals["outcome"].isin(outcomes)][["person_id", "stage", "end", "outcome"]]
    ending = ending.drop_duplicates(["person_id", "stage", "end"])
    found = segments[["person_id", "stage", "end"]].merge(ending, how="left", on=["person_id", "stage", "end"])
    return found["outcome"].set_axis(segments.index)


def _moves(segments: pd.DataFrame, intervals: pd.DataFrame) -> np.ndarray:
    """Placement moves inside a care spell carry over: care outranks every other stage, so a care
    spell is never cut and starts a segment of its own."""
    counted = intervals[intervals["moves"].fillna(0) > 0][["person_id", "stage", "start", "moves"]]
    found = segments[["person_id", "stage", "start"]].merge(counted, how="left", on=["person_id", "stage", "start"])
    return found["moves"].fillna(0).to_numpy(dtype=np.int32)


def _merge_cover(segments: pd.DataFrame) -> pd.DataFrame:
    """Name the open-case filler as child in need and merge it with child-in-need segments beside it."""
    stage = segments["stage"].replace(COVER, COVER_STAGE)
    change = (segments["new_cover"] | (stage != stage.shift())).to_numpy()
    return segments.assign(stage=stage, block=np.cumsum(change)).groupby("block", sort=True).agg(
        person_id=("person_id", "first"), start=("start", "first"), end=("end", "last"), stage=("stage", "first"),
        new_cover=("new_cover", "first"), journey_id=("journey_id", "first")).reset_index(drop=True)


def _assign_journeys(segments: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """Each interval belongs to the journey (cover block) in which it starts."""
    covers = segments[segments["new_cover"]][["person_id", "start", "journey_id"]]
    keyed = intervals.reset_index(drop=True).assign(_i=np.arange(len(intervals)))
    merged = pd.merge_asof(keyed.sort_values("start"), covers.sort_values("start"), on="start", by="person_id",
                           direction="backward")
    return merged.sort_values("_i")


def _journey_ends(owned: pd.DataFrame, rank: dict[str, int]) -> pd.DataFrame:
    """Per journey: the outcome and detail of the involvement that ended last."""
    codes, names = pd.factorize(owned["stage"])
    owned = owned.assign(rank=np.array([rank.get(n, -1) for n in names], dtype=np.int64)[codes]).sort_values(["journey_id", "end", "rank"], kind="stable")
    last = owned.drop_duplicates("journey_id", keep="last").set_index("journey_id")
    outcome = last["outcome"].astype("object").where(last["outcome"].notna(), UNKNOWN_EXIT)
    return pd.DataFrame({"outcome": outcome, "exit_detail": last["exit_detail"]})


def _truncated(owned: pd.DataFrame) -> pd.Series:
    """A journey is left-truncated when the involvement it starts with was already under way."""
    owned = owned.sort_values(["journey_id", "start"], kind="stable")
    return owned.drop_duplicates("journey_id").set_index("journey_id")["left_truncated"].astype(bool)


def censor(intervals: pd.DataFrame, extract_date: dt.date) -> pd.DataFrame:
    """Open intervals end at the extract date with the outcome `open`."""
    is_open = intervals["end"].isna()
    return intervals.assign(end=intervals["end"].fillna(pd.Timestamp(extract_date)),
                            outcome=intervals["outcome"].astype("object").where(~is_open, OPEN))
