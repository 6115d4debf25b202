"""The campaign schedule: which cluster works in which windows, wave by wave (`hciplan fleet plan`).

Deterministic list scheduling over the clusters' own compiled plans, never
over durations of its own:

- Waves: each ring (0 = pilot, then 1, 2, ...) is cut, in campaign order
  (ring, entry, path), into waves of `wave_size` clusters. A wave is released
  when the previous one has ended (its last cluster's last step) plus `soak`;
  the first at the fleet's `start`.
- Health gate: when more than `gate_percent` % of a wave's clusters overran
  (their expected work does not fit their windows in the horizon) or could
  not be placed, no later wave starts: their clusters are `held`.
- A cluster is tried from each occurrence of its windows in turn (blackouts
  already left out, zones.py), from the first at or after its wave's release:
  its plan's expected schedule by window (`compiler.schedule.schedule_of`, the
  same window rule as `hciplan plan` and the simulator, mean durations) tells
  which units of work go in which occurrence and when each step runs. That
  start is taken when, over the whole time the cluster is in flight (its first
  step's start to its last step's end), fewer than `max_in_flight` other
  clusters are, and every step that needs an operator (`Plan.needs_operator`)
  lies inside a shift occurrence with a free operator for its whole duration.
  Without shifts, operators are not limited.

Every time is in minutes from the campaign's start (rounded to 0.001, as the
plan's schedule). `fleet simulate` can replay the same bookings with drawn
durations: each cluster's `windows` are the occurrences its plan was given.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Sequence

from hciplan.compiler.schedule import schedule_of
from hciplan.fleet import model as fm
from hciplan.fleet import zones
from hciplan.fleet.load import FleetCheck
from hciplan.records import record

PLANNED, OVERRAN, UNPLACED, HELD = "planned", "overran", "unplaced", "held"
FIRST_TRY = 8  # window occurrences a cluster's schedule is first computed over (all of them if it needs more)


@record
class WindowUse:
    """One window occurrence a cluster's plan works in (minutes from the campaign's start)."""

    name: str
    start: float
    end: float
    units: int  # units of work whose head starts in it
    work_minutes: float
    stops_at: float  # the window's safe point (may pass `end`: a started unit runs to its safe point)


@record
class OperatorStep:
    step: str
    start: float
    end: float
    shift: int | None  # index into Campaign.shifts; None without shifts


@record
class ClusterPlan:
    name: str  # the cluster's name
    file: str
    fingerprint: str
    ring: int
    wave: int  # 1-based
    site: str | None
    zone: str
    status: str  # planned | overran | unplaced | held
    windows: tuple[WindowUse, ...] = ()  # the occurrences it works in (planned only)
    offered: tuple[tuple[str, float, float], ...] = ()  # the occurrences its plan was given, from its first
    start: float | None = None
    end: float | None = None
    operator: tuple[OperatorStep, ...] = ()
    expected_minutes: float = 0.0  # work time of its expected schedule (some step running)
    reason: str = ""  # why not planned


@record
class Wave:
    index: int  # 1-based
    ring: int
    clusters: tuple[str, ...]
    released: float | None  # None: held by the gate
    end: float | None
    overran: int
    gate_passed: bool | None  # None: not evaluated (held, or the last wave)


@record
class ShiftLoad:
    name: str
    start: float
    end: float
    operators: int
    steps: int
    minutes: float  # operator-minutes booked
    peak: int  # most operators busy at once


@record
class Campaign:
    fleet: str
    start: dt.datetime  # UTC
    weeks: int
    max_in_flight: int
    gate_percent: int
    soak_minutes: float
    clusters: tuple[ClusterPlan, ...]
    waves: tuple[Wave, ...]
    shifts: tuple[ShiftLoad, ...]  # every shift occurrence in the horizon, in order
    limited_operators: bool
    end: float | None  # the last planned cluster's end
    stopped_after: int | None  # the wave whose gate stopped the campaign

    def at(self, minutes: float) -> dt.datetime:
        return self.start + dt.timedelta(minutes=minutes)


def _minutes(origin: dt.datetime, moment: dt.datetime) -> float:
    return round((moment - origin).total_seconds() / 60, 3)


def _peak(intervals: Sequence[tuple[float, float]], begin: float, end: float) -> int:
    """The most intervals open at once inside [begin, end)."""
    events = []
    for b, e in intervals:
        b, e = max(b, begin), min(e, end)
        if b < e:
            events.append((b, 1))
            events.append((e, -1))
    events.sort()  # at equal times, -1 (an end) before +1 (a start): touching intervals do not overlap
    now = top = 0
    for _, delta in events:
        now += delta
        top = max(top, now)
    return top


class _Intervals:
    """Booked intervals (clusters in flight, steps in a shift), sorted by start: a peak reads only those that may
    overlap it. `booked` keeps them in booking order (the shift loads sum them in that order).

    Every interval is at most `longest` long, so one that starts before `begin - longest` has ended by
    `begin`: a check costs a bisection and the few neighbours, not a pass over every cluster placed so far
    (that made the schedule quadratic in clusters).
    """

    def __init__(self) -> None:
        self.begins: list[float] = []
        self.intervals: list[tuple[float, float]] = []
        self.booked: list[tuple[float, float]] = []
        self.longest = 0.0

    def add(self, begin: float, end: float) -> None:
        k = bisect.bisect_right(self.begins, begin)
        self.begins.insert(k, begin)
        self.intervals.insert(k, (begin, end))
        self.booked.append((begin, end))
        self.longest = max(self.longest, end - begin)

    def near(self, begin: float, end: float) -> list[tuple[float, float]]:
        """The booked intervals that may overlap [begin, end) (a few more do no harm: `_peak` clips them)."""
        lo = bisect.bisect_left(self.begins, begin - self.longest - 1.0)  # 1 minute of margin for rounding
        hi = bisect.bisect_left(self.begins, end)  # those starting at or after `end` do not overlap
        return self.intervals[lo:hi]

    def peak(self, begin: float, end: float) -> int:
        return _peak(self.near(begin, end), begin, end)


def plan_campaign(checked: FleetCheck) -> Campaign:
    """The campaign of a fleet whose check passed (`checked.ok`)."""
    fleet = checked.fleet
    assert fleet is not None and checked.ok, "plan_campaign needs a fleet without errors"
    origin, last = zones.horizon(fleet)
    shift_slots: list[tuple[str, float, float, int]] = []
    for s in fleet.shifts:
        zone = zones.zone_of(s.zone) or zones.UTC
        for b, e in zones.weekly(s.day, s.start, s.length, zone, origin, last):
            shift_slots.append((s.name, _minutes(origin, b), _minutes(origin, e), s.operators))
    shift_slots.sort(key=lambda x: (x[1], x[2], x[0]))
    shift_busy = [_Intervals() for _ in shift_slots]
    flights = _Intervals()

    # waves: each ring cut into waves of wave_size, in campaign order (load.py sorted the files so)
    waves_of: list[tuple[int, list]] = []
    for ring in sorted({fleet.entries[c.entry].ring for c in checked.clusters}):
        members = [c for c in checked.clusters if fleet.entries[c.entry].ring == ring]
        for k in range(0, len(members), fleet.wave_size):
            waves_of.append((ring, members[k:k + fleet.wave_size]))

    windows_of = zones.windows_of_clusters(fleet, checked.clusters)  # each entry's occurrences, computed once
    slots_of: dict[int, list[tuple[str, float, float]]] = {}

    def _slots(windows: zones.ClusterWindows) -> list[tuple[str, float, float]]:
        """The occurrences in minutes from the campaign's start, once per ClusterWindows (shared by an entry)."""
        if id(windows) not in slots_of:
            slots_of[id(windows)] = [(o.name, _minutes(origin, o.start), _minutes(origin, o.end))
                                     for o in windows.occurrences]
        return slots_of[id(windows)]
    soak = fleet.soak / 60
    release = 0.0
    stopped: int | None = None
    plans: list[ClusterPlan] = []
    waves: list[Wave] = []
    for number, (ring, members) in enumerate(waves_of, start=1):
        if stopped is not None:
            held = [_cluster_plan(fleet, c, windows_of[id(c)], ring, number, HELD,
                                  reason=f"held: the health gate after wave {stopped} stopped the campaign")
                    for c in members]
            plans.extend(held)
            waves.append(Wave(number, ring, tuple(p.name for p in held), None, None, 0, None))
            continue
        placed = [_place(fleet, c, windows_of[id(c)], ring, number, release, _slots(windows_of[id(c)]), flights,
                         shift_slots, shift_busy) for c in members]
        plans.extend(placed)
        ends = [p.end for p in placed if p.end is not None]
        end = max(ends) if ends else None
        overran = sum(p.status != PLANNED for p in placed)
        passed = None
        if number < len(waves_of):
            passed = overran * 100 <= fleet.gate_percent * len(placed)
            if not passed:
                stopped = number
        waves.append(Wave(number, ring, tuple(p.name for p in placed), release, end, overran, passed))
        if end is not None:
            release = max(release, round(end + soak, 3))

    loads = []
    for k, (name, b, e, operators) in enumerate(shift_slots):
        busy = shift_busy[k].booked
        loads.append(ShiftLoad(name, b, e, operators, len(busy), round(sum(y - x for x, y in busy), 3),
                               _peak(busy, b, e)))
    ends = [p.end for p in plans if p.end is not None]
    return Campaign(fleet.name, origin, fleet.weeks, fleet.max_in_flight, fleet.gate_percent, soak, tuple(plans),
                    tuple(waves), tuple(loads), bool(fleet.shifts), max(ends) if ends else None, stopped)


def _cluster_plan(fleet: fm.Fleet, c, occurrences: zones.ClusterWindows, ring: int, wave: int, status: str,
                  **extra) -> ClusterPlan:
    entry = fleet.entries[c.entry]
    plan = c.result.plan
    return ClusterPlan(plan.model.cluster.name, c.name, plan.fingerprint, ring, wave, entry.site, occurrences.zone,
                       status, **extra)


def _place(fleet: fm.Fleet, c, windows: zones.ClusterWindows, ring: int, wave: int, release: float,
           all_slots: list[tuple[str, float, float]], flights: _Intervals, shift_slots, shift_busy) -> ClusterPlan:
    """The first start from which the cluster's plan fits its windows, the in-flight limit and the shifts."""
    plan = c.result.plan
    slots = [s for s in all_slots if s[1] >= release]
    needs = [i for i, s in enumerate(plan.steps) if plan.needs_operator(s) and s.mean_minutes > 0]
    limited = False
    tried: dict[tuple, object] = {}  # relative windows -> the plan's schedule in them
    for first in range(len(slots)):
        offered = slots[first:]
        base = offered[0][1]
        relative = [(n, b - base, e - base) for n, b, e in offered]
        # The window rule is causal (a unit's window depends on the windows before it only), so the first
        # few occurrences give the same schedule as all of them whenever they hold every unit: cheaper.
        key = tuple(relative[:FIRST_TRY])
        schedule = tried.get(key)  # weekly windows repeat: most later starts see the same relative windows
        if schedule is None:
            schedule = tried[key] = schedule_of(plan, relative[:FIRST_TRY])
        if schedule.unplaced and len(relative) > FIRST_TRY:
            schedule = schedule_of(plan, relative)
        if schedule.unplaced:  # fewer windows from any later start: it cannot fit from those either
            if limited:
                break  # it would have fitted from an earlier start: the limits, not its windows, stopped it
            return _cluster_plan(fleet, c, windows, ring, wave, OVERRAN, offered=tuple(offered),
                                 reason=f"{len(schedule.unplaced)} units of work do not fit its windows "
                                        f"before the horizon ({fleet.weeks} weeks)")
        finish = schedule.step_finish
        ran = [i for i in range(len(plan.steps)) if finish[i] >= 0]
        begin = base + min(finish[i] - plan.steps[i].mean_minutes for i in ran)
        end = base + max(finish[i] for i in ran)
        begin, end = round(begin, 3), round(end, 3)
        if flights.peak(begin, end) >= fleet.max_in_flight:
            limited = True
            continue
        booking = _book_operators(plan, needs, finish, base, shift_slots, shift_busy)
        if booking is None:
            limited = True
            continue
        flights.add(begin, end)
        uses = tuple(WindowUse(w.name, round(w.start + base, 3), round(w.end + base, 3), len(w.units),
                               w.work_minutes, round(w.stops_at + base, 3))
                     for w in schedule.windows if w.units)
        return _cluster_plan(fleet, c, windows, ring, wave, PLANNED, windows=uses, offered=tuple(offered), start=begin,
                             end=end, operator=booking, expected_minutes=schedule.work_minutes)
    why = ("the in-flight limit or the operators' shifts leave no start for it before the horizon" if limited
           else "no window occurrence after its wave's release")
    return _cluster_plan(fleet, c, windows, ring, wave, UNPLACED, reason=why)


def _book_operators(plan, needs: list[int], finish, base: float, shift_slots, shift_busy):
    """Book each operator step in a shift occurrence with a free operator; None (nothing booked) if one cannot be."""
    steps = []
    for i in needs:
        if finish[i] < 0:
            continue
        b = round(base + finish[i] - plan.steps[i].mean_minutes, 3)
        e = round(base + finish[i], 3)
        steps.append((plan.steps[i].id, b, e))
    if not shift_slots:
        return tuple(OperatorStep(s, b, e, None) for s, b, e in steps)
    tentative: dict[int, list[tuple[float, float]]] = {}
    booked = []
    for step_id, b, e in steps:
        chosen = None
        for k, (_, sb, se, operators) in enumerate(shift_slots):
            if sb > b:
                break  # sorted by start: no later shift holds the step's start
            if se >= e and _peak(shift_busy[k].near(b, e) + tentative.get(k, []), b, e) < operators:
                chosen = k
                break
        if chosen is None:
            return None  # no shift with a free operator for the whole step
        tentative.setdefault(chosen, []).append((b, e))
        booked.append(OperatorStep(step_id, b, e, chosen))
    for k, intervals in tentative.items():
        for b, e in intervals:
            shift_busy[k].add(b, e)
    return tuple(booked)
