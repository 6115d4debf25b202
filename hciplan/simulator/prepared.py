"""The plan prepared for simulation: everything a run needs, computed once per plan (and per worker).

A `SimPlan` is plain, picklable data: steps by index in plan order, their
predecessors, how each duration is drawn (`durations.resolve`), the units of
work that the window rule starts as a whole, the CAU attempts, the resolved
failures and the windows in minutes from the planned start. Runs never look at
the `Plan` again, so the hot loop does no dictionary look-ups by step id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.durations import StepDuration, resolve
from hciplan.compiler.model import DEFAULT_TIMING
from hciplan.compiler.plan import Plan
from hciplan.simulator.failures import Injection, RiskSpec

NO_STEP = -1
OS_REBOOTS = ("cau.reboot", "node.reboot", "offline.reboot")  # the reboot into 23H2 of each method
# Assumption (nothing is published): a step that is not a reboot and does not answer is given up after
# this many times its P90 (someone, or CAU's run, notices it is stuck). Reboots use CAU's reboot timeout.
HANG_P90_FACTOR = 4.0


@dataclass(frozen=True, slots=True)
class SimWindow:
    name: str
    start: float  # minutes from the planned start
    end: float


@dataclass(frozen=True, slots=True)
class Unit:
    """Steps the window rule starts as a whole: a node's pass (drain .. repair), the offline bracket, or one step.

    Between units the cluster is at a safe point: every node up, storage healthy.
    """

    steps: tuple[int, ...]  # in plan order; steps[0] is the head
    node: str | None
    cau: bool  # a node attempt of the CAU run: failures follow CAU's retry rules
    reboot: int  # the step that takes the node down, or NO_STEP
    tail: int  # the step after which the node is back with storage healthy
    need: float  # minutes the unit takes at the window confidence (its steps' quantiles on its longest path)


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
    drain_timeout: float
    repair_timeout: float
    is_reboot: tuple[bool, ...]  # reboots and restarts: CAU's reboot timeout bounds them
    hang_after: tuple[float, ...]  # minutes after which a step that does not answer (`hang`) is given up
    injections: tuple[Injection, ...] = ()
    risks: tuple[tuple[int, RiskSpec], ...] = ()
    scenario: str | None = None
    key: str = field(default="", compare=False)

    @property
    def size(self) -> int:
        return len(self.ids)

    def head_of(self, step: int) -> bool:
        return self.units[self.unit_of[step]].steps[0] == step


def _units(plan: Plan) -> list[tuple[tuple, list[int]]]:
    """Group step indices into units, keyed in order of their first step."""
    keys: dict[tuple, list[int]] = {}
    for i, s in enumerate(plan.steps):
        effect = s.spec.effect
        if s.group == "offline" or effect in ("stop_cluster", "start_cluster"):
            key: tuple = ("offline",)
        elif s.node is not None and s.group is not None:
            key = ("pass", s.group, s.node)
        else:
            key = ("step", s.id)
        keys.setdefault(key, []).append(i)
    return list(keys.items())


def _longest(steps: list[int], preds, minutes: dict[int, float]) -> float:
    inside = set(steps)
    finish: dict[int, float] = {}
    for i in steps:  # plan order is a topological order
        finish[i] = max((finish[p] for p in preds[i] if p in inside), default=0.0) + minutes[i]
    return max(finish.values(), default=0.0)


def window_minutes(plan: Plan, length_minutes: float | None,
                   ignore_windows: bool = False) -> tuple[tuple[SimWindow, ...], dt.datetime | None]:
    """The windows in minutes from the planned start (the first window's start); `length_minutes` overrides them."""
    windows = sorted(plan.model.upgrade.windows, key=lambda w: w.start)
    start = windows[0].start if windows else None
    if ignore_windows:
        return (), start
    if length_minutes is not None:
        label = f"{length_minutes / 60:g}h" if length_minutes % 60 == 0 else f"{length_minutes:g}m"
        return (SimWindow(f"--window {label}", 0.0, float(length_minutes)),), start
    return tuple(SimWindow(w.name, (w.start - start).total_seconds() / 60, (w.end - start).total_seconds() / 60)
                 for w in windows), start


def prepare(plan: Plan, injections: tuple[Injection, ...] = (), risks: dict[str, RiskSpec] | None = None,
            window_length: float | None = None, confidence: float | None = None,
            scenario: str | None = None, ignore_windows: bool = False) -> SimPlan:
    """Everything the runs need, computed once. `risks` maps step kinds to failure probabilities.

    `window_length` replaces the file's windows by one window of that many minutes from the
    planned start; `ignore_windows` simulates without any window.
    """
    model = plan.model
    upgrade = model.upgrade
    timing = model.timing or DEFAULT_TIMING
    confidence = timing.window_confidence if confidence is None else confidence
    index = {s.id: i for i, s in enumerate(plan.steps)}
    preds = tuple(tuple(sorted(index[p] for p in s.after)) for s in plan.steps)
    durations = tuple(resolve(model, s.kind, s.spec.duration_model) for s in plan.steps)

    grouped = _units(plan)
    unit_of = [0] * len(plan.steps)
    for u, (_, members) in enumerate(grouped):
        for i in members:
            unit_of[i] = u
    repair_from: list[int | None] = [None] * len(plan.steps)
    reboot_in_unit: dict[int, int] = {}
    for i, s in enumerate(plan.steps):
        if s.spec.takes_node_down:
            reboot_in_unit.setdefault(unit_of[i], i)
    for i, s in enumerate(plan.steps):
        if s.spec.effect == "repair_wait" and durations[i].repair:
            repair_from[i] = reboot_in_unit.get(unit_of[i], NO_STEP)

    def quantile(i: int) -> float:
        r = repair_from[i]
        down = durations[r].quantile(confidence) if r is not None and r != NO_STEP else 0.0
        return durations[i].quantile(confidence, down)

    def p90(i: int) -> float:
        r = repair_from[i]
        down = durations[r].quantile(0.9) if r is not None and r != NO_STEP else 0.0
        return durations[i].quantile(0.9, down)

    reboot_timeout = upgrade.reboot_timeout / 60
    hang_after = tuple(reboot_timeout if s.spec.reboots else HANG_P90_FACTOR * p90(i)
                       for i, s in enumerate(plan.steps))

    units = []
    for u, (key, members) in enumerate(grouped):
        heads = [i for i in members if not any(unit_of[p] == u for p in preds[i])]
        assert len(heads) == 1 and heads[0] == members[0], f"unit {key} must have one head first"
        tails = [i for i in members if not any(i in preds[j] for j in members)]
        node = plan.steps[members[0]].node
        cau = key[0] == "pass" and key[1] == CAU_RUN
        need = _longest(members, preds, {i: quantile(i) for i in members})
        units.append(Unit(tuple(members), node, cau, reboot_in_unit.get(u, NO_STEP), tails[-1], need))

    in_cau = [plan.steps[i].group == CAU_RUN for i in range(len(plan.steps))]
    after_cau = tuple(not in_cau[i] and any(in_cau[p] for p in preds[i]) for i in range(len(plan.steps)))
    os_upgraded = tuple(i for i, s in enumerate(plan.steps)
                        if s.phase == "P2" and s.node is not None and s.kind in OS_REBOOTS)
    windows, start = window_minutes(plan, window_length, ignore_windows)
    risk_list = tuple((i, risks[s.kind]) for i, s in enumerate(plan.steps) if risks and s.kind in risks)
    sim = SimPlan(
        fingerprint=plan.fingerprint, cluster=model.cluster.name, method=upgrade.method,
        ids=tuple(s.id for s in plan.steps), kinds=tuple(s.kind for s in plan.steps),
        nodes=tuple(s.node for s in plan.steps), preds=preds, durations=durations,
        repair_from=tuple(repair_from), irreversible=tuple(s.spec.irreversible for s in plan.steps),
        mean_minutes=tuple(s.mean_minutes for s in plan.steps), unit_of=tuple(unit_of), units=tuple(units),
        after_cau=after_cau, os_upgraded=os_upgraded, windows=windows, planned_start=start, confidence=confidence,
        max_failed_nodes=upgrade.max_failed_nodes, max_retries_per_node=upgrade.max_retries_per_node,
        reboot_timeout=reboot_timeout,
        is_reboot=tuple(s.spec.reboots for s in plan.steps), hang_after=hang_after, drain_timeout=timing.drain_timeout / 60,
        repair_timeout=timing.repair_timeout / 60, injections=tuple(sorted(injections, key=lambda j: j.step)),
        risks=risk_list, scenario=scenario,
    )
    digest = hashlib.sha256(repr((sim.fingerprint, sim.durations, sim.windows, sim.confidence, sim.injections,
                                  sim.risks, sim.units)).encode("utf-8")).hexdigest()[:16]
    object.__setattr__(sim, "key", digest)
    return sim
