"""Mixed OS mode: how long some nodes run 23H2 while others still run 22H2 (HCI805), one definition for check and simulate.

The cluster is in mixed OS mode from the moment the first node runs 23H2 (the
end of its reboot into 23H2) until the last node does, and it stays there
until the functional level is raised; Microsoft expects mixed mode to end
within 4 weeks [W-rolling]. So the mixed-mode time of a plan or of one run is
from the first node's reboot into 23H2 to the end of the functional-level
update when the plan raises the level, else to the last node's reboot into
23H2 (`functional_level = manual`: the level is raised by hand, later).

`check` (through `compile_checked`) warns with HCI805 when the plan's
expected schedule (compiler/schedule.py, mean durations and the window rule)
puts more than `LIMIT_DAYS` between the two; `simulate` reports the P50/P90
over the runs (simulator/engine.py calls `mixed_span` on each run).
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from hciplan.compiler.diagnostics import Collector, Related
from hciplan.compiler.plan import Plan
from hciplan.compiler.quantities import format_minutes
from hciplan.records import record

LIMIT_DAYS = 28  # "Microsoft expects mixed mode to end within 4 weeks" [W-rolling]
LIMIT_MINUTES = LIMIT_DAYS * 24 * 60
OS_REBOOTS = ("cau.reboot", "os.restart", "offline.reboot")  # the reboot into 23H2 of each method (P2, per node)
FUNCTIONAL_LEVEL = ("cau.functional_level", "post.functional_level")  # the steps that raise the level


@record
class MixedSteps:
    """The steps that begin and end mixed mode, by index into `plan.steps`."""

    os_upgraded: tuple[int, ...]  # per node, the reboot after which it runs 23H2
    functional_level: int | None  # the step raising the functional level (None: raised by hand)


def mixed_steps(plan: Plan) -> MixedSteps:
    reboots = tuple(i for i, s in enumerate(plan.steps) if s.phase == "P2" and s.node is not None
                    and s.kind in OS_REBOOTS)
    level = next((i for i, s in enumerate(plan.steps) if s.kind in FUNCTIONAL_LEVEL), None)
    return MixedSteps(reboots, level)


def mixed_span(finish: Sequence[float], os_upgraded: Sequence[int],
               functional_level: int | None) -> tuple[float, float | None] | None:
    """(start, end) of mixed mode from the steps' end times (negative: the step never ended).

    None when no node reached 23H2; end None when mixed mode had not ended
    (a node still on 22H2, or the functional level not raised yet).
    """
    ended = [finish[i] for i in os_upgraded if finish[i] >= 0]
    if not ended:
        return None
    start = min(ended)
    if len(ended) < len(os_upgraded):
        return start, None
    if functional_level is None:
        return start, max(ended)
    level = finish[functional_level]
    return (start, level) if level >= 0 else (start, None)


def _window_at(plan: Plan, minutes: float):
    """The window of the expected schedule a moment falls in (or the last one that started before it)."""
    ordered = sorted(plan.model.upgrade.windows, key=lambda w: w.start)  # as plan_schedule orders them
    return ordered[max((k for k, w in enumerate(plan.schedule.windows) if w.start <= minutes), default=0)]


def _moment(plan: Plan, minutes: float) -> str:
    origin = min(w.start for w in plan.model.upgrade.windows)
    text = (origin + dt.timedelta(minutes=round(minutes))).isoformat(timespec="minutes")
    return text.replace("+00:00", "Z")


def days(minutes: float) -> str:
    """`70 days` (or `5.5 days` below ten): the unit Microsoft's 4 weeks are counted in."""
    value = minutes / (24 * 60)
    return f"{value:.0f} days" if value >= 10 else f"{value:.1f} days"


def check_mixed_mode(plan: Plan, report: Collector) -> None:
    """HCI805: the expected schedule keeps the cluster in mixed OS mode longer than 4 weeks [W-rolling]."""
    schedule = plan.schedule
    if schedule is None or not schedule.step_finish:
        return
    steps = mixed_steps(plan)
    span = mixed_span(schedule.step_finish, steps.os_upgraded, steps.functional_level)
    if span is None:
        return
    start, end = span
    first = plan.steps[min((i for i in steps.os_upgraded if schedule.step_finish[i] >= 0),
                           key=lambda i: schedule.step_finish[i])]
    begins = _window_at(plan, start)
    if end is None:
        last_window = max(plan.model.upgrade.windows, key=lambda w: w.end)
        lasting = (last_window.end - min(w.start for w in plan.model.upgrade.windows)).total_seconds() / 60 - start
        if lasting <= LIMIT_MINUTES:
            return  # the work left over is HCI804's; within the windows mixed mode is no longer than 4 weeks
        report.report("HCI805", begins.spans.header,
                      f"mixed OS mode begins in window `{begins.name}` ({_moment(plan, start)}, when "
                      f"`{first.node}` runs 23H2) and does not end in the windows, which last "
                      f"{days(lasting)} more; Microsoft expects it to end within {LIMIT_DAYS // 7} weeks "
                      "[W-rolling]",
                      hints=["the expected schedule leaves some node's upgrade or the functional-level update "
                             "outside every window (see HCI804): add windows, or longer ones, at most "
                             f"{LIMIT_DAYS // 7} weeks after `{begins.name}`"])
        return
    if end - start <= LIMIT_MINUTES:
        return
    ends = _window_at(plan, end)
    what = ("the functional level is raised" if steps.functional_level is not None
            else "the last node runs 23H2 (the functional level is raised by hand after that)")
    report.report("HCI805", ends.spans.header,
                  f"mixed OS mode is expected to last {days(end - start)} ({format_minutes(end - start)}): from "
                  f"{_moment(plan, start)} in window `{begins.name}`, when `{first.node}` runs 23H2, to "
                  f"{_moment(plan, end)} in window `{ends.name}`, when {what}; Microsoft expects it to end "
                  f"within {LIMIT_DAYS // 7} weeks [W-rolling]",
                  related=[Related(begins.spans.header, "mixed mode begins in this window")]
                  if begins is not ends else [],
                  hints=[f"plan the nodes' OS upgrades and the functional-level update in windows at most "
                         f"{LIMIT_DAYS // 7} weeks apart (the expected schedule: `hciplan plan`, "
                         "\"Schedule by window\"), or longer windows that hold them; "
                         "`hciplan simulate` gives the mixed-mode P50/P90"])
