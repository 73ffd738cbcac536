"""Headline figures (DfE way, counting children): exact counts on hand-built spells, suppression, a real build."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from journeys.headline import (
    CONTINUED_SUPPORT,
    available_years,
    headline_counts,
    headline_figures,
    year_bounds,
)
from journeys.spells import SPELL_COLUMNS
from journeys.stages import load_stage_model
from journeys.suppress import DisclosureError

MODEL = load_stage_model()
YEAR = 2024  # 1 April 2023 .. 31 March 2024
EXTRACT = "2024-06-30"
FOSTER, HOME = "foster_other", "residential"


def spell(person: str, stage: str, start: str, end: str, next_stage: str, *, journey: int = 1, moves: int = 0,
          truncated: bool = False, detail: str | None = None, authority: str = "la") -> dict[str, Any]:
    """One spell row; steps are numbered by `spells` in the order the rows are given."""
    return {"person_id": person, "authority": authority, "journey_no": journey, "stage": stage,
            "start": pd.Timestamp(start), "end": pd.Timestamp(end), "next_stage": next_stage, "exit_detail": detail,
            "moves": moves, "left_truncated": truncated}


def spells(*rows: dict[str, Any]) -> pd.DataFrame:
    """A spells table (DESIGN 2 columns and types) from spell() rows."""
    frame = pd.DataFrame(list(rows))
    frame["step"] = frame.groupby(["authority", "person_id", "journey_no"]).cumcount() + 1
    frame["re_entry"] = frame["journey_no"] > 1
    frame["days_since_previous"] = pd.array([None] * len(frame), dtype="Int64")
    types = {"journey_no": "int32", "step": "int32", "moves": "int32", "start": "datetime64[us]",
             "end": "datetime64[us]", "exit_detail": "object"}
    return frame.astype(types)[SPELL_COLUMNS]


def counts(frame: pd.DataFrame, year: int = YEAR) -> dict[str, int]:
    table = headline_counts(frame, MODEL, year)
    return dict(zip(table["measure"], table["count"].tolist()))


def figures(frame: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    return headline_figures(frame, MODEL, YEAR, **kwargs).set_index("measure")


def in_care(n: int, prefix: str, *, start: str = "2023-06-01", moves: int = 0, authority: str = "la",
            journey: int = 1) -> list[dict[str, Any]]:
    """n children in foster care from `start`, still there at the extract date."""
    return [spell(f"{prefix}{i}", FOSTER, start, EXTRACT, "open", moves=moves, authority=authority, journey=journey)
            for i in range(n)]


def test_year_bounds_and_available_years() -> None:
    assert year_bounds(2024) == (pd.Timestamp("2023-04-01"), pd.Timestamp("2024-03-31"))
    frame = spells(spell("a", FOSTER, "2021-03-31", "2021-05-01", "returned_home"),
                   spell("b", FOSTER, "2022-06-01", "2023-04-01", "open"))
    assert available_years(frame) == [2021, 2022, 2023, 2024]
    assert available_years(frame.iloc[:0]) == []


def test_looked_after_on_31_march_counts_each_child_once() -> None:
    frame = spells(
        spell("a", FOSTER, "2023-01-01", "2024-02-01", HOME),  # two spells in the year, one child
        spell("a", HOME, "2024-02-01", EXTRACT, "open", moves=1),
        spell("b", FOSTER, "2023-06-01", "2024-03-31", "returned_home"),  # left on 31 March: not looked after
        spell("c", FOSTER, "2024-01-01", "2024-03-31", "open"),  # still open at an extract date of 31 March
        spell("a", FOSTER, "2023-01-01", EXTRACT, "open", authority="other"),  # same id, another council
        spell("e", FOSTER, "2024-04-01", EXTRACT, "open"),  # after the year
    )
    got = counts(frame)
    assert got["looked_after_31_march"] == 3
    assert got["looked_after_during_year"] == 4
    assert got["started_in_year"] == 2  # b and c; a started before the year
    assert "children_in_need_31_march" not in got  # care-only data say nothing about children in need


def test_started_counts_children_once_and_not_left_truncated_journeys() -> None:
    frame = spells(
        spell("b", FOSTER, "2023-05-01", "2023-06-01", "returned_home"),  # starts twice in the year
        spell("b", FOSTER, "2023-09-01", EXTRACT, "open", journey=2),
        spell("c", FOSTER, "2023-04-01", EXTRACT, "open", truncated=True),  # already in care when data begin
        spell("d", FOSTER, "2022-01-01", "2023-05-01", HOME),  # a move inside care is no start
        spell("d", HOME, "2023-05-01", EXTRACT, "open"),
        spell("e", FOSTER, "2023-03-31", EXTRACT, "open"),  # the day before the year
        spell("f", FOSTER, "2024-03-31", EXTRACT, "open"),  # the last day of the year
        spell("g", FOSTER, "2021-01-01", "2022-01-01", "returned_home", truncated=True),
        spell("g", FOSTER, "2023-07-01", EXTRACT, "open", journey=2),  # back after a truncated period
    )
    got = counts(frame)
    assert got["started_in_year"] == 3  # b, f, g
    assert got["re_entries_in_year"] == 2  # b (second start) and g
    assert got["ceased_in_year"] == 1 and got["ceased_returned_home"] == 1


def test_ceasing_counts_each_child_once_by_the_last_reason_in_the_year() -> None:
    frame = spells(
        spell("h", FOSTER, "2023-01-01", "2023-05-01", "returned_home"),
        spell("h", FOSTER, "2023-08-01", "2023-12-01", "adopted", journey=2),  # the last ceasing wins
        spell("i", FOSTER, "2022-01-01", "2023-04-01", "special_guardianship"),  # first day of the year
        spell("j", FOSTER, "2022-01-01", "2023-03-31", "returned_home"),  # the year before
        spell("k", FOSTER, "2022-01-01", "2024-04-01", "returned_home"),  # the year after
        spell("l", FOSTER, "2023-06-01", "2023-07-01", "independent_living"),
        spell("l", FOSTER, "2023-09-01", EXTRACT, "open", journey=2),  # ceased, then back: still ceased
    )
    got = counts(frame)
    ceased = {k: v for k, v in got.items() if k.startswith("ceased_")}
    assert ceased == {"ceased_in_year": 3, "ceased_adopted": 1, "ceased_special_guardianship": 1,
                      "ceased_independent_living": 1}
    assert list(ceased) == ["ceased_in_year", "ceased_adopted", "ceased_special_guardianship",
                            "ceased_independent_living"]  # reasons in stage-model order
    assert got["looked_after_31_march"] == 2  # k and l


def test_ceasings_on_the_same_day_take_the_later_spell() -> None:
    # two care spells of one child end on the same day (a data fault the build reports): the later row's reason
    frame = spells(
        spell("m", FOSTER, "2023-05-01", "2023-09-01", "returned_home"),
        spell("m", FOSTER, "2023-06-01", "2023-09-01", "adopted", journey=2),
    )
    got = counts(frame)
    assert got["ceased_in_year"] == 1 and got["ceased_adopted"] == 1 and "ceased_returned_home" not in got


def test_the_apps_categorical_columns_and_earlier_care_count_as_text_does() -> None:
    # the app passes a year of spells (authority and stages categorical) and, as text, who was in care before it
    frame = spells(
        spell("b", FOSTER, "2021-05-01", "2022-06-01", "returned_home"),
        spell("b", FOSTER, "2023-09-01", EXTRACT, "open", journey=2),  # back in the year: a re-entry
        spell("b", FOSTER, "2023-10-01", EXTRACT, "open", authority="other"),  # the same id elsewhere: a first start
        spell("c", FOSTER, "2023-07-01", EXTRACT, "open"),
    )
    year = frame[frame["end"] >= pd.Timestamp("2023-04-01")].reset_index(drop=True)
    # an authority not in the year first, so that coding each column on its own would number them differently
    earlier = pd.DataFrame({"authority": pd.array(["zz", "la"], dtype="str"),
                            "person_id": pd.array(["c", "b"], dtype="str")})
    app = year.astype({"authority": "category", "stage": "category", "next_stage": "category"})
    expected = headline_counts(frame, MODEL, YEAR)
    assert dict(zip(expected["measure"], expected["count"]))["re_entries_in_year"] == 1
    for spells_given in (year, app):
        got = headline_counts(spells_given, MODEL, YEAR, earlier_care=earlier, in_need_data=False)
        pd.testing.assert_frame_equal(got, expected)


def test_joined_up_care_ending_while_the_journey_goes_on() -> None:
    frame = spells(
        spell("e", "referral", "2023-04-10", "2023-04-20", "assessment"),
        spell("e", "assessment", "2023-04-20", "2023-05-01", FOSTER),
        spell("e", FOSTER, "2023-05-01", "2023-10-01", "child_in_need"),  # care ends, journey goes on
        spell("e", "child_in_need", "2023-10-01", "2024-02-01", "case_closed"),
        spell("f", "child_in_need", "2022-01-01", "2023-06-01", FOSTER, truncated=True),
        spell("f", FOSTER, "2023-06-01", "2023-08-01", "child_in_need", truncated=True,
              detail="Special guardianship order"),  # a detail naming a care outcome is used
        spell("f", "child_in_need", "2023-08-01", EXTRACT, "open", truncated=True),
    )
    got = counts(frame)
    assert got["started_in_year"] == 2  # from an assessment, and from child in need (observed, not truncated)
    assert got["re_entries_in_year"] == 0
    ceased = {k: v for k, v in got.items() if k.startswith("ceased_")}
    assert ceased == {"ceased_in_year": 2, "ceased_special_guardianship": 1, f"ceased_{CONTINUED_SUPPORT}": 1}
    assert (got["children_in_need_31_march"], got["children_in_need_not_looked_after_31_march"]) == (1, 1)
    labels = headline_counts(frame, MODEL, YEAR).set_index("measure")["label"]
    assert labels["ceased_special_guardianship"] == "Ceased to be looked after in 2023-24: Special guardianship order"
    assert "reason for leaving care not in the data" in labels[f"ceased_{CONTINUED_SUPPORT}"]


def test_children_in_need_and_on_plans_on_31_march() -> None:
    open_stages = ["contact", "early_help", "referral", "assessment", "child_in_need", "section_47",
                   "child_protection", FOSTER]
    frame = spells(
        *[spell(f"s{i}", stage, "2024-01-01", EXTRACT, "open") for i, stage in enumerate(open_stages)],
        spell("closed", "child_in_need", "2023-01-01", "2024-03-31", "case_closed"),  # closed that day
        spell("later", "child_protection", "2024-04-01", EXTRACT, "open"),
    )
    got = counts(frame)
    assert got["children_in_need_not_looked_after_31_march"] == 5  # not contact, not early help
    assert got["looked_after_31_march"] == 1
    assert got["children_in_need_31_march"] == 6  # the DfE headline includes children looked after
    assert got["on_cp_plan_31_march"] == 1
    assert headline_counts(frame, MODEL, YEAR)["label"].iloc[0] == "Children looked after on 31 March 2024"


def test_placement_stability_counts_spells_and_moves_in_the_year() -> None:
    frame = spells(
        spell("p", FOSTER, "2022-01-01", "2023-06-01", HOME, moves=1),  # 2 spells + 1 move = 3
        spell("p", HOME, "2023-06-01", EXTRACT, "open"),
        spell("q", FOSTER, "2023-05-01", EXTRACT, "open", moves=1),  # 2 placements
        spell("r", FOSTER, "2023-05-01", "2023-07-01", HOME, moves=1),  # 3, but left before 31 March
        spell("r", HOME, "2023-07-01", "2023-12-01", "returned_home"),
        spell("s", FOSTER, "2022-01-01", "2023-03-01", HOME, moves=5),  # before the year: not counted
        spell("s", HOME, "2023-03-01", EXTRACT, "open", moves=1),  # 2 placements
    )
    got = counts(frame)
    assert got["three_plus_placements"] == 1
    assert (got["looked_after_31_march"], got["looked_after_during_year"]) == (3, 4)


def test_rates_and_shares_with_a_population_table() -> None:
    frame = spells(*in_care(6, "x", moves=2), *in_care(6, "y"),  # 12 start in the year, 6 with 3 placements
                   *in_care(12, "z", authority="lb", start="2020-01-01"))
    population = pd.DataFrame({"authority": ["la", "lb", "la"], "year": [2024, 2024, 2023],
                               "population_0_17": [24_000, 36_000, 1]})
    got = figures(frame[frame["authority"] == "la"], population=population)
    assert got.loc["looked_after_31_march", ["count", "rate_per_10000"]].tolist() == ["12", "5.0"]
    assert got.loc["started_in_year", ["count", "rate_per_10000", "share"]].tolist() == ["12", "5.0", ""]
    assert got.loc["ceased_in_year", ["count", "rate_per_10000"]].tolist() == ["0", "0.0"]
    assert got.loc["three_plus_placements", ["count", "rate_per_10000", "share"]].tolist() == ["6", "", "50%"]
    assert got.loc["re_entries_in_year", ["count", "share"]].tolist() == ["0", "0%"]
    both = figures(frame, population=population)  # two councils: 24 children per 60,000
    assert both.loc["looked_after_31_march", ["count", "rate_per_10000"]].tolist() == ["24", "4.0"]
    assert both.loc["three_plus_placements", "share"] == "25%"
    missing_lb = figures(frame, population=population[population["authority"] == "la"])
    assert set(missing_lb["rate_per_10000"]) == {""}
    assert set(figures(frame)["rate_per_10000"]) == {""}
    assert list(figures(frame).reset_index().columns) == ["measure", "label", "count", "rate_per_10000", "share"]
    with pytest.raises(ValueError, match="population_0_17"):
        figures(frame, population=population.drop(columns="population_0_17"))


def test_suppression_hides_small_counts_with_their_rates_shares_and_partners() -> None:
    ceasers = [spell(f"{reason}{i}", FOSTER, "2022-01-01", "2023-09-01", reason)
               for reason, n in (("returned_home", 2), ("adopted", 7), ("special_guardianship", 8)) for i in range(n)]
    frame = spells(*ceasers,
                   *in_care(3, "new"),  # 3 start in the year: hidden
                   *in_care(2, "moved", start="2020-01-01", moves=2), *in_care(15, "old", start="2020-01-01"))
    population = pd.DataFrame({"authority": ["la"], "year": [2024], "population_0_17": [10_000]})
    got = figures(frame, population=population)
    assert got.loc["ceased_returned_home", "count"] == "c"
    reasons = got.loc[["ceased_adopted", "ceased_special_guardianship"], "count"]
    assert (reasons == "c").sum() >= 1  # secondary suppression
    shown = [int(v) for v in reasons if v != "c"]
    if got.loc["ceased_in_year", "count"] != "c":
        assert got.loc["ceased_in_year", "count"] == "17"
        assert 17 - sum(shown) > 5  # the hidden reasons add up to more than the threshold
    assert got.loc["started_in_year", ["count", "rate_per_10000"]].tolist() == ["c", "c"]
    assert got.loc["re_entries_in_year", ["count", "share"]].tolist() == ["0", "c"]  # its denominator is hidden
    assert got.loc["looked_after_31_march", ["count", "rate_per_10000"]].tolist() == ["20", "20.0"]
    assert got.loc["three_plus_placements", ["count", "share"]].tolist() == ["c", "c"]
    exact = headline_counts(frame, MODEL, YEAR).set_index("measure")["count"]
    assert (exact["ceased_returned_home"], exact["started_in_year"], exact["three_plus_placements"]) == (2, 3, 2)
    assert set(figures(frame, threshold=1).loc[["ceased_returned_home", "started_in_year"], "count"]) == {"2", "3"}
    with pytest.raises(DisclosureError):
        figures(frame, threshold=0)


def test_children_in_need_parts_are_suppressed_together() -> None:
    frame = spells(*in_care(20, "lac", start="2020-01-01"),
                   *[spell(f"cin{i}", "child_in_need", "2024-01-01", EXTRACT, "open") for i in range(3)])
    got = figures(frame)
    assert got.loc["children_in_need_not_looked_after_31_march", "count"] == "c"
    parts = got.loc[["looked_after_31_march", "children_in_need_31_march"], "count"]
    assert (parts == "c").any(), "23 - 20 would give the hidden 3 away"


# --- a real build: SSDA903 episodes through the pipeline ------------------------------------------

ROWS = [
    ("1", "01/01/2018", "S", "C2", "U4", "", ""),                 # in care throughout
    ("2", "01/06/2018", "S", "C2", "U4", "01/02/2019", "X1"),     # starts, moves to a children's home
    ("2", "01/02/2019", "P", "C2", "K2", "", ""),
    ("3", "01/05/2018", "S", "C2", "U4", "31/03/2019", "E4A"),    # goes home on 31 March
    ("4", "01/04/2017", "S", "V2", "U1", "10/10/2018", "E13"),    # leaves, and comes back
    ("4", "01/12/2018", "S", "C2", "U4", "", ""),
    ("5", "01/04/2019", "S", "C2", "U4", "", ""),                 # after the year
    ("6", "15/03/2019", "S", "C1", "P1", "", ""),                 # placed with parents
]


def test_real_build_agrees_with_a_plain_row_filter(build_903) -> None:
    result = build_903(ROWS)
    built, day = result.spells, pd.Timestamp("2019-03-31")
    care = built["stage"].isin([s for s in MODEL.ids if MODEL.get(s).group == "in_care"])
    covering = care & (built["start"] <= day) & (
        (built["end"] > day) | ((built["next_stage"] == "open") & (built["end"] >= day)))
    expected = built.loc[covering, ["authority", "person_id"]].drop_duplicates().shape[0]
    got = counts(built, 2019)
    assert got["looked_after_31_march"] == expected == 4  # children 1, 2, 4 and 6
    assert (got["started_in_year"], got["re_entries_in_year"], got["ceased_in_year"]) == (4, 1, 2)
    assert (got["ceased_returned_home"], got["ceased_lives_with_relatives_or_others"]) == (1, 1)
    assert got["looked_after_during_year"] == 5
    assert available_years(built) == [2018, 2019, 2020]  # first start 1 April 2017, extract 31 March 2020


def test_viewer_mode_keys_each_figure_on_its_children() -> None:
    """Each figure's cell key sums its children's record keys, and its noise follows the p-table."""
    from journeys.perturb import PTable, record_keys

    secret = "0123456789abcdef"
    frame = spells(*in_care(30, "a"), *in_care(12, "b", start="2022-01-01"),
                   *[spell(f"r{i}", FOSTER, "2023-05-01", "2023-09-01", "returned_home") for i in range(20)])
    exact = headline_counts(frame, MODEL, YEAR)
    keyed = headline_counts(frame, MODEL, YEAR, secret=secret).set_index("measure")
    assert (keyed["count"].to_numpy() == exact["count"].to_numpy()).all()  # the counts themselves stay exact
    looked_after = [f"a{i}" for i in range(30)] + [f"b{i}" for i in range(12)]
    keys = record_keys(pd.Series(looked_after), None, secret)
    assert keyed.loc["looked_after_31_march", "cell_key"] == keys.sum() % 256
    ceased = record_keys(pd.Series([f"r{i}" for i in range(20)]), None, secret).sum() % 256
    assert keyed.loc["ceased_returned_home", "cell_key"] == keyed.loc["ceased_in_year", "cell_key"] == ceased
    noisy = figures(frame, secret=secret)
    table = PTable.default().table
    assert noisy.loc["looked_after_31_march", "count"] == str(42 + table[42, keyed.loc["looked_after_31_march",
                                                                                         "cell_key"]])
    assert noisy.loc["ceased_returned_home", "count"] == str(20 + table[20, ceased])
    # the same children in another table: the same noise (no difference of two views is exact)
    alone = figures(spells(*[spell(f"r{i}", FOSTER, "2023-05-01", "2023-09-01", "returned_home")
                             for i in range(20)]), secret=secret)
    assert alone.loc["ceased_returned_home", "count"] == noisy.loc["ceased_returned_home", "count"]
