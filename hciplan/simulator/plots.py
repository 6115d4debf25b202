"""Plots of a simulation (matplotlib, extra `plot`): the Gantt chart of the median run, the distributions, criticality.

`--gantt`: the median run by window, with each window's safe point and the
window rule's decisions (hciplan/simulator/timeline.py, shared with the
report's SVG). `--histogram`: for a plan over several windows, which window
the runs finish in and, per window, the work time in it with its S-curve
(calendar time from the planned start would span weeks of idle days); for one
window or none, the duration histogram with the window's end.
`--criticality`: the most critical steps, with their 95% intervals.

matplotlib is imported only here and only when a plot is asked for; without it
the user is told how to install the extra. Files are written to a temporary
name and moved into place (hciplan.files), so a failure never leaves half a file; SVG output
carries no date and a fixed hash salt, so the same run gives the same bytes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from hciplan.compiler.quantities import format_minutes
from hciplan.files import WriteError, write_bytes
from hciplan.simulator import timeline
from hciplan.simulator.engine import RunResult
from hciplan.percent import share_text
from hciplan.simulator.montecarlo import Summary, percentile
from hciplan.simulator.prepared import SimPlan
from hciplan.simulator.report import most_critical
from hciplan.words import counted

FORMATS = (".png", ".svg")
INSTALL_HINT = "pip install 'hciplan[plot]'"
PHASE_COLOURS = {"p0": "#9e9e9e", "p1": "#4e79a7", "p2": "#59a14f", "p3": "#edc948", "p4": "#b07aa1",
                 "p5": "#76b7b2", "p6": "#f28e2b", "p7": "#bab0ac"}
FAILED = "#e15759"


class PlotError(Exception):
    """A plot that cannot be made: a wrong file type, or matplotlib is missing."""


def check_target(path: str, option: str = "--gantt, --histogram and --criticality") -> None:
    """Fail early (before any simulation) when the plot could not be written; `option` names the flags in the hint."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise PlotError(f"{path}: plots are written as .png or .svg")
    if target.is_symlink():
        raise PlotError(f"{path} is a symbolic link: hciplan does not write plots through links; remove it or "
                        "write the plot elsewhere")
    folder = target.parent
    if not folder.is_dir():
        raise PlotError(f"{path}: the folder {folder} does not exist; create it or write the plot elsewhere")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PlotError(f"{path}: the folder {folder} is not writable; write the plot elsewhere")
    _pyplot(option)


def _pyplot(option: str = "--gantt, --histogram and --criticality"):
    try:
        import matplotlib
    except ImportError:
        raise PlotError(f"plotting ({option}) needs matplotlib: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "hciplan"
    matplotlib.rcParams["text.parse_math"] = False  # names from the file are text: `$x$` in a window name is no formula
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> None:
    """Render into memory, then write the bytes through the one safe writer (hciplan.files): atomic,
    umask-respecting mode like every other output, never through a symbolic link."""
    target = Path(path)
    metadata = {"Date": None} if target.suffix.lower() == ".svg" else {"Software": None}
    buffer = io.BytesIO()
    fig.savefig(buffer, format=target.suffix.lower().lstrip("."), dpi=110, bbox_inches="tight", metadata=metadata)
    try:
        write_bytes(target, buffer.getvalue(), overwrite=True)
    except WriteError as error:
        raise PlotError(str(error)) from None


def _hours_label(sp: SimPlan) -> str:
    if sp.planned_start is None:
        return "hours from the start"
    return f"hours from the planned start ({sp.planned_start.isoformat(timespec='minutes')})"


def _phase_legend(plt, fig, windows: bool) -> None:
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in PHASE_COLOURS.values()] + [
        plt.Rectangle((0, 0), 1, 1, color=FAILED)]
    labels = [p.upper() for p in PHASE_COLOURS] + ["failed"]
    if windows:  # the window marks are in the legend only where they are drawn
        handles += [plt.Line2D([0], [0], color="black", linewidth=2.5),
                    plt.Line2D([0], [0], color="black", linestyle="--", linewidth=1)]
        labels += ["safe point", "window end"]
    fig.legend(handles, labels, loc="lower center", ncol=11, fontsize=7, frameon=False, bbox_to_anchor=(0.5, -0.02))


def write_gantt(path: str, sp: SimPlan, run: RunResult) -> None:
    """One row per node plus one for cluster-wide steps, a panel per window with activity, the window shaded.

    Failed attempts are red and hatched. Marked per window: its end (dashed), its safe point (the end of
    the last unit started in it: solid, thick), the first unit the window rule started in it, and its
    decision at the end (the next unit waited for a later window: needed, and left).
    """
    plt = _pyplot()
    shown = {sp.nodes[s.step] for s in run.segments}
    rows = ["cluster"] + [n for n in dict.fromkeys(sp.nodes) if n is not None and n in shown]  # plan order
    y = {name: len(rows) - 1 - k for k, name in enumerate(rows)}
    panels = timeline.panels(sp, run)
    marks = {p.window: timeline.window_marks(sp, run, p.window) for p in panels
             if p.window is not None and run.unit_windows}
    decisions = [(p.name, m.decision) for p in panels if (m := marks.get(p.window)) and m.decision]
    widths = [max(p.end - p.start, 1.0) for p in panels]
    size = (min(16, 4 + 5 * len(panels)), 1.6 + 0.45 * len(rows) + 0.2 * len(decisions))
    fig, axes = plt.subplots(1, len(panels), sharey=True, figsize=size,
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    top = len(rows) - 0.5
    for ax, panel in zip(axes[0], panels):
        frm, to = panel.start, panel.end
        if panel.window is not None:  # the window itself shaded: what lies right of it ran past its end
            w = sp.windows[panel.window]
            ax.axvspan(w.start / 60, w.end / 60, color="#e8eef5", zorder=0, linewidth=0)
        labelled: set[tuple[int, str]] = set()
        for seg in run.segments:
            if seg.end < frm or seg.start > to:
                continue
            row = y[sp.nodes[seg.step] or "cluster"]
            failed = seg.status not in ("ok", "skipped")
            colour = FAILED if failed else PHASE_COLOURS.get(sp.ids[seg.step][:2], "#888888")
            ax.barh(row, max(seg.end - seg.start, 0.5) / 60, left=seg.start / 60, height=0.6, color=colour,
                    edgecolor="black" if failed else "none", hatch="xx" if failed else None, linewidth=0.4)
            if failed and (row, seg.status) not in labelled:
                labelled.add((row, seg.status))
                ax.annotate(seg.status.replace("_", " "), (seg.start / 60, row + 0.35), fontsize=7, color=FAILED)
        if panel.window_end is not None:
            ax.axvline(panel.window_end / 60, color="black", linestyle="--", linewidth=1)
            ax.annotate("window end", (panel.window_end / 60, top), fontsize=7, ha="right", va="bottom")
        mark = marks.get(panel.window)
        if mark is not None and mark.safe_point is not None:
            ax.axvline(mark.safe_point / 60, color="black", linewidth=2.5)
            ax.annotate("safe point", (mark.safe_point / 60, -0.5), fontsize=7, fontweight="bold",
                        xytext=(3, 2), textcoords="offset points", va="bottom")
        if mark is not None and mark.first_unit is not None:
            ax.annotate(f"starts {mark.first_unit}", (frm / 60, top), fontsize=7, xytext=(2, 2),
                        textcoords="offset points", va="bottom")
        ax.set_xlim(frm / 60, to / 60 + 0.02 * max(to - frm, 60) / 60)
        ax.set_ylim(-0.7, len(rows) - 0.1)
        ax.set_title(panel.name if panel.window is not None else "", fontsize=9, pad=12)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(_hours_label(sp) if ax is axes[0][0] else "", fontsize=8)
    axes[0][0].set_yticks(list(y.values()), list(y.keys()), fontsize=8)
    outcome = run.outcome.replace("_", " ") + (f" at {sp.ids[run.step]}" if run.step >= 0 else "")
    hours = f"{run.work / 60:.1f} h of work" if sp.windows else f"{run.end / 60:.1f} h"
    fig.suptitle(f"{sp.cluster}: median run #{run.index} ({outcome}, {hours})", fontsize=10)
    notes = [f"{name}: next, {d.unit} waits for {d.waits_for} (needs {format_minutes(d.need)}, "
             f"{format_minutes(d.left)} left after the safe point)" for name, d in decisions]
    for n, note in enumerate(notes):  # the window rule's decisions, under the panels, in window order
        fig.text(0.01, 0.06 + 0.035 * (len(notes) - 1 - n), note, fontsize=7, transform=fig.transFigure)
    _phase_legend(plt, fig, bool(sp.windows))
    fig.tight_layout(rect=(0, 0.05 + 0.035 * len(notes), 1, 1))
    _save(fig, path)
    plt.close(fig)


def histogram_title(sp: SimPlan, summary: Summary) -> str:
    """`clu: 1,000 runs, P50 7.2 h, P90 7.9 h, 99.8% within the window` (the share as every report shows it)."""
    stats = summary.duration_stats()
    title = f"{sp.cluster}: {counted(summary.runs, 'run', ',')}"
    if stats:
        title += f", P50 {stats['p50'] / 60:.1f} h, P90 {stats['p90'] / 60:.1f} h"
    if summary.p_within_window is not None:
        title += f", {share_text(summary.p_within_window)} within the window"
    return title


def write_histogram(path: str, sp: SimPlan, summary: Summary) -> None:
    """The distribution of the runs: by window for a plan over several windows, else the durations."""
    if len(sp.windows) > 1 and summary.window_works:
        _write_window_distributions(path, sp, summary)
    else:
        _write_duration_histogram(path, sp, summary)


def _s_curve(ax, plt, values: list[float], total: int, label: str) -> None:
    """A histogram of `values` (hours, ascending) and, on a second axis, the share of `total` done by then."""
    ax.hist(values, bins=min(60, max(10, len(values) // 20)), color="#4e79a7", alpha=0.75)
    curve = ax.twinx()
    curve.plot(values, [(k + 1) / total for k in range(len(values))], color="#f28e2b")
    curve.set_ylim(0, 1.02)
    curve.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    curve.set_ylabel(label, fontsize=7)
    curve.tick_params(labelsize=7)


def _write_duration_histogram(path: str, sp: SimPlan, summary: Summary) -> None:
    """Durations of the completed runs, their S-curve (share done by then) and the window's end."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    hours = sorted(d / 60 for d in summary.durations)
    if hours:
        _s_curve(ax, plt, hours, summary.runs, "share of all runs completed by then")
    else:
        ax.text(0.5, 0.5, "no run completed", transform=ax.transAxes, ha="center")
    ends = [(w.name, w.end / 60) for w in sp.windows]
    if hours:  # zoom on the durations and the window end if it is near them
        span = max(hours[-1] - hours[0], 1.0)
        ends = [(name, h) for name, h in ends if hours[0] - span <= h <= hours[-1] + span]
        low = min([hours[0]] + [h for _, h in ends])
        high = max([hours[-1]] + [h for _, h in ends])
        ax.set_xlim(low - 0.05 * (high - low + 1), high + 0.05 * (high - low + 1))
    for name, h in ends:
        ax.axvline(h, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"{name} ends", (h, ax.get_ylim()[1] * 0.95), fontsize=7, ha="right")
    ax.set_xlabel(_hours_label(sp), fontsize=8)
    ax.set_ylabel("completed runs", fontsize=8)
    ax.set_title(histogram_title(sp, summary), fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _write_window_distributions(path: str, sp: SimPlan, summary: Summary) -> None:
    """Top: the share of completed runs finishing in each window. Below, per window some run worked in:
    the work time in it (steps running) with its S-curve, against the window's length."""
    plt = _pyplot()
    worked = [k for k, works in enumerate(summary.window_works) if works]
    fig, axes = plt.subplots(1 + len(worked), 1, figsize=(8, 2.8 + 2.3 * len(worked)), squeeze=False,
                             gridspec_kw={"height_ratios": [1.2] + [1.0] * len(worked)})
    ax = axes[0][0]
    completed = sum(n for k, n in summary.finish_windows.items() if k >= 0)
    names = [w.name for w in sp.windows]
    shares = [summary.finish_windows.get(k, 0) / completed if completed else 0.0 for k in range(len(names))]
    bars = ax.bar(names, shares, color="#4e79a7")
    if not completed:
        ax.text(0.5, 0.5, "no run completed: the work does not fit the windows", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
    for bar, share in zip(bars, shares if completed else ()):
        ax.annotate(share_text(share), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_ylim(0, 1.15)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_ylabel("completed runs", fontsize=8)
    ax.tick_params(labelsize=8)
    done = f"{completed:,} of {summary.runs:,} runs completed"
    if completed:
        likeliest = max(range(len(names)), key=lambda k: (shares[k], -k))
        title = f"Finish window ({done}): {names[likeliest]} in {share_text(shares[likeliest])}"
    else:
        title = f"Finish window: no run completed ({summary.runs:,} runs)"
    ax.set_title(f"{sp.cluster}: {title}", fontsize=10)
    for row, k in enumerate(worked, start=1):
        ax = axes[row][0]
        w = sp.windows[k]
        hours = [m / 60 for m in summary.window_works[k]]  # ascending: runs that worked in the window
        _s_curve(ax, plt, hours, len(hours), f"share of the {len(hours):,} runs\ndone by then")
        length = (w.end - w.start) / 60
        ax.axvline(length, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"{w.name} is {format_minutes(w.end - w.start)} long", (length, ax.get_ylim()[1] * 0.92),
                    fontsize=7, ha="right", xytext=(-3, 0), textcoords="offset points")
        ax.set_xlim(0, max(hours[-1], length) * 1.05)
        ax.set_ylabel("runs", fontsize=8)
        ax.tick_params(labelsize=7)
        p50, p90 = percentile(summary.window_works[k], 50), percentile(summary.window_works[k], 90)
        ax.set_title(f"{w.name}: work time in the window, P50 {format_minutes(p50)}, P90 {format_minutes(p90)} "
                     f"({len(hours):,} runs worked in it)", fontsize=9)
    axes[-1][0].set_xlabel("hours of work in the window (steps running)", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def write_criticality(path: str, sp: SimPlan, summary: Summary) -> None:
    """The most critical steps: the share of completed runs in which each is on the critical path, 95% interval."""
    plt = _pyplot()
    ranked = most_critical(sp, summary)
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.36 * max(1, len(ranked))))
    completed = len(summary.durations)
    if not ranked:
        ax.text(0.5, 0.5, "no run completed, so no critical path", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(f"{sp.cluster}: most critical steps ({summary.runs:,} runs)", fontsize=10)
    else:
        intervals = summary.intervals().criticality
        rows = list(range(len(ranked)))[::-1]  # the most critical on top
        shares = [share for _, share in ranked]
        bounds = [intervals.get(i) or (share, share) for i, share in ranked]  # Wilson: both sides known
        errors = [[max(0.0, share - low) for (low, _), share in zip(bounds, shares)],
                  [max(0.0, high - share) for (_, high), share in zip(bounds, shares)]]
        ax.barh(rows, shares, xerr=errors, color="#4e79a7", height=0.6, error_kw={"linewidth": 0.8, "capsize": 2})
        for row, (i, share) in zip(rows, ranked):
            ax.annotate(f"{share_text(share)}  (mean {format_minutes(sp.mean_minutes[i])})", (share, row),
                        xytext=(6, 0), textcoords="offset points", va="center", fontsize=7)
        ax.set_yticks(rows, [sp.ids[i] for i, _ in ranked], fontsize=8)
        ax.set_xlim(0, 1.3)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel("share of completed runs in which the step is on the critical path (bars: 95% interval)",
                      fontsize=8)
        ax.set_title(f"{sp.cluster}: the {len(ranked)} most critical steps ({completed:,} completed runs)",
                     fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
