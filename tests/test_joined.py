"""Joined-up journeys: the front door and care in one journey per child (hand-built, exact results)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from journeys.config import load_config
from journeys.pipeline import run_pipeline
from tests.conftest import KEY, ROOT, pid

DATA = Path(__file__).parent / "data" / "joined"


@pytest.fixture(scope="module")
def result():
    return run_pipeline([DATA / "cin_census_2023-24.xml", DATA / "episodes.csv"],
                        load_config(ROOT / "pathway_configs" / "ssda903.yaml"), key=KEY,
                        extract_date=dt.date(2024, 3, 31))


def moves(result, child: str) -> list[tuple]:
    t = result.transitions[result.transitions["person_id"] == pid(child)]
    return [(r.journey_no, r.from_stage, r.to_stage, f"{r.date:%Y-%m-%d}") for r in t.itertuples()]


def test_front_door_to_care_and_back_to_protection(result) -> None:
    # care outranks the open protection plan; when care ends the plan is still open
    assert moves(result, "J1") == [
        (1, "entry", "referral", "2023-04-03"),
        (1, "referral", "assessment", "2023-04-05"),
        (1, "assessment", "child_in_need", "2023-05-10"),  # authorised; the plan starts 2 days later
        (1, "child_in_need", "section_47", "2023-06-15"),
        (1, "section_47", "child_protection", "2023-06-28"),
        (1, "child_protection", "foster_other", "2023-09-01"),
        (1, "foster_other", "child_protection", "2024-02-01"),
        (1, "child_protection", "open", "2024-03-31"),
    ]
    care = result.spells[(result.spells["person_id"] == pid("J1")) & (result.spells["stage"] == "foster_other")]
    assert care["moves"].tolist() == [1]  # the change of carer inside foster care survives the join


def test_re_referral_is_a_new_journey(result) -> None:
    assert moves(result, "J2") == [
        (1, "entry", "referral", "2023-05-01"),
        (1, "referral", "no_further_action", "2023-05-01"),
        (2, "entry", "referral", "2023-08-01"),
        (2, "referral", "assessment", "2023-08-02"),
        (2, "assessment", "no_further_action", "2023-09-01"),
    ]
    second = result.spells[(result.spells["person_id"] == pid("J2")) & (result.spells["journey_no"] == 2)]
    assert second["re_entry"].all() and (second["days_since_previous"] == 92).all()


def test_child_seen_only_in_care_is_still_counted(result) -> None:
    assert moves(result, "J3") == [(1, "entry", "residential", "2023-06-01"),
                                   (1, "residential", "open", "2024-03-31")]


def test_accounting_covers_every_source(result) -> None:
    r = result.report
    assert [(i["file"], i["table"], i["rows_read"], i["rows_used"]) for i in r["inputs"]] == [
        ("episodes.csv", "episodes", 3, 3),
        ("cin_census_2023-24.xml", "cin_children", 2, 2),
        ("cin_census_2023-24.xml", "cin_details", 3, 3),
    ]
    assert r["rows_read"] == 8 == r["rows_used"]
    assert set(result.episodes["source"]) == {"ssda903", "cin"}
    assert r["extract_dates"] == {"ssda903": "2024-03-31", "cin": "2024-03-31"}


def test_synthetic_northgate_joins_front_door_to_care(tmp_path) -> None:
    """The bundled sample holds full journeys: front door, protection, care and out again."""
    files = sorted((ROOT / "data_samples" / "northgate").iterdir())
    r = run_pipeline(files, load_config(ROOT / "pathway_configs" / "northgate.yaml"), key=KEY)
    pairs = set(zip(r.transitions["from_stage"], r.transitions["to_stage"]))
    for pair in [("entry", "referral"), ("referral", "assessment"), ("assessment", "child_in_need"),
                 ("child_in_need", "section_47"), ("section_47", "child_protection"),
                 ("child_protection", "foster_other"), ("referral", "no_further_action")]:
        assert pair in pairs, pair
    care_exits = r.transitions[r.transitions["from_stage"].isin(["foster_other", "foster_kinship", "residential"])]
    assert care_exits["to_stage"].isin(["returned_home", "special_guardianship", "adopted"]).any()
    assert r.report["rows_quarantined"] == 0
    assert r.report["rows_read"] == sum(r.report[f"rows_{b}"] for b in ("used", "superseded", "ignored",
                                                                       "quarantined"))


def test_how_care_ended_is_kept_when_the_journey_goes_on(result) -> None:
    """J1 returned home (REC E4A) while the protection plan went on: the Overview must count a return home."""
    from journeys.headline import CONTINUED_SUPPORT, headline_counts

    care = result.spells[(result.spells["person_id"] == pid("J1")) & (result.spells["stage"] == "foster_other")]
    assert care[["next_stage", "exit_detail"]].values.tolist() == [["child_protection", "returned_home"]]
    ceased = headline_counts(result.spells, result.stage_model, 2024).set_index("measure")["count"]
    assert ceased["ceased_in_year"] == 1 and ceased["ceased_returned_home"] == 1
    assert f"ceased_{CONTINUED_SUPPORT}" not in ceased.index
    others = result.spells[result.spells["stage"] != "foster_other"]
    assert others.loc[others["next_stage"].isin(result.stage_model.of_kind("stage")), "exit_detail"].isna().all()
