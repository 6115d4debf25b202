"""`hciplan fleet simulate FLEET`: the Monte Carlo of the whole campaign (issue 12, item 2), on the run kernel.

A run of the campaign replays `fleet plan`'s bookings (campaign.py) with drawn durations:

- **Waves** in order. Each planned cluster of a wave runs in its offered windows (runs.py's kernel:
  `cluster_runs(cluster_sim(plan, c, skip), cluster_seed(seed, c), runs)`). The wave's simulated end is
  its slowest cluster's end.
- **Delay**: wave k's release in a run is max(its planned release, the previous wave's simulated end +
  soak). A cluster then starts in the first of its offered occurrences starting at or after that release
  (`skip` occurrences later; none left: it overran). The kernel draws the same durations whatever the skip
  (common random numbers), so a delay moves a cluster's windows, not its luck.
- **Health gate** (campaign.py's rule, with `<=`): after wave k (not the last, nor held), when more than
  gate_percent % of its clusters overran, failed or could not be placed, no later wave starts in that
  run: their clusters are not done.
- Clusters `fleet plan` could not place (unplaced, held) are never done. The in-flight limit is the
  planned schedule's: it is not re-checked per run (a delayed cluster may overlap another one's flight).
- **Operators**: per run, the operator steps' simulated intervals against the operators on shift at each
  moment (the sum over the shift occurrences covering it, campaign.shifts): a run is over-booked when
  some moment needs more operators than that (an operator step outside every shift needs one where none
  is). A step does not wait for a free operator in this model: the contention is reported, not queued.
  Engineer-hours: the operator steps' minutes (every attempt) / 60.

Runs go in ranges (`ranges`); each range folds into an `Aggregate` of fixed size (counters, per-week
histograms, per-cluster and per-wave counts, two `Sketch`es), and aggregates merge by integer addition,
so memory is flat in runs and the result does not depend on how the runs were split (same seed, same
bytes whatever --jobs or the dask cluster).
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import pickle
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hciplan.compiler.plan import Plan
from hciplan.fleet import runs as fr
from hciplan.fleet.campaign import HELD, UNPLACED, Campaign, ClusterPlan
from hciplan.simulator.montecarlo import dask_client, default_jobs
from hciplan.simulator.sketch import Sketch

WEEK = 7 * 24 * 60  # minutes
RANGE = 1000  # most runs per work item: one kernel call holds steps x runs arrays (runs.py)
END_EPS = 1e-5  # the campaign end's sketch error (relative; +-1 minute at 10 weeks): an assumption, a bin-count choice
HOURS_EPS = 0.001  # engineer-hours' sketch error (sketch.DEFAULT_EPS)
NOT_RUN = 3  # a cluster's status in a run where it did not start (gate, no window left, never planned)
_EVENT_CHUNK = 200  # runs per operator-contention pass (bounds its (events, runs) arrays)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Model:
    """What a worker needs: the planned campaign and each simulated cluster's compiled plan (by file)."""

    campaign: Campaign
    plans: dict[str, Plan]

    @property
    def simulated(self) -> list[int]:
        """Indices (campaign order) of the clusters with offered windows: the ones a run can do."""
        return [k for k, c in enumerate(self.campaign.clusters) if _runnable(c)]


def _runnable(c: ClusterPlan) -> bool:
    return bool(c.offered) and c.status not in (UNPLACED, HELD)


def horizon_weeks(campaign: Campaign) -> int:
    """Weeks of the S-curve: the horizon, or more when a booked window's safe point passes it."""
    last = max((e for c in campaign.clusters for _, _, e in c.offered), default=0.0)
    return max(campaign.weeks, math.ceil(last / WEEK))


@dataclass
class Aggregate:
    """The folded runs: every field has a size fixed by the fleet, never by the runs."""

    clusters: int
    waves: int
    weeks: int
    shifts: int
    runs: int = 0
    finished: int = 0  # runs where every planned cluster was done
    inside: int = 0  # runs where no cluster that ran overran its windows or failed
    overbooked: int = 0
    end: Sketch = field(default_factory=lambda: Sketch(END_EPS))  # campaign end (minutes) of the finished runs
    hours: Sketch = field(default_factory=lambda: Sketch(HOURS_EPS))  # engineer-hours per run
    done_by_week: np.ndarray = None  # (weeks, clusters + 1): runs by clusters done by the end of week w + 1
    bad: np.ndarray = None  # (clusters,): runs in which the cluster overran or failed
    gate_stops: np.ndarray = None  # (waves,): runs in which the gate after the wave stopped the campaign
    busiest: np.ndarray = None  # (shifts + 1,): over-booked runs by the shift of their peak (last: outside any)

    def __post_init__(self) -> None:
        if self.done_by_week is None:
            self.done_by_week = np.zeros((self.weeks, self.clusters + 1), dtype=np.int64)
            self.bad = np.zeros(self.clusters, dtype=np.int64)
            self.gate_stops = np.zeros(self.waves, dtype=np.int64)
            self.busiest = np.zeros(self.shifts + 1, dtype=np.int64)

    @classmethod
    def empty(cls, campaign: Campaign) -> Aggregate:
        return cls(len(campaign.clusters), len(campaign.waves), horizon_weeks(campaign), len(campaign.shifts))

    def merge(self, other: Aggregate) -> None:
        """Add `other` in (integer counts and sketches: any order gives the same aggregate)."""
        self.runs += other.runs
        self.finished += other.finished
        self.inside += other.inside
        self.overbooked += other.overbooked
        self.end.merge(other.end)
        self.hours.merge(other.hours)
        self.done_by_week += other.done_by_week
        self.bad += other.bad
        self.gate_stops += other.gate_stops
        self.busiest += other.busiest

    def size(self) -> tuple:
        """The sizes of what it holds (a test checks they do not grow with the runs)."""
        return (self.done_by_week.shape, self.bad.shape, self.gate_stops.shape, self.busiest.shape)


@dataclass
class WaveRuns:
    """One run range's clusters, as the campaign replay saw them (arrays of shape (runs,); per cluster rows)."""

    status: np.ndarray  # (clusters, runs) uint8: DONE, OVERRAN, FAILED, NOT_RUN
    end: np.ndarray  # (clusters, runs) float64, minutes from the start (nan: not run)
    start: np.ndarray
    skip: np.ndarray  # (clusters, runs) int64: offered occurrences skipped (-1: not run)
    operator_minutes: np.ndarray  # (runs,)
    intervals: list  # per simulated cluster with operator steps: (start (k, runs), end (k, runs))
    stopped_after: np.ndarray  # (runs,) int64: the wave (1-based) whose gate stopped the run, 0 none
    release: np.ndarray  # (waves, runs): each wave's simulated release (nan: not started)


def replay(model: Model, seed: int, runs: np.ndarray, kernel=None) -> WaveRuns:
    """Runs `runs` (int64 indices) of the campaign: waves, delays, gate. `kernel(c, skip, idx)` -> ClusterRuns
    replaces the run kernel in tests (synthetic runs); by default `cluster_runs(cluster_sim(...))`."""
    campaign = model.campaign
    if kernel is None:
        def kernel(c, skip, idx):
            sp = fr.cluster_sim(model.plans[c.file], c, skip)
            return fr.cluster_runs(sp, fr.cluster_seed(seed, c), idx)
    n, count = len(campaign.clusters), runs.size
    status = np.full((n, count), NOT_RUN, dtype=np.uint8)
    end = np.full((n, count), np.nan)
    start = np.full((n, count), np.nan)
    skips = np.full((n, count), -1, dtype=np.int64)
    op_minutes = np.zeros(count)
    intervals = []
    stopped_after = np.zeros(count, dtype=np.int64)
    releases = np.full((len(campaign.waves), count), np.nan)
    wave_of: dict[int, list[int]] = {}
    for k, c in enumerate(campaign.clusters):
        wave_of.setdefault(c.wave, []).append(k)
    active = np.ones(count, dtype=bool)  # runs in which the gate has not stopped the campaign
    previous_end = None  # the previous wave's simulated end per run (nan: none of its clusters ran)
    for w, wave in enumerate(campaign.waves):
        members = wave_of.get(wave.index, [])
        if wave.released is None:  # held in the plan: its clusters have no window to run in
            release = np.full(count, np.nan)
        else:
            release = np.full(count, float(wave.released))
            if previous_end is not None:
                late = previous_end + campaign.soak_minutes
                release = np.where(np.isfinite(late), np.fmax(release, late), release)
        release[~active] = np.nan
        releases[w] = release
        for k in members:
            c = campaign.clusters[k]
            if not _runnable(c):
                continue
            starts = np.array([b for _, b, _ in c.offered])
            go = active & np.isfinite(release)
            # the first offered occurrence starting at or after the release (rounded like the plan's times)
            skip = np.searchsorted(starts, np.round(np.where(go, release, 0.0), 3), side="left")
            late = go & (skip >= len(starts))
            status[k, late] = fr.OVERRAN  # a delay left it no window: it cannot be done
            go &= ~late
            skips[k, go] = skip[go]
            rows_start = rows_end = None  # the operator steps' intervals, once the kernel says how many
            for s in np.unique(skip[go]).tolist():  # one kernel call per skip (ascending: deterministic)
                where = np.flatnonzero(go & (skip == s))
                cr = kernel(c, int(s), runs[where])
                status[k, where] = cr.status
                end[k, where] = cr.end
                start[k, where] = cr.start
                op_minutes[where] += cr.operator_minutes
                if len(cr.operator_steps):
                    if rows_start is None:
                        rows_start = np.full((len(cr.operator_steps), count), -1.0)
                        rows_end = rows_start.copy()
                    rows_start[:, where] = cr.operator_start
                    rows_end[:, where] = cr.operator_end
            if rows_start is not None:
                intervals.append((rows_start, rows_end))
        ran = [k for k in members if _runnable(campaign.clusters[k])]
        previous_end = (np.fmax.reduce(end[ran], axis=0) if ran else np.full(count, np.nan))
        if w + 1 < len(campaign.waves) and wave.released is not None:  # after a held wave, every later one is
            bad = np.zeros(count, dtype=np.int64)
            for k in members:
                bad += (status[k] != fr.DONE)  # overran, failed, not placed, or no window left
            stops = active & (bad * 100 > campaign.gate_percent * len(members))
            stopped_after[stops] = wave.index
            active &= ~stops
    return WaveRuns(status, end, start, skips, op_minutes, intervals, stopped_after, releases)


def _shift_events(campaign: Campaign) -> tuple[np.ndarray, np.ndarray]:
    """Each shift occurrence as two changes of the excess (operators busy - on shift): -operators, +operators."""
    times, deltas = [], []
    for s in campaign.shifts:
        times += [s.start, s.end]
        deltas += [-s.operators, s.operators]
    return np.array(times, dtype=float), np.array(deltas, dtype=np.int64)


def contention(campaign: Campaign, intervals: list, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per run: over-booked (bool), and the shift occurrence of its peak (index; len(shifts): outside any).

    Events per run: an operator step's start (+1) and end (-1), a shift occurrence's start (-operators) and
    end (+operators); sorted by time with the decreases first at equal times (a step ending when the next
    one starts needs one operator, not two), their running sum is busy minus on shift: above 0, over-booked.
    """
    over = np.zeros(count, dtype=bool)
    where = np.full(count, -1, dtype=np.int64)
    if not campaign.limited_operators or not intervals:
        return over, where
    st, sd = _shift_events(campaign)
    starts = np.concatenate([a for a, _ in intervals], axis=0)
    ends = np.concatenate([b for _, b in intervals], axis=0)
    shift_starts = np.array([s.start for s in campaign.shifts])
    shift_ends = np.array([s.end for s in campaign.shifts])
    for a in range(0, count, _EVENT_CHUNK):
        b = min(count, a + _EVENT_CHUNK)
        s, e = starts[:, a:b], ends[:, a:b]
        real = (s >= 0) & (e > s)  # a step that ran (and took time)
        width = b - a
        times = np.concatenate([np.where(real, s, 0.0), np.where(real, e, 0.0),
                                np.repeat(st[:, None], width, axis=1)], axis=0)
        deltas = np.concatenate([real.astype(np.int64), -real.astype(np.int64),
                                 np.repeat(sd[:, None], width, axis=1)], axis=0)
        order = np.lexsort((deltas, times), axis=0)
        t_sorted = np.take_along_axis(times, order, axis=0)
        excess = np.cumsum(np.take_along_axis(deltas, order, axis=0), axis=0)
        peak = excess.max(axis=0)
        over[a:b] = peak > 0
        at = t_sorted[excess.argmax(axis=0), np.arange(width)]  # the first moment of the peak
        inside = (shift_starts[:, None] <= at[None, :]) & (at[None, :] < shift_ends[:, None])
        first = np.where(inside.any(axis=0), inside.argmax(axis=0), len(campaign.shifts))
        where[a:b] = np.where(peak > 0, first, -1)
    return over, where


def fold(model: Model, seed: int, first: int, last: int, kernel=None) -> Aggregate:
    """Runs [first, last) of the campaign folded into an Aggregate."""
    campaign = model.campaign
    agg = Aggregate.empty(campaign)
    runs = np.arange(first, last, dtype=np.int64)
    count = runs.size
    if not count:
        return agg
    wr = replay(model, seed, runs, kernel)
    agg.runs = count
    simulated = model.simulated
    done = wr.status == fr.DONE
    finished = done[simulated].all(axis=0) if simulated else np.ones(count, dtype=bool)
    if len(simulated) < len(campaign.clusters):
        finished[:] = False  # a cluster `fleet plan` could not place is never done
    agg.finished = int(finished.sum())
    bad = (wr.status == fr.OVERRAN) | (wr.status == fr.FAILED)
    agg.inside = int((~bad.any(axis=0)).sum())
    agg.bad = bad.sum(axis=1).astype(np.int64)
    campaign_end = np.fmax.reduce(np.where(done, wr.end, np.nan), axis=0) if len(campaign.clusters) else None
    if campaign_end is not None:
        agg.end.extend(campaign_end[finished].tolist())
    agg.hours.extend((wr.operator_minutes / 60).tolist())
    for w in range(agg.weeks):
        by = (done & (wr.end <= (w + 1) * WEEK)).sum(axis=0)
        agg.done_by_week[w] = np.bincount(by, minlength=agg.clusters + 1)
    for k, wave in enumerate(campaign.waves):
        agg.gate_stops[k] = int((wr.stopped_after == wave.index).sum())
    over, where = contention(campaign, wr.intervals, count)
    agg.overbooked = int(over.sum())
    agg.busiest = np.bincount(where[over], minlength=agg.shifts + 1).astype(np.int64)
    return agg


def ranges(runs: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous run ranges: one per worker, at most RANGE runs each (memory).

    As few as that: a range pays a fixed cost per cluster (the kernel prepares its plan for each skip, about
    10 ms a cluster; its caches hold a few plans), so 1,000 clusters cost some 15 s per range whatever its
    runs (measured on a loaded 2-core machine). Splitting changes no figure, only the time.
    """
    size = max(1, min(RANGE, math.ceil(runs / workers)))
    return [(a, min(a + size, runs)) for a in range(0, runs, size)]


_WORKER: Model | None = None


def _init_worker(model: Model) -> None:
    global _WORKER
    _WORKER = model
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the process group: the parent decides
    from hciplan.simulator.montecarlo import _exit_with_parent

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="hciplan-parent-watch",
                     daemon=True).start()
    gc.freeze()


def _worker_fold(seed: int, first: int, last: int) -> Aggregate:
    return fold(_WORKER, seed, first, last)


def simulate(model: Model, runs: int, seed: int, jobs: int | None = None, scheduler: str | None = None,
             progress: Progress | None = None) -> Aggregate:
    """All runs folded into one Aggregate: in this process (jobs 1), a process pool, or a dask cluster."""
    total = Aggregate.empty(model.campaign)
    jobs = jobs or default_jobs()
    if scheduler:
        return _run_dask(model, runs, seed, scheduler, progress, total)
    work = ranges(runs, jobs)
    if jobs == 1 or len(work) == 1:
        for first, last in work:
            total.merge(fold(model, seed, first, last))
            if progress:
                progress(last - first)
        return total
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(work)), initializer=_init_worker, initargs=(model,))
    try:
        pending = {pool.submit(_worker_fold, seed, first, last) for first, last in work}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                part = future.result()
                total.merge(part)  # integer counts and sketches: the arrival order does not matter
                if progress:
                    progress(part.runs)
    except KeyboardInterrupt:
        from hciplan.simulator.montecarlo import _stop_pool

        _stop_pool(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return total


_DASK_MODEL: tuple[str, Model] | None = None  # a dask worker's last campaign, by its digest


def _dask_fold(payload: bytes, digest: str, seed: int, first: int, last: int) -> Aggregate:
    """`fold` on a dask worker: the campaign arrives pickled once per worker and is unpickled once.

    Scattering the Model object itself took dask about 7 s for 300 clusters (its serialisation walks
    the object graph); plain pickle bytes take a fraction of a second. The garbage collector is off for
    the fold: a pool worker freezes its model (`gc.freeze` in `_init_worker`), a shared, long-lived dask
    worker cannot, and the collector would walk the whole campaign again and again.
    """
    global _DASK_MODEL
    if _DASK_MODEL is None or _DASK_MODEL[0] != digest:
        _DASK_MODEL = (digest, pickle.loads(payload))
    enabled = gc.isenabled()
    gc.disable()
    try:
        return fold(_DASK_MODEL[1], seed, first, last)
    finally:
        if enabled:
            gc.enable()


def _run_dask(model: Model, runs: int, seed: int, address: str, progress: Progress | None,
              total: Aggregate) -> Aggregate:
    """As montecarlo._run_dask: the model scattered once, one task per run range, folded as they finish."""
    client, as_completed = dask_client(address)
    try:
        workers = max(1, sum(client.nthreads().values()))
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(payload).hexdigest()
        shared = client.scatter(payload, broadcast=True)
        futures = [client.submit(_dask_fold, shared, digest, seed, first, last, pure=False)
                   for first, last in ranges(runs, workers)]
        try:
            for future in as_completed(futures):
                part = future.result()
                total.merge(part)
                if progress:
                    progress(part.runs)
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
        return total
    finally:
        client.close()
