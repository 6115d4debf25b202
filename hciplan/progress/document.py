"""`hciplan progress`: the night so far and the estimate of the rest, as one `hciplan.progress/1` document.

`progress_document` reads the journal against the plan (`state.night_state`),
updates the shared speed factors from the measured steps (`posterior.py`),
simulates the rest from now (`estimate.py`) and returns the document that
`--format json` prints and the text report (`render.py`) is drawn from, so the
two always say the same. docs/progress.md documents every field. Times are ISO
8601 in the windows' time zone (UTC without windows), durations in minutes
rounded to 0.01, shares to 0.0001; lists are in plan order, so the same journal,
`--now` and seed give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Callable

from hciplan.compiler.catalog import PHASES
from hciplan.compiler.plan import Plan
from hciplan.journal import Journal
from hciplan.progress.estimate import Estimate, run_traces, summarise
from hciplan.progress.posterior import Speed, observe, posterior
from hciplan.progress.state import FINISHED, STATUSES, STOPS, NightState, StepStatus, night_state
from hciplan.simulator import prepare_simulation
from hciplan.simulator.prepared import Given, SimPlan, SimWindow, with_given

SCHEMA = "hciplan.progress/1"

RERUN = {
    "failed": "the script stopped here: fix the cause and rerun; the rerun starts this step again",
    "timeout": "the script stopped here (a bounded wait ran out): fix the cause and rerun; the rerun starts this "
               "step again",
    "declined": "declined at the prompt: the rerun asks again",
    "paused": "waiting for the operator: the rerun with -Acknowledge '{id}' continues",
    "window": "stopped for the window: the rerun in the next window starts it",
}


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


class _Clock:
    """Minutes from the origin, and moments, as ISO 8601 in the windows' zone."""

    def __init__(self, origin: dt.datetime, zone: dt.tzinfo):
        self.origin, self.zone = origin, zone

    def moment(self, moment: dt.datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(self.zone).isoformat(timespec="seconds")

    def at(self, minutes: float | None) -> str | None:
        if minutes is None:
            return None
        try:
            return self.moment(self.origin + dt.timedelta(minutes=minutes))
        except OverflowError:  # past the year 9999 (absurd timing figures): no date to show
            return None


def unit_status(statuses: list[str]) -> str:
    """A unit's status from its steps' (docs/progress.md): done, skipped, running, a stop, started, pending."""
    if all(s in FINISHED for s in statuses):
        return "skipped" if all(s == "skipped" for s in statuses) else "done"
    if "running" in statuses:
        return "running"
    for s in statuses:
        if s in STOPS:
            return s
    return "started" if any(s in FINISHED for s in statuses) else "pending"


def progress_document(plan: Plan, journal: Journal, now: dt.datetime, runs: int = 1000, seed: int = 0,
                      jobs: int | None = None, cau_node: str | None = None, clock: bool = False,
                      progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The `hciplan.progress/1` document of `journal` at `now` (see the module docstring)."""
    state = night_state(plan, journal, now, cau_node, clock)
    sp = prepare_simulation(plan)
    index = {step_id: i for i, step_id in enumerate(sp.ids)}
    m = state.minutes
    facts = {index[step_id]: (m(begin), m(end)) for step_id, begin, end in state.facts}
    measured = {index[s.id]: s.actual_minutes for s in state.steps if s.measured}
    speed = posterior(sp, observe(sp, measured, facts))

    notes: list[str] = []
    planned = sorted(plan.model.upgrade.windows, key=lambda w: w.start)
    windows = tuple(SimWindow(w.name, m(w.start), m(w.end)) for w in planned)
    tonight = next((w for w in windows if w.start <= m(state.now) < w.end), None) or \
        next((w for w in windows if w.start > m(state.now)), None)
    if windows and tonight is None:
        windows = ()
        notes.append("every window of the file has ended: the rest is estimated without a window (the script "
                     "runs outside its windows only with -WindowEnd)")
    given = Given(now=m(state.now), done=tuple((i, *facts[i]) for i in sorted(facts)),
                  running=tuple(sorted((index[step_id], m(since)) for step_id, since in state.running)))
    rest = with_given(sp, given, windows, speed.run, speed.groups)
    estimate = summarise(rest, run_traces(rest, runs, seed, jobs, progress), seed, tonight)
    zone = planned[0].start.tzinfo if planned else dt.timezone.utc
    return _document(plan, sp, state, speed, estimate, _Clock(state.origin, zone), notes)


def _document(plan: Plan, sp: SimPlan, state: NightState, speed: Speed, estimate: Estimate, clock: _Clock,
              notes: list[str]) -> dict[str, Any]:
    now = state.minutes(state.now)

    def step_doc(s: StepStatus) -> dict[str, Any]:
        step = plan.step(s.id)
        actual = s.actual_minutes
        return {"id": s.id, "kind": step.kind, "node": step.node, "entry": s.entry, "status": s.status,
                "start": clock.moment(s.start), "end": clock.moment(s.end), "message": s.message,
                "planned_minutes": _round(step.mean_minutes), "actual_minutes": _round(actual),
                "ratio": _round(actual / step.mean_minutes, 3) if actual is not None and step.mean_minutes > 0
                else None,
                "measured": s.measured, "estimated": s.estimated}

    phases: dict[str, list[dict[str, Any]]] = {}
    for unit in plan.units:
        steps = [state.status(step_id) for step_id in unit.steps]
        phases.setdefault(plan.step(unit.head).phase, []).append({
            "id": unit.id, "kind": unit.kind, "node": unit.node, "status": unit_status([s.status for s in steps]),
            "tail": unit.tail, "steps": [step_doc(s) for s in steps]})
    counts = {status: 0 for status in STATUSES}
    for s in state.steps:
        counts[s.status] += 1

    entries = []
    for head, members in state.entries:
        makespan = 0.0
        ends: dict[str, float] = {}
        for step_id in members:  # the group's expected duration: its longest path at the plan's means
            step = plan.step(step_id)
            ends[step_id] = max((ends[p] for p in step.after if p in ends), default=0.0) + step.mean_minutes
            makespan = max(makespan, ends[step_id])
        actual = head.actual_minutes
        entries.append({"id": head.id, "status": head.status, "start": clock.moment(head.start),
                        "end": clock.moment(head.end), "message": head.message, "steps": list(members),
                        "planned_minutes": _round(makespan), "actual_minutes": _round(actual),
                        "ratio": _round(actual / makespan, 3) if actual is not None and makespan > 0 else None})

    current = None
    unit = state.current_unit()
    if unit is not None:
        u = plan.units.index(unit)
        statuses = [state.status(step_id) for step_id in unit.steps]
        active = next((s for s in statuses if s.status == "running"), None) or \
            next((s for s in statuses if s.status not in FINISHED), None)
        current = {"unit": unit.id, "kind": unit.kind, "node": unit.node,
                   "status": unit_status([s.status for s in statuses]),
                   "step": active.id if active else None, "since": clock.moment(active.start)
                   if active is not None and active.status == "running" else None,
                   "safe_point": unit.tail,
                   "safe_point_at": {"p50": clock.at(estimate.tail_p50[u]), "p90": clock.at(estimate.tail_p90[u]),
                                     "share": _round(estimate.tail_share[u], 4)}}

    stopped = None
    if state.stopped is not None:
        s = state.stopped
        stopped = {"step": s.id, "status": s.status, "at": clock.moment(s.end), "message": s.message,
                   "rerun": RERUN[s.status].format(id=s.id)}
        notes.append(f"{s.id} is counted pending: the estimate assumes the script is run again now")

    attribution = None
    if state.attribution is not None:
        a = state.attribution
        attribution = {"entry": a.entry, "since": clock.moment(a.since), "basis": a.basis, "node": a.node,
                       "done": list(a.done), "running": list(a.running), "stretched": a.stretched}
        if a.basis == "elapsed":
            hint = ("; --cau-node NODE states the node CAU is updating (Get-CauRun shows it)"
                    if a.entry == "p2.cau_run" else "")
            notes.append(f"{a.entry} journals its sub-steps only when it ends: which one runs is estimated from "
                         f"the elapsed time at the plan's means{hint}")
        else:
            notes.append(f"{a.entry}: the nodes before {a.node} (--cau-node) are counted done at their plan "
                         f"means, and {a.node}'s pass takes the rest of the elapsed time (an estimate)")

    counted = speed.counts(sp)
    models = []
    for g, name in enumerate(sp.group_names):
        if g not in counted:
            continue
        ys = [o.y for o in speed.observations if sp.factor_group[o.step] == g]
        models.append({"name": name, "steps": counted[g], "observed_ratio": _round(math.exp(sum(ys) / len(ys)), 3),
                       "prior": _pair(speed.group_priors[g]), "posterior": _pair(speed.groups[g]),
                       "factor": _round(speed.group_factor(g), 3)})
    speed_doc = {"measured_steps": len(speed.observations), "observed_ratio": _round(speed.observed_ratio, 3),
                 "run_factor": {"prior": _pair(speed.run_prior), "posterior": _pair(speed.run),
                                "mean": _round(speed.run_factor, 3)},
                 "models": models}

    return {
        "schema": SCHEMA,
        "cluster": sp.cluster,
        "fingerprint": plan.fingerprint,
        "now": clock.moment(state.now),
        "origin": clock.moment(state.origin),
        "journal": {"path": state.journal.path, "records": len(state.journal.records),
                    "first": clock.moment(min((r.start for r in state.journal.records), default=None)),
                    "last": clock.moment(state.journal.last_time), "warnings": list(state.warnings)},
        "counts": counts,
        "finished": state.finished,
        "phases": [{"phase": phase, "title": PHASES[phase], "units": units} for phase, units in phases.items()],
        "entries": entries,
        "current": current,
        "stopped": stopped,
        "cau_estimate": attribution,
        "speed": speed_doc,
        "estimate": _estimate_doc(sp, estimate, clock, now),
        "notes": notes,
    }


def _pair(pair: tuple[float, float]) -> dict[str, float]:
    return {"mu": round(pair[0], 4), "sigma": round(pair[1], 4)}


def _estimate_doc(sp: SimPlan, estimate: Estimate, clock: _Clock, now: float) -> dict:
    runs = estimate.runs
    finish = None
    if estimate.finish is not None:
        p50, p90 = estimate.finish
        finish = {"p50": clock.at(p50), "p90": clock.at(p90), "p50_minutes": _round(p50 - now),
                  "p90_minutes": _round(p90 - now)}
    window = last = closing = None
    w = estimate.window
    if w is not None:
        window = {"name": w.name, "start": clock.at(w.start), "end": clock.at(w.end),
                  "contains_now": w.start <= now < w.end}
        if estimate.last_safe_point is not None:
            u, share, p50 = estimate.last_safe_point
            unit = sp.units[u]
            last = {"unit": unit.id, "step": sp.ids[unit.tail], "share": _round(share, 4), "p50": clock.at(p50),
                    "confidence": sp.confidence}
        c = estimate.closing
        then = next((x for x in sp.windows if x.start >= w.end), None)
        closing = {
            "share": _round(c.runs / runs, 4),
            "next_window": {"name": then.name, "start": clock.at(then.start)} if then else None,
            "stops": [{"unit": sp.units[u].id, "step": sp.ids[sp.units[u].steps[0]], "runs": n,
                       "share": _round(n / runs, 4)} for u, n in c.stops],
            "aborted": [{"step": sp.ids[s], "reason": reason, "runs": n, "share": _round(n / runs, 4)}
                        for s, reason, n in c.aborted],
            "runs_on": [{"unit": sp.units[u].id, "safe_point": sp.ids[sp.units[u].tail], "runs": n,
                         "share": _round(n / runs, 4), "p90_late_minutes": _round(late)}
                        for u, n, late in c.runs_on],
        }
    return {"runs": runs, "seed": estimate.seed, "outcomes": dict(estimate.outcomes), "finish": finish,
            "window": window, "p_done_by_window_end": _round(estimate.p_done, 4), "last_safe_point": last,
            "if_window_closes": closing}


def render_json(document: dict[str, Any]) -> str:
    """The document as JSON: sorted keys, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
