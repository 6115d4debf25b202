"""Fitting the duration models and the shared speed factors to observed durations.

The simulator draws a step's duration as (docs/simulation.md, "Correlated durations")

    d = X * F_run * F_model,   ln X ~ N(mu, sigma^2),   ln F ~ N(-s^2/2, s^2)   (mean 1)

with one factor F_run per run (s = run_spread) and one F_model per duration
model and run (s = kind_spread). Calibration estimates the same model from the
log durations y = ln d, grouped in cells (one run, one duration model):

1. **Step to step (each model's sigma).** The pooled variance of y within the
   cells of a model: steps of one run and one model share both factors, so what
   varies between them is the step's own draw. A model with one step per run
   (a cluster-wide step) has no within-cell variance; its sigma^2 is the
   variance of its cell means between runs minus the shared part below.
2. **Shared (the spreads).** A method-of-moments (ANOVA) estimate of the
   random effects: the variance of a model's cell means between runs, less the
   within part's share (sigma^2 / n), is run_spread^2 + kind_spread^2, pooled
   over models; the covariance between the cell means of two different models
   in the same run is run_spread^2 (only the run's factor is common to both),
   pooled over pairs of models. Both are clamped to 0..1 (the timing block's
   range). With fewer than two runs nothing separates a slow night from a slow
   step: the spreads keep their defaults (0.1, assumptions).
3. **Each model's mu** is the mean of y (the maximum-likelihood log-mean) plus
   (run_spread^2 + kind_spread^2) / 2: the factors' log-mean is negative so
   that their mean is 1, and the simulator applies them on top of the model.
4. **Shrinkage.** A model with few observations is pulled toward its default
   (docs/simulation.md's table): the default's log-median and log-sd count as
   `prior_weight` (k = 5, an assumption) observations in a weighted average,
   mu = (n mu_data + k mu_default) / (n + k) and sigma^2 = (df sigma_data^2 +
   k sigma_default^2) / (df + k), df being the degrees of freedom sigma_data
   rests on. A triangular default enters as the lognormal with its median and
   P90. The physics models (drain, failback, repair wait, download) have no
   cluster-free default: they are not shrunk, and need two observations.
5. **Form.** With `empirical_from` observations or more (50, an assumption)
   the model is written as `empirical`: the observations, rescaled in log space
   around their mean to the model's own spread (the shared factors taken out,
   so the simulator does not count them twice), at most 100 of them (evenly
   spaced quantiles). Otherwise `lognormal` with its median and P90.

Uncertainty: a percentile bootstrap over whole runs (runs, not steps, are
independent), `bootstrap` resamples from a fixed seed, so the intervals are the
same on every machine.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass

from hciplan.calibration.mapping import Observation
from hciplan.compiler.durations import DEFAULT_MODELS, Z90
from hciplan.compiler.model import DEFAULT_TIMING

PRIOR_WEIGHT = 5  # k: the default weighs like five observations (an assumption)
EMPIRICAL_FROM = 50  # observations from which a model is written as empirical (an assumption)
MAX_OBSERVED = 100  # values in an empirical list: evenly spaced quantiles beyond this
BOOTSTRAP = 400
SEED = 0
SIGMA_FLOOR = 0.02  # a model's own log-sd is at least this (P90 2.6% above the median): durations vary
SIGMA_CAP = math.log(1000) / Z90  # the checker's limit: a P90 at most 1000 times the median (HCI1002)


@dataclass(frozen=True, slots=True)
class Cell:
    """The log durations of one duration model in one run."""

    n: int
    total: float  # sum of ln(minutes)
    ss: float  # sum of squares about the cell mean
    mean: float


@dataclass(frozen=True, slots=True)
class Prior:
    mu: float
    sigma: float


def prior_of(model: str) -> Prior | None:
    """The default model as a lognormal of the same median and P90 (None for the physics models)."""
    default = DEFAULT_MODELS.get(model)
    if default is None:
        return None
    median, p90 = default.quantile(0.5), default.quantile(0.9)
    return Prior(math.log(median), math.log(p90 / median) / Z90)


@dataclass(frozen=True)
class ModelFit:
    name: str
    kinds: tuple[str, ...]
    n: int
    runs: int
    sources: tuple[str, ...]
    first: dt.datetime
    last: dt.datetime
    mu: float  # the model's own log-mean and log-sd (shared factors removed, shrunk toward the default)
    sigma: float
    shrunk: bool  # a default took part (prior weight > 0 and the model has one)
    sigma_from: str  # what the spread rests on
    form: str  # lognormal | empirical
    observed: tuple[int, ...] = ()  # empirical: seconds, sorted
    median_ci: tuple[float, float] | None = None  # minutes
    p90_ci: tuple[float, float] | None = None

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    @property
    def p90(self) -> float:
        return math.exp(self.mu + Z90 * self.sigma)


@dataclass(frozen=True)
class Spreads:
    run: float
    kind: float
    estimated: bool
    runs: int
    run_ci: tuple[float, float] | None = None
    kind_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class Fit:
    models: tuple[ModelFit, ...]
    spreads: Spreads
    skipped: tuple[tuple[str, str], ...]  # (model, why it is not written)
    confidence: float
    bootstrap: int


@dataclass(frozen=True)
class _Estimate:
    run_var: float
    kind_var: float
    estimated: bool
    models: dict[str, tuple[float, float, str] | None]  # mu, sigma, sigma_from; None: not fittable


def _variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


class _Data:
    """Observations as cells, per run, for the estimator and its bootstrap."""

    def __init__(self, observations: list[Observation]):
        self.runs = sorted({o.run for o in observations})
        index = {run: i for i, run in enumerate(self.runs)}
        logs: dict[tuple[int, str], list[float]] = defaultdict(list)
        for o in observations:
            logs[(index[o.run], o.model)].append(math.log(o.minutes))
        self.cells: list[dict[str, Cell]] = [{} for _ in self.runs]
        for (r, model), values in sorted(logs.items()):
            mean = sum(values) / len(values)
            self.cells[r][model] = Cell(len(values), sum(values), sum((v - mean) ** 2 for v in values), mean)
        signatures: dict[frozenset, frozenset] = {}
        self.pairs: list[frozenset] = []
        for cells in self.cells:
            key = frozenset(cells)
            if key not in signatures:
                signatures[key] = frozenset((a, b) for a in key for b in key if a != b)
            self.pairs.append(signatures[key])


def _estimate(data: _Data, sample: list[int], priors: dict[str, Prior | None], prior_weight: float) -> _Estimate:
    by_model: dict[str, list[Cell]] = defaultdict(list)
    for r in sample:
        for model, cell in data.cells[r].items():
            by_model[model].append(cell)
    within: dict[str, tuple[float, int]] = {}
    for model, cells in by_model.items():
        df = sum(c.n - 1 for c in cells)
        if df > 0:
            within[model] = (sum(c.ss for c in cells) / df, df)
    # run_spread^2 + kind_spread^2: between-run variance of cell means, less the within part's share
    num = den = 0.0
    for model, cells in by_model.items():
        if model in within and len(cells) >= 2:
            excess = _variance([c.mean for c in cells]) - sum(within[model][0] / c.n for c in cells) / len(cells)
            num += (len(cells) - 1) * excess
            den += len(cells) - 1
    shared = num / den if den else None
    # run_spread^2: covariance of two models' cell means within a run, pooled over ordered pairs of models
    centre = {model: sum(c.mean for c in cells) / len(cells) for model, cells in by_model.items()}
    cross = 0.0
    products = 0
    present: set = set()
    for r in sample:
        z = [cell.mean - centre[model] for model, cell in data.cells[r].items()]
        total = sum(z)
        cross += total * total - sum(v * v for v in z)
        products += len(z) * (len(z) - 1)
        present |= data.pairs[r]
    pairs_df = products - len(present)
    run_var = cross / pairs_df if pairs_df > 0 else None
    estimated = len(set(sample)) >= 2 and shared is not None and run_var is not None
    if estimated:
        run_var = min(max(run_var, 0.0), 1.0)
        kind_var = min(max(shared - run_var, 0.0), 1.0)
    else:
        run_var, kind_var = DEFAULT_TIMING.run_spread ** 2, DEFAULT_TIMING.kind_spread ** 2
    both = run_var + kind_var
    models: dict[str, tuple[float, float, str] | None] = {}
    for model, cells in by_model.items():
        n = sum(c.n for c in cells)
        mu_data = sum(c.total for c in cells) / n + both / 2
        if model in within:
            var, df = within[model]
            source = "step to step within runs"
        elif len(cells) >= 2:
            var, df = _variance([c.mean for c in cells]) - both, len(cells) - 1
            source = "between runs, less the shared part"
        else:
            var, df, source = None, 0, "the default (a single observation)"
        if var is not None:
            var = max(var, SIGMA_FLOOR ** 2)
        prior = priors.get(model)
        if prior is not None and prior_weight > 0:
            mu = (n * mu_data + prior_weight * prior.mu) / (n + prior_weight)
            var = ((df * var if var is not None else 0.0) + prior_weight * prior.sigma ** 2) / (df + prior_weight)
        elif var is None:
            models[model] = None
            continue
        else:
            mu = mu_data
        models[model] = (mu, min(math.sqrt(var), SIGMA_CAP), source)
    return _Estimate(run_var, kind_var, estimated, models)


def _interval(values: list[float], confidence: float) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    ordered = sorted(values)

    def at(q: float) -> float:
        position = q * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    tail = (1 - confidence) / 2
    return (at(tail), at(1 - tail))


def _empirical(logs: list[float], mu: float, sigma: float) -> tuple[int, ...]:
    """The observations rescaled in log space to mean mu and sd sigma, as seconds; at most MAX_OBSERVED quantiles."""
    mean = sum(logs) / len(logs)
    spread = math.sqrt(sum((v - mean) ** 2 for v in logs) / len(logs))
    scale = sigma / spread if spread > 0 else 0.0
    values = sorted(max(1, round(60 * math.exp(mu + (v - mean) * scale))) for v in logs)
    if len(values) > MAX_OBSERVED:
        values = [values[int((j + 0.5) * len(values) / MAX_OBSERVED)] for j in range(MAX_OBSERVED)]
    return tuple(values)


def fit(observations: list[Observation], *, prior_weight: float = PRIOR_WEIGHT, empirical_from: int = EMPIRICAL_FROM,
        confidence: float = 0.95, bootstrap: int = BOOTSTRAP, seed: int = SEED) -> Fit:
    """Fit every duration model that has observations, and the shared spreads (see the module docstring).

    `empirical_from = 0` always writes lognormal models.
    """
    data = _Data(observations)
    models = sorted({o.model for o in observations})
    priors = {m: prior_of(m) for m in models}
    point = _estimate(data, list(range(len(data.runs))), priors, prior_weight)
    replicates: list[_Estimate] = []
    if len(data.runs) >= 2:
        rng = random.Random(seed)
        for _ in range(bootstrap):
            sample = [rng.randrange(len(data.runs)) for _ in data.runs]
            replicates.append(_estimate(data, sample, priors, prior_weight))
    estimated = [e for e in replicates if e.estimated]
    spreads = Spreads(math.sqrt(point.run_var), math.sqrt(point.kind_var), point.estimated, len(data.runs),
                      _interval([math.sqrt(e.run_var) for e in estimated], confidence) if point.estimated else None,
                      _interval([math.sqrt(e.kind_var) for e in estimated], confidence) if point.estimated else None)
    grouped: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        grouped[o.model].append(o)
    fits: list[ModelFit] = []
    skipped: list[tuple[str, str]] = []
    for model in models:
        result = point.models.get(model)
        members = grouped[model]
        if result is None:
            skipped.append((model, f"{len(members)} observation{'s' * (len(members) != 1)} in one run, and a physics "
                                   "model has no default to shrink toward: the physics stays"))
            continue
        mu, sigma, source = result
        draws = [e.models[model] for e in replicates if e.models.get(model)]
        median_ci = _interval([math.exp(d[0]) for d in draws], confidence)
        p90_ci = _interval([math.exp(d[0] + Z90 * d[1]) for d in draws], confidence)
        empirical = 0 < empirical_from <= len(members)
        observed = _empirical([math.log(o.minutes) for o in members], mu, sigma) if empirical else ()
        fits.append(ModelFit(
            model, tuple(sorted({o.kind for o in members})), len(members), len({o.run for o in members}),
            tuple(sorted({o.source for o in members})), min(o.start for o in members), max(o.end for o in members),
            mu, sigma, priors[model] is not None and prior_weight > 0, source,
            "empirical" if empirical else "lognormal", observed, median_ci, p90_ci))
    return Fit(tuple(fits), spreads, tuple(skipped), confidence, bootstrap if replicates else 0)
