"""Columns and codes: text taken in Arrow from a few values, and positions looked up per distinct value, so
that no Python object is made, nor any text hashed, per row more than once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa


def text_column(values: Sequence[str | None], which: np.ndarray, missing: str | None = None,
                extra: str | None = None) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """values[which] as a text column: `missing` where which is -1, `extra` where it is len(values).

    Where every value is missing, an object column of None, as pandas makes from such an array.

    >>> list(text_column(["a", "b"], np.array([1, -1, 0, 2]), missing="?", extra="+"))
    ['b', '?', 'a', '+']
    """
    table = [*values, extra, missing]
    if all(v is None for v in table):
        return np.full(which.size, None, dtype=object)
    taken = pa.array(table, type=pa.large_string()).take(pa.array(np.where(which < 0, len(table) - 1, which)))
    return pd.array(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def group_starts(first: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """Where each run of equal rows begins, in arrays already sorted by these keys: a row begins one where any
    key differs from the row before it.

    >>> group_starts(np.array([1, 1, 2, 2]), np.array([5, 6, 6, 6])).tolist()
    [0, 1, 2]
    """
    changed = np.zeros(first.size, dtype=bool)
    changed[:1] = True
    for key in (first, *more):
        changed[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(changed)


def positions(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Each value's position in `index` (-1 where it is not there or missing), each distinct value looked up
    once: for columns that repeat a few values (file names), 7x quicker than `index.get_indexer(values)`.

    >>> positions(pd.Series(["b.csv", "a.csv", None, "b.csv", "c.csv"]), pd.Index(["a.csv", "b.csv"])).tolist()
    [1, 0, -1, 1, -1]
    """
    codes, distinct = pd.factorize(values)
    return np.append(index.get_indexer(distinct), -1)[codes]  # a missing value's code, -1, takes the last
