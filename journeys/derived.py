"""Derived figures that follow disclosure control: durations only for groups big enough to hide a child."""

from __future__ import annotations

import numpy as np

from journeys.columns import group_starts

#: DESIGN 6: durations and survival curves only for groups of at least this many.
MIN_GROUP_FOR_DURATIONS = 10
_UNIT_DAYS = {"weeks": 7, "months": 365.25 / 12}


def safe_median_duration(days: np.ndarray, *keys: np.ndarray, unit: str = "weeks",
                         min_group: int = MIN_GROUP_FOR_DURATIONS) -> tuple[list[np.ndarray], np.ndarray]:
    """Median time per group of equal `keys` (one or more), in whole weeks or months, published only for groups of `min_group`
    or more: (each key's value per group, the medians), groups in key order, NaN where a group is too small,
    so one child's time is never shown. One sort, no grouped aggregate: a view asks for it on every filter change.

    >>> groups, median = safe_median_duration(np.array([7, 14, 21] * 4 + [700]), np.array([0] * 12 + [1]))
    >>> groups[0].tolist(), median.tolist()
    ([0, 1], [2.0, nan])
    """
    if unit not in _UNIT_DAYS:
        raise ValueError(f"unit must be one of {', '.join(_UNIT_DAYS)}")
    order = np.lexsort((days, *reversed(keys)))
    days, keys = np.asarray(days, dtype=np.float64)[order], tuple(k[order] for k in keys)
    heads = group_starts(*keys)
    sizes = np.diff(np.append(heads, order.size))
    middle = (days[heads + (sizes - 1) // 2] + days[heads + sizes // 2]) / 2
    return [k[heads] for k in keys], np.where(sizes >= min_group, np.floor(middle / _UNIT_DAYS[unit]), np.nan)
