"""The campaign Monte Carlo as text and as the `hciplan.fleet-simulation/1` JSON document (docs/fleet.md).

Rendering only: every figure comes from `simulate.Aggregate` (the folded runs) and the planned `Campaign`.
Fixed decimals (shares to 0.1% in text, 4 decimals in JSON; minutes to 0.1), sorted keys: same seed, same bytes.
"""

from __future__ import annotations

import math

import numpy as np

from hciplan.fleet.campaign import Campaign
from hciplan.fleet.render import _iso, dumps  # noqa: F401 (dumps: the command prints with it)
from hciplan.fleet.simulate import WEEK, Aggregate, Model
from hciplan.words import counted

SCHEMA = "hciplan.fleet-simulation/1"
TOP = 10  # clusters listed as most likely to overrun
DAY = 24 * 60


def _share(count: int, runs: int) -> float:
    return round(count / runs, 4) if runs else 0.0


def _rank(counts: np.ndarray, p: float) -> int:
    """Nearest-rank p-th percentile of a histogram (counts[v] = runs with value v)."""
    total = int(counts.sum())
    k = min(total, max(1, math.ceil(p / 100 * total)))
    return int(np.searchsorted(np.cumsum(counts), k))


def summary(model: Model, agg: Aggregate, seed: int) -> dict:
    """The figures both renderings print, from the aggregate."""
    campaign = model.campaign
    runs = agg.runs

    def moment(minutes):
        if minutes is None:
            return None
        return {"at": _iso(campaign, minutes), "minutes": round(minutes, 1), "days": round(minutes / DAY, 2)}

    end = {f"p{p}": moment(agg.end.quantile(p) if agg.end else None) for p in (50, 90)}
    weeks = []
    values = np.arange(agg.clusters + 1)
    for w in range(agg.weeks):
        counts = agg.done_by_week[w]
        mean = float((counts * values).sum() / runs) if runs else 0.0
        weeks.append({"week": w + 1, "end": _iso(campaign, (w + 1) * WEEK), "mean": round(mean, 2),
                      "p10": _rank(counts, 10) if runs else 0, "p90": _rank(counts, 90) if runs else 0})
    ranked = sorted(range(agg.clusters), key=lambda k: (-int(agg.bad[k]), k))
    overrun = [{"cluster": campaign.clusters[k].name, "file": campaign.clusters[k].file,
                "wave": campaign.clusters[k].wave, "share": _share(int(agg.bad[k]), runs)}
               for k in ranked[:TOP] if agg.bad[k]]
    busiest = None
    if agg.overbooked:
        k = int(np.argmax(agg.busiest))  # the first of the most frequent: deterministic
        if k < len(campaign.shifts):
            s = campaign.shifts[k]
            busiest = {"shift": s.name, "index": k, "start": _iso(campaign, s.start), "operators": s.operators,
                       "share": _share(int(agg.busiest[k]), runs)}
        else:
            busiest = {"shift": None, "index": None, "start": None, "operators": 0,
                       "share": _share(int(agg.busiest[k]), runs)}
    hours = {f"p{p}": (round(agg.hours.quantile(p), 2) if agg.hours else None) for p in (50, 90)}
    placed = len(model.simulated)
    return {
        "schema": SCHEMA,
        "fleet": campaign.fleet,
        "start": _iso(campaign, 0),
        "runs": runs,
        "seed": seed,
        "clusters": len(campaign.clusters),
        "clusters_planned": placed,
        "campaign_end": end,
        "end_error": agg.end.error_label(),
        "finished_runs": agg.finished,
        "not_finished_share": _share(runs - agg.finished, runs),
        "inside_windows_share": _share(agg.inside, runs),
        "done_by_week": weeks,
        "most_likely_to_overrun": overrun,
        "engineer_hours": hours,
        "engineer_hours_error": agg.hours.error_label(),
        "operators_limited": campaign.limited_operators,
        "overbooked_share": _share(agg.overbooked, runs) if campaign.limited_operators else None,
        "busiest_shift": busiest,
        "waves": [{"wave": w.index, "ring": w.ring, "clusters": len(w.clusters),
                   "gate_stops_share": _share(int(agg.gate_stops[k]), runs)} for k, w in enumerate(campaign.waves)],
    }


def document(model: Model, agg: Aggregate, seed: int) -> dict:
    return summary(model, agg, seed)


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def render_text(model: Model, agg: Aggregate, seed: int) -> str:
    doc = summary(model, agg, seed)
    campaign: Campaign = model.campaign
    out = [f"Campaign simulation {doc['fleet']}: {counted(doc['runs'], 'run')}, seed {seed}, "
           f"{counted(doc['clusters'], 'cluster')} ({doc['clusters_planned']} placed by `fleet plan`), "
           f"{counted(len(campaign.waves), 'wave')}, from {doc['start']}"]
    finished = doc["finished_runs"]
    if doc["campaign_end"]["p50"] is None:
        out.append("  end           none: no run finished the campaign")
    else:
        p50, p90 = doc["campaign_end"]["p50"], doc["campaign_end"]["p90"]
        out.append(f"  end           P50 {p50['at']} (day {p50['days']:.1f}), P90 {p90['at']} (day {p90['days']:.1f}) "
                   f"over the {counted(finished, 'run')} that finished ({doc['end_error']})")
    out.append(f"  not finished  {_pct(doc['not_finished_share'])} of runs (a cluster overran, failed, was held by the "
               "gate or never placed)")
    out.append(f"  windows       P(every cluster inside its windows) {_pct(doc['inside_windows_share'])}")
    hours = doc["engineer_hours"]
    if hours["p50"] is not None:
        out.append(f"  engineers     P50 {hours['p50']:.1f} h, P90 {hours['p90']:.1f} h of operator steps "
                   f"(engineer-hours, {doc['engineer_hours_error']})")
    if not doc["operators_limited"]:
        out.append("  operators     not limited (no shift)")
    else:
        line = f"  operators     P(over-booked) {_pct(doc['overbooked_share'])}"
        b = doc["busiest_shift"]
        if b is not None:
            where = (f"{b['shift']} {b['start']} ({counted(b['operators'], 'operator')})" if b["shift"] is not None
                     else "outside every shift")
            line += f"; busiest: {where}, over-booked in {_pct(b['share'])} of runs"
        out.append(line + " (contention is reported: a step does not wait for an operator)")
    out.append("")
    out.append("Clusters done by the end of each week (mean, P10..P90)")
    for w in doc["done_by_week"]:
        out.append(f"  week {w['week']:>2}  {w['end'][:10]}  {w['mean']:6.2f}  {w['p10']}..{w['p90']}")
    out.append("")
    if doc["most_likely_to_overrun"]:
        out.append("Most likely to overrun or fail")
        width = max(len(c["cluster"]) for c in doc["most_likely_to_overrun"])
        for c in doc["most_likely_to_overrun"]:
            out.append(f"  {c['cluster']:<{width}}  wave {c['wave']}  {_pct(c['share'])}")
    else:
        out.append("Most likely to overrun or fail: none overran or failed in any run")
    out.append("")
    out.append("Health gate: P(it stops the campaign after the wave)")
    for w in doc["waves"]:
        out.append(f"  wave {w['wave']}  ring {w['ring']}  {counted(w['clusters'], 'cluster')}  "
                   f"{_pct(w['gate_stops_share'])}")
    return "\n".join(out) + "\n"
