"""Disclosure control for fixed tables: counts 1..threshold show as "c", and more are hidden until the attacker's LP bounds on every hidden entry have max - min > threshold."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from journeys.audit import Line as _Line
from journeys.audit import audit_hidden, beyond_partners, determined, show_determined
from journeys.table_lines import TableLines

DEFAULT_THRESHOLD: int = 5
SUPPRESSED: str = "c"  # the marker shown instead of a hidden count
TOTAL: str = "Total"  # label of the margin row and column in SuppressedTable.display()
ROUNDING_BASES: tuple[int, ...] = (5, 10)
_Frame = TypeVar("_Frame", pd.Series, pd.DataFrame)


class DisclosureError(ValueError):
    """Input that cannot be controlled: missing, negative or fractional counts; bad threshold or rounding."""


@dataclass(frozen=True, eq=False)
class SuppressedTable:
    """A two-way count table with margins after primary and secondary suppression.

    The only table type the render layer accepts.
    """

    cells: pd.DataFrame  # same index/columns as the input; "Int64"; <NA> where hidden
    row_totals: pd.Series  # index = rows; "Int64"; <NA> where hidden
    column_totals: pd.Series  # index = columns; "Int64"; <NA> where hidden
    grand_total: int | None  # None where hidden
    threshold: int
    primary: pd.DataFrame  # bool: cells hidden because their count is 1..threshold
    secondary: pd.DataFrame  # bool: cells hidden to protect other hidden entries
    rounding: int | None  # None, 5 or 10: published values rounded to this base
    #: hidden_entries as suppress_table left them (None: worked out from the frames when asked)
    hidden_known: np.ndarray | None = field(default=None, repr=False)

    def hidden_mask(self) -> pd.DataFrame:
        """Cells not published (primary or secondary), as a bool frame shaped like cells."""
        return self.primary | self.secondary

    def hidden_entries(self) -> np.ndarray:
        """Every entry not published, numbered as the audits number them: cells row by row, row totals,
        column totals, grand total (the order suppress_table and published_table use)."""
        if self.hidden_known is not None:
            return self.hidden_known.copy()
        return np.concatenate([self.hidden_mask().to_numpy().ravel(), self.row_totals.isna().to_numpy(),
                               self.column_totals.isna().to_numpy(), [self.grand_total is None]])

    def display(self) -> pd.DataFrame:
        """The table as text with a "Total" row and column, hidden entries shown as "c"."""
        rows = self.cells.to_numpy(dtype=object)
        text = [[*map(_text, row), _text(total)] for row, total in zip(rows, self.row_totals)]
        text.append([*map(_text, self.column_totals), _text(self.grand_total)])
        out = pd.DataFrame(
            text,
            index=self.cells.index.append(pd.Index([TOTAL])),
            columns=self.cells.columns.append(pd.Index([TOTAL])),
            dtype=str,
        )
        out.index.name, out.columns.name = self.cells.index.name, self.cells.columns.name
        return out

    def long(self) -> pd.DataFrame:
        """One row per cell, margins excluded.

        Columns: row, column, count (Int64, <NA> if hidden), suppressed (bool), display (str).
        """
        n_rows, n_cols = self.cells.shape
        counts = self.cells.to_numpy(dtype="float64", na_value=np.nan).ravel()
        missing = np.isnan(counts)
        count = pd.arrays.IntegerArray(np.nan_to_num(counts).astype("int64"), missing)
        return pd.DataFrame(
            {
                "row": self.cells.index.take(np.repeat(np.arange(n_rows), n_cols)),
                "column": self.cells.columns.take(np.tile(np.arange(n_cols), n_rows)),
                "count": count,
                "suppressed": missing,
                "display": pd.array([_text(v) for v in count], dtype=str),
            }
        )


def suppress_table(
    counts: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    rounding: int | None = None,
    *,
    row_hidden: Mapping[Any, bool] | None = None,
    column_hidden: Mapping[Any, bool] | None = None,
    cells_hidden: np.ndarray | None = None,
    grand_hidden: bool = False,
    margins_stay: Collection[Any] = (),
) -> SuppressedTable:
    """Hide small counts in a two-way table, and enough other entries that none can be worked out.

    Primary: every cell and margin (row, column and grand total) from 1 to threshold is hidden;
    zero is published. Protection criterion (secondary): an attacker knows every published value,
    that hidden values are non-negative, that each row and column adds up to its total and both
    sets of totals to the grand total, and solves linear programmes for the least and greatest
    value of each hidden entry. For EVERY hidden entry (cell or margin, small or not) max - min
    must exceed threshold. The relations form a network matrix, so the bounds are whole numbers
    and integer programming would tell the attacker no more.

    A line heuristic picks partners; an LP audit (scipy HiGHS) then checks every hidden entry and
    hides one more entry at a time until all pass (at worst every non-zero entry, which is always
    safe). Ties break by position, so the same input always gives the same output. Rounding
    (nearest 5 or 10, halves up) applies to published values afterwards, so rounded tables do not
    add up exactly; it only widens the attacker's bounds. Not covered: differencing against other
    published tables that share cells (suppress linked tables together, or perturb them).

    `row_hidden` / `column_hidden` fix margins that another published table also shows (by label:
    True hidden, False published), so both show the same: the audit treats a fixed published margin
    as known and protects around it. Only if nothing else can be hidden is one hidden after all;
    never one labelled in `margins_stay` (stocks, shown or hidden by a rule of their own): every
    entry but those is hidden instead, with zeros in the other lines (`_cover`).
    `cells_hidden` (bool, shaped like counts) and `grand_hidden` hide entries an audit of linked tables asked for.
    """
    _check_threshold(threshold, rounding)
    values, primary = _entries(counts, threshold)
    n_rows, n_cols = counts.shape
    size = n_rows * n_cols
    flat = values[:size]
    hidden = primary.copy()
    if cells_hidden is not None:
        hidden[:size] |= np.asarray(cells_hidden, dtype=bool).ravel()  # zeros too, where a cover hid them
    hidden[-1] |= grand_hidden and values[-1] > 0
    kept = np.zeros(values.size, dtype=bool)
    stay = np.zeros(values.size, dtype=bool)
    for offset, labels, given in ((size, counts.index, row_hidden), (size + n_rows, counts.columns, column_hidden)):
        for i, label in enumerate(labels):
            if given is not None and label in given:
                hidden[offset + i] |= bool(given[label])
                kept[offset + i] = not hidden[offset + i]
                stay[offset + i] = label in margins_stay
    _search(values, hidden, kept, n_rows, n_cols, threshold, stay)
    return _published(counts, values, hidden, primary, threshold, rounding)


def proposed_table(counts: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> SuppressedTable:
    """Small counts hidden with partners along their lines (the search's heuristic), no LP audit: NOT safe to
    publish. It proposes which margins neighbouring tables hide alike (journeys.quarter_links round 0);
    the tables published from it are audited."""
    _check_threshold(threshold, None)
    values, primary = _entries(counts, threshold)
    hidden = primary.copy()
    TableLines(values, counts.shape[0], counts.shape[1], threshold, np.zeros(values.size, dtype=bool)).close(hidden)
    return _published(counts, values, hidden, primary, threshold, None)


def _entries(counts: pd.DataFrame, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """A table's entries as the audits number them (cells row by row, row, column and grand totals), checked,
    and which are small (1 to threshold)."""
    flat = _check_counts(counts)
    grid = flat.reshape(counts.shape)
    values = np.concatenate([flat, grid.sum(axis=1), grid.sum(axis=0), [flat.sum()]])
    return values, (values >= 1) & (values <= threshold)


def one_way_hidden(counts: np.ndarray, threshold: int) -> tuple[np.ndarray, bool]:
    """suppress_series's pattern from an array of counts, without frames: which counts, and whether the total, are hidden
    (for tables built one column at a time, where the frames cost more than the search).

    The line heuristic alone is enough here, no LP: it leaves either the total hidden or at least
    two counts hidden adding up to more than the threshold, so each hidden count can be anything
    from 0 to that sum (tests/test_suppress.py checks this against the audited search).

    >>> [a.tolist() if hasattr(a, "tolist") else a for a in one_way_hidden(np.array([3, 40, 50]), 5)]
    [[True, True, False], False]
    """
    flat = np.asarray(counts, dtype=np.int64)
    values = np.concatenate([flat, flat, [flat.sum()], [flat.sum()]])
    hidden = (values >= 1) & (values <= threshold)
    TableLines(values, flat.size, 1, threshold, np.zeros(values.size, dtype=bool)).close(hidden)
    return hidden[: flat.size], bool(hidden[-2])


def _search(values: np.ndarray, hidden: np.ndarray, kept: np.ndarray, n_rows: int, n_cols: int, threshold: int,
            stay: np.ndarray | None = None) -> None:
    """suppress_table's search, on its entries (cells row by row, row, column and grand totals): `hidden` grows in place.

    Entries in `stay` (margins shown or hidden by a rule of their own) never change: where only they
    are left to hide, the rest is covered (`_cover`) and the search ends.
    """
    table = TableLines(values, n_rows, n_cols, threshold, kept)
    if kept.any():
        kept |= determined(values, table.lines, kept) & ~hidden
    passed: set[int] = set()  # entries the audit has cleared; hiding more never undoes that
    last = -1
    while True:
        table.close(hidden)
        failing = audit_hidden(values, hidden, table.lines, threshold, passed, first_only=True)
        if not failing:
            break
        if stay is not None and stay.any() and failing[0] == last and beyond_partners(
                failing[0], values, hidden | ((values > 0) & ~kept), table.lines, threshold):
            _cover(values, hidden, stay, n_rows, n_cols, table.lines, threshold)  # where the search would end
            break
        last = failing[0]
        pick = table.partner_for(failing[0], hidden, stay is None or not stay.any())
        if pick is None:
            assert stay is not None
            _cover(values, hidden, stay, n_rows, n_cols, table.lines, threshold)
            break
        hidden[pick] = True


def _cover(values: np.ndarray, hidden: np.ndarray, stay: np.ndarray, n_rows: int, n_cols: int,
           lines: list[_Line], threshold: int) -> None:
    """Hide every entry but the margins that stay (`covered`), then show again any hidden entry the published
    ones work out exactly (a line of shown zeros): the fallback that keeps a rule's margins as they are."""
    hidden |= covered(values, stay, n_rows, n_cols)
    show_determined(values, hidden, lines, threshold, fixed=stay)


def covered(values: np.ndarray, stay: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """The entries (cells row by row, row, column and grand totals) a cover hides where the margins in `stay` stay.

    Every non-zero entry but those margins, and the zeros in the first row and the first column
    whose totals do not stay (for a flows table: 'not known' at the start and at the end), so that
    each row and each column has a hidden cell in a line with a hidden total to absorb a change. A
    hidden cell can then be anything from 0 to the smaller of its row's and column's shown totals
    (more than the threshold: they are shown), and a stock shared with a neighbouring quarter is as
    open as the neighbour leaves it. Flows tables always have the 'not known' row and column
    (journeys.flows) for this; the pair audits of journeys.quarter_links cover the same way.
    """
    size = n_rows * n_cols
    free = np.zeros((n_rows, n_cols), dtype=bool)
    free[np.flatnonzero(~stay[size:size + n_rows])[:1], :] = True  # the first such line each way
    free[:, np.flatnonzero(~stay[size + n_rows:size + n_rows + n_cols])[:1]] = True
    out = ~stay & (values > 0)
    out[:size] |= free.ravel()
    out[size:] |= ~stay[size:]
    return out


def published_table(counts: pd.DataFrame, hidden: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> SuppressedTable:
    """The table with exactly these entries hidden (cells row by row, row, column and grand totals): no search.

    For a pattern an audit of linked tables has already passed, which is stricter than this table's
    own audit; every count from 1 to threshold must be among the hidden (checked).
    """
    _check_threshold(threshold, None)
    values, primary = _entries(counts, threshold)
    hidden = np.asarray(hidden, dtype=bool).copy()  # zeros too: a covered table (`_cover`) hides them
    if (primary & ~hidden).any():
        raise DisclosureError(f"{int((primary & ~hidden).sum())} count(s) from 1 to {threshold} would be published.")
    return _published(counts, values, hidden, primary, threshold, None)


def _published(counts: pd.DataFrame, values: np.ndarray, hidden: np.ndarray, primary: np.ndarray, threshold: int,
               rounding: int | None) -> SuppressedTable:
    """The SuppressedTable for a final hidden pattern: counts (rounded if asked) as Int64, <NA> where hidden."""
    n_rows, n_cols = counts.shape
    size = n_rows * n_cols
    shown = values if rounding is None else (values + rounding // 2) // rounding * rounding
    mask, small = hidden[:size].reshape(n_rows, n_cols), primary[:size].reshape(n_rows, n_cols)

    def frame(data: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(data, index=counts.index, columns=counts.columns)

    def margin(part: slice, index: pd.Index) -> pd.Series:
        data = pd.arrays.IntegerArray(shown[part].copy(), hidden[part].copy())
        return pd.Series(data, index=index)

    return SuppressedTable(
        cells=_int_frame(shown[:size].reshape(n_rows, n_cols), mask, counts.index, counts.columns),
        row_totals=margin(slice(size, size + n_rows), counts.index),
        column_totals=margin(slice(size + n_rows, -1), counts.columns),
        grand_total=None if hidden[-1] else int(shown[-1]),
        threshold=int(threshold),
        primary=frame(small),
        secondary=frame(mask & ~small),
        rounding=rounding,
        hidden_known=hidden.copy(),
    )


def suppress_series(
    counts: pd.Series, threshold: int = DEFAULT_THRESHOLD, rounding: int | None = None
) -> SuppressedTable:
    """Control a one-way table: a one-column table (named after the series, else "count") with its total."""
    if not isinstance(counts, pd.Series):
        raise DisclosureError(f"counts must be a pandas Series, got {type(counts).__name__}.")
    name = "count" if counts.name is None else counts.name
    return suppress_table(counts.to_frame(name=name), threshold, rounding)


def safe_share(
    numerator: _Frame,
    denominator: pd.Series | pd.DataFrame | float | None,
    *,
    axis: Literal["index", "columns"] = "index",
    scale: float = 1.0,
) -> _Frame:
    """numerator / denominator * scale (a share, or a rate with e.g. scale=10_000) as float64.

    NaN wherever the numerator or denominator is hidden (<NA>, NaN or None) or the denominator is
    0, so a derived figure is published only where all its counts are. Labels align as in pandas;
    a frame divided by a series uses axis to say what the series is indexed by ("index": one
    denominator per row, such as row_totals; "columns": one per column, such as column_totals).
    """
    num = numerator.astype("float64")
    if denominator is None:
        return num * np.nan
    if isinstance(denominator, (pd.Series, pd.DataFrame)):
        den = denominator.astype("float64")
        by_line = isinstance(num, pd.DataFrame) and isinstance(den, pd.Series)
        out = num.div(den, axis=axis) if by_line else num / den
    else:
        out = num / (np.nan if pd.isna(denominator) else float(denominator))
    return (out * scale).replace([np.inf, -np.inf], np.nan)


def _int_frame(values: np.ndarray, hidden: np.ndarray, index: pd.Index, columns: pd.Index) -> pd.DataFrame:
    """An "Int64" frame with <NA> where hidden, built column by column (no per-cell masking)."""
    data = {j: pd.arrays.IntegerArray(values[:, j].astype("int64"), hidden[:, j].copy()) for j in range(values.shape[1])}
    out = pd.DataFrame(data, index=index)
    out.columns = columns
    return out


def _text(value: Any) -> str:
    """A count as shown: "c" when hidden (None or <NA>)."""
    return SUPPRESSED if value is None or pd.isna(value) else str(int(value))


def _check_threshold(threshold: int, rounding: int | None) -> None:
    """Reject a threshold below 1 or a rounding base other than 5 or 10."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise DisclosureError(
            f"threshold must be a whole number of at least 1, got {threshold!r} "
            f"(the default is {DEFAULT_THRESHOLD})."
        )
    if rounding is not None and (isinstance(rounding, bool) or rounding not in ROUNDING_BASES):
        raise DisclosureError(f"rounding must be None, 5 or 10, got {rounding!r}.")


def _check_counts(counts: pd.DataFrame) -> np.ndarray:
    """The counts as a flat int64 array, row by row, or a DisclosureError saying which value is wrong."""
    if not isinstance(counts, pd.DataFrame):
        raise DisclosureError(f"counts must be a pandas DataFrame, got {type(counts).__name__}.")
    for axis, labels in (("row", counts.index), ("column", counts.columns)):
        if labels.has_duplicates:
            repeated = list(labels[labels.duplicated()])
            raise DisclosureError(f"{axis} labels must be unique; repeated: {repeated}.")
    if counts.shape[1] and all(dtype == np.int64 for dtype in counts.dtypes):  # as the app counts: no conversions
        ints = counts.to_numpy()
        if not (ints < 0).any():
            return ints.ravel()
    for label, dtype in counts.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            raise DisclosureError(
                f"column {label!r} holds {dtype} values, not counts; convert it to whole numbers first."
            )
    arr = counts.to_numpy(dtype="float64", na_value=np.nan)
    for problem, bad in (
        ("missing", np.isnan(arr)),
        ("infinite", np.isinf(arr)),
        ("negative", arr < 0),
        ("not whole numbers", np.isfinite(arr) & (arr != np.round(arr))),
    ):
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise DisclosureError(
                f"{int(bad.sum())} count(s) {problem}, first at row {counts.index[i]!r}, column "
                f"{counts.columns[j]!r} ({arr[i, j]}): counts must be whole numbers of at least 0."
            )
    return np.asarray(arr, dtype=np.int64).ravel()
