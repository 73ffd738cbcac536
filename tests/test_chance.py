"""Intervals, the permutation test, Kaplan-Meier and log-rank: against published values and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from journeys.chance import DRAWS, kaplan_meier, log_rank, newcombe, table_test, wilson


def test_wilson_interval_matches_published_values() -> None:
    lower, upper = wilson(np.array([0, 5, 3]), np.array([10, 10, 0]))
    assert lower[:2] == pytest.approx([0.0, 0.2366], abs=1e-4)
    assert upper[:2] == pytest.approx([0.2775, 0.7634], abs=1e-4)
    assert np.isnan(lower[2]) and np.isnan(upper[2])  # no denominator, no interval


def test_newcombe_interval_matches_his_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17, 873-890, example (a): 56/70 - 48/80, method 10
    diff, lower, upper = newcombe(np.array([48]), np.array([80]), np.array([56]), np.array([70]))
    assert diff[0] == pytest.approx(0.2)
    assert (lower[0], upper[0]) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_table_test_statistic_is_pearsons_and_p_is_a_permutation_p() -> None:
    table = np.array([[20, 15, 5], [10, 25, 6]])
    result = table_test(table)
    assert result is not None
    assert result.statistic == pytest.approx(stats.chi2_contingency(table, correction=False).statistic)
    assert result.df == 2
    assert result.p_value == table_test(table).p_value  # the same counts, the same p
    asymptotic = stats.chi2_contingency(table, correction=False).pvalue
    assert result.p_value == pytest.approx(asymptotic, abs=0.01)  # a big enough table: close to chi-squared


def test_table_test_extremes_and_nothing_to_test() -> None:
    same = table_test(np.array([[10, 20, 0], [10, 20, 0]]))
    assert same is not None and same.statistic == pytest.approx(0.0) and same.p_value == 1.0
    apart = table_test(np.array([[60, 0], [0, 60]]))
    assert apart is not None and apart.p_value == pytest.approx(1 / (1 + DRAWS)) and apart.p_text() == "<0.001"
    assert table_test(np.array([[10, 0], [12, 0]])) is None  # one outcome only
    assert table_test(np.array([[0, 0], [3, 4]])) is None  # an empty cohort
    with pytest.raises(ValueError, match="two rows"):
        table_test(np.array([[1, 2], [3, 4], [5, 6]]))


def test_kaplan_meier_by_hand_and_as_scipy() -> None:
    km = kaplan_meier(np.array([1, 2, 2, 3, 4]), np.array([True, True, False, True, False]))
    assert km.times.tolist() == [1, 2, 3]
    assert km.survival == pytest.approx([0.8, 0.6, 0.3])
    assert km.at(np.array([0, 1, 2.5, 9])) == pytest.approx([1.0, 0.8, 0.6, 0.3])
    assert km.at_risk_at(np.array([0, 2, 2.5, 5])).tolist() == [5, 4, 2, 0]
    assert km.left_by(np.array([0, 2, 9])).tolist() == [0, 2, 3]
    assert km.median() == 3
    rng = np.random.default_rng(7)
    days, ended = rng.integers(0, 400, 500).astype(float), rng.random(500) < 0.7
    ours = kaplan_meier(days, ended)
    theirs = stats.ecdf(stats.CensoredData(uncensored=days[ended], right=days[~ended])).sf
    assert ours.survival == pytest.approx(theirs.evaluate(ours.times))


def _hand_log_rank(days: np.ndarray, ended: np.ndarray, group: np.ndarray) -> float:
    """The textbook sums, one event time at a time."""
    observed = expected = variance = 0.0
    for t in np.unique(days[ended]):
        at_risk = [float(((days >= t) & (group == g)).sum()) for g in (0, 1)]
        left = [float(((days == t) & ended & (group == g)).sum()) for g in (0, 1)]
        n, d = sum(at_risk), sum(left)
        observed += left[1]
        expected += d * at_risk[1] / n
        variance += d * at_risk[0] * at_risk[1] * (n - d) / (n * n * (n - 1)) if n > 1 else 0.0
    return (observed - expected) ** 2 / variance


def test_log_rank_as_the_textbook_and_scipy() -> None:
    rng = np.random.default_rng(2)
    days = np.r_[rng.exponential(100, 60), rng.exponential(160, 50)].round()
    ended, group = rng.random(110) < 0.8, np.repeat([0, 1], [60, 50])
    result = log_rank(days, ended, group)
    assert result is not None and result.df == 1
    assert result.statistic == pytest.approx(_hand_log_rank(days, ended, group))
    x = stats.CensoredData(uncensored=days[(group == 0) & ended], right=days[(group == 0) & ~ended])
    y = stats.CensoredData(uncensored=days[(group == 1) & ended], right=days[(group == 1) & ~ended])
    assert result.p_value == pytest.approx(stats.logrank(x, y).pvalue)
    assert log_rank(days, ended, np.zeros(110, dtype=int)) is None  # one group only
    assert log_rank(days, np.zeros(110, dtype=bool), group) is None  # nobody left
