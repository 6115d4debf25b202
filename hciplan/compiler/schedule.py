"""The expected schedule by window: which units of work the window rule places in each window, and where it stops.

This is the plan's own answer to "what happens in which window" (the
simulator gives the spread around it): the steps run with their mean durations
(`Step.mean_minutes`), every step as soon as its predecessors are done, and
the window rule gates each unit's head as the simulator's does (engine.py):
a unit starts only if its `fit_minutes` end before the window does, otherwise
it waits for the next window; once started it runs to its safe point. A
window's *safe point* is the tail of the unit that ends last among those
started in it: the cluster is healthy there and the work stops until the next
window. Units no window holds are `unplaced` (HCI804 says why).

*Work time* is the time some step is running (the union of the steps'
intervals), as opposed to calendar time from the planned start, which also
counts the days between windows.

Computed once by the compiler (builder.finish) for the file's windows and
carried by the plan; the simulator calls `expected_schedule` again only for
windows the command line replaces (`simulate --window`).
"""

from __future__ import annotations

import bisect
from typing import Sequence

from hciplan.records import record


@record
class WindowPlan:
    """One window of the expected schedule (times in minutes from the planned start)."""

    name: str
    start: float
    end: float
    units: tuple[str, ...]  # unit ids whose head starts in this window, in plan order
    safe_point: str | None  # the step after which this window's work stops (None: no unit starts in it)
    stops_at: float | None  # when that safe point is reached (may pass `end`: a started unit runs to its safe point)
    work_minutes: float  # time with some step running, inside this window's share of the work


@record
class Schedule:
    """The expected schedule by window of a plan with windows."""

    windows: tuple[WindowPlan, ...]
    unplaced: tuple[str, ...]  # units the window rule cannot place in any window, in plan order
    work_minutes: float  # time with some step running, over the whole plan (mean durations)
    finish_window: str | None  # the window the last placed unit starts in
    step_finish: tuple[float, ...] = ()  # per step in plan order, when it ends (-1: it does not run); mixed.py

    @property
    def used(self) -> int:
        """How many windows hold some work."""
        return sum(1 for w in self.windows if w.units)

    def window_of(self) -> dict[str, int]:
        """Unit id -> index of the window it is planned in."""
        return {unit: k for k, w in enumerate(self.windows) for unit in w.units}


def busy_minutes(intervals: Sequence[tuple[float, float]]) -> float:
    """The length of the union of [start, end) intervals: the time at least one of them is running."""
    total, reach = 0.0, None
    for begin, end in sorted(intervals):
        if reach is None or begin > reach:
            total += end - begin
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def expected_schedule(step_ids: Sequence[str], preds: Sequence[Sequence[int]], minutes: Sequence[float],
                      units: Sequence[tuple[str, tuple[int, ...], int, float]],
                      windows: Sequence[tuple[str, float, float]]) -> Schedule | None:
    """The window rule on mean durations.

    Steps are given in plan order (a topological order) with their predecessors
    by index and mean minutes; `units` as (id, step indices with the head
    first, tail index, fit minutes); `windows` as (name, start, end) in minutes
    from the planned start, sorted by start. None without windows.
    """
    if not windows:
        return None
    n = len(step_ids)
    starts, ends = [w[1] for w in windows], [w[2] for w in windows]
    head_of = {u[1][0]: k for k, u in enumerate(units)}
    begin = [-1.0] * n
    finish = [-1.0] * n
    placed: dict[int, int] = {}  # unit -> window
    for i in range(n):
        if any(finish[p] < 0 for p in preds[i]):
            continue  # a predecessor never ran: neither does this step (the run stopped before it)
        now = max((finish[p] for p in preds[i]), default=0.0)
        u = head_of.get(i)
        if u is not None:
            need = units[u][3]
            while True:  # as engine.py's gate: the first window not ended, or the next one
                k = bisect.bisect_right(ends, now)
                if k == len(windows):
                    now = -1.0
                    break
                if now < starts[k]:
                    now = starts[k]
                    continue
                if now + need <= ends[k]:
                    placed[u] = k
                    break
                if k + 1 == len(windows):
                    now = -1.0
                    break
                now = starts[k + 1]
            if now < 0:
                continue
        begin[i], finish[i] = now, now + minutes[i]

    plans = []
    for k, (name, start, end) in enumerate(windows):
        mine = [u for u in range(len(units)) if placed.get(u) == k]
        steps = [i for u in mine for i in units[u][1] if finish[i] >= 0]
        tails = [(finish[units[u][2]], units[u][2]) for u in mine if finish[units[u][2]] >= 0]
        last = max(tails) if tails else None
        plans.append(WindowPlan(
            name=name, start=start, end=end, units=tuple(units[u][0] for u in mine),
            safe_point=step_ids[last[1]] if last else None, stops_at=round(last[0], 3) if last else None,
            work_minutes=round(busy_minutes([(begin[i], finish[i]) for i in steps]), 3)))
    unplaced = tuple(units[u][0] for u in range(len(units)) if u not in placed)
    used = [w for w in plans if w.units]
    work = busy_minutes([(begin[i], finish[i]) for i in range(n) if finish[i] >= 0])
    return Schedule(tuple(plans), unplaced, round(work, 3), used[-1].name if used else None,
                    tuple(round(f, 3) if f >= 0 else -1.0 for f in finish))


def plan_schedule(plan) -> Schedule | None:
    """The expected schedule of a `Plan` (its steps, units and the file's windows)."""
    windows = sorted(plan.model.upgrade.windows, key=lambda w: w.start) if plan.model.upgrade else []
    if not windows:
        return None
    origin = windows[0].start
    in_minutes = [(w.name, (w.start - origin).total_seconds() / 60, (w.end - origin).total_seconds() / 60)
                  for w in windows]
    return schedule_of(plan, in_minutes)


def schedule_of(plan, windows: Sequence[tuple[str, float, float]]) -> Schedule | None:
    """The expected schedule of a `Plan` in the given windows (name, start, end in minutes from the planned start)."""
    index = {s.id: i for i, s in enumerate(plan.steps)}
    preds = [[index[p] for p in s.after] for s in plan.steps]
    units = [(u.id, tuple(index[s] for s in u.steps), index[u.tail], u.fit_minutes) for u in plan.units]
    return expected_schedule([s.id for s in plan.steps], preds, [s.mean_minutes for s in plan.steps], units, windows)
