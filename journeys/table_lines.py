"""A two-way table's additive relations (lines), and the line heuristic that picks partners for hidden entries.

The search in journeys.suppress closes lines with this heuristic and asks an LP audit what is
still given away; audits of one table alone use its lines too.
"""

from __future__ import annotations

import numpy as np

from journeys.audit import Line as _Line


class TableLines:
    """The additive relations (lines) of a table with margins, and the choice of partners along them.

    Entries are numbered: cells row by row, then row totals, column totals and the grand total.
    A line is (members, total) with sum(members) == total: each row, each column, the row totals
    and the column totals.
    """

    def __init__(self, values: np.ndarray, n_rows: int, n_cols: int, threshold: int, kept: np.ndarray) -> None:
        self.values, self.threshold, self.size, self.kept = values, threshold, n_rows * n_cols, kept
        size, grand = self.size, values.size - 1
        grid = np.arange(size).reshape(n_rows, n_cols)
        self.lines: list[_Line] = [(grid[i], size + i) for i in range(n_rows)]
        self.lines += [(grid[:, j], size + n_rows + j) for j in range(n_cols)]
        self.lines += [(np.arange(size, size + n_rows), grand), (np.arange(size + n_rows, grand), grand)]
        self.lines_of: list[list[int]] = [[] for _ in range(values.size)]
        for number, (members, total) in enumerate(self.lines):
            for entry in [*members.tolist(), total]:
                self.lines_of[entry].append(number)

    def close(self, hidden: np.ndarray) -> None:
        """Heuristic: hide partners in every line that gives a hidden entry away, until none does.

        A line gives one away when it hides exactly one entry, or when its total is published and
        its hidden members add up to at most threshold. The partner is the best non-zero published
        member, else the line's total.
        """
        changed = True
        while changed:
            changed = False
            for number, (members, total) in enumerate(self.lines):
                while True:
                    shut = members[hidden[members]]
                    count = shut.size + int(hidden[total])
                    safe_sum = hidden[total] or self.values[shut].sum() > self.threshold
                    if count == 0 or (count > 1 and safe_sum):
                        break
                    pick = self.best(members.tolist(), hidden, skip=number)
                    if pick is None and not hidden[total] and not self.kept[total] and self.values[total] > 0:
                        pick = total
                    if pick is None:
                        break
                    hidden[pick] = changed = True

    def best(self, entries: list[int], hidden: np.ndarray, skip: int = -1, kept_too: bool = False) -> int | None:
        """The non-zero published entry to hide; prefer one that opens no new line, then the smallest.

        A new line (one with nothing hidden yet) would need a partner of its own; ties go to the
        first entry, which keeps the result deterministic. Kept (fixed published) entries only if kept_too.
        """

        def opens(entry: int) -> bool:
            return any(
                not hidden[self.lines[n][0]].any() and not hidden[self.lines[n][1]]
                for n in self.lines_of[entry]
                if n != skip
            )

        keys = [(opens(e), int(self.values[e]), e) for e in entries
                if not hidden[e] and self.values[e] > 0 and (kept_too or not self.kept[e])]
        return min(keys)[2] if keys else None

    def partner_for(self, entry: int, hidden: np.ndarray, kept_last: bool = True) -> int | None:
        """The entry to hide for a failing one: a cell in its lines, else a margin there, else anywhere; a kept
        margin last (None instead, unless `kept_last`)."""
        near = sorted({int(m) for n in self.lines_of[entry] for m in [*self.lines[n][0], self.lines[n][1]]})
        cells_near = [e for e in near if e < self.size]
        for group in (cells_near, near, range(self.size), range(self.values.size)):
            pick = self.best(list(group), hidden)
            if pick is not None:
                return pick
        if not kept_last:
            return None
        pick = self.best(list(range(self.values.size)), hidden, kept_too=True)  # the fixed margins must give way
        if pick is not None:
            return pick
        raise AssertionError("unreachable: audit_hidden passes everything once only zeros are published")
