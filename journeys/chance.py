"""Is a difference bigger than chance? Intervals for shares, tests of two cohorts, survival with censoring.

Pure numpy over counts or durations, no child-level output: callers decide what is publishable
(DESIGN 6: a share, interval or p-value only where its counts are published; survival only for groups
of at least 10, in whole weeks or months, never a step that shows one child).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

Z95: float = float(stats.norm.ppf(0.975))  # 1.95996...: two-sided 95%
DRAWS: int = 9_999  # random tables for the permutation p-value: p is known to about +-0.004 near 0.05
SEED: int = 20_240_401  # fixed, so the same counts always give the same p-value


def wilson(count: np.ndarray, total: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for count / total (NaN where total is 0 or either is NaN).

    Unlike the textbook p +- z*se it stays inside [0, 1] and keeps its coverage for shares near 0 or 1,
    which small cohorts and rare outcomes produce.
    """
    k, n = np.asarray(count, dtype="float64"), np.asarray(total, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    bad = ~(n > 0)
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


def newcombe(count_a: np.ndarray, total_a: np.ndarray, count_b: np.ndarray, total_b: np.ndarray,
             z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The difference of shares b - a with Newcombe's hybrid score interval (his method 10).

    It combines the two Wilson intervals, so it behaves where a share is 0 or 1; returns the
    difference, its lower and its upper bound.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.asarray(count_a, dtype="float64") / np.asarray(total_a, dtype="float64")
        pb = np.asarray(count_b, dtype="float64") / np.asarray(total_b, dtype="float64")
    la, ua = wilson(count_a, total_a, z)
    lb, ub = wilson(count_b, total_b, z)
    diff = pb - pa
    lower = diff - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    upper = diff + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return diff, lower, upper


@dataclass(frozen=True)
class ChanceTest:
    """A test of whether two cohorts differ by more than chance would make them."""

    method: str  # what was tested, in words a report can print
    statistic: float
    df: int
    p_value: float  # the permutation p-value for tables, the chi-squared one for survival

    def p_text(self) -> str:
        """The p-value as published: three decimals, or "<0.001"."""
        return "<0.001" if self.p_value < 0.0005 else f"{self.p_value:.3f}"


def _chi_squared(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Pearson's X^2 over the last two axes (cells with expected 0 add nothing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0)
    return terms.sum(axis=(-2, -1))


def table_test(table: np.ndarray, draws: int = DRAWS, seed: int = SEED) -> ChanceTest | None:
    """Pearson's chi-squared test of a 2 x K table (two cohorts by K outcomes), p-value by permutation.

    Shuffling which cohort each child belongs to keeps both margins, so cohort a's row of a random
    table is a multivariate hypergeometric draw from the column totals: `draws` of them give the
    p-value (1 + draws at least as extreme) / (1 + draws), valid however small the expected counts
    (the chi-squared approximation is not, and small councils have many). None when there is
    nothing to test: a cohort or every outcome but one empty.
    """
    observed = np.asarray(table, dtype=np.int64)
    if observed.ndim != 2 or observed.shape[0] != 2:
        raise ValueError(f"table_test needs two rows (the two cohorts), got shape {observed.shape}")
    observed = observed[:, observed.sum(axis=0) > 0]
    rows, columns = observed.sum(axis=1), observed.sum(axis=0)
    if observed.shape[1] < 2 or (rows == 0).any():
        return None
    expected = np.outer(rows, columns) / rows.sum()
    statistic = float(_chi_squared(observed, expected))
    first = np.random.default_rng(seed).multivariate_hypergeometric(columns, int(rows[0]), size=draws)
    random_tables = np.stack([first, columns - first], axis=1)
    extreme = int((_chi_squared(random_tables, expected) >= statistic - 1e-9).sum())
    return ChanceTest(method="chi-squared test of the two cohorts' shares, p-value by permutation",
                      statistic=statistic, df=observed.shape[1] - 1, p_value=(1 + extreme) / (1 + draws))


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier estimate of one group: the share still in the stage after each time someone left."""

    durations: np.ndarray  # every child's time in the stage (days), ascending
    times: np.ndarray  # distinct times (days) at which someone left, ascending
    events: np.ndarray  # children leaving at each of those times
    survival: np.ndarray  # S(t) just after each of those times

    @property
    def size(self) -> int:
        """Children in the group."""
        return int(self.durations.size)

    def at(self, moments: np.ndarray) -> np.ndarray:
        """S at each moment (days): 1 before anyone leaves."""
        where = np.searchsorted(self.times, np.asarray(moments, dtype="float64"), side="right") - 1
        return np.where(where >= 0, self.survival[np.maximum(where, 0)] if self.times.size else 1.0, 1.0)

    def at_risk_at(self, moments: np.ndarray) -> np.ndarray:
        """Children still in the stage and followed at each moment (days): their time is at least that."""
        return self.size - np.searchsorted(self.durations, np.asarray(moments, dtype="float64"), side="left")

    def left_by(self, moments: np.ndarray) -> np.ndarray:
        """Children who left at or before each moment (days)."""
        done = np.concatenate([[0], np.cumsum(self.events)])
        return done[np.searchsorted(self.times, np.asarray(moments, dtype="float64"), side="right")]

    def median(self) -> float:
        """The first time S falls to one half or below (NaN if it never does)."""
        below = np.flatnonzero(self.survival <= 0.5)
        return float(self.times[below[0]]) if below.size else float("nan")


def kaplan_meier(days: np.ndarray, ended: np.ndarray) -> Survival:
    """The Kaplan-Meier curve of times `days` where `ended` says the stay ended (else censored there).

    A stay censored at t counts as at risk at t (the usual convention: censoring after events).
    """
    days, ended = np.asarray(days, dtype="float64"), np.asarray(ended, dtype=bool)
    order = np.argsort(days, kind="stable")
    days, left = days[order], days[order][ended[order]]
    times = np.unique(left)
    events = np.searchsorted(left, times, side="right") - np.searchsorted(left, times, side="left")
    at_risk = days.size - np.searchsorted(days, times, side="left")
    survival = np.cumprod(1.0 - events / at_risk) if times.size else np.empty(0)
    return Survival(durations=days, times=times, events=events, survival=survival)


def log_rank(days: np.ndarray, ended: np.ndarray, group: np.ndarray) -> ChanceTest | None:
    """The log-rank test of two groups' times (group 0 or 1): do they leave the stage at different rates?

    None where a group is empty or nobody leaves.
    """
    days, ended, group = (np.asarray(days, dtype="float64"), np.asarray(ended, dtype=bool),
                          np.asarray(group, dtype=np.int64))
    if not ((group == 0).any() and (group == 1).any()) or not ended.any():
        return None
    times = np.unique(days[ended])
    at_risk = np.stack([(group == g).sum() - np.searchsorted(np.sort(days[group == g]), times, side="left")
                        for g in (0, 1)])
    events = np.stack([np.bincount(np.searchsorted(times, days[ended & (group == g)]), minlength=times.size)
                       for g in (0, 1)])
    n, d = at_risk.sum(axis=0), events.sum(axis=0)
    expected_1 = d * at_risk[1] / n
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(n > 1, d * (at_risk[0] / n) * (at_risk[1] / n) * (n - d) / (n - 1), 0.0)
    if variance.sum() <= 0:
        return None
    statistic = float((events[1].sum() - expected_1.sum()) ** 2 / variance.sum())
    return ChanceTest(method="log-rank test of how long children stay", statistic=statistic, df=1,
                      p_value=float(stats.chi2.sf(statistic, 1)))
