"""Hand-built journeys with exact expected spells and transitions, one per rule of DESIGN 2-3."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.conftest import pid

D = pd.Timestamp


def spells_of(result, child: str) -> list[tuple]:
    s = result.spells[result.spells["person_id"] == pid(child)]
    return [(r.journey_no, r.step, r.stage, r.start.date().isoformat(), r.end.date().isoformat(), r.next_stage,
             r.moves) for r in s.itertuples()]


def transitions_of(result, child: str) -> list[tuple]:
    t = result.transitions[result.transitions["person_id"] == pid(child)]
    return [(r.journey_no, r.step, r.from_stage, r.to_stage, r.date.date().isoformat()) for r in t.itertuples()]


def problems(result) -> set[str]:
    """Issue codes found, leaving out the note that the collection year was inferred."""
    return set(result.issues["code"]) - {"inferred-return-year"}


def codes_for(result, code: str) -> list[int]:
    return result.issues.loc[result.issues["code"] == code, "row"].tolist()


def test_x1_same_day_changes_make_one_journey(build_903):
    r = build_903([
        ("1", "01/01/2019", "S", "C1", "U4", "01/03/2019", "X1"),
        ("1", "01/03/2019", "P", "C1", "U4", "01/06/2019", "X1"),
        ("1", "01/06/2019", "P", "C2", "K2", "01/09/2019", "E4A"),
    ])
    assert spells_of(r, "1") == [
        (1, 1, "foster_other", "2019-01-01", "2019-06-01", "residential", 1),
        (1, 2, "residential", "2019-06-01", "2019-09-01", "returned_home", 0),
    ]
    assert transitions_of(r, "1") == [
        (1, 1, "entry", "foster_other", "2019-01-01"),
        (1, 2, "foster_other", "residential", "2019-06-01"),
        (1, 3, "residential", "returned_home", "2019-09-01"),
    ]
    assert r.spells["exit_detail"].tolist() == [None, "planned"]
    assert r.report["rows_used"] == 3 and not problems(r)


def test_open_episode_is_censored_at_extract_date(build_903):
    r = build_903([("2", "01/01/2019", "S", "C2", "U1", "", "")])
    assert spells_of(r, "2") == [(1, 1, "foster_kinship", "2019-01-01", "2020-03-31", "open", 0)]
    assert transitions_of(r, "2")[-1] == (1, 2, "foster_kinship", "open", "2020-03-31")


def test_open_episode_carrying_rec_stays_open_with_warning(build_903):
    r = build_903([("3", "01/01/2019", "S", "C2", "U1", "", "E4A")])
    assert spells_of(r, "3") == [(1, 1, "foster_kinship", "2019-01-01", "2020-03-31", "open", 0)]
    assert codes_for(r, "rec-without-dec") == [2]
    assert r.report["rows_used"] == 1


def test_temporary_move_is_absorbed_and_not_a_move(build_903):
    r = build_903([
        ("4", "01/01/2019", "S", "C2", "U4", "01/02/2019", "X1"),
        ("4", "01/02/2019", "T", "C2", "T1", "10/02/2019", "X1"),
        ("4", "10/02/2019", "P", "C2", "U4", "01/05/2019", "E11"),
    ])
    assert spells_of(r, "4") == [(1, 1, "foster_other", "2019-01-01", "2019-05-01", "adopted", 0)]
    assert r.report["rows_used"] == 3


def test_a_childs_moves_do_not_depend_on_the_child_before_it(build_903):
    """A journey that starts in a temporary placement: the move out of it is the child's own, whatever the
    previous child's last placement was (a fill across the table once made it 'back from temporary')."""
    child = [("20", "01/01/2019", "S", "C2", "T1", "10/01/2019", "X1"),
             ("20", "10/01/2019", "P", "C2", "U4", "01/05/2019", "E11")]
    before = next(c for c in map(str, range(21, 200)) if pid(c) < pid("20"))  # sorted just before it, in U4
    alone, beside = build_903(child), build_903([(before, "01/06/2018", "S", "C2", "U4", "", ""), *child])
    assert spells_of(alone, "20") == spells_of(beside, "20") == [
        (1, 1, "foster_other", "2019-01-01", "2019-05-01", "adopted", 1)]


def test_short_breaks_are_ignored_by_rule(build_903):
    r = build_903([
        ("5", "01/01/2019", "S", "V3", "U4", "03/01/2019", "E4A"),
        ("5", "01/02/2019", "S", "V4", "U4", "03/02/2019", "E4A"),
        ("6", "01/01/2019", "S", "C2", "U4", "", ""),
    ])
    assert spells_of(r, "5") == []
    assert r.report["rows_ignored"] == 2
    assert r.report["ignored_by_rule"] == {"Short breaks (LS V3, V4)": 2}
    assert r.report["rows_used"] == 1


def test_short_gap_is_merged(build_903):
    r = build_903([
        ("7", "01/01/2019", "S", "C2", "U4", "01/02/2019", "X1"),
        ("7", "02/02/2019", "P", "C2", "U5", "", ""),
    ])
    assert spells_of(r, "7") == [(1, 1, "foster_other", "2019-01-01", "2020-03-31", "open", 1)]
    assert not problems(r)


def test_long_gap_ends_journey_with_unknown_exit(build_903):
    r = build_903([
        ("8", "01/01/2019", "S", "C2", "U4", "01/02/2019", "X1"),
        ("8", "01/05/2019", "P", "C2", "U4", "", ""),
    ])
    assert spells_of(r, "8") == [
        (1, 1, "foster_other", "2019-01-01", "2019-02-01", "unknown_exit", 0),
        (2, 1, "foster_other", "2019-05-01", "2020-03-31", "open", 0),
    ]
    assert transitions_of(r, "8")[2] == (2, 1, "before_data", "foster_other", "2019-05-01")
    assert codes_for(r, "journey-gap") == [2]
    assert codes_for(r, "left-truncated-journey") == [3]
    second = r.spells[r.spells["journey_no"] == 2].iloc[0]
    assert second["re_entry"] and second["left_truncated"] and second["days_since_previous"] == 89


def test_overlap_is_cut_at_next_start(build_903):
    r = build_903([
        ("9", "01/01/2019", "S", "C2", "U4", "01/04/2019", "X1"),
        ("9", "01/03/2019", "P", "C2", "K2", "", ""),
    ])
    assert spells_of(r, "9") == [
        (1, 1, "foster_other", "2019-01-01", "2019-03-01", "residential", 0),
        (1, 2, "residential", "2019-03-01", "2020-03-31", "open", 0),
    ]
    issue = r.issues[r.issues["code"] == "overlapping-episode"].iloc[0]
    assert (issue["row"], issue["column"], issue["value"], issue["detail"]) == (2, "DEC", "01/04/2019", "01/03/2019")


def test_stacked_repeat_latest_return_wins(build_903):
    r = build_903(
        [("10", "01/01/2019", "S", "C2", "U4", "", "")],
        [("10", "01/01/2019", "S", "C2", "U4", "01/06/2019", "E4B")],
        names=["episodes_2018-19.csv", "episodes_2019-20.csv"],
    )
    assert spells_of(r, "10") == [(1, 1, "foster_other", "2019-01-01", "2019-06-01", "returned_home", 0)]
    assert r.spells["exit_detail"].tolist() == ["unplanned"]
    assert (r.report["rows_used"], r.report["rows_superseded"]) == (1, 1)
    assert [i["rows_superseded"] for i in r.report["inputs"]] == [1, 0]
    assert [i["return_year"] for i in r.report["inputs"]] == [2019, 2020]


def test_exact_repeat_within_one_return_is_quarantined(build_903):
    r = build_903([
        ("11", "01/01/2019", "S", "C2", "U4", "", ""),
        ("11", "01/01/2019", "S", "C2", "U4", "", ""),
    ])
    assert codes_for(r, "duplicate-episode") == [3]
    assert r.report["quarantined_by_reason"] == {"duplicate-episode": 1}


def test_re_entry_is_a_new_journey(build_903):
    r = build_903([
        ("12", "01/01/2018", "S", "C2", "U4", "01/06/2018", "E4A"),
        ("12", "01/09/2018", "S", "C2", "K2", "", ""),
    ])
    assert spells_of(r, "12") == [
        (1, 1, "foster_other", "2018-01-01", "2018-06-01", "returned_home", 0),
        (2, 1, "residential", "2018-09-01", "2020-03-31", "open", 0),
    ]
    assert transitions_of(r, "12")[2] == (2, 1, "entry", "residential", "2018-09-01")
    second = r.spells.iloc[1]
    assert second["re_entry"] and not second["left_truncated"] and second["days_since_previous"] == 92


def test_left_truncated_start_comes_from_before_data(build_903):
    r = build_903([("13", "01/01/2019", "P", "C2", "U4", "01/02/2019", "E13")])
    assert transitions_of(r, "13") == [
        (1, 1, "before_data", "foster_other", "2019-01-01"),
        (1, 2, "foster_other", "lives_with_relatives_or_others", "2019-02-01"),
    ]
    assert codes_for(r, "left-truncated-journey") == [2]


def test_unknown_code_is_quarantined_not_dropped(build_903):
    r = build_903([
        ("14", "01/01/2019", "S", "C2", "Q9", "", ""),
        ("15", "01/01/2019", "S", "C2", "U4", "01/02/2019", "E99"),
    ])
    assert r.report["quarantined_by_reason"] == {"unknown-exit-code": 1, "unknown-service-code": 1}
    assert r.report["rows_read"] == 2 and r.report["rows_used"] == 0


@pytest.mark.parametrize("extract", [dt.date(2020, 3, 31)])
def test_graph_counts_and_median_days(build_903, extract):
    r = build_903([
        ("20", "01/01/2019", "S", "C2", "U4", "11/01/2019", "X1"),
        ("20", "11/01/2019", "P", "C2", "K2", "", ""),
        ("21", "01/01/2019", "S", "C2", "U4", "21/01/2019", "X1"),
        ("21", "21/01/2019", "P", "C2", "K2", "", ""),
    ], extract=extract)
    graph = r.graph()
    assert graph.edges["foster_other", "residential"] == {"count": 2, "median_days": 15.0}
    assert graph.edges["entry", "foster_other"]["median_days"] is None
    assert graph.nodes["residential"]["label"] == "Residential care"
