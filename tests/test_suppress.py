"""Tests for journeys.suppress: exact small tables, an LP attacker, shares, determinism."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from journeys.suppress import (
    DEFAULT_THRESHOLD,
    SUPPRESSED,
    DisclosureError,
    SuppressedTable,
    safe_share,
    suppress_series,
    suppress_table,
)


def frame(rows: list[list[int]], index: str = "abc", columns: str = "xyz") -> pd.DataFrame:
    return pd.DataFrame(rows, index=list(index[: len(rows)]), columns=list(columns[: len(rows[0])]))


def shown(rows: list[list[str]], index: Sequence[str] = "abc", columns: Sequence[str] = "xyz") -> pd.DataFrame:
    """An expected display(): text cells with a Total row and column."""
    return pd.DataFrame(rows, index=[*index, "Total"], columns=[*columns, "Total"], dtype=str)


def random_counts(seed: int, shape: tuple[int, int], zero: float, small: float, big: int) -> np.ndarray:
    """A seeded table: share `zero` of zeros, share `small` of 1..5, the rest 6..big."""
    rng = np.random.default_rng(seed)
    u = rng.random(shape)
    return np.where(u < zero, 0, np.where(u < zero + small, rng.integers(1, 6, shape), rng.integers(6, big, shape)))


ONE_THREE = frame([[3, 20, 30], [40, 50, 60], [70, 80, 90]])


# --- exact small tables -------------------------------------------------------------------


def test_one_small_cell_hides_a_rectangle_and_keeps_totals() -> None:
    table = suppress_table(ONE_THREE)
    expected = shown(
        [
            ["c", "c", "30", "53"],
            ["c", "c", "60", "150"],
            ["70", "80", "90", "240"],
            ["113", "150", "180", "443"],
        ]
    )
    pd.testing.assert_frame_equal(table.display(), expected)
    assert table.primary.to_numpy().tolist() == [[True, False, False], [False] * 3, [False] * 3]
    assert table.secondary.to_numpy().tolist() == [[False, True, False], [True, True, False], [False] * 3]
    assert table.hidden_mask().to_numpy().sum() == 4
    assert table.cells.dtypes.tolist() == ["Int64"] * 3
    assert table.row_totals.tolist() == [53, 150, 240] and table.row_totals.dtype == "Int64"
    assert table.column_totals.tolist() == [113, 150, 180]
    assert table.grand_total == 443 and table.threshold == DEFAULT_THRESHOLD and table.rounding is None


def test_long_has_one_row_per_cell() -> None:
    long = suppress_table(ONE_THREE).long()
    assert list(long.columns) == ["row", "column", "count", "suppressed", "display"]
    assert long["row"].tolist() == list("aaabbbccc") and long["column"].tolist() == list("xyz") * 3
    assert long["count"].dtype == "Int64" and long["suppressed"].dtype == bool
    assert long["count"].isna().tolist() == long["suppressed"].tolist()
    assert long["display"].tolist() == ["c", "c", "30", "c", "c", "60", "70", "80", "90"]


def test_small_row_total_is_hidden_with_a_partner_total() -> None:
    table = suppress_table(frame([[1, 2, 0], [40, 50, 60], [70, 80, 90]]))
    expected = shown(
        [
            ["c", "c", "0", "c"],
            ["c", "c", "60", "c"],
            ["70", "80", "90", "240"],
            ["111", "132", "150", "393"],
        ]
    )
    pd.testing.assert_frame_equal(table.display(), expected)
    assert table.primary.to_numpy().sum() == 2 and table.secondary.to_numpy().sum() == 2


def test_all_zero_table_is_published_as_zeros() -> None:
    table = suppress_table(frame([[0, 0], [0, 0]]))
    assert (table.display() == "0").all().all()
    assert not table.hidden_mask().to_numpy().any() and table.grand_total == 0


def test_single_cell() -> None:
    small = suppress_table(frame([[3]]))
    assert small.display().to_numpy().tolist() == [[SUPPRESSED] * 2] * 2 and small.grand_total is None
    big = suppress_table(frame([[7]]))
    assert big.display().to_numpy().tolist() == [["7", "7"], ["7", "7"]]


@pytest.mark.parametrize("shape", [(0, 0), (2, 0), (0, 3)])
def test_empty_tables(shape: tuple[int, int]) -> None:
    table = suppress_table(pd.DataFrame(np.zeros(shape, dtype=int)))
    assert table.cells.shape == shape and table.grand_total == 0
    assert table.display().shape == (shape[0] + 1, shape[1] + 1) and len(table.long()) == 0


def test_series_is_a_one_column_table() -> None:
    table = suppress_series(pd.Series([3, 100, 50], index=["p", "q", "r"], name="children"))
    expected = shown([["c", "c"], ["100", "100"], ["c", "c"], ["153", "153"]], "pqr", ["children"])
    pd.testing.assert_frame_equal(table.display(), expected)
    assert suppress_series(pd.Series([8, 9])).cells.columns.tolist() == ["count"]


def test_threshold_is_a_parameter() -> None:
    assert not suppress_table(ONE_THREE, threshold=2).hidden_mask().to_numpy().any()
    assert suppress_table(frame([[2, 20], [30, 40]]), threshold=2).hidden_mask().to_numpy().all()


ROUNDED = {
    5: [["c", "c", "35", "60"], ["c", "c", "65", "155"], ["70", "90", "95", "255"], ["115", "160", "195", "465"]],
    10: [["c", "c", "40", "60"], ["c", "c", "60", "160"], ["70", "90", "100", "250"], ["110", "160", "190", "470"]],
}


@pytest.mark.parametrize(("rounding", "body"), ROUNDED.items())
def test_rounding_after_suppression(rounding: int, body: list[list[str]]) -> None:
    # exact: [[3, 20, 35], [40, 52, 64], [70, 88, 95]]; totals 58, 156, 253 / 113, 160, 194 / 467
    table = suppress_table(frame([[3, 20, 35], [40, 52, 64], [70, 88, 95]]), rounding=rounding)
    pd.testing.assert_frame_equal(table.display(), shown(body))
    assert table.rounding == rounding


def test_integer_valued_floats_and_nullable_ints_are_counts() -> None:
    as_float = suppress_table(ONE_THREE.astype(float))
    as_int64 = suppress_table(ONE_THREE.astype("Int64"))
    pd.testing.assert_frame_equal(as_float.display(), suppress_table(ONE_THREE).display())
    pd.testing.assert_frame_equal(as_int64.display(), suppress_table(ONE_THREE).display())


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (frame([[1, -2]]), r"1 count\(s\) negative, first at row 'a', column 'y'"),
        (frame([[1, 2]]).astype(float).assign(y=2.5), r"not whole numbers, first at row 'a', column 'y'"),
        (frame([[1, 2]]).astype(float).assign(x=np.nan), "missing"),
        (frame([[1, 2]]).astype(float).assign(x=np.inf), "infinite"),
        (frame([[1, 2]]).astype("Int64").assign(y=pd.array([pd.NA], dtype="Int64")), "missing"),
        (frame([[1, 2]]).assign(y=["2"]), "column 'y' holds str values, not counts"),
        (frame([[1, 2]]).assign(y=[True]), "column 'y' holds bool values"),
        (pd.DataFrame([[1, 2]], columns=["x", "x"]), "column labels must be unique"),
        ([[1, 2]], "counts must be a pandas DataFrame"),
    ],
)
def test_bad_counts_raise(counts: pd.DataFrame, message: str) -> None:
    with pytest.raises(DisclosureError, match=message):
        suppress_table(counts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0}, "threshold must be a whole number of at least 1, got 0"),
        ({"threshold": 2.5}, "threshold must be a whole number"),
        ({"threshold": True}, "threshold must be a whole number"),
        ({"rounding": 3}, "rounding must be None, 5 or 10, got 3"),
    ],
)
def test_bad_settings_raise(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DisclosureError, match=message):
        suppress_table(ONE_THREE, **kwargs)  # type: ignore[arg-type]


def test_disclosure_error_is_a_value_error() -> None:
    assert issubclass(DisclosureError, ValueError)


# --- the attacker ---------------------------------------------------------------------------


def entry_names(n_rows: int, n_cols: int) -> list[tuple[str, int]]:
    """Names of a table's entries in a fixed order: cells row by row, row totals, column totals, grand total."""
    names = [("cell", k) for k in range(n_rows * n_cols)] + [("row_total", i) for i in range(n_rows)]
    return names + [("column_total", j) for j in range(n_cols)] + [("grand_total", 0)]


def attacker_intervals(table: SuppressedTable) -> dict[tuple[str, int], tuple[float, float]]:
    """Bounds on each hidden entry from the published values and the additive relations only."""
    cells = table.cells.to_numpy(dtype="float64", na_value=np.nan)
    n_rows, n_cols = cells.shape
    known = np.concatenate(
        [
            cells.ravel(),
            table.row_totals.to_numpy(dtype="float64", na_value=np.nan),
            table.column_totals.to_numpy(dtype="float64", na_value=np.nan),
            [np.nan if table.grand_total is None else table.grand_total],
        ]
    )
    size, n = n_rows * n_cols, known.size
    relations = []
    for i in range(n_rows):
        relations.append({**{i * n_cols + j: 1.0 for j in range(n_cols)}, size + i: -1.0})
    for j in range(n_cols):
        relations.append({**{i * n_cols + j: 1.0 for i in range(n_rows)}, size + n_rows + j: -1.0})
    relations.append({**{size + i: 1.0 for i in range(n_rows)}, n - 1: -1.0})
    relations.append({**{size + n_rows + j: 1.0 for j in range(n_cols)}, n - 1: -1.0})
    a_eq = np.zeros((len(relations), n))
    for r, relation in enumerate(relations):
        for entry, coefficient in relation.items():
            a_eq[r, entry] = coefficient
    bounds = [(0.0, None) if np.isnan(v) else (v, v) for v in known]
    names = entry_names(n_rows, n_cols)

    def extreme(k: int, sense: float) -> float:
        c = np.zeros(n)
        c[k] = sense
        res = linprog(c, A_eq=a_eq, b_eq=np.zeros(len(relations)), bounds=bounds, method="highs")
        assert res.status in (0, 3), res.message
        return np.inf if res.status == 3 else sense * res.fun

    intervals = {}
    for k in map(int, np.flatnonzero(np.isnan(known))):
        high = extreme(k, -1.0)
        low = 0.0 if np.isinf(high) else extreme(k, 1.0)  # unbounded above: the width is infinite anyway
        intervals[names[k]] = (low, high)
    return intervals


def truth_of(counts: np.ndarray) -> dict[tuple[str, int], int]:
    n_rows, n_cols = counts.shape
    values = [*counts.ravel(), *counts.sum(axis=1), *counts.sum(axis=0), counts.sum()]
    return {name: int(v) for name, v in zip(entry_names(n_rows, n_cols), values)}


def published_of(table: SuppressedTable) -> dict[tuple[str, int], int | None]:
    cells, rows, columns = table.cells.to_numpy(dtype=object).ravel(), table.row_totals, table.column_totals
    values = [*cells, *rows, *columns, table.grand_total]
    names = entry_names(len(rows), len(columns))
    return {name: None if v is None or pd.isna(v) else int(v) for name, v in zip(names, values)}


count = st.one_of(st.just(0), st.integers(1, 5), st.integers(6, 30), st.integers(31, 300))


@st.composite
def tables(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    n_rows, n_cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    values = draw(st.lists(count, min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    return np.array(values, dtype=int).reshape(n_rows, n_cols), draw(st.sampled_from([1, 3, 5, 5, 10]))


@settings(max_examples=150, deadline=None)
@given(tables())
def test_attacker_cannot_narrow_any_hidden_entry(case: tuple[np.ndarray, int]) -> None:
    counts, threshold = case
    table = suppress_table(pd.DataFrame(counts), threshold=threshold)
    truth, published = truth_of(counts), published_of(table)
    for name, value in published.items():
        if value is None:
            assert truth[name] > 0, f"{name} is a hidden zero"
        else:
            assert value == truth[name] and not 1 <= value <= threshold, name
        if name[0] == "cell" and 1 <= truth[name] <= threshold:
            assert value is None
    assert (table.primary == ((counts >= 1) & (counts <= threshold))).all().all()
    assert not (table.primary & table.secondary).any().any()
    assert (table.hidden_mask().to_numpy() == table.cells.isna().to_numpy()).all()
    for name, (low, high) in attacker_intervals(table).items():
        assert low <= truth[name] + 1e-6 and truth[name] <= high + 1e-6
        assert high - low > threshold + 0.5, f"{name} (true {truth[name]}) pinned to [{low}, {high}]"


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_attacker_on_larger_tables(seed: int) -> None:
    counts = random_counts(seed, (10, 12), zero=0.5, small=0.25, big=120)
    table, truth = suppress_table(pd.DataFrame(counts)), truth_of(counts)
    for name, (low, high) in attacker_intervals(table).items():
        assert high - low > DEFAULT_THRESHOLD + 0.5, f"{name} (true {truth[name]}) pinned to [{low}, {high}]"


@settings(max_examples=40, deadline=None)
@given(tables(), st.sampled_from([5, 10]))
def test_rounding_keeps_hidden_hidden_and_rounds_the_rest(case: tuple[np.ndarray, int], base: int) -> None:
    counts, threshold = case
    exact = published_of(suppress_table(pd.DataFrame(counts), threshold=threshold))
    rounded = published_of(suppress_table(pd.DataFrame(counts), threshold=threshold, rounding=base))
    for name, value in exact.items():
        if value is None:
            assert rounded[name] is None
        else:
            got = rounded[name]
            assert got is not None and got % base == 0 and value - base / 2 < got <= value + base / 2


# --- derived figures, determinism, speed ------------------------------------------------------


def test_shares_are_nan_where_counts_are_hidden() -> None:
    table = suppress_table(frame([[1, 2, 0], [40, 50, 60], [70, 80, 90]]))
    by_row = safe_share(table.cells, table.row_totals, axis="index")
    assert by_row.dtypes.tolist() == ["float64"] * 3
    assert by_row.isna().to_numpy().tolist() == [[True] * 3, [True] * 3, [False] * 3]
    assert by_row.loc["c", "x"] == pytest.approx(70 / 240)
    by_column = safe_share(table.cells, table.column_totals, axis="columns")
    assert by_column.isna().to_numpy().tolist() == [[True, True, False], [True, True, False], [False] * 3]
    assert by_column.loc["b", "z"] == pytest.approx(60 / 150)
    totals = safe_share(table.row_totals, table.grand_total, scale=100)
    assert totals.isna().tolist() == [True, True, False] and totals["c"] == pytest.approx(24000 / 393)
    assert safe_share(table.row_totals, None).isna().all()
    zero = safe_share(pd.Series([0, 3], dtype="Int64"), pd.Series([0, 0], dtype="Int64"))
    assert zero.isna().all()


def test_same_input_same_output() -> None:
    for seed in range(3):
        counts = pd.DataFrame(random_counts(seed, (8, 8), zero=0.5, small=0.2, big=7))  # many ties: all 6
        first, second = suppress_table(counts), suppress_table(counts.copy())
        pd.testing.assert_frame_equal(first.display(), second.display())
        pd.testing.assert_frame_equal(first.secondary, second.secondary)


def test_thirty_by_thirty_hides_every_small_count() -> None:
    """A stage-sized table (its speed is measured in benchmarks/, not here)."""
    counts = random_counts(3, (30, 30), zero=0.6, small=0.15, big=400)
    table = suppress_table(pd.DataFrame(counts))
    assert table.hidden_mask().to_numpy().sum() >= ((counts >= 1) & (counts <= 5)).sum()


def test_hidden_entries_remembered_equal_those_read_from_the_frames() -> None:
    """suppress_table keeps the hidden pattern it found; it must be what its published frames show."""
    import dataclasses

    rng = np.random.default_rng(5)
    for _ in range(20):
        counts = pd.DataFrame(rng.choice([0, 1, 3, 8, 20, 60], size=(4, 5)), index=list("abcd"), columns=list("vwxyz"))
        table = suppress_table(counts, row_hidden={"a": bool(rng.integers(2))}, column_hidden={"v": False})
        assert table.hidden_known is not None
        from_frames = dataclasses.replace(table, hidden_known=None).hidden_entries()
        assert table.hidden_entries().tolist() == from_frames.tolist()


@settings(max_examples=120, deadline=None)
@given(tables(), st.integers(0, 2**32 - 1))
def test_first_failing_entry_is_the_lowest_of_all_failing(case: tuple[np.ndarray, int], seed: int) -> None:
    """`first_only` (what the searches ask) finds the lowest-numbered failing entry outside `ignore`, as the full
    audit does, and adds only entries that pass to `passed`."""
    from journeys.audit import audit_hidden
    from journeys.table_lines import TableLines

    counts, threshold = case
    n_rows, n_cols = counts.shape
    values = np.array(list(truth_of(counts).values()), dtype=np.int64)
    rng = np.random.default_rng(seed)
    hidden = (rng.random(values.size) < 0.4) & (values > 0)
    lines = TableLines(values, n_rows, n_cols, threshold, np.zeros(values.size, dtype=bool)).lines
    every = audit_hidden(values, hidden, lines, threshold, set())
    ignore = set(every[:1]) if rng.random() < 0.5 else set()
    passed: set[int] = set()
    first = audit_hidden(values, hidden, lines, threshold, passed, first_only=True, ignore=ignore)
    assert first == [e for e in every if e not in ignore][:1]
    assert not passed & set(every)


@settings(max_examples=120, deadline=None)
@given(tables(), st.integers(0, 2**32 - 1))
def test_the_lines_said_to_bind_a_failing_entry_pin_it_on_their_own(case: tuple[np.ndarray, int], seed: int) -> None:
    """`binding` names the lines whose duals bound the failing entry's least and greatest values (where the
    searches look for partners): those lines alone, with the same entries hidden, still give the entry away."""
    from journeys.audit import audit_hidden
    from journeys.table_lines import TableLines

    counts, threshold = case
    n_rows, n_cols = counts.shape
    values = np.array(list(truth_of(counts).values()), dtype=np.int64)
    hidden = (np.random.default_rng(seed).random(values.size) < 0.4) & (values > 0)
    lines = TableLines(values, n_rows, n_cols, threshold, np.zeros(values.size, dtype=bool)).lines
    binding: list[int] = []
    first = audit_hidden(values, hidden, lines, threshold, set(), first_only=True, binding=binding)
    if not first:
        assert binding == []
        return
    assert binding and len(set(binding)) == len(binding)
    alone = [lines[n] for n in binding]
    assert first[0] in audit_hidden(values, hidden, alone, threshold, set())


def test_margins_that_stay_are_never_hidden_the_rest_is_covered_instead() -> None:
    """Stocks shown by their own rule (journeys.stocks) stay shown. Here B -> A (5) in a column of 24 leaves A -> A
    between 18 and 20 whatever else is hidden, so the table hides every other entry, zeros too: the 'not known'
    row's zero into A then absorbs what A -> A could be, and nothing is pinned."""
    from journeys.audit import audit_hidden
    from journeys.table_lines import TableLines

    counts = pd.DataFrame([[0, 0, 0], [0, 19, 1], [0, 5, 1]], index=["not_known", "A", "B"],
                          columns=["not_known", "A", "O"])
    table = suppress_table(counts, row_hidden={"A": False, "B": False}, column_hidden={"A": False},
                           margins_stay={"A", "B"})
    assert pd.isna(table.row_totals["not_known"]) and table.row_totals[["A", "B"]].tolist() == [20, 6]
    assert table.column_totals["A"] == 24
    assert table.cells.isna().all().all()  # covered: every cell, the zeros in 'not known' too
    values = np.concatenate([counts.to_numpy().ravel(), counts.sum(axis=1), counts.sum(axis=0), [30]])
    lines = TableLines(values, 3, 3, 5, np.zeros(values.size, dtype=bool)).lines
    assert audit_hidden(values, table.hidden_entries(), lines, 5, set()) == []
    # without margins that stay, a stock gives way instead (A at the end), and no zero is hidden
    alone = suppress_table(counts, row_hidden={"A": False, "B": False}, column_hidden={"A": False})
    assert pd.isna(alone.column_totals["A"]) and not alone.cells.loc["not_known"].isna().any()
    # and without the 'not known' row (flows counts always have it, zeros too) covering could not help
    bare = counts.loc[["A", "B"], ["A", "O"]]
    covered = suppress_table(bare, row_hidden={"A": False, "B": False}, column_hidden={"A": False},
                             margins_stay={"A", "B"})
    values = np.concatenate([bare.to_numpy().ravel(), bare.sum(axis=1), bare.sum(axis=0), [26]])
    lines = TableLines(values, 2, 2, 5, np.zeros(values.size, dtype=bool)).lines
    assert 0 in audit_hidden(values, covered.hidden_entries(), lines, 5, set())  # A -> A: 18 to 20


def test_beyond_partners_says_whether_any_hiding_could_protect_an_entry() -> None:
    """A 3 pinned by its column is protected once its row and column partners are hidden; A -> A (19 of a stock of
    20 beside B -> A of 5 in a column of 24, both totals shown) stays between 18 and 20 whatever else is hidden."""
    from journeys.audit import beyond_partners
    from journeys.table_lines import TableLines

    values = np.array([3, 9, 7, 8, 12, 15, 10, 17, 27])
    lines = TableLines(values, 2, 2, 5, np.zeros(values.size, dtype=bool)).lines
    hidden = np.zeros(values.size, dtype=bool)
    hidden[0] = True
    assert beyond_partners(0, values, hidden, lines, 5)  # nothing else hidden: the 3 is given away
    assert not beyond_partners(0, values, hidden | (values > 0), lines, 5)  # with everything hidden it is not
    counts = np.array([[19, 1], [5, 1]])
    values = np.concatenate([counts.ravel(), counts.sum(axis=1), counts.sum(axis=0), [26]])
    lines = TableLines(values, 2, 2, 5, np.zeros(values.size, dtype=bool)).lines
    most = np.ones(values.size, dtype=bool)
    most[[4, 5, 6]] = False  # the stocks stay shown: A and B at the start, A at the end
    assert beyond_partners(0, values, most, lines, 5)


@settings(max_examples=150, deadline=None)
@given(tables(), st.integers(0, 2**32 - 1))
def test_a_search_that_sees_no_partner_can_help_covers_at_once_as_it_would_in_the_end(
        case: tuple[np.ndarray, int], seed: int) -> None:
    """Where margins stay (stocks), a failing entry that every hideable entry together cannot protect makes the search
    cover at once (audit.beyond_partners) instead of hiding them one by one first: the table is the same."""
    import journeys.suppress as suppress

    counts, threshold = case
    rng = np.random.default_rng(seed)
    counts = np.where(rng.random(counts.shape) < 0.5, 0, counts)  # sparse, as filtered flows tables are
    frame = pd.DataFrame(counts, index=[f"r{i}" for i in range(counts.shape[0])],
                         columns=[f"c{j}" for j in range(counts.shape[1])])
    # as flows tables: every margin but the first row's and column's ('not known') stays, hidden by the stock rule
    stays = {*frame.index[1:], *frame.columns[1:]}
    rows = {label: bool(1 <= total <= threshold) for label, total in frame.sum(axis=1).items() if label in stays}
    columns = {label: bool(1 <= total <= threshold) for label, total in frame.sum(axis=0).items() if label in stays}
    quick = suppress_table(frame, threshold, row_hidden=rows, column_hidden=columns, margins_stay=stays)
    original = suppress.beyond_partners
    try:
        suppress.beyond_partners = lambda *args: False  # type: ignore[assignment]
        slow = suppress_table(frame, threshold, row_hidden=rows, column_hidden=columns, margins_stay=stays)
    finally:
        suppress.beyond_partners = original
    assert quick.hidden_entries().tolist() == slow.hidden_entries().tolist()


def test_one_way_tables_need_no_lp_the_line_heuristic_is_the_audited_search() -> None:
    """one_way_hidden closes lines only; on 5,000 random one-way tables that is exactly what the audited search hides."""
    from journeys.suppress import _search, one_way_hidden

    rng = np.random.default_rng(0)
    hidden_any = 0
    for _ in range(5000):
        flat = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20, 50], size=int(rng.integers(1, 9))).astype(np.int64)
        threshold = int(rng.choice([3, 5, 10]))
        values = np.concatenate([flat, flat, [flat.sum()], [flat.sum()]])
        audited = (values >= 1) & (values <= threshold)
        _search(values, audited, np.zeros(values.size, dtype=bool), flat.size, 1, threshold)
        cells, total = one_way_hidden(flat, threshold)
        assert cells.tolist() == audited[:flat.size].tolist() and total == bool(audited[-2]), (flat, threshold)
        hidden_any += bool(cells.any())
    assert hidden_any > 1000
