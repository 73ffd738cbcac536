"""Per-stage quarter figures: exact on hand-built spells, consistent with quarter_flows, suppressed across linked measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from journeys.flows import Period, quarter_flows
from journeys.quarter_stats import (
    MEASURES,
    all_quarter_counts,
    data_periods,
    quarter_stage_counts,
    quarter_table_display,
    suppress_stage_measures,
    suppressed_quarter_table,
    trend_frame,
    year_on_year,
)
from journeys.stages import load_stage_model
from journeys.suppress import suppress_series

MODEL = load_stage_model()
Q = Period.parse("2023Q2")  # 1 April to 30 June 2023
EXTRACT = "2024-03-31"
STOCK = ["stock_start", "entries", "exits", "stock_end"]


def make_spells(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (person, stage, start, end, next_stage[, step, moves]) as a spells frame."""
    rows = [(*r, *(1, 0)[len(r) - 5:]) for r in rows]  # step 1 and no moves unless given
    frame = pd.DataFrame(rows, columns=["person_id", "stage", "start", "end", "next_stage", "step", "moves"])
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[us]")
    return frame.astype({"step": "int32", "moves": "int32"})


MIXED = make_spells([
    ("a", "foster_other", "2023-01-10", "2023-09-01", "residential", 1, 2),  # there all quarter
    ("b", "residential", "2023-04-15", "2023-05-20", "returned_home", 1, 3),  # in and out within it
    ("c", "foster_kinship", "2023-05-01", EXTRACT, "open", 1, 4),  # comes in; still there at the extract
    ("d", "foster_other", "2023-04-01", "2023-06-30", "adopted"),  # first day: an entry; last day: left
    ("e", "foster_other", "2022-12-01", "2023-05-10", "residential", 1, 1),  # moves stage in the quarter
    ("e", "residential", "2023-05-10", "2023-08-01", "returned_home", 2, 0),
])


def random_spells(seed: int = 0, children: int = 60, journeys: int = 2) -> pd.DataFrame:
    """About 200 spells, back to back within a journey, journeys apart; open at 31 December 2022."""
    rng, stages = np.random.default_rng(seed), MODEL.of_kind("stage")
    extract, rows = pd.Timestamp("2022-12-31"), []
    for child in range(children):
        day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 900)))
        for _ in range(int(rng.integers(1, journeys + 1))):
            path = rng.choice(stages, size=int(rng.integers(1, 5)), replace=False)
            for step, stage in enumerate(path, 1):
                end = day + pd.Timedelta(days=int(rng.choice([0, rng.integers(1, 40), rng.integers(40, 400)])))
                after = str(path[step]) if step < len(path) else str(rng.choice(["returned_home", "case_closed"]))
                shut = end >= extract
                rows.append((f"k{child}", str(stage), day, min(end, extract), "open" if shut else after, step,
                             int(rng.integers(0, 4))))
                day = end
                if shut:
                    break
            day += pd.Timedelta(days=int(rng.integers(1, 60)))
            if day >= extract or rows[-1][4] == "open":
                break
    return make_spells(rows)


def test_hand_built_quarter_exact() -> None:
    counts = quarter_stage_counts(MIXED, Q, MODEL)
    assert list(counts.columns) == list(MEASURES) and (counts.dtypes == "int64").all()
    assert counts.to_dict("index") == {
        "foster_kinship": dict(stock_start=0, entries=1, exits=0, stock_end=1, moves_in=0, placement_moves=0),
        "foster_other": dict(stock_start=2, entries=1, exits=2, stock_end=1, moves_in=0, placement_moves=1),
        "residential": dict(stock_start=0, entries=2, exits=1, stock_end=1, moves_in=1, placement_moves=3),
    }
    flows = quarter_flows(MIXED, Q, MODEL)
    assert flows.sum(axis=1).reindex(counts.index, fill_value=0).tolist() == counts["stock_start"].tolist()
    assert flows.sum(axis=0).reindex(counts.index, fill_value=0).tolist() == counts["stock_end"].tolist()
    s = counts
    assert (s["stock_start"] + s["entries"] - s["exits"] == s["stock_end"]).all()


def test_open_spell_at_extract_date_is_stock_not_exit() -> None:
    last = quarter_stage_counts(MIXED, Period.parse("2024Q1"), MODEL).loc["foster_kinship"]
    assert last.to_dict() == dict(stock_start=1, entries=0, exits=0, stock_end=1, moves_in=0, placement_moves=0)
    earlier = make_spells([("x", "residential", "2023-01-01", "2024-02-15", "open")])  # extract date mid-quarter
    assert quarter_stage_counts(earlier, Period.parse("2024Q1"), MODEL).loc["residential", STOCK].tolist() == \
        [1, 0, 0, 0]  # as in quarter_flows, nobody is known on a last day after the extract date


def test_distinct_children_need_not_add_up() -> None:
    twice = make_spells([
        ("f", "residential", "2023-01-01", "2023-04-20", "foster_other", 1),
        ("f", "foster_other", "2023-04-20", "2023-05-01", "residential", 2),
        ("f", "residential", "2023-05-01", "2023-06-01", "returned_home", 3),
    ])
    row = quarter_stage_counts(twice, Q, MODEL).loc["residential", STOCK].tolist()
    assert row == [1, 1, 1, 0]  # one child, two spells left: 1 + 1 - 1 != 0


@pytest.mark.parametrize("journeys", [1, 2])
def test_random_spells_consistent_with_flows_and_vectorised_counts(journeys: int) -> None:
    spells = random_spells(journeys=journeys)
    assert 140 <= len(spells) <= 260 and (spells["next_stage"] == "open").sum() >= 5
    periods = data_periods(spells)
    assert (periods[0].key, periods[-1].key) == (f"{spells['start'].min().year}Q1", "2022Q4")
    long = all_quarter_counts(spells, MODEL)
    assert list(long.columns) == ["period", "period_label", "stage", "measure", "count"]
    assert long["period"].unique().tolist() == [p.key for p in periods]
    totals, gaps = pd.Series(0, index=list(MEASURES)), 0
    for period in periods:
        exact = quarter_stage_counts(spells, period, MODEL)
        fast = long[long["period"] == period.key].pivot(index="stage", columns="measure", values="count")
        pd.testing.assert_frame_equal(fast.reindex(index=exact.index, columns=exact.columns), exact,
                                      check_names=False, check_index_type=False, check_column_type=False)
        flows = quarter_flows(spells, period, MODEL)
        assert flows.sum(axis=1).reindex(exact.index, fill_value=0).tolist() == exact["stock_start"].tolist()
        assert flows.sum(axis=0).reindex(exact.index, fill_value=0).tolist() == exact["stock_end"].tolist()
        gaps += int((exact["stock_start"] + exact["entries"] - exact["exits"] != exact["stock_end"]).sum())
        totals += exact.sum()
    assert (totals > 20).all()  # every measure is exercised
    # with one journey a child is never in a stage twice, so the stock adds up; with two it sometimes does not
    assert gaps == 0 if journeys == 1 else gaps > 0


def test_chosen_periods_come_back_sorted_once() -> None:
    spells = random_spells()
    chosen = [Period.parse("2022Q3"), Period.parse("2021Q1"), Period.parse("2022Q3")]
    long = all_quarter_counts(spells, MODEL, chosen)
    assert long["period"].unique().tolist() == ["2021Q1", "2022Q3"]
    assert long["period_label"].unique().tolist() == ["2020-21 Q4", "2022-23 Q2"]
    one = long[long["period"] == "2021Q1"].pivot(index="stage", columns="measure", values="count")
    exact = quarter_stage_counts(spells, chosen[1], MODEL)
    assert (one.reindex(index=exact.index, columns=exact.columns).to_numpy() == exact.to_numpy()).all()


def attacker_widths(counts: pd.DataFrame, hidden: np.ndarray, hidden_totals: np.ndarray) -> list[float]:
    """An independent attacker: LP bounds of every hidden cell and total, and of each small entries - moves_in,
    knowing the published values, column totals, stock_start + entries - exits == stock_end and moves_in <= entries."""
    grid = counts[list(MEASURES)].to_numpy(dtype=float)
    n_s, n_m = grid.shape
    truth = np.concatenate([grid.ravel(), grid.sum(axis=0)])
    shut = np.concatenate([hidden.ravel(), hidden_totals])
    var = np.cumsum(shut) - 1
    eq, rhs, ub = [], [], []

    def relation(terms: list[tuple[int, float]]) -> tuple[np.ndarray, float]:
        row, const = np.zeros(int(shut.sum())), 0.0
        for entry, coef in terms:
            if shut[entry]:
                row[var[entry]] += coef
            else:
                const -= coef * truth[entry]
        return row, const

    col = {m: MEASURES.index(m) for m in MEASURES}
    for j in range(n_m):
        row, const = relation([(s * n_m + j, 1.0) for s in range(n_s)] + [(n_s * n_m + j, -1.0)])
        eq.append(row), rhs.append(const)
    for s in range(n_s):
        signs = {"stock_start": 1.0, "entries": 1.0, "exits": -1.0, "stock_end": -1.0}
        row, const = relation([(s * n_m + col[m], sign) for m, sign in signs.items()])
        eq.append(row), rhs.append(const)
        row, const = relation([(s * n_m + col["moves_in"], 1.0), (s * n_m + col["entries"], -1.0)])
        ub.append((row, const))
    widths = []
    objectives = [np.eye(int(shut.sum()))[var[e]] for e in np.flatnonzero(shut)]
    for s in range(n_s):
        if 1 <= grid[s, col["entries"]] - grid[s, col["moves_in"]] <= 5:
            objectives.append(relation([(s * n_m + col["entries"], 1.0), (s * n_m + col["moves_in"], -1.0)])[0])
    for c in objectives:
        kw = dict(A_eq=np.array(eq), b_eq=np.array(rhs), A_ub=np.array([u[0] for u in ub]),
                  b_ub=np.array([u[1] for u in ub]), bounds=(0, None), method="highs")
        low, high = linprog(c, **kw), linprog(-c, **kw)
        widths.append(np.inf if high.status == 3 else -high.fun - low.fun)
    return widths


LINKED = pd.DataFrame(
    [[20, 3, 0, 23, 3, 0], [30, 10, 12, 28, 10, 14], [40, 8, 9, 39, 8, 11], [50, 12, 10, 52, 9, 13]],
    index=pd.Index(["foster_kinship", "foster_other", "residential", "placed_with_parents"], name="stage"),
    columns=list(MEASURES),
)


def test_suppression_hides_small_counts_and_what_the_links_give_away() -> None:
    naive = [suppress_series(LINKED[m]) for m in MEASURES]  # one measure at a time, as a one-way table
    cells = np.column_stack([t.cells.iloc[:, 0].isna().to_numpy() for t in naive])
    totals = np.array([pd.isna(t.column_totals.iloc[0]) for t in naive])
    assert min(attacker_widths(LINKED, cells, totals)) == 0  # foster_kinship's 3 entries: 23 - 20 + 0

    table = suppress_stage_measures(LINKED)
    shown = quarter_table_display(table, MODEL)
    assert shown.loc["Foster care: family and friends", "Entered"] == "c"
    assert shown.loc["Foster care: family and friends", "Came from another stage"] == "c"
    assert (table.primary.to_numpy() == ((LINKED >= 1) & (LINKED <= 5)).to_numpy()).all()
    assert table.secondary.to_numpy().sum() >= 2  # partners, not just the small counts
    hidden, hidden_totals = table.cells.isna().to_numpy(), table.column_totals.isna().to_numpy()
    assert min(attacker_widths(LINKED, hidden, hidden_totals)) > 5
    assert table.row_totals.isna().all() and table.grand_total is None  # sums across measures mean nothing
    published = table.cells.to_numpy(dtype=float, na_value=np.nan)
    assert np.array_equal(published[~hidden], LINKED.to_numpy(dtype=float)[~hidden])


def test_stocks_shown_beside_a_flows_table_stay_as_given_and_a_zero_protects_an_entry() -> None:
    """Beside a flows table the children at start and end are its margins, shown or hidden by the stock rule:
    the per-stage table may not use them as partners. Then only left = 0 can protect 2 entered, through
    6 + 2 - 0 = 8, so that 0 is hidden."""
    counts = pd.DataFrame([[44, 7, 10, 41, 7, 12], [6, 2, 0, 8, 2, 0], [30, 9, 8, 31, 6, 3]],
                          index=pd.Index(["foster_other", "placed_with_parents", "residential"], name="stage"),
                          columns=list(MEASURES))
    alone = suppress_stage_measures(counts)
    assert alone.cells["stock_start"].isna().sum() == 2  # on its own, the table hides stocks as partners
    table = suppress_stage_measures(counts, stocks=np.zeros((3, 2), dtype=bool))
    assert table.cells[["stock_start", "stock_end"]].notna().all().all()
    assert table.cells.isna().to_numpy().tolist() == [
        [False, True, True, False, True, True], [False, True, True, False, True, False],
        [False, True, True, False, True, True]]
    assert table.secondary.loc["placed_with_parents", "exits"] and counts.loc["placed_with_parents", "exits"] == 0
    hidden, hidden_totals = table.cells.isna().to_numpy(), table.column_totals.isna().to_numpy()
    assert min(attacker_widths(counts, hidden, hidden_totals)) > 5
    hidden_stock = suppress_stage_measures(counts, stocks=np.array([[False, False], [True, False], [False, False]]))
    assert hidden_stock.cells["stock_start"].isna().tolist() == [False, True, False]


def test_placement_moves_follow_their_children() -> None:
    counts = LINKED.copy()
    counts.loc["residential", ["exits", "stock_end"]] = [4, 44]  # 4 children left: their 11 moves are theirs
    table = suppress_stage_measures(counts)
    assert pd.isna(table.cells.loc["residential", "exits"]) and pd.isna(table.cells.loc["residential", "placement_moves"])
    assert not table.primary.loc["residential", "placement_moves"]
    assert min(attacker_widths(counts, table.cells.isna().to_numpy(), table.column_totals.isna().to_numpy())) > 5


def test_quarter_display_exact() -> None:
    shown = quarter_table_display(suppressed_quarter_table(MIXED, Q, MODEL), MODEL)
    assert list(shown.columns) == ["Children at start", "Entered", "Left", "Children at end",
                                   "Came from another stage", "Placement moves"]
    assert shown.to_dict("split")["index"] == ["Foster care: family and friends", "Foster care: other carers",
                                               "Residential care", "All stages"]
    assert shown.to_numpy().tolist() == [
        ["0", "c", "0", "c", "0", "0"],
        ["c", "c", "c", "c", "0", "c"],
        ["0", "c", "c", "c", "c", "c"],
        ["c", "c", "c", "c", "c", "c"],
    ]


def test_trend_frame_matches_each_quarter_table() -> None:
    spells = random_spells(children=150, journeys=1)
    trend = trend_frame(spells, MODEL, periods=[Period.parse("2021Q2"), Period.parse("2022Q2")])
    assert list(trend.columns) == ["period", "period_label", "stage", "stage_label", "measure", "count", "display"]
    assert str(trend["count"].dtype) == "Int64"
    assert (trend["count"].isna() == (trend["display"] == "c")).all()
    assert trend["display"].eq("c").any() and trend["count"].gt(5).any()
    for key in ("2021Q2", "2022Q2"):
        table = suppressed_quarter_table(spells, Period.parse(key), MODEL)
        part = trend[(trend["period"] == key) & (trend["stage"] != "all")]
        cells = part.pivot(index="stage", columns="measure", values="count").reindex(
            index=table.cells.index, columns=table.cells.columns)
        assert cells.isna().equals(table.cells.isna())
        assert (cells.fillna(-1).to_numpy() == table.cells.fillna(-1).to_numpy()).all()
        total = trend[(trend["period"] == key) & (trend["stage"] == "all")].set_index("measure")["count"]
        assert total.reindex(table.column_totals.index).isna().equals(table.column_totals.isna())


def test_year_on_year_change() -> None:
    spells = make_spells(
        [(f"a{i}", "foster_other", "2022-01-01", "2023-12-31", "returned_home") for i in range(12)]
        + [(f"b{i}", "foster_other", "2023-01-01", "2023-12-31", "returned_home") for i in range(8)]
        + [(f"k{i}", "foster_kinship", "2022-01-01", "2023-12-31", "returned_home") for i in range(10)]
        + [(f"p{i}", "placed_with_parents", "2022-05-01", "2023-12-31", "returned_home") for i in range(3)]
    )
    yoy = year_on_year(spells, Q, MODEL).set_index(["stage", "measure"])
    assert list(yoy.columns) == ["stage_label", "this_quarter", "year_before", "change"]

    def row(stage: str, measure: str) -> list[str]:
        return yoy.loc[(stage, measure), ["this_quarter", "year_before", "change"]].tolist()

    assert yoy.loc[("foster_other", "stock_start"), "stage_label"] == "Foster care: other carers"
    assert row("foster_other", "stock_start") == ["20", "12", "+8"]
    assert row("foster_other", "entries") == ["0", "0", "0"]
    # partners of the 3 placed with parents: this year in both stock columns; a year before only at the end,
    # but foster_kinship's 10 at the start would then give away its 10 at the end (nobody came or went)
    assert row("foster_kinship", "stock_start") == ["c", "c", "c"]
    assert row("foster_kinship", "stock_end") == ["c", "c", "c"]
    assert row("placed_with_parents", "stock_start") == ["c", "0", "c"]
    assert row("placed_with_parents", "entries") == ["0", "c", "c"]
    assert row("all", "stock_end") == ["33", "25", "+8"]
    assert row("all", "stock_start") == ["33", "c", "c"]  # a year before, the total partners foster_kinship's 10
    first = year_on_year(spells, Period.parse("2022Q2"), MODEL)  # a year before the data begins
    assert set(first["year_before"]) == {""} and set(first["change"]) == {""}


def test_no_children_in_the_quarter_gives_an_empty_table() -> None:
    """A filter that leaves nobody in a quarter: an empty, publishable table (this used to raise in the audit)."""
    empty = pd.DataFrame(columns=list(MEASURES), index=pd.Index([], name="stage"), dtype="int64")
    table = suppress_stage_measures(empty)
    assert table.cells.shape == (0, len(MEASURES)) and not table.column_totals.isna().any()
    assert table.column_totals.tolist() == [0] * len(MEASURES)
