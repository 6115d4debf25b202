"""Units of work, safe points and bounds: the numbers the simulator and every backend share.

A *unit* is what the window rule starts as a whole: a node's pass (drain ..
storage wait), the offline bracket (stop .. start), or one plain step. Between
units the cluster is at a *safe point*: every node Up and not paused, storage
healthy, no repair job pending. The window rule applies only at a unit's head:
a unit starts only if its `fit_minutes` (the `window_confidence`-quantile of
the unit's own duration, its longest path as the simulator draws it:
compiler/unitfit.py) end before the window does; once started it runs to its
safe point, past the window's end if it must.

Every step carries `bound_minutes`: how long the script waits for it and when
the simulator gives it up. Reboots are bounded by the plan's reboot timeout
(CAU's `-RebootTimeoutMinutes`), drains by `timing.drain_timeout`, storage waits
by `timing.repair_timeout`; when the file leaves one unset it is derived from
the duration model (`TIMEOUT_P90_FACTOR` x its P90, at least the old fixed
default). Every other step is given up after `HANG_P90_FACTOR` x its P90, at
least `MIN_BOUND` minutes. The factors and floors are assumptions (nothing is
published); docs/plan.md lists them.

All of this is computed once, here, from the resolved duration models (the
timing block included); the Plan carries it (`Step.bound_minutes`,
`Plan.units`), and no consumer recomputes it.
"""

from __future__ import annotations

import math

from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.diagnostics import Collector
from hciplan.compiler.durations import StepDuration, resolve
from hciplan.compiler.model import DEFAULT_TIMING, Model
from hciplan.compiler.unitfit import UnitStep, unit_quantile
from hciplan.records import record

CAU_RUN = "cau_run"  # the group of the steps one Invoke-CauRun performs
OFFLINE = "offline"  # the group of the per-node steps inside the offline bracket

# Assumptions (nothing is published): a watched wait (reboot, drain, repair) is given up after twice its P90;
# a step nobody watches after four times its P90 (someone, or CAU's run, notices it is stuck).
TIMEOUT_P90_FACTOR = 2.0
HANG_P90_FACTOR = 4.0
MIN_BOUND = 15.0  # minutes: no step is given up sooner
# The floors of the derived timeouts: CAU's default reboot allowance [W-opts], and hciplan's earlier fixed defaults.
MIN_REBOOT_TIMEOUT = 15.0
MIN_DRAIN_TIMEOUT = 30.0
MIN_REPAIR_TIMEOUT = 120.0
MAX_REBOOT_TIMEOUT = 360.0  # CAU's -RebootTimeoutMinutes range [W-opts]

# The conditions that hold at every safe point (docs/plan.md); the plan JSON lists them for its readers.
SAFE_POINT = ("every node Up", "no node paused", "every virtual disk Healthy", "no storage job running")


@record
class Unit:
    """Steps the window rule starts as a whole; the cluster is at a safe point before and after."""

    id: str
    kind: str  # "pass" (a node's drain .. storage wait) | "bracket" (the offline outage) | "step"
    steps: tuple[str, ...]  # step ids in plan order; steps[0] is the head, the only step the window rule gates
    node: str | None
    cau: bool  # a node attempt of the CAU run: CAU's retry rules apply, its pre-update script gates the node
    down: str | None  # the step that takes the node down (its first reboot), if any
    # the setup before `down` whose offline part (its step's offline_share) already has the node down, if any:
    # the down time, the resync and the exposure start there (durations.offline_share)
    down_from: str | None
    tail: str  # the step after which the safe point holds again
    fit_minutes: float  # what the window must still hold for the unit to start: its duration's confidence-quantile
    bound_minutes: float  # the far bound: its steps' bounds on its longest path

    @property
    def head(self) -> str:
        return self.steps[0]


def whole_minutes(value: float) -> int:
    """A bound as the whole minutes the script passes to cmdlets (rounded up, at least 1)."""
    return max(1, math.ceil(value - 1e-9))


def step_durations(model: Model, kinds: list[str]) -> list[StepDuration]:
    return [resolve(model, kind, CATALOG[kind].duration_model) for kind in kinds]


def reboot_timeout_minutes(model: Model, reboot_durations: list[StepDuration]) -> int:
    """The plan's reboot timeout: the file's, else twice the slowest reboot's P90 (at least CAU's 15 min)."""
    upgrade = model.upgrade
    if upgrade.reboot_timeout is not None:
        return whole_minutes(upgrade.reboot_timeout / 60)
    slowest = max((d.quantile(0.9) for d in reboot_durations), default=0.0)
    return whole_minutes(min(MAX_REBOOT_TIMEOUT, max(MIN_REBOOT_TIMEOUT, TIMEOUT_P90_FACTOR * slowest)))


def unit_key(step_id: str, kind: str, node: str | None, group: str | None) -> tuple:
    """Which unit a step belongs to: its node pass, the offline bracket, or itself."""
    effect = CATALOG[kind].effect
    if group == OFFLINE or effect in ("stop_cluster", "start_cluster"):
        return ("bracket", OFFLINE)
    if node is not None and group is not None:
        return ("pass", group, node)
    return ("step", step_id)


def _unit_id(key: tuple, head: str) -> str:
    if key[0] == "pass":
        return head.rsplit(".", 1)[0]  # "p1.registry.HCI04.drain" -> "p1.registry.HCI04"
    if key[0] == "bracket":
        return head.split(".", 1)[0] + "." + OFFLINE
    return head


def _longest(members: list[int], preds: list[tuple[int, ...]], minutes: list[float]) -> float:
    inside = set(members)
    finish: dict[int, float] = {}
    for i in members:  # plan order is a topological order
        finish[i] = max((finish[p] for p in preds[i] if p in inside), default=0.0) + minutes[i]
    return max(finish.values(), default=0.0)


def _unit_steps(group: list[int], preds: list[tuple[int, ...]], durations: list[StepDuration], specs: list,
                down: int | None, lead: int | None, shares: list[float]) -> tuple[UnitStep, ...]:
    """A unit's steps as the sampler reads them: positions inside the unit, and the repair's down time (its
    reboot, plus the offline share of the setup before it)."""
    position = {i: k for k, i in enumerate(group)}
    return tuple(UnitStep(durations[i], specs[i].duration_model, tuple(position[p] for p in preds[i] if p in position),
                          position[down] if down is not None and durations[i].repair else None,
                          position[lead] if lead is not None and durations[i].repair else None,
                          shares[lead] if lead is not None and durations[i].repair else 0.0)
                 for i in group)


@record
class Bounds:
    """What `plan_bounds` computes for a plan's steps, in plan order."""

    bound_minutes: tuple[float, ...]
    p90_minutes: tuple[float, ...]  # each step's P90 (a repair wait's with its down time's P90: setup's part + reboot)
    units: tuple[Unit, ...]
    reboot_timeout: int  # minutes
    confidence: float


def plan_bounds(model: Model, ids: list[str], kinds: list[str], nodes: list[str | None],
                groups: list[str | None], preds: list[tuple[int, ...]], shares: list[float]) -> Bounds:
    """Bounds and units of the steps given in plan order (`preds` by index, `shares` the steps' offline_share)."""
    timing = model.timing or DEFAULT_TIMING
    confidence = timing.window_confidence
    durations = step_durations(model, kinds)
    specs = [CATALOG[k] for k in kinds]

    keys = [unit_key(ids[i], kinds[i], nodes[i], groups[i]) for i in range(len(ids))]
    members: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    # The repair wait of a pass resyncs what was written while the node was down: from the offline part of
    # the setup that precedes the pass's first reboot (a predecessor in the same pass) to that reboot's end.
    down_of: dict[tuple, int] = {}
    for i, spec in enumerate(specs):
        if spec.takes_node_down:
            down_of.setdefault(keys[i], i)
    offline_of: dict[tuple, int] = {}
    for key, d in down_of.items():
        lead = [p for p in preds[d] if keys[p] == key and shares[p] > 0]
        if lead:
            offline_of[key] = lead[-1]

    def down_quantile(i: int, q: float) -> float:
        """The down time's q-quantile: the parts' quantiles added (conservative, like StepDuration.quantile)."""
        d = down_of.get(keys[i])
        if d is None or specs[i].effect != "repair_wait":
            return 0.0
        lead = offline_of.get(keys[i])
        return durations[d].quantile(q) + (shares[lead] * durations[lead].quantile(q) if lead is not None else 0.0)

    reboot_timeout = reboot_timeout_minutes(model, [d for d, s in zip(durations, specs) if s.reboots])
    p90 = [durations[i].quantile(0.9, down_quantile(i, 0.9)) for i in range(len(ids))]
    bounds = []
    for i, spec in enumerate(specs):
        if spec.reboots:
            bound = float(reboot_timeout)
        elif spec.effect == "drain":
            bound = (timing.drain_timeout / 60 if timing.drain_timeout is not None
                     else max(MIN_DRAIN_TIMEOUT, TIMEOUT_P90_FACTOR * p90[i]))
        elif spec.effect == "repair_wait":
            bound = (timing.repair_timeout / 60 if timing.repair_timeout is not None
                     else max(MIN_REPAIR_TIMEOUT, TIMEOUT_P90_FACTOR * p90[i]))
        else:
            bound = max(MIN_BOUND, HANG_P90_FACTOR * p90[i])
        bounds.append(float(whole_minutes(bound)))

    units = []
    for key, group in members.items():
        head = group[0]
        assert not any(p in group for p in preds[head]), f"unit {key} must start at its first step"
        tails = [i for i in group if not any(i in preds[j] for j in group)]
        down, lead = down_of.get(key), offline_of.get(key)
        # The fit time: the confidence-quantile of the unit's own duration, drawn as the simulator draws it
        # (compiler/unitfit.py), not the sum of its steps' quantiles (which holds far more than the confidence).
        fit = unit_quantile(_unit_steps(group, preds, durations, specs, down, lead, shares), timing.run_spread,
                            timing.kind_spread, confidence)
        units.append(Unit(
            id=_unit_id(key, ids[head]), kind=key[0], steps=tuple(ids[i] for i in group), node=nodes[head],
            cau=key[0] == "pass" and key[1] == CAU_RUN, down=ids[down] if down is not None else None,
            down_from=ids[lead] if lead is not None else None,
            tail=ids[tails[-1]], fit_minutes=round(fit, 3),
            bound_minutes=_longest(group, preds, bounds)))
    return Bounds(tuple(bounds), tuple(round(x, 3) for x in p90), tuple(units), reboot_timeout, confidence)


def check_bounds(plan, report: Collector) -> None:
    """HCI920: a timeout the file sets below the P90 of a step it bounds (that step would fail one run in ten)."""
    model = plan.model
    timing = model.timing or DEFAULT_TIMING
    written = {  # effect -> (the attribute, where it was written)
        "reboot": ("reboot_timeout", model.upgrade.reboot_timeout, model.upgrade.spans),
        "drain": ("drain_timeout", timing.drain_timeout, timing.spans),
        "repair_wait": ("repair_timeout", timing.repair_timeout, timing.spans),
    }
    worst: dict[str, tuple[float, str]] = {}
    for step in plan.steps:  # the P90s the bounds were derived from, carried by the plan
        effect = "reboot" if step.spec.reboots else step.spec.effect
        if effect not in written or written[effect][1] is None:
            continue
        if step.p90_minutes > step.bound_minutes and step.p90_minutes > worst.get(effect, (0.0, ""))[0]:
            worst[effect] = (step.p90_minutes, step.id)
    for effect, (p90, step_id) in sorted(worst.items()):
        name, _, spans = written[effect]
        span = spans[name] if spans is not None else model.upgrade.spans.header
        bound = plan.step(step_id).bound_minutes
        digits = 0 if math.floor(p90) > bound else 1  # never "30 min, but ... up to 30 min"
        report.report("HCI920", span,
                      f"`{name}` is {bound:.0f} min, but `{step_id}` takes up to {p90:.{digits}f} min in 9 runs out of 10: "
                      "it would be given up while nothing is wrong",
                      hints=[f"raise `{name}` to at least {whole_minutes(p90 * TIMEOUT_P90_FACTOR)}m, or leave it "
                             "out and let hciplan derive it from the duration models"])
