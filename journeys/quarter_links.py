"""Quarterly flows tables linked through the stocks they share, suppressed so that together they stay safe.

The children in each stage at a quarter's end are the next quarter's children at its start: the
same numbers in two tables, and in the trends, the per-stage tables and the Overview's 31 March
figures built from them. Suppressed one quarter at a time, they leaked:
1. a stock one table hid as a secondary was printed by the other (30 of 40 quarter pairs of one
   sample authority), so the hidden cells it protected could be worked out;
2. a stock both tables hid was bounded by each table's own lines, and the two bounds together
   pinned hidden entries (151 over the 40 quarter pairs of the northgate sample).
So whether a stock is shown is a rule on the stocks at that date alone (journeys.stocks), the same
in both quarters and in every view that prints it, and no audit ever hides a stock: each table
protects its cells around them (`linked_table`; where only a stock could, the table hides every
other entry instead, suppress._cover). Then each boundary where a stock is hidden has its pair of
tables audited together (`_boundary_fix`): cells, then non-stock and grand totals are hidden until
neither table has an entry the pair pins; at 31 March first with the Overview's totals counted as
published, so it can show them (`year_end_pair`). Where a boundary shows every stock, its two tables
meet only in published numbers and the pair tells an attacker nothing more. A quarter publishes the
union of what its two boundaries' audits hid (`quarter_table`); where one boundary's audit hid an
entry the other's never saw hidden, the quarter is audited beside both neighbours as their audits
saw them, hiding more of its own cells and non-stock totals (`_beside_neighbours`: the northgate
girls-only view had two entries a published pair pinned, now none). A boundary's search takes back a
partner it chose when two rounds of partners for it have not protected it, and looks elsewhere
(`_fix_pair`); where it still fails, both tables hide every entry but their stocks.
Remaining limits (tests/test_quarter_links.py checks riverside, northgate's girls and westmoor's
girls and boys, where one entry each was pinned before stocks followed their rule; the other views
were checked by hand): where only a quarter's stocks could protect an entry that the audit beside
both neighbours finds, it is left as the boundary audits left it; a pair that no search or cover
makes safe has each table only safe on its own; and chains longer than two quarters are not
audited together (an audit of whole histories found nothing more than the pairs on the samples).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from journeys.audit import audit_hidden, beyond_partners, show_determined
from journeys.flows import Period
from journeys.stages import StageModel
from journeys.stocks import Counts, quarter_stocks_hidden
from journeys.suppress import SuppressedTable, covered, published_table, suppress_table
from journeys.systems import LineIndex, TableSystem, bound_partners, nearby_partners

Memo = Callable[[tuple[Any, ...], Callable[[], Any]], Any]


def dict_memo() -> Memo:
    """A Memo over one dict, for one run (`journeys flows`); the app remembers in its working set instead."""
    store: dict[tuple[Any, ...], Any] = {}

    def memo(key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        if key not in store:
            store[key] = compute()
        return store[key]

    return memo


def _stocks_hidden(period: Period, counts_of: Counts, model: StageModel, threshold: int,
                   memo: Memo) -> tuple[dict[str, bool], dict[str, bool]]:
    """The stock rule at the quarter's start and end (journeys.stocks), worked out once per quarter."""
    result: tuple[dict[str, bool], dict[str, bool]] = memo(
        ("stocks-hidden", period.key), partial(quarter_stocks_hidden, period, counts_of, model, threshold))
    return result


def linked_table(period: Period, counts_of: Counts, model: StageModel, threshold: int,
                 memo: Memo) -> SuppressedTable | None:
    """The quarter's table with its stocks as the stock rule decides at both boundaries, its cells protected
    around them (audited on its own; `quarter_table` adds what its boundaries' audits hide).

    `counts_of` gives a quarter's counts (empty where there are none: None is returned); `memo(key,
    compute)` remembers tables across quarters, so neighbours are suppressed once.
    """
    def compute() -> SuppressedTable | None:
        counts = counts_of(period)
        if counts.empty:
            return None
        rows, columns = _stocks_hidden(period, counts_of, model, threshold, memo)
        return suppress_table(counts, threshold=threshold, row_hidden=rows, column_hidden=columns,
                              margins_stay=model.of_kind("stage"))

    return memo(("linked-flows", period.key), compute)


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
        starting, ending = _stocks_hidden(period, counts_of, model, threshold, memo)
        # a boundary that shows every stock needs no audit, so no neighbour's table; the others two at a time
        near = [p for p, shut in ((period.previous(), starting), (period.next(), ending)) if any(shut.values())]
        in_parallel([partial(linked_table, p, counts_of, model, threshold, memo) for p in (period, *near)])
        own = linked_table(period, counts_of, model, threshold, memo)
        if own is None:
            return None
        before, after = in_parallel([partial(_boundary_fix, p, counts_of, model, threshold, memo)
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
        n_rows, n_cols = counts.shape  # a pair not made safe: protect this table around what was hidden
        cells, rows, stages = n_rows * n_cols, n_rows * (n_cols + 1), set(model.of_kind("stage"))
        return suppress_table(counts, threshold=threshold, cells_hidden=hidden[:cells].reshape(n_rows, n_cols),
                              row_hidden={s: bool(h) for s, h in zip(counts.index, hidden[cells:rows]) if s in stages},
                              column_hidden={s: bool(h) for s, h in zip(counts.columns, hidden[rows:-1]) if s in stages},
                              grand_hidden=bool(hidden[-1]), margins_stay=stages)

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
        for stage in [s for s in pairs[0] if s in stocks and s in pairs[1]]:  # in table order: the same LPs
            system.same(pairs[0][stage], pairs[1][stage])
        year_end = (side == "before" and period.quarter == 2 and before.with_totals) or (
            side == "after" and period.quarter == 1 and after.with_totals)
        if year_end:  # the Overview publishes its 31 March totals over these stocks
            _group_totals(system, pairs[0], model)
    values, shut = system.arrays()
    fixed = {entry for margin in (rows, columns) for label, entry in margin.items() if label in stocks}
    allowed = np.array([e for e in mine.tolist() if e not in fixed], dtype=np.int64)
    theirs = set(range(len(values))) - set(mine.tolist())
    index, passed, stuck, last, bound = LineIndex(system.lines, len(values)), set[int](), 0, -1, list[int]()
    while failing := audit_hidden(values, shut, system.lines, threshold, passed, set(mine.tolist()), first_only=True,
                                  ignore=theirs, binding=bound):
        stuck = stuck + 1 if failing[0] == last else 0
        last = failing[0]
        picks = (bound_partners(bound, system.lines, values, shut, allowed, 2 ** max(stuck - 2, 0))
                 or nearby_partners(last, index, values, shut, allowed, 2 ** max(stuck - 2, 0)))
        bound.clear()
        if picks and stuck == 1 and _no_partner_helps(last, values, shut, allowed, system.lines, threshold):
            picks = []  # failing again, and no partner at all could protect it: stop now, as the search would
        if not picks:  # only its stocks are left to hide, and the neighbours show them: as the boundary audits left it
            return hidden
        shut[picks] = True
    return shut[first:first + mine.size].copy()


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="journeys-audit")


def in_parallel(tasks: list[Callable[[], Any]]) -> list[Any]:
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

    Counts first, in this thread (they come from one selection); then the tables two at a time.
    """
    counts_of(first)
    quarters = [first] if first == last else [first, last]
    for _ in range(reach):
        quarters = [quarters[0].previous(), *quarters, quarters[-1].next()]
    in_parallel([partial(linked_table, p, counts_of, model, threshold, memo) for p in quarters])


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

    Entries as each table numbers them (cells, row totals, column totals, grand total). Where the
    rule shows every stock at the boundary, the two tables share only published numbers: nothing
    more. Else cells, then non-stock and grand totals of either may be hidden; no stock is. At 31
    March first with the Overview's totals over these stocks counted as published (so it can show
    them), else without (the Overview then hides what it must); if neither makes the pair safe, each
    table is only safe on its own.
    """
    def compute() -> Fix:
        if not any(_stocks_hidden(left, counts_of, model, threshold, memo)[1].values()):
            return Fix(None, None, True, left.quarter == 1)  # the Overview's totals add up shown stocks
        tables = [linked_table(p, counts_of, model, threshold, memo) for p in (left, left.next())]
        if tables[0] is None or tables[1] is None:
            return Fix(None, None, True, False)
        for with_totals in (True, False) if left.quarter == 1 else (False,):  # the Overview's 31 March
            found = _fix_pair(left, counts_of, (tables[0], tables[1]), model, threshold, with_totals)
            if found.safe:
                return found
        return Fix(None, None, False, False)

    result: Fix = memo(("boundary-fix", left.key), compute)
    return result


def _fix_pair(left: Period, counts_of: Counts, tables: tuple[SuppressedTable, SuppressedTable], model: StageModel,
              threshold: int, with_totals: bool, take_back: bool = True) -> Fix:
    """_boundary_fix's search, with or without the Overview's totals counted as published.

    Partners come from the lines that bind the failing entry (the audit's duals: `bound_partners`),
    else from nearby; cells first, then totals of outcomes and 'not known', then grand totals (nearby
    partners alone hid 273 more entries where these hide 161, over the 40 slowest searches of 60 views
    at 10^6, in about twice the time: a failing 1 held by the line of column totals got ever larger
    batches of cells). The system is built in
    table order, so the same counts give the same LPs and the same partners. `take_back` (the
    default) lets the search take back a partner it chose that its own partners cannot protect;
    without it such a search hid ever more partners around it and mostly failed. Where no partner
    is left, both tables hide every entry but their stocks (and the Overview's totals), and the pair
    is audited once more.
    """
    system, stocks = TableSystem(), set(model.of_kind("stage"))
    left_rows, left_columns = system.add_table(counts_of(left), tables[0])
    split = len(system.values)
    right_rows, right_columns = system.add_table(counts_of(left.next()), tables[1])
    twin: set[int] = set()  # this boundary's stocks, the same children in both tables
    for stage in [s for s in left_columns if s in stocks and s in right_rows]:  # in table order, as the audit's LPs
        system.same(left_columns[stage], right_rows[stage])
        twin |= {left_columns[stage], right_rows[stage]}
    end = len(system.values)
    totals = _group_totals(system, left_columns, model) if with_totals else []
    values, hidden = system.arrays()
    fixed = {entry for margins in (left_rows, left_columns, right_rows, right_columns)
             for label, entry in margins.items() if label in stocks} | set(totals)
    cover = np.array([e for first, part in ((0, left), (split, left.next()))
                        for e in _cover_entries(counts_of(part), first, stocks) if e not in fixed], dtype=np.int64)
    allowed = np.array([e for e in range(end) if e not in fixed], dtype=np.int64)
    margins = {e for m in (left_rows, left_columns, right_rows, right_columns) for e in m.values()}
    rank = {e: 1 for e in margins} | {split - 1: 2, end - 1: 2}
    stuck, last, changed, passed = 0, -1, False, set[int]()  # passed: hiding more only widens
    joins: set[int] | None = twin | set(totals)  # each table passed its own audit: only what links them
    chosen: dict[int, list[int]] = {}  # entries this search hid, with the partners it then hid for them
    index, bound = LineIndex(system.lines, len(values)), list[int]()
    while failing := audit_hidden(values, hidden, system.lines, threshold, passed, joins, first_only=True,
                                  binding=bound):
        joins = None
        stuck = stuck + 1 if failing[0] == last else 0
        last = failing[0]
        if take_back and last in chosen and stuck == _TAKE_BACK:
            # a partner this search chose that its partners do not protect: take both back and choose elsewhere
            hidden[[last, *chosen.pop(last)]] = False
            allowed = allowed[allowed != last]  # never again: take-backs end
            stuck, last, passed = 0, -1, set()  # hiding less can narrow what passed: audit everything again
            continue
        picks = (bound_partners(bound, system.lines, values, hidden, allowed, 2 ** max(stuck - 2, 0), rank)
                 or nearby_partners(last, index, values, hidden, allowed, 2 ** max(stuck - 2, 0), rank=rank))
        bound.clear()
        if picks and stuck == 1 and last not in chosen and _no_partner_helps(last, values, hidden, allowed,
                                                                             system.lines, threshold):
            picks = []  # failing again, not a partner it may take back, and no partner could protect it: cover now
        if not picks:
            hidden[cover] = True  # every entry but the stocks, as suppress._cover hides them
            show_determined(values, hidden, system.lines, threshold, fixed=np.isin(np.arange(len(values)), list(fixed)))
            if audit_hidden(values, hidden, system.lines, threshold, set(), first_only=True):
                return Fix(None, None, False, False)
            return Fix(hidden[:split], hidden[split:end], True, with_totals)
        hidden[picks] = changed = True
        if last in chosen:
            chosen[last] += picks
        chosen |= {p: [] for p in picks if p not in chosen}
    return Fix(hidden[:split], hidden[split:end], True, with_totals) if changed else Fix(None, None, True, with_totals)


def _no_partner_helps(entry: int, values: np.ndarray, hidden: np.ndarray, allowed: np.ndarray, lines: list[Any],
                      threshold: int) -> bool:
    """Whether `entry` stays given away with every allowed non-zero entry hidden too (audit.beyond_partners): a search
    would hide them all, one batch at a time, and then fall back."""
    most = hidden.copy()
    most[allowed[values[allowed] > 0]] = True
    return beyond_partners(entry, values, most, lines, threshold)


def _cover_entries(counts: pd.DataFrame, first: int, stocks: set[str]) -> list[int]:
    """The entries (numbered from `first`, as TableSystem.add_table numbers them) that a cover hides in a table
    whose stocks stay (suppress.covered)."""
    grid = counts.to_numpy()
    values = np.concatenate([grid.ravel(), grid.sum(axis=1), grid.sum(axis=0), [grid.sum()]])
    stay = np.zeros(values.size, dtype=bool)
    stay[grid.size:-1] = np.isin(np.concatenate([counts.index, counts.columns]), list(stocks))
    return (first + np.flatnonzero(covered(values, stay, *grid.shape))).tolist()


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
