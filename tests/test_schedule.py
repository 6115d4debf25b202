"""The expected schedule by window (compiler/schedule.py): the window rule on mean durations, carried by the plan."""

from __future__ import annotations

import pytest

from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.compiler.schedule import busy_minutes, expected_schedule

from helpers import VALID_EXAMPLES


def compile_example(path):
    return compile_checked(load_source(str(path)), need_plan=True)


def test_busy_minutes_is_the_length_of_the_union():
    assert busy_minutes([]) == 0
    assert busy_minutes([(0, 10), (5, 15), (20, 30)]) == 25
    assert busy_minutes([(20, 30), (0, 40)]) == 40


def chain(minutes: list[float], fits: list[float], windows):
    n = len(minutes)
    ids = [f"s{i}" for i in range(n)]
    preds = [[i - 1] if i else [] for i in range(n)]
    units = [(f"u{i}", (i,), i, fits[i]) for i in range(n)]
    return expected_schedule(ids, preds, minutes, units, windows)


def test_a_unit_that_does_not_fit_waits_for_the_next_window():
    # three 3h steps that need 3h30m each to fit; 8h windows a week apart
    schedule = chain([180, 180, 180], [210, 210, 210], [("w1", 0, 480), ("w2", 10080, 10560)])
    first, second = schedule.windows
    assert first.units == ("u0", "u1") and first.safe_point == "s1" and first.stops_at == 360
    assert second.units == ("u2",) and second.stops_at == 10080 + 180
    assert schedule.work_minutes == 540 and schedule.finish_window == "w2" and schedule.used == 2
    assert schedule.unplaced == ()


def test_units_no_window_holds_are_unplaced_with_everything_after_them():
    schedule = chain([60, 600, 60], [60, 600, 60], [("w1", 0, 480)])
    assert schedule.windows[0].units == ("u0",)
    assert schedule.unplaced == ("u1", "u2")


def test_no_windows_no_schedule():
    assert chain([60], [60], []) is None


@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=lambda p: p.stem)
def test_the_plan_carries_a_schedule_that_places_each_unit_once(example):
    plan = compile_example(example).plan
    schedule = plan.schedule
    placed = [u for w in schedule.windows for u in w.units]
    assert sorted(placed + list(schedule.unplaced)) == sorted(u.id for u in plan.units)
    fit = {u.id: u.fit_minutes for u in plan.units}
    tails = {u.id: u.tail for u in plan.units}
    for w in schedule.windows:
        if w.units:
            assert w.safe_point in {tails[u] for u in w.units}
            assert w.start <= w.stops_at
            assert w.work_minutes <= w.stops_at - w.start + 1e-6
            # the window rule: the longest unit started in it still had its fit time left at the window's start
            assert max(fit[u] for u in w.units) <= w.end - w.start
    assert schedule.work_minutes == pytest.approx(sum(w.work_minutes for w in schedule.windows), abs=0.01)


@pytest.mark.parametrize("doc, command", [
    ("docs/plan.md", ["plan", "examples/four-node.hciplan"]),
    ("docs/simulation.md", ["simulate", "examples/four-node.hciplan"]),
])
def test_the_documented_schedule_is_what_the_command_prints(doc, command):
    """Every line the doc's "Schedule by window" sample shows is in today's output."""
    from click.testing import CliRunner

    from hciplan.cli import cli
    from helpers import ROOT

    text = (ROOT / doc).read_text(encoding="utf-8")
    section = text[text.index("## Schedule by window"):]
    start = "$ hciplan " + " ".join(command) + "\n"
    block = section[section.index(start) + len(start):].split("```")[0]
    shown = [line for line in block.splitlines() if line and line != "..."]
    assert len(shown) >= 5
    args = [command[0], str(ROOT / command[1])]
    out = CliRunner().invoke(cli, args, catch_exceptions=False).stdout.splitlines()
    missing = [line for line in shown if line not in out]
    assert not missing, f"{doc} shows lines `hciplan {' '.join(command)}` does not print: {missing}"
