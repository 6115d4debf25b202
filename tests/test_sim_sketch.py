"""Above montecarlo.EXACT_RUNS, simulate sketches its samples: the stated error holds, and nothing depends on batching.

The sketch (hciplan/simulator/sketch.py) promises each rank within relative error eps of the exact value,
exact count/min/max/mean, and the same state whatever the batch split or merge order; the Monte Carlo
promises the same bytes for any --jobs above the threshold too (tested on a threshold lowered to 100).
"""

from __future__ import annotations

import gc
import json
import math
import sys
import types
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from hciplan.simulator import montecarlo, prepare_simulation, report
from hciplan.simulator.montecarlo import CountedValues, _expanded, percentile, simulate
from hciplan.simulator.result import parse
from hciplan.simulator.sketch import DEFAULT_EPS, Sketch
from hciplan.simulator.stats import percentile_interval
from plan_models import Shape
from sim_helpers import plan_of, shape_text

FLAKY = shape_text(Shape(nodes=2)) + ('\nscenario "flaky" { risk "cau.install" { probability = 0.3 } }\n')
minutes = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
values_lists = st.lists(st.one_of(minutes, st.sampled_from([0.0, 1.5, 60.0])), min_size=1, max_size=300)


def close(approx: float, exact: float, eps: float) -> bool:
    return abs(approx - exact) <= eps * abs(exact) * (1 + 1e-9)


@settings(max_examples=200, deadline=None)
@given(values_lists, st.sampled_from([DEFAULT_EPS, 0.01, 0.05]))
def test_every_rank_is_within_the_stated_relative_error(values, eps):
    sketch = Sketch(eps)
    sketch.extend(values)
    ordered = sorted(values)
    assert len(sketch) == len(values) and sketch[0] == ordered[0] and sketch[-1] == ordered[-1]
    for k, exact in enumerate(ordered):
        assert close(sketch[k], exact, eps), (k, sketch[k], exact)
    for p in (1, 50, 80, 90, 95, 99):
        assert close(percentile(sketch, p), percentile(ordered, p), eps)
        assert sketch.quantile(p) == percentile(sketch, p)
    for q in (0.5, 0.9):
        for a, b in zip(percentile_interval(sketch, q), percentile_interval(ordered, q)):
            assert (a is None) == (b is None) and (a is None or close(a, b, eps))
    assert list(sketch) == [sketch[k] for k in range(len(values))]
    assert sketch.mean() == float(sum(map(__import__("fractions").Fraction, values)) / len(values))


@settings(max_examples=100, deadline=None)
@given(values_lists, st.randoms(use_true_random=False))
def test_merging_in_any_split_and_order_gives_the_same_sketch(values, rng):
    whole = Sketch()
    whole.extend(values, range(len(values)))
    cuts = sorted(rng.sample(range(len(values) + 1), min(4, len(values) + 1)))
    parts = [(a, b) for a, b in zip([0] + cuts, cuts + [len(values)])]
    rng.shuffle(parts)
    merged = Sketch()
    for a, b in parts:
        part = Sketch()
        part.extend(values[a:b], range(a, b))
        merged.merge(part)
    assert merged == whole and merged.mean_interval(0.95) == whole.mean_interval(0.95)
    assert [merged.first_index(k) for k in range(len(values))] == [whole.first_index(k) for k in range(len(values))]


@given(st.dictionaries(st.integers(0, 20), st.integers(1, 50), min_size=1))
def test_counted_values_read_as_the_expanded_list(counts):
    expanded, counted = _expanded(Counter(counts)), CountedValues(counts)
    assert len(counted) == len(expanded) and list(counted) == list(expanded)
    assert [counted[k] for k in range(len(expanded))] == list(expanded) and counted[-1] == expanded[-1]
    assert percentile_interval(counted, 0.5) == percentile_interval(expanded, 0.5)


def _flaky():
    return prepare_simulation(plan_of(FLAKY), scenario="flaky")  # the shape's window: schedule by window too


def test_above_the_threshold_the_same_seed_gives_the_same_bytes_for_any_jobs():
    sp = _flaky()
    one, two = simulate(sp, 700, seed=3, jobs=1, exact_runs=100), simulate(sp, 700, seed=3, jobs=2, exact_runs=100)
    assert one.approximate == DEFAULT_EPS
    assert report.render_json(sp, one) == report.render_json(sp, two)
    assert report.render_text(sp, one) == report.render_text(sp, two)
    assert one.median_run() == two.median_run()


def test_sketched_figures_are_within_the_error_of_the_exact_ones_and_say_so():
    sp = _flaky()
    exact, sketched = simulate(sp, 700, seed=3, jobs=1), simulate(sp, 700, seed=3, jobs=1, exact_runs=100)
    assert exact.approximate is None
    assert exact.outcomes == sketched.outcomes and exact.stops == sketched.stops
    assert exact.criticality == sketched.criticality and exact.p_within_window == sketched.p_within_window
    assert exact.spills == sketched.spills and exact.started == sketched.started
    assert exact.remaining_median == sketched.remaining_median and exact.upgraded_median == sketched.upgraded_median
    a, b = exact.duration_stats(), sketched.duration_stats()
    assert a["max"] == b["max"] and math.isclose(a["mean"], b["mean"], rel_tol=1e-12)
    for key in ("p50", "p80", "p90", "p95"):
        assert close(b[key], a[key], DEFAULT_EPS)
    assert close(sketched.exposure_p90, exact.exposure_p90, DEFAULT_EPS)
    for k, works in enumerate(exact.window_works):
        if works:
            assert close(percentile(sketched.window_works[k], 90), percentile(works, 90), DEFAULT_EPS)
    median = sketched.median_run()  # a completed run whose duration is within the error of the median's
    assert exact.run_outcomes[median] == "completed"
    assert close(exact.ends[median], exact.ordered_durations()[(len(exact.durations) - 1) // 2], 2 * DEFAULT_EPS)
    text, document = report.render_text(sp, sketched), json.loads(report.render_json(sp, sketched))
    assert "percentiles   approximate, P50 +-0.1%, P90 +-0.1%" in text
    assert document["percentiles"] == {"exact": False, "relative_error": DEFAULT_EPS}
    assert parse(report.render_json(sp, sketched)).percentile_error == DEFAULT_EPS
    assert "percentiles" not in json.loads(report.render_json(sp, exact)) and "approximate" not in report.render_text(sp, exact)


def deep_bytes(root) -> int:
    """sys.getsizeof of every object reachable from `root` (arrays count their buffers)."""
    seen, total, todo = set(), 0, [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        todo.extend(gc.get_referents(obj))
    return total


def test_above_the_threshold_the_summary_does_not_grow_with_the_runs(monkeypatch):
    sp = _flaky()
    pool = [montecarlo.run_once(sp, 5, i) for i in range(300)]  # replayed, as bench/bench_memory.py --replay does
    monkeypatch.setattr(montecarlo.fast, "runner", lambda sp: (lambda seed, index: pool[index % len(pool)]))
    small, large = simulate(sp, 1000, seed=5, jobs=1, exact_runs=100), simulate(sp, 8000, seed=5, jobs=1, exact_runs=100)
    small.intervals(), large.intervals(), small.median_run(), large.median_run()
    grown = deep_bytes(large) - deep_bytes(small)
    # exact, 7,000 more runs cost about 190 bytes each (1.3 MB); sketched, the same values fill no new bin
    assert grown < 10_000, f"{grown} more bytes for 7,000 more runs"


def test_ctrl_c_above_the_threshold_keeps_what_was_folded():
    sp = _flaky()
    seen = []

    def progress(n):
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    try:
        simulate(sp, 3000, seed=2, jobs=1, exact_runs=100, progress=progress)
    except montecarlo.Interrupted as interrupted:
        assert interrupted.done == [] and interrupted.finished == sum(seen) == interrupted.partial.runs
        assert interrupted.partial.approximate == DEFAULT_EPS
        report.render_text(sp, interrupted.partial)  # the partial report renders
    else:
        raise AssertionError("not interrupted")
