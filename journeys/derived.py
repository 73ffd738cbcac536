"""Derived figures that follow disclosure control: durations only for groups big enough to hide a child."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: DESIGN 6: durations and survival curves only for groups of at least this many.
MIN_GROUP_FOR_DURATIONS = 10
_UNIT_DAYS = {"weeks": 7, "months": 365.25 / 12}


def safe_median_duration(days: pd.Series, by: pd.Series | list[pd.Series] | None = None, *,
                         unit: str = "weeks", min_group: int = MIN_GROUP_FOR_DURATIONS) -> pd.DataFrame:
    """Median time per group in whole weeks or months, published only for groups of `min_group` or more.

    Returns one row per group with `n` (the group's size, itself still to be suppressed like any
    count) and `median` (NaN where the group is too small), so one child's time is never shown.

    >>> days = pd.Series([7, 14, 21] * 4 + [700])
    >>> groups = pd.Series(["a"] * 12 + ["b"])
    >>> safe_median_duration(days, groups).to_dict("list")
    {'group': ['a', 'b'], 'n': [12, 1], 'median': [2.0, nan]}
    """
    if unit not in _UNIT_DAYS:
        raise ValueError(f"unit must be one of {', '.join(_UNIT_DAYS)}")
    values = pd.to_numeric(days, errors="coerce").astype("float64")
    frame = pd.DataFrame({"days": values.to_numpy()})
    keys = [by] if isinstance(by, pd.Series) else (by or [])
    names = [k.name if k.name is not None else "group" for k in keys]
    for name, key in zip(names, keys):
        frame[name] = key.to_numpy()
    if not names:
        frame["group"], names = "all", ["group"]
    stats = frame.groupby(names, sort=True, dropna=False)["days"].agg(n="count", median="median").reset_index()
    stats["median"] = np.floor(stats["median"] / _UNIT_DAYS[unit]).where(stats["n"] >= min_group)
    stats["n"] = stats["n"].astype("int64")
    return stats
