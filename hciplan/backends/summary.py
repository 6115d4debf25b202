"""The review-friendly text summary that `hciplan plan` prints, like `terraform plan`.

Values from the `.hciplan` file go through `escape.plain`, so none can move the cursor or reorder the text.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

from hciplan.backends.escape import plain
from hciplan.compiler.catalog import PHASES
from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.plan import Plan, Step
from hciplan.compiler.quantities import format_minutes
from hciplan.compiler.storage import format_size
from hciplan.percent import setting_text

NAME = "summary"
FILE_NAME = "plan.txt"

Style = Callable[..., str]


def _plain(text: str, **_: object) -> str:
    return text


def format_time(moment) -> str:
    """ISO 8601 to the minute, `Z` for UTC, as the language writes it."""
    text = moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")
    return text.replace("+00:00", "Z")


def _rows(plan: Plan, steps: list[Step]) -> list[tuple[str, Step | None, list[Step]]]:
    """Collapse per-node passes and per-node fans into one row each, keeping plan order."""
    rows: list[tuple[str, Step | None, list[Step]]] = []
    seen: dict[str, int] = {}
    for step in steps:
        if step.node is None:
            rows.append((step.id, step, [step]))
            continue
        key = f"{step.phase}.{step.group}" if step.group else step.id.rsplit(".", 1)[0]
        if key not in seen:
            seen[key] = len(rows)
            rows.append((key, None, []))
        rows[seen[key]][2].append(step)
    return rows


def _marks(steps: list[Step], style: Style) -> str:
    marks = []
    if any(s.spec.irreversible for s in steps):
        marks.append(style("IRREVERSIBLE", fg="red", bold=True))
    if any(s.spec.downtime for s in steps):
        marks.append(style("VM DOWNTIME", fg="yellow", bold=True))
    if any(s.spec.gate for s in steps):
        marks.append("gate")
    if any(s.spec.interactive for s in steps):
        marks.append("operator at console")
    return ("  [" + ", ".join(marks) + "]") if marks else ""


def _span(units: tuple[str, ...]) -> str:
    return plain(units[0]) if len(units) == 1 else f"{plain(units[0])} .. {plain(units[-1])}"


def clock(plan: Plan, minutes: float) -> str:
    """A time of the expected schedule (minutes from the first window's start) as the language writes it."""
    origin = min(w.start for w in plan.model.upgrade.windows)
    return format_time(origin + dt.timedelta(minutes=round(minutes)))


def schedule_lines(plan: Plan, style: Style = _plain) -> list[str]:
    """The expected schedule by window (compiler/schedule.py): what the window rule places where, and where it stops."""
    schedule = plan.schedule
    if schedule is None:
        return []
    used = schedule.used
    out = ["", style("Schedule by window", bold=True)
           + f" (expected: mean durations; a unit of work starts only if it fits at {setting_text(plan.confidence)} confidence)",
           f"  work          {format_minutes(schedule.work_minutes)} of work "
           + (f"placed in {used} window{'s' * (used != 1)}, the rest not placed" if schedule.unplaced else
              f"over {used} window{'s' * (used != 1)}, finishing in {plain(schedule.finish_window)}")]
    width = max(len(plain(w.name)) for w in schedule.windows)
    for w in schedule.windows:
        if not w.units:
            out.append(f"  {plain(w.name):<{width}}  no work")
            continue
        count = f"{len(w.units)} unit{'s' * (len(w.units) != 1)}"
        late = (f", {format_minutes(w.stops_at - w.end)} past its end" if w.stops_at > w.end + 0.5 else "")
        out.append(f"  {plain(w.name):<{width}}  {count:<9} {_span(w.units)}")
        out.append(f"  {'':<{width}}  {format_minutes(w.work_minutes)} of work; stops at the safe point after "
                   f"{plain(w.safe_point)} ({clock(plan, w.stops_at)}{late})")
    if schedule.unplaced:
        n = len(schedule.unplaced)
        out.append(f"  {'not placed':<{width}}  {n} unit{'s' * (n != 1)}: {_span(schedule.unplaced)}, "
                   "no window left holds them (see Warnings)")
    return out


def render_summary(plan: Plan, diagnostics: Iterable[Diagnostic] = (), style: Style = _plain) -> str:
    model = plan.model
    cluster, upgrade = model.cluster, model.upgrade
    order = [plain(n.name) for n in model.ordered_nodes()]
    minutes, _ = plan.critical_path()
    source = "Windows Update" if upgrade.source == "windows_update" else f"media at {plain(upgrade.media_path or '')}"
    out = [
        style(f"Plan for cluster {plain(cluster.name)}: {plain(cluster.version)} -> {plain(upgrade.to)}", bold=True),
        f"  method        {upgrade.method} ({source})" + ("; interactive: use the runbook" if plan.interactive else ""),
        f"  nodes         {len(cluster.nodes)}, upgrade order {' -> '.join(order)}",
        f"  VMs           {cluster.vm_count} ({format_size(cluster.ha_vm_memory)} HA memory)",
        f"  steps         {len(plan.steps)}",
        f"  expected      {format_minutes(minutes)} (critical path of mean step durations; "
        "`hciplan simulate` gives percentiles)",
        f"  fingerprint   {plan.fingerprint}",
    ]
    for window in upgrade.windows:
        length = (window.end - window.start).total_seconds() / 60
        out.append(f"  window        {plain(window.name)}: {format_time(window.start)} .. {format_time(window.end)} "
                   f"({format_minutes(length)})")
    # whether the work fits the windows is warning HCI804 (compiler/windows.py), listed under Warnings
    out.extend(schedule_lines(plan, style))
    for phase, steps in plan.phases():
        out.append("")
        out.append(style(f"{phase} {PHASES[phase]}", bold=True))
        for key, single, members in _rows(plan, steps):
            if single is not None:
                out.append(f"  {plain(single.id):<34} {plain(single.title)} ({format_minutes(single.mean_minutes)})"
                           + _marks([single], style))
                continue
            first = members[0]
            nodes = list(dict.fromkeys(plain(s.node) for s in members))
            if first.group:
                verbs = list(dict.fromkeys(plain(s.id.rsplit(".", 1)[-1]) for s in members))
                per_node = sum(s.mean_minutes for s in members) / len(nodes)
                name = "CAU run (one Invoke-CauRun)" if first.group == "cau_run" else f"{first.group} pass"
                out.append(f"  {name:<34} one node at a time: {' -> '.join(nodes)}"
                           + _marks(members, style))
                out.append(f"  {'':<34} each node: {' > '.join(verbs)} (~{format_minutes(per_node)} per node)")
            else:
                out.append(f"  {plain(key):<34} {plain(first.title)}, on each node in parallel "
                           f"({format_minutes(first.mean_minutes)})" + _marks(members, style))
    irreversible = [s for s in plan.steps if s.spec.irreversible]
    downtime = [s for s in plan.steps if s.spec.downtime]
    out.append("")
    out.append(style("Points of no return", bold=True))
    out.extend(f"  {plain(s.id):<34} {plain(s.title)}" for s in irreversible)
    if not irreversible:
        out.append("  none")
    out.append(style("VM downtime", bold=True))
    out.extend(f"  {plain(s.id):<34} {plain(s.title)}" for s in downtime)
    if not downtime:
        out.append("  none: HA VMs live-migrate off each node before it goes down")
    warnings = [d for d in diagnostics if d.severity.value == "warning"]
    if warnings:
        out.append(style("Warnings", bold=True))
        out.extend(f"  {plain(d.span.file)}:{d.span.line}:{d.span.column}: {d.code}: {plain(d.message)}" for d in warnings)
    return "\n".join(out) + "\n"


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = ()) -> dict[str, str]:
    return {FILE_NAME: render_summary(plan, diagnostics)}
