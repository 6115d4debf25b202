"""The simulation report: a text table for people, and JSON (`"schema": "hciplan.sim/1"`) for tools."""

from __future__ import annotations

import datetime as dt
import json

from hciplan.compiler.quantities import format_minutes
from hciplan.simulator.engine import ABORTED, STOPPED
from hciplan.simulator.montecarlo import Summary
from hciplan.simulator.prepared import SimPlan
from hciplan.simulator.result import DURATION_KEYS, DurationStats, Overrun, SimResult

TOP_CRITICAL = 10


def _clock(sp: SimPlan, minutes: float) -> str:
    if sp.planned_start is None:
        return f"+{format_minutes(minutes)}"
    try:
        moment = sp.planned_start + dt.timedelta(minutes=minutes)
    except OverflowError:  # past the year 9999 (absurd durations from a timing block): say it relatively
        return f"+{format_minutes(minutes)}"
    return moment.isoformat(timespec="minutes").replace("+00:00", "Z")


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def render_text(sp: SimPlan, summary: Summary) -> str:
    runs = summary.runs
    out = [f"Simulation of {sp.cluster}: {runs:,} runs, seed {summary.seed}"
           + (f", scenario {sp.scenario}" if sp.scenario else "")]
    out.append(f"  plan          {sp.size} steps, method {sp.method}, fingerprint {sp.fingerprint}")
    if sp.injections:
        out.append("  failures      " + "; ".join(f"{j.origin} ({sp.ids[j.step]})" for j in sp.injections))
    if sp.risks:
        kinds = sorted({f"{sp.kinds[i]} {r.mode} p={r.probability:g}" for i, r in sp.risks})
        out.append("  risks         " + "; ".join(kinds))
    if sp.windows:
        shown = ", ".join(f"{w.name} {_clock(sp, w.start)} .. {_clock(sp, w.end)}" for w in sp.windows)
        out.append(f"  windows       {shown}")
        out.append(f"                a unit of work starts only if it ends inside the window with "
                   f"{sp.confidence:.0%} confidence")
    else:
        out.append("  windows       none: the run goes on until it is done")
    out.append("")

    stats = summary.duration_stats()
    completed = summary.outcomes["completed"]
    if stats is None:
        out.append("Duration        no run completed")
    else:
        out.append(f"Duration of the {completed:,} completed runs (from the planned start to the last step):")
        names = ("P50", "P80", "P90", "P95", "max", "mean")
        keys = ("p50", "p80", "p90", "p95", "max", "mean")
        out.append("  " + "".join(f"{n:>12}" for n in names))
        out.append("  " + "".join(f"{format_minutes(stats[k]):>12}" for k in keys))
        if sp.planned_start is not None:
            out.append(f"  finishes at   P50 {_clock(sp, stats['p50'])}, P90 {_clock(sp, stats['p90'])}")
    if summary.p_within_window is not None:
        out.append(f"Within window   {summary.p_within_window:.1%} of runs complete with every step inside a window")
    if summary.overrun_share:
        out.append(f"Overrun         {summary.overrun_share:.1%} of runs finish a started unit past its window's end "
                   f"(to its safe point): P90 {format_minutes(summary.overrun_p90)}, "
                   f"max {format_minutes(summary.overrun_max)} late")
    out.append("")
    out.append(f"Outcomes        completed {summary.outcomes['completed']:,} ({_share(completed, runs)})   "
               f"aborted {summary.outcomes['aborted']:,} ({_share(summary.outcomes['aborted'], runs)})   "
               f"stopped at window {summary.outcomes['stopped_at_window']:,} "
               f"({_share(summary.outcomes['stopped_at_window'], runs)})")
    ranked = sorted(summary.stops.items(), key=lambda item: (-item[1], item[0]))
    for outcome in (ABORTED, STOPPED):
        rows = [(key, count) for key, count in ranked if key[0] == outcome][:5]
        if not rows:
            continue
        verb = "aborted at" if outcome == ABORTED else "stopped before"
        left = summary.remaining_median.get(outcome)
        upgraded = summary.upgraded_median.get(outcome)
        if left is not None and upgraded is not None:
            out.append(f"  {verb} (median: {left:.0f} steps left, {upgraded:.0f} of {summary.nodes} nodes on 23H2):")
        else:
            out.append(f"  {verb}:")
        for (_, step, reason), count in rows:
            out.append(f"    {sp.ids[step]:<34} {count:>7,} runs  {reason}")
    out.append("")
    out.append(f"Storage exposure  {format_minutes(summary.exposure_mean)} mean, "
               f"{format_minutes(summary.exposure_p90)} P90 with a node down or resyncing (reduced resiliency)")
    if summary.criticality:
        out.append("")
        out.append("Most critical steps (share of completed runs in which the step is on the critical path):")
        top = sorted(summary.criticality.items(), key=lambda item: (-item[1], -sp.mean_minutes[item[0]], item[0]))
        for i, share in top[:TOP_CRITICAL]:
            out.append(f"  {sp.ids[i]:<36} {share:>7.1%}   mean {format_minutes(sp.mean_minutes[i])}")
    return "\n".join(out) + "\n"


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def sim_result(sp: SimPlan, summary: Summary) -> SimResult:
    """The record of what the runs found (rounded as `hciplan.sim/1` stores it)."""
    stats = summary.duration_stats()
    durations = DurationStats(**{k: _round(stats[k]) for k in DURATION_KEYS}) if stats else DurationStats()
    return SimResult(
        runs=summary.runs,
        seed=summary.seed,
        durations=durations,
        p_within_window=_round(summary.p_within_window, 4),
        outcomes=tuple(sorted(summary.outcomes.items())),
        criticality=tuple(sorted((sp.ids[i], round(share, 4)) for i, share in summary.criticality.items())),
        exposure_minutes=_round(summary.exposure_mean),
        overrun=Overrun(_round(summary.overrun_share, 4), _round(summary.overrun_p90), _round(summary.overrun_max)),
        fingerprint=sp.fingerprint,
    )


def render_json(sp: SimPlan, summary: Summary) -> str:
    """The `hciplan.sim/1` document: sorted keys, a final newline."""
    document = sim_result(sp, summary).to_document()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
