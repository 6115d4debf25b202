"""What is left of the night, simulated from now: the runs, and what `hciplan progress` reads off them.

The engine starts at `now` from what the journal shows (`prepared.Given`): done
and skipped steps are facts, a running step draws what is left of its duration
beyond its age, every other step is pending (a failed, declined, paused or
window-stopped step starts again, as on a rerun), and the shared speed factors
are the night's posterior (`posterior.py`). Each run keeps, per unit of the
plan, when its head started and when its tail (the safe point) was reached, so
the last safe point before the window's end and what stops there follow from
the same runs.

Run i depends only on (seed, i), and the batches are merged in run order, so
the result is the same whatever `jobs` is. Worker processes ignore Ctrl+C (the
main process ends the series), so an interrupted `--watch` leaves no traceback.
"""

from __future__ import annotations

import math
import signal
from array import array
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

from hciplan.simulator.engine import ABORTED, COMPLETED, OUTCOMES, STOPPED, run_once, runtime
from hciplan.simulator.montecarlo import batches, default_jobs, percentile, quiet_gc

MAX_RUNS = 100_000  # each run keeps two times per unit of the plan (simulate keeps one number per run)
from hciplan.simulator.prepared import NO_STEP, SimPlan, SimWindow


@dataclass(frozen=True, slots=True)
class RunTrace:
    """What progress keeps of one simulated run (minutes from the origin; -1: never)."""

    outcome: str
    end: float
    step: int  # aborted: the failing step; stopped: the step that could not start; else NO_STEP
    reason: str
    head_start: array  # per unit of the plan (doubles: a long series keeps two numbers per unit and run)
    tail_end: array


def trace(sp: SimPlan, seed: int, index: int) -> RunTrace:
    run = run_once(sp, seed, index, trace=True)
    start, end = {}, {}
    for s in run.segments:
        if s.status == "ok":
            start[s.step], end[s.step] = s.start, s.end
    return RunTrace(run.outcome, run.end, run.step, run.reason,
                    array("d", (start.get(u.steps[0], -1.0) for u in sp.units)),
                    array("d", (end.get(u.tail, -1.0) for u in sp.units)))


def trace_batch(sp: SimPlan, seed: int, first: int, last: int) -> tuple[int, list[RunTrace]]:
    with quiet_gc() as collect:
        traces = []
        for index in range(first, last):
            traces.append(trace(sp, seed, index))
            collect()
    return first, traces


_WORKER_PLAN: SimPlan | None = None


def _init_worker(sp: SimPlan) -> None:
    global _WORKER_PLAN
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the main process's to handle
    _WORKER_PLAN = sp
    runtime(sp)


def _worker_batch(seed: int, first: int, last: int) -> tuple[int, list[RunTrace]]:
    return trace_batch(_WORKER_PLAN, seed, first, last)


def run_traces(sp: SimPlan, runs: int, seed: int, jobs: int | None = None,
               progress: Callable[[int], None] | None = None) -> list[RunTrace]:
    """Runs 0 .. runs - 1 of the conditioned plan, in run order."""
    jobs = jobs or default_jobs()
    ranges = batches(runs, jobs)
    done: dict[int, list[RunTrace]] = {}
    if jobs == 1 or len(ranges) == 1:
        for first, last in ranges:
            done[first] = trace_batch(sp, seed, first, last)[1]
            if progress:
                progress(last - first)
    else:
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(ranges)), initializer=_init_worker, initargs=(sp,))
        try:
            pending = {pool.submit(_worker_batch, seed, first, last) for first, last in ranges}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    first, traces = future.result()
                    done[first] = traces
                    if progress:
                        progress(len(traces))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl+C: no batch left running
    return [t for first, _ in ranges for t in done[first]]


@dataclass(frozen=True)
class Closing:
    """What the window's end does to the runs that are not done by then."""

    runs: int  # of all runs: not done by the window's end
    stops: tuple[tuple[int, int], ...]  # (unit index, runs): the unit whose head does not start before the end
    aborted: tuple[tuple[int, str, int], ...]  # (step, reason, runs): aborted before the window's end
    runs_on: tuple[tuple[int, int, float], ...]  # (unit index, runs, P90 minutes late): started, ends after


@dataclass(frozen=True)
class Estimate:
    """The simulated rest of the night (minutes from the origin)."""

    runs: int
    seed: int
    outcomes: dict[str, int]
    finish: tuple[float, float] | None  # P50, P90 of the completed runs' ends
    window: SimWindow | None  # tonight's window: the one holding now, else the next
    p_done: float | None  # completed by the window's end (None: no window)
    # The last safe point tonight: the latest unit (plan order) that the runs reach by the window's end with
    # every unit before it, in at least `confidence` of them; its share and the P50 of when. None: none is.
    last_safe_point: tuple[int, float, float] | None
    tail_p50: tuple[float | None, ...]  # per unit: P50 and P90 of the safe point over the runs that reached it
    tail_p90: tuple[float | None, ...]
    tail_share: tuple[float, ...]  # per unit: share of runs that reach its safe point at all
    closing: Closing | None


def summarise(sp: SimPlan, traces: list[RunTrace], seed: int, window: SimWindow | None) -> Estimate:
    runs = len(traces)
    outcomes = {o: sum(1 for t in traces if t.outcome == o) for o in OUTCOMES}
    completed = sorted(t.end for t in traces if t.outcome == COMPLETED)
    finish = (percentile(completed, 50), percentile(completed, 90)) if completed else None
    tail_p50, tail_p90, tail_share = [], [], []
    for u in range(len(sp.units)):
        ends = sorted(t.tail_end[u] for t in traces if t.tail_end[u] >= 0)
        tail_share.append(len(ends) / runs)
        tail_p50.append(percentile(ends, 50) if ends else None)
        tail_p90.append(percentile(ends, 90) if ends else None)
    p_done = closing = last = None
    if window is not None:
        done = [t.outcome == COMPLETED and t.end <= window.end for t in traces]
        p_done = sum(done) / runs
        closing = _closing(sp, [t for t, ok in zip(traces, done) if not ok], window)
        last = _last_safe_point(sp, traces, window.end)
    return Estimate(runs, seed, outcomes, finish, window, p_done, last, tuple(tail_p50), tuple(tail_p90),
                    tuple(tail_share), closing)


def _last_safe_point(sp: SimPlan, traces: list[RunTrace], limit: float) -> tuple[int, float, float] | None:
    """The latest unit whose safe point, and every earlier unit's, the runs reach by `limit` often enough.

    The script runs its units in plan order, so a run is at the k-th safe point only when the k
    units before are done too (the simulator may have finished a later, independent unit first).
    """
    runs = len(traces)
    prefixes = []
    for t in traces:
        k = 0
        while k < len(t.tail_end) and 0 <= t.tail_end[k] <= limit:
            k += 1
        prefixes.append(k)
    ordered = sorted(prefixes, reverse=True)
    need = math.ceil(sp.confidence * runs - 1e-9)  # the runs that must reach it
    k = ordered[need - 1] if 0 < need <= runs else 0
    if k == 0:
        return None
    at = sorted(t.tail_end[k - 1] for t, reach in zip(traces, prefixes) if reach >= k)
    return k - 1, len(at) / runs, percentile(at, 50)


def _closing(sp: SimPlan, late: list[RunTrace], window: SimWindow) -> Closing:
    """Where the runs not done by the window's end stand then: the unit that does not start, the one that runs on."""
    end = window.end
    stops: dict[int, int] = {}
    aborted: dict[tuple[int, str], int] = {}
    runs_on: dict[int, list[float]] = {}
    for t in late:
        if t.outcome == ABORTED and t.end <= end:
            aborted[(t.step, t.reason)] = aborted.get((t.step, t.reason), 0) + 1
            continue
        for u, (began, ended) in enumerate(zip(t.head_start, t.tail_end)):
            if 0 <= began <= end and (ended < 0 or ended > end):  # a started unit runs on to its safe point
                runs_on.setdefault(u, []).append((ended if ended >= 0 else t.end) - end)
        waiting = [u for u, began in enumerate(t.head_start) if began < 0 or began > end]
        if waiting:  # the first unit (in plan order) whose head had not started: the script stops before it
            stops[waiting[0]] = stops.get(waiting[0], 0) + 1
        elif t.outcome == STOPPED and t.step != NO_STEP:
            unit = sp.unit_of[t.step]
            stops[unit] = stops.get(unit, 0) + 1
    return Closing(
        len(late),
        tuple(sorted(stops.items(), key=lambda item: (-item[1], item[0]))),
        tuple(sorted(((s, r, n) for (s, r), n in aborted.items()), key=lambda item: (-item[2], item[0], item[1]))),
        tuple(sorted(((u, len(v), percentile(sorted(v), 90)) for u, v in runs_on.items()),
                     key=lambda item: (-item[1], item[0]))),
    )
