"""Shared speed factors (timing `run_spread`, `kind_spread`) and runs that start from what a night has shown."""

from __future__ import annotations

import math
import statistics

import pytest

from hciplan.compiler.durations import factor_quantile, shared_factor_sigma
from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import ABORTED, COMPLETED, run_once
from hciplan.simulator.montecarlo import simulate, trace_run
from hciplan.simulator.prepared import Given, with_given
from plan_models import Shape
from sim_helpers import final_segments, plan_of, shape_text


def spreads(run: float, kind: float) -> str:
    return f"\ntiming {{\n  run_spread = {run}  kind_spread = {kind}\n}}\n"


@pytest.fixture(scope="module")
def plans():
    return {name: plan_of(shape_text(Shape(nodes=4), tail=spreads(*s)))
            for name, s in {"independent": (0, 0), "shared": (0.2, 0.2), "default": (0.1, 0.1)}.items()}


def test_a_lognormal_factor_of_mean_one():
    sigma = shared_factor_sigma(None)
    assert sigma == pytest.approx(math.hypot(0.1, 0.1))
    assert factor_quantile(0.0, 0.9) == 1.0
    # the median of a mean-1 lognormal is below 1, its P90 above
    assert factor_quantile(sigma, 0.5) < 1 < factor_quantile(sigma, 0.9)


def test_shared_factors_keep_the_mean_and_widen_the_tail(plans):
    summaries = {}
    for name in ("independent", "shared"):
        sp = prepare_simulation(plans[name], ignore_windows=True)
        summaries[name] = simulate(sp, 1500, seed=5, jobs=1)
    flat, shared = summaries["independent"].durations, summaries["shared"].durations
    error = math.hypot(statistics.pstdev(flat), statistics.pstdev(shared)) / math.sqrt(1500)
    assert abs(statistics.fmean(flat) - statistics.fmean(shared)) < 4 * error
    assert statistics.pstdev(shared) > 2 * statistics.pstdev(flat)
    assert summaries["shared"].duration_stats()["p90"] > summaries["independent"].duration_stats()["p90"]


def test_the_nodes_of_one_run_are_slow_together(plans):
    sp = prepare_simulation(plans["shared"], ignore_windows=True)
    installs = [i for i, kind in enumerate(sp.kinds) if kind == "cau.install"]
    assert len(installs) == 4
    first, second = [], []
    for index in range(300):
        done = final_segments(trace_run(sp, 1, index))
        first.append(done[installs[0]][1] - done[installs[0]][0])
        second.append(done[installs[1]][1] - done[installs[1]][0])
    assert statistics.correlation(first, second) > 0.3
    sp = prepare_simulation(plans["independent"], ignore_windows=True)
    first, second = [], []
    for index in range(300):
        done = final_segments(trace_run(sp, 1, index))
        first.append(done[installs[0]][1] - done[installs[0]][0])
        second.append(done[installs[1]][1] - done[installs[1]][0])
    assert abs(statistics.correlation(first, second)) < 0.2


def test_the_compiler_bounds_include_the_shared_factors(plans):
    wide = {s.id: s.p90_minutes for s in plans["shared"].steps}
    for step in plans["independent"].steps:
        if step.p90_minutes > 0:
            assert wide[step.id] > step.p90_minutes


def test_without_spread_the_factor_stream_is_not_drawn(plans):
    # the factors come from their own stream: the run's other draws do not move
    sp = prepare_simulation(plans["independent"], ignore_windows=True)
    assert run_once(sp, 3, 7).end == run_once(sp, 3, 7).end
    shared = prepare_simulation(plans["shared"], ignore_windows=True)
    assert run_once(sp, 3, 7).end != run_once(shared, 3, 7).end


def test_a_run_from_the_middle_keeps_the_facts_and_the_running_steps_age(plans):
    sp = prepare_simulation(plans["default"], ignore_windows=True)
    night = trace_run(sp, 0, 0)
    done = final_segments(night)
    order = sorted(done, key=lambda i: done[i][1])
    cut = order[len(order) // 2]  # the step running at `now`
    begin, finish = done[cut]
    now = (begin + finish) / 2
    facts = tuple((i, *done[i]) for i in order if done[i][1] <= now)
    given = Given(now=now, done=facts, running=((cut, begin),))
    rest = with_given(sp, given, (), sp.run_factor, sp.group_factors)
    assert rest.key != sp.key
    for index in range(50):
        run = trace_run(rest, 9, index)
        assert run.outcome in (COMPLETED, ABORTED)
        after = final_segments(run)
        for i, start, end in facts:
            assert after[i] == (start, end)
        if run.outcome == COMPLETED:
            assert after[cut][0] == begin and after[cut][1] > now
            assert min(after[i][0] for i in after if i not in dict.fromkeys(f[0] for f in facts) and i != cut) >= now


def test_a_slow_night_so_far_makes_the_rest_slower(plans):
    sp = prepare_simulation(plans["default"], ignore_windows=True)
    mu, sigma = sp.run_factor
    slow = with_given(sp, Given(now=0.0), (), (mu + math.log(1.5), sigma / 3), sp.group_factors)
    base = simulate(sp, 400, seed=2, jobs=1).duration_stats()["p50"]
    slower = simulate(slow, 400, seed=2, jobs=1).duration_stats()["p50"]
    assert slower > 1.3 * base
