"""The simulation report: a text table for people, and JSON (`"schema": "hciplan.sim/1"`) for tools.

Every share and percentile comes with its 95% Monte Carlo interval
(`Summary.intervals`, computed in stats.py), and the header names where the
models come from (provenance.py) and whether the runs were enough for the
digits shown (`precision`, the rule of docs/simulation.md, "Monte Carlo
uncertainty").
"""

from __future__ import annotations

import json
import math
import textwrap
from collections import Counter

from hciplan.compiler.quantities import format_minutes
from hciplan.compiler.recovery import RECOVERY_NAMES
from hciplan.simulator.engine import ABORTED, COMPLETED, OUTCOMES, STOPPED
from hciplan.simulator.montecarlo import Intervals, Summary, ascending, percentile
from hciplan.simulator.sketch import Sketch
from hciplan.percent import setting_text, share_text, stored_share
from hciplan.simulator.inputs import clock_text, inputs_of
from hciplan.simulator.prepared import SimPlan
from hciplan.simulator.result import (DURATION_KEYS, NODE_STATES, Crossed, DurationStats, FinishAt, Left, MixedMode,
                                     Models, Overrun, PastReturn, PlanFacts, Precision, ScheduleStats, SimInputs,
                                     SimResult, Stop, WindowClose, WindowStats)
from hciplan.simulator.result import Intervals as IntervalRecord
from hciplan.simulator.result import ALL_RUNS_KEYS, DoneBy, FailureCost, RecoveryModel, count_percentile, window_close_cells
from hciplan.simulator.stats import (Interval, half_width, percentile_interval, runs_for_percentile, runs_for_share,
                                    wilson)
from hciplan.words import counted, plural

TOP_CRITICAL = 10
WIDTH = 110  # the wrapped header notes stay within this many columns
SHOWN_MISSES = 3  # figures named in the note; the JSON lists them all

# The rule on enough runs: the figures a go/no-go rests on should be known to half a percentage point
# (shares of all runs) and to 1% (P50 and P90 of the duration) at 95%. A convention, not a standard.
SHARE_TARGET = 0.005
DURATION_TARGET = 0.01
CHECKED_PERCENTILES = ("p50", "p90")
MAX_RUNS = 1_000_000  # simulate's --runs bound


def _clock(sp: SimPlan, minutes: float) -> str:
    """The moment in whole minutes (rounded as format_minutes rounds, so a clock and its duration agree);
    relative to the start without a planned start or past the year 9999 (absurd timing figures)."""
    return clock_text(sp.planned_start, minutes) or f"+{format_minutes(minutes)}"


def _bounds(interval: Interval | None, show) -> str:
    """`(low-high)`, with words for a side the runs cannot bound."""
    if interval is None:
        return ""
    low, high = interval
    if low is None and high is None:
        return "(too few runs)"
    if high is None:
        return f"({show(low)} or more)"
    if low is None:
        return f"({show(high)} or less)"
    low_text, high_text = show(low), show(high)
    dash = " to " if any(text.startswith(("<", ">")) for text in (low_text, high_text)) else "-"  # not "99.3->99.9"
    return f"({low_text}{dash}{high_text})"


def _percent(value: float) -> str:
    """An end of a share's interval: as the share, without the `%` (hciplan/percent.py: never an inexact 0 or 100)."""
    return share_text(value, sign=False)


def _share_ci(share: float, interval: Interval | None) -> str:
    """`99.8% (99.3-100)`: the share and its Wilson interval, to the same digits."""
    return f"{share_text(share)} {_bounds(interval, _percent)}".rstrip()


def _minutes_ci(minutes: float, interval: Interval | None) -> str:
    return f"{format_minutes(minutes)} {_bounds(interval, format_minutes)}".rstrip()


def _offsets(point: float, interval: Interval | None) -> str:
    """`-8m +9m`: the interval as offsets from the shown figure, in the minutes the table shows."""
    if interval is None:
        return "-"
    low, high = interval
    shown = round(point)
    below = "?" if low is None else "-" + format_minutes(shown - round(low))
    above = "?" if high is None else "+" + format_minutes(round(high) - shown)
    return f"{below} {above}"


def _spreads(models: Models) -> str:
    labels = {"default": "default, an assumption", "timing": "from the timing block", "calibrated": "calibrated"}
    plural = {"default": "defaults (assumptions)", "timing": "from the timing block", "calibrated": "calibrated"}
    run, kind = models.run_spread, models.kind_spread
    if run.source == kind.source:
        text = f"run_spread {run.value:g}, kind_spread {kind.value:g}: {plural[run.source]}"
    else:
        text = (f"run_spread {run.value:g} ({labels[run.source]}), "
                f"kind_spread {kind.value:g} ({labels[kind.source]})")
    if run.value == 0 and kind.value == 0:
        return text + "; steps independent"
    return text + "; a slow night is slow throughout"


def _models(models: Models) -> list[str]:
    """The header's provenance lines (the first one after its label, the others indented)."""
    k, total = models.from_timing, models.drawn
    rest = "" if k == total else f"{k} of {counted(total, 'model')}; the rest defaults, assumptions"
    if models.calibrated:
        line = "calibrated" + (f" from {counted(models.calibrated_runs, 'run')}" if models.calibrated_runs else "")
        start, end = (d[:10] if d else "?" for d in (models.calibrated_from, models.calibrated_to))
        if models.calibrated_from or models.calibrated_to:
            line += f", {start}..{end}"
        if rest:
            line += f" ({rest})"
    elif k == 0:
        line = "defaults (assumptions)"
    elif k == total:
        line = f"all {total} from the timing block"
    else:
        line = f"{k} of {total} from the timing block, the rest defaults (assumptions)"
    lines = [line]
    if models.physics_from_timing:
        lines.append("physics parameters from the timing block: " + ", ".join(models.physics_from_timing))
    return lines


# The checked figures as the note names them, the decisive ones first.
_MISSED = {"p_within_window": "within window", "duration_minutes.p90": "P90", "duration_minutes.p50": "P50",
           "outcomes.completed": "completed", "outcomes.aborted": "aborted",
           "outcomes.stopped_at_window": "stopped at window", "overrun.share": "overrun"}


def _precision(precision: Precision) -> list[str]:
    """The header's lines on the intervals: what `(a-b)` means, and whether the runs were enough (the rule)."""
    targets = f"+/-{100 * SHARE_TARGET:g}% on shares and +/-{100 * DURATION_TARGET:g}% on P50 and P90"
    legend = "  intervals     (low-high) after a figure: its 95% Monte Carlo interval"
    if precision.met:
        return [f"{legend}, within {targets}"]
    misses = dict(precision.misses)
    shown = []
    for name, label in _MISSED.items():  # in report order
        if name not in misses:
            continue
        width = misses[name]
        if width is None:
            shown.append(f"{label} open-ended")
        elif name.startswith("duration_minutes."):
            shown.append(f"{label} +/-{format_minutes(width)}")
        else:
            shown.append(f"{label} +/-{100 * width:.1f}%")
    if len(shown) > SHOWN_MISSES:
        shown = shown[:SHOWN_MISSES] + [f"{len(shown) - SHOWN_MISSES} more"]
    if precision.runs_needed > MAX_RUNS:
        advice = f"even --runs {MAX_RUNS} (the most) may not be enough"
    else:
        advice = f"use --runs {precision.runs_needed}"
    text = f"95% intervals wider than {targets}: {', '.join(shown)}; {advice}"
    lines = textwrap.wrap(text, width=WIDTH - 16, break_on_hyphens=False)
    return [legend, f"  note          {lines[0]}"] + [f"                {line}" for line in lines[1:]]


def inputs_text(inputs: SimInputs) -> str:
    """The inputs the header's other lines do not show: a --window override, the timing block, draws, version."""
    parts = []
    if inputs.window_override is not None:
        parts.append(f"--window {inputs.window_override} instead of the file's windows: a what-if")
    source = "the file's timing block" if inputs.timing_block else "no timing block (defaults)"
    parts.append(f"{source}, digest {inputs.timing_digest[:19]}")
    if inputs.jobs_independent:
        parts.append(f"{inputs.draws} draws: the same figures whatever --jobs")
    parts.append(f"hciplan {inputs.version}")
    return "; ".join(parts)


def _inputs_lines(inputs: SimInputs) -> list[str]:
    lines = textwrap.wrap(inputs_text(inputs), width=WIDTH - 16, break_on_hyphens=False)
    return [f"  inputs        {lines[0]}"] + [f"                {line}" for line in lines[1:]]


def precision(summary: Summary, intervals: Intervals) -> Precision:
    """The rule on enough runs: which checked figures miss their target, and about how many runs meet them all.

    Checked: the shares of all runs the text prints (within window, each
    outcome, overrun) to +/-SHARE_TARGET, and the P50 and P90 of the duration
    to +/-DURATION_TARGET of their value. The runs needed are rounded up to two
    significant digits.
    """
    runs = summary.runs
    misses: dict[str, float | None] = {}
    needed = runs
    shares = [("p_within_window", summary.p_within_window, intervals.p_within_window)]
    shares += [(f"outcomes.{o}", summary.outcomes[o] / runs, intervals.outcomes[o]) for o in OUTCOMES]
    if summary.overrun_share:  # printed only when some run overran
        shares.append(("overrun.share", summary.overrun_share, intervals.overrun_share))
    for name, share, interval in shares:
        if share is None or interval is None:
            continue
        width = half_width(share, interval)
        if width > SHARE_TARGET:
            misses[name] = width
            needed = max(needed, runs_for_share(share, SHARE_TARGET))
    stats = summary.duration_stats()
    completed = summary.outcomes[COMPLETED]
    if stats is not None:
        for key in CHECKED_PERCENTILES:
            value, interval = stats[key], intervals.durations[key]
            target = DURATION_TARGET * value
            width = half_width(value, interval)
            if value > 0 and width > target:
                misses[f"duration_minutes.{key}"] = None if math.isinf(width) else width
                # the completed runs are a share of all runs: scale back to all runs
                wanted = runs_for_percentile(completed, int(key[1:]) / 100, value, interval, target)
                needed = max(needed, math.ceil(wanted * runs / completed))
    if misses:
        needed = _two_digits(needed)
    return Precision(SHARE_TARGET, DURATION_TARGET, needed, tuple(sorted(misses.items())))


def _two_digits(n: int) -> int:
    """`n` rounded up to two significant digits (23,649 -> 24,000): a number to type, not a false precision."""
    if n < 100:
        return n
    step = 10 ** (len(str(n)) - 2)
    return -(-n // step) * step


def _plain(text: str, **_: object) -> str:
    return text


# The section labels at the start of a line, bold as `plan`'s headings (the CLI passes click.style when colouring).
_SECTIONS = ("Duration", "Within window", "Overrun", "Work time", "Schedule by window", "Outcomes",
             "Storage exposure", "Mixed OS mode", "Most critical steps")
_OUTCOME_COLOURS = {ABORTED: "red", STOPPED: "yellow"}


def _styled(line: str, style) -> str:
    """A report line with its section label bold (the line's text and width are unchanged)."""
    for label in _SECTIONS:
        if line.startswith(label):
            return style(label, bold=True) + line[len(label):]
    return line


def render_text(sp: SimPlan, summary: Summary, models: Models | None = None, style=_plain) -> str:
    """The report for people; `style` (click.style's signature) colours it, as `plan`'s summary."""
    runs = summary.runs
    intervals = summary.intervals()
    out = [style(f"Simulation of {sp.cluster}: {counted(runs, 'run', ',')}, seed {summary.seed}"
                 + (f", scenario {sp.scenario}" if sp.scenario else ""), bold=True)]
    out.append(f"  plan          {counted(sp.size, 'step')}, method {sp.method}, fingerprint {sp.fingerprint}")
    if models is not None:
        first, *more = _models(models)
        out.append(f"  models        {first}")
        out.extend(f"                {line}" for line in more)
        out.append(f"  shared speed  {_spreads(models)}")
    if sp.injections:
        out.append("  failures      " + "; ".join(f"{j.origin} ({sp.ids[j.step]})" for j in sp.injections))
    if sp.risks:
        kinds = sorted({f"{sp.kinds[i]} {r.mode} p={r.probability:g}" for i, r in sp.risks})
        out.append("  risks         " + "; ".join(kinds))
    if sp.windows:
        shown = ", ".join(f"{w.name} {_clock(sp, w.start)} .. {_clock(sp, w.end)}" for w in sp.windows)
        out.append(f"  windows       {shown}")
        out.append(f"                a unit of work starts only if it ends inside the window with "
                   f"{setting_text(sp.confidence)} confidence")
    else:
        out.append("  windows       none: the run goes on until it is done")
    out.extend(_inputs_lines(inputs_of(sp)))
    if summary.approximate is not None:
        error = f"+-{summary.approximate * 100:g}%"
        out.append(f"  percentiles   approximate, P50 {error}, P90 {error}: every percentile and its interval is within "
                   f"{error}")
        out.append("                of the exact one (sketched: memory stays flat); counts, shares, means and max exact")
    out.extend(_precision(precision(summary, intervals)))
    out.append("")

    stats = summary.duration_stats()
    completed = summary.outcomes["completed"]
    if stats is None:
        out.append("Duration        no run completed")
    else:
        out.append(f"Duration of the {completed:,} completed runs (from the planned start to the last step):")
        keys = ("p50", "p80", "p90", "p95", "max", "mean")
        shown = [format_minutes(stats[k]) for k in keys]
        offsets = [_offsets(stats[k], intervals.durations.get(k)) for k in keys]
        width = max(11, 2 + max(len(cell) for cell in shown + offsets))  # 76 columns; wide offsets widen it
        out.append("  " + " " * 8 + "".join(f"{n:>{width}}" for n in ("P50", "P80", "P90", "P95", "max", "mean")))
        out.append("  " + " " * 8 + "".join(f"{cell:>{width}}" for cell in shown))
        out.append("  95% CI  " + "".join(f"{cell:>{width}}" for cell in offsets))
        if sp.planned_start is not None:
            out.append(f"  finishes at   P50 {_clock_ci(sp, stats['p50'], intervals.durations['p50'])}, "
                       f"P90 {_clock_ci(sp, stats['p90'], intervals.durations['p90'])}")
    if summary.p_within_window is not None:
        out.append(f"Within window   {_share_ci(summary.p_within_window, intervals.p_within_window)} of runs "
                   "complete with every step inside a window")
    if summary.overrun_share:
        out.append(f"Overrun         {_share_ci(summary.overrun_share, intervals.overrun_share)} of runs finish a "
                   "started unit past its window's end (to its safe point):")
        out.append(f"                P90 {_minutes_ci(summary.overrun_p90, intervals.overrun_p90)}, "
                   f"max {format_minutes(summary.overrun_max)} late")
    out.extend(_schedule_lines(schedule_stats(sp, summary)))
    out.extend(_failure_cost_lines(failure_cost(sp, summary), summary))
    out.append("")
    labels = {COMPLETED: "completed", ABORTED: "aborted", STOPPED: "stopped at window"}
    rows = [f"{labels[o]} {summary.outcomes[o]:,} run{'' if summary.outcomes[o] == 1 else 's'}" for o in OUTCOMES]
    width = max(len(row) for row in rows)
    for n, (outcome, row) in enumerate(zip(OUTCOMES, rows)):
        share = summary.outcomes[outcome] / runs
        bounds = _bounds(intervals.outcomes[outcome], _percent)
        shown = f"{row:<{width}}  {share_text(share):>6} {bounds}"
        if summary.outcomes[outcome] and outcome in _OUTCOME_COLOURS:
            shown = style(shown, fg=_OUTCOME_COLOURS[outcome], bold=True)
        out.append(f"{'Outcomes' if n == 0 else '':<16}{shown}")
    ranked = sorted(summary.stops.items(), key=lambda item: (-item[1], item[0]))
    for outcome in (ABORTED, STOPPED):
        rows = [(key, count) for key, count in ranked if key[0] == outcome][:5]
        if not rows:
            continue
        verb = "aborted at" if outcome == ABORTED else "stopped before"
        left = summary.remaining_median.get(outcome)
        upgraded = summary.upgraded_median.get(outcome)
        if left is not None and upgraded is not None:
            whole = lambda v: f"{v:.0f}"  # noqa: E731
            out.append(f"  {verb} (median: {counted(left, 'step', '.0f')} left "
                       f"{_bounds(intervals.remaining_median.get(outcome), whole)}, {upgraded:.0f} of {summary.nodes} "
                       f"nodes on 23H2 {_bounds(intervals.upgraded_median.get(outcome), whole)}):")
        else:
            out.append(f"  {verb}:")
        for (_, step, reason), count in rows:
            out.append(f"    {sp.ids[step]:<34} {count:>7,} {plural('run', count):<4}  {reason}")
    out.extend(_past_return_lines(past_return(sp, summary), summary))
    out.append("")
    out.append(f"Storage exposure  {_minutes_ci(summary.exposure_mean, intervals.exposure_mean)} mean, "
               f"{_minutes_ci(summary.exposure_p90, intervals.exposure_p90)} P90")
    out.append("                  with a node down or resyncing (reduced resiliency)")
    out.extend(_mixed_lines(mixed_mode(summary)))
    out.extend(_window_close_lines(window_close(sp, summary)))
    if summary.criticality:
        out.append("")
        out.append("Most critical steps (share of completed runs in which the step is on the critical path):")
        for i, share in most_critical(sp, summary):
            ci = _bounds(intervals.criticality.get(i), _percent)
            out.append(f"  {sp.ids[i]:<36} {share_text(share):>7} {ci:<13} mean {format_minutes(sp.mean_minutes[i])}")
    if style is not _plain:
        out = [_styled(line, style) for line in out]
    return "\n".join(out) + "\n"


def mixed_mode(summary: Summary) -> MixedMode | None:
    """Mixed OS mode over the runs (compiler/mixed.py), rounded as `hciplan.sim/1` stores it; None if no run entered it."""
    ordered = summary.mixed
    if not ordered and not summary.still_mixed:
        return None
    if not ordered:
        return MixedMode(0, summary.still_mixed)
    return MixedMode(len(ordered), summary.still_mixed, _round(percentile(ordered, 50)), _round(percentile(ordered, 90)),
                     _round(ordered[-1]), _round_bounds(percentile_interval(ordered, 0.5)),
                     _round_bounds(percentile_interval(ordered, 0.9)))


def _mixed_lines(m: MixedMode | None) -> list[str]:
    """`Mixed OS mode  P50 .., P90 ..`: from the first node on 23H2 to the functional level, and the 4 weeks."""
    if m is None:
        return []
    out = [""]
    if m.runs:
        over = " (more than Microsoft's 4 weeks [W-rolling])" if m.p90_minutes > m.limit_minutes else ""
        out.append(f"Mixed OS mode   P50 {_minutes_ci(m.p50_minutes, m.p50_interval)}, "
                   f"P90 {_minutes_ci(m.p90_minutes, m.p90_interval)}{over}")
        out.append(f"                from the first node on 23H2 to the functional-level update; "
                   f"{m.runs:,} run{'s' * (m.runs != 1)} ended it")
    else:
        out.append("Mixed OS mode   it ended in no run")
    if m.still_mixed_runs:
        out.append(f"                {m.still_mixed_runs:,} run{'s' * (m.still_mixed_runs != 1)} ended with the "
                   "cluster still in mixed mode")
    return out


def most_critical(sp: SimPlan, summary: Summary, top: int = TOP_CRITICAL) -> list[tuple[int, float]]:
    """The `top` most critical steps as (step index, share of completed runs): the highest share first, then the
    longest mean, then plan order. The text report, the report page and the criticality chart all rank by this."""
    ranked = sorted(summary.criticality.items(), key=lambda item: (-item[1], -sp.mean_minutes[item[0]], item[0]))
    return ranked[:top]


def _count(value: float) -> str:
    return f"{value:.0f}"


def finish_text(schedule: ScheduleStats) -> str:
    """`sat-4 in 94.0% of completed runs, sat-3 in 6.0%`: the finish windows, the likeliest first."""
    ranked = sorted(schedule.finish_window, key=lambda item: -item[1])
    return ", ".join(f"{name} in {share_text(share)}" + (" of completed runs" if n == 0 else "")
                     for n, (name, share) in enumerate(ranked))


def _schedule_lines(schedule: ScheduleStats | None) -> list[str]:
    """The work time, the windows used and the schedule by window (docs/simulation.md, "Schedule by window")."""
    if schedule is None:
        return []
    out = [""]
    if schedule.work_p50_minutes is not None:
        used = schedule.windows_used_p50
        more = (f" (P90 {schedule.windows_used_p90})" if schedule.windows_used_p90 != used else "")
        out.append(f"Work time       P50 {format_minutes(schedule.work_p50_minutes)}, "
                   f"P90 {format_minutes(schedule.work_p90_minutes)} of work (steps running) "
                   f"over {used} window{'s' * (used != 1)}{more}")
        out.append(f"  finishes in   {finish_text(schedule)}")
    out.append("Schedule by window  units started in it and done by its end: P50 / in 9 runs of 10; spill: runs in")
    out.append("                    which work planned for it (or before) is not done by its end")
    names = max(6, max(len(w.name) for w in schedule.windows))
    out.append(f"  {'window':<{names}}  planned  started   done      spill                  work P50 / P90")
    for w in schedule.windows:
        spill = "-" if w.spill is None else _share_ci(w.spill, w.spill_interval)
        work = ("-" if w.work_p50_minutes is None
                else f"{format_minutes(w.work_p50_minutes)} / {format_minutes(w.work_p90_minutes)}")
        started = f"{w.started_p50:.0f} / {w.started_p90:.0f}"
        done = f"{w.done_p50:.0f} / {w.done_p90:.0f}"
        out.append(f"  {w.name:<{names}}  {w.planned_units:>7}  {started:<9} {done:<9} {spill:<22} {work}")
    return out


def _clock_ci(sp: SimPlan, minutes: float, interval: Interval) -> str:
    """`2026-12-06T22:26Z (22:18-22:35)`: an end on the figure's day, in its zone, is shown as a time only."""
    point = _clock(sp, minutes)
    day, zone = point[:11], point[16:]  # "2026-12-06T", "Z" or "+01:00"

    def show(end: float) -> str:
        moment = _clock(sp, end)
        if not point.startswith("+") and moment.startswith(day) and moment[16:] == zone:
            return moment[11:16]
        return moment
    return f"{point} {_bounds(interval, show)}"


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _round_bounds(interval: Interval | None, digits: int = 2) -> tuple[float | None, float | None] | None:
    return None if interval is None else (_round(interval[0], digits), _round(interval[1], digits))


def _share_bounds(interval: Interval | None) -> tuple[float | None, float | None] | None:
    """A share's interval as the documents store shares (hciplan.percent.stored_share: never an inexact 0 or 1)."""
    return None if interval is None else (stored_share(interval[0]), stored_share(interval[1]))


def _interval_record(sp: SimPlan, summary: Summary, intervals: Intervals) -> IntervalRecord:
    return IntervalRecord(
        durations=tuple((k, _round_bounds(intervals.durations[k])) for k in DURATION_KEYS if k in intervals.durations),
        p_within_window=_share_bounds(intervals.p_within_window),
        outcomes=tuple(sorted((o, _share_bounds(b)) for o, b in intervals.outcomes.items())),
        exposure_minutes=_round_bounds(intervals.exposure_mean),
        exposure_p90_minutes=_round_bounds(intervals.exposure_p90),
        overrun_share=_share_bounds(intervals.overrun_share),
        overrun_p90_minutes=_round_bounds(intervals.overrun_p90),
        criticality=tuple(sorted((sp.ids[i], _share_bounds(b)) for i, b in intervals.criticality.items())),
    )


def schedule_stats(sp: SimPlan, summary: Summary) -> ScheduleStats | None:
    """The simulated schedule by window (rounded as `hciplan.sim/1` stores it); None without windows."""
    if not sp.windows or not summary.started:
        return None
    windows = []
    for k, w in enumerate(sp.windows):
        worked = summary.window_works[k]
        planned = sp.given is None and any(0 <= p <= k for p in sp.planned)  # work the plan puts here or before
        spill = summary.spills[k] / summary.runs if planned else None
        windows.append(WindowStats(
            name=w.name, planned_units=sum(1 for p in sp.planned if p == k),
            started_p50=count_percentile(summary.started[k], 50), started_p90=count_percentile(summary.started[k], 10),
            done_p50=count_percentile(summary.done_by[k], 50), done_p90=count_percentile(summary.done_by[k], 10),
            spill=stored_share(spill),
            work_p50_minutes=_round(percentile(worked, 50)) if worked else None,
            work_p90_minutes=_round(percentile(worked, 90)) if worked else None,
            spill_interval=_share_bounds(wilson(summary.spills[k], summary.runs)) if spill is not None else None))
    completed = sum(summary.finish_windows.values())
    finish = tuple((sp.windows[k].name, stored_share(n / completed)) for k, n in sorted(summary.finish_windows.items())
                   if k >= 0)
    works = ascending([summary.works])  # an array('d'): no million-float list at a million runs
    used = summary.windows_used
    return ScheduleStats(
        windows=tuple(windows), finish_window=finish,
        work_p50_minutes=_round(percentile(works, 50)) if works else None,
        work_p90_minutes=_round(percentile(works, 90)) if works else None,
        work_mean_minutes=_round(works.mean() if isinstance(works, Sketch) else math.fsum(works) / len(works))
        if works else None,
        windows_used_p50=count_percentile(used, 50) if used else None,
        windows_used_p90=count_percentile(used, 90) if used else None)


def sim_result(sp: SimPlan, summary: Summary, models: Models | None = None) -> SimResult:
    """The record of what the runs found (rounded as `hciplan.sim/1` stores it); `models`: their provenance."""
    stats = summary.duration_stats()
    durations = DurationStats(**{k: _round(stats[k]) for k in DURATION_KEYS}) if stats else DurationStats()
    intervals = summary.intervals()
    rule = precision(summary, intervals)
    rule = Precision(rule.share_target, rule.duration_target, rule.runs_needed,
                     tuple((name, _round(width, 2 if name.startswith("duration") else 4)) for name, width in rule.misses))
    return SimResult(
        runs=summary.runs,
        seed=summary.seed,
        durations=durations,
        p_within_window=stored_share(summary.p_within_window),
        outcomes=tuple(sorted(summary.outcomes.items())),
        criticality=tuple(sorted((sp.ids[i], stored_share(share)) for i, share in summary.criticality.items())),
        exposure_minutes=_round(summary.exposure_mean),
        overrun=Overrun(stored_share(summary.overrun_share), _round(summary.overrun_p90), _round(summary.overrun_max)),
        fingerprint=sp.fingerprint,
        exposure_p90_minutes=_round(summary.exposure_p90),
        intervals=_interval_record(sp, summary, intervals),
        models=models,
        precision=rule,
        schedule=schedule_stats(sp, summary),
        mixed_mode=mixed_mode(summary),
        inputs=inputs_of(sp),
        stops=_stops(sp, summary),
        left=_left(summary, intervals),
        finish_at=_finish_at(sp, stats, intervals),
        plan=PlanFacts(sp.cluster, sp.size, sp.method, summary.nodes),
        percentile_error=summary.approximate,
        past_return=past_return(sp, summary),
        window_close=window_close(sp, summary),
        failure_cost=failure_cost(sp, summary),
    )


def failure_cost(sp: SimPlan, summary: Summary) -> FailureCost | None:
    """What failures cost over all runs (docs/simulation.md, "Recovery"); None when no failure was simulated."""
    if not (sp.injections or sp.risks):
        return None
    runs, delays = summary.runs, summary.delays
    recovery = sp.recovery
    models = ()
    if recovery is not None:
        models = tuple(RecoveryModel(name, _round(recovery.of(name).mean), recovery.of(name).provenance,
                                     recovery.of(name).assumption) for name in RECOVERY_NAMES)
    done = tuple(DoneBy(w.name, stored_share(share), _share_bounds(wilson(count, runs)))
                 for w, (count, share) in zip(sp.windows, summary.done_by_windows()))
    return FailureCost(
        all_runs=tuple((key, _round(summary.all_runs_percentile(float(key[1:])))) for key in ALL_RUNS_KEYS),
        delayed_runs=len(delays), delay_share=stored_share(len(delays) / runs),
        delay_p50_minutes=_round(percentile(delays, 50)) if delays else None,
        delay_p90_minutes=_round(percentile(delays, 90)) if delays else None,
        delay_max_minutes=_round(delays[-1]) if delays else None,
        recovered_runs=summary.recovered, recoveries=tuple(sorted(summary.recoveries.items())),
        done_by_window=done, max_recoveries=recovery.max_recoveries if recovery is not None else 0, models=models)


def _failure_cost_lines(cost: FailureCost | None, summary: Summary) -> list[str]:
    """The text's `Failures cost` block: the finish over all runs, the delay, the recoveries, done by window."""
    if cost is None:
        return []
    shown = lambda v: "not reached" if v is None else format_minutes(v)  # noqa: E731
    figures = ", ".join(f"{key.upper()} {shown(v)}" for key, v in cost.all_runs)
    out = [f"Failures cost   finish over all {summary.runs:,} runs (a run not completed is never done):",
           f"                {figures}"]
    stats = summary.duration_stats()
    all_p90 = dict(cost.all_runs).get("p90")
    if stats is not None and (all_p90 is None or _round(stats["p90"]) != all_p90):
        out.append(f"                (the completed runs alone: P90 {format_minutes(stats['p90'])})")
    if cost.delayed_runs:
        out.append(f"                delayed {share_text(cost.delay_share)} of runs by failed attempts and recoveries: "
                   f"P50 {format_minutes(cost.delay_p50_minutes)}, P90 {format_minutes(cost.delay_p90_minutes)}, "
                   f"max {format_minutes(cost.delay_max_minutes)}")
    else:
        out.append("                no run was delayed by a failure")
    made = ", ".join(f"{counted(n, 'recovery')} in {counted(runs, 'run', ',')}" for n, runs in cost.recoveries)
    out.append(f"                recovered {counted(cost.recovered_runs, 'completed run', ',')}"
               + (f" ({made})" if made else "")
               + f"; at most {counted(cost.max_recoveries, 'recovery', ',')} per step")
    if cost.models:
        means = ", ".join(f"{m.name.split('.')[1]} {format_minutes(m.mean_minutes)}" for m in cost.models)
        label = " (assumptions)" if all(m.assumption for m in cost.models) else ""
        out.append(f"                recovery means: {means}{label}")
    if cost.done_by_window:
        out.append("                done by the end of " + ", ".join(
            f"{d.window} {share_text(d.share)}" for d in cost.done_by_window) + " (of all runs)")
    return out


def _stops(sp: SimPlan, summary: Summary) -> tuple[Stop, ...]:
    """Every (outcome, step, reason) an early run ended at, most runs first (the text shows the top five)."""
    ranked = sorted(summary.stops.items(), key=lambda item: (item[0][0], -item[1], sp.ids[item[0][1]], item[0][2]))
    return tuple(Stop(outcome, sp.ids[step], reason, count) for (outcome, step, reason), count in ranked)


def _left(summary: Summary, intervals: Intervals) -> tuple[Left, ...]:
    """Per early outcome, the median steps left and nodes on 23H2, as the text's `(median: ...)` line."""
    return tuple(Left(o, summary.remaining_median[o], summary.upgraded_median[o], summary.nodes,
                      _round_bounds(intervals.remaining_median.get(o)), _round_bounds(intervals.upgraded_median.get(o)),
                      tuple(sorted(Counter(summary.upgraded.get(o, ())).items())))
                 for o in (ABORTED, STOPPED) if o in summary.remaining_median and o in summary.upgraded_median)


def _finish_at(sp: SimPlan, stats: dict | None, intervals: Intervals) -> FinishAt | None:
    """The clock time of P50 and P90 (the text's `finishes at`), when the file gives a planned start."""
    if stats is None or sp.planned_start is None:
        return None

    def at(key: str) -> str:
        return _clock(sp, stats[key])

    def ends(key: str) -> tuple[str | None, str | None] | None:
        interval = intervals.durations.get(key)
        if interval is None:
            return None
        return tuple(None if end is None else _clock(sp, end) for end in interval)

    return FinishAt(at("p50"), at("p90"), ends("p50"), ends("p90"))


def render_json(sp: SimPlan, summary: Summary, models: Models | None = None) -> str:
    """The `hciplan.sim/1` document: sorted keys, a final newline."""
    document = sim_result(sp, summary, models).to_document()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


_EARLY_LABELS = {ABORTED: "aborted", STOPPED: "stopped at a window"}


def past_return(sp: SimPlan, summary: Summary) -> tuple[PastReturn, ...]:
    """Per early outcome, the runs that had started an irreversible step, by step in plan order (issue 15)."""
    out = []
    for outcome in (ABORTED, STOPPED):
        runs = summary.past_return.get(outcome, 0)
        if not runs:
            continue
        by_step: dict[int, list[int]] = {}
        for (o, step, finished), count in summary.crossed.items():
            if o == outcome:
                tally = by_step.setdefault(step, [0, 0])
                tally[0] += count
                tally[1] += 0 if finished else count
        out.append(PastReturn(outcome, runs, tuple(Crossed(sp.ids[i], n, cut, sp.no_return[i] if sp.no_return else "")
                                                   for i, (n, cut) in sorted(by_step.items()))))
    return tuple(out)


def _past_return_lines(items: tuple[PastReturn, ...], summary: Summary) -> list[str]:
    """`aborted past the point of no return: ...`, each irreversible step crossed with the state it leaves."""
    out = []
    for p in items:
        total = summary.outcomes[p.outcome]
        out.append(f"  {_EARLY_LABELS[p.outcome]} past the point of no return: {p.runs:,} of {total:,} "
                   f"{_EARLY_LABELS[p.outcome].split()[0]} {plural('run', total)} had started an irreversible step")
        for c in p.steps:
            cut = f", cut short in {c.interrupted:,} (its change may be half made)" if c.interrupted else ""
            out.append(f"    {c.step:<34} {c.runs:>7,} {plural('run', c.runs):<4}{cut}")
            if c.state:
                out.extend(textwrap.wrap(f"leaves: {c.state}", WIDTH, initial_indent=" " * 6,
                                         subsequent_indent=" " * 8))
    return out


def window_close(sp: SimPlan, summary: Summary) -> tuple[WindowClose, ...]:
    """The cluster's state at each window's end over all runs: the counters as `hciplan.sim/1` stores them."""
    if not sp.windows or not summary.close_nodes:
        return ()
    return tuple(WindowClose(w.name, tuple(summary.close_nodes[k].items()),
                             tuple((NODE_STATES[state], runs) for state, runs in summary.close_states[k].items()),
                             tuple((tenths / 10, runs) for tenths, runs in summary.close_mixed[k].items()))
                 for k, w in enumerate(sp.windows))


def _window_close_lines(items: tuple[WindowClose, ...]) -> list[str]:
    """`State at each window's close`: nodes on 23H2, node passes under way, mixed OS mode so far."""
    if not items:
        return []
    out = ["", "State at each window's close  over all runs; a run that ended before a window's end counts with",
           "                              its final state"]
    names = max(6, max(len(w.name) for w in items))
    rows = [(w.name, *window_close_cells(w)) for w in items]
    first = max(len("nodes on 23H2: share of runs"), max(len(r[1]) for r in rows))
    second = max(len("node pass under way"), max(len(r[2]) for r in rows))
    out.append(f"  {'window':<{names}}  {'nodes on 23H2: share of runs':<{first}}  {'node pass under way':<{second}}"
               "  mixed OS mode so far, days P50 / P90")
    out.extend(f"  {name:<{names}}  {nodes:<{first}}  {states:<{second}}  {mixed}" for name, nodes, states, mixed in rows)
    return out
