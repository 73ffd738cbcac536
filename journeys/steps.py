"""Journeys aligned on step: node = (step k, stage) for journeys that start in a period, later steps folded.

Column 0 holds each journey's start (`entry`, or `before_data` for a left-truncated journey), column k
the stage of its step-k spell, and the column after its last stage its end (the outcome, or `open`).
A journey with more than `depth` stages goes from (depth, stage) to (depth + 1, `more_moves`) and on
to its end at depth + 2. Counts are of journeys: a child with two journeys starting in the period
counts twice.

Disclosure control: the links from column k to column k + 1 form a two-way table (rows: column k's
nodes, columns: column k + 1's nodes, ends included). Each table's small counts are first hidden
with partners along its lines (`suppress.proposed_table`, the line heuristic without LPs: the joint
audit, journeys.step_audit, is what makes them safe, and auditing each table alone first only cost
LPs). A node total appears in two tables (the column margin of table k - 1 and the row margin of
table k); it is published only where every table that shows it publishes it, and the number of
journeys (the grand total of tables 0 and 1) likewise. Linked tables suppressed one by one leak: a
total one table hides can be the sum of published links in the other (on the sample authorities this
left a count of 1 to 5 within the threshold in most quarters). So all step tables are then audited
together with the same LP test (`audit.audit_hidden`: every link, node total and journey count
hidden keeps max - min > threshold given everything published here), hiding one more entry at a time
until all pass. Remaining limits: the audit covers this view only, not other outputs that share
these counts (quarterly flows, other periods, depths or filters: differencing between views is for
perturbation, DESIGN 6); a drawn "c" link says the count is at least 1, as "c" does in any table
that publishes zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.columns import group_starts
from journeys.derived import safe_median_duration
from journeys.stages import BEFORE_DATA, ENTRY, OPEN, StageModel
from journeys.step_audit import audit_step_tables
from journeys.suppress import DEFAULT_THRESHOLD, SUPPRESSED, SuppressedTable, proposed_table

MORE_MOVES = "more_moves"  # the node that folds a journey's steps beyond the chosen depth
MORE_MOVES_LABEL = "More moves"
MORE_MOVES_COLOUR = "#999999"
_KEYS = ["authority", "person_id", "journey_no"]
_NODE_COLUMNS = {"node": "str", "step": "int64", "stage": "str", "label": "str", "colour": "str", "total": "Int64",
                 "total_display": "str", "median_weeks": "float64"}
_LINK_COLUMNS = {"source": "str", "target": "str", "count": "Int64", "display": "str", "suppressed": "bool"}


@dataclass(frozen=True)
class StepFlows:
    """The step-aligned Sankey after disclosure control: the only form the app draws."""

    nodes: pd.DataFrame  # node "k:stage", step, stage, label, colour, total (Int64), total_display, median_weeks
    links: pd.DataFrame  # source, target (node ids), count (Int64, <NA> where hidden), display, suppressed
    journeys: int | None  # journeys drawn; None where hidden
    depth: int


@dataclass(frozen=True)
class _Chosen:
    """The spells of the chosen journeys: positions into spells, each journey's spells together in step order."""

    rows: np.ndarray  # positions (iloc) into spells
    pos: np.ndarray  # 1-based place in the journey
    size: np.ndarray  # the journey's number of spells
    last: np.ndarray  # bool: the journey's last spell


@dataclass(frozen=True)
class _Links:
    """Every link of the chosen journeys as codes into vocab; `at` indexes the _Chosen arrays."""

    at: np.ndarray
    step: np.ndarray
    source: np.ndarray
    target: np.ndarray
    stage: np.ndarray  # the stage code of every chosen spell
    vocab: pd.Index


def _same_as_previous(values: pd.Series) -> np.ndarray:
    """For rows 1.., whether the value equals the row before's (cheap: no sort, no hashing)."""
    arr = values.array
    return pd.array(arr[1:] == arr[:-1], dtype="boolean").to_numpy(dtype=bool, na_value=False)


def journey_order(spells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions that put each journey's spells together in step order, and where each journey begins.

    The pipeline writes spells that way already (checked on neighbouring rows: no sort, no
    hashing); any other order is sorted by integer codes of the journey keys.
    """
    step = spells["step"].to_numpy(np.int64)
    follows = step[1:] == step[:-1] + 1
    for key in _KEYS:
        follows &= _same_as_previous(spells[key])
    if step.size == 0 or (step[0] == 1 and np.all((step[1:] == 1) | follows)):
        return np.arange(step.size), step == 1
    codes = [pd.factorize(spells[key])[0] for key in _KEYS]
    order = np.lexsort((step, *codes[::-1]))
    begins = np.ones(step.size, dtype=bool)
    for code in codes:
        begins[1:] &= code[order][1:] == code[order][:-1]
    begins[1:] = ~begins[1:]
    return order, begins


def _select(spells: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, include_truncated: bool) -> _Chosen:
    """The spells of the journeys whose first spell starts in [start, end] (whole days), journey by journey."""
    order, begins = journey_order(spells)
    journey = np.cumsum(begins) - 1
    lo = np.datetime64(pd.Timestamp(start).normalize())
    hi = np.datetime64(pd.Timestamp(end).normalize() + pd.Timedelta(days=1))
    first = spells["start"].to_numpy()[order[begins]]
    chosen = (first >= lo) & (first < hi)
    if not include_truncated:
        chosen &= ~spells["left_truncated"].to_numpy(bool)[order[begins]]
    keep = chosen[journey] if journey.size else begins
    sizes = np.bincount(journey[keep], minlength=chosen.size)
    starts = np.flatnonzero(begins)
    pos = (np.arange(journey.size) - starts[journey] + 1)[keep]
    size = sizes[journey[keep]]
    return _Chosen(rows=order[keep], pos=pos, size=size, last=pos == size)


def _links(spells: pd.DataFrame, chosen: _Chosen, depth: int) -> _Links:
    """The links of every chosen journey, as codes (see journey_paths for what they are)."""
    s_codes, s_uniques = pd.factorize(spells["stage"].array.take(chosen.rows))
    n_codes, n_uniques = pd.factorize(spells["next_stage"].array.take(chosen.rows))
    vocab = pd.Index(s_uniques).append(pd.Index(n_uniques)).append(pd.Index([ENTRY, BEFORE_DATA, MORE_MOVES]))
    vocab = vocab.unique().astype("str")
    stage = vocab.get_indexer(pd.Index(s_uniques))[s_codes] if s_codes.size else s_codes
    ending = vocab.get_indexer(pd.Index(n_uniques))[n_codes] if n_codes.size else n_codes
    entry, before, more = vocab.get_indexer(pd.Index([ENTRY, BEFORE_DATA, MORE_MOVES]))
    pos, size, last = chosen.pos, chosen.size, chosen.last
    at = np.arange(pos.size)
    first, inside, folded = pos == 1, pos <= depth, last & (size > depth)
    target = np.where(last, ending, np.append(stage[1:], -1))  # the next spell's stage, or the end
    target = np.where((pos == depth) & (size > depth), more, target)
    truncated = spells["left_truncated"].to_numpy(bool)[chosen.rows[first]]
    parts = [  # (at, step of the source column, source, target)
        (at[first], np.zeros(first.sum(), np.int64), np.where(truncated, before, entry), stage[first]),
        (at[inside], pos[inside], stage[inside], target[inside]),
        (at[folded], np.full(folded.sum(), depth + 1), np.full(folded.sum(), more), ending[folded]),
    ]
    at, step, src, tgt = (np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(4))
    return _Links(at=at, step=step, source=src, target=tgt, stage=stage, vocab=vocab)


def journey_paths(spells: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, depth: int = 6,
                  include_truncated: bool = False) -> pd.DataFrame:
    """One row per (journey, link) for journeys whose first spell starts in [start, end]: exact, internal.

    `step` is the column of the source node: 0 (`entry`/`before_data`) -> 1 (first stage) -> ... ->
    the end (outcome or `open`) right after the last stage; beyond `depth` stages a journey goes
    (depth, stage) -> (depth + 1, `more_moves`) -> (depth + 2, end). Left-truncated journeys are
    left out unless include_truncated (their start is not in the period). Unsuppressed: never shown.
    """
    _check_depth(depth)
    chosen = _select(spells, start, end, include_truncated)
    links = _links(spells, chosen, depth)
    order = np.lexsort((links.step, links.at))  # journey by journey, then along the journey
    out = spells[_KEYS].take(chosen.rows[links.at[order]]).reset_index(drop=True)
    out["step"] = links.step[order]
    out["source_stage"] = links.vocab.take(links.source[order]).to_numpy()
    out["target_stage"] = links.vocab.take(links.target[order]).to_numpy()
    return out[["step", "source_stage", "target_stage", *_KEYS]]


def step_counts(paths: pd.DataFrame) -> pd.DataFrame:
    """Exact journey counts per link: step, source_stage, target_stage, count (unsuppressed)."""
    counts = paths.groupby(["step", "source_stage", "target_stage"], sort=True).size()
    return counts.rename("count").reset_index().astype({"step": np.int64, "count": np.int64})


def _medians(spells: pd.DataFrame, chosen: _Chosen, links: _Links, depth: int) -> pd.DataFrame:
    """Median weeks (of whole days) in each (step, stage) node, NaN for groups under 10 (safe_median_duration)."""
    inside = chosen.pos <= depth
    rows = chosen.rows[inside]
    days = np.floor((spells["end"].to_numpy()[rows] - spells["start"].to_numpy()[rows]) / np.timedelta64(1, "D"))
    (step, code), weeks = safe_median_duration(days, chosen.pos[inside], links.stage[inside])
    return pd.DataFrame({"step": step, "stage": links.vocab.take(code).to_numpy(), "median_weeks": weeks})


def _check_depth(depth: int) -> None:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be a whole number of at least 1 (the steps drawn before folding), got {depth!r}")


def _node_rank(model: StageModel) -> dict[str, int]:
    """Order in a column: stage-model order, more_moves after the stages, then outcomes, then open."""
    outcomes = model.of_kind("outcome")
    before = [s for s in model.ids if s not in outcomes and s != OPEN]
    return {s: i for i, s in enumerate([*before, MORE_MOVES, *outcomes, OPEN])}


def _step_tables(links: _Links, rank: dict[str, int], record_keys: np.ndarray | None = None) -> dict[int, pd.DataFrame]:
    """The exact two-way table of each step: rows column k's nodes, columns column k + 1's, in node order.

    Counted straight from the codes (one bincount over step x source x target), so the tables hold
    exactly the nodes with a link at that step, as grouping the paths (step_counts) would. With
    each link's journey's `record_keys` (viewer mode), every cell gets its cell-key noise first
    (journeys.perturb): the same journeys in a link always get the same noise, whatever the filter.
    """
    if links.step.size == 0:
        return {}
    vocab = links.vocab.to_numpy(dtype=object)
    order = np.array(sorted(range(vocab.size), key=lambda i: (rank.get(vocab[i], len(rank)), vocab[i])))
    width, steps = vocab.size, int(links.step.max()) + 1
    combined = (links.step * width + links.source) * width + links.target
    counts = np.bincount(combined, minlength=steps * width * width)
    if record_keys is not None:
        from journeys.perturb import RECORD_KEY_BASE, perturb_counts

        keys = np.bincount(combined, weights=record_keys, minlength=counts.size).astype(np.int64) % RECORD_KEY_BASE
        counts = perturb_counts(counts, keys)
    cube = counts.reshape(steps, width, width)[:, order][:, :, order]
    names = vocab[order]
    tables = {}
    for step in range(steps):  # one per column (depth + 2 at most)
        grid = cube[step]
        rows, columns = grid.any(axis=1), grid.any(axis=0)
        if rows.any():
            tables[step] = pd.DataFrame(grid[rows][:, columns].astype(np.int64),
                                        index=pd.Index(names[rows], name="source_stage", dtype="str"),
                                        columns=pd.Index(names[columns], name="target_stage", dtype="str"))
    return tables


def _table_links(exact: dict[int, pd.DataFrame], tables: dict[int, SuppressedTable]) -> pd.DataFrame:
    """The links of every step table: their non-zero cells (hidden cells are never zeros), built as one frame."""
    sources, targets, counts, hidden = [], [], [], []
    for step, grid in exact.items():
        values = grid.to_numpy().ravel()
        keep = values > 0
        n_rows, n_cols = grid.shape
        sources.append(np.char.add(f"{step}:", np.repeat(grid.index.to_numpy(dtype=str), n_cols)[keep]))
        targets.append(np.char.add(f"{step + 1}:", np.tile(grid.columns.to_numpy(dtype=str), n_rows)[keep]))
        counts.append(values[keep])
        hidden.append(tables[step].hidden_entries()[: n_rows * n_cols][keep])
    return pd.DataFrame({"source": np.concatenate(sources).astype(object),
                         "target": np.concatenate(targets).astype(object),
                         "exact": np.concatenate(counts), "hidden": np.concatenate(hidden)})


def _margins(exact: dict[int, pd.DataFrame], tables: dict[int, SuppressedTable]) -> pd.DataFrame:
    """Node totals as each table shows them: row margins for column k, column margins for column k + 1."""
    parts: list[tuple[np.ndarray, ...]] = []
    for step, table in tables.items():
        grid, shut = exact[step], table.hidden_entries()
        n_rows, n_cols = grid.shape
        values = grid.to_numpy()
        parts.append((np.full(n_rows, step), grid.index.to_numpy(dtype=object), values.sum(axis=1),
                      shut[n_rows * n_cols: n_rows * (n_cols + 1)]))
        parts.append((np.full(n_cols, step + 1), grid.columns.to_numpy(dtype=object), values.sum(axis=0),
                      shut[n_rows * (n_cols + 1): -1]))
    steps, stages, totals, hidden = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return pd.DataFrame({"step": steps.astype(np.int64), "stage": pd.array(stages, dtype="str"), "exact": totals,
                         "hidden": hidden.astype(bool)})


def _nodes(margins: pd.DataFrame, rank: dict[str, int]) -> pd.DataFrame:
    """One row per node in column order (stage-model rank, then name); a total is hidden if any table showing it
    hides it."""
    step = margins["step"].to_numpy(np.int64)
    codes, names = pd.factorize(margins["stage"].to_numpy(dtype=object))
    by_rank = np.array([rank.get(n, len(rank)) for n in names], dtype=np.int64)
    by_name = np.argsort(np.argsort(np.asarray(names, dtype=str), kind="stable"), kind="stable")
    order = np.lexsort((by_name[codes], by_rank[codes], step))
    step, codes = step[order], codes[order]
    heads = group_starts(step, codes)
    stage = np.asarray(names, dtype=object)[codes[heads]]
    return pd.DataFrame({
        "step": step[heads], "stage": pd.array(stage, dtype="str"),
        "exact": np.maximum.reduceat(margins["exact"].to_numpy()[order], heads) if heads.size else np.zeros(0, np.int64),
        "hidden": np.logical_or.reduceat(margins["hidden"].to_numpy(bool)[order], heads) if heads.size
        else np.zeros(0, bool),
        "node": pd.array([f"{a}:{b}" for a, b in zip(step[heads].tolist(), stage)], dtype="str"),
    })


def _counts_shown(exact: np.ndarray, hidden: np.ndarray) -> tuple[pd.arrays.IntegerArray, pd.Series]:
    """Counts as published: Int64 with <NA> where hidden, and their text ("c" where hidden)."""
    shown = pd.arrays.IntegerArray(exact.astype(np.int64), hidden.astype(bool))
    return shown, pd.Series([SUPPRESSED if h else str(v) for v, h in zip(exact, hidden)], dtype="str")


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def step_flows(spells: pd.DataFrame, model: StageModel, start: pd.Timestamp, end: pd.Timestamp, depth: int = 6,
               include_truncated: bool = False, threshold: int = DEFAULT_THRESHOLD,
               secret: str | None = None) -> StepFlows:
    """The step-aligned Sankey of journeys starting in [start, end]: the only form the app draws.

    Each step's table gets its small counts hidden with partners (proposed_table), node totals
    made consistent across the two tables that show them, then all tables audited together (module
    docstring). Counts are of journeys, not children. Median weeks in a stage only for nodes of 10+
    spells whose total is published; open spells count their time to the extract date, so theirs are
    lower bounds.
    `secret` switches on viewer mode: every link gets cell-key noise before suppression, keyed on
    its journeys (pseudonymised person_id and journey_no, so spells must carry the pseudonyms).
    """
    _check_depth(depth)
    chosen = _select(spells, start, end, include_truncated)
    links = _links(spells, chosen, depth)
    rank = _node_rank(model)
    keys = None
    if secret is not None:
        from journeys.perturb import record_keys

        rows = chosen.rows[links.at]
        keys = record_keys(spells["person_id"].take(rows), spells["journey_no"].take(rows), secret)
    exact = _step_tables(links, rank, keys)
    tables = {step: proposed_table(table, threshold) for step, table in exact.items()}
    if not tables:  # no journey starts in the period: nothing to draw, and 0 is publishable
        return StepFlows(nodes=_empty(_NODE_COLUMNS), links=_empty(_LINK_COLUMNS), journeys=0, depth=depth)
    drawn = _table_links(exact, tables)
    nodes = _nodes(_margins(exact, tables), rank)
    total = int(exact[0].to_numpy().sum())
    hidden = audit_step_tables(drawn, nodes, total, any(tables[k].grand_total is None for k in (0, 1) if k in tables),
                            threshold)
    count, display = _counts_shown(drawn["exact"].to_numpy(), hidden[: len(drawn)])
    drawn = drawn.assign(count=count, display=display, suppressed=hidden[: len(drawn)])
    nodes["hidden"] = hidden[len(drawn): -1]
    nodes["total"], nodes["total_display"] = _counts_shown(nodes["exact"].to_numpy(), nodes["hidden"].to_numpy())
    nodes = nodes.merge(_medians(spells, chosen, links, depth), on=["step", "stage"], how="left")
    nodes["median_weeks"] = nodes["median_weeks"].astype("float64").where(~nodes["hidden"])
    labels = {s.id: s.label for s in model.stages} | {MORE_MOVES: MORE_MOVES_LABEL}
    colours = {s.id: s.colour for s in model.stages} | {MORE_MOVES: MORE_MOVES_COLOUR}
    nodes["label"] = nodes["stage"].map(labels).fillna(nodes["stage"])
    nodes["colour"] = nodes["stage"].map(colours).fillna(MORE_MOVES_COLOUR)
    return StepFlows(nodes=nodes[list(_NODE_COLUMNS)].astype(_NODE_COLUMNS),
                     links=drawn[list(_LINK_COLUMNS)].astype(_LINK_COLUMNS),
                     journeys=None if hidden[-1] else total, depth=depth)


def step_table(flows: StepFlows) -> pd.DataFrame:
    """The table view and CSV of a StepFlows: one row per link, counts as text ("c" where hidden)."""
    nodes = flows.nodes.set_index("node")
    src, dst = nodes.reindex(flows.links["source"]), nodes.reindex(flows.links["target"])
    return pd.DataFrame({
        "step": src["step"].to_numpy(), "from_stage": src["stage"].to_numpy(), "from_label": src["label"].to_numpy(),
        "to_stage": dst["stage"].to_numpy(), "to_label": dst["label"].to_numpy(),
        "count": flows.links["display"].to_numpy(),
    }).astype({"step": np.int64, "from_stage": "str", "from_label": "str", "to_stage": "str", "to_label": "str",
               "count": "str"})
