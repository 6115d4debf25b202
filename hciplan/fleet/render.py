"""The campaign schedule as text and as the `hciplan.fleet-plan/1` JSON document (docs/fleet.md).

Rendering only: every figure comes from `campaign.Campaign`, which read it
from the clusters' compiled plans.
"""

from __future__ import annotations

import json
from typing import Iterable

from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.quantities import format_minutes
from hciplan.compiler.render import diagnostics_json
from hciplan.fleet.campaign import HELD, PLANNED, Campaign, ClusterPlan
from hciplan.words import counted

SCHEMA = "hciplan.fleet-plan/1"


def _iso(campaign: Campaign, minutes: float | None) -> str | None:
    if minutes is None:
        return None
    moment = campaign.at(round(minutes))  # to the minute, as every report shows times
    return moment.isoformat(timespec="minutes").replace("+00:00", "Z")


def _operator_minutes(c: ClusterPlan) -> float:
    return round(sum(s.end - s.start for s in c.operator), 3)


def render_text(campaign: Campaign) -> str:
    planned = [c for c in campaign.clusters if c.status == PLANNED]
    rings = sorted({c.ring for c in campaign.clusters})
    out = [f"Campaign {campaign.fleet}: {counted(len(campaign.clusters), 'cluster')}, {counted(len(rings), 'ring')}, "
           f"{counted(len(campaign.waves), 'wave')}, from {_iso(campaign, 0)} ({counted(campaign.weeks, 'week')})"]
    operators = ("operator steps only inside shifts, never more at once than the shift's operators"
                 if campaign.limited_operators else "operators not limited (no shift)")
    out.append(f"  limits        at most {counted(campaign.max_in_flight, 'cluster')} in flight; {operators}")
    soak = f", plus {format_minutes(campaign.soak_minutes)}," if campaign.soak_minutes else ""
    out.append(f"  health gate   a wave starts when the last one has ended{soak} unless more than "
               f"{campaign.gate_percent}% of it overran or could not be placed")
    end = _iso(campaign, campaign.end) if campaign.end is not None else "none"
    out.append(f"  end           {end}: {len(planned)} of {counted(len(campaign.clusters), 'cluster')} planned "
               "(expected schedule: mean durations, each cluster's plan and window rule)")
    if campaign.stopped_after is not None:
        out.append(f"  stopped       the health gate after wave {campaign.stopped_after} holds every later wave")
    width = max((len(c.name) for c in campaign.clusters), default=0)
    for wave in campaign.waves:
        out.append("")
        if wave.released is None:
            out.append(f"Wave {wave.index}  ring {wave.ring}  held by the health gate")
        else:
            gate = ("" if wave.gate_passed is None else
                    f"; gate: {wave.overran} of {len(wave.clusters)} overran, "
                    f"{'passed' if wave.gate_passed else 'STOPS the campaign'}")
            ends = f", ends {_iso(campaign, wave.end)}" if wave.end is not None else ""
            out.append(f"Wave {wave.index}  ring {wave.ring}  released {_iso(campaign, wave.released)}{ends}{gate}")
        for c in (c for c in campaign.clusters if c.wave == wave.index):
            where = f"{c.site} ({c.zone})" if c.site else c.zone
            if c.status == PLANNED:
                operator = (f", operator {format_minutes(_operator_minutes(c))} in "
                            f"{counted(len(c.operator), 'step')}" if c.operator else "")
                out.append(f"  {c.name:<{width}}  {where}  {_iso(campaign, c.start)} .. {_iso(campaign, c.end)}  "
                           f"{counted(len(c.windows), 'window')}, {format_minutes(c.expected_minutes)} of work"
                           f"{operator}")
                for w in c.windows:
                    out.append(f"  {'':<{width}}    {w.name} {_iso(campaign, w.start)}: {counted(w.units, 'unit')}, "
                               f"{format_minutes(w.work_minutes)} of work, safe point {_iso(campaign, w.stops_at)}")
            elif c.status != HELD:
                out.append(f"  {c.name:<{width}}  {where}  {c.status.upper()}: {c.reason}")
            else:
                out.append(f"  {c.name:<{width}}  {where}  held")
    out.append("")
    booked = [(k, s) for k, s in enumerate(campaign.shifts) if s.steps]
    if campaign.limited_operators:
        total = sum(s.minutes for _, s in booked)
        out.append(f"Operator load per shift ({counted(len(booked), 'shift')} with operator steps, "
                   f"{format_minutes(total)} of operator time)")
        for _, s in booked:
            out.append(f"  {s.name}  {_iso(campaign, s.start)} .. {_iso(campaign, s.end)}  "
                       f"{counted(s.steps, 'step')}, {format_minutes(s.minutes)}, peak {s.peak} of "
                       f"{counted(s.operators, 'operator')}")
    else:
        total = sum(_operator_minutes(c) for c in campaign.clusters)
        out.append(f"Operator load: {format_minutes(total)} of operator steps, no shift to book them in")
    return "\n".join(out) + "\n"


def document(campaign: Campaign, diagnostics: Iterable[Diagnostic] = ()) -> dict:
    """The `hciplan.fleet-plan/1` document: times both as UTC ISO strings and as minutes from the start."""
    def window(w):
        return {"name": w.name, "start": _iso(campaign, w.start), "end": _iso(campaign, w.end),
                "start_minutes": w.start, "end_minutes": w.end, "units": w.units, "work_minutes": w.work_minutes,
                "safe_point": _iso(campaign, w.stops_at), "safe_point_minutes": w.stops_at}

    return {
        "schema": SCHEMA,
        "fleet": campaign.fleet,
        "start": _iso(campaign, 0),
        "weeks": campaign.weeks,
        "max_in_flight": campaign.max_in_flight,
        "gate_percent": campaign.gate_percent,
        "soak_minutes": campaign.soak_minutes,
        "operators_limited": campaign.limited_operators,
        "end": _iso(campaign, campaign.end),
        "end_minutes": campaign.end,
        "stopped_after_wave": campaign.stopped_after,
        "clusters": [{
            "cluster": c.name, "file": c.file, "fingerprint": c.fingerprint, "ring": c.ring, "wave": c.wave,
            "site": c.site, "zone": c.zone, "status": c.status, "reason": c.reason or None,
            "start": _iso(campaign, c.start), "end": _iso(campaign, c.end),
            "start_minutes": c.start, "end_minutes": c.end, "work_minutes": c.expected_minutes,
            "windows": [window(w) for w in c.windows],
            "offered_windows": [{"name": n, "start_minutes": b, "end_minutes": e} for n, b, e in c.offered],
            "operator_steps": [{"step": s.step, "start": _iso(campaign, s.start), "end": _iso(campaign, s.end),
                                "start_minutes": s.start, "end_minutes": s.end, "shift": s.shift}
                               for s in c.operator],
            "operator_minutes": _operator_minutes(c),
        } for c in campaign.clusters],
        "waves": [{"wave": w.index, "ring": w.ring, "clusters": list(w.clusters), "released": _iso(campaign, w.released),
                   "released_minutes": w.released, "end": _iso(campaign, w.end), "end_minutes": w.end,
                   "overran": w.overran, "gate_passed": w.gate_passed} for w in campaign.waves],
        "shifts": [{"index": k, "name": s.name, "start": _iso(campaign, s.start), "end": _iso(campaign, s.end),
                    "start_minutes": s.start, "end_minutes": s.end, "operators": s.operators, "steps": s.steps,
                    "operator_minutes": s.minutes, "peak": s.peak} for k, s in enumerate(campaign.shifts)],
        **diagnostics_json(diagnostics),
    }


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
