"""The distribution of a unit's own duration: its fit time at the plan's confidence, and its mean.

The window rule starts a unit only if its fit time ends inside the window
(compiler/units.py). For "90% confidence" to mean what it says, the fit time is
the q-quantile of the unit's whole duration as the simulator draws it (a
failure-free run), not the sum of its steps' quantiles, which is well above it
(on a CAU node pass, 135.2 min against a true P90 of 124.9 min: about 98%).

The unit's duration, exactly as `simulator/engine.run_draws` makes it: each
step draws its main part (and its extra part: the download), times the run's
shared factors, the night's factor (`run_spread`) times its duration model's
(`kind_spread`), both lognormal of mean 1; a repair wait is
`(overhead + ratio x down) x spread x factors`, where `down` is the drawn
duration of the pass's first reboot plus the offline share of the setup before
it (engine.down_start); the unit ends with its longest path.
Steps of one duration model in a unit share their factor, and every step the
night's, so the steps are correlated exactly as in the simulator.

How, deterministically (fixed seeds: the same figures run to run):

- a single step of one drawn part is `part x F`, F lognormal (the product of
  the two factors): its CDF is the mean, over `STRATA` equiprobable strata of
  the part, of F's lognormal CDF (`Smoothed`), solved for q by Newton's method;
- any other unit is sampled on a Latin hypercube of `SAMPLES` points: each
  random input (a duration model's factor, a step's part) takes each of its
  SAMPLES equiprobable quantiles once, in a fixed pseudo-random order per
  input. The night's factor, which scales every step, is not sampled but
  integrated out exactly point by point (`Smoothed`): far less noise than
  counting points (on the 4-node example's CAU pass, the P90 moves by about
  half a minute between hypercube seeds, against three without it).
  The one case it cannot integrate (parallel steps and a resync in one unit;
  no plan has it) samples the night's factor too.

Checked against the simulator itself (tests/test_unitfit.py): with
`confidence = 0.9`, 90% of started units fit, within sampling error.

Units of the same shape (every CAU pass of a cluster, every BitLocker step)
are computed once per process (`unit_distribution` is cached).
"""

from __future__ import annotations

import functools
import math

try:  # the Mersenne Twister itself (random.Random's base, seeded alike from an int): `random` costs 0.6 ms
    from _random import Random as _Twister  # of every check's start-up; tests/test_unitfit.py holds the sequence
except ImportError:  # an interpreter without CPython's module
    from random import Random as _Twister

from hciplan.compiler.durations import (
    SPREAD, Distribution, Empirical, LogNormal, Scaled, StepDuration, Triangular, factor_mu, inv_normal,
)
from hciplan.records import record

SAMPLES = 512  # points of the Latin hypercube (a quantile's resolution is 1/SAMPLES)
STRATA = 64  # equiprobable strata of a single step's part (its CDF's quadrature)
SEED = 20261205  # of the hypercube's fixed order (any fixed value: the figures must not change run to run)
ROTATION = 397  # a prime: inputs 1, 2, ... get distinct rotations of that order
_inv_normal = inv_normal  # NormalDist().inv_cdf without importing statistics
_SQRT2 = math.sqrt(2.0)


@record
class UnitStep:
    """One step of a unit as the sampler needs it (indices are positions inside the unit, in plan order)."""

    duration: StepDuration
    group: str  # the duration model: steps of one model share its factor in a run
    preds: tuple[int, ...]  # predecessors inside the unit
    down: int | None  # a repair wait: the step whose drawn duration is the node's down time
    lead: int | None  # a repair wait: the setup whose last `share` of its drawn duration has the node down too
    share: float  # that setup's offline share (the plan's offline_share; 0 without a setup)


# The three distributions share `mean` and `quantile(q)`; no common base class, so that `record` (not
# `dataclasses`, which a base class would need: hciplan/records.py) builds them, at a fraction of the import cost.
@record(slots=False)
class Points:
    """Sorted equiprobable points (the Latin hypercube's), each standing for 1/len of probability, centred."""

    points: tuple[float, ...]
    mean: float

    def quantile(self, q: float) -> float:
        """The q-quantile, interpolated between the points' centres ((k + 0.5) / n)."""
        points = self.points
        n = len(points)
        position = min(max(q * n - 0.5, 0.0), n - 1.0)
        k = min(int(position), n - 2)
        return points[k] + (position - k) * (points[k + 1] - points[k])


@record(slots=False)
class Exact:
    """A distribution's own quantiles (one step, no shared factor)."""

    dist: Distribution
    mean: float

    def quantile(self, q: float) -> float:
        return self.dist.quantile(q)


@record(slots=False)
class Smoothed:
    """`A_k n + B_k n^2` for equiprobable points k, at a lognormal night factor n (log-mean mu, log-sd sigma).

    Every duration in a run is proportional to the night's factor, except a repair wait, whose resync
    grows with the down time, itself proportional to it: hence the n^2 term. The factor is integrated
    out exactly, point by point: P(D <= x) = mean_k Phi((ln n_k(x) - mu) / sigma), where n_k(x) solves
    A_k n + B_k n^2 = x. A smooth estimate of the CDF, far less noisy than counting points below x.
    """

    a: tuple[float, ...]
    b: tuple[float, ...]  # () when every B_k is 0
    mu: float
    sigma: float
    mean: float

    @functools.cached_property
    def _log_a(self) -> tuple[float | None, ...]:
        """Each point's log (None for a zero duration): once per distribution, not once per Newton step (the
        same floats: the log of the same number)."""
        log = math.log
        return tuple(log(a) if a > 0 else None for a in self.a)

    def _cdf(self, y: float) -> tuple[float, float]:
        """P(D <= e^y) and its derivative in y."""
        x, mu, scale = math.exp(y), self.mu, 1 / (self.sigma * _SQRT2)
        erf, exp, sqrt, log = math.erf, math.exp, math.sqrt, math.log
        total = slope = 0.0
        if not self.b:
            for log_a in self._log_a:
                if log_a is not None:
                    t = (y - log_a - mu) * scale
                    total += erf(t)
                    slope += exp(-t * t)
                else:  # a zero duration: always inside
                    total += 1.0
        else:
            four_x, two_x = 4 * x, 2 * x
            for a, b in zip(self.a, self.b):
                root = sqrt(a * a + four_x * b)
                n = two_x / (a + root)  # the positive root of a n + b n^2 = x, in its stable form
                t = (log(n) - mu) * scale
                total += erf(t)
                slope += exp(-t * t) * x / (n * root)  # d ln n / d ln x
        count = len(self.a)
        return 0.5 + 0.5 * total / count, slope / (count * self.sigma * math.sqrt(2 * math.pi))

    def quantile(self, q: float) -> float:
        """Solve P(D <= x) = q for y = ln x by Newton's method, kept inside its bracket."""
        sigma, z = self.sigma, _inv_normal(q)
        night = math.exp(self.mu + sigma * z)
        at = [a * night + b * night * night for a, b in zip(self.a, self.b)] if self.b else \
            [a * night for a in self.a]
        positive = [x for x in at if x > 0]
        if not positive:
            return 0.0
        low, high = math.log(min(positive)), math.log(max(positive))  # P(low) <= q <= P(high)
        # start from the lognormal of the same log-mean and log-variance: Newton then needs a few steps
        logs = [math.log(x) for x in positive]
        centre = math.fsum(logs) / len(logs)
        spread = math.fsum([(x - centre) ** 2 for x in logs]) / len(logs)
        y = min(max(centre - sigma * z + z * math.sqrt(spread + sigma * sigma), low), high)
        for _ in range(100):
            p, slope = self._cdf(y)
            if p < q:
                low = y
            else:
                high = y
            step = y - (p - q) / slope if slope > 0 else math.nan
            y_next = step if low < step < high else (low + high) / 2
            done = abs(y_next - y) < 1e-8 or high - low < 1e-8
            y = y_next
            if done:
                break
        return math.exp(y)


UnitDistribution = Points | Exact | Smoothed  # a unit's duration distribution: its q-quantile and its mean


@functools.lru_cache(maxsize=1)
def _grid() -> tuple[list[float], list[float]]:
    """The centred uniform grid (k + 0.5) / SAMPLES and its standard normal quantiles."""
    us = [(k + 0.5) / SAMPLES for k in range(SAMPLES)]
    return us, [_inv_normal(u) for u in us]


@functools.lru_cache(maxsize=1)
def _shuffled() -> list[int]:
    """One fixed pseudo-random order of the grid (an int seed: the same on every platform and Python)."""
    rng = _Twister(SEED)  # random.Random(SEED)'s sequence
    keys = [rng.random() for _ in range(SAMPLES)]
    return sorted(range(SAMPLES), key=keys.__getitem__)


def _order(dimension: int) -> list[int]:
    """The order in which input `dimension` visits its quantiles: dimension 0 in grid order, dimension d the
    fixed shuffled order rotated by d x ROTATION. Two inputs are then paired as in a random matching (a
    rotation of a random order is one), at the cost of a slice, not of a new shuffle per input."""
    if dimension == 0:
        return list(range(SAMPLES))
    shift = dimension * ROTATION % SAMPLES
    order = _shuffled()
    return order[shift:] + order[:shift]


@functools.lru_cache(maxsize=None)
def _quantiles(dist: Distribution) -> list[float]:
    """The distribution's quantiles at the grid, in grid order."""
    us, zs = _grid()
    if isinstance(dist, Triangular) and dist.high > dist.low:
        low, mode, high = dist.low, dist.mode, dist.high
        width, left, right = high - low, mode - low, high - mode
        cut, sqrt = left / width, math.sqrt
        return [low + sqrt(u * width * left) if u < cut else high - sqrt((1 - u) * width * right) for u in us]
    if isinstance(dist, Scaled):
        minutes = dist.minutes
        return [minutes * v for v in _quantiles(dist.spread)]
    if isinstance(dist, LogNormal):
        mu, sigma, exp = dist.mu, dist.sigma, math.exp
        return [exp(mu + sigma * z) for z in zs]
    return [dist.quantile(u) for u in us]


@functools.lru_cache(maxsize=None)
def _factor(mu: float, sigma: float) -> list[float]:
    """A lognormal factor's quantiles at the grid."""
    exp = math.exp
    return [exp(mu + sigma * z) for z in _grid()[1]]


def _input(values: list[float], dimension: int) -> list[float]:
    """One random input of the hypercube: `values` (its quantiles) in the dimension's order."""
    return values if dimension == 0 else [values[k] for k in _order(dimension)]


def _longest(finish: list[list[float]]) -> list[float]:
    return finish[0] if len(finish) == 1 else [max(column) for column in zip(*finish)]


def unit_quantile(steps: tuple[UnitStep, ...], run_spread: float, kind_spread: float, q: float) -> float:
    """The q-quantile of the unit's duration (cached by shape: every pass of a cluster has the same one)."""
    part = _single_part(steps)
    if part is not None:  # one step of one part: only its distribution matters (many steps share one)
        return _single_quantile(part, math.hypot(run_spread, kind_spread), q)
    return _sampled_quantile(steps, run_spread, kind_spread, q)


def _single_part(steps: tuple[UnitStep, ...]) -> Distribution | None:
    d = steps[0].duration
    return d.main if len(steps) == 1 and not d.repair and d.extra is None and d.main is not None else None


@functools.lru_cache(maxsize=4096)
def _single_quantile(dist: Distribution, sigma: float, q: float) -> float:
    return _single(dist, sigma).quantile(q)


@functools.lru_cache(maxsize=4096)
def _sampled_quantile(steps: tuple[UnitStep, ...], run_spread: float, kind_spread: float, q: float) -> float:
    return unit_distribution(steps, run_spread, kind_spread).quantile(q)


@functools.lru_cache(maxsize=256)
def unit_distribution(steps: tuple[UnitStep, ...], run_spread: float, kind_spread: float) -> UnitDistribution:
    """The distribution of a unit's duration (its longest path), failure-free, as the simulator draws it."""
    part = _single_part(steps)
    if part is not None:
        return _single(part, math.hypot(run_spread, kind_spread))
    dimension = iter(range(1 << 30))
    kind = _factor(factor_mu(kind_spread), kind_spread)
    scale: dict[str, list[float]] = {}
    for s in steps:  # the duration model's factor (the night's is integrated out by Smoothed)
        if s.group not in scale:
            scale[s.group] = _input(kind, next(dimension))
    linear: list[list[float]] = []  # per step, its duration at a night factor of 1 (the A part)
    square: list[list[float] | None] = []  # the repair's resync, the part that also grows with the down time
    for s in steps:
        d = s.duration
        if d.repair:
            part = [p * f for p, f in zip(_input(_quantiles(SPREAD), next(dimension)), scale[s.group])]
            linear.append([d.repair_overhead * x for x in part])
            if s.down is None:
                square.append(None)
            else:  # the resync of what was written while the node was down: its reboot, the setup's offline part
                down = linear[s.down] if s.lead is None else \
                    [t + s.share * u for t, u in zip(linear[s.down], linear[s.lead])]
                square.append([d.repair_ratio * t * x for t, x in zip(down, part)])
        else:
            mine = _input(_quantiles(d.main), next(dimension)) if d.main is not None else [0.0] * SAMPLES
            if d.extra is not None:
                mine = [a + b for a, b in zip(mine, _input(_quantiles(d.extra), next(dimension)))]
            linear.append([p * f for p, f in zip(mine, scale[s.group])])
            square.append(None)
    chain = all(s.preds == ((k - 1,) if k else ()) for k, s in enumerate(steps))
    quadratic = [x for x in square if x is not None]
    night_mu, night_sigma = factor_mu(run_spread), run_spread
    if chain or not quadratic:  # D = n A + n^2 B exactly: the night's factor can be integrated out
        a = [sum(column) for column in zip(*linear)] if chain else _path(steps, linear)
        b = [sum(column) for column in zip(*quadratic)] if quadratic else []
        mean = (math.fsum(a) + math.exp(night_sigma ** 2) * math.fsum(b)) / SAMPLES  # E[n] = 1, E[n^2] = e^(s^2)
        if night_sigma > 0:
            return Smoothed(tuple(a), tuple(b), night_mu, night_sigma, mean)
        total = [x + y for x, y in zip(a, b)] if b else a
        return Points(tuple(sorted(total)), mean)
    # Parallel steps and a resync: draw the night's factor too, and take each point's longest path.
    night = _input(_factor(night_mu, night_sigma), next(dimension))
    durations = [[n * x + (n * n * y if sq is not None else 0.0) for n, x, y in zip(night, lin, sq or lin)]
                 for lin, sq in zip(linear, square)]
    total = _path(steps, durations)
    return Points(tuple(sorted(total)), math.fsum(total) / SAMPLES)


def _path(steps: tuple[UnitStep, ...], durations: list[list[float]]) -> list[float]:
    """Each point's longest path through the unit."""
    finish: list[list[float]] = []
    for s, mine in zip(steps, durations):
        finish.append(mine if not s.preds else [a + b for a, b in zip(_longest([finish[p] for p in s.preds]), mine)])
    ends = sorted(set(range(len(steps))) - {p for s in steps for p in s.preds})
    return _longest([finish[i] for i in ends])


def _single(dist: Distribution, sigma: float) -> UnitDistribution:
    """One step of one part: `part x F`, F the lognormal product of the two factors (mean 1, log-sd `sigma`)."""
    if sigma == 0:  # no shared factor: the part's own quantile
        return Exact(dist, dist.mean)
    if isinstance(dist, Empirical):
        strata = tuple(dist.observed)  # exact: each observation with equal chance
    else:
        strata = tuple(dist.quantile((k + 0.5) / STRATA) for k in range(STRATA))
    return Smoothed(strata, (), factor_mu(sigma), sigma, dist.mean)  # E[part x F] = E[part]: F has mean 1
