"""The step tables of a journeys view audited together (journeys.steps' disclosure control): every hidden link,
node total and the journey count must stay uncertain given everything the view publishes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeys.audit import audit_hidden


def audit_step_tables(links: pd.DataFrame, nodes: pd.DataFrame, journeys: int, journeys_hidden: bool,
                   threshold: int) -> np.ndarray:
    """Hide more until every hidden link, total and the journey count stays uncertain across all step tables.

    Entries: links, then node totals, then the number of journeys. Lines: each node's in-links and
    out-links add up to its total; column 0's totals add up to the journeys. Returns the new hidden mask.
    """
    n_links, n_nodes = len(links), len(nodes)
    where = pd.Series(np.arange(n_links, n_links + n_nodes), index=nodes["node"].to_numpy())
    ends = {"in": where.reindex(links["target"].to_numpy()).to_numpy(),
            "out": where.reindex(links["source"].to_numpy()).to_numpy()}
    values = np.concatenate([links["exact"].to_numpy(np.int64), nodes["exact"].to_numpy(np.int64), [journeys]])
    hidden = np.concatenate([links["hidden"].to_numpy(bool), nodes["hidden"].to_numpy(bool), [journeys_hidden]])
    lines: list[tuple[np.ndarray, int]] = [(np.flatnonzero(ends[side] == n), int(n))
                                          for n in where.to_numpy() for side in ("in", "out")]
    lines = [line for line in lines if line[0].size]
    lines.append((where[nodes["step"].to_numpy() == 0].to_numpy(), values.size - 1))
    lines_of: list[list[int]] = [[] for _ in range(values.size)]
    for number, (members, total) in enumerate(lines):  # the graph's nodes and links, not children
        for entry in [*members.tolist(), total]:
            lines_of[entry].append(number)
    passed: set[int] = set()
    stuck, before = 0, -1
    while failing := audit_hidden(values, hidden, lines, threshold, passed, first_only=True):
        stuck = stuck + 1 if failing[0] == before else 0
        before = failing[0]
        hidden[_partners(failing[0], values, hidden, lines, lines_of, n_links, 2 ** max(stuck - 2, 0))] = True
    return hidden


def _partners(entry: int, values: np.ndarray, hidden: np.ndarray, lines: list[tuple[np.ndarray, int]],
              lines_of: list[list[int]], n_links: int, count: int = 1) -> list[int]:
    """The `count` published non-zero entries to hide for a failing one, from the lines around its hidden neighbours.

    Prefer one that opens no new line, then a link over a total, then the smallest; ties by position.
    The caller doubles `count` each time the same entry fails again, so a stubborn entry costs a
    few audits, not one per published entry (a narrow filter took 45 rounds, 250 ms, before).
    """
    todo, seen, near = [entry], {entry}, set()
    while todo:  # the hidden entries linked to this one, and every line they sit in
        for number in lines_of[todo.pop()]:
            if number not in near:
                near.add(number)
                for member in [*lines[number][0].tolist(), lines[number][1]]:
                    if hidden[member] and member not in seen:
                        seen.add(member)
                        todo.append(member)
    pool = {m for n in near for m in [*lines[n][0].tolist(), lines[n][1]] if not hidden[m] and values[m] > 0}
    pool = pool or {int(m) for m in np.flatnonzero(~hidden & (values > 0))}

    def opens(member: int) -> bool:
        return any(not hidden[lines[n][0]].any() and not hidden[lines[n][1]] for n in lines_of[member])

    return sorted(pool, key=lambda m: (opens(m), m >= n_links, int(values[m]), m))[:count]
