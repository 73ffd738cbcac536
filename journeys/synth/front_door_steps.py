"""Step tables of the front-door generator: dicts of int64 columns, and the few vectorised helpers on them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from journeys.synth.cin_paths import Table
from journeys.synth.draw import IntArray

STEP_KEYS = ("case", "child", "kind", "start", "end", "outcome", "source")


def step_table(**cols: npt.ArrayLike) -> Table:
    n = max(len(np.atleast_1d(v)) for v in cols.values())
    out = {k: np.full(n, -1, dtype=np.int64) for k in STEP_KEYS}
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()
    return out


def names_of(codes: IntArray, names: tuple[str, ...] | list[str]) -> npt.NDArray[np.object_]:
    """Integer codes as names, None where negative."""
    out = np.asarray(names, dtype=object)[np.maximum(codes, 0)]
    out[codes < 0] = None
    return out


def concat_steps(tables: list[Table]) -> Table:
    return {k: np.concatenate([t[k] for t in tables]).astype(np.int64) for k in STEP_KEYS}


def take_steps(table: Table, rows: npt.NDArray[np.bool_] | IntArray) -> Table:
    return {k: v[rows] for k, v in table.items()}


def group_starts(group: IntArray) -> npt.NDArray[np.bool_]:
    """True at the first row of each run of equal (sorted) group values."""
    return np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, dtype=bool)


def cummax_by(group: IntArray, values: IntArray) -> IntArray:
    """Running maximum of `values` within each run of equal (sorted) `group` values."""
    if not len(values):
        return values.copy()
    return pd.Series(values).groupby(group, sort=False).cummax().to_numpy(dtype=np.int64)
