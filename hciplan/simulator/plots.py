"""Plots of a simulation: the Gantt chart of the median run and the duration histogram (matplotlib, extra `plot`).

matplotlib is imported only here and only when a plot is asked for; without it
the user is told how to install the extra. Files are written to a temporary
name and moved into place (hciplan.files), so a failure never leaves half a file; SVG output
carries no date and a fixed hash salt, so the same run gives the same bytes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from hciplan.files import WriteError, write_bytes

from hciplan.simulator.engine import RunResult
from hciplan.simulator.montecarlo import Summary
from hciplan.simulator.prepared import SimPlan

FORMATS = (".png", ".svg")
INSTALL_HINT = "pip install 'hciplan[plot]'"
PHASE_COLOURS = {"p0": "#9e9e9e", "p1": "#4e79a7", "p2": "#59a14f", "p3": "#edc948", "p4": "#b07aa1",
                 "p5": "#76b7b2", "p6": "#f28e2b", "p7": "#bab0ac"}
FAILED = "#e15759"


class PlotError(Exception):
    """A plot that cannot be made: a wrong file type, or matplotlib is missing."""


def check_target(path: str) -> None:
    """Fail early (before any simulation) when the plot could not be written."""
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
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotError(f"--gantt and --histogram need matplotlib: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "hciplan"
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


def _panels(sp: SimPlan, run: RunResult) -> list[tuple[str, float, float, float | None]]:
    """(title, x from, x to, window end) per window with activity; one panel without windows."""
    if not sp.windows:
        return [("", 0.0, max(run.end, 1.0), None)]
    panels = []
    for k, w in enumerate(sp.windows):
        nxt = sp.windows[k + 1].start if k + 1 < len(sp.windows) else float("inf")
        inside = [s for s in run.segments if w.start <= s.start < nxt]
        if inside or k == 0:
            last = max([s.end for s in inside] + [w.end])
            panels.append((w.name, w.start, last, w.end))
    return panels


def write_gantt(path: str, sp: SimPlan, run: RunResult) -> None:
    """One row per node plus one for cluster-wide steps; failed attempts in red; window ends as dashed lines."""
    plt = _pyplot()
    shown = {sp.nodes[s.step] for s in run.segments}
    rows = ["cluster"] + [n for n in dict.fromkeys(sp.nodes) if n is not None and n in shown]  # plan order
    y = {name: len(rows) - 1 - k for k, name in enumerate(rows)}
    panels = _panels(sp, run)
    widths = [max(to - frm, 1.0) for _, frm, to, _ in panels]
    size = (min(16, 4 + 5 * len(panels)), 1.2 + 0.45 * len(rows))
    fig, axes = plt.subplots(1, len(panels), sharey=True, figsize=size,
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, (title, frm, to, window_end) in zip(axes[0], panels):
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
        if window_end is not None:
            ax.axvline(window_end / 60, color="black", linestyle="--", linewidth=1)
            ax.annotate("window end", (window_end / 60, len(rows) - 0.5), fontsize=7, ha="right")
        ax.set_xlim(frm / 60, to / 60 + 0.02 * max(to - frm, 60) / 60)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(_hours_label(sp) if ax is axes[0][0] else "", fontsize=8)
    axes[0][0].set_yticks(list(y.values()), list(y.keys()), fontsize=8)
    outcome = run.outcome.replace("_", " ") + (f" at {sp.ids[run.step]}" if run.step >= 0 else "")
    fig.suptitle(f"{sp.cluster}: median run #{run.index} ({outcome}, {run.end / 60:.1f} h)", fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in PHASE_COLOURS.values()] + [
        plt.Rectangle((0, 0), 1, 1, color=FAILED)]
    fig.legend(handles, [p.upper() for p in PHASE_COLOURS] + ["failed"], loc="lower center", ncol=9, fontsize=7,
               frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _save(fig, path)
    plt.close(fig)


def write_histogram(path: str, sp: SimPlan, summary: Summary) -> None:
    """Durations of the completed runs, their S-curve (share done by then) and the window ends."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    hours = sorted(d / 60 for d in summary.durations)
    if hours:
        ax.hist(hours, bins=min(60, max(10, len(hours) // 20)), color="#4e79a7", alpha=0.75)
        curve = ax.twinx()
        curve.plot(hours, [(k + 1) / summary.runs for k in range(len(hours))], color="#f28e2b")
        curve.set_ylim(0, 1.02)
        curve.set_ylabel("share of all runs completed by then", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no run completed", transform=ax.transAxes, ha="center")
    ends = [(w.name, w.end / 60) for w in sp.windows]
    if hours:  # zoom on the durations and the window ends near them (windows may be weeks apart)
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
    stats = summary.duration_stats()
    title = f"{sp.cluster}: {summary.runs:,} runs"
    if stats:
        title += f", P50 {stats['p50'] / 60:.1f} h, P90 {stats['p90'] / 60:.1f} h"
    if summary.p_within_window is not None:
        title += f", {summary.p_within_window:.0%} within the window"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
