"""Per-stage figures for a quarter (children at start and end, entered, left, moves): exact, over all quarters, suppressed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeys.audit import narrow_entries
from journeys.flows import CodedSpells, Period, QuarterRows, _stage_at
from journeys.stages import OPEN, StageModel
from journeys.suppress import DEFAULT_THRESHOLD, SUPPRESSED, DisclosureError, SuppressedTable, one_way_hidden

#: Columns of every stage x measure table, in this order (the app and its CSV download rely on it).
MEASURES: tuple[str, ...] = ("stock_start", "entries", "exits", "stock_end", "moves_in", "placement_moves")
MEASURE_LABELS: dict[str, str] = {
    "stock_start": "Children at start", "entries": "Entered", "exits": "Left", "stock_end": "Children at end",
    "moves_in": "Came from another stage", "placement_moves": "Placement moves",
}
ALL_STAGES, ALL_STAGES_LABEL = "all", "All stages"  # the total over stages in long outputs
_SS, _EN, _EX, _SE, _MI, _PM = range(len(MEASURES))


def data_periods(spells: pd.DataFrame) -> list[Period]:
    """Every quarter from the one holding the earliest spell start to the one holding the latest end."""
    if spells.empty:
        return []
    lo, hi = spells["start"].min(), spells["end"].max()
    return [Period(i // 4, i % 4 + 1) for i in range(lo.year * 4 + (lo.month - 1) // 3,
                                                       hi.year * 4 + (hi.month - 1) // 3 + 1)]


def entered_and_left(spells: pd.DataFrame,
                     period: Period) -> tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame, pd.DataFrame]:
    """The quarter's snapshot days (the day before it, as the flows take it, and its last day), and the spells
    that start in it and those that end in it (not still open)."""
    first, last = pd.Timestamp(period.start) - pd.Timedelta(days=1), pd.Timestamp(period.end)
    entered = spells[(spells["start"] > first) & (spells["start"] <= last)]
    left = spells[(spells["next_stage"] != OPEN) & (spells["end"] > first) & (spells["end"] <= last)]
    return first, last, entered, left


def quarter_stage_counts(spells: pd.DataFrame, period: Period, model: StageModel) -> pd.DataFrame:
    """Exact counts per stage (rows: stages of the data, stage-model order) and measure (MEASURES), int64.

    Boundary stock uses quarter_flows' rule (`_stage_at`): a spell covers the days from its start
    up to the day before its end (an open spell also its end, the extract date).
    - stock_start / stock_end: children in the stage at the quarter's start (the day before its
      first day, which is the previous quarter's end) / on its last day; they equal the stage's row
      / column total in flows.quarter_flows.
    - entries: children with a spell of the stage starting on any day of the quarter.
    - exits: children with a spell of the stage ending on any day of the quarter that is not still
      open (`next_stage` "open" is censoring, not leaving).
    - moves_in: children among entries whose spell followed another stage of the same journey
      (step > 1) rather than starting a journey or the data.
    - placement_moves: the `moves` of the spells counted in exits, summed. Moves are not dated, so
      a spell's moves fall in the quarter it ends; spells still open are not counted yet.
    stock_start + entries - exits == stock_end for every stage in which no child has two spells
    touching the quarter (distinct children need not add up otherwise: in at the start, out, back
    and out again counts 1 + 1 - 1 but ends at 0), provided the quarter ends by the extract date.
    Consecutive quarters share a snapshot, so every start and end falls in exactly one quarter.
    """
    first, last, entered, left = entered_and_left(spells, period)

    def children(frame: pd.DataFrame) -> pd.Series:
        return frame.drop_duplicates(["person_id", "stage"])["stage"].value_counts()

    counts = pd.DataFrame({
        "stock_start": _stage_at(spells, first).value_counts(), "entries": children(entered),
        "exits": children(left), "stock_end": _stage_at(spells, last).value_counts(),
        "moves_in": children(entered[entered["step"] > 1]),
        "placement_moves": left.groupby("stage")["moves"].sum(),
    })
    counts = counts.reindex(index=stages_in(spells, model), columns=list(MEASURES)).fillna(0).astype(np.int64)
    counts.index.name, counts.columns.name = "stage", "measure"
    return counts


def stage_counts_for(c: CodedSpells, q: QuarterRows, chosen: np.ndarray, model: StageModel) -> pd.DataFrame:
    """quarter_stage_counts of the quarter's rows `chosen` (a filter), from the app's coding: the same table.

    The coding must carry step and moves (flows.coded_spells of spells that have them).
    """
    if c.step is None or c.moves is None:
        raise ValueError("the coding has no step or moves: code spells that carry them")
    size = c.vocab.size
    stage = c.stage[q.rows]

    def children(rows: np.ndarray) -> np.ndarray:  # each (child, stage) once
        return np.bincount(np.unique(q.child[rows].astype(np.int64) * size + stage[rows]) % size, minlength=size)

    entered, left = chosen & q.entered, chosen & q.left
    grid = np.column_stack([
        np.bincount(q.at_start[chosen & (q.at_start >= 0)], minlength=size), children(entered), children(left),
        np.bincount(q.at_end[chosen & (q.at_end >= 0)], minlength=size),
        children(entered & (c.step[q.rows] > 1)),
        np.bincount(stage[left], weights=c.moves[q.rows][left], minlength=size).astype(np.int64),
    ])
    present = set(c.vocab[np.unique(stage[chosen])])
    stages = [s for s in model.of_kind("stage") if s in present]
    counts = pd.DataFrame(grid[c.vocab.get_indexer(stages)], index=pd.Index(stages, name="stage"),
                          columns=pd.Index(list(MEASURES), name="measure")).astype(np.int64)
    return counts


def all_quarter_counts(spells: pd.DataFrame, model: StageModel, periods: list[Period] | None = None) -> pd.DataFrame:
    """quarter_stage_counts for many quarters at once, long: period, period_label, stage, measure, count.

    Periods default to data_periods; they come back sorted, each once. Vectorised: stock is spells
    started by a boundary day minus spells over by then (sorted keys, searchsorted), and entries
    and exits are distinct (child, stage, quarter) keys counted with bincount.
    """
    stages, periods, cube = _count_cube(spells, model, periods)
    n_m, n_s, n_q = cube.shape
    return pd.DataFrame({
        "period": np.repeat([p.key for p in periods], n_s * n_m),
        "period_label": np.repeat([p.label for p in periods], n_s * n_m),
        "stage": np.tile(np.repeat(np.asarray(stages, dtype=object), n_m), n_q),
        "measure": np.tile(np.asarray(MEASURES, dtype=object), n_s * n_q),
        "count": cube.transpose(2, 1, 0).ravel(),
    })


def suppress_stage_measures(counts: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD,
                            stocks: np.ndarray | None = None) -> SuppressedTable:
    """A stage x measure count table controlled measure by measure, then audited across measures.

    Each measure is a one-way table over stages with its total (suppress_series): a sum across
    measures means nothing, so row totals and the grand total are never published (<NA>). The
    measures are linked, though, and an attacker knows it: stock_start + entries - exits -
    stock_end is (nearly always) 0, moves_in <= entries (so entries - moves_in, the children who
    came in from outside, is a count too), and placement_moves describes the children in exits.
    So placement_moves is hidden wherever exits is, and an LP audit of all these relations together
    (the suppress_table criterion: every hidden entry's bounds wider than threshold) hides the
    smallest published count linked to a failing entry until none fails.

    `stocks` (stages x 2: start, end), where the table is shown beside a flows table: the children at
    the start and end hidden exactly where its margins hide them (journeys.stocks), never as partners.
    A link whose other entries are all fixed or 0 then gets a hidden 0 as partner (else nothing could).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise DisclosureError(f"threshold must be a whole number of at least 1, got {threshold!r}.")
    counts = counts.reindex(columns=list(MEASURES))
    grid = counts.to_numpy(dtype=np.int64)
    if (grid < 0).any():
        raise DisclosureError("counts must be whole numbers of at least 0.")
    n_s, n_m = grid.shape
    hidden = np.zeros((n_s + 1, n_m), dtype=bool)  # the last row: totals over stages
    for j, measure in enumerate(MEASURES):
        if ((grid[:, j] >= 1) & (grid[:, j] <= threshold)).any() or 1 <= grid[:, j].sum() <= threshold:
            hidden[:n_s, j], hidden[n_s, j] = one_way_hidden(grid[:, j], threshold)
    hidden[:n_s, _PM] |= hidden[:n_s, _EX]
    fixed = np.zeros_like(hidden)
    if stocks is not None:
        hidden[:n_s, [_SS, _SE]], fixed[:n_s, [_SS, _SE]] = np.asarray(stocks, dtype=bool), True
    hidden = _protect_links(grid, hidden, threshold, fixed)

    def frame(data: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(data, index=counts.index, columns=counts.columns)

    primary = (grid >= 1) & (grid <= threshold)
    cells = pd.DataFrame({j: pd.arrays.IntegerArray(grid[:, j].copy(), hidden[:n_s, j].copy()) for j in range(n_m)},
                         index=counts.index)
    cells.columns = counts.columns
    return SuppressedTable(
        cells=cells,
        row_totals=pd.Series(pd.array([pd.NA] * n_s, dtype="Int64"), index=counts.index),
        column_totals=pd.Series(pd.arrays.IntegerArray(grid.sum(axis=0), hidden[n_s].copy()), index=counts.columns),
        grand_total=None, threshold=int(threshold), primary=frame(primary),
        secondary=frame(hidden[:n_s] & ~primary), rounding=None,
    )


def suppressed_quarter_table(spells: pd.DataFrame, period: Period, model: StageModel,
                             threshold: int = DEFAULT_THRESHOLD) -> SuppressedTable:
    """The quarter's stage x measure table after suppression (see suppress_stage_measures)."""
    return suppress_stage_measures(quarter_stage_counts(spells, period, model), threshold)


def quarter_table_display(table: SuppressedTable, model: StageModel) -> pd.DataFrame:
    """The table as shown: rows are stage labels plus "All stages", columns measure labels, "c" where hidden."""
    rows = [[_show(v) for v in row] for row in table.cells.to_numpy(dtype=object)]
    rows.append([_show(v) for v in table.column_totals])
    index = pd.Index([model.get(s).label for s in table.cells.index] + [ALL_STAGES_LABEL], name="Stage")
    return pd.DataFrame(rows, index=index, columns=[MEASURE_LABELS[m] for m in table.cells.columns], dtype=str)


def trend_frame(spells: pd.DataFrame, model: StageModel, threshold: int = DEFAULT_THRESHOLD,
                periods: list[Period] | None = None) -> pd.DataFrame:
    """Small-multiples data: period, period_label, stage, stage_label, measure, count (Int64), display.

    Every quarter is suppressed exactly as its own quarter table is (so no view differs from
    another), with an "all" stage row for the totals over stages; count is <NA> where hidden.
    """
    stages, periods, cube = _count_cube(spells, model, periods)
    parts = [_long(suppress_stage_measures(pd.DataFrame(cube[:, :, q].T, index=pd.Index(stages, name="stage"),
                                                        columns=list(MEASURES)), threshold), model)
             .assign(period=p.key, period_label=p.label) for q, p in enumerate(periods)]
    columns = ["period", "period_label", "stage", "stage_label", "measure", "count", "display"]
    if not parts:
        return pd.DataFrame({c: pd.array([], dtype="Int64" if c == "count" else str) for c in columns})
    return pd.concat(parts, ignore_index=True)[columns]


def year_on_year(spells: pd.DataFrame, period: Period, model: StageModel,
                 threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The quarter next to the same quarter a year before, both suppressed as their own tables.

    Columns: stage ("all" for the totals), stage_label, measure, this_quarter, year_before, change
    (signed difference where both are published, "c" where either is hidden, "" when the year
    before precedes the data).
    """
    now = _long(suppressed_quarter_table(spells, period, model, threshold), model)
    before = Period(period.year - 1, period.quarter)
    known = data_periods(spells)
    out = now[["stage", "stage_label", "measure"]].assign(this_quarter=now["display"])
    if not known or (before.year, before.quarter) < (known[0].year, known[0].quarter):
        return out.assign(year_before="", change="")
    then = _long(suppressed_quarter_table(spells, before, model, threshold), model)
    diff = (now["count"] - then["count"]).astype("float64")
    text = [SUPPRESSED if np.isnan(d) else f"{int(d):+d}" if d else "0" for d in diff]
    return out.assign(year_before=then["display"].to_numpy(), change=pd.array(text, dtype=str))


def stages_in(spells: pd.DataFrame, model: StageModel) -> list[str]:
    """The stages the spells hold, in stage-model order (the rows of a per-stage table)."""
    present = set(spells["stage"].unique())
    return [s for s in model.of_kind("stage") if s in present]


def _count_cube(spells: pd.DataFrame, model: StageModel,
                periods: list[Period] | None) -> tuple[list[str], list[Period], np.ndarray]:
    """Stages, sorted periods and the counts as an array [measure, stage, quarter]."""
    stages = stages_in(spells, model)
    periods = sorted(set(data_periods(spells) if periods is None else periods), key=lambda p: (p.year, p.quarter))
    n_s, n_q = len(stages), len(periods)
    cube = np.zeros((len(MEASURES), n_s, n_q), dtype=np.int64)
    raw, names = pd.factorize(spells["stage"])
    code = np.array([stages.index(n) if n in stages else -1 for n in names] + [-1], dtype=np.int64)[raw]
    keep = code >= 0
    if not keep.any() or n_q == 0:
        return stages, periods, cube
    code = code[keep]
    start, end = _days(spells["start"])[keep], _days(spells["end"])[keep]
    closed = (spells["next_stage"] != OPEN).to_numpy(dtype=bool)[keep]
    first = np.array([np.datetime64(p.start, "D") for p in periods]).astype(np.int64) - 1  # the day before, as flows
    last = np.array([np.datetime64(p.end, "D") for p in periods]).astype(np.int64)
    over = end + ~closed  # first day a spell no longer covers: an open spell covers the extract date
    for j, day in ((_SS, first), (_SE, last)):
        cube[j] = _on_or_before(code, start, day, n_s) - _on_or_before(code, over, day, n_s)
    person = pd.factorize(spells["person_id"])[0][keep]
    came, went = _window(start, first, last), np.where(closed, _window(end, first, last), -1)
    step = spells["step"].to_numpy()[keep]
    for j, quarter in ((_EN, came), (_EX, went), (_MI, np.where(step > 1, came, -1))):
        ok = quarter >= 0
        key = np.sort(person[ok] * (n_s * n_q) + code[ok] * n_q + quarter[ok])  # sort: np.unique hashes, slowly
        key = key[np.diff(key, prepend=-1) != 0]
        cube[j] = np.bincount(key % (n_s * n_q), minlength=n_s * n_q).reshape(n_s, n_q)
    ok = went >= 0
    moves = np.bincount(code[ok] * n_q + went[ok], weights=spells["moves"].to_numpy()[keep][ok], minlength=n_s * n_q)
    cube[_PM] = np.rint(moves).astype(np.int64).reshape(n_s, n_q)
    return stages, periods, cube


def _days(values: pd.Series) -> np.ndarray:
    return values.to_numpy().astype("datetime64[D]").astype(np.int64)


def _on_or_before(code: np.ndarray, days: np.ndarray, moments: np.ndarray, n_stages: int) -> np.ndarray:
    """[stage, moment]: how many rows of each stage have days <= moment (one sort, two searchsorted)."""
    base = min(days.min(), moments.min()) - 1
    span = max(days.max(), moments.max()) - base + 1
    keys = np.sort(code * span + (days - base))
    lows = np.arange(n_stages, dtype=np.int64)[:, None] * span
    return np.searchsorted(keys, lows + (moments - base)[None, :], "right") - np.searchsorted(keys, lows, "left")


def _window(days: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The index of the quarter whose (first day, last day] holds each day, else -1."""
    q = np.searchsorted(last, days, "left")
    inside = (q < last.size) & (days > first[np.minimum(q, last.size - 1)])
    return np.where(inside, q, -1)


def _protect_links(grid: np.ndarray, hidden: np.ndarray, threshold: int, fixed: np.ndarray) -> np.ndarray:
    """Hide more entries until the audit passes over every link between measures; the new mask.

    Entries: cells (stage by stage), totals, then per stage the unpublished entries - moves_in.
    A cheap pass first: a link that gives a hidden entry away (it hides only that one, or hidden
    entries of one sign adding up to at most threshold) gets a partner from its own members (a 0 if
    no other is free). Entries `fixed` (cells and totals, as `hidden`) are never partners.
    """
    n_s, n_m = grid.shape
    n_c, n_p = n_s * n_m, n_s * n_m + n_m  # cells; cells and totals (the publishable entries)
    fresh = grid[:, _EN] - grid[:, _MI]
    values = np.concatenate([grid.ravel(), grid.sum(axis=0), fresh]).astype(float)
    cell, rows = np.arange(n_c).reshape(n_s, n_m), np.arange(n_s)
    links = np.zeros((n_m + 2 * n_s + 1, values.size))
    for j in range(n_m):  # each measure adds up to its total
        links[j, cell[:, j]], links[j, n_c + j] = 1.0, -1.0
    for j, sign in ((_SS, 1.0), (_EN, 1.0), (_EX, -1.0), (_SE, -1.0)):  # at start + in - out = at end,
        links[n_m + rows, cell[:, j]] = links[-1, n_c + j] = sign  # stage by stage and in total
    for col, sign in ((cell[:, _EN], 1.0), (cell[:, _MI], -1.0), (n_p + rows, -1.0)):  # entries - moves_in
        links[n_m + n_s + rows, col] = sign
    shut = np.concatenate([hidden.ravel(), np.ones(n_s, dtype=bool)])
    check = shut.copy()
    check[n_p:] = (fresh >= 1) & (fresh <= threshold)  # an unpublished count matters only when small
    index = np.arange(values.size)
    pickable = np.concatenate([~fixed.ravel(), np.zeros(n_s, dtype=bool)])

    def hide(reach: np.ndarray, rings: int, grow: bool) -> int:
        """Hide a published entry `rings` links from reach or further (if grow): a non-zero one (or a
        total of 0, which protects hidden zeros), one opening no link without a hidden entry, the smallest."""
        for ring in range(values.size):
            free = np.flatnonzero(reach & ~shut & ((values > 0) | (index >= n_c)) & pickable)
            if not grow and not free.size:  # the link's own members: a 0 is the last one that can protect it
                free = np.flatnonzero(reach & ~shut & pickable)
            grown = reach | (links[(links[:, reach] != 0).any(axis=1)] != 0).any(axis=0)
            last = not grow or (grown == reach).all()
            if free.size and (ring >= rings or last):
                opens = ((links[:, free] != 0) & ~((links != 0) & shut).any(axis=1)[:, None]).any(axis=0)
                pick = int(free[np.lexsort((free, values[free], opens, values[free] == 0))[0]])
                shut[pick] = check[pick] = True
                return pick
            if last:
                return -1
            reach = grown
        return -1

    passed: set[int] = set()
    while True:
        changed = True
        while changed:
            changed = False
            for link in links:
                hid = np.flatnonzero((link != 0) & shut)
                gives = hid.size == 1 or (abs(link[hid].sum()) == hid.size and values[hid].sum() <= threshold)
                if hid.size and check[hid].any() and gives:
                    changed = hide(link != 0, 0, False) >= 0 or changed
        handled, progress = np.zeros(links.shape[0], dtype=bool), False
        for k in _narrow(values, shut, links, check, threshold, passed):  # a partner for each failing
            if not (handled & (links[:, k] != 0)).any():  # entry unless a linked one got one this round
                pick = hide(index == k, 2, True)
                handled |= links[:, k] != 0
                if pick >= 0:
                    handled, progress = handled | (links[:, pick] != 0), True
        if not progress:
            return shut[:n_p].reshape(n_s + 1, n_m)


def _narrow(values: np.ndarray, shut: np.ndarray, links: np.ndarray, check: np.ndarray, threshold: int,
            passed: set[int]) -> list[int]:
    """Hidden entries to check whose LP bounds (x >= 0, the links; rounded inward) are at most threshold wide.

    Probes push every unclear entry at once (boxed), as suppress does; the rest get their own LPs.
    Entries that pass join `passed`: hiding more only widens bounds.
    """
    cols = np.flatnonzero(shut)
    if cols.size == 0:  # nothing hidden (a filter where every count is 0 or above the threshold)
        return []
    sub = links[:, cols]
    used = (sub != 0).any(axis=1)
    a_eq, b_eq = (sub[used], sub[used] @ values[cols]) if used.any() else (None, None)
    todo = np.array([bool(check[k]) and int(k) not in passed for k in cols], dtype=bool)
    a_eq = a_eq if a_eq is not None else np.zeros((0, cols.size))
    b_eq = b_eq if b_eq is not None else np.zeros(0)
    rng = np.random.default_rng(0)  # seeded: the same counts always give the same table
    narrow = narrow_entries(a_eq, b_eq, values[cols].astype(float), todo, threshold, rng)
    passed.update(int(k) for k in cols[todo & ~narrow])
    return [int(k) for k in cols[narrow]]


def _long(table: SuppressedTable, model: StageModel) -> pd.DataFrame:
    """stage, stage_label, measure, count (Int64, <NA> hidden), display; totals as stage "all"."""
    cells = pd.concat([table.cells, table.column_totals.to_frame(ALL_STAGES).T.astype("Int64")])
    stages = list(cells.index)
    labels = [ALL_STAGES_LABEL if s == ALL_STAGES else model.get(s).label for s in stages]
    n_m = cells.shape[1]
    count = pd.array(cells.to_numpy(dtype=object).ravel(), dtype="Int64")
    return pd.DataFrame({
        "stage": np.repeat(np.asarray(stages, dtype=object), n_m),
        "stage_label": np.repeat(np.asarray(labels, dtype=object), n_m),
        "measure": np.tile(np.asarray(cells.columns, dtype=object), len(stages)),
        "count": count, "display": pd.array([_show(v) for v in count], dtype=str),
    })


def _show(value: Any) -> str:
    return SUPPRESSED if value is None or pd.isna(value) else str(int(value))
