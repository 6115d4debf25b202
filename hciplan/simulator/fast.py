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
A worker's batch evaluates its runs a block at a time (`run_block`): with numpy,
the block's keyed draws and its runs' schedules by window are computed together
on arrays, the same floats as run by run.
tests/test_fast_path.py holds the two paths to identical results; bench/bench_fast.py times them.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import os
import _random
import random
from dataclasses import dataclass
from typing import Callable

from hciplan.compiler.durations import SPREAD, Scaled, Triangular
from hciplan.simulator import engine
from hciplan.simulator.engine import (
    _TWOPI, LAST_WINDOW_ENDED, RunResult, _result, _State, down_start, no_fit_reason, run_draws, run_once, run_seed,
    runtime,
)
from hciplan.simulator.prepared import NO_STEP, SimPlan

FORCE_SIMPY = "HCIPLAN_SIMPY"  # set to 1: every run takes the simpy engine (tests compare the two paths)


@dataclass(frozen=True, slots=True)
class _FastPlan:
    """Per-plan facts of the fast path, computed once per plan key."""

    eligible: bool
    order: tuple[int, ...]  # a topological order of the steps (plan order when it is one)
    gated: tuple[bool, ...]  # heads of units under windows: they pass the window rule (the engine's slow path)
    draw_base: Callable | None  # the sequential base draws, inlined, compiled at first call (None: keyed draws)
    # per step in `order`: (index, predecessors, the only predecessor or -1, repair, bound, gated), so the
    # evaluator unpacks one tuple per step instead of indexing five lists
    steps: tuple[tuple, ...] = ()
    draw_run: Callable | None = None  # sequential: (seed, index) -> the run's scaled base draws, written out
    evaluate: Callable | None = None  # the loop of run_fast over `steps`, written out (_evaluator)


_PLANS: dict[str, _FastPlan] = {}


def _topological(preds: tuple[tuple[int, ...], ...]) -> tuple[int, ...] | None:
    """Plan order when every predecessor comes first (the compiler's plans), else Kahn's order; None on a cycle."""
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


def _triangular_part(dist):
    """random.Random.triangular's constants for `dist` (a Triangular, or a Scaled one), or None if not inlined."""
    minutes = None
    if isinstance(dist, Scaled):
        minutes, dist = dist.minutes, dist.spread
    if not isinstance(dist, Triangular) or dist.high == dist.low:
        return None
    low, high = dist.low, dist.high
    if not all(map(math.isfinite, (low, high, dist.mode) + ((minutes,) if minutes is not None else ()))):
        return None
    c = (dist.mode - low) / (high - low)  # as random.triangular computes it, so every result is the same float
    return low, c, high - low, high, low - high, 1.0 - c, minutes


def _draw_lines(sp: SimPlan, names: dict[str, object]) -> list[str]:
    """The straight-line body drawing `v0 .. v{n-1}` from `rand` (engine._draw_of's draws, triangular inlined).

    The same `rng.random()` calls in the same order and the same operations as random.triangular
    (CPython's Lib/random.py), so every value is the same float; a step with another distribution
    calls the engine's own draw (put in `names`, with `rng`). A step's constants are float literals
    (repr round-trips a float exactly), so no loop, tuple unpacking or None checks per step.
    """
    rt = runtime(sp)
    lines = []
    for i, d in enumerate(sp.durations):
        parts = (SPREAD,) if d.repair else (d.main,) if d.extra is None else (d.main, d.extra)
        program = tuple(_triangular_part(p) for p in parts)
        if not all(p is not None for p in program):
            names[f"draw{i}"] = rt.draws[i]
            lines.append(f"    v{i} = draw{i}(rng)")
            continue
        for k, (low, c, width, high, back, rest, minutes) in enumerate(program):
            value = (f"(({high!r}) + ({back!r}) * sqrt((1.0 - u) * ({rest!r})) if u > ({c!r}) "
                     f"else ({low!r}) + ({width!r}) * sqrt(u * ({c!r})))")
            if minutes is not None:
                value = f"({minutes!r}) * {value}"
            lines.append("    u = rand()")
            lines.append(f"    v{i} = {value}" if k == 0 else f"    v{i} = v{i} + {value}")  # main + extra, main first
    return lines


def _inlined_draws(sp: SimPlan) -> Callable:
    """The engine's sequential base draws (engine._draw_of) with random.triangular's arithmetic inlined.

    One straight-line function per plan, written out and compiled once (`_draw_lines`): the calls
    saved are most of a fast run's cost.
    """
    names: dict[str, object] = {"sqrt": math.sqrt}
    lines = ["def draw_base(rng):", "    rand = rng.random"] + _draw_lines(sp, names)
    lines.append(f"    return [{', '.join(f'v{i}' for i in range(sp.size))}]")
    exec(compile("\n".join(lines) + "\n", f"<hciplan.simulator.fast draws {sp.key[:12]}>", "exec"), names)
    return names["draw_base"]


def _inlined_run(sp: SimPlan) -> Callable | None:
    """(seed, index) -> run `index`'s base durations scaled by its shared factors: `engine.run_draws(...)[0]`
    for sequential draws, written out in one function per plan.

    The base draws as `_inlined_draws`; then the factors as engine._gauss_all draws them (random.gauss's
    Box-Muller: two normals per pair of uniforms, in order, the same operations) from the run's
    "/factors" generator, `exp` of the run's, the night times `exp` of each group's, and each step's
    `b * f` with its group's factor: the same floats, without the lists and loops between them. Where
    every draw is inlined (only `random()` is called), the generators are random.Random's C base class
    seeded with the same integer (random.Random.seed hands an int to it unchanged), without the
    Python-level __init__ and seed.
    """
    rt = runtime(sp)
    if not all(map(math.isfinite, itertools.chain.from_iterable(rt.factor_params))):
        return None  # not written as literals: run_draws draws them
    names: dict[str, object] = {"sqrt": math.sqrt, "log": math.log, "cos": math.cos, "sin": math.sin,
                                "exp": math.exp, "Random": _random.Random, "run_seed": run_seed}
    lines = ["def draw_run(seed, index):", "    rng = Random(run_seed(seed, index))", "    rand = rng.random"]
    lines += _draw_lines(sp, names)
    if any(name.startswith("draw") for name in names):  # another distribution's draw: it needs random.Random
        names["Random"] = random.Random
    if not rt.shared:
        lines.append(f"    return [{', '.join(f'v{i}' for i in range(sp.size))}]")
    else:
        lines.append('    rand = Random(run_seed(seed, index, "/factors")).random')
        for k, (mu, sigma) in enumerate(rt.factor_params):
            if k % 2 == 0:  # a new pair: the first uniform's angle, the second's radius (random.gauss)
                lines.append(f"    x2pi = rand() * ({_TWOPI!r})")
                lines.append("    g2rad = sqrt(-2.0 * log(1.0 - rand()))")
                z = "cos(x2pi) * g2rad"
            else:
                z = "sin(x2pi) * g2rad"  # the pair's second normal, kept for the next call
            lines.append(f"    f{k} = ({mu!r}) + ({z}) * ({sigma!r})")
        lines.append("    night = exp(f0)")
        for g in range(1, len(rt.factor_params)):
            lines.append(f"    g{g - 1} = night * exp(f{g})")
        lines.append(f"    return [{', '.join(f'v{i} * g{k}' for i, k in enumerate(sp.factor_group))}]")
    exec(compile("\n".join(lines) + "\n", f"<hciplan.simulator.fast run draws {sp.key[:12]}>", "exec"), names)
    return names["draw_run"]


def _literal(x: float) -> str | None:
    """A float as Python source that reads back the same float (repr; INF for infinity), or None for nan."""
    if math.isnan(x):
        return None
    return f"({float(x)!r})" if math.isfinite(x) else "INF" if x > 0 else "(-INF)"


def _gate(sp: SimPlan, wstarts: list[float], wends: list[float], now: float, need: float) -> tuple[float, str | None]:
    """The engine's gate() for a unit head ready at `now`: (the time it starts, None) or (the time it stops, why).

    The loop of `run_fast`, for the written-out evaluator (`_evaluator`), which calls it only where the
    unit does not start at once."""
    last_window = len(wends)
    while True:
        k = bisect.bisect_right(wends, now)
        if k == last_window:
            return now, LAST_WINDOW_ENDED
        if now < wstarts[k]:
            now = now + (wstarts[k] - now)  # simpy's timeout: now + delay
            continue
        if now + need <= wends[k]:
            return now, None
        if k + 1 == last_window:
            return now, no_fit_reason(sp, need, k)
        now = now + (wstarts[k + 1] - now)


def _evaluator(sp: SimPlan, steps: tuple[tuple, ...]) -> Callable | None:
    """`run_fast`'s loop over `steps` written out for this plan, compiled once: base -> (start, end, stop step,
    stop reason), or None where only simpy is exact (a bound reached, a tie at the window rule).

    Line for line the loop's operations on each step (its predecessors' ends, the window rule, the hot
    path's or the window-rule path's duration, the bound), with every index and constant resolved: a
    step's start and end are locals, its predecessors named, its bound and the unit's fit literals, and
    the checks a plan cannot need left out (a step after no unit head is never skipped). None (the loop
    runs) for a constant that is not a finite float.
    """
    rt = runtime(sp)
    n = sp.size
    units, unit_of = sp.units, sp.unit_of
    skippable = [False] * n  # may stay unstarted: a unit head under windows, or after one
    lines = ["def evaluate(base):"]
    if n:
        lines.append(f"    {', '.join(f'b{i}' for i in range(n))}{',' if n == 1 else ''} = base")
        lines.append(f"    {' = '.join(f's{i}' for i in range(n))} = {' = '.join(f'e{i}' for i in range(n))} = -1.0")
    lines.append(f"    stop_step, stop_time, stop_reason, tied = {NO_STEP}, 0.0, '', False")
    origin = _literal(rt.now)
    if origin is None:
        return None
    for i, before, _, rep, bound, gated in steps:
        bound = _literal(bound)
        if bound is None:
            return None
        waits = [p for p in before if skippable[p]]
        skippable[i] = gated or bool(waits)
        pad = "    "
        if waits:  # a predecessor that never ended (its unit stopped at the window rule): i never starts
            lines.append(f"    if {' and '.join(f'e{p} >= 0.0' for p in waits)}:")
            pad = "        "
        if not before:
            lines.append(f"{pad}now = {origin}")
        elif len(before) == 1:
            lines.append(f"{pad}now = e{before[0]}")
        else:
            lines.append(f"{pad}now = max({', '.join(f'e{p}' for p in before)})")
        if rep is not None:
            reboot, lead, share, overhead, ratio = rep
            constants = [_literal(x) for x in (share, overhead, ratio)]
            if None in constants:
                return None
            share, overhead, ratio = constants
            if reboot != NO_STEP:  # engine.down_start, on the locals
                down = (f"s{reboot}" if lead == NO_STEP else
                        f"(s{reboot} if e{lead} < 0 else s{reboot} - {share} * (e{lead} - s{lead}))")
        if gated:
            need = _literal(units[unit_of[i]].need)
            if need is None:
                return None
            # the engine's gate(): the first test is the common case (inside a window that holds the unit)
            lines.append(f"{pad}reason = None")
            lines.append(f"{pad}k = bisect(wends, now)")
            lines.append(f"{pad}if k == last_window or now < wstarts[k] or not now + {need} <= wends[k]:")
            lines.append(f"{pad}    now, reason = gate(now, {need})")
            lines.append(f"{pad}if reason is not None:")
            lines.append(f"{pad}    if stop_step == {NO_STEP} or now < stop_time:")
            lines.append(f"{pad}        stop_step, stop_time, stop_reason, tied = {i}, now, reason, False")
            lines.append(f"{pad}    elif now == stop_time:")
            lines.append(f"{pad}        tied = True")
            lines.append(f"{pad}else:")
            pad += "    "
            # the engine's duration() on its slow path, with factor 1.0
            if rep is None:
                lines.append(f"{pad}d = b{i} * 1.0")
            elif reboot == NO_STEP:
                lines.append(f"{pad}d = {overhead} * b{i} * 1.0")
            else:
                lines.append(f"{pad}if e{reboot} < 0:")
                lines.append(f"{pad}    d = {overhead} * b{i} * 1.0")
                lines.append(f"{pad}else:")
                lines.append(f"{pad}    d = ({overhead} + {ratio} * (e{reboot} - {down})) * b{i} * 1.0")
        elif rep is None:  # the engine's hot path
            lines.append(f"{pad}d = b{i}")
        elif reboot == NO_STEP:
            lines.append(f"{pad}d = 0.0 * b{i}")
        else:
            lines.append(f"{pad}d = ({overhead} + {ratio} * (e{reboot} - {down})) * b{i}")
        lines.append(f"{pad}if not d <= {bound}:")  # past its bound: a failure, the engine's to model
        lines.append(f"{pad}    return None")
        lines.append(f"{pad}s{i} = now")
        lines.append(f"{pad}e{i} = now + d")
    lines.append("    if tied:")
    lines.append("        return None")
    lines.append(f"    return [{', '.join(f's{i}' for i in range(n))}], [{', '.join(f'e{i}' for i in range(n))}], "
                 "stop_step, stop_reason")
    names = {"bisect": bisect.bisect_right, "wstarts": rt.window_starts, "wends": rt.window_ends,
             "last_window": len(sp.windows), "gate": functools.partial(_gate, sp, rt.window_starts, rt.window_ends),
             "INF": math.inf}
    exec(compile("\n".join(lines) + "\n", f"<hciplan.simulator.fast evaluate {sp.key[:12]}>", "exec"), names)
    return names["evaluate"]


class _OnFirstCall:
    """`_inlined_draws(sp)`, compiled when first called: run_fast draws through `_inlined_run`, so a plan's
    processes need not pay for compiling both (tens of milliseconds on the 16-node plan)."""

    __slots__ = ("sp", "draw")

    def __init__(self, sp: SimPlan):
        self.sp, self.draw = sp, None

    def __call__(self, rng) -> list[float]:
        if self.draw is None:
            self.draw = _inlined_draws(self.sp)
        return self.draw(rng)


def fast_plan(sp: SimPlan) -> _FastPlan:
    """Whether the fast path can follow `sp` exactly, and its per-plan structures."""
    fp = _PLANS.get(sp.key)
    if fp is not None:
        return fp
    order = _topological(sp.preds)
    eligible = not sp.injections and not sp.risks and sp.given is None and order is not None
    # A repair wait's duration reads its reboot's times (and its setup's): the engine's two duration rules (hot
    # path and window-rule path) agree only if that reboot has always ended first, i.e. it is an ancestor.
    for i, reboot in enumerate(sp.repair_from):
        if eligible and reboot is not None and reboot != NO_STEP and reboot not in _ancestors(sp.preds, i):
            eligible = False
    heads = {u.steps[0] for u in sp.units}
    gated = tuple(bool(sp.windows) and i in heads for i in range(sp.size))
    repair = runtime(sp).repair
    steps = tuple((i, sp.preds[i], sp.preds[i][0] if len(sp.preds[i]) == 1 else -1, repair[i], sp.bound[i], gated[i])
                  for i in order or ())
    sequential = sp.draws != "keyed"
    fp = _FastPlan(eligible, order or (), gated, _OnFirstCall(sp) if sequential else None, steps,
                   _inlined_run(sp) if sequential and sp.given is None else None,
                   _evaluator(sp, steps) if eligible else None)
    if len(_PLANS) > 8:
        _PLANS.clear()
    _PLANS[sp.key] = fp
    return fp


def _base(sp: SimPlan, fp: _FastPlan, rt, seed: int, index: int) -> list[float]:
    """Run `index`'s base durations scaled by its shared factors (`engine.run_draws(...)[0]`, the same floats)."""
    if fp.draw_run is not None:
        return fp.draw_run(seed, index)
    if rt.keyed and rt.keyed_night is not None:  # _keyed_streams' base, without its fresh-draw functions
        return rt.keyed_night(run_seed(seed, index, "/keyed"))[0]
    return run_draws(sp, rt, seed, index)[0]


def run_fast(sp: SimPlan, seed: int, index: int) -> RunResult | None:
    """Run `index` evaluated in topological order; None where only simpy gives the exact result."""
    fp = fast_plan(sp)
    if not fp.eligible:
        return None
    rt = runtime(sp)
    base = _base(sp, fp, rt, seed, index)
    if fp.evaluate is not None:  # the loop below, written out for this plan
        evaluated = fp.evaluate(base)
        if evaluated is None:
            return None
        start, end, stop_step, stop_reason = evaluated
        st = _State()
        st.stop_step, st.stop_reason = stop_step, stop_reason
        return _result(sp, index, st, start, end, False)
    n = sp.size
    start = [-1.0] * n
    end = [-1.0] * n
    units, unit_of, windows, wstarts, wends = sp.units, sp.unit_of, sp.windows, rt.window_starts, rt.window_ends
    last_window = len(windows)
    stop_step, stop_time, stop_reason, tied = NO_STEP, 0.0, "", False
    origin = rt.now
    at = end.__getitem__
    for i, before, one, rep, bound, gated in fp.steps:
        # a predecessor that never ended (its unit stopped at the window rule, stop_step set): i never starts
        if one >= 0:
            now = end[one]  # when simpy resumes it: its predecessor's end
            if now < 0 and stop_step != NO_STEP:
                continue
        elif before:
            if stop_step != NO_STEP and min(map(at, before)) < 0:
                continue
            now = max(map(at, before))  # its last predecessor's end
        else:
            now = origin
        if gated:
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
                reboot, lead, share, overhead, ratio = rep
                if reboot == NO_STEP or end[reboot] < 0:
                    d = overhead * base[i] * 1.0
                else:
                    down = end[reboot] - down_start(start[reboot], lead, share, start, end)
                    d = (overhead + ratio * down) * base[i] * 1.0
        elif rep is None:  # the engine's hot path
            d = base[i]
        else:
            reboot, lead, share, overhead, ratio = rep
            d = (overhead + ratio * (end[reboot] - down_start(start[reboot], lead, share, start, end)
                                     if reboot != NO_STEP else 0.0)) * base[i]
        if not d <= bound:  # past its bound: a failure, the engine's to model
            return None
        start[i] = now
        end[i] = now + d
    if tied:
        return None
    st = _State()
    st.stop_step, st.stop_reason = stop_step, stop_reason
    return _result(sp, index, st, start, end, False)


BLOCK = 128  # runs evaluated together by run_block: enough to spread numpy's per-call cost, small for the cache


def _union(np, b, e):
    """busy_minutes of each row's intervals, the rows sorted by (start, end), on numpy arrays (m x n).

    `e` is -inf where an interval is left out (it never ended, or is not in the window). busy_minutes'
    loop adds `e - b` where an interval opens a stretch (b > reach) and `e - reach` where it reaches
    further (b <= reach < e), reach being the greatest end so far: both are `e - max(b, reach)` where
    e > reach (with every e >= b), and nothing elsewhere. The row's sum is a cumulative sum, which adds
    left to right as the loop does (adding a 0.0 changes no sum of non-negative terms), so the same floats.
    Equal (start, end) pairs in another order add the same terms: which of them comes first does not matter.
    """
    reach = np.maximum.accumulate(e, axis=1)
    before = np.empty_like(reach)
    before[:, 0] = -np.inf
    before[:, 1:] = reach[:, :-1]
    with np.errstate(invalid="ignore"):  # -inf - -inf where np.where drops it
        piece = np.where(e > before, e - np.maximum(b, before), 0.0)
    return np.cumsum(piece, axis=1)[:, -1]


def _block_schedules(sp: SimPlan, starts: list[list[float]], ends: list[list[float]]) -> list[tuple] | None:
    """Per run, the (unit windows, units done, overrun, work, window work, within) that `engine._result` computes
    with `_by_window`, `busy_minutes` and `_inside_windows`, for many runs at once on numpy arrays: the same
    bits (tests/test_fast_path.py), at a few microseconds a run instead of tens (the sort and the Python
    passes over the steps). None where only the per-run code is known exact: no numpy, no steps, a step in
    two units, a step that ends before it starts.
    """
    np = engine._numpy()
    rt = runtime(sp)
    if np is None or not sp.size or not rt.disjoint or not starts:
        return None
    b, e = np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64)
    ended = e >= 0
    if (ended & (e < b)).any():
        return None
    m = len(starts)
    last = e.max(axis=1)
    last = np.where(last < 0, engine._run_start(sp), last)  # _result's: no step ended, the run's own start
    order = np.lexsort((e, b), axis=1)  # by start, then end: sorted()'s order of the (start, end) pairs
    sb, se = np.take_along_axis(b, order, 1), np.take_along_axis(np.where(ended, e, -np.inf), order, 1)
    work = _union(np, sb, se).tolist()
    if not sp.windows:
        return [((), (), 0.0, w, (), None) for w in work]
    wstarts, wends = np.array(rt.window_starts), np.array(rt.window_ends)
    began, finished = b[:, rt.unit_heads], e[:, rt.unit_tails]
    where = np.where(began >= 0, np.searchsorted(wstarts, began, side="right") - 1, -1)  # _by_window's bisect
    if rt.unit_heads:
        w = wends[where]  # where -1 picks the last window's end: masked out below
        x = np.where(finished >= 0, finished, last[:, None]) - np.where(w > began, w, began)
        overrun = np.cumsum(np.where((where >= 0) & (x > 0.0), x, 0.0), axis=1)[:, -1].tolist()  # in unit order
    else:
        overrun = [0.0] * m
    step_window = np.concatenate((where, np.full((m, 1), -1)), axis=1)[:, rt.step_unit]  # -1: in no unit
    sw = np.take_along_axis(step_window, order, 1)
    window_work = np.stack([_union(np, sb, np.where(sw == k, se, -np.inf)) for k in range(len(wstarts))],
                           axis=1).tolist()
    limit = np.array(rt.limits)[np.searchsorted(wstarts, b, side="right")]  # _inside_windows' (completed runs)
    within = (~((e > limit) | (b > limit)).any(axis=1)).tolist()
    return [(tuple(u), tuple(d), o, w, tuple(k), i)
            for u, d, o, w, k, i in zip(where.tolist(), (finished >= 0).tolist(), overrun, work, window_work, within)]


def run_block(sp: SimPlan, seed: int, first: int, last: int) -> list[RunResult | None]:
    """Runs first .. last - 1 as `run_fast` gives them (None: only simpy is exact), their schedules by window
    computed together (`_block_schedules`): what run_batch calls, a block of BLOCK runs at a time."""
    fp = fast_plan(sp)
    if not fp.eligible or fp.evaluate is None:
        return [run_fast(sp, seed, index) for index in range(first, last)]
    rt = runtime(sp)
    evaluate = fp.evaluate
    if fp.draw_run is None and rt.keyed and rt.keyed_night is not None:  # the block's keyed draws in one pass
        bases = rt.keyed_night.block([run_seed(seed, index, "/keyed") for index in range(first, last)])
        evaluated = [evaluate(base) for base in bases]
    else:
        evaluated = [evaluate(_base(sp, fp, rt, seed, index)) for index in range(first, last)]
    kept = [x for x in evaluated if x is not None]
    schedules = iter(_block_schedules(sp, [x[0] for x in kept], [x[1] for x in kept]) or [None] * len(kept))
    results: list[RunResult | None] = []
    for index, x in zip(range(first, last), evaluated):
        if x is None:
            results.append(None)
            continue
        start, end, stop_step, stop_reason = x
        st = _State()
        st.stop_step, st.stop_reason = stop_step, stop_reason
        results.append(_result(sp, index, st, start, end, False, next(schedules)))
    return results


def block_runner(sp: SimPlan) -> Callable[[int, int, int], list[RunResult | None]] | None:
    """run_block for `sp`, or None where every run takes simpy (`HCIPLAN_SIMPY=1`, or a plan with failures)."""
    if os.environ.get(FORCE_SIMPY) == "1" or not fast_plan(sp).eligible:
        return None
    return functools.partial(run_block, sp)


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
