"""The per-cluster run kernel of `hciplan fleet simulate` (issue 12): one cluster's Monte Carlo runs in the windows
the campaign gave it.

`fleet plan` (campaign.py) books each cluster into window occurrences from its plan's expected schedule;
`fleet simulate` replays those bookings with drawn durations. This module is the part that runs one cluster:

- `cluster_sim(plan, cluster, skip)`: the cluster's plan prepared for the simulator with the occurrences
  `cluster.offered[skip:]` as its windows, in minutes from the campaign's start, the run starting at
  `offered[skip]`'s start (a `Given` with only its `now`: the run's origin). `skip` is how many offered
  occurrences a wave delay costs the cluster (the campaign layer decides it). The plan draws the vector
  path's keyed streams, keyed by step id (`vector.twin`), so a run's draws depend on (seed, run index,
  step id) only: run i of skip=0 and run i of skip=3 draw the same durations (common random numbers: a
  wave delay moves a cluster's windows, not its luck).
- `cluster_runs(sp, seed, runs)`: those runs, by index, on the vectorised sampler (NumPy, all runs at once)
  where it can follow them, on the simpy engine (`run_once`, the reference) for the runs it flags (a step
  past its bound: the failure path; two units stopped at once) and for the plans it declines (risks,
  failures): the same run with the same draws either way, so the result is a pure function of
  (sp, seed, run index), whatever the batch and its order.
- `cluster_seed(seed, cluster)`: each cluster's master seed, from the campaign seed, its file and its
  plan's fingerprint, never its position in the fleet (adding a cluster leaves the others' numbers alone).

Times are minutes from the campaign's start. Operator steps are the plan's `needs_operator` steps (as
campaign.py books them): their drawn start and end per run, and the engineer-minutes they take.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from hciplan.compiler.plan import Plan
from hciplan.fleet.campaign import ClusterPlan
from hciplan.simulator import vector
from hciplan.simulator.engine import ABORTED, COMPLETED, STOPPED, run_once
from hciplan.simulator.prepared import NO_STEP, Given, SimPlan, SimWindow, prepare

DONE, OVERRAN, FAILED = 0, 1, 2  # ClusterRuns.status codes (uint8)
_STATUS_OF = {COMPLETED: DONE, STOPPED: OVERRAN, ABORTED: FAILED}
_NOT_WORK = ("skipped", "recovery")  # trace segments that are no attempt of the step (engine.py's statuses)


@dataclass(frozen=True)
class FleetSimPlan(SimPlan):
    """A SimPlan with what the fleet kernel needs beyond the runs: the steps that take an operator."""

    operator_steps: tuple[int, ...] = ()  # indices (plan order) of the plan's needs_operator steps


@dataclass(frozen=True)
class ClusterRuns:
    """One cluster's runs, one entry per run index given (arrays of shape (runs,), minutes from the campaign start).

    `status`: DONE; OVERRAN (stopped at the window rule: its work did not finish inside its windows);
    FAILED (the engine's aborted run: a failure ended it). `end` is the engine's run end: its last step's
    end (an overran run: the last step that ended; a failed one: at least when the failure stopped it).
    `start` is its first step's start (the run's origin when no step started). `operator_start` and
    `operator_end` are per operator step (rows in `operator_steps` order), -1 where it never ended; a step
    rerun after a failure shows its last attempt, while `operator_minutes` counts every attempt.
    """

    runs: np.ndarray  # int64
    start: np.ndarray  # float64
    end: np.ndarray  # float64
    status: np.ndarray  # uint8
    operator_minutes: np.ndarray  # float64, engineer-minutes
    operator_steps: tuple[int, ...]
    operator_start: np.ndarray  # (len(operator_steps), runs) float64
    operator_end: np.ndarray
    engine: np.ndarray | None = None  # bool: the runs the simpy engine followed (the rest: the vector path)


def cluster_seed(seed: int, cluster: ClusterPlan) -> int:
    """The master seed of a cluster's runs: a stable hash (SHA-256, like engine.run_seed) of the campaign's seed,
    the cluster's file and its plan's fingerprint. Its position in the fleet plays no part."""
    text = f"hciplan.fleet/1:{seed}:{cluster.file}:{cluster.fingerprint}"
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


# Per plan: its windowless preparation drawing the vector path's keyed streams (prepare is the costly part, and it
# does not depend on the windows); then per (that plan's key, offered windows from the skip) the windowed SimPlan.
# Held with the Plan itself so that an id is never reused while cached.
_BASES: dict[int, tuple[Plan, FleetSimPlan]] = {}
_SIMS: dict[tuple, FleetSimPlan] = {}
_CACHE = 64  # plans kept (a speed choice: a campaign worker goes cluster by cluster)


def _base(plan: Plan) -> FleetSimPlan:
    found = _BASES.get(id(plan))
    if found is not None and found[0] is plan:
        return found[1]
    sp = vector.twin(prepare(plan, ignore_windows=True))  # keyed per step id: the vector path's draws
    operator = tuple(i for i, s in enumerate(plan.steps) if plan.needs_operator(s))
    fields = {f.name: getattr(sp, f.name) for f in dataclasses.fields(SimPlan)}
    base = FleetSimPlan(**fields, operator_steps=operator)
    object.__setattr__(base, "key", sp.key)
    if len(_BASES) >= _CACHE:
        _BASES.clear()
    _BASES[id(plan)] = (plan, base)
    return base


def cluster_sim(plan: Plan, cluster: ClusterPlan, skip: int = 0) -> FleetSimPlan:
    """`plan` (the cluster's compiled plan) prepared to run in `cluster.offered[skip:]`, from `offered[skip]`'s start.

    No injections, risks or scenario. ValueError when the cluster was offered no window (it was not
    planned: unplaced or held) or `skip` leaves none.
    """
    if not cluster.offered:
        raise ValueError(f"cluster {cluster.name} ({cluster.file}) has no offered windows: it is {cluster.status}, "
                         "not planned")
    if not 0 <= skip < len(cluster.offered):
        raise ValueError(f"cluster {cluster.name}: skip {skip} outside its {len(cluster.offered)} offered windows")
    base = _base(plan)
    offered = tuple(cluster.offered[skip:])
    cache_key = (base.key, offered)
    sp = _SIMS.get(cache_key)
    if sp is None:
        windows = tuple(SimWindow(name, float(b), float(e)) for name, b, e in offered)
        given = Given(now=windows[0].start)
        sp = dataclasses.replace(base, windows=windows, given=given, planned=(), window_override=None, key="")
        # its cache key: the base plan's key (a digest of everything else that changes a run) with what differs;
        # as distinguishing as prepared.keyed's digest of the whole plan, without hashing the plan again
        text = repr((base.key, windows, given))
        object.__setattr__(sp, "key", hashlib.sha256(text.encode("utf-8")).hexdigest()[:16])
        if len(_SIMS) >= _CACHE:
            _SIMS.clear()
        _SIMS[cache_key] = sp
    return sp


def cluster_runs(sp: SimPlan, seed: int, runs) -> ClusterRuns:
    """Runs `runs` (an int64 index array, any order) of `sp` with master seed `seed` (`cluster_seed(...)`).

    The vector path evaluates them all at once; the runs it flags, and every run of a plan it declines,
    are run on the engine (`run_once(sp, seed, index)`: `sp` draws keyed, so it is the same run) and
    their figures replace the vector's.
    """
    runs = vector.run_indices(runs)
    count = runs.size
    operator = tuple(getattr(sp, "operator_steps", ()))
    origin = sp.given.now if sp.given is not None else 0.0
    start = np.full(count, origin)
    end = np.full(count, origin)
    status = np.zeros(count, dtype=np.uint8)
    op_start = np.full((len(operator), count), -1.0)
    op_end = np.full((len(operator), count), -1.0)
    op_minutes = np.zeros(count)
    engine = np.ones(count, dtype=bool)
    twin = vector.twin(sp)  # sp itself when it draws keyed (cluster_sim's plans do)
    vr = vector.run_vector(twin, seed, runs, None, steps=True) if count else None
    if vr is not None:
        engine = ~vr.ok
        starts, ends = vr.starts, vr.ends
        began = np.where(starts >= 0, starts, np.inf).min(axis=0)
        start = np.where(np.isfinite(began), began, origin)
        end = vr.end.copy()
        status = np.where(vr.stop_step != NO_STEP, OVERRAN, DONE).astype(np.uint8)
        if operator:
            rows = list(operator)
            op_start = starts[rows]
            op_end = ends[rows]
            for row in range(len(rows)):  # step by step in plan order, as the engine's sum below
                op_minutes += np.where(op_end[row] >= 0, op_end[row] - op_start[row], 0.0)
    for k in np.flatnonzero(engine).tolist():
        r = run_once(twin, seed, int(runs[k]), trace=True)
        status[k] = _STATUS_OF[r.outcome]
        end[k] = r.end
        work = [s for s in r.segments if s.status not in _NOT_WORK]
        start[k] = min((s.start for s in work), default=origin)
        minutes = 0.0
        for row, i in enumerate(operator):
            last = None
            for s in r.segments:
                if s.step != i:
                    continue
                if s.status not in _NOT_WORK:
                    minutes += s.end - s.start
                if s.status == "ok" and (last is None or (s.start, s.end) > last):
                    last = (s.start, s.end)  # the final attempt: the step's start and end in the engine
            op_start[row, k], op_end[row, k] = last if last is not None else (-1.0, -1.0)
        op_minutes[k] = minutes
    return ClusterRuns(runs, start, end, status, op_minutes, operator, op_start, op_end, engine)
