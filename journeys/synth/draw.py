"""Vectorised random and date helpers for the synthetic generator (days are int64 since 1970-01-01)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
EPOCH = dt.date(1970, 1, 1)


def day_of(date: dt.date) -> int:
    """Days since 1970-01-01.

    >>> day_of(dt.date(1970, 1, 31))
    30
    """
    return (date - EPOCH).days


def draw_rows(rng: np.random.Generator, weights: npt.ArrayLike, ctx: npt.ArrayLike) -> IntArray:
    """One column index per element of `ctx`, drawn with the weights in row `weights[ctx]`.

    One searchsorted over the rows laid end to end (row k spans (k, k+1]) instead of a loop per row.
    """
    table = np.asarray(weights, dtype=np.float64)
    if table.ndim == 1:
        table = table[None, :]
    rows = np.asarray(ctx, dtype=np.int64)
    cum = np.cumsum(table, axis=1)
    cum = cum / cum[:, -1:]
    flat = (np.arange(len(table), dtype=np.float64)[:, None] + cum).ravel()
    idx = np.searchsorted(flat, rows + rng.random(len(rows)), side="right")
    return (idx - rows * table.shape[1]).astype(np.int64)


def member(values: npt.ArrayLike, codes: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """np.isin for small non-negative integer codes, by table lookup (negative values are never in)."""
    v = np.asarray(values, dtype=np.int64)
    c = np.asarray(codes, dtype=np.int64)
    size = int(max(v.max(initial=0), c.max(initial=0))) + 2
    table = np.zeros(size, dtype=bool)
    table[c] = True
    return table[np.where(v < 0, size - 1, v)]


def draw(rng: np.random.Generator, weights: npt.ArrayLike, n: int) -> IntArray:
    """n indices drawn with one row of weights."""
    return draw_rows(rng, weights, np.zeros(n, dtype=np.int64))


def lognormal_days(rng: np.random.Generator, median: float, sigma: float, n: int) -> FloatArray:
    """Durations in days around a median (log-normal)."""
    return np.asarray(median * np.exp(sigma * rng.standard_normal(n)), dtype=np.float64)


def add_years(days: npt.ArrayLike, years: int) -> IntArray:
    """The same calendar day `years` later (29 February becomes 1 March), as days.

    Computed once per distinct day in the range and looked up, as calendar arithmetic is slow.
    """
    values = np.asarray(days, dtype=np.int64)
    if values.size == 0:
        return values.copy()
    lo = int(values.min())
    d = np.arange(lo, int(values.max()) + 1, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    offset = d - month.astype("datetime64[D]")
    moved = (month + np.timedelta64(12 * years, "M")).astype("datetime64[D]") + offset
    return moved.astype(np.int64)[values - lo]


def entry_day_weights(first: int, last: int) -> FloatArray:
    """Relative chance of a care episode starting on each day first..last.

    Fewer starts at weekends, in August and between Christmas and New Year, and a dip in the spring
    2020 lockdown; a slight upward trend.
    """
    days = np.arange(first, last + 1, dtype=np.int64).astype("datetime64[D]")
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday
    w = np.ones(len(days))
    w[weekday == 5] = 0.55
    w[weekday == 6] = 0.45
    w[month == 8] *= 0.82
    w[(month == 12) & (mday >= 20)] *= 0.5
    w[(month == 1) & (mday <= 2)] *= 0.5
    covid = (days >= np.datetime64("2020-03-23")) & (days <= np.datetime64("2020-06-30"))
    w[covid] *= 0.8
    w *= 1.0 + 0.01 * (np.arange(len(days)) / 365.25)
    return w


def draw_days(rng: np.random.Generator, first: int, weights: FloatArray, n: int) -> IntArray:
    """n days drawn from per-day weights starting at day `first`."""
    cum = np.cumsum(weights)
    return first + np.searchsorted(cum, rng.random(n) * cum[-1], side="right").astype(np.int64)
