"""The vectorised sampler (simulator/vector.py) against the engine, its reference semantics.

Keyed draws: the same numbers bit for bit (every step's start and end, the run's end, its exposure).
Sequential draws: the same distributions (a two-sample Kolmogorov-Smirnov test and P50/P90 within 4
standard errors), since the engine's Mersenne Twister per run is what the vector path replaces.
And the same arrays whatever the batch split.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from hciplan.simulator import engine, fast, prepare_simulation, vector
from hciplan.simulator.engine import COMPLETED, run_once
from hciplan.simulator.prepared import keyed, keyed_draws
from sim_helpers import plan_of

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
ALPHA = 0.001
SAMPLE = 2000


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    return plan_of(request.param.read_text(encoding="utf-8"))


def _no_windows(plan, draws: str):
    sp = prepare_simulation(plan, ignore_windows=True)  # every example has windows: the vector path has none
    return keyed_draws(sp, plan) if draws == "keyed" else sp


# --- keyed draws: the engine's numbers ----------------------------------------------------------------------------

def test_ndtri_is_statistics_inverse_normal_bit_for_bit():
    p = np.concatenate([np.random.default_rng(3).random(200_000), [1e-300, 1e-20, 1e-9, 0.02425, 0.075, 0.5,
                                                                    0.925, 1 - 1e-9, 1 - 2**-53]])
    reference = [statistics.NormalDist().inv_cdf(x) for x in p.tolist()]
    assert vector.ndtri(p).tolist() == reference


def test_keyed_batch_draws_are_the_engines_draws(example):
    sp = _no_windows(example, "keyed")
    base, _ = vector.draw_batch(sp, 7, 40, 30)
    rt = engine.runtime(sp)
    for k in range(30):
        assert base[:, k].tolist() == engine.run_draws(sp, rt, 7, 40 + k)[0]


def test_keyed_vector_runs_are_the_engines_runs_bit_for_bit(example):
    """Every step's start and end (the trace's segments), the run's end and exposure: the same floats."""
    sp = _no_windows(example, "keyed")
    runs = vector.run_vector(sp, 11, 0, 60, steps=True)
    assert runs.ok.all()
    for k in range(60):
        reference = run_once(sp, 11, k, trace=True)
        assert reference.outcome == COMPLETED
        assert (runs.end[k], runs.exposure[k]) == (reference.end, reference.exposure), k
        assert [(s.step, s.start, s.end) for s in sorted(reference.segments, key=lambda s: s.step)] == \
            [(i, runs.starts[i, k], runs.ends[i, k]) for i in range(sp.size)], k


def test_keyed_vector_runs_are_the_fast_paths_runs(example):
    sp = _no_windows(example, "keyed")
    runs = vector.run_vector(sp, 12, 100, 300)
    for k in range(300):
        reference = fast.run_fast(sp, 12, 100 + k)
        assert (runs.end[k], runs.exposure[k]) == (reference.end, reference.exposure), k


def test_pinned_keyed_draws_are_the_engines(example):
    pinned = tuple((i, 0.9) for i in range(0, len(example.steps), 3))
    sp = keyed_draws(prepare_simulation(example, ignore_windows=True), example, pinned)
    runs = vector.run_vector(sp, 2, 0, 40)
    assert [(runs.end[k], runs.exposure[k]) for k in range(40)] == \
        [(r.end, r.exposure) for r in (run_once(sp, 2, k) for k in range(40))]


def test_runs_past_a_bound_are_flagged_for_the_engine():
    """Reboots bounded at their mean: the runs fast.py hands to simpy (a failure) are the ones flagged."""
    plan = plan_of((ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8"))
    tight = tuple(s.mean_minutes if s.spec.reboots else s.bound_minutes for s in plan.steps)
    sp = keyed(dataclasses.replace(_no_windows(plan, "keyed"), bound=tight))
    runs = vector.run_vector(sp, 1, 0, 80)
    handed = [fast.run_fast(sp, 1, k) is None for k in range(80)]
    assert 10 < sum(handed) < 80
    assert (~runs.ok).tolist() == handed
    for k in np.flatnonzero(runs.ok):
        assert runs.end[k] == fast.run_fast(sp, 1, int(k)).end


def test_plans_it_cannot_follow_are_declined():
    plan = plan_of((ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8"))
    node = next(s.node for s in plan.steps if s.node)
    windows = prepare_simulation(plan)
    failing = prepare_simulation(plan, fails=(f"{node}:reboot:hang",), ignore_windows=True)
    for sp, why in ((windows, "windows"), (failing, "failures")):
        assert vector.run_vector(sp, 0, 0, 10) is None
        assert why in vector.vector_plan(sp).why
    assert vector.vector_plan(prepare_simulation(plan, ignore_windows=True)).eligible


# --- sequential draws: the engine's distributions -----------------------------------------------------------------

def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    gap = np.searchsorted(a, points, side="right") / a.size - np.searchsorted(b, points, side="right") / b.size
    return float(np.abs(gap).max())


def ks_critical(n: int, m: int, alpha: float = ALPHA) -> float:
    """The asymptotic critical value of the statistic: c(alpha) sqrt((n + m) / (n m)), c = sqrt(-ln(alpha/2) / 2)."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def quantile_se(x: np.ndarray, p: float) -> float:
    """The standard error of the sample p-quantile from the order statistics one binomial sd either side."""
    h = math.sqrt(p * (1 - p) / x.size)
    return float(np.quantile(x, min(1.0, p + h)) - np.quantile(x, max(0.0, p - h))) / 2


def agree(a: np.ndarray, b: np.ndarray) -> list[str]:
    """What distinguishes the two samples: the KS test at ALPHA, then P50 and P90 beyond 4 standard errors."""
    problems = []
    d, critical = ks_statistic(a, b), ks_critical(a.size, b.size)
    if d > critical:
        problems.append(f"KS {d:.4f} > {critical:.4f}")
    for p in (0.5, 0.9):
        gap, se = abs(np.quantile(a, p) - np.quantile(b, p)), math.hypot(quantile_se(a, p), quantile_se(b, p))
        if gap > 4 * se:
            problems.append(f"P{p * 100:.0f} differs by {gap:.1f} min > 4 x {se:.1f}")
    return problems


@pytest.fixture(scope="module")
def samples(example):
    """2,000 runs of each path from different seeds: the engine's (fast.runner: the engine's results, simpy where
    the fast path hands a run back) and the vector path's."""
    sp = _no_windows(example, "sequential")
    run = fast.runner(sp)
    reference = [run(21, k) for k in range(SAMPLE)]
    assert all(r.outcome == COMPLETED for r in reference)
    runs = vector.run_vector(sp, 22, 0, SAMPLE)
    assert runs.ok.all()
    return (np.array([r.end for r in reference]), np.array([r.exposure for r in reference])), runs


def test_sequential_completion_times_have_the_engines_distribution(samples):
    (ends, _), runs = samples
    assert agree(runs.end, ends) == []


def test_sequential_exposure_has_the_engines_distribution(samples):
    (_, exposure), runs = samples
    assert agree(runs.exposure, exposure) == []


def test_the_comparison_sees_a_two_percent_shift(samples):
    """The test has power: completion times 2% longer (or without the shared factors' spread) are told apart."""
    (ends, _), runs = samples
    assert agree(runs.end * 1.02, ends) != []
    centred = runs.end.mean() + (runs.end - runs.end.mean()) * 0.8
    assert agree(centred, ends) != []


# --- determinism --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("draws", ["sequential", "keyed"])
def test_same_seed_same_arrays_whatever_the_batch_split(draws):
    plan = plan_of((ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8"))
    sp = _no_windows(plan, draws)
    whole = vector.run_vector(sp, 5, 10, 300, steps=True)
    cuts = [10, 11, 88, 250, 310]
    parts = [vector.run_vector(sp, 5, a, b - a, steps=True) for a, b in zip(cuts, cuts[1:])]
    for name in ("end", "exposure", "ok"):
        assert getattr(whole, name).tolist() == np.concatenate([getattr(p, name) for p in parts]).tolist()
    assert whole.ends.tolist() == np.concatenate([p.ends for p in parts], axis=1).tolist()
    assert vector.run_vector(sp, 5, 10, 300).end.tolist() == whole.end.tolist()
    assert vector.run_vector(sp, 6, 10, 300).end.tolist() != whole.end.tolist()
