"""Tables published side by side, audited together: the quarter's flows and its per-stage table.

The per-stage table's children at the start and end of a quarter are the flows table's row and
column totals, at start + entered = at end + left (stage by stage, nearly always), and a stage's
entries (exits) are at least the flows into it from other rows (out of it to other columns): a
child who ends in a stage after starting elsewhere entered it (an inequality, as a line with an
unpublished slack). Suppressed
one at a time, the two can give a hidden count away (an LP found a hidden flow of 1 exactly). So
the flows table keeps its own pattern (it is exactly what `journeys flows` prints) and the
per-stage table hides more until an attacker who knows BOTH tables and every relation between them
still cannot pin any hidden entry of either to within the threshold (`audit.audit_hidden`). The
flows tables of the quarters before and after (`beside`) join the audit: they print the same
children at the start and end. Entries the flows tables alone give away are theirs to fix
(journeys.quarter_links), not this table's.

The per-stage table comes in suppressed with its stocks as the flows margins show them
(`margin_stocks`), so its own pass never leans on a stock the flows table shows anyway. A failing
entry alone on a relation gets its partner from that relation, a 0 if nothing else is left
(`lone_line_partners`): an entered of 0 beside hidden flows into the stage pins them at 0, and
before, with zeros never partners, such a search hid the whole per-stage table. Otherwise the
partner comes from a relation that binds the entry (the audit's duals), else from nearby.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeys.audit import audit_hidden
from journeys.flows import NOT_KNOWN
from journeys.suppress import SuppressedTable
from journeys.systems import LineIndex, TableSystem, bound_partners, lone_line_partners, nearby_partners

_LINKED = ("stock_start", "entries", "exits", "stock_end", "moves_in")  # placement_moves: not tied to flows


def _linked_columns(stage_counts: pd.DataFrame) -> np.ndarray:
    """The per-stage counts of the measures tied to the flows tables, as int64 columns (no reindexed frame)."""
    return np.column_stack([stage_counts[m].to_numpy(dtype=np.int64) for m in _LINKED])


def margin_stocks(flows: SuppressedTable, stages: pd.Index) -> np.ndarray:
    """Per stage (rows, in `stages` order): whether the flows table hides its children at the start and at the end
    (its row and column totals), for `quarter_stats.suppress_stage_measures(stocks=...)`."""
    return np.column_stack([flows.row_totals.isna().reindex(stages, fill_value=False).to_numpy(bool),
                            flows.column_totals.isna().reindex(stages, fill_value=False).to_numpy(bool)])


Beside = tuple[pd.DataFrame, SuppressedTable, Literal["before", "after"]]  # a neighbouring quarter's flows
_System = tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, int]], set[int], np.ndarray, np.ndarray, np.ndarray,
                np.ndarray]


def _system(flows: SuppressedTable, flow_counts: pd.DataFrame, stages: SuppressedTable,
            stage_counts: pd.DataFrame, beside: Sequence[Beside] = ()) -> _System:
    """Every entry of both tables (plus two unpublished helpers per stage), what is hidden, and the relations.

    `beside`: the flows tables of the quarters before and after, whose stocks at the shared boundary
    are this quarter's row (before) and column (after) totals.
    """
    system = TableSystem()
    row_of, column_of = system.add_table(flow_counts, flows)
    for counts, table, side in beside:
        rows, columns = system.add_table(counts, table)
        for stage, entry in (columns if side == "before" else rows).items():
            mine = (row_of if side == "before" else column_of).get(stage)
            if mine is not None and stage != NOT_KNOWN:
                system.same(entry, mine)
    flow_values, flow_hidden = system.arrays()
    values: list[Any] = [flow_values]
    hidden: list[Any] = [flow_hidden]
    lines = system.lines
    row_total = np.array([row_of[str(s)] for s in flow_counts.index], dtype=np.int64)
    col_total = np.array([column_of[str(s)] for s in flow_counts.columns], dtype=np.int64)
    offset = flow_values.size
    grid = _linked_columns(stage_counts).astype(float)
    n_s, n_m = grid.shape
    measures = list(stages.cells.columns)
    shut = stages.cells.isna().to_numpy()
    own = shut[:, [measures.index(m) for m in _LINKED]]
    # children at start and end ARE the flows margins: hidden exactly where the flows table hides them
    own[:, [0, 3]] = margin_stocks(flows, stage_counts.index)
    totals = list(stages.column_totals.index)
    totals_hidden = stages.column_totals.isna().to_numpy()[[totals.index(m) for m in _LINKED]]
    stage_cell = offset + np.arange(n_s * n_m).reshape(n_s, n_m)
    stage_total = offset + n_s * n_m + np.arange(n_m)
    aux = offset + n_s * n_m + n_m + np.arange(2 * n_s)  # per stage: "through" and "from outside"
    values += [grid.ravel(), grid.sum(axis=0), grid[:, 0] + grid[:, 1], grid[:, 1] - grid[:, 4]]
    hidden += [own.ravel(), totals_hidden, np.ones(2 * n_s, dtype=bool)]
    lines += [(stage_cell[:, j], int(stage_total[j])) for j in range(n_m)]
    row_labels, column_labels = flow_counts.index.tolist(), flow_counts.columns.tolist()
    rows = {s: i for i, s in enumerate(row_labels)}
    columns = {s: j for j, s in enumerate(column_labels)}
    for k, stage in enumerate(stage_counts.index):
        ss, en, ex, se, mi = stage_cell[k]
        through, outside = int(aux[k]), int(aux[n_s + k])
        lines += [(np.array([ss, en]), through), (np.array([se, ex]), through), (np.array([mi, outside]), int(en))]
        if stage in rows:
            lines.append((np.array([ss]), int(row_total[rows[stage]])))
        if stage in columns:
            lines.append((np.array([se]), int(col_total[columns[stage]])))
    # a child who ends the quarter in a stage after starting it elsewhere entered that stage in the quarter, and
    # one who started it there and ends elsewhere left it: entries and exits are at least those flows cells.
    # An unpublished slack per stage turns each inequality into a line an attacker can use.
    first_slack = offset + n_s * n_m + n_m + 2 * n_s
    slack_values: list[float] = []
    cells = np.arange(flow_counts.size).reshape(flow_counts.shape)  # the flows table's cells come first
    row_names, column_names = np.array(row_labels, dtype=object), np.array(column_labels, dtype=object)
    for k, stage in enumerate(stage_counts.index.tolist()):
        for measure, along in ((1, "column"), (2, "row")):
            if stage not in (columns if along == "column" else rows):
                continue
            members = (cells[:, columns[stage]] if along == "column" else cells[rows[stage], :])
            others = members[(row_names if along == "column" else column_names) != stage]
            slack = grid[k, measure] - flow_values[others].sum()
            if slack < 0:  # not an inequality here (a quarter past the extract date): leave it out
                continue
            lines.append((np.append(others, first_slack + len(slack_values)), int(stage_cell[k, measure])))
            slack_values.append(slack)
    values.append(np.asarray(slack_values))
    hidden.append(np.ones(len(slack_values), dtype=bool))
    all_values = np.concatenate([np.asarray(v, dtype=float) for v in values])
    all_hidden = np.concatenate([np.asarray(h, dtype=bool) for h in hidden])
    through_ok = grid[:, 0] + grid[:, 1] == grid[:, 3] + grid[:, 2]
    passed = {int(a) for a in aux[:n_s]} | {int(aux[n_s + k]) for k in range(n_s) if not 1 <= grid[k, 1] - grid[k, 4]
                                             <= stages.threshold}
    passed |= set(range(first_slack, first_slack + len(slack_values)))  # helpers: never published
    passed |= {int(stage_total[0]), int(stage_total[3])}  # sums of flows margins: pinning them tells nothing new
    if not through_ok.all():  # a child in and out twice: the identity does not hold there, so it is not a relation
        broken = {int(aux[k]) for k in np.flatnonzero(~through_ok)}
        lines = [line for line in lines if line[1] not in broken]
    helpers = np.concatenate([aux, np.arange(first_slack, first_slack + len(slack_values))])
    return all_values, all_hidden, lines, passed, stage_cell, stage_total, own, helpers


def linked_failures(flows: SuppressedTable, flow_counts: pd.DataFrame, stages: SuppressedTable,
                    stage_counts: pd.DataFrame, beside: Sequence[Beside] = ()) -> list[int]:
    """Hidden entries of either table that an attacker knowing both (and `beside`) can pin within the threshold."""
    values, hidden, lines, passed, *_ = _system(flows, flow_counts, stages, stage_counts, beside)
    return audit_hidden(values, hidden, lines, stages.threshold, passed)


def protect_stage_table(flows: SuppressedTable, flow_counts: pd.DataFrame, stages: SuppressedTable,
                        stage_counts: pd.DataFrame, beside: Sequence[Beside] = ()) -> SuppressedTable:
    """The per-stage table with more hidden, so that it and the flows tables (this quarter's, `beside`) are safe together."""
    all_values, all_hidden, lines, passed, stage_cell, stage_total, own, helpers = _system(
        flows, flow_counts, stages, stage_counts, beside)
    n_s, n_m = stage_cell.shape
    stage_entries = np.concatenate([stage_cell[:, [1, 2, 4]].ravel(), stage_total])  # stock cells: as the flows margins
    flows_only = int(stage_cell.min()) if stage_cell.size else all_values.size
    not_ours: set[int] = set()  # entries the flows tables alone give away (theirs to fix, not this table's)
    stuck, last = 0, -1
    index = LineIndex(lines, all_values.size)
    # only groups holding an entry of the per-stage system (its cells, totals, helpers): every line that involves
    # it holds one while it hides anything (the stocks are hidden as the flows margins are, the slacks always), so
    # the other groups are the flows tables' alone, audited where they were made (their failures are not ours)
    ours = set(range(flows_only, all_values.size))
    bound: list[int] = []
    while failing := audit_hidden(all_values, all_hidden, lines, stages.threshold, passed, ours, first_only=True,
                                  ignore=not_ours, binding=bound):
        stuck = stuck + 1 if failing[0] == last else 0  # the same entry again: partners in doubling batches
        last = failing[0]
        batch = 2 ** max(stuck - 2, 0)  # partners: from a relation it is alone on, one that binds it, else nearby
        picks = ((lone_line_partners(failing[0], index, all_values, all_hidden, stage_entries, helpers) if not stuck
                  else []) or bound_partners(bound, lines, all_values, all_hidden, stage_entries, batch)
                 or nearby_partners(failing[0], index, all_values, all_hidden, stage_entries, batch, anywhere=False))
        bound.clear()
        if not picks and failing[0] < flows_only and not not_ours:
            base = [line for line in lines if line[1] < flows_only and bool((line[0] < flows_only).all())]
            not_ours = set(audit_hidden(all_values[:flows_only], all_hidden[:flows_only], base, stages.threshold, set()))
            if failing[0] in not_ours:
                continue
        if not picks:  # nothing linked is left to hide: hide the whole per-stage table (always safe)
            all_hidden[stage_entries] = True
            break
        all_hidden[picks] = True
    # the per-stage table with these entries hidden, built from arrays (pandas per column cost more than the audit)
    shown = ~all_hidden[stage_cell.ravel()].reshape(n_s, n_m)
    truth = _linked_columns(stage_counts)
    measures = list(stages.cells.columns)
    data, hidden_cells = {}, np.zeros((n_s, len(measures)), dtype=bool)
    for j, measure in enumerate(measures):
        if measure in _LINKED:
            k = _LINKED.index(measure)
            data[j] = pd.arrays.IntegerArray(truth[:, k].copy(), ~shown[:, k])
        else:
            data[j] = stages.cells[measure].array
        hidden_cells[:, j] = np.asarray(data[j].isna())
    cells = pd.DataFrame(data, index=stages.cells.index)
    cells.columns = stages.cells.columns
    linked = np.array([m in _LINKED for m in stages.column_totals.index])
    total_values = stages.column_totals.to_numpy(dtype=np.int64, na_value=0)
    total_hidden = stages.column_totals.isna().to_numpy().copy()
    total_hidden[linked] = all_hidden[stage_total][[_LINKED.index(m) for m in stages.column_totals.index[linked]]]
    totals = pd.Series(pd.arrays.IntegerArray(total_values, total_hidden), index=stages.column_totals.index)
    primary = stages.primary.to_numpy(dtype=bool)
    secondary = pd.DataFrame(stages.secondary.to_numpy(dtype=bool) | hidden_cells & ~primary,
                             index=stages.secondary.index, columns=stages.secondary.columns)
    return SuppressedTable(cells=cells, row_totals=stages.row_totals, column_totals=totals, grand_total=None,
                           threshold=stages.threshold, primary=stages.primary, secondary=secondary,
                           rounding=stages.rounding)
