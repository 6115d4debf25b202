"""The exact fast path: one run without failures evaluated in topological order, no simpy.

A run with no injected failures, no risks and no journal (`hciplan progress`) has
no interrupts, retries or watchdogs: every step starts when its last predecessor
ends (or, heading a unit with windows, where the window rule lets it) and holds
for its drawn duration. Evaluating the steps in topological order then gives the
same start and end of every step as the simpy engine (engine.py), bit for bit:
the durations come from the same generator in the same order (`engine.run_draws`),
a step's start is the maximum of its predecessors' ends (the time simpy resumes
it), its end is `start + duration` (simpy's `now + delay`), the window rule's
waits are the same `now + (start - now)` additions, and the RunResult is built by
the engine's own `_result`. simpy stays the reference: the evaluator gives up
(returns None, and the caller runs simpy) for a plan it cannot follow exactly,
and for a run in which
- a step's duration reaches its bound (the engine's failure path takes over), or
- two units stop at the window rule at the same time (which one the run names
  depends on simpy's event order).
tests/test_fast_path.py holds the two paths to identical results; bench/bench_fast.py times them.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from typing import Callable

from hciplan.simulator.engine import (
    LAST_WINDOW_ENDED, RunResult, _result, _State, no_fit_reason, run_draws, run_once, runtime,
)
from hciplan.simulator.prepared import NO_STEP, SimPlan

FORCE_SIMPY = "HCIPLAN_SIMPY"  # set to 1: every run takes the simpy engine (tests compare the two paths)


@dataclass(frozen=True, slots=True)
class _FastPlan:
    """Per-plan facts of the fast path, computed once per plan key."""

    eligible: bool
    order: tuple[int, ...]  # a topological order of the steps (plan order when it is one)
    gated: tuple[bool, ...]  # heads of units under windows: they pass the window rule (the engine's slow path)


_PLANS: dict[str, _FastPlan] = {}


def _topological(preds: tuple[tuple[int, ...], ...]) -> tuple[int, ...] | None:
    n = len(preds)
    if all(p < i for i in range(n) for p in preds[i]):
        return tuple(range(n))
    done: list[int] = []
    placed = [False] * n
    while len(done) < n:
        ready = [i for i in range(n) if not placed[i] and all(placed[p] for p in preds[i])]
        if not ready:
            return None  # a cycle: the compiler rejects it, and simpy would never end either
        for i in ready:
            placed[i] = True
        done.extend(ready)
    return tuple(done)


def _ancestors(preds: tuple[tuple[int, ...], ...], i: int) -> set[int]:
    seen: set[int] = set()
    todo = list(preds[i])
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(preds[p])
    return seen


def fast_plan(sp: SimPlan) -> _FastPlan:
    """Whether the fast path can follow `sp` exactly, and its per-plan structures."""
    fp = _PLANS.get(sp.key)
    if fp is not None:
        return fp
    order = _topological(sp.preds)
    eligible = not sp.injections and not sp.risks and sp.given is None and order is not None
    # A repair wait's duration reads its reboot's times: the engine's two duration rules (hot path and
    # window-rule path) agree only if that reboot has always ended first, i.e. it is an ancestor.
    for i, reboot in enumerate(sp.repair_from):
        if eligible and reboot is not None and reboot != NO_STEP and reboot not in _ancestors(sp.preds, i):
            eligible = False
    heads = {u.steps[0] for u in sp.units}
    gated = tuple(bool(sp.windows) and i in heads for i in range(sp.size))
    fp = _FastPlan(eligible, order or (), gated)
    if len(_PLANS) > 8:
        _PLANS.clear()
    _PLANS[sp.key] = fp
    return fp


def run_fast(sp: SimPlan, seed: int, index: int) -> RunResult | None:
    """Run `index` evaluated in topological order; None where only simpy gives the exact result."""
    fp = fast_plan(sp)
    if not fp.eligible:
        return None
    rt = runtime(sp)
    base = run_draws(sp, rt, seed, index)[0]
    n = sp.size
    start = [-1.0] * n
    end = [-1.0] * n
    preds, repair, bound, gated = sp.preds, rt.repair, sp.bound, fp.gated
    units, unit_of, windows, wstarts, wends = sp.units, sp.unit_of, sp.windows, rt.window_starts, rt.window_ends
    last_window = len(windows)
    stop_step, stop_time, stop_reason, tied = NO_STEP, 0.0, "", False
    for i in fp.order:
        now = rt.now
        blocked = False
        for p in preds[i]:
            e = end[p]
            if e < 0:  # a predecessor never ended (its unit stopped at the window rule): i never starts
                blocked = True
                break
            if e > now:
                now = e
        if blocked:
            continue
        rep = repair[i]
        if gated[i]:
            # the engine's gate(): wait for a window that still holds the unit, or stop
            need = units[unit_of[i]].need
            reason = None
            while True:
                k = bisect.bisect_right(wends, now)
                if k == last_window:
                    reason = LAST_WINDOW_ENDED
                    break
                if now < wstarts[k]:
                    now = now + (wstarts[k] - now)  # simpy's timeout: now + delay
                    continue
                if now + need <= wends[k]:
                    break
                if k + 1 == last_window:
                    reason = no_fit_reason(sp, need, k)
                    break
                now = now + (wstarts[k + 1] - now)
            if reason is not None:
                if stop_step == NO_STEP or now < stop_time:
                    stop_step, stop_time, stop_reason, tied = i, now, reason, False
                elif now == stop_time:
                    tied = True
                continue
            # the engine's duration() on its slow path, with factor 1.0
            if rep is None:
                d = base[i] * 1.0
            else:
                reboot, overhead, ratio = rep
                if reboot == NO_STEP or end[reboot] < 0:
                    d = overhead * base[i] * 1.0
                else:
                    d = (overhead + ratio * (end[reboot] - start[reboot])) * base[i] * 1.0
        elif rep is None:  # the engine's hot path
            d = base[i]
        else:
            reboot, overhead, ratio = rep
            d = (overhead + ratio * (end[reboot] - start[reboot] if reboot != NO_STEP else 0.0)) * base[i]
        if not d <= bound[i]:  # past its bound: a failure, the engine's to model
            return None
        start[i] = now
        end[i] = now + d
    if tied:
        return None
    st = _State()
    st.stop_step, st.stop_reason = stop_step, stop_reason
    return _result(sp, index, st, start, end, False)


def runner(sp: SimPlan) -> Callable[[int, int], RunResult]:
    """The function (seed, index) -> RunResult for `sp`'s runs: the fast path where exact, simpy otherwise.

    `HCIPLAN_SIMPY=1` in the environment forces simpy for every run (the reference, for tests and benchmarks).
    """
    if os.environ.get(FORCE_SIMPY) == "1" or not fast_plan(sp).eligible:
        return lambda seed, index: run_once(sp, seed, index)

    def run(seed: int, index: int) -> RunResult:
        r = run_fast(sp, seed, index)
        return r if r is not None else run_once(sp, seed, index)
    return run
