"""The vectorised sampler (simulator/vector.py) against the engine, its reference semantics.

Keyed draws: the same numbers bit for bit (every step's start and end, the run's end, its exposure, the step
a run stopped at), without windows and under the window rule.
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
from hciplan.simulator.engine import COMPLETED, STOPPED, run_once
from hciplan.simulator.prepared import NO_STEP, Given, keyed, keyed_draws, with_given
from sim_helpers import plan_of

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
ALPHA = 0.001
SAMPLE = 2000


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    return plan_of(request.param.read_text(encoding="utf-8"))


# the file's windows, none, a window too short for most units, and one long enough to complete under the rule
WINDOWS = {"file": {}, "none": {"ignore_windows": True}, "8h": {"window": 480.0}, "40h": {"window": 2400.0}}


def _prepared(plan, draws: str, window: str = "none"):
    sp = prepare_simulation(plan, **WINDOWS[window])
    return keyed_draws(sp, plan) if draws == "keyed" else sp


def _no_windows(plan, draws: str):
    return _prepared(plan, draws, "none")


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


@pytest.mark.parametrize("window", list(WINDOWS))
def test_keyed_vector_runs_are_the_engines_runs_bit_for_bit(example, window):
    """Every step's start and end (the trace's segments; -1 for a step that never started), the run's end,
    exposure and the step it stopped at: the same floats and steps."""
    sp = _prepared(example, "keyed", window)
    runs = vector.run_vector(sp, 11, 0, 40, steps=True)
    assert runs.ok.all()
    for k in range(40):
        reference = run_once(sp, 11, k, trace=True)
        assert reference.outcome == (COMPLETED if runs.stop_step[k] == NO_STEP else STOPPED)
        assert (runs.end[k], runs.exposure[k], runs.stop_step[k]) == \
            (reference.end, reference.exposure, reference.step), k
        segments = {s.step: (s.start, s.end) for s in reference.segments}
        assert [segments.get(i, (-1.0, -1.0)) for i in range(sp.size)] == \
            [(runs.starts[i, k], runs.ends[i, k]) for i in range(sp.size)], k


@pytest.mark.parametrize("window", list(WINDOWS))
def test_keyed_vector_runs_are_the_fast_paths_runs(example, window):
    """300 runs against fast.py's (the engine's results, held to them by test_fast_path.py); the runs it hands
    to simpy (a bound reached, two units stopping at once) are the ones flagged."""
    sp = _prepared(example, "keyed", window)
    runs = vector.run_vector(sp, 12, 100, 300)
    for k in range(300):
        reference = fast.run_fast(sp, 12, 100 + k)
        assert runs.ok[k] == (reference is not None), k
        if reference is not None:
            assert (runs.end[k], runs.exposure[k], runs.stop_step[k]) == \
                (reference.end, reference.exposure, reference.step), k


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
    failing = prepare_simulation(plan, fails=(f"{node}:reboot:hang",))
    journal = with_given(prepare_simulation(plan), Given(now=30.0, done=((0, 0.0, 5.0),)), (), (0.0, 0.0), ())
    for sp, why in ((failing, "failures"), (journal, "journal")):
        assert vector.run_vector(sp, 0, 0, 10) is None
        assert why in vector.vector_plan(sp).why
    assert vector.vector_plan(prepare_simulation(plan)).eligible


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


def vector_sample(sp, seed: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The vector path's (end, exposure, outcome) of runs 0 .. count - 1, its flagged runs followed on the engine
    with the same draws (`vector.twin`), as a caller does; and how many were flagged."""
    runs = vector.run_vector(sp, seed, 0, count)
    end, exposure = runs.end.copy(), runs.exposure.copy()
    outcome = np.where(runs.stop_step == NO_STEP, COMPLETED, STOPPED).astype(object)
    flagged = np.flatnonzero(~runs.ok)
    for k in flagged:
        r = run_once(vector.twin(sp), seed, int(k))
        end[k], exposure[k], outcome[k] = r.end, r.exposure, r.outcome
    return end, exposure, outcome, len(flagged)


def engine_sample(sp, seed: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The engine's (end, exposure, outcome) of runs 0 .. count - 1 in `sp`'s own draws (fast.runner: the engine's
    results, simpy where the fast path hands a run back)."""
    run = fast.runner(sp)
    reference = [run(seed, k) for k in range(count)]
    return (np.array([r.end for r in reference]), np.array([r.exposure for r in reference]),
            np.array([r.outcome for r in reference], dtype=object))


def same_outcome_shares(a: np.ndarray, b: np.ndarray) -> list[str]:
    """Each outcome's share in the two samples within 4 standard errors of their difference."""
    problems = []
    for outcome in sorted(set(a) | set(b)):
        p, q = np.mean(a == outcome), np.mean(b == outcome)
        se = math.sqrt(max(p * (1 - p), q * (1 - q), 1 / a.size) * (1 / a.size + 1 / b.size))
        if abs(p - q) > 4 * se:
            problems.append(f"{outcome}: {p:.3f} against {q:.3f}")
    return problems


@pytest.fixture(scope="module")
def samples(example):
    """2,000 runs of each path from different seeds, without windows: the engine's and the vector path's."""
    sp = _no_windows(example, "sequential")
    reference = engine_sample(sp, 21, SAMPLE)
    end, exposure, outcome, flagged = vector_sample(sp, 22, SAMPLE)
    assert flagged < SAMPLE * 0.01
    assert same_outcome_shares(outcome, reference[2]) == []
    return reference[:2], (end, exposure)


def test_sequential_completion_times_have_the_engines_distribution(samples):
    (ends, _), (end, _) = samples
    assert agree(end, ends) == []


def test_sequential_exposure_has_the_engines_distribution(samples):
    (_, exposures), (_, exposure) = samples
    assert agree(exposure, exposures) == []


@pytest.mark.parametrize("window", ["file", "40h"])
def test_sequential_runs_under_windows_have_the_engines_distribution(example, window):
    """Under the window rule: the end time (of the runs that stop too), the exposure, and how often a run stops
    (within 4 standard errors of the difference of the two proportions)."""
    sp = _prepared(example, "sequential", window)
    ends, exposures, outcomes = engine_sample(sp, 23, SAMPLE)
    end, exposure, outcome, flagged = vector_sample(sp, 24, SAMPLE)
    assert flagged < SAMPLE * 0.01
    assert agree(end, ends) == []
    assert agree(exposure, exposures) == []
    assert same_outcome_shares(outcome, outcomes) == []


def test_the_comparison_sees_a_two_percent_shift(samples):
    """The test has power: completion times 2% longer (or without the shared factors' spread) are told apart."""
    (ends, _), (end, _) = samples
    assert agree(end * 1.02, ends) != []
    centred = end.mean() + (end - end.mean()) * 0.8
    assert agree(centred, ends) != []


# --- determinism --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("window", ["none", "file"])
@pytest.mark.parametrize("draws", ["sequential", "keyed"])
def test_same_seed_same_arrays_whatever_the_batch_split(draws, window):
    plan = plan_of((ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8"))
    sp = _prepared(plan, draws, window)
    whole = vector.run_vector(sp, 5, 10, 300, steps=True)
    cuts = [10, 11, 88, 250, 310]  # batches of 1, 77, 162 and 60 runs (the chunks: the next test)
    parts = [vector.run_vector(sp, 5, a, b - a, steps=True) for a, b in zip(cuts, cuts[1:])]
    for name in ("end", "exposure", "ok", "stop_step"):
        assert getattr(whole, name).tolist() == np.concatenate([getattr(p, name) for p in parts]).tolist()
    assert whole.ends.tolist() == np.concatenate([p.ends for p in parts], axis=1).tolist()
    assert vector.run_vector(sp, 5, 10, 300).end.tolist() == whole.end.tolist()
    assert vector.run_vector(sp, 6, 10, 300).end.tolist() != whole.end.tolist()


def test_draws_do_not_depend_on_the_chunk_size(monkeypatch):
    """A small plan draws its batch in one chunk (CHUNK_CELLS); chunks of CHUNK runs give the same bits."""
    plan = plan_of((ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8"))
    sp = _prepared(plan, "sequential", "file")
    one, _ = vector.draw_batch(sp, 5, 10, 300)
    monkeypatch.setattr(vector, "CHUNK_CELLS", 0)  # chunks of vector.CHUNK runs: two, then part of a third
    assert vector.draw_batch(sp, 5, 10, 300)[0].tolist() == one.tolist()
    monkeypatch.setattr(vector, "CHUNK", 7)
    assert vector.draw_batch(sp, 5, np.arange(309, 9, -1), None)[0].tolist() == one[:, ::-1].tolist()


def test_two_units_stopping_at_once_are_flagged_for_the_engine():
    """Two unit heads ready at the start under a window neither fits: both stop at 0, and which one the run
    names is simpy's event order, so the run is the engine's (fast.py hands it back too)."""
    plan = plan_of((ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8"))
    sp = prepare_simulation(plan, window=1.0)
    first, other = sp.units[0].steps[0], sp.units[2].steps[0]
    assert sp.preds[first] == () and sp.units[0].need > 1.0 and sp.units[2].need > 1.0
    preds = tuple(() if i == other else p for i, p in enumerate(sp.preds))
    # another fingerprint too: the per-plan caches are keyed by it (a compiled plan's covers its predecessors)
    sp = keyed(dataclasses.replace(sp, preds=preds, fingerprint=sp.fingerprint + "/tie"))
    runs = vector.run_vector(sp, 3, 0, 20)
    assert [fast.run_fast(sp, 3, k) for k in range(20)] == [None] * 20
    assert not runs.ok.any()
    # without the second head the same runs stop at the first alone, and are the vector path's
    alone = vector.run_vector(prepare_simulation(plan, window=1.0), 3, 0, 20)
    assert alone.ok.all() and (alone.stop_step == first).all()


def test_an_empty_batch_and_a_bad_range():
    plan = plan_of((ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8"))
    sp = _prepared(plan, "sequential", "file")
    empty = vector.run_vector(sp, 1, 5, 0, steps=True)
    assert empty.end.shape == (0,) and empty.ends.shape == (sp.size, 0)
    with pytest.raises(ValueError, match="must be >= 0"):
        vector.run_vector(sp, 1, -1, 10)


# every distribution a timing block offers (the examples draw only triangulars and scaled physics figures),
# a degenerate triangular, and lognormal factors wider than the defaults (more draws in AS241's tails)
TIMING = """
timing {
  run_spread = 0.3  kind_spread = 0.2
  model "os.install"     { distribution = lognormal  median = 45m  p90 = 80m }
  model "os.reboot"      { distribution = empirical  observed = [14m, 17m, 22m, 31m] }
  model "gate.preflight" { distribution = fixed  value = 4m }
  model "node.drain"     { distribution = uniform  low = 5m  high = 25m }
  model "node.reboot"    { distribution = triangular  low = 9m  mode = 9m  high = 9m }
}
"""


@pytest.fixture(scope="module")
def timed():
    return plan_of((ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8") + TIMING)


def test_every_distribution_draws_the_engines_keyed_numbers(timed):
    kinds = {type(d.main).__name__ for d in _no_windows(timed, "keyed").durations if d.main is not None}
    assert {"LogNormal", "Empirical", "Fixed", "Uniform", "Triangular", "Scaled"} <= kinds
    for window in ("none", "file"):
        sp = _prepared(timed, "keyed", window)
        runs = vector.run_vector(sp, 8, 0, 150)
        rt = engine.runtime(sp)
        base, _ = vector.draw_batch(sp, 8, 0, 150)
        for k in range(150):
            assert base[:, k].tolist() == engine.run_draws(sp, rt, 8, k)[0], (window, k)
            reference = fast.run_fast(sp, 8, k)
            assert runs.ok[k] == (reference is not None), (window, k)
            if reference is not None:
                assert (runs.end[k], runs.exposure[k], runs.stop_step[k]) == \
                    (reference.end, reference.exposure, reference.step), (window, k)


def test_every_distribution_has_the_engines_sequential_distribution(timed):
    """About a tenth of these runs pass a bound (wide lognormal tails): the flagged runs, followed on the engine
    with their own draws, make the sample the engine's, failures and all."""
    sp = _no_windows(timed, "sequential")
    ends, exposures, outcomes = engine_sample(sp, 25, SAMPLE)
    end, exposure, outcome, flagged = vector_sample(sp, 26, SAMPLE)
    assert flagged > SAMPLE * 0.02
    assert same_outcome_shares(outcome, outcomes) == []
    assert agree(end, ends) == []
    assert agree(exposure, exposures) == []


def test_sequential_vector_runs_are_their_twins_engine_runs():
    """In a sequential plan the vector runs are the engine's runs of `twin(sp)` bit for bit, and a flagged run's
    twin is the failure the vector path saw coming (a bound passed)."""
    plan = plan_of((ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8"))
    tight = tuple(s.mean_minutes if s.spec.reboots else s.bound_minutes for s in plan.steps)
    sp = keyed(dataclasses.replace(_prepared(plan, "sequential", "file"), bound=tight))
    twin = vector.twin(sp)
    assert twin.draws == "keyed" and vector.twin(twin) is twin
    runs = vector.run_vector(sp, 4, 0, 60)
    assert 5 < (~runs.ok).sum() < 60
    for k in range(60):
        r = run_once(twin, 4, k)
        if runs.ok[k]:
            assert (r.end, r.exposure, r.step) == (runs.end[k], runs.exposure[k], runs.stop_step[k]), k
        else:
            assert r.outcome != COMPLETED or r.delay > 0, k
