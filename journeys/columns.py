"""Text columns made from codes: taken in Arrow from a few values, so no Python object is made per row."""

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
