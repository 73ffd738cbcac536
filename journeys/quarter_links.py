"""Quarterly flows tables linked through the stocks they share, suppressed so that together they stay safe.

The children in each stage at a quarter's end are the next quarter's children at its start: the
same numbers in two tables, and in the trends, the per-stage tables and the Overview's 31 March
figures built from them. Suppressed one quarter at a time, they leaked:
1. a stock one table hid as a secondary was printed by the other (30 of 40 quarter pairs of one
   sample authority), so the hidden cells it protected could be worked out;
2. a stock both tables hid was bounded by each table's own lines, and the two bounds together
   pinned hidden entries (151 over the 40 quarter pairs of the northgate sample).
So each boundary's stocks are hidden alike in both quarters, decided from the two quarters that
share it (`linked_table`), and then each quarter hides more cells and non-stock totals until an
attacker who knows it and the quarters either side cannot pin any of its hidden entries
(`quarter_table`). Remaining limits, counted on the samples by tests/test_quarter_links.py: a
quarter whose own cells cannot fix a failure keeps its linked pattern, and chains longer than
three quarters are not audited together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from journeys.flows import Period
from journeys.stages import StageModel
from journeys.suppress import SuppressedTable, audit_hidden, suppress_table
from journeys.systems import TableSystem

#: Rounds of linking: a quarter that cannot protect its cells around a shared stock hides it after
#: all; the next round hides it in the neighbour too (two rounds left no mismatch on the samples).
LINK_ROUNDS = 2
Memo = Callable[[tuple[Any, ...], Callable[[], Any]], Any]
Counts = Callable[[Period], pd.DataFrame]


def boundary_hidden(ending: SuppressedTable | None, starting: SuppressedTable | None, stocks: pd.Series,
                    model: StageModel, threshold: int, year_end: bool) -> dict[str, bool]:
    """Which stage stocks at a quarter boundary to hide: those either quarter's table hides, and group partners.

    `stocks` are the children in each stage at the boundary. At 31 March (`year_end`), within a
    group the Overview adds up (in care; in need but not looked after), a lone hidden stock, or
    hidden stocks adding up to twice the threshold or less, would be given away, or nearly, by the
    group's total with the cells around them, so the smallest published stocks of the group are
    hidden with them, and a stock the Overview shows on its own (children on a plan) is shown
    unless it is small. Both quarters compute the same pattern from the same inputs.
    """
    from journeys.headline import year_end_stocks

    stages, hidden = set(model.of_kind("stage")), dict[str, bool]()
    for table, margin in ((ending, "column_totals"), (starting, "row_totals")):
        if table is not None:
            for label, value in getattr(table, margin).items():
                if label in stages:
                    hidden[label] = hidden.get(label, False) or bool(pd.isna(value))
    for group in year_end_stocks(model).values() if year_end else []:
        members = [s for s in group if s in hidden and stocks.get(s, 0) > 0]
        if len(members) == 1 and members[0] in _shown_alone(model) and stocks[members[0]] > threshold:
            hidden[members[0]] = False  # the Overview shows this stock itself (on a plan): so do the flows
            continue
        while (shut := [s for s in members if hidden[s]]) and (len(shut) < 2 or stocks[shut].sum() <= 2 * threshold):
            candidates = [s for s in members if not hidden[s]]
            if not candidates:
                break  # the group's total is hidden where it is published (journeys.year_end)
            hidden[min(candidates, key=lambda s: (stocks[s], s))] = True
    return hidden


def linked_table(period: Period, counts_of: Counts, model: StageModel, threshold: int,
                 memo: Memo, rounds: int = LINK_ROUNDS) -> SuppressedTable | None:
    """The quarter's table with its stocks hidden exactly as at the same boundary in the quarters either side.

    Round 0 suppresses each quarter on its own; round k fixes each boundary's stocks from the two
    round k - 1 tables that share it (boundary_hidden), so both quarters compute the same pattern.
    `counts_of` gives a quarter's counts (empty where there are none: None is returned); `memo(key,
    compute)` remembers tables across quarters, so neighbours are suppressed once.
    """
    def compute() -> SuppressedTable | None:
        counts = counts_of(period)
        if counts.empty:
            return None
        if rounds == 0:
            return suppress_table(counts, threshold=threshold)
        before, own, after = (linked_table(p, counts_of, model, threshold, memo, rounds - 1)
                              for p in (period.previous(), period, period.next()))
        return suppress_table(counts, threshold=threshold,
                              row_hidden=boundary_hidden(before, own, counts.sum(axis=1), model, threshold,
                                                         year_end=period.quarter == 2),
                              column_hidden=boundary_hidden(own, after, counts.sum(axis=0), model, threshold,
                                                            year_end=period.quarter == 1))

    return memo(("linked-flows", period.key, rounds), compute)


def quarter_table(period: Period, counts_of: Counts, model: StageModel, threshold: int,
                  memo: Memo) -> SuppressedTable | None:
    """The quarter's published table: linked_table, with what the audits of its two boundaries hid as well.

    Each boundary's audit (`_boundary_fix`) sees the two linked tables that share it and hides more
    of either's cells and non-stock totals (not known, outcomes) until neither has a hidden entry an
    attacker knowing both could pin; both quarters compute the same result for their boundary. Hiding
    the union here only widens what each audit saw.
    """
    def compute() -> SuppressedTable | None:
        counts = counts_of(period)
        own = linked_table(period, counts_of, model, threshold, memo)
        if own is None:
            return None
        extra = [fix for fix in (_boundary_fix(period.previous(), counts_of, model, threshold, memo)[1],
                                 _boundary_fix(period, counts_of, model, threshold, memo)[0]) if fix is not None]
        if not extra:
            return own
        hidden = np.logical_or.reduce(extra)
        n_rows, n_cols = counts.shape
        cells, rows = n_rows * n_cols, n_rows * (n_cols + 1)
        return suppress_table(counts, threshold=threshold, cells_hidden=hidden[:cells].reshape(n_rows, n_cols),
                              row_hidden=dict(zip(counts.index, own.row_totals.isna().to_numpy() | hidden[cells:rows])),
                              column_hidden=dict(zip(counts.columns,
                                                     own.column_totals.isna().to_numpy() | hidden[rows:-1])),
                              grand_hidden=bool(hidden[-1]))

    return memo(("quarter-flows", period.key), compute)


def _boundary_fix(left: Period, counts_of: Counts, model: StageModel, threshold: int,
                  memo: Memo) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Entries to hide in the quarter ending at a boundary and the one starting there (None: nothing more).

    Entries as each table numbers them (cells, row totals, column totals, grand total). Cells,
    non-stock and grand totals and this boundary's stocks (in both tables at once) may be hidden; the stocks
    at the pair's other boundaries stay as their neighbours share them. First with the Overview's
    totals over these stocks counted as published (so it can show them), else without them (the
    Overview then hides what it must); if neither makes the pair safe, nothing more is hidden (the
    pair keeps its linked pattern, safe table by table).
    """
    def compute() -> tuple[np.ndarray | None, np.ndarray | None]:
        tables = [linked_table(p, counts_of, model, threshold, memo) for p in (left, left.next())]
        if tables[0] is None or tables[1] is None:
            return None, None
        for with_totals in (True, False) if left.quarter == 1 else (False,):  # the Overview's 31 March
            fixed = _fix_pair(left, counts_of, (tables[0], tables[1]), model, threshold, with_totals)
            if fixed is not None:
                return fixed
        return None, None

    result: tuple[np.ndarray | None, np.ndarray | None] = memo(("boundary-fix", left.key), compute)
    return result


def _fix_pair(left: Period, counts_of: Counts, tables: tuple[SuppressedTable, SuppressedTable], model: StageModel,
              threshold: int, with_totals: bool) -> tuple[np.ndarray | None, np.ndarray | None] | None:
    """_boundary_fix's search, with or without the Overview's totals; None where it cannot make the pair safe."""
    system, stocks = TableSystem(), set(model.of_kind("stage"))
    left_rows, left_columns = system.add_table(counts_of(left), tables[0])
    split = len(system.values)
    right_rows, right_columns = system.add_table(counts_of(left.next()), tables[1])
    twin: dict[int, int] = {}  # this boundary's stocks: hidden in both tables or neither
    for stage in stocks & set(left_columns) & set(right_rows):
        system.same(left_columns[stage], right_rows[stage])
        twin |= {left_columns[stage]: right_rows[stage], right_rows[stage]: left_columns[stage]}
    end = len(system.values)
    totals = _group_totals(system, left_columns, model) if with_totals else []
    values, hidden = system.arrays()
    fixed = {entry for margins in (left_rows, left_columns, right_rows, right_columns)
             for label, entry in margins.items() if label in stocks and entry not in twin}
    fixed |= set(totals) | {entry for stage in (_shown_alone(model) if with_totals else set())
                            if stage in left_columns and stage in right_rows
                            for entry in (left_columns[stage], right_rows[stage])}
    allowed = np.array([e for e in range(end) if e not in fixed], dtype=np.int64)
    stuck, last, changed = 0, -1, False
    while failing := audit_hidden(values, hidden, system.lines, threshold, set()):
        stuck = stuck + 1 if failing[0] == last else 0
        last = failing[0]
        picks = _partners(failing[0], system.lines, values, hidden, allowed, 2 ** max(stuck - 2, 0))
        if not picks:
            return None
        hidden[[*picks, *(twin[p] for p in picks if p in twin)]] = changed = True
    return (hidden[:split], hidden[split:end]) if changed else (None, None)


def _shown_alone(model: StageModel) -> set[str]:
    """Stages whose stock the Overview shows on its own (children on a plan on 31 March)."""
    from journeys.headline import year_end_stocks

    return {stages[0] for stages in year_end_stocks(model).values() if len(stages) == 1}


def _group_totals(system: TableSystem, stocks: dict[str, int], model: StageModel) -> list[int]:
    """The Overview's 31 March totals over this boundary's stocks, as published entries with their lines.

    Looked after, and in need but not looked after, add up groups of stocks; counting them in, the
    flows tables hide enough that the Overview can publish its totals (journeys.year_end checks).
    """
    from journeys.headline import year_end_stocks

    added = []
    for stages in year_end_stocks(model).values():
        members = np.array([stocks[s] for s in stages if s in stocks], dtype=np.int64)
        if members.size > 1:
            total = int(system.add(np.array([sum(system.values[m] for m in members)]), np.array([False]))[0])
            system.lines.append((members, total))
            added.append(total)
    return added


def _partners(entry: int, lines: list[tuple[np.ndarray, int]], values: np.ndarray, hidden: np.ndarray,
              allowed: np.ndarray, count: int) -> list[int]:
    """Up to `count` published non-zero allowed entries near `entry` (one line further each time), smallest first."""
    permitted = allowed[~hidden[allowed] & (values[allowed] > 0)]
    reach, seen = {entry}, set[int]()
    for _ in range(4):
        near = {int(m) for members, total in lines if total in reach or reach & set(members.tolist())
                for m in [*members.tolist(), total]} - seen
        candidates = sorted(set(permitted.tolist()) & near, key=lambda m: (values[m], m))
        if candidates:
            return candidates[:count]
        seen |= reach
        reach = near | reach
    return sorted(permitted.tolist(), key=lambda m: (values[m], m))[:count]
