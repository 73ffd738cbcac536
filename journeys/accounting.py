"""Row accounting: every input row ends up used, superseded, ignored or quarantined, and the counts add up."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

BUCKETS = ("used", "superseded", "ignored", "quarantined")
_USED, _SUPERSEDED, _IGNORED, _QUARANTINED = range(4)


@dataclass
class RowLedger:
    """One entry per input row, addressed by a global row id; the first decision about a row wins."""

    tables: list[tuple[str, str, int, int]] = field(default_factory=list)  # (file, table, first id, rows)
    bucket: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    reason: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def add_table(self, file: str, table: str, rows: int) -> np.ndarray:
        """Register a table's rows; returns their global row ids."""
        first = len(self.bucket)
        self.tables.append((file, table, first, rows))
        self.bucket = np.concatenate([self.bucket, np.zeros(rows, dtype=np.int8)])
        self.reason = np.concatenate([self.reason, np.full(rows, None, dtype=object)])
        return np.arange(first, first + rows, dtype=np.int64)

    def _mark(self, row_ids: np.ndarray | pd.Series, bucket: int, reason: str | np.ndarray | pd.Series) -> None:
        ids = np.asarray(row_ids, dtype=np.int64)
        reasons = np.asarray(reason, dtype=object) if not isinstance(reason, str) else np.full(len(ids), reason,
                                                                                                dtype=object)
        fresh = self.bucket[ids] == _USED
        ids, reasons = ids[fresh], reasons[fresh]
        # a row id may appear twice in one call; the first occurrence wins
        ids, first = np.unique(ids, return_index=True)
        self.bucket[ids] = bucket
        self.reason[ids] = reasons[first]

    def supersede(self, row_ids: np.ndarray | pd.Series) -> None:
        """Rows replaced by the same episode in a later return."""
        self._mark(row_ids, _SUPERSEDED, "later-return")

    def ignore(self, row_ids: np.ndarray | pd.Series, rule: str | np.ndarray | pd.Series) -> None:
        """Rows left out by a config rule (reason = the rule's label)."""
        self._mark(row_ids, _IGNORED, rule)

    def quarantine(self, row_ids: np.ndarray | pd.Series, code: str | np.ndarray | pd.Series) -> None:
        """Rows that cannot be used (reason = the issue code)."""
        self._mark(row_ids, _QUARANTINED, code)

    def frame(self) -> pd.DataFrame:
        """Row id, file, table, bucket and reason for every row."""
        files = np.empty(len(self.bucket), dtype=object)
        tables = np.empty(len(self.bucket), dtype=object)
        for file, table, first, rows in self.tables:
            files[first:first + rows] = file
            tables[first:first + rows] = table
        return pd.DataFrame({"file": files, "table": tables,
                             "bucket": pd.Categorical.from_codes(self.bucket, BUCKETS),
                             "reason": self.reason})

    def counts(self) -> dict[str, object]:
        """The report's accounting keys, overall and per input file and table (from the arrays: a frame of
        every row cost more than the counting)."""
        out: dict[str, object] = {"rows_read": int(len(self.bucket))}
        for i, name in enumerate(BUCKETS):
            out[f"rows_{name}"] = int((self.bucket == i).sum())
        out["ignored_by_rule"] = self._reason_counts(slice(None), _IGNORED)
        out["quarantined_by_reason"] = self._reason_counts(slice(None), _QUARANTINED)
        inputs = []
        for file, table, first, rows in self.tables:
            part = slice(first, first + rows)
            entry: dict[str, object] = {"file": file, "table": table, "rows_read": rows}
            for i, name in enumerate(BUCKETS):
                entry[f"rows_{name}"] = int((self.bucket[part] == i).sum())
            entry["ignored_by_rule"] = self._reason_counts(part, _IGNORED)
            entry["quarantined_by_reason"] = self._reason_counts(part, _QUARANTINED)
            inputs.append(entry)
        out["inputs"] = inputs
        return out

    def _reason_counts(self, rows: slice, bucket: int) -> dict[str, int]:
        """How many of these rows are in the bucket, by reason (sorted by reason)."""
        reasons = self.reason[rows][self.bucket[rows] == bucket]
        return {str(k): int(v) for k, v in pd.Series(reasons, dtype=object).value_counts().sort_index().items()}
