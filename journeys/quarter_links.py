"""Quarterly flows tables linked through the stocks they share, suppressed so that together they stay safe.

The children in each stage at a quarter's end are the next quarter's children at its start: the
same numbers in two tables, and in the trends, the per-stage tables and the Overview's 31 March
figures built from them. Suppressed one quarter at a time, they leaked:
1. a stock one table hid as a secondary was printed by the other (30 of 40 quarter pairs of one
   sample authority), so the hidden cells it protected could be worked out;
2. a stock both tables hid was bounded by each table's own lines, and the two bounds together
   pinned hidden entries (151 over the 40 quarter pairs of the northgate sample).
So each boundary's stocks are hidden alike in both quarters, decided from the two quarters'
own patterns (`linked_table`; at 31 March with partners inside the groups the Overview adds up).
Then each boundary's pair of tables is audited together (`_boundary_fix`): cells, then non-stock
and grand totals, and only if need be the boundary's own stocks (in both tables) are hidden until
neither table has an entry the pair pins; at 31 March first with the Overview's totals counted
as published, so it can show them (`year_end_pair`). A quarter publishes the union of what its
two boundaries' audits hid (`quarter_table`); where one boundary's audit hid an entry the other's
never saw hidden, the quarter is audited beside both neighbours as their audits saw them, hiding
more of its own cells and non-stock totals (`_beside_neighbours`: the northgate girls-only view
had two entries a published pair pinned, now none). A boundary's search takes back a partner it
chose when two rounds of partners for it have not protected it, and looks elsewhere (`_fix_pair`).
Remaining limits (tests/test_quarter_links.py checks riverside and northgate's girls; the other
samples were checked by hand): where only a quarter's stocks could protect such an entry, it is
left as the boundary audits left it (1 entry in westmoor's girls-only view); a pair that cannot
be made safe keeps its stocks alike but each table only safe on its own; and chains longer than
two quarters are not audited together (an audit of whole histories found nothing more than the
pairs on the samples).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from journeys.audit import audit_hidden
from journeys.flows import Period
from journeys.stages import StageModel
from journeys.suppress import SuppressedTable, proposed_table, published_table, suppress_table
from journeys.systems import LineIndex, TableSystem, nearby_partners

#: Rounds of linking (each needs the quarters one further out). One is enough: where a quarter could
#: not protect its cells around a shared stock and hid it after all, the boundary fix hides it in
#: the neighbour too.
LINK_ROUNDS = 1
Memo = Callable[[tuple[Any, ...], Callable[[], Any]], Any]


def dict_memo() -> Memo:
    """A Memo over one dict, for one run (`journeys flows`); the app remembers in its working set instead."""
    store: dict[tuple[Any, ...], Any] = {}

    def memo(key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        if key not in store:
            store[key] = compute()
        return store[key]

    return memo
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

    Round 0 proposes each quarter's pattern on its own with the line heuristic alone (no LPs: it is
    never published, only read for its stocks); round k fixes each boundary's stocks from the two
    round k - 1 tables that share it (boundary_hidden), so both quarters compute the same pattern,
    and is audited (where the proposal already hides the stocks as needed, the audit starts from it).
    `counts_of` gives a quarter's counts (empty where there are none: None is returned); `memo(key,
    compute)` remembers tables across quarters, so neighbours are suppressed once.
    """
    def compute() -> SuppressedTable | None:
        counts = counts_of(period)
        if counts.empty:
            return None
        if rounds == 0:  # a proposal for the stocks only (not audited): the tables published from it are
            return proposed_table(counts, threshold=threshold)
        before, own, after = (linked_table(p, counts_of, model, threshold, memo, rounds - 1)
                              for p in (period.previous(), period, period.next()))
        rows = boundary_hidden(before, own, counts.sum(axis=1), model, threshold, year_end=period.quarter == 2)
        columns = boundary_hidden(own, after, counts.sum(axis=0), model, threshold, year_end=period.quarter == 1)
        assert own is not None
        if rounds == 1 and _agrees(own.row_totals, rows) and _agrees(own.column_totals, columns):
            # its stocks are as the neighbours need: audit the proposal itself, hiding more only if it must
            n_rows, n_cols = counts.shape
            return suppress_table(counts, threshold=threshold, row_hidden=rows, column_hidden=columns,
                                  cells_hidden=own.hidden_entries()[: n_rows * n_cols].reshape(n_rows, n_cols),
                                  grand_hidden=own.grand_total is None)
        if _agrees(own.row_totals, rows) and _agrees(own.column_totals, columns):
            return own  # an audited table whose stocks are already as the neighbours need keeps its pattern
        return suppress_table(counts, threshold=threshold, row_hidden=rows, column_hidden=columns)

    return memo(("linked-flows", period.key, rounds), compute)


def _agrees(margin: pd.Series, hidden: dict[str, bool]) -> bool:
    """Whether a table's margin already hides exactly the stocks `hidden` marks (and shows the others)."""
    return all(bool(pd.isna(margin[label])) == shut for label, shut in hidden.items() if label in margin.index)


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
        _prepare(period, period, 1, counts_of, model, threshold, memo)  # its boundaries need its neighbours
        own = linked_table(period, counts_of, model, threshold, memo)
        if own is None:
            return None
        before, after = _in_parallel([partial(_boundary_fix, p, counts_of, model, threshold, memo)
                                      for p in (period.previous(), period)])
        extra = [fix for fix in (before.right, after.left) if fix is not None]
        if not extra:
            return own
        hidden = np.logical_or.reduce([own.hidden_entries(), *extra])
        if before.safe and after.safe:  # both audits passed this pattern, which is stricter than the table's own
            # ... except where one boundary's audit hid an entry the other's never saw hidden: audit those here
            seen = [own.hidden_entries() | (False if fix is None else fix) for fix in (before.right, after.left)]
            if any((hidden & ~view).any() for view in seen):
                hidden = _beside_neighbours(period, counts_of, model, threshold, memo, hidden, before, after)
            return published_table(counts, hidden, threshold)
        n_rows, n_cols = counts.shape  # stocks made alike but not audited: protect around them here
        cells, rows = n_rows * n_cols, n_rows * (n_cols + 1)
        return suppress_table(counts, threshold=threshold, cells_hidden=hidden[:cells].reshape(n_rows, n_cols),
                              row_hidden=dict(zip(counts.index, hidden[cells:rows])),
                              column_hidden=dict(zip(counts.columns, hidden[rows:-1])), grand_hidden=bool(hidden[-1]))

    return memo(("quarter-flows", period.key), compute)


def _beside_neighbours(period: Period, counts_of: Counts, model: StageModel, threshold: int, memo: Memo,
                       hidden: np.ndarray, before: Fix, after: Fix) -> np.ndarray:
    """The quarter's hidden entries, with more of its cells and non-stock totals hidden until none of its entries can
    be pinned by an attacker who knows it and both neighbours as its boundary audits saw them.

    Each boundary's audit saw this quarter with only its own additions: an entry the other boundary
    hid was never audited beside this neighbour (the leak the boundary audits left, 3 entries over six
    sample views). The neighbours as those audits saw them hide at most what they publish, so an
    attacker here knows at least as much as a real one. Stocks are not hidden here (the neighbours
    show them alike); the neighbours' own entries are audited when their quarter is.
    """
    counts = counts_of(period)
    system, stocks = TableSystem(), set(model.of_kind("stage"))
    neighbours = []
    for near, fix, side in ((period.previous(), before.left, "before"), (period.next(), after.right, "after")):
        table = linked_table(near, counts_of, model, threshold, memo)
        if table is not None:
            neighbours.append((near, table.hidden_entries() | (False if fix is None else fix), side))
    first = len(system.values)
    rows, columns = system.add_table(counts, hidden)
    mine = np.arange(first, len(system.values))
    for near, shut, side in neighbours:
        near_rows, near_columns = system.add_table(counts_of(near), shut)
        pairs = (near_columns, rows) if side == "before" else (columns, near_rows)
        for stage in stocks & set(pairs[0]) & set(pairs[1]):
            system.same(pairs[0][stage], pairs[1][stage])
        year_end = (side == "before" and period.quarter == 2 and before.with_totals) or (
            side == "after" and period.quarter == 1 and after.with_totals)
        if year_end:  # the Overview publishes its 31 March totals over these stocks
            _group_totals(system, pairs[0], model)
    values, shut = system.arrays()
    fixed = {entry for margin in (rows, columns) for label, entry in margin.items() if label in stocks}
    allowed = np.array([e for e in mine.tolist() if e not in fixed], dtype=np.int64)
    theirs = set(range(len(values))) - set(mine.tolist())
    index, passed, stuck, last = LineIndex(system.lines, len(values)), set[int](), 0, -1
    while failing := audit_hidden(values, shut, system.lines, threshold, passed, set(mine.tolist()), first_only=True,
                                  ignore=theirs):
        stuck = stuck + 1 if failing[0] == last else 0
        last = failing[0]
        picks = nearby_partners(last, index, values, shut, allowed, 2 ** max(stuck - 2, 0))
        if not picks:  # only its stocks are left to hide, and the neighbours show them: as the boundary audits left it
            return hidden
        shut[picks] = True
    return shut[first:first + mine.size].copy()


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="journeys-audit")


def _in_parallel(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run independent audits on two threads (the LP solver runs without the GIL); results in order.

    The calling thread runs the first task, and any other the pool has not started by then: a task
    never waits in the queue behind threads that wait for it (several callbacks share the pool).
    """
    if not tasks:
        return []
    queued = [_POOL.submit(task) for task in tasks[1:]]
    results = [tasks[0]()]
    for future, task in zip(queued, tasks[1:]):
        results.append(task() if future.cancel() else future.result())
    return results


def _prepare(first: Period, last: Period, reach: int, counts_of: Counts, model: StageModel, threshold: int,
             memo: Memo) -> None:
    """Compute the linked tables of quarters first..last (adjacent or the same) and `reach` quarters either side.

    Counts first, in this thread (they come from one selection); then each round's tables two at a time.
    """
    counts_of(first)
    for rounds in range(LINK_ROUNDS + 1):
        quarters = [first] if first == last else [first, last]
        for _ in range(reach + LINK_ROUNDS - rounds):
            quarters = [quarters[0].previous(), *quarters, quarters[-1].next()]
        _in_parallel([partial(linked_table, p, counts_of, model, threshold, memo, rounds) for p in quarters])


_TAKE_BACK = 2  # a search takes back an entry it hid once partners chosen for it twice have not protected it

@dataclass(frozen=True)
class Fix:
    """What a boundary's audit hides in the two quarters that share it (None: nothing more)."""

    left: np.ndarray | None  # entries of the quarter ending at the boundary, as its table numbers them
    right: np.ndarray | None  # entries of the quarter starting there
    safe: bool  # the pair was audited safe (else only the stocks were made alike)
    with_totals: bool  # ... counting the Overview's 31 March totals as published


Pair = tuple[pd.DataFrame, SuppressedTable] | None  # a quarter's counts and a table as an audit saw it


def year_end_pair(year: int, counts_of: Counts, model: StageModel, threshold: int,
                  memo: Memo) -> tuple[Pair, Pair, bool]:
    """The quarters either side of 31 March `year` as their boundary's audit left them, and whether it counted
    the Overview's 31 March totals as published (then they may be shown as they are; the published
    tables hide at least this much)."""
    left = Period(year, 1)
    _prepare(left, left.next(), 0, counts_of, model, threshold, memo)
    fix = _boundary_fix(left, counts_of, model, threshold, memo)
    pairs: list[Pair] = []
    for period, extra in ((left, fix.left), (left.next(), fix.right)):
        table = linked_table(period, counts_of, model, threshold, memo)
        if table is not None and extra is not None:
            table = published_table(counts_of(period), table.hidden_entries() | extra, threshold)
        pairs.append(None if table is None else (counts_of(period), table))
    return pairs[0], pairs[1], fix.safe and fix.with_totals


def _boundary_fix(left: Period, counts_of: Counts, model: StageModel, threshold: int, memo: Memo) -> Fix:
    """Entries to hide in the quarter ending at a boundary and the one starting there (None: nothing more).

    Entries as each table numbers them (cells, row totals, column totals, grand total). First a
    stock one linked table hides and the other shows (where a table could not protect its cells
    around it) is hidden in both. Then cells, non-stock and grand totals and this boundary's stocks
    (in both tables at once) may be hidden; the stocks at the pair's other boundaries stay as their
    neighbours share them. At 31 March first with the Overview's totals over these stocks counted
    as published (so it can show them), else without (the Overview then hides what it must); if
    neither makes the pair safe, only the stocks are made alike (each table is safe on its own).
    """
    def compute() -> Fix:
        tables = [linked_table(p, counts_of, model, threshold, memo) for p in (left, left.next())]
        if tables[0] is None or tables[1] is None:
            return Fix(None, None, True, False)
        alike = Fix(None, None, True, False)
        for with_totals in (True, False) if left.quarter == 1 else (False,):  # the Overview's 31 March
            for stocks_too in (False, True):  # the stocks readers need most, only if nothing else will do
                found = _fix_pair(left, counts_of, (tables[0], tables[1]), model, threshold, with_totals, stocks_too)
                if found.safe:
                    return found
                alike = found
        return alike

    result: Fix = memo(("boundary-fix", left.key), compute)
    return result


def _fix_pair(left: Period, counts_of: Counts, tables: tuple[SuppressedTable, SuppressedTable], model: StageModel,
              threshold: int, with_totals: bool, stocks_too: bool, take_back: bool = True) -> Fix:
    """_boundary_fix's search, with or without the Overview's totals, with or without hiding this boundary's stocks.

    Not safe: only the stocks made alike. `take_back` (the default) lets the search take back a
    partner it chose that its own partners cannot protect; without it (as before) such a search
    hid ever more partners around it and mostly failed. On 100 filter changes at 10^6 the search
    without it never made safe a pair the search with it could not.
    """
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
    odd = [e for e, other in twin.items() if hidden[e] and not hidden[other]]
    hidden[[twin[e] for e in odd]] = True
    alike = Fix(hidden[:split].copy(), hidden[split:end].copy(), False, False) if odd else Fix(None, None, False, False)
    fixed = {entry for margins in (left_rows, left_columns, right_rows, right_columns)
             for label, entry in margins.items() if label in stocks and (entry not in twin or not stocks_too)}
    fixed |= set(totals) | {entry for stage in (_shown_alone(model) if with_totals else set())
                            if stage in left_columns and stage in right_rows
                            for entry in (left_columns[stage], right_rows[stage])}
    allowed = np.array([e for e in range(end) if e not in fixed], dtype=np.int64)
    margins = {e for m in (left_rows, left_columns, right_rows, right_columns) for e in m.values()}
    # hide cells first, then totals of outcomes and 'not known', then grand totals, the stocks readers need last
    rank = {e: 1 for e in margins} | {split - 1: 2, end - 1: 2} | {e: 3 for e in twin}
    stuck, last, changed, passed = 0, -1, bool(odd), set[int]()  # passed: hiding more only widens
    joins: set[int] | None = set(twin) | set(totals)  # each table passed its own audit: only what links them
    chosen: dict[int, list[int]] = {}  # entries this search hid, with the partners it then hid for them
    index = LineIndex(system.lines, len(values))
    while failing := audit_hidden(values, hidden, system.lines, threshold, passed, joins, first_only=True):
        joins = None
        stuck = stuck + 1 if failing[0] == last else 0
        last = failing[0]
        if take_back and last in chosen and stuck == _TAKE_BACK:
            # a partner this search chose that its partners do not protect: take both back and choose elsewhere
            undo = [last, *chosen.pop(last)]
            undo += [twin[e] for e in undo if e in twin]
            hidden[undo] = False
            allowed = allowed[~np.isin(allowed, [last, twin.get(last, last)])]  # never again: take-backs end
            stuck, last, passed = 0, -1, set()  # hiding less can narrow what passed: audit everything again
            continue
        picks = nearby_partners(last, index, values, hidden, allowed, 2 ** max(stuck - 2, 0), rank=rank)
        if not picks:
            return alike
        picks += [twin[p] for p in picks if p in twin]
        hidden[picks] = changed = True
        if last in chosen:
            chosen[last] += picks
        chosen |= {p: [] for p in picks if p not in chosen}
    return Fix(hidden[:split], hidden[split:end], True, with_totals) if changed else Fix(None, None, True, with_totals)


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
