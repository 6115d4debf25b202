"""Helpers for the simulator tests: plans from generated .hciplan texts, and timelines."""

from __future__ import annotations

import dataclasses

from hciplan.compiler.compile import compile_checked
from hciplan.compiler.durations import MODEL_NAMES
from hciplan.compiler.pipeline import check_text
from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import RunResult
from hciplan.simulator.prepared import NO_STEP, SimPlan
from plan_models import Shape, hciplan_text


def plan_of(text: str):
    result = compile_checked(check_text(text, "sim.hciplan"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    return result.plan


def shape_text(shape: Shape, upgrade_extra: str = "", tail: str = "", windows: str | None = None) -> str:
    """A generated file, with extra upgrade attributes, extra top-level blocks, or other windows."""
    text = hciplan_text(shape)
    text = text.replace('  to = "23H2"\n', '  to = "23H2"\n' + upgrade_extra + "\n", 1)
    if windows is not None:
        text = text.replace('  window "w1" { start = 2026-12-05T22:00Z  end = 2026-12-06T06:00Z }', windows)
    return text + tail


def fixed_timing(minutes: int = 10) -> str:
    """A timing block that makes every duration model fixed and the runs' shared factors 1 (zero variance)."""
    models = "\n".join(f'  model "{name}" {{ distribution = fixed  value = {minutes + k}m }}'
                       for k, name in enumerate(MODEL_NAMES))
    return "\ntiming {\n  run_spread = 0  kind_spread = 0\n" + models + "\n}\n"


def without_recovery(plan):
    """`plan` with no recovery allowed (`max_recoveries = 0`): a failure ends the run where CAU or the script stops."""
    return dataclasses.replace(plan, recovery=dataclasses.replace(plan.recovery, max_recoveries=0))


def final_segments(run: RunResult) -> dict[int, tuple[float, float]]:
    """The last ok segment of each step that finished."""
    done: dict[int, tuple[float, float]] = {}
    for s in run.segments:
        if s.status == "ok":
            done[s.step] = (s.start, s.end)
    return done


def down_intervals(sp: SimPlan, run: RunResult) -> list[tuple[str, float, float]]:
    """(node, from, to) per unit with a reboot: from the offline part of the setup before its first reboot (the
    unit's offline share of the setup's last ok attempt before it) until the unit's tail ends (or the run ends)."""
    intervals = []
    for unit in sp.units:
        if unit.reboot == NO_STEP or unit.node is None:
            continue
        starts = [s.start for s in run.segments if s.step == unit.reboot]
        if not starts:
            continue
        first = min(starts)
        setups = [s for s in run.segments if s.step == unit.down_from and s.status == "ok" and s.end <= first]
        offline = unit.offline * (setups[-1].end - setups[-1].start) if setups else 0.0
        ends = [s.end for s in run.segments if s.step == unit.tail and s.status == "ok"]
        intervals.append((unit.node, first - offline, max(ends) if ends else run.end))
    return intervals


def prepare_text(text: str, **options) -> tuple[object, SimPlan]:
    plan = plan_of(text)
    return plan, prepare_simulation(plan, **options)
