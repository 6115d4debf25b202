"""Paired what-if: variants simulated with common random numbers, and their differences with intervals.

Every variant runs with keyed draws (engine.py): run i of every variant draws the same
durations for the same work and the same failure draws, so what differs between the
variants' run i is the change itself. The differences are therefore measured per run,
and their intervals are those of paired samples (docs/compare.md says why each method):

- **quantiles (P50, P90 of the duration)**: a paired bootstrap. Each of `BOOTSTRAP`
  replicates draws n run indices with replacement (one generator with a fixed seed), the
  *same* indices for the base and every variant, and takes the difference of the
  quantiles; the interval is the 2.5% and 97.5% points of those differences. The
  unpaired interval resamples the variant's runs with their own indices: what two
  independent simulations would give, for comparison.
- **shares and means (P(within window), completed share, mean exposure)**: the mean of
  the per-run differences +- z s / sqrt(n) (central limit theorem on the differences);
  the unpaired interval is the usual one for two independent samples.

A variant identical to the base has identical runs, so every difference and both ends
of every paired interval are exactly zero.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from hciplan.compiler.plan import Plan
from hciplan.simulator import montecarlo
from hciplan.simulator.engine import COMPLETED, OUTCOMES, run_seed
from hciplan.simulator.montecarlo import Summary, percentile
from hciplan.simulator.prepared import SimPlan
from hciplan.simulator.stats import CONFIDENCE, Interval, _z

SCHEMA = "hciplan.compare/1"
BOOTSTRAP = 1000  # replicates per interval: their 2.5% and 97.5% points move by well under a tenth of the width
QUANTILES = {"p50": 50, "p90": 90}


@dataclass(frozen=True)
class Variant:
    name: str  # "base", a file, or the --vary text
    file: str
    plan: Plan
    sim: SimPlan  # prepared with keyed draws
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One variant's runs, in run order, and their summary."""

    variant: Variant
    summary: Summary
    within: tuple[bool | None, ...] = field(repr=False)

    @property
    def completed(self) -> tuple[bool, ...]:
        return tuple(o == COMPLETED for o in self.summary.run_outcomes)


def run_variant(variant: Variant, runs: int, seed: int, jobs: int | None, scheduler: str | None = None,
                progress=None) -> Sample:
    """All runs of one variant (the same seed for every variant: run i shares its draws)."""
    batches = montecarlo.run_many(variant.sim, runs, seed, jobs, scheduler, progress)
    summary = montecarlo.summarise(variant.sim, runs, seed, batches)
    return Sample(variant, summary, tuple(w for b in batches for w in b.within))


def _quantiles(ends: tuple[float, ...], completed: tuple[bool, ...], indices) -> tuple[float, ...] | None:
    """P50 and P90 (QUANTILES) of the completed runs among `indices` (one sort for both); None if none completed."""
    chosen = sorted([ends[i] for i in indices if completed[i]])
    return tuple(percentile(chosen, q) for q in QUANTILES.values()) if chosen else None


def _ends(values: list[float]) -> Interval:
    """The equal-tailed bootstrap interval: the replicates' 2.5% and 97.5% points (nearest rank)."""
    if not values:
        return None, None
    values.sort()
    tail = (1 - CONFIDENCE) / 2 * 100
    return percentile(values, tail), percentile(values, 100 - tail)


def _mean_interval(diffs: list[float]) -> Interval:
    n = len(diffs)
    if n < 2:
        return None, None
    mean = math.fsum(diffs) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = _z(CONFIDENCE) * sd / math.sqrt(n)
    return mean - half, mean + half


def _unpaired_mean_interval(a: list[float], b: list[float]) -> Interval:
    n, m = len(a), len(b)
    if n < 2 or m < 2:
        return None, None
    mean_a, mean_b = math.fsum(a) / n, math.fsum(b) / m
    var_a = math.fsum((x - mean_a) ** 2 for x in a) / (n - 1)
    var_b = math.fsum((x - mean_b) ** 2 for x in b) / (m - 1)
    half = _z(CONFIDENCE) * math.sqrt(var_a / n + var_b / m)
    return (mean_b - mean_a) - half, (mean_b - mean_a) + half


def _estimate(estimate: float | None, paired: Interval, unpaired: Interval) -> dict:
    return {"estimate": estimate, "interval": list(paired), "unpaired_interval": list(unpaired)}


def differences(base: Sample, others: list[Sample], seed: int) -> list[dict]:
    """The paired differences of every variant against the base (variant minus base)."""
    n = base.summary.runs
    rng = random.Random(run_seed(seed, 0, "/bootstrap"))
    population = range(n)
    paired_sets = [rng.choices(population, k=n) for _ in range(BOOTSTRAP)]
    own_sets = [[rng.choices(population, k=n) for _ in range(BOOTSTRAP)] for _ in others]
    base_ends, base_done = base.summary.ends, base.completed
    base_full = _quantiles(base_ends, base_done, population)
    base_reps = [_quantiles(base_ends, base_done, idx) for idx in paired_sets]
    out = []
    for sample, own in zip(others, own_sets):
        ends, done = sample.summary.ends, sample.completed
        record: dict = {"variant": sample.variant.name, "against": base.variant.name}
        full = _quantiles(ends, done, population)
        reps = [_quantiles(ends, done, idx) for idx in paired_sets]
        own_reps = [_quantiles(ends, done, idx) for idx in own]
        for k, name in enumerate(QUANTILES):
            if base_full is None or full is None:
                record[name] = _estimate(None, (None, None), (None, None))
                continue
            paired = [b[k] - a[k] for a, b in zip(base_reps, reps) if a is not None and b is not None]
            unpaired = [c[k] - a[k] for a, c in zip(base_reps, own_reps) if a is not None and c is not None]
            record[name] = _estimate(full[k] - base_full[k], _ends(paired), _ends(unpaired))
        shares = {"completed_share": ([float(x) for x in base_done], [float(x) for x in done])}
        if base.within[0] is not None and sample.within[0] is not None:
            shares["p_within_window"] = ([float(bool(w)) for w in base.within], [float(bool(w)) for w in sample.within])
        shares["exposure_mean"] = (list(base.summary.exposures), list(sample.summary.exposures))
        for name, (a, b) in shares.items():
            diffs = [y - x for x, y in zip(a, b)]
            record[name] = _estimate(math.fsum(diffs) / n, _mean_interval(diffs), _unpaired_mean_interval(a, b))
        out.append(record)
    return out


def variant_record(sample: Sample) -> dict:
    """One variant's own figures, as `hciplan simulate` computes them (with their 95% intervals)."""
    s, v = sample.summary, sample.variant
    stats = s.duration_stats() or {}
    intervals = s.intervals()
    return {
        "name": v.name,
        "file": v.file,
        "overrides": list(v.overrides),
        "fingerprint": v.plan.fingerprint,
        "method": v.plan.method,
        "windows": [w.name for w in v.sim.windows],
        "p50": stats.get("p50"),
        "p90": stats.get("p90"),
        "p50_interval": list(intervals.durations["p50"]) if stats else None,
        "p90_interval": list(intervals.durations["p90"]) if stats else None,
        "p_within_window": s.p_within_window,
        "outcomes": {o: s.outcomes.get(o, 0) for o in OUTCOMES},
        "exposure_mean": s.exposure_mean,
        "exposure_p90": s.exposure_p90,
    }
