"""Monte Carlo: many runs in batches, on local processes or a dask.distributed cluster, merged in run order.

Run i depends only on (seed, i), and batches are merged by their first run
index, so the summary is identical whatever `jobs` is and wherever the batches
ran. Each worker builds the per-plan runtime once (see `engine.runtime`).
"""

from __future__ import annotations

import bisect
import gc
import math
import heapq
from array import array
from collections import Counter
from collections.abc import Sequence
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

from hciplan.simulator import fast
from hciplan.simulator.engine import ABORTED, COMPLETED, OUTCOMES, STOPPED, RunResult, run_once, runtime
from hciplan.simulator.prepared import NO_STEP, SimPlan
from hciplan.simulator.sketch import DEFAULT_EPS, Sketch
from hciplan.simulator.stats import CONFIDENCE, Interval, mean_interval, percentile_interval, wilson
from hciplan.words import counted

Progress = Callable[[int], None]  # called with the number of runs just finished
_OUTCOME_CODES = {o: code for code, o in enumerate(OUTCOMES)}  # a run's outcome as one byte


class SimulationError(Exception):
    """A problem running the simulation that the user can fix (missing extra, unreachable scheduler)."""


class Interrupted(Exception):
    """Ctrl+C during a series: pending batches were cancelled and the workers stopped.

    `done` holds the batches that had finished, in run order; they need not be
    a prefix of the series (workers finish out of order).
    """

    def __init__(self, done: list[Batch], partial: Summary | None = None):
        finished = partial.runs if partial is not None else sum(len(b.outcomes) for b in done)
        super().__init__(f"interrupted after {counted(finished, 'run')}")
        self.done = done
        self.finished = finished
        self.partial = partial  # above EXACT_RUNS: the folded runs' summary (the batches were freed as folded)


_WITHIN_CODES = {False: 0, True: 1, None: 2}  # a run's within_window as one byte
_WITHIN_VALUES = (False, True, None)


@dataclass
class Batch:
    """The compact result of runs [first, first + len(outcomes)): per run only numbers in arrays, the rest counted.

    Per run, a byte (outcome, within) or a float in an array('d') (8 bytes, not a 32-byte float object in a
    list); stop reasons, steps left and nodes on 23H2 are counted ({key: runs}), so the parent's memory per
    run is a few dozen bytes (docs/performance.md, "Simulate: memory").

    A new per-run float measure is one more array('d') field (or a list of them, one per window): up to
    EXACT_RUNS `summarise` reads it from the kept batches; above, `Fold` sketches it by its field name
    (`fold.sketches[name]`) with no further code, so its percentiles carry the same stated error.
    """

    first: int
    outcomes: bytearray = field(default_factory=bytearray)  # index into OUTCOMES, per run
    ends: array = field(default_factory=lambda: array("d"))
    exposures: array = field(default_factory=lambda: array("d"))
    overruns: array = field(default_factory=lambda: array("d"))  # minutes late of the runs that overran
    within_codes: bytearray = field(default_factory=bytearray)  # _WITHIN_CODES, per run
    within_count: int = 0  # runs completed with every step inside a window
    stops: Counter = field(default_factory=Counter)  # (outcome, step, reason) -> aborted and stopped runs
    remaining: dict = field(default_factory=lambda: {ABORTED: Counter(), STOPPED: Counter()})  # steps left: runs
    upgraded: dict = field(default_factory=lambda: {ABORTED: Counter(), STOPPED: Counter()})  # nodes on 23H2: runs
    critical_counts: list[int] = field(default_factory=list)
    # The schedule by window: work time per run; per window, runs by how many units started in it, by how
    # many units were done by its end, the runs in which its planned work spilled, the work time in it.
    works: array = field(default_factory=lambda: array("d"))
    started: list[Counter] = field(default_factory=list)
    done_by: list[Counter] = field(default_factory=list)
    spills: list[int] = field(default_factory=list)
    window_works: list[array] = field(default_factory=list)
    finish_windows: Counter = field(default_factory=Counter)  # completed runs by the window they finished in
    windows_used: Counter = field(default_factory=Counter)  # completed runs by how many windows they worked in
    mixed: array = field(default_factory=lambda: array("d"))  # minutes in mixed OS mode of the runs in which it ended
    still_mixed: int = 0  # runs that ended with the cluster in mixed OS mode
    # Past the point of no return (RunResult.crossed): early runs by outcome, and by (outcome, step, finished).
    # At each window's close (RunResult.window_close): per window, runs by nodes on 23H2, by NODE_STATES
    # index, by tenths of a day in mixed OS mode so far. Integer counters: flat in memory, exact at any runs.
    past_return: Counter = field(default_factory=Counter)
    crossed: Counter = field(default_factory=Counter)
    close_nodes: list[Counter] = field(default_factory=list)
    close_states: list[Counter] = field(default_factory=list)
    close_mixed: list[Counter] = field(default_factory=list)
    # What failures cost (compiler/recovery.py): the delay of the runs a failure delayed (failed attempts and
    # recoveries, minutes), the completed runs that needed a recovery, runs by recoveries made (> 0), and the
    # completed runs by the first window whose end they finished by (len(windows): after the last one's end).
    delays: array = field(default_factory=lambda: array("d"))
    recovered: int = 0
    recoveries: Counter = field(default_factory=Counter)
    done_in: Counter = field(default_factory=Counter)

    @property
    def within(self) -> tuple[bool | None, ...]:
        """Each run's within_window, in run order (compare pairs them run by run)."""
        return tuple(_WITHIN_VALUES[c] for c in self.within_codes)


def _tally_windows(sp: SimPlan, batch: Batch, r: RunResult) -> None:
    """Add one run to the batch's schedule by window (docs/simulation.md, "Schedule by window")."""
    windows = len(sp.windows)
    if not batch.started:
        batch.started = [Counter() for _ in range(windows)]
        batch.done_by = [Counter() for _ in range(windows)]
        batch.spills = [0] * windows
        batch.window_works = [array("d") for _ in range(windows)]
    where, done = r.unit_windows, r.units_done
    planned = sp.planned if sp.given is None else ()  # a run from a journal's now has no planned schedule
    # one pass over the units: how many started in each window, how many reached their safe point in each
    # window (a unit done by window k's end is one done and started in a window <= k), and the windows each
    # unit spills over: a unit the plan puts in window p and not done by k's end (it started in a later
    # window, or never reached its safe point) spills every k from p to the window it got done in
    started = list(map(where.count, range(-1, windows)))  # index w + 1: -1 (never started) lands in slot 0
    finished = [0] * (windows + 1)  # by the window a done unit started in (slot w + 1)
    spill = [0] * (windows + 1)  # +1 where a unit's spill starts, -1 where it stops
    if len(planned) == len(where):  # the two passes below in one
        for p, w, d in zip(planned, where, done):
            if d and w >= 0:
                finished[w + 1] += 1
                until = w
            else:
                until = windows
            if p >= 0 and p < until:
                spill[p] += 1
                spill[until] -= 1
    else:
        for w, d in zip(where, done):
            if d and w >= 0:
                finished[w + 1] += 1
    done_by = spilling = 0
    for k in range(windows):
        batch.started[k][started[k + 1]] += 1
        done_by += finished[k + 1]
        batch.done_by[k][done_by] += 1
        spilling += spill[k]
        if spilling:
            batch.spills[k] += 1
        if r.window_work[k] > 0:
            batch.window_works[k].append(r.window_work[k])
    if r.outcome == COMPLETED:
        used = [k for k in range(windows) if started[k + 1]]
        batch.finish_windows[used[-1] if used else -1] += 1
        batch.windows_used[len(used)] += 1


def _tally_closing(batch: Batch, r: RunResult) -> None:
    """Add one run's points of no return crossed and its state at each window's close."""
    if r.crossed:
        batch.past_return[r.outcome] += 1
        for step, finished in r.crossed:
            batch.crossed[(r.outcome, step, finished)] += 1
    if r.window_close:
        if not batch.close_nodes:
            batch.close_nodes, batch.close_states, batch.close_mixed = (
                [Counter() for _ in r.window_close] for _ in range(3))
        for k, (nodes, state, tenths) in enumerate(r.window_close):
            batch.close_nodes[k][nodes] += 1
            batch.close_states[k][state] += 1
            batch.close_mixed[k][tenths] += 1


def _add_closing(into: Batch, b: Batch) -> None:
    """Sum batch `b`'s counters of `_tally_closing` into `into` (counts: any batching gives the same)."""
    into.past_return.update(b.past_return)
    into.crossed.update(b.crossed)
    if b.close_nodes:
        if not into.close_nodes:
            into.close_nodes, into.close_states, into.close_mixed = (
                [Counter() for _ in b.close_nodes] for _ in range(3))
        for mine, theirs in ((into.close_nodes, b.close_nodes), (into.close_states, b.close_states),
                             (into.close_mixed, b.close_mixed)):
            for k, counts in enumerate(theirs):
                mine[k].update(counts)


def _closing_fields(c: Batch) -> dict:
    """The summed counters as Summary fields (sorted by key, so the bytes do not depend on the batching)."""
    return {"past_return": dict(sorted(c.past_return.items())), "crossed": dict(sorted(c.crossed.items())),
            "close_nodes": tuple(dict(sorted(x.items())) for x in c.close_nodes),
            "close_states": tuple(dict(sorted(x.items())) for x in c.close_states),
            "close_mixed": tuple(dict(sorted(x.items())) for x in c.close_mixed)}


class quiet_gc:
    """Collect each run's garbage right after the run instead of whenever allocations pile up.

    A run allocates a few thousand short-lived simpy objects (events, processes,
    generators) that form reference cycles; left to the allocation thresholds,
    the collector runs mid-run and walks everything alive. Collecting the young
    generation once per run is cheaper (about a third of a run's time, measured
    in bench/). The benchmark's bare simpy model runs under the same policy.
    """

    def __enter__(self):
        self.enabled = gc.isenabled()
        gc.disable()
        return lambda: gc.collect(0)

    def __exit__(self, *exc) -> None:
        if self.enabled:
            gc.enable()


def _tally(sp: SimPlan, batch: Batch, counts: Counter, window_ends: list[float], r: RunResult) -> None:
    """Add one run to the batch, in run order."""
    batch.outcomes.append(_OUTCOME_CODES[r.outcome])
    batch.ends.append(r.end)
    batch.exposures.append(r.exposure)
    if r.overrun > 0:
        batch.overruns.append(r.overrun)
    batch.within_codes.append(_WITHIN_CODES[r.within_window])
    batch.within_count += 1 if r.within_window else 0
    if r.outcome != COMPLETED and r.step != NO_STEP:
        batch.stops[(r.outcome, r.step, r.reason)] += 1
        batch.remaining[r.outcome][r.remaining] += 1
        batch.upgraded[r.outcome][r.upgraded] += 1
    counts.update(r.critical)
    batch.works.append(r.work)
    if r.mixed is not None:
        batch.mixed.append(r.mixed)
    batch.still_mixed += r.still_mixed
    if r.delay > 0:
        batch.delays.append(r.delay)
    if r.recoveries:
        batch.recoveries[r.recoveries] += 1
        batch.recovered += r.outcome == COMPLETED
    if sp.windows:
        _tally_windows(sp, batch, r)
        if r.outcome == COMPLETED:
            batch.done_in[bisect.bisect_left(window_ends, r.end)] += 1
    _tally_closing(batch, r)


def run_batch(sp: SimPlan, seed: int, first: int, last: int) -> Batch:
    """Runs first .. last - 1 (a module-level function, so process pools and dask can ship it)."""
    batch = Batch(first)
    counts: Counter[int] = Counter()
    window_ends = [w.end for w in sp.windows]
    block = fast.block_runner(sp)  # the exact fast path for runs without failures, a block at a time (fast.py)
    with quiet_gc() as collect:
        if block is None:  # every run takes simpy
            run = fast.runner(sp)
            for index in range(first, last):
                _tally(sp, batch, counts, window_ends, run(seed, index))
                collect()
        else:
            for a in range(first, last, fast.BLOCK):
                b = min(a + fast.BLOCK, last)
                for index, r in zip(range(a, b), block(seed, a, b)):
                    if r is None:  # only simpy is exact for this run
                        r = run_once(sp, seed, index)
                        collect()  # simpy's garbage has cycles; the fast path's has none
                    _tally(sp, batch, counts, window_ends, r)
    batch.critical_counts = [counts[i] for i in range(sp.size)]
    return batch


_WORKER_PLAN: SimPlan | None = None


PARENT_POLL_S = 1.0  # how often a worker checks that the simulate that started it is still there


def _exit_with_parent(parent: int) -> None:
    """End the worker once its parent is gone (killed with SIGKILL, say): its batches have no reader left.

    A forked worker holds both ends of the executor's pipes, so it never sees them close: without this it
    would wait for work forever.
    """
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(sp: SimPlan) -> None:
    global _WORKER_PLAN
    _WORKER_PLAN = sp
    # Ctrl+C in a terminal reaches the whole process group: the parent alone decides (see _stop_pool)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="hciplan-parent-watch",
                     daemon=True).start()
    runtime(sp)
    gc.freeze()  # the plan and the modules live as long as the worker: keep them out of every collection


def _worker_batch(seed: int, first: int, last: int) -> Batch:
    return run_batch(_WORKER_PLAN, seed, first, last)


def batches(runs: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous index ranges: several per worker so the progress bar moves and the load balances."""
    size = max(1, min(500, math.ceil(runs / (workers * 8))))
    return [(a, min(a + size, runs)) for a in range(0, runs, size)]


MAX_DEFAULT_JOBS = 64  # the CLI's --jobs bound: a huge machine does not start hundreds of workers by default


def default_jobs() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, MAX_DEFAULT_JOBS)


def run_many(sp: SimPlan, runs: int, seed: int, jobs: int | None = None, scheduler: str | None = None,
             progress: Progress | None = None, fold: Fold | None = None) -> list[Batch]:
    """All runs, as batches in run order; with `fold`, each batch is handed to it as it arrives and not kept."""
    jobs = jobs or default_jobs()
    if scheduler:
        return _run_dask(sp, runs, seed, scheduler, progress, fold)
    ranges = batches(runs, jobs)
    if jobs == 1 or len(ranges) == 1:
        done = []
        try:
            for first, last in ranges:
                batch = run_batch(sp, seed, first, last)
                if fold is None:
                    done.append(batch)
                else:
                    fold.add(batch)
                if progress:
                    progress(last - first)
        except KeyboardInterrupt:
            raise _interrupted(done, fold) from None
        return done
    results: _Results = _Results(fold)
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(ranges)), initializer=_init_worker, initargs=(sp,))
    try:
        pending = {pool.submit(_worker_batch, seed, first, last) for first, last in ranges}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                batch = future.result()
                results[batch.first] = batch
                if progress:
                    progress(len(batch.outcomes))
    except KeyboardInterrupt:
        _stop_pool(pool)
        raise _interrupted([results[first] for first in sorted(results)], fold) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [results[first] for first in sorted(results)]


class _Results(dict):
    """The batches by first run index; with a fold, each one is folded instead of kept."""

    def __init__(self, fold: Fold | None):
        super().__init__()
        self.fold = fold

    def __setitem__(self, first: int, batch: Batch) -> None:
        if self.fold is None:
            super().__setitem__(first, batch)
        else:
            self.fold.add(batch)


def _interrupted(done: list[Batch], fold: Fold | None) -> Interrupted:
    if fold is None:
        return Interrupted(done)
    return Interrupted([], fold.summary() if fold.runs else None)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued batches and end the running ones now, instead of waiting for every batch."""
    pool.shutdown(wait=False, cancel_futures=True)
    # the executor has no public way to stop a running task; its worker processes are a documented-enough
    # attribute of CPython's implementation, and a missing one only means waiting for the running batches
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def dask_client(address: str):
    """A dask.distributed client of the scheduler at `address`, and its `as_completed`; SimulationError with
    the fix when dask is missing or the scheduler cannot be reached (`simulate` and `fleet simulate`)."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise SimulationError("--scheduler needs the dask extra: pip install 'hciplan[dask]' "
                              "(on this machine and on every worker)") from None
    try:
        return Client(address, timeout="10s"), as_completed
    except (OSError, TimeoutError, ValueError) as error:
        raise SimulationError(f"cannot reach the dask scheduler at {address}: {error}") from None


def _run_dask(sp: SimPlan, runs: int, seed: int, address: str, progress: Progress | None,
              fold: Fold | None = None) -> list[Batch]:
    client, as_completed = dask_client(address)
    try:
        workers = max(1, sum(client.nthreads().values()))
        shared = client.scatter(sp, broadcast=True)
        futures = [client.submit(run_batch, shared, seed, first, last, pure=False)
                   for first, last in batches(runs, workers)]
        results = _Results(fold)
        try:
            for future in as_completed(futures):
                batch = future.result()
                results[batch.first] = batch
                if progress:
                    progress(len(batch.outcomes))
        except KeyboardInterrupt:
            client.cancel(futures)
            raise _interrupted([results[first] for first in sorted(results)], fold) from None
        return [results[first] for first in sorted(results)]
    finally:
        client.close()


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


PERCENTILES = (50, 80, 90, 95)  # of the duration, as the report prints them


@dataclass(frozen=True)
class Intervals:
    """The 95% Monte Carlo interval of every estimate in a Summary (hciplan/simulator/stats.py says how).

    Shares are Wilson intervals, percentiles order-statistic intervals, means normal
    approximations; a None end is a side the runs are too few to bound.
    """

    durations: dict[str, Interval]  # "p50" .. "p95", "mean"; empty when no run completed
    p_within_window: Interval | None
    outcomes: dict[str, Interval]  # shares of all runs
    exposure_mean: Interval
    exposure_p90: Interval
    overrun_share: Interval | None
    overrun_p90: Interval | None  # None when no run overran
    criticality: dict[int, Interval]  # shares of the completed runs
    remaining_median: dict[str, Interval]
    upgraded_median: dict[str, Interval]


@dataclass(frozen=True)
class Summary:
    """What `hciplan simulate` reports, computed from every run in run order."""

    runs: int
    seed: int
    outcomes: dict[str, int]
    # The per-run samples are array('d') (8 bytes a run) and RunOutcomes (1 byte a run) from summarise();
    # any sequence works (tests build Summaries from tuples).
    durations: Sequence[float]  # completed runs, in run order
    ends: Sequence[float]  # every run, in run order
    run_outcomes: Sequence[str]  # every run, in run order
    p_within_window: float | None
    exposure_mean: float
    exposure_p90: float
    overrun_share: float | None  # runs in which a unit ran past its window's end (None without windows)
    overrun_p90: float  # minutes past the end, P90 over the runs that overran (0 if none did)
    overrun_max: float
    criticality: dict[int, float]  # step index -> share of completed runs
    stops: dict[tuple[str, int, str], int]  # (outcome, step, reason) -> runs
    remaining_median: dict[str, float]  # outcome -> median steps left
    upgraded_median: dict[str, float]  # outcome -> median nodes on 23H2 when the run ended
    nodes: int
    # The samples behind the estimates above, for their intervals (`intervals()`).
    exposures: Sequence[float] = ()  # every run, in run order
    overruns: Sequence[float] = ()  # minutes late of the runs that overran, ascending
    remaining: dict[str, tuple[int, ...]] = field(default_factory=dict)  # outcome -> steps left per run, ascending
    upgraded: dict[str, tuple[int, ...]] = field(default_factory=dict)  # outcome -> nodes on 23H2 per run, ascending
    # The schedule by window (docs/simulation.md): work time of the completed runs (in run order); per window,
    # {units started in it: runs}, {units done by its end: runs}, runs in which its planned work spilled,
    # the work time in it (runs that worked in it, ascending); completed runs by the window they finished in.
    works: Sequence[float] = ()
    started: tuple[dict[int, int], ...] = ()
    done_by: tuple[dict[int, int], ...] = ()
    spills: tuple[int, ...] = ()
    window_works: tuple[Sequence[float], ...] = ()
    finish_windows: dict[int, int] = field(default_factory=dict)
    windows_used: dict[int, int] = field(default_factory=dict)
    # Mixed OS mode (compiler/mixed.py): its minutes in the runs in which it began and ended, ascending;
    # the runs that ended with the cluster still in it.
    mixed: Sequence[float] = ()
    still_mixed: int = 0
    # None: every figure is exact (the samples above are arrays). A number: above EXACT_RUNS the samples are
    # Sketches (montecarlo.Fold) and every percentile, and a percentile's interval, is within this relative
    # error of the exact one; counts, shares, means, min and max stay exact.
    approximate: float | None = None
    # Past the point of no return: early runs that crossed one, {outcome: runs}; {(outcome, step, finished):
    # runs}. At each window's close, per window: {nodes on 23H2: runs}, {NODE_STATES index: runs},
    # {tenths of a day in mixed OS mode so far: runs}.
    past_return: dict[str, int] = field(default_factory=dict)
    crossed: dict[tuple[str, int, bool], int] = field(default_factory=dict)
    close_nodes: tuple[dict[int, int], ...] = ()
    close_states: tuple[dict[int, int], ...] = ()
    close_mixed: tuple[dict[int, int], ...] = ()
    # What failures cost (docs/simulation.md, "Recovery"): the delays of the delayed runs, ascending; the
    # completed runs that needed a recovery; {recoveries made: runs}; {window index: completed runs that
    # finished by its end and not by the previous one's} (len(windows): after the last window's end).
    delays: Sequence[float] = ()
    recovered: int = 0
    recoveries: dict[int, int] = field(default_factory=dict)
    done_in: dict[int, int] = field(default_factory=dict)

    def all_runs_percentile(self, p: float) -> float | None:
        """The p-th percentile of the finish time over ALL runs, a run that did not complete counting as never
        done (nearest rank, as `percentile`): None when fewer than p% of the runs completed."""
        rank = min(self.runs, max(1, math.ceil(p / 100 * self.runs)))
        ordered = self.ordered_durations()
        return ordered[rank - 1] if rank <= len(ordered) else None

    def done_by_windows(self) -> list[tuple[int, float]]:
        """Per window k: (completed runs that finished by its end, their share of all runs)."""
        out, seen = [], 0
        for k in range(len(self.started)):  # one entry per window (`started` has one per window)
            seen += self.done_in.get(k, 0)
            out.append((seen, seen / self.runs))
        return out

    def ordered_durations(self) -> array:
        """The completed runs' durations, ascending (sorted once per Summary: a million floats are 8 MB here)."""
        if isinstance(self.durations, Sketch):
            return self.durations  # a sketch reads as its ascending values
        cached = self.__dict__.get("_ordered_durations")
        if cached is None:
            cached = ascending([self.durations])
            object.__setattr__(self, "_ordered_durations", cached)  # a cache, not a field: equality ignores it
        return cached

    def duration_stats(self) -> dict[str, float] | None:
        if not self.durations:
            return None
        ordered = self.ordered_durations()
        stats = {f"p{p}": percentile(ordered, p) for p in PERCENTILES}
        stats["mean"] = _mean(self.durations)
        stats["max"] = ordered[-1]
        return stats

    def intervals(self) -> Intervals:
        """The 95% interval of each estimate: computed from the sorted samples, so the same runs give the same bytes."""
        ordered = self.ordered_durations()
        durations: dict[str, Interval] = {}
        if ordered:
            durations = {f"p{p}": percentile_interval(ordered, p / 100) for p in PERCENTILES}
            durations["mean"] = _mean_interval(self.durations)
        completed = len(self.durations)
        # The shares are counts over runs (or completed runs), so rounding recovers the counts exactly.
        count = lambda share, total: round(share * total)  # noqa: E731
        within, overrun = self.p_within_window, self.overrun_share
        return Intervals(
            durations=durations,
            p_within_window=None if within is None else wilson(count(within, self.runs), self.runs),
            outcomes={o: wilson(n, self.runs) for o, n in self.outcomes.items()},
            exposure_mean=_mean_interval(self.exposures),
            exposure_p90=percentile_interval(ascending([self.exposures]), 0.9),
            overrun_share=None if overrun is None else wilson(count(overrun, self.runs), self.runs),
            overrun_p90=percentile_interval(self.overruns, 0.9) if self.overruns else None,
            criticality={i: wilson(count(share, completed), completed) for i, share in self.criticality.items()},
            # The medians are the upper median (sorted(v)[n // 2]); the order-statistic interval is the median's.
            remaining_median={o: percentile_interval(v, 0.5) for o, v in self.remaining.items() if v},
            upgraded_median={o: percentile_interval(v, 0.5) for o, v in self.upgraded.items() if v},
        )

    def median_run(self) -> int | None:
        """The index of the run at the (lower) median: of completed runs if any, else of all runs.

        Ranked by (end, index): the median's end is the ordered sample's middle value, and among the runs that
        end there, in run order, it is the one the rank reaches (no list of run indices is built).
        """
        if not self.runs:
            return None
        if self.approximate is not None:
            # Sketched: the first run (by index) whose value fell in the median's bin, so its end is within
            # the sketch's relative error of the median's (the exact rule needs every run's end).
            ordered = self.durations if self.durations else self.ends
            return ordered.first_index((len(ordered) - 1) // 2)
        if self.durations:
            ordered, wanted = self.ordered_durations(), lambda i, o: o == COMPLETED
        else:
            ordered, wanted = ascending([self.ends]), lambda i, o: True
        middle = (len(ordered) - 1) // 2
        value = ordered[middle]
        skip = middle - bisect.bisect_left(ordered, value)  # runs ending at `value` ranked before the median
        for index, (outcome, end) in enumerate(zip(self.run_outcomes, self.ends)):
            if end == value and wanted(index, outcome):
                if skip == 0:
                    return index
                skip -= 1
        raise AssertionError("the median's run is among the runs")


def _mean(values) -> float:
    return values.mean() if isinstance(values, Sketch) else math.fsum(values) / len(values)


def _mean_interval(values) -> Interval:
    return values.mean_interval(CONFIDENCE) if isinstance(values, Sketch) else mean_interval(values)


def summarise(sp: SimPlan, runs: int, seed: int, done: list[Batch]) -> Summary:
    assert sum(len(b.outcomes) for b in done) == runs
    outcomes = RunOutcomes(b"".join(b.outcomes for b in done))
    ends = _joined(b.ends for b in done)
    exposures = _joined(b.exposures for b in done)
    overruns = ascending(b.overruns for b in done)
    counts = [0] * sp.size
    for b in done:
        for i, c in enumerate(b.critical_counts):
            counts[i] += c
    completed_code = _OUTCOME_CODES[COMPLETED]
    completed = _joined(array("d", (e for o, e in zip(b.outcomes, b.ends) if o == completed_code)) for b in done)
    works = _joined(array("d", (w for o, w in zip(b.outcomes, b.works) if o == completed_code)) for b in done)
    stop_counts: Counter = Counter()
    left: dict[str, Counter] = {ABORTED: Counter(), STOPPED: Counter()}
    on_23h2: dict[str, Counter] = {ABORTED: Counter(), STOPPED: Counter()}
    for b in done:
        stop_counts.update(b.stops)
        for o in left:
            left[o].update(b.remaining[o])
            on_23h2[o].update(b.upgraded[o])
    closing = Batch(0)
    for b in done:
        _add_closing(closing, b)
    ordered_exposure = ascending([exposures])
    left_sorted = {o: _expanded(c) for o, c in left.items() if c}
    upgraded_sorted = {o: _expanded(c) for o, c in on_23h2.items() if c}
    return Summary(
        runs=runs, seed=seed,
        outcomes={o: outcomes.count(o) for o in OUTCOMES},
        durations=completed, ends=ends, run_outcomes=outcomes,
        p_within_window=(sum(b.within_count for b in done) / runs) if sp.windows else None,
        exposure_mean=math.fsum(exposures) / runs,
        exposure_p90=percentile(ordered_exposure, 90),
        overrun_share=len(overruns) / runs if sp.windows else None,
        overrun_p90=percentile(overruns, 90) if overruns else 0.0,
        overrun_max=overruns[-1] if overruns else 0.0,
        criticality={i: c / len(completed) for i, c in enumerate(counts) if c} if completed else {},
        # in the order the runs first stopped that way, as the per-run tally gave it (the reports sort it)
        stops=dict(stop_counts),
        remaining_median={o: float(v[len(v) // 2]) for o, v in left_sorted.items()},
        upgraded_median={o: float(v[len(v) // 2]) for o, v in upgraded_sorted.items()},
        nodes=len(sp.os_upgraded),
        exposures=exposures, overruns=overruns,
        remaining=left_sorted, upgraded=upgraded_sorted,
        works=works,
        mixed=ascending(b.mixed for b in done), still_mixed=sum(b.still_mixed for b in done),
        delays=ascending(b.delays for b in done), recovered=sum(b.recovered for b in done),
        recoveries=dict(sorted(sum((b.recoveries for b in done), Counter()).items())),
        done_in=dict(sorted(sum((b.done_in for b in done), Counter()).items())),
        **_merge_windows(sp, done), **_closing_fields(closing),
    )


class RunOutcomes(Sequence):
    """Every run's outcome in run order, one byte a run (an index into OUTCOMES), read as the outcome's name."""

    def __init__(self, codes: bytes):
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(OUTCOMES[c] for c in self.codes[index])
        return OUTCOMES[self.codes[index]]

    def __iter__(self):
        return (OUTCOMES[c] for c in self.codes)

    def count(self, outcome: str) -> int:
        return self.codes.count(_OUTCOME_CODES[outcome]) if outcome in _OUTCOME_CODES else 0

    def __eq__(self, other) -> bool:
        if isinstance(other, RunOutcomes):
            return self.codes == other.codes
        return isinstance(other, (tuple, list, Sequence)) and len(other) == len(self) and all(
            a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        return f"RunOutcomes({len(self)} runs)"


_CHUNK = 4096  # sorted a chunk at a time then merged, so sorting a million floats never makes a million-item list


def _joined(parts) -> array:
    """The arrays one after another (run order), in one array('d')."""
    out = array("d")
    for part in parts:
        out.extend(part)
    return out


def _chunks(values):
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def ascending(parts) -> array:
    """Every value of the given sequences of floats, ascending, in one array('d') (the same as sorted(), exactly).

    A single Sketch is returned as it is: it reads as its ascending values already (and holds no per-run list).
    """
    parts = list(parts)
    if len(parts) == 1 and isinstance(parts[0], Sketch):
        return parts[0]
    runs = [array("d", sorted(chunk)) for part in parts for chunk in _chunks(part)]  # one list of 4096 at a time
    if len(runs) == 1:
        return runs[0]
    return array("d", heapq.merge(*runs))


def _expanded(counts: Counter) -> tuple[int, ...]:
    """The values a {value: runs} table counts, ascending, one per run (steps left or nodes on 23H2: small ints)."""
    return tuple(value for value in sorted(counts) for _ in range(counts[value]))


def _merge_windows(sp: SimPlan, done: list[Batch]) -> dict:
    """The batches' schedule by window, summed in run order (counts, so any batching gives the same)."""
    if not sp.windows:
        return {}
    windows = range(len(sp.windows))
    started, done_by, finish, used = [Counter() for _ in windows], [Counter() for _ in windows], Counter(), Counter()
    spills = [0 for _ in windows]
    works: list[list[array]] = [[] for _ in windows]
    for b in done:
        for k in windows:
            started[k].update(b.started[k])
            done_by[k].update(b.done_by[k])
            spills[k] += b.spills[k]
            works[k].append(b.window_works[k])
        finish.update(b.finish_windows)
        used.update(b.windows_used)
    return {"started": tuple(dict(sorted(c.items())) for c in started),
            "done_by": tuple(dict(sorted(c.items())) for c in done_by), "spills": tuple(spills),
            "window_works": tuple(ascending(w) for w in works), "finish_windows": dict(sorted(finish.items())),
            "windows_used": dict(sorted(used.items()))}


EXACT_RUNS = 20_000  # up to this many runs every percentile is exact; above, sketched (docs/performance.md)


def simulate(sp: SimPlan, runs: int, seed: int, jobs: int | None = None, scheduler: str | None = None,
             progress: Progress | None = None, exact_runs: int | None = None) -> Summary:
    """Run the Monte Carlo series and summarise it.

    Up to `exact_runs` (EXACT_RUNS) runs the batches are kept and every figure is exact; above, each batch
    is folded into sketches as it arrives and freed (`Fold`), so memory does not grow with the runs and
    the percentiles are within the sketch's stated relative error (Summary.approximate).
    """
    limit = EXACT_RUNS if exact_runs is None else exact_runs
    if runs <= limit:
        return summarise(sp, runs, seed, run_many(sp, runs, seed, jobs, scheduler, progress))
    fold = Fold(sp, seed)
    run_many(sp, runs, seed, jobs, scheduler, progress, fold)
    return fold.summary()


class CountedValues(Sequence):
    """The values a {value: runs} table counts, read as their ascending list without one slot per run."""

    def __init__(self, counts: dict):
        self.keys = sorted(counts)
        self.cumulative = []
        seen = 0
        for key in self.keys:
            seen += counts[key]
            self.cumulative.append(seen)

    def __len__(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0

    def __getitem__(self, k):
        if isinstance(k, slice):
            raise TypeError("counted values have no slices")
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError("rank out of range")
        return self.keys[bisect.bisect_right(self.cumulative, k)]

    def __iter__(self):
        previous = 0
        for key, seen in zip(self.keys, self.cumulative):
            yield from (key for _ in range(seen - previous))
            previous = seen


class Fold:
    """Batches folded in run order into sketches and counts, each freed once folded: memory flat in the runs.

    Every array('d') field of a Batch (and every list of them, one per window) is sketched by name, so a new
    per-run float measure plugs in by being a Batch field (`self.sketches[name]`, one Sketch or a list);
    `durations` and `completed_works` are the ends and work times of the completed runs. Batches that
    arrive before their predecessors (workers finish out of order) wait in `pending` (a few batches), so
    the counts that keep an order (stop reasons) see the runs in run order, as `summarise` does.
    """

    def __init__(self, sp: SimPlan, seed: int, eps: float = DEFAULT_EPS):
        self.sp, self.seed, self.eps = sp, seed, eps
        self.pending: dict[int, Batch] = {}
        self.runs = 0  # the runs folded: 0 .. runs - 1
        self.sketches: dict[str, Sketch | list[Sketch]] = {}
        self.durations, self.completed_works = Sketch(eps), Sketch(eps)
        self.counts = Batch(0)  # the counted fields, summed; its arrays stay empty
        self.outcome_counts: Counter = Counter()

    def add(self, batch: Batch) -> None:
        self.pending[batch.first] = batch
        while self.runs in self.pending:
            self._fold(self.pending.pop(self.runs))

    def _fold(self, b: Batch) -> None:
        first = b.first
        indices = range(first, first + len(b.outcomes))
        completed = _OUTCOME_CODES[COMPLETED]
        for name, value in vars(b).items():
            if isinstance(value, array):
                sketch = self.sketches.setdefault(name, Sketch(self.eps))
                sketch.extend(value, indices if len(value) == len(b.outcomes) and name == "ends" else None)
            elif isinstance(value, list) and value and all(isinstance(v, array) for v in value):
                sketches = self.sketches.setdefault(name, [Sketch(self.eps) for _ in value])
                for sketch, part in zip(sketches, value):
                    sketch.extend(part)
        for i, o, end, work in zip(indices, b.outcomes, b.ends, b.works):
            if o == completed:
                self.durations.add(end, i)
                self.completed_works.add(work)
        self.outcome_counts.update(b.outcomes)
        c = self.counts
        c.within_count += b.within_count
        c.stops.update(b.stops)
        for o in c.remaining:
            c.remaining[o].update(b.remaining[o])
            c.upgraded[o].update(b.upgraded[o])
        c.critical_counts = [x + y for x, y in zip(c.critical_counts, b.critical_counts)] or list(b.critical_counts)
        if b.started:
            if not c.started:
                c.started = [Counter() for _ in b.started]
                c.done_by = [Counter() for _ in b.started]
                c.spills = [0] * len(b.started)
                c.window_works = [array("d") for _ in b.started]
            for k in range(len(b.started)):
                c.started[k].update(b.started[k])
                c.done_by[k].update(b.done_by[k])
                c.spills[k] += b.spills[k]
        c.finish_windows.update(b.finish_windows)
        c.windows_used.update(b.windows_used)
        c.still_mixed += b.still_mixed
        _add_closing(c, b)
        c.recovered += b.recovered
        c.recoveries.update(b.recoveries)
        c.done_in.update(b.done_in)
        self.runs += len(b.outcomes)

    def _sketch(self, name: str) -> Sketch:
        return self.sketches.get(name) or Sketch(self.eps)

    def summary(self) -> Summary:
        """The Summary of the runs folded so far (the percentiles sketched: Summary.approximate says how well)."""
        sp, runs, c = self.sp, self.runs, self.counts
        durations, exposures, overruns = self.durations, self._sketch("exposures"), self._sketch("overruns")
        outcomes = {o: self.outcome_counts[code] for code, o in enumerate(OUTCOMES)}
        counts = c.critical_counts or [0] * sp.size
        left = {o: CountedValues(v) for o, v in c.remaining.items() if v}
        upgraded = {o: CountedValues(v) for o, v in c.upgraded.items() if v}
        windows = {}
        if sp.windows and c.started:
            window_works = self.sketches.get("window_works") or [Sketch(self.eps) for _ in sp.windows]
            windows = {"started": tuple(dict(sorted(x.items())) for x in c.started),
                       "done_by": tuple(dict(sorted(x.items())) for x in c.done_by), "spills": tuple(c.spills),
                       "window_works": tuple(window_works), "finish_windows": dict(sorted(c.finish_windows.items())),
                       "windows_used": dict(sorted(c.windows_used.items()))}
        return Summary(
            runs=runs, seed=self.seed, outcomes=outcomes,
            durations=durations, ends=self._sketch("ends"), run_outcomes=(),
            p_within_window=(c.within_count / runs) if sp.windows else None,
            exposure_mean=exposures.mean(), exposure_p90=percentile(exposures, 90),
            overrun_share=len(overruns) / runs if sp.windows else None,
            overrun_p90=percentile(overruns, 90) if overruns else 0.0,
            overrun_max=overruns[-1] if overruns else 0.0,
            criticality={i: n / len(durations) for i, n in enumerate(counts) if n} if durations else {},
            stops=dict(c.stops),
            remaining_median={o: float(v[len(v) // 2]) for o, v in left.items()},
            upgraded_median={o: float(v[len(v) // 2]) for o, v in upgraded.items()},
            nodes=len(sp.os_upgraded),
            exposures=exposures, overruns=overruns, remaining=left, upgraded=upgraded,
            works=self.completed_works, mixed=self._sketch("mixed"), still_mixed=c.still_mixed,
            approximate=self.eps, delays=self._sketch("delays"), recovered=c.recovered,
            recoveries=dict(sorted(c.recoveries.items())), done_in=dict(sorted(c.done_in.items())), **windows,
            **_closing_fields(c))


def trace_run(sp: SimPlan, seed: int, index: int) -> RunResult:
    """Run `index` again with its timeline recorded (for the Gantt chart)."""
    return run_once(sp, seed, index, trace=True)
