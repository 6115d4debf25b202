"""What a Gantt chart of one traced run shows, as plain data: its panels and the window rule's marks.

Both Gantt charts draw from here (the matplotlib one of `simulate --gantt`,
hciplan/simulator/plots.py, and the report's hand-built SVG,
hciplan/backends/report/charts.py), so the two never disagree on where a
window's safe point is or which unit waited for the next window. No plotting
library is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass

from hciplan.simulator.engine import RunResult
from hciplan.simulator.prepared import SimPlan


@dataclass(frozen=True)
class Panel:
    """One panel of a Gantt chart: a window with activity (or the whole run without windows)."""

    window: int | None  # index in sp.windows; None without windows
    name: str
    start: float  # minutes from the planned start: the panel's left edge
    end: float  # its right edge: the window's end or the last step end in it, whichever is later
    window_end: float | None


@dataclass(frozen=True)
class Decision:
    """The window rule's decision at the end of a window: the next unit did not fit and waited."""

    unit: str  # the unit's id
    waits_for: str  # the window it started in
    need: float  # minutes the window had to hold for it to start (the plan's fit_minutes)
    left: float  # minutes left in the window after its safe point


@dataclass(frozen=True)
class WindowMarks:
    """Per window panel: its safe point (the end of the last unit started in it) and its decision."""

    window: int
    safe_point: float | None  # minutes from the planned start; None when no unit ended in it
    decision: Decision | None
    first_unit: str | None  # the first unit started in the window (the rule let it start)


def panels(sp: SimPlan, run: RunResult) -> list[Panel]:
    """A panel per window with activity (and always the first); one panel for a run without windows."""
    if not sp.windows:
        return [Panel(None, "the run", 0.0, max(run.end, 1.0), None)]
    out = []
    for k, w in enumerate(sp.windows):
        nxt = sp.windows[k + 1].start if k + 1 < len(sp.windows) else float("inf")
        inside = [s for s in run.segments if w.start <= s.start < nxt]
        if inside or k == 0:
            out.append(Panel(k, w.name, w.start, max([s.end for s in inside] + [w.end]), w.end))
    return out


def _end_of(run: RunResult, step: int) -> float | None:
    ends = [s.end for s in run.segments if s.step == step and s.status == "ok"]
    return max(ends) if ends else None


def _first_starts(run: RunResult) -> dict[int, float]:
    starts: dict[int, float] = {}
    for seg in run.segments:
        if seg.status == "ok" and seg.step not in starts:
            starts[seg.step] = seg.start
    return starts


def window_marks(sp: SimPlan, run: RunResult, window: int) -> WindowMarks:
    """The marks of window `window` in the traced `run` (which must have windows)."""
    starts = _first_starts(run)
    first = lambda units: min(units, key=lambda u: (starts.get(u.steps[0], 0.0), u.steps[0]))  # noqa: E731
    mine = [u for u, w in zip(sp.units, run.unit_windows) if w == window]
    tails = [end for end in (_end_of(run, u.tail) for u in mine) if end is not None]
    safe = max(tails) if tails else None
    decision = None
    later = [(u, w) for u, w in zip(sp.units, run.unit_windows) if w > window]
    if later and window + 1 < len(sp.windows):
        unit, waits_in = min(later, key=lambda item: (starts.get(item[0].steps[0], 0.0), item[0].steps[0]))
        left = max(0.0, sp.windows[window].end - (safe if safe is not None else sp.windows[window].start))
        decision = Decision(unit.id, sp.windows[waits_in].name, unit.need, left)
    return WindowMarks(window, safe, decision, first(mine).id if mine else None)
