"""The report's charts as plain data for its SVG template: coordinates computed here, drawn by report.html.j2.

No plotting library: the report must work without the `plot` extra, and the
same input must give the same bytes. Every coordinate is rounded to 0.1 px
and formatted here (`_n`), so the template only places strings. Each chart is
readable without colour: phases are named on the axis, failed attempts are
hatched and crossed, lines differ by dash pattern and are labelled at their
end; every chart has a title and a description for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hciplan.compiler.quantities import format_minutes
from hciplan.simulator import timeline
from hciplan.simulator.engine import RunResult
from hciplan.simulator.prepared import SimPlan

WIDTH = 960
PHASE_FILLS = {"p0": "#9e9e9e", "p1": "#4e79a7", "p2": "#59a14f", "p3": "#edc948", "p4": "#b07aa1",
               "p5": "#76b7b2", "p6": "#f28e2b", "p7": "#bab0ac"}
DASHES = ("", "6 3", "2 2", "8 3 2 3", "1 3", "10 4")  # one per line: a chart must not need colour


def _n(value: float) -> str:
    """A coordinate: 0.1 px, no trailing zeros, never `-0`."""
    text = f"{round(value, 1):.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass
class Chart:
    """One SVG: its size, its accessible title and description, and the shapes to draw (strings only)."""

    id: str
    title: str
    description: str
    width: int
    height: int
    rects: list[dict] = field(default_factory=list)  # x y w h fill [hatched] [label]
    lines: list[dict] = field(default_factory=list)  # x1 y1 x2 y2 [dash] [width] [colour]
    paths: list[dict] = field(default_factory=list)  # d [dash] [colour]
    texts: list[dict] = field(default_factory=list)  # x y text [anchor] [size] [weight]


def gantt(sp: SimPlan, run: RunResult, title: str) -> Chart:
    """The median run by window: a row per node plus one for the cluster, a panel per window with work.

    Marked: each window's end (dashed), its safe point (the end of the last unit started in it: solid),
    and the window rule's decision (the next unit, which waited for the next window).
    """
    rows = ["cluster"] + [n for n in dict.fromkeys(sp.nodes) if n is not None]
    label_w, top, row_h = 80, 46, 22
    panels = [(p.window, p.name, p.start, p.end, p.window_end) for p in timeline.panels(sp, run)]
    notes = len(panels) - 1 if sp.windows else 0  # one line per window decision, below the panels
    height = top + row_h * len(rows) + 64 + 14 * notes
    chart = Chart("gantt", title, "", WIDTH, height)
    gap = 14
    space = WIDTH - label_w - gap * (len(panels) - 1) - 10
    spans = [max(to - frm, 60.0) for _, _, frm, to, _ in panels]
    widths = [max(120.0, space * s / sum(spans)) for s in spans]
    scale_fix = space / sum(widths)
    widths = [w * scale_fix for w in widths]
    for k, name in enumerate(rows):
        y = top + k * row_h
        chart.texts.append({"x": _n(label_w - 6), "y": _n(y + 15), "text": name, "anchor": "end", "size": "11"})
    x0 = float(label_w)
    bottom = top + row_h * len(rows)
    described, decisions = [], []
    for (k, name, frm, to, end), w in zip(panels, widths):
        span = max(to - frm, 60.0)
        x = lambda minutes: x0 + (minutes - frm) / span * w  # noqa: E731
        chart.rects.append({"x": _n(x0), "y": _n(top - 2), "w": _n(w), "h": _n(bottom - top + 4), "fill": "none",
                            "stroke": "#555"})
        chart.texts.append({"x": _n(x0 + w / 2), "y": "14", "text": name, "anchor": "middle", "size": "12",
                            "weight": "bold"})
        phases_seen: set[str] = set()
        last_label = -100.0
        for seg in run.segments:
            if seg.end < frm or seg.start > to or seg.status == "skipped":
                continue
            row = rows.index(sp.nodes[seg.step] or "cluster")
            phase = sp.ids[seg.step][:2]
            failed = seg.status != "ok"
            left, right = x(max(seg.start, frm)), x(min(seg.end, to))
            chart.rects.append({"x": _n(left), "y": _n(top + row * row_h + 4), "w": _n(max(right - left, 1.0)),
                                "h": _n(row_h - 8), "fill": "hatch" if failed else PHASE_FILLS.get(phase, "#888"),
                                "label": f"{sp.ids[seg.step]}: {format_minutes(seg.end - seg.start)}"
                                         + (f" ({seg.status.replace('_', ' ')})" if failed else "")})
            if failed:
                chart.texts.append({"x": _n(left), "y": _n(top + row * row_h + 15), "text": "✕ " + seg.status.replace("_", " "),
                                    "size": "10", "weight": "bold"})
            if phase not in phases_seen and seg.status == "ok":
                phases_seen.add(phase)
                chart.lines.append({"x1": _n(left), "y1": _n(top - 10), "x2": _n(left), "y2": _n(top - 2),
                                    "width": "1"})
                if left - last_label >= 18:  # a phase that starts right after another keeps its tick, not its name
                    chart.texts.append({"x": _n(left + 2), "y": _n(top - 12), "text": phase.upper(), "size": "10"})
                    last_label = left
        if end is not None and frm <= end <= to:
            chart.lines.append({"x1": _n(x(end)), "y1": _n(top - 2), "x2": _n(x(end)), "y2": _n(bottom + 6),
                                "dash": "5 3", "width": "1.5"})
            chart.texts.append({"x": _n(x(end) - 3), "y": _n(bottom + 18), "text": "window end", "anchor": "end",
                                "size": "10"})
        if k is not None and run.unit_windows:
            marks = timeline.window_marks(sp, run, k)
            if marks.safe_point is not None:
                safe = marks.safe_point
                chart.lines.append({"x1": _n(x(safe)), "y1": _n(top - 2), "x2": _n(x(safe)), "y2": _n(bottom + 30),
                                    "width": "2.5"})
                chart.texts.append({"x": _n(x(safe) + 3), "y": _n(bottom + 32), "text": "▲ safe point", "size": "10",
                                    "weight": "bold"})
                described.append(f"{name}: safe point after {format_minutes(safe - frm)}")
            if marks.decision is not None:
                d = marks.decision
                text = (f"next: {d.unit} waits for {d.waits_for} "
                        f"(needs {format_minutes(d.need)}, {format_minutes(d.left)} left)")
                chart.texts.append({"x": _n(label_w), "y": _n(bottom + 48 + 14 * len(decisions)),
                                    "text": f"{name}: {text}", "size": "10"})
                decisions.append(text)
                described.append(text)
        x0 += w + gap
    # the phase legend: a swatch and its name, so the colours are only a second cue
    legend = height - 12
    for n, (phase, fill) in enumerate(PHASE_FILLS.items()):
        lx = label_w + n * 70
        chart.rects.append({"x": _n(lx), "y": _n(legend), "w": "10", "h": "10", "fill": fill})
        chart.texts.append({"x": _n(lx + 13), "y": _n(legend + 9), "text": phase.upper(), "size": "10"})
    chart.rects.append({"x": _n(label_w + 8 * 70), "y": _n(height - 12), "w": "10", "h": "10", "fill": "hatch"})
    chart.texts.append({"x": _n(label_w + 8 * 70 + 13), "y": _n(height - 3), "text": "failed attempt", "size": "10"})
    outcome = run.outcome.replace("_", " ")
    chart.description = (f"Timeline of the median run ({outcome}, {format_minutes(run.work)} of work), one panel per "
                         "window, one row per node; " + "; ".join(described))
    return chart


def share_bars(chart_id: str, title: str, rows: list[tuple[str, float, str]], description: str) -> Chart:
    """Horizontal bars: (label, share 0..1, the text beside the bar), in the order given."""
    label_w, bar_w, row_h, top = 260, 520, 24, 10
    chart = Chart(chart_id, title, description, WIDTH, top + row_h * len(rows) + 26)
    for k, (label, share, text) in enumerate(rows):
        y = top + k * row_h
        chart.texts.append({"x": _n(label_w - 8), "y": _n(y + 16), "text": label, "anchor": "end", "size": "12"})
        chart.rects.append({"x": _n(label_w), "y": _n(y + 4), "w": _n(bar_w), "h": _n(row_h - 8), "fill": "#eeeeee"})
        if share > 0:
            chart.rects.append({"x": _n(label_w), "y": _n(y + 4), "w": _n(max(1.0, bar_w * share)),
                                "h": _n(row_h - 8), "fill": "#4e79a7", "label": f"{label}: {text}"})
        chart.texts.append({"x": _n(label_w + bar_w + 8), "y": _n(y + 16), "text": text, "size": "12"})
    bottom = top + row_h * len(rows)
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + bar_w * tick
        chart.lines.append({"x1": _n(x), "y1": _n(bottom), "x2": _n(x), "y2": _n(bottom + 4), "width": "1"})
        chart.texts.append({"x": _n(x), "y": _n(bottom + 16), "text": f"{tick:.0%}", "anchor": "middle", "size": "10"})
    return chart


def s_curves(chart_id: str, title: str, curves: list[tuple[str, tuple[float, ...], float | None]],
             description: str) -> Chart:
    """Per window, the share of the runs that worked in it whose work there was done by a given time.

    `curves`: (window name, its work minutes ascending, its length in minutes or None).
    """
    left, top, plot_w, plot_h = 60, 16, 700, 220
    chart = Chart(chart_id, title, description, WIDTH, top + plot_h + 52)
    high = max([c[-1] for _, c, _ in curves if c] + [length or 0 for _, _, length in curves] + [60.0])
    x = lambda minutes: left + minutes / high * plot_w  # noqa: E731
    y = lambda share: top + plot_h * (1 - share)  # noqa: E731
    chart.rects.append({"x": _n(left), "y": _n(top), "w": _n(plot_w), "h": _n(plot_h), "fill": "none",
                        "stroke": "#555"})
    for share in (0, 0.5, 0.9, 1.0):
        chart.lines.append({"x1": _n(left - 4), "y1": _n(y(share)), "x2": _n(left + plot_w), "y2": _n(y(share)),
                            "width": "0.5", "colour": "#bbbbbb"})
        chart.texts.append({"x": _n(left - 6), "y": _n(y(share) + 4), "text": f"{share:.0%}", "anchor": "end",
                            "size": "10"})
    step = _tick_step(high)
    t = 0.0
    while t <= high + 1e-9:
        chart.lines.append({"x1": _n(x(t)), "y1": _n(top + plot_h), "x2": _n(x(t)), "y2": _n(top + plot_h + 4),
                            "width": "1"})
        chart.texts.append({"x": _n(x(t)), "y": _n(top + plot_h + 16), "text": format_minutes(t), "anchor": "middle",
                            "size": "10"})
        t += step
    chart.texts.append({"x": _n(left + plot_w / 2), "y": _n(top + plot_h + 34), "anchor": "middle", "size": "11",
                        "text": "work time in the window (steps running)"})
    for n, (name, works, _) in enumerate(curves):
        if not works:
            continue
        points, total = [], len(works)
        for k, minutes in enumerate(works):  # an empirical CDF: a step at each run, thinned to about 200 points
            if k % max(1, total // 200) == 0 or k == total - 1:
                points.append((x(minutes), y((k + 1) / total)))
        d = f"M{_n(x(works[0]))} {_n(y(0))} " + " ".join(f"L{_n(px)} {_n(py)}" for px, py in points)
        chart.paths.append({"d": d, "dash": DASHES[n % len(DASHES)]})
        chart.lines.append({"x1": _n(left + plot_w + 60), "y1": _n(top + 10 + 16 * n),
                            "x2": _n(left + plot_w + 90), "y2": _n(top + 10 + 16 * n),
                            "dash": DASHES[n % len(DASHES)], "width": "2"})
        chart.texts.append({"x": _n(left + plot_w + 96), "y": _n(top + 14 + 16 * n), "text": name, "size": "11"})
    return chart


def _tick_step(high: float) -> float:
    for step in (15, 30, 60, 120, 240, 360, 720, 1440, 2880):
        if high / step <= 10:
            return float(step)
    return high / 8
