"""Cohort comparison on hand-built spells: who is in each cohort, where they are after the horizon, and
what the comparison publishes (shares, the test of chance, survival) under disclosure control."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from journeys.cohorts import (NOT_FOLLOWED, Cohort, around, compare_cohorts, horizon_states, members,
                              state_counts, stage_times, chance_table, _months_shown)
from journeys.stages import load_stage_model
from tests.test_steps import frame, journey, many

MODEL = load_stage_model()
BEFORE, AFTER = around(dt.date(2021, 4, 1))  # 2020-04-01..2021-03-31 and 2021-04-01..2022-03-31


def test_around_gives_the_year_before_and_the_year_from_the_date() -> None:
    assert (BEFORE.first, BEFORE.last) == (dt.date(2020, 4, 1), dt.date(2021, 3, 31))
    assert (AFTER.first, AFTER.last) == (dt.date(2021, 4, 1), dt.date(2022, 3, 31))
    assert (BEFORE.label, AFTER.label) == ("Before", "After")
    with pytest.raises(ValueError, match="ends"):
        Cohort("x", dt.date(2021, 1, 2), dt.date(2021, 1, 1))


def test_members_are_children_by_their_first_journey_in_the_window() -> None:
    spells = frame(
        journey("x1", ["foster_other"], "returned_home", start="2020-05-01"),
        journey("x1", ["residential"], "returned_home", start="2020-09-01", no=2),  # same child, same window
        journey("x1", ["foster_other"], "open", start="2021-06-01", no=3),  # ... and again after
        journey("x2", ["child_in_need"], "case_closed", start="2021-03-31"),  # the window's last day
        journey("x3", ["child_in_need"], "case_closed", start="2021-04-01"),
        journey("x4", ["foster_other"], "open", start="2020-06-01", truncated=True),  # under way: no entry
        journey("x5", ["foster_other"], "adopted", start="2019-01-01"),
    )
    m = members(spells, [BEFORE, AFTER])
    people = spells["person_id"].to_numpy()[m.rows[m.begins]]
    journeys = spells["journey_no"].to_numpy()[m.rows[m.begins]]
    assert list(zip(m.cohort.tolist(), people.tolist(), journeys.tolist())) == [
        (0, "x1", 1), (0, "x2", 1), (1, "x1", 3), (1, "x3", 1)]
    assert m.start.astype("datetime64[D]").astype(str).tolist() == ["2020-05-01", "2021-03-31", "2021-06-01",
                                                                    "2021-04-01"]
    narrowed = members(spells, [BEFORE, AFTER], keep=[None, (spells["person_id"] != "x1").to_numpy()])
    assert narrowed.cohort.tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="two cohorts"):
        members(spells, [BEFORE])


def _gap_journey() -> list[dict]:
    """child_in_need to 2021-05-20, then child protection from 2021-06-10 (a gap the journey bridges)."""
    rows = journey("e", ["child_in_need", "child_protection"], "open", start="2020-06-01", days=[353, 100])
    rows[1]["start"] = pd.Timestamp("2021-06-10")
    rows[1]["end"] = pd.Timestamp("2022-12-31")
    return rows


def test_where_journeys_are_after_twelve_months() -> None:
    spells = frame(
        journey("a", ["foster_other", "residential"], "open", start="2020-05-01", days=[400, 1000]),
        journey("b", ["child_in_need"], "case_closed", start="2020-05-01", days=100),
        journey("c", ["residential"], "returned_home", start="2021-06-01", days=365),  # ends on the day
        journey("d", ["referral"], "no_further_action", start="2022-03-01", days=10),  # not followed 12 months
        _gap_journey(),
        journey("f", ["foster_kinship"], "open", start="2021-05-01", days=609),  # open at the extract date
    )
    m = members(spells, [BEFORE, AFTER])
    states = horizon_states(spells, m, 12, dt.date(2022, 12, 31))
    people = spells["person_id"].to_numpy()[m.rows[m.begins]]
    assert dict(zip(people, states)) == {"a": "foster_other", "b": "case_closed", "e": "child_protection",
                                         "c": "returned_home", "d": NOT_FOLLOWED, "f": "foster_kinship"}
    counts = state_counts(states, m.cohort, [BEFORE, AFTER], MODEL)
    assert list(counts.columns) == ["child_protection", "foster_kinship",
                                    "foster_other", "case_closed", "returned_home", NOT_FOLLOWED]
    assert counts.loc["Before"].tolist() == [1, 0, 1, 1, 0, 0]
    assert counts.loc["After"].tolist() == [0, 1, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="horizon"):
        horizon_states(spells, m, 0, dt.date(2022, 12, 31))


def _two_cohorts() -> pd.DataFrame:
    """Before: 40 children (20 home in 100 days, 17 still fostered, 3 adopted); after: 39 followed (10 home,
    25 fostered, 4 adopted) and 2 who started too late to be followed 12 months."""
    return frame(*many("b", 20, ["foster_other"], "returned_home", start="2020-05-01", days=100),
                 *many("bf", 17, ["foster_other"], "open", start="2020-05-01", days=974),
                 *many("ba", 3, ["foster_other"], "adopted", start="2020-05-01", days=200),
                 *many("a", 10, ["foster_other"], "returned_home", start="2021-05-01", days=60),
                 *many("af", 25, ["foster_other"], "open", start="2021-05-01", days=609),
                 *many("aa", 4, ["foster_other"], "adopted", start="2021-05-01", days=300),
                 *many("an", 2, ["foster_other"], "open", start="2022-03-01", days=305))


def test_comparison_publishes_only_what_disclosure_control_allows() -> None:
    result = compare_cohorts(_two_cohorts(), MODEL, [BEFORE, AFTER], followed_until=dt.date(2022, 12, 31))
    shown = result.table.display()
    assert shown.loc["Before"].tolist() == ["c", "20", "c", "40"]  # 3 adopted hidden, and a partner with it
    assert shown.loc["After"].tolist() == ["c", "10", "c", "39"]
    assert result.not_followed.display()["journeys"].tolist() == ["0", "c", "c"]  # 2 not followed: hidden
    shares = result.shares.set_index("state")
    assert shares.loc["returned_home", "share_a"] == pytest.approx(0.5)
    assert shares.loc["returned_home", "share_b"] == pytest.approx(10 / 39)
    assert (shares.loc["returned_home", "lower_a"], shares.loc["returned_home", "upper_a"]) == pytest.approx(
        (0.3520, 0.6480), abs=1e-4)
    assert shares.loc["returned_home", "difference"] == pytest.approx(10 / 39 - 0.5)
    assert shares.loc[["foster_other", "adopted"], ["share_a", "lower_b", "difference"]].isna().all().all()


def test_the_test_of_chance_sees_only_the_published_table() -> None:
    result = compare_cohorts(_two_cohorts(), MODEL, [BEFORE, AFTER], followed_until=dt.date(2022, 12, 31))
    table, pooled = chance_table(result.table)
    assert pooled == ("foster_other", "adopted")
    assert table is not None and table.tolist() == [[20, 20], [10, 29]]  # home, the rest (40 - 20, 39 - 10)
    assert result.test is not None and result.test.df == 1
    assert result.test.statistic == pytest.approx(stats.chi2_contingency(table, correction=False).statistic)
    assert result.test.p_text() == f"{result.test.p_value:.3f}" and 0.01 < result.test.p_value < 0.1
    exact = compare_cohorts(_two_cohorts(), MODEL, [BEFORE, AFTER], followed_until=dt.date(2022, 12, 31),
                            threshold=2)  # nothing small enough to hide: the test uses every state
    assert exact.pooled == () and chance_table(exact.table)[0].tolist() == [[17, 20, 3], [25, 10, 4]]


def test_no_test_where_a_cohort_total_is_hidden() -> None:
    spells = frame(*many("b", 30, ["foster_other"], "returned_home", start="2020-05-01", days=100),
                   *many("a", 4, ["foster_other"], "returned_home", start="2021-05-01", days=100))
    result = compare_cohorts(spells, MODEL, [BEFORE, AFTER], followed_until=dt.date(2022, 12, 31))
    assert result.table.display().loc["After", "Total"] == "c"
    assert result.test is None and result.pooled == ()
    assert result.shares["share_b"].isna().all()


def test_months_shown_never_show_a_step_of_one_to_threshold_children() -> None:
    at_risk = np.array([30, 25, 20, 14, 12, 9])
    left = np.array([0, 3, 8, 9, 15, 20])
    assert _months_shown(at_risk, left, 5).tolist() == [True, False, True, False, True, False]
    assert _months_shown(np.array([30, 30]), np.array([2, 9]), 5).tolist() == [False, True]  # 2 gone at once


def test_survival_by_month_median_and_log_rank() -> None:
    result = compare_cohorts(_two_cohorts(), MODEL, [BEFORE, AFTER], followed_until=dt.date(2022, 12, 31))
    before = result.survival[result.survival["cohort"] == "Before"].set_index("month")["survival"]
    assert before.loc[[0, 1, 2, 3]].tolist() == [1.0] * 4
    assert before.loc[4] == pytest.approx(0.5)  # 20 of 40 home at 100 days
    assert before.loc[7:].isna().all()  # 3 adopted at 200 days: a step of 3 children is never drawn
    assert before.index.max() == 32  # 17 still fostered at 974 days: months while at least 10 are followed
    assert result.medians.set_index("cohort")["median_weeks"].tolist()[0] == 14  # 100 days
    assert np.isnan(result.medians.set_index("cohort").loc["After", "median_weeks"])  # never reaches one half
    assert result.survival_test is not None and result.survival_test.df == 1


def test_survival_of_small_groups_is_not_published() -> None:
    spells = frame(*many("b", 30, ["foster_other"], "returned_home", start="2020-05-01", days=100),
                   *many("a", 9, ["foster_other"], "returned_home", start="2021-05-01", days=100))
    result = compare_cohorts(spells, MODEL, [BEFORE, AFTER], followed_until=dt.date(2022, 12, 31))
    assert set(result.survival["cohort"]) == {"Before"}
    assert np.isnan(result.medians.set_index("cohort").loc["After", "median_weeks"])
    assert result.survival_test is None


def test_time_in_a_named_stage_takes_each_journeys_first_spell_there() -> None:
    spells = frame(*many("b", 12, ["child_in_need", "foster_other"], "returned_home", start="2020-05-01",
                         days=[30, 70]),
                   *many("a", 12, ["child_in_need", "foster_other", "residential", "foster_other"],
                         "returned_home", start="2021-05-01", days=[30, 14, 60, 300]),
                   *many("n", 12, ["child_in_need"], "case_closed", start="2021-05-01", days=30))
    result = compare_cohorts(spells, MODEL, [BEFORE, AFTER], followed_until=dt.date(2022, 12, 31),
                             stage="foster_other")
    assert result.medians["median_weeks"].tolist() == [10.0, 2.0]  # 70 and 14 days: the first stays
    days, ended, group = stage_times(spells, members(spells, [BEFORE, AFTER]), "foster_other")
    assert sorted(zip(group.tolist(), days.tolist())) == [(0, 70.0)] * 12 + [(1, 14.0)] * 12
