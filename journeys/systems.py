"""Published tables as one system of entries and additive lines, for auditing tables that share counts."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from journeys.audit import Line
from journeys.suppress import SuppressedTable


class TableSystem:
    """Entries (true values, hidden or not) and lines of several published tables, for `audit.audit_hidden`."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.hidden: list[bool] = []
        self.lines: list[Line] = []

    def add(self, values: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        """New entries; returns their numbers."""
        first = len(self.values)
        self.values += np.asarray(values, dtype=float).ravel().tolist()
        self.hidden += np.asarray(hidden, dtype=bool).ravel().tolist()
        return np.arange(first, len(self.values))

    def add_table(self, counts: pd.DataFrame, table: SuppressedTable | np.ndarray) -> tuple[dict[str, int], dict[str, int]]:
        """A two-way table (cells row by row, row totals, column totals, grand total) with its lines; `table`
        says what is hidden (a SuppressedTable, or its hidden entries in that order).

        Returns its row and column total entries by label.
        """
        grid = counts.to_numpy(dtype=float)
        n_rows, n_cols = grid.shape
        hidden = table if isinstance(table, np.ndarray) else table.hidden_entries()
        entries = self.add(np.concatenate([grid.ravel(), grid.sum(axis=1), grid.sum(axis=0), [grid.sum()]]), hidden)
        cells = entries[: n_rows * n_cols].reshape(n_rows, n_cols)
        rows, columns = entries[n_rows * n_cols: n_rows * (n_cols + 1)], entries[n_rows * (n_cols + 1): -1]
        grand = int(entries[-1])
        self.lines += [(cells[i], int(rows[i])) for i in range(len(rows))]
        self.lines += [(cells[:, j], int(columns[j])) for j in range(len(columns))]
        self.lines += [(rows, grand), (columns, grand)]
        return dict(zip(map(str, counts.index), rows.tolist())), dict(zip(map(str, counts.columns), columns.tolist()))

    def same(self, a: int, b: int) -> None:
        """Two entries that are the same number (the same children counted in two tables)."""
        self.lines.append((np.array([a]), b))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.values, dtype=float), np.asarray(self.hidden, dtype=bool)


class LineIndex:
    """Which lines each entry sits in, and each line's entries, built once for a search's many partner choices."""

    def __init__(self, lines: list[Line], size: int) -> None:
        self.entries = [[*members.tolist(), int(total)] for members, total in lines]
        self.lines_of: list[list[int]] = [[] for _ in range(size)]
        for number, entries in enumerate(self.entries):
            for entry in entries:
                self.lines_of[entry].append(number)

    def near(self, reach: set[int]) -> set[int]:
        """Every entry on a line through one of `reach`."""
        out: set[int] = set()
        for entry in reach:
            for number in self.lines_of[entry]:
                out.update(self.entries[number])
        return out


def nearby_partners(entry: int, index: LineIndex, values: np.ndarray, hidden: np.ndarray, allowed: np.ndarray,
                    count: int = 1, anywhere: bool = True, rank: Mapping[int, int] | None = None) -> list[int]:
    """Up to `count` published non-zero allowed entries near a failing `entry`, the least costly first.

    Near: on a line through it, else one line further, up to four lines away; then (if `anywhere`)
    any allowed entry. Cost: `rank` (entries not in it rank 0; a total readers need ranks higher
    than a cell), then the smaller value; ties go to the lower entry number, so the choice is
    always the same.
    """
    permitted = set(allowed[~hidden[allowed] & (values[allowed] > 0)].tolist())
    ranks = rank or {}

    def cost(m: int) -> tuple[int, float, int]:
        return ranks.get(m, 0), float(values[m]), m

    reach, seen = {entry}, set[int]()
    for _ in range(4):
        near = index.near(reach) - seen
        candidates = sorted(permitted & near, key=cost)
        if candidates:
            return candidates[:count]
        seen |= reach
        reach = near | reach
    return sorted(permitted, key=cost)[:count] if anywhere else []


def bound_partners(bound: Collection[int], lines: list[Line], values: np.ndarray, hidden: np.ndarray,
                   allowed: np.ndarray, count: int = 1, rank: Mapping[int, int] | None = None) -> list[int]:
    """Up to `count` published non-zero allowed members of the lines `bound` (those binding a failing entry's
    least or greatest value: `audit_hidden(binding=...)`), the least costly first as `nearby_partners` ranks them.

    Hiding one loosens a relation that holds the entry in, where a partner merely nearby may not.
    """
    members: set[int] = set()
    for number in bound:
        line_members, total = lines[number]
        members.update(line_members.tolist())
        members.add(int(total))
    permitted = set(allowed[~hidden[allowed] & (values[allowed] > 0)].tolist()) & members
    ranks = rank or {}
    return sorted(permitted, key=lambda m: (ranks.get(m, 0), float(values[m]), m))[:count]


def lone_line_partners(entry: int, index: LineIndex, values: np.ndarray, hidden: np.ndarray, allowed: np.ndarray,
                       helpers: np.ndarray) -> list[int]:
    """A partner for each line on which the failing `entry` is the only hidden entry but for unpublished helpers.

    Such a line (the two halves of at start + entered = at end + left joined through their helper)
    pins the entry or bounds it (entered is at least the flows into the stage from elsewhere), and
    only one of its own members can open it: the smallest published non-zero allowed one, else a 0
    (an entered of 0 bounds the flows into the stage to 0; nothing else can protect them).
    """
    helper = set(helpers.tolist())
    allowed_set = set(allowed[~hidden[allowed]].tolist())
    picks: list[int] = []
    for number in index.lines_of[entry]:
        members = set(index.entries[number])
        for joint in [m for m in members if m in helper]:  # a helper in two lines joins them (through)
            for other in index.lines_of[joint]:
                members.update(index.entries[other])
        members -= helper
        if any(hidden[m] for m in members if m != entry):
            continue
        options = sorted(allowed_set & members, key=lambda m: (values[m] == 0, float(values[m]), m))
        if options and options[0] not in picks:
            picks.append(options[0])
    return picks
