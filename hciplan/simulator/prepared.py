"""The plan prepared for simulation: everything a run needs, computed once per plan (and per worker).

A `SimPlan` is plain, picklable data: steps by index in plan order, their
predecessors, how each duration is drawn (`durations.resolve`), the plan's
units of work and step bounds by index (computed by the compiler, never here),
the CAU attempts, the resolved failures and the windows in minutes from the
planned start. Runs never look at
the `Plan` again, so the hot loop does no dictionary look-ups by step id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from hciplan.compiler.durations import StepDuration, factor_mu, resolve
from hciplan.compiler.model import DEFAULT_TIMING
from hciplan.compiler.mixed import OS_REBOOTS, mixed_steps  # noqa: F401 (OS_REBOOTS: re-exported)
from hciplan.compiler.plan import Plan, model_facts
from hciplan.compiler.recovery import Recovery, recovery_of
from hciplan.compiler.schedule import schedule_of
from hciplan.compiler.units import CAU_RUN
from hciplan.simulator.failures import Injection, RiskSpec

NO_STEP = -1


@dataclass(frozen=True, slots=True)
class SimWindow:
    name: str
    start: float  # minutes from the planned start
    end: float


@dataclass(frozen=True, slots=True)
class Unit:
    """The plan's unit (compiler/units.py) by step index: the window rule starts it as a whole.

    Between units the cluster is at a safe point: every node up, storage healthy.
    """

    steps: tuple[int, ...]  # in plan order; steps[0] is the head
    node: str | None
    cau: bool  # a node attempt of the CAU run: failures follow CAU's retry rules
    reboot: int  # the step that takes the node down, or NO_STEP
    # the setup whose offline part already has the node down before `reboot` (NO_STEP: none) and that share of
    # its duration: the node is down from end[down_from] - offline x its duration (engine.down_start)
    down_from: int
    offline: float
    tail: int  # the step after which the node is back with storage healthy
    need: float  # the plan's fit_minutes: what the window must still hold for the unit to start
    id: str = ""


@dataclass(frozen=True, slots=True)
class Given:
    """What a run already knows (`hciplan progress`), in minutes from the run's origin (all >= 0).

    The run starts at `now`. `done` steps ended (or were skipped) at the journal's times and are
    facts; a `running` step started at `start`, so its duration is drawn from what is left of its
    distribution beyond `now - start` (the remaining life), not from scratch.
    """

    now: float
    done: tuple[tuple[int, float, float], ...] = ()  # (step, start, end)
    running: tuple[tuple[int, float], ...] = ()  # (step, start)


@dataclass(frozen=True)
class SimPlan:
    fingerprint: str
    cluster: str
    method: str
    ids: tuple[str, ...]
    kinds: tuple[str, ...]
    nodes: tuple[str | None, ...]
    preds: tuple[tuple[int, ...], ...]
    durations: tuple[StepDuration, ...]
    repair_from: tuple[int | None, ...]  # repair waits: the reboot whose down time they resync (NO_STEP: none)
    irreversible: tuple[bool, ...]
    mean_minutes: tuple[float, ...]
    unit_of: tuple[int, ...]
    units: tuple[Unit, ...]
    after_cau: tuple[bool, ...]  # first steps after the CAU run: they stop a run with failed nodes
    os_upgraded: tuple[int, ...]  # per node, the P2 reboot after which it runs 23H2
    windows: tuple[SimWindow, ...]
    planned_start: dt.datetime | None
    confidence: float
    max_failed_nodes: int
    max_retries_per_node: int
    reboot_timeout: float  # minutes
    is_reboot: tuple[bool, ...]  # reboots and restarts: CAU's reboot timeout bounds them
    bound: tuple[float, ...]  # the plan's bound_minutes: a step not done by then is given up (the script's wait)
    timeout_cause: tuple[str, ...]  # what a step past its bound is: drain_failure, resync_stall or hang
    # The run's shared speed factors (docs/simulation.md, "Correlated durations"): one lognormal factor
    # per run, one per duration model (factor_group indexes group_names); each a (log-mean, log-sd).
    factor_group: tuple[int, ...] = ()
    group_names: tuple[str, ...] = ()
    run_factor: tuple[float, float] = (0.0, 0.0)
    group_factors: tuple[tuple[float, float], ...] = ()
    injections: tuple[Injection, ...] = ()
    risks: tuple[tuple[int, RiskSpec], ...] = ()
    scenario: str | None = None
    given: Given | None = None
    # How runs draw (engine.py): "sequential" from one generator per run (simulate), or "keyed" by each
    # step's draw key, so that variants of a plan share their draws (compare, vary, sensitivity).
    draws: str = "sequential"
    draw_keys: tuple[str, ...] = ()
    pinned: tuple[tuple[int, float], ...] = ()  # keyed only: (step, q) draws its duration at its q-quantile
    planned: tuple[int, ...] = ()  # per unit: the window the plan's expected schedule puts it in (-1: none)
    functional_level: int = NO_STEP  # the step raising the functional level: it ends mixed OS mode (mixed.py)
    # What the runs were asked for, beyond the above (hciplan.sim/1's `inputs`; no run reads them):
    window_override: str | None = None  # `--window`: "26h", "none"; None: the file's windows
    fails: tuple[str, ...] = ()  # the `--fail` texts, as given
    timing_digest: str = ""  # of the file's timing block (inputs.timing_digest)
    timing_block: bool = False
    recovery: Recovery | None = None  # the plan's recovery model (compiler/recovery.py); None: no recovery
    key: str = field(default="", compare=False)
    # Per step: the state an irreversible step leaves the cluster in (the catalog's `no_return`, with its
    # source; "" for the others), for the runs that end early past a point of no return (report.py).
    no_return: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.ids)

    def head_of(self, step: int) -> bool:
        return self.units[self.unit_of[step]].steps[0] == step


def window_label(length_minutes: float) -> str:
    """`--window`'s length as the header names it: `26h`, `90m`."""
    return f"{length_minutes / 60:g}h" if length_minutes % 60 == 0 else f"{length_minutes:g}m"


def window_minutes(plan: Plan, length_minutes: float | None,
                   ignore_windows: bool = False) -> tuple[tuple[SimWindow, ...], dt.datetime | None]:
    """The windows in minutes from the planned start (the first window's start); `length_minutes` overrides them."""
    windows = sorted(plan.model.upgrade.windows, key=lambda w: w.start)
    start = windows[0].start if windows else None
    if ignore_windows:
        return (), start
    if length_minutes is not None:
        return (SimWindow(f"--window {window_label(length_minutes)}", 0.0, float(length_minutes)),), start
    return tuple(SimWindow(w.name, (w.start - start).total_seconds() / 60, (w.end - start).total_seconds() / 60)
                 for w in windows), start


# A step past its bound fails the way a watched wait fails: a drain that never ends is a drain failure
# (CAU retries it), a repair that never ends a stalled resync, anything else a step that does not answer.
_TIMEOUT_CAUSE = {"drain": "drain_failure", "repair_wait": "resync_stall"}


def prepare(plan: Plan, injections: tuple[Injection, ...] = (), risks: dict[str, RiskSpec] | None = None,
            window_length: float | None = None, confidence: float | None = None,
            scenario: str | None = None, ignore_windows: bool = False, fails: tuple[str, ...] = ()) -> SimPlan:
    """Everything the runs need, computed once. `risks` maps step kinds to failure probabilities.

    `window_length` replaces the file's windows by one window of that many minutes from the
    planned start; `ignore_windows` simulates without any window.
    """
    model = plan.model
    upgrade = model.upgrade
    if confidence is not None and confidence != plan.confidence:  # `--confidence`: the plan again, at that one
        from hciplan.compiler.builder import finish  # noqa: PLC0415 (the compiler's one place for units)

        timing = dataclasses.replace(model.timing or DEFAULT_TIMING, window_confidence=confidence)
        plan = finish(dataclasses.replace(model, timing=timing), list(plan.steps))
    index = {s.id: i for i, s in enumerate(plan.steps)}
    preds = tuple(tuple(sorted(index[p] for p in s.after)) for s in plan.steps)
    durations = tuple(resolve(model, s.kind, s.spec.duration_model) for s in plan.steps)

    unit_of = [0] * len(plan.steps)
    units = []
    for u, unit in enumerate(plan.units):
        members = tuple(index[step] for step in unit.steps)
        for i in members:
            unit_of[i] = u
        lead = index[unit.down_from] if unit.down_from else NO_STEP
        units.append(Unit(members, unit.node, unit.cau, index[unit.down] if unit.down else NO_STEP,
                          lead, plan.steps[lead].offline_share if lead != NO_STEP else 0.0,
                          index[unit.tail], unit.fit_minutes, unit.id))
    repair_from: list[int | None] = [None] * len(plan.steps)
    for i, s in enumerate(plan.steps):
        if s.spec.effect == "repair_wait" and durations[i].repair:
            repair_from[i] = units[unit_of[i]].reboot

    in_cau = [plan.steps[i].group == CAU_RUN for i in range(len(plan.steps))]
    after_cau = tuple(not in_cau[i] and any(in_cau[p] for p in preds[i]) for i in range(len(plan.steps)))
    mixed = mixed_steps(plan)  # the steps that begin and end mixed OS mode
    os_upgraded = mixed.os_upgraded
    windows, start = window_minutes(plan, window_length, ignore_windows)
    risk_list = tuple((i, risks[s.kind]) for i, s in enumerate(plan.steps) if risks and s.kind in risks)
    timing = model.timing or DEFAULT_TIMING
    group_names = tuple(sorted({s.spec.duration_model for s in plan.steps}))
    group_index = {name: g for g, name in enumerate(group_names)}
    sim = SimPlan(
        fingerprint=plan.fingerprint, cluster=model.cluster.name, method=upgrade.method,
        ids=tuple(s.id for s in plan.steps), kinds=tuple(s.kind for s in plan.steps),
        nodes=tuple(s.node for s in plan.steps), preds=preds, durations=durations,
        repair_from=tuple(repair_from), irreversible=tuple(s.spec.irreversible for s in plan.steps),
        mean_minutes=tuple(s.mean_minutes for s in plan.steps), unit_of=tuple(unit_of), units=tuple(units),
        after_cau=after_cau, os_upgraded=os_upgraded, windows=windows, planned_start=start, confidence=plan.confidence,
        max_failed_nodes=upgrade.max_failed_nodes, max_retries_per_node=upgrade.max_retries_per_node,
        reboot_timeout=float(plan.reboot_timeout), is_reboot=tuple(s.spec.reboots for s in plan.steps),
        bound=tuple(s.bound_minutes for s in plan.steps),
        timeout_cause=tuple(_TIMEOUT_CAUSE.get(s.spec.effect, "hang") for s in plan.steps), injections=tuple(sorted(injections, key=lambda j: j.step)),
        factor_group=tuple(group_index[s.spec.duration_model] for s in plan.steps), group_names=group_names,
        run_factor=(factor_mu(timing.run_spread), timing.run_spread),
        group_factors=tuple((factor_mu(timing.kind_spread), timing.kind_spread) for _ in group_names),
        risks=risk_list, scenario=scenario, planned=_planned(plan, windows, window_length is None),
        functional_level=NO_STEP if mixed.functional_level is None else mixed.functional_level,
        window_override="none" if ignore_windows else None if window_length is None else window_label(window_length),
        fails=tuple(fails), timing_digest=timing_digest(model.timing), timing_block=model.timing is not None,
        no_return=tuple(s.spec.no_return for s in plan.steps),
        recovery=plan.recovery if plan.recovery is not None else recovery_of(model),
    )
    return keyed(sim)


def timing_digest(timing) -> str:
    """`sha256:...` of a timing block's figures (spans left out); hciplan's defaults when there is none.

    The plan fingerprint leaves the timing block out (it changes no step), so a saved simulation
    records this digest to show which durations it drew from.
    """
    facts = model_facts(timing or DEFAULT_TIMING)
    if facts.get("max_recoveries") == DEFAULT_TIMING.max_recoveries:
        # added with the recovery model: left out at its default, so a simulation saved before keeps its digest
        del facts["max_recoveries"]
    facts = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(facts.encode("utf-8")).hexdigest()


def draw_keys(plan: Plan) -> tuple[str, ...]:
    """Each step's key for keyed draws: phase, duration model, node (or target), and its rank among those.

    Not the step id: the same work keeps its key when the method changes (a CAU run's install and the
    manual setup are both `P2/os.install/HCI01#0`), so cau and manual share the night's draws too.
    """
    seen: dict[str, int] = {}
    keys = []
    for s in plan.steps:
        stem = f"{s.phase}/{s.spec.duration_model}/{s.node or s.target or '-'}"
        rank = seen.get(stem, 0)
        seen[stem] = rank + 1
        keys.append(f"{stem}#{rank}")
    return tuple(keys)


def keyed_draws(sim: SimPlan, plan: Plan, pinned: tuple[tuple[int, float], ...] = ()) -> SimPlan:
    """`sim` drawing from keyed streams (common random numbers across variants), optionally with pinned steps."""
    return keyed(dataclasses.replace(sim, draws="keyed", draw_keys=draw_keys(plan), pinned=pinned, key=""))
def _planned(plan: Plan, windows: tuple[SimWindow, ...], the_files: bool) -> tuple[int, ...]:
    """Per unit, its window in the expected schedule: the plan's own, or the compiler's for `--window`'s window."""
    if not windows:
        return ()
    schedule = plan.schedule if the_files else schedule_of(plan, [(w.name, w.start, w.end) for w in windows])
    where = schedule.window_of() if schedule is not None else {}
    return tuple(where.get(u.id, -1) for u in plan.units)


def keyed(sim: SimPlan) -> SimPlan:
    """`sim` with its cache key: a digest of everything that changes a run (workers cache per key)."""
    digest = hashlib.sha256(repr((sim.fingerprint, sim.durations, sim.windows, sim.confidence, sim.injections,
                                  sim.risks, sim.units, sim.bound, sim.factor_group, sim.run_factor,
                                  sim.group_factors, sim.given, sim.draws, sim.draw_keys, sim.pinned,
                                  sim.recovery)).encode("utf-8")).hexdigest()[:16]
    object.__setattr__(sim, "key", digest)
    return sim


def with_given(sim: SimPlan, given: Given, windows: tuple[SimWindow, ...], run_factor: tuple[float, float],
               group_factors: tuple[tuple[float, float], ...]) -> SimPlan:
    """`sim` conditioned on what a night has shown: facts, running steps, windows from now, updated factors."""
    return keyed(dataclasses.replace(sim, given=given, windows=windows, run_factor=run_factor,
                                     group_factors=group_factors, key=""))
