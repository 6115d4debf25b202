"""Monte Carlo uncertainty: the 95% intervals `hciplan simulate` prints beside its estimates, and how many runs they need.

A simulation of N runs estimates shares (P(within window), the outcome
shares) and percentiles (P50 .. P95 of the duration) with an error that only
more runs reduce. Every interval here is about that error, the error of the
*simulation*, not about the models' own assumptions (which the header names).

- **Shares**: the Wilson score interval, which stays inside [0, 1] and is
  not degenerate at 0 of N or N of N (the normal "p +- z sqrt(p(1-p)/N)" is
  [0, 0] there, as if 0 of 1000 proved a zero chance).
- **Percentiles**: an exact, distribution-free order-statistic interval. The
  number of runs at or below the true q-quantile is Binomial(N, q), so the
  runs of ranks l and u bracket it with a probability computed from the
  binomial CDF. Its terms are computed in log space (lgamma): every term up
  to 20,000 runs; above, only the bulk within 12 standard deviations of the
  mean (the mass left out is below 1e-26 for quantiles up to 0.99, measured),
  so a million runs cost a few thousand terms. l and u are chosen
  equal-tailed (at most 2.5% on each side), so the interval holds the true
  value with at least 95% probability (for durations, which have no ties;
  ties only widen it). No normal approximation is involved.
  When the runs are too few to bound a side at that level (the P90 of fewer
  than 36 runs has no 95% upper bound among them), that side is None: the
  true value may lie beyond every run.
- **Means**: the normal approximation (central limit theorem), mean
  +- z s / sqrt(N); None below two runs.

Everything is a pure function of sorted samples and counts: the same runs
give the same intervals, whatever process computed them.
"""

from __future__ import annotations

import bisect
import math
from statistics import NormalDist

CONFIDENCE = 0.95  # of every interval the report prints (a convention; not the window rule's --confidence)

Interval = tuple[float | None, float | None]  # (low, high); None: the runs cannot bound that side
EXACT_RUNS = 20_000  # up to this many runs, every binomial term is summed


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of a share `successes / trials` (None without trials)."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes in {trials} trials")
    z = _z(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials))
    # The exact ends: the formula's rounding must not move 0 of N above 0 or N of N below 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


class _BinomialCdf:
    """P(B <= k) for B ~ Binomial(n, q): the terms summed in log space (lgamma).

    Every term up to EXACT_RUNS; above, the bulk only: below it the CDF is taken
    as 0, above it as 1 (the mass left out is below 1e-26; skewed small samples,
    where 12 standard deviations leave out up to 1e-15, are summed in full).
    """

    def __init__(self, n: int, q: float):
        mean, sd = n * q, math.sqrt(n * q * (1 - q))
        bulk = n > EXACT_RUNS
        self.first = max(0, math.floor(mean - 12 * sd) - 1) if bulk else 0
        self.last = min(n, math.ceil(mean + 12 * sd) + 1) if bulk else n
        log_q, log_p, log_n = math.log(q), math.log1p(-q), math.lgamma(n + 1)
        self.values: list[float] = []
        total = 0.0
        for k in range(self.first, self.last + 1):
            total += math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_q + (n - k) * log_p)
            self.values.append(min(total, 1.0))

    def __call__(self, k: int) -> float:
        if k < self.first:
            return 0.0
        if k > self.last:
            return 1.0
        return self.values[k - self.first]


def order_statistic_ranks(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int | None, int | None]:
    """The 1-based ranks (l, u) whose runs bracket the true q-quantile with at least `confidence`.

    With B ~ Binomial(n, q) the number of runs at or below the q-quantile,
    P(run l lies above it) = P(B <= l - 1) and P(run u lies below it) =
    P(B >= u). l is the largest rank with the first at most (1 - confidence) / 2,
    u the smallest with the second at most that; None where no rank qualifies.
    """
    if n <= 0:
        return None, None
    if not 0 < q < 1:
        raise ValueError(f"quantile {q} is not strictly between 0 and 1")
    tail = (1 - confidence) / 2
    cdf = _BinomialCdf(n, q)
    # With k = rank - 1 (0 .. n - 1) and the CDF nondecreasing in k: the largest k with F(k) <= tail and
    # the smallest with F(k) >= 1 - tail, by bisection over the computed values (0 below them, 1 above).
    below = cdf.first + bisect.bisect_right(cdf.values, tail) - 1
    low = below + 1 if below >= 0 else None
    above = cdf.first + bisect.bisect_left(cdf.values, 1 - tail)
    high = above + 1 if above <= n - 1 else None
    return low, high


def coverage(n: int, q: float, ranks: tuple[int | None, int | None]) -> float:
    """The probability that the runs of `ranks` bracket the true q-quantile (a continuous distribution)."""
    low, high = ranks
    cdf = _BinomialCdf(n, q)
    return (cdf(high - 1) if high is not None else 1.0) - (cdf(low - 1) if low is not None else 0.0)


def percentile_interval(ordered: list[float] | tuple[float, ...], q: float,
                        confidence: float = CONFIDENCE) -> Interval:
    """The order-statistic interval of the q-quantile of an ascending sample (None, None when it is empty)."""
    low, high = order_statistic_ranks(len(ordered), q, confidence)
    return (None if low is None else ordered[low - 1], None if high is None else ordered[high - 1])


def mean_interval(values: list[float] | tuple[float, ...], confidence: float = CONFIDENCE) -> Interval:
    """mean +- z s / sqrt(n) (the normal approximation); (None, None) below two values."""
    n = len(values)
    if n < 2:
        return None, None
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = _z(confidence) * sd / math.sqrt(n)
    return mean - half, mean + half


def half_width(estimate: float, interval: Interval) -> float:
    """The larger distance from the estimate to an end of its interval (inf when a side is unbounded)."""
    low, high = interval
    if low is None or high is None:
        return math.inf
    return max(estimate - low, high - estimate, 0.0)


def runs_for_share(share: float, target: float, confidence: float = CONFIDENCE, limit: int = 10**9) -> int:
    """The fewest runs whose Wilson interval around `share` is within +-`target` of it (the share taken as true).

    The Wilson half-width shrinks as the runs grow, so a binary search finds it; at most `limit`.
    """
    def fine(n: int) -> bool:
        successes = round(share * n)  # the same share at n runs
        interval = wilson(successes, n, confidence)
        return half_width(successes / n, interval) <= target

    low, high = 1, limit
    if not fine(high):
        return limit
    while low < high:
        middle = (low + high) // 2
        if fine(middle):
            high = middle
        else:
            low = middle + 1
    return low


def runs_for_percentile(runs: int, q: float, estimate: float, interval: Interval, target: float,
                        confidence: float = CONFIDENCE) -> int:
    """About how many runs bring the q-quantile's interval within +-`target` (same units as `estimate`).

    An order-statistic interval narrows as 1 / sqrt(runs), so the answer scales
    the present half-width: runs x (half-width / target)^2. An unbounded side
    asks for at least the fewest runs that bound both sides, and at least twice
    as many runs as now.
    """
    width = half_width(estimate, interval)
    if width <= target:
        return runs
    if math.isinf(width):
        return max(2 * runs, fewest_bounding_runs(q, confidence))
    return max(runs + 1, math.ceil(runs * (width / target) ** 2))


def fewest_bounding_runs(q: float, confidence: float = CONFIDENCE) -> int:
    """The fewest runs that give the q-quantile a two-sided interval (both ranks exist)."""
    tail = (1 - confidence) / 2
    # Run 1 bounds the low side once P(B = 0) = (1 - q)^n <= tail, run n the high side once P(B = n) = q^n <= tail.
    return max(math.ceil(math.log(tail) / math.log(q)), math.ceil(math.log(tail) / math.log1p(-q)))
