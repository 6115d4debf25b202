"""Does the plan's expected work fit its maintenance windows? (HCI804, a plan-level warning)

The figures are the plan's own: the expected work is the critical path of mean
step durations (`Plan.critical_path`), and a unit of work (`Plan.units`) runs to
its safe point once started, so it cannot be split across two windows; its fit
time is the one the window rule uses. The work rule is a lower bound: means,
not percentiles (`hciplan simulate` gives those), and no packing loss.
"""

from __future__ import annotations

import math

from hciplan.compiler.diagnostics import Collector, Related
from hciplan.compiler.plan import Plan
from hciplan.compiler.quantities import format_minutes
from hciplan.percent import setting_text


def _duration(minutes: float) -> str:
    return format_minutes(minutes)


def longest_unit(plan: Plan) -> tuple[str, float]:
    """(description, minutes) of the plan's unit with the largest fit time (compiler/units.py)."""
    unit = max(plan.units, key=lambda u: (u.fit_minutes, u.id))
    if unit.kind == "step":
        name = f"step `{unit.head}`"
    elif unit.kind == "bracket":
        name = f"the offline bracket (`{unit.head}` .. `{unit.tail}`)"
    else:
        name = f"the pass `{unit.id}` (`{unit.head}` .. `{unit.tail}`)"
    return name, unit.fit_minutes


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
                      f"{unit} needs {_duration(unit_minutes)} (at the plan's {setting_text(plan.confidence)} confidence) and cannot fit even the longest window "
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
                      hints=["expected work = the critical path of mean step durations; windows: "
                             + ", ".join(f"`{w.name}` {_duration(m)}" for w, m in zip(windows, lengths)),
                             f"add at least {needed - len(windows)} more window{'s' if needed - len(windows) > 1 else ''} "
                             f"of {_duration(longest)}, or longer "
                             "windows; the run stops at a safe point at a window's end and resumes in the next; "
                             "`hciplan simulate` gives the chance to finish"])


def unit_windows(plan: Plan) -> dict[str, str | None]:
    """The window each unit starts in on the plan's expected schedule (None: after the last window).

    The schedule is the simulator's window rule run once at mean durations: every step starts when its
    predecessors end, and a unit's head only when its fit time ends inside a window (else at the next
    window's start). A plan without windows gives {}. `hciplan diff` reports units that move.
    """
    upgrade = plan.model.upgrade
    windows = sorted(upgrade.windows, key=lambda w: w.start) if upgrade else []
    if not windows:
        return {}
    origin = windows[0].start
    spans = [((w.start - origin).total_seconds() / 60, (w.end - origin).total_seconds() / 60) for w in windows]
    end: dict[str, float] = {}
    placed: dict[str, str | None] = {}
    for step in plan.steps:
        t = max((end[p] for p in step.after), default=0.0)
        unit = plan.unit_of(step.id)
        if unit.head == step.id:
            where = None
            for k, (start, stop) in enumerate(spans):
                if t >= stop:
                    continue
                t = max(t, start)
                if t + unit.fit_minutes <= stop:
                    where = windows[k].name
                    break
            placed[unit.id] = where
            if where is None:  # nothing fits: the rest of the schedule is after the last window
                t = max(t, spans[-1][1])
        end[step.id] = t + step.mean_minutes
    return placed
