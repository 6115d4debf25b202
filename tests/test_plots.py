"""The matplotlib charts of `hciplan simulate` (plot extra): Gantt, distributions by window, criticality.

Checked on the written files: they exist, SVG parses, the same seed gives the
same bytes, a plan over several windows gets the finish-window bars and a
work-time panel per window (matplotlib writes each text as a comment beside its
glyphs, so the labels can be read back), and no title rounds a share up to 100%.
"""

from __future__ import annotations

import os
import re
import sys

from hciplan.percent import share_text
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.simulator import prepare_simulation, timeline
from hciplan.simulator.montecarlo import simulate, trace_run

from helpers import EXAMPLES

RUNS = 60


def texts(svg: str) -> list[str]:
    """The texts of a matplotlib SVG (each glyph group follows a comment holding its text)."""
    return [t.strip() for t in re.findall(r"<!-- (.*?) -->", svg)]


@pytest.fixture(scope="module")
def plt():
    pytest.importorskip("matplotlib", reason="the charts need the plot extra: pip install 'hciplan[plot]'")


@pytest.fixture(scope="module")
def four_node():
    plan = compile_checked(load_source(str(EXAMPLES / "four-node.hciplan")), need_plan=True).plan
    sp = prepare_simulation(plan)
    summary = simulate(sp, RUNS, 0, 1)
    return sp, summary, trace_run(sp, 0, summary.median_run())


def test_the_three_charts_are_written_parse_and_repeat_byte_for_byte(plt, tmp_path):
    def run(folder):
        folder.mkdir()
        args = ["simulate", str(EXAMPLES / "four-node.hciplan"), "--runs", "40", "--seed", "5", "--jobs", "1"]
        for option in ("gantt", "histogram", "criticality"):
            args += [f"--{option}", str(folder / f"{option}.svg")]
        result = CliRunner().invoke(cli, args + ["--criticality", str(folder / "criticality.png")],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return folder

    one, two = run(tmp_path / "one"), run(tmp_path / "two")
    for name in ("gantt.svg", "histogram.svg"):
        svg = (one / name).read_text(encoding="utf-8")
        assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg", name
        assert "<dc:date>" not in svg, "no date in the metadata"
        assert (one / name).read_bytes() == (two / name).read_bytes(), f"{name}: same seed, same bytes"
    assert (one / "criticality.png").read_bytes().startswith(b"\x89PNG")
    assert (one / "criticality.png").read_bytes() == (two / "criticality.png").read_bytes()
    assert sorted(p.name for p in one.iterdir()) == ["criticality.png", "gantt.svg", "histogram.svg"]
    umask = os.umask(0)
    os.umask(umask)
    assert all((p.stat().st_mode & 0o777) == 0o666 & ~umask for p in one.iterdir()), "the umask's mode, not 0600"


def test_a_plan_over_several_windows_gets_finish_window_bars_and_a_work_panel_per_window(plt, tmp_path, four_node):
    from hciplan.simulator import plots

    sp, summary, _ = four_node
    path = tmp_path / "h.svg"
    plots.write_histogram(str(path), sp, summary)
    labels = texts(path.read_text(encoding="utf-8"))
    names = [w.name for w in sp.windows]
    assert len(names) == 4
    assert all(name in labels for name in names), "a bar per window, named on the axis"
    completed = sum(summary.finish_windows.values())
    title = next(t for t in labels if "Finish window" in t)
    assert f"{completed:,} of {RUNS:,} runs completed" in title
    likeliest = max(summary.finish_windows, key=lambda k: (summary.finish_windows[k], -k))
    assert f"{names[likeliest]} in {share_text(summary.finish_windows[likeliest] / completed)}" in title
    worked = [w.name for w, works in zip(sp.windows, summary.window_works) if works]
    assert [t.split(":")[0] for t in labels if "work time in the window" in t] == worked
    assert "hours from the planned start" not in " ".join(labels), "no calendar-time axis over weeks"


def test_one_window_keeps_the_duration_histogram_with_its_window_line(plt, tmp_path):
    from hciplan.simulator import plots

    plan = compile_checked(load_source(str(EXAMPLES / "two-node.hciplan")), need_plan=True).plan
    sp = prepare_simulation(plan)
    path = tmp_path / "h.svg"
    plots.write_histogram(str(path), sp, simulate(sp, 40, 0, 1))
    labels = texts(path.read_text(encoding="utf-8"))
    assert "sunday-morning ends" in labels and not any("Finish window" in t for t in labels)


def test_the_gantt_chart_marks_the_safe_points_and_the_window_decisions(plt, tmp_path, four_node):
    from hciplan.simulator import plots

    sp, _, run = four_node
    path = tmp_path / "g.svg"
    plots.write_gantt(str(path), sp, run)
    labels = texts(path.read_text(encoding="utf-8"))
    panels = [p for p in timeline.panels(sp, run) if p.window is not None]
    marks = [timeline.window_marks(sp, run, p.window) for p in panels]
    assert labels.count("safe point") == sum(m.safe_point is not None for m in marks) + 1  # + the legend
    decided = [m.decision for m in marks if m.decision is not None]
    assert decided, "the 4-node plan defers work to later windows"
    for d in decided:
        assert any(d.unit in t and f"waits for {d.waits_for}" in t for t in labels), d
    assert all(p.name in labels for p in panels)


def test_the_criticality_chart_ranks_as_the_text_report(plt, tmp_path, four_node):
    from hciplan.simulator import plots
    from hciplan.simulator.report import most_critical

    sp, summary, _ = four_node
    path = tmp_path / "c.svg"
    plots.write_criticality(str(path), sp, summary)
    labels = texts(path.read_text(encoding="utf-8"))
    ranked = [sp.ids[i] for i, _ in most_critical(sp, summary)]
    assert [t for t in labels if t in ranked] == ranked, "most critical on top, as the text report lists them"
    for i, share in most_critical(sp, summary):
        assert any(t.startswith(share_text(share)) for t in labels)


def test_the_criticality_option_says_how_to_install_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    target = tmp_path / "c.svg"
    result = CliRunner().invoke(cli, ["simulate", str(EXAMPLES / "two-node.hciplan"), "--runs", "2",
                                      "--criticality", str(target)], catch_exceptions=False)
    assert result.exit_code == 2 and "pip install 'hciplan[plot]'" in result.stderr
    assert "--criticality" in result.stderr and not target.exists()


def test_without_windows_the_gantt_chart_draws_no_window_marks(plt, tmp_path):
    from hciplan.simulator import plots

    plan = compile_checked(load_source(str(EXAMPLES / "two-node.hciplan")), need_plan=True).plan
    sp = prepare_simulation(plan, ignore_windows=True)
    summary = simulate(sp, 10, 0, 1)
    path = tmp_path / "g.svg"
    plots.write_gantt(str(path), sp, trace_run(sp, 0, summary.median_run()))
    labels = texts(path.read_text(encoding="utf-8"))
    assert "P1" in labels and not {"safe point", "window end"} & set(labels), "no legend entry for marks not drawn"


def test_no_completed_run_says_so_instead_of_zero_bars(plt, tmp_path):
    from hciplan.simulator import plots

    plan = compile_checked(load_source(str(EXAMPLES / "sixteen-node.hciplan")), need_plan=True).plan
    sp = prepare_simulation(plan)
    summary = simulate(sp, 10, 0, 1)
    assert summary.outcomes["completed"] == 0, "the 16-node example's work does not fit its two windows"
    path = tmp_path / "h.svg"
    plots.write_histogram(str(path), sp, summary)
    labels = texts(path.read_text(encoding="utf-8"))
    assert "no run completed: the work does not fit the windows" in labels
    assert "0.0%" not in labels, "no bar labelled as if some run had been counted"


def test_a_window_name_with_dollars_is_text_not_a_formula(plt, tmp_path):
    """matplotlib reads `$...$` as mathtext (italic glyphs, superscripts): a name from the file must stay text."""
    from hciplan.simulator import plots

    source = (EXAMPLES / "four-node.hciplan").read_text(encoding="utf-8").replace('window "sat-1"',
                                                                                 'window "a $x^2$ b"')
    path = tmp_path / "dollars.hciplan"
    path.write_text(source, encoding="utf-8")
    plan = compile_checked(load_source(str(path)), need_plan=True).plan
    sp = prepare_simulation(plan)
    summary = simulate(sp, 10, 0, 1)
    for name, write in (("g.svg", lambda p: plots.write_gantt(p, sp, trace_run(sp, 0, summary.median_run()))),
                        ("h.svg", lambda p: plots.write_histogram(p, sp, summary))):
        svg = (tmp_path / name)
        write(str(svg))
        text = svg.read_text(encoding="utf-8")
        assert "a $x^2$ b" in texts(text) and "DejaVuSans-Oblique" not in text, name
