"""The simulation's summary is compact: no Python object per run, and the compact form gives the old numbers.

The figures (peak RSS from 10,000 to 1,000,000 runs) are in bench/bench_memory.py and docs/performance.md;
these tests only check the structure that keeps them flat, never a time or a byte count of the machine.
"""

from __future__ import annotations

import gc
import random
import types
from array import array

from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import ABORTED, COMPLETED, STOPPED
from hciplan.simulator.montecarlo import RunOutcomes, ascending, simulate
from plan_models import Shape
from sim_helpers import plan_of, shape_text

FLAKY = shape_text(Shape(nodes=2)) + ('\nscenario "flaky" { risk "cau.install" { probability = 0.3 } }\n')


def objects_reachable(root) -> int:
    """Distinct Python objects reachable from `root` (a float in a tuple counts, a float in an array does not)."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            continue  # shared by every Summary: not the Summary's own data
        todo.extend(gc.get_referents(obj))
    return len(seen)


def test_the_summary_holds_no_object_per_run():
    sp = prepare_simulation(plan_of(FLAKY), scenario="flaky")  # the shape's window
    small, large = simulate(sp, 300, seed=5, jobs=1), simulate(sp, 1500, seed=5, jobs=1)
    assert large.outcomes[COMPLETED] > 0 and large.outcomes[ABORTED] + large.outcomes[STOPPED] > 0
    small.intervals(), large.intervals(), small.median_run(), large.median_run()  # fill the caches too
    grown = objects_reachable(large) - objects_reachable(small)
    # a few distinct counts and stop keys may appear with more runs, never one object per run (1200 more runs)
    assert grown < 100, f"{grown} more objects for 1200 more runs"
    assert isinstance(large.durations, array) and isinstance(large.run_outcomes, RunOutcomes)


def test_the_median_run_is_the_lower_median_by_end_then_index():
    sp = prepare_simulation(plan_of(FLAKY), scenario="flaky")  # the shape's window
    summary = simulate(sp, 400, seed=9, jobs=1)
    indices = [i for i, o in enumerate(summary.run_outcomes) if o == COMPLETED]
    ranked = sorted(indices, key=lambda i: (summary.ends[i], i))  # the rule the median run always had
    assert summary.median_run() == ranked[(len(ranked) - 1) // 2]


def test_ascending_is_sorted_exactly_with_ties_across_chunks():
    rng = random.Random(4)
    values = [rng.choice((1.5, 2.0, rng.random())) for _ in range(10_000)]  # ties, and more than one chunk
    parts = [values[:3000], values[3000:3001], [], values[3001:]]
    assert list(ascending(parts)) == sorted(values)
    assert list(ascending([[]])) == [] and list(ascending([])) == []


def test_run_outcomes_reads_as_the_outcome_names():
    outcomes = RunOutcomes(bytes([0, 2, 0, 1]))
    assert list(outcomes) == [COMPLETED, STOPPED, COMPLETED, ABORTED] == list(outcomes[0:4])
    assert outcomes[1] == STOPPED and outcomes.count(COMPLETED) == 2 and len(outcomes) == 4
    assert outcomes == (COMPLETED, STOPPED, COMPLETED, ABORTED) and outcomes != (COMPLETED,)
