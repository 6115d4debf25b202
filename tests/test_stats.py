"""The Monte Carlo intervals (hciplan/simulator/stats.py): known values, exact ranks, and coverage in repeated experiments."""

from __future__ import annotations

import math
import random

import pytest

from hciplan.simulator import stats
from hciplan.simulator.stats import (
    coverage,
    fewest_bounding_runs,
    half_width,
    mean_interval,
    order_statistic_ranks,
    percentile_interval,
    runs_for_percentile,
    runs_for_share,
    wilson,
)


# --- Wilson --------------------------------------------------------------------------------------


@pytest.mark.parametrize("successes, trials, low, high", [
    (50, 100, 0.4038, 0.5962),  # the textbook value
    (1, 10, 0.0179, 0.4042),
    (0, 10, 0.0, 0.2775),  # z^2 / (n + z^2): not [0, 0], as the normal interval would have it
    (10, 10, 0.7225, 1.0),
    (0, 1000, 0.0, 0.0038),
    (1000, 1000, 0.9962, 1.0),
])
def test_wilson_known_values(successes, trials, low, high):
    got = wilson(successes, trials)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_ends_are_exact_at_none_and_all():
    assert wilson(0, 7)[0] == 0.0 and wilson(7, 7)[1] == 1.0
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_wilson_covers_a_known_share_in_about_95_percent_of_experiments():
    rng = random.Random(20261205)
    p, n, experiments = 0.3, 200, 2000
    hits = 0
    for _ in range(experiments):
        low, high = wilson(sum(rng.random() < p for _ in range(n)), n)
        hits += low <= p <= high
    assert abs(hits / experiments - 0.95) < 0.02  # Wilson's coverage hovers around the nominal level


# --- order statistics ----------------------------------------------------------------------------


def exact_cdf(n: int, q: float, k: int) -> float:
    return math.fsum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1)) if k >= 0 else 0.0


def test_the_median_of_100_runs_is_bracketed_by_runs_40_and_61():
    assert order_statistic_ranks(100, 0.5) == (40, 61)  # the classic table value, coverage 96.5%
    assert coverage(100, 0.5, (40, 61)) == pytest.approx(0.9648, abs=1e-4)


@pytest.mark.parametrize("n", [2, 5, 9, 20, 35, 36, 60, 137])
@pytest.mark.parametrize("q", [0.5, 0.8, 0.9, 0.95])
def test_ranks_are_the_tightest_that_keep_each_tail_at_most_2_5_percent(n, q):
    """Against the binomial CDF summed directly (math.comb): the log-space bulk sum loses nothing."""
    low, high = order_statistic_ranks(n, q)
    tail = 0.025
    if low is None:
        assert exact_cdf(n, q, 0) > tail
    else:
        assert exact_cdf(n, q, low - 1) <= tail and (low == n or exact_cdf(n, q, low) > tail)
    if high is None:
        assert 1 - exact_cdf(n, q, n - 1) > tail
    else:
        assert 1 - exact_cdf(n, q, high - 1) <= tail and (high == 1 or 1 - exact_cdf(n, q, high - 2) > tail)
    if low is not None and high is not None:
        assert coverage(n, q, (low, high)) >= 0.95 - 1e-12


def test_a_million_runs_agree_with_the_normal_approximation():
    n, q = 10**6, 0.9
    low, high = order_statistic_ranks(n, q)
    sd = math.sqrt(n * q * (1 - q))
    assert abs(low - (n * q - 1.96 * sd)) < 3 and abs(high - (n * q + 1.96 * sd + 1)) < 3


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95])
def test_the_bulk_sum_of_large_series_gives_the_ranks_of_the_full_sum(monkeypatch, q):
    n = stats.EXACT_RUNS + 1
    bulk = order_statistic_ranks(n, q)
    monkeypatch.setattr(stats, "EXACT_RUNS", 10**9)
    assert order_statistic_ranks(n, q) == bulk


def test_too_few_runs_leave_a_side_unbounded():
    assert fewest_bounding_runs(0.9) == 36  # 0.9^35 = 0.0250 > 0.025
    assert order_statistic_ranks(35, 0.9)[1] is None and order_statistic_ranks(36, 0.9) == (29, 36)
    assert percentile_interval([4.0], 0.5) == (None, None)
    assert percentile_interval([], 0.9) == (None, None)
    assert half_width(3.0, (2.0, None)) == math.inf


@pytest.mark.parametrize("q", [0.5, 0.9])
def test_the_interval_contains_the_true_quantile_in_about_95_percent_of_experiments(q):
    """Exponential samples (true q-quantile -ln(1 - q)), 2000 seeded experiments: the hit rate is the exact coverage."""
    rng = random.Random(7 + int(q * 100))
    n, experiments = 150, 2000
    truth = -math.log(1 - q)
    hits = 0
    for _ in range(experiments):
        sample = sorted(rng.expovariate(1.0) for _ in range(n))
        low, high = percentile_interval(sample, q)
        hits += low <= truth <= high
    expected = coverage(n, q, order_statistic_ranks(n, q))
    assert 0.95 <= expected < 0.975
    assert abs(hits / experiments - expected) < 4 * math.sqrt(expected * (1 - expected) / experiments)


# --- means and the runs a target needs ----------------------------------------------------------


def test_mean_interval():
    assert mean_interval([5.0, 5.0, 5.0]) == (5.0, 5.0)
    low, high = mean_interval([1.0, 2.0, 3.0, 4.0])
    assert (low + high) / 2 == pytest.approx(2.5) and (high - low) / 2 == pytest.approx(1.96 * 1.2910 / 2, abs=1e-3)
    assert mean_interval([1.0]) == (None, None)


def test_runs_for_share_is_the_fewest_that_meet_the_target():
    n = runs_for_share(0.5, 0.005)
    assert abs(n - 1.96**2 * 0.25 / 0.005**2) < 0.01 * n  # the textbook sample size, about 38,400
    for share in (0.5, 0.815, 0.0, 1.0):
        n = runs_for_share(share, 0.005)
        fits = lambda runs: half_width(round(share * runs) / runs, wilson(round(share * runs), runs)) <= 0.005  # noqa: E731
        assert fits(n) and not fits(n - 1), share


def test_runs_for_percentile_scales_with_the_square_of_the_width():
    assert runs_for_percentile(1000, 0.9, 100.0, (96.0, 104.0), 1.0) == 16000
    assert runs_for_percentile(1000, 0.9, 100.0, (99.5, 100.5), 1.0) == 1000  # already met
    assert runs_for_percentile(20, 0.9, 100.0, (90.0, None), 1.0) == 40  # unbounded: at least double, at least 36
