"""Does the plan's expected work fit its maintenance windows? (HCI804, a plan-level warning)

The figures are the plan's own: the expected work is the critical path of mean
step durations (`Plan.critical_path`), and a unit of work is what runs to a
safe point once started (a node's pass, the offline bracket, or a single
step), so it cannot be split across two windows. Both rules are lower bounds:
means, not percentiles (`hciplan simulate` gives those), and no packing loss.
"""

from __future__ import annotations

import math

from hciplan.compiler.diagnostics import Collector, Related
from hciplan.compiler.plan import Plan, Step
from hciplan.fmt import duration_text


def _duration(minutes: float) -> str:
    return duration_text(int(round(minutes)) * 60)


def _unit_key(step: Step) -> tuple:
    if step.group == "offline" or step.kind.startswith("offline."):
        return ("offline",)  # stop .. start: the cluster is never left stopped at a window's end
    if step.group and step.node:
        return (step.group, step.node)  # a node's pass runs to its safe point (resumed, storage healthy)
    return ("step", step.id)


def longest_unit(plan: Plan) -> tuple[str, float]:
    """(description, mean minutes) of the longest unit of work: a per-node pass, the offline bracket, or a step."""
    units: dict[tuple, list[Step]] = {}
    for step in plan.steps:
        units.setdefault(_unit_key(step), []).append(step)
    best = ("", 0.0)
    for key, steps in units.items():
        members = {s.id for s in steps}
        finish: dict[str, float] = {}
        for s in steps:  # plan order is topological
            finish[s.id] = max((finish[p] for p in s.after if p in members), default=0.0) + s.mean_minutes
        minutes = max(finish.values())
        if key[0] == "step":
            name = f"step `{key[1]}`"
        elif key[0] == "offline":
            name = f"the offline bracket (`{steps[0].id}` .. `{steps[-1].id}`)"
        else:
            name = f"the {key[0]} pass of {key[1]} (`{steps[0].id}` .. `{steps[-1].id}`)"
        if minutes > best[1]:
            best = (name, minutes)
    return best


def check_windows(plan: Plan, report: Collector) -> None:
    """Warn (HCI804) when the expected work exceeds the windows, or one unit exceeds the longest window."""
    upgrade = plan.model.upgrade
    windows = upgrade.windows if upgrade else ()
    if not windows:
        return
    work, _ = plan.critical_path()
    lengths = [(w.end - w.start).total_seconds() / 60 for w in windows]
    total, longest = sum(lengths), max(lengths)
    widest = windows[lengths.index(longest)]
    unit, unit_minutes = longest_unit(plan)
    count = f"{len(windows)} windows" if len(windows) > 1 else f"window `{windows[0].name}`"
    related = ([Related(widest.spans.header, f"the longest window, {_duration(longest)}")]
               if widest is not windows[0] else [])
    if unit_minutes > longest:
        report.report("HCI804", windows[0].spans.header,
                      f"{unit} takes {_duration(unit_minutes)} (mean) and cannot fit even the longest window "
                      f"(`{widest.name}`, {_duration(longest)}): no number of windows of this length holds it",
                      related=related,
                      hints=[f"expected work {_duration(work)} (critical path of mean step durations); "
                             f"{count}, {_duration(total)} in all",
                             f"a window of at least {_duration(unit_minutes)} is needed; once started, the unit runs "
                             "to its safe point past the window's end"])
        return
    if work > total:
        needed = math.ceil(work / longest)
        report.report("HCI804", windows[0].spans.header,
                      f"the expected work, {_duration(work)}, does not fit the {count} ({_duration(total)}"
                      f"{' in all' if len(windows) > 1 else ''}): "
                      f"it needs at least {needed} windows of {_duration(longest)}",
                      related=related,
                      hints=[f"expected work = the critical path of mean step durations; windows: "
                             + ", ".join(f"`{w.name}` {_duration(m)}" for w, m in zip(windows, lengths)),
                             f"add at least {needed - len(windows)} more window{'s' if needed - len(windows) > 1 else ''} "
                             f"of {_duration(longest)}, or longer "
                             "windows; the run stops at a safe point at a window's end and resumes in the next; "
                             "`hciplan simulate` gives the chance to finish"])
