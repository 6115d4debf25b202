"""The simulated schedule by window: units per window, done by its end, spill, finish window, work time."""

from __future__ import annotations

import json

import pytest

from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import COMPLETED, run_once
from hciplan.simulator.montecarlo import simulate
from hciplan.simulator.result import count_percentile
from hciplan.simulator.report import render_json, render_text, schedule_stats, sim_result
from hciplan.simulator.result import SimDocumentError, SimResult

from helpers import EXAMPLES
from sim_helpers import without_recovery

FOUR = EXAMPLES / "four-node.hciplan"


@pytest.fixture(scope="module")
def plan():
    return compile_checked(load_source(str(FOUR)), need_plan=True).plan


def test_count_percentile_is_the_nearest_rank_of_the_expanded_list():
    counts = {3: 2, 5: 7, 9: 1}  # [3, 3, 5, 5, 5, 5, 5, 5, 5, 9]
    expanded = sorted(v for v, n in counts.items() for _ in range(n))
    for p in (1, 10, 20, 21, 50, 90, 91, 100):
        rank = max(1, -(-p * len(expanded) // 100))
        assert count_percentile(counts, p) == expanded[rank - 1], p


def test_each_run_records_the_window_of_each_unit_and_its_work_time(plan):
    sp = prepare_simulation(plan)
    assert len(sp.planned) == len(sp.units) and set(sp.planned) == {0, 1, 2, 3}
    for index in range(20):
        r = run_once(sp, 0, index)
        assert len(r.unit_windows) == len(sp.units) == len(r.units_done)
        assert 0 < r.work <= r.end + 1e-9  # the work time never exceeds the calendar time
        assert r.work == pytest.approx(sum(r.window_work), rel=1e-9)
        # a unit's window is the one its head started in: the segments of a traced run say the same
        traced = run_once(sp, 0, index, trace=True)
        began = {s.step: s.start for s in traced.segments if s.status == "ok"}
        for u, k in zip(sp.units, traced.unit_windows):
            if k >= 0:
                assert sp.windows[k].start - 1e-9 <= began[u.steps[0]] <= sp.windows[k].end + 1e-9
        assert traced.unit_windows == r.unit_windows and traced.work == r.work
        if r.outcome == COMPLETED:
            assert all(r.units_done) and min(r.unit_windows) >= 0


def test_one_long_window_means_no_waiting_so_work_time_is_calendar_time(plan):
    sp = prepare_simulation(plan, window=1000 * 60)
    for index in range(10):
        r = run_once(sp, 0, index)
        assert r.outcome == COMPLETED
        assert set(r.unit_windows) == {0}
        assert r.work == pytest.approx(r.end)
    summary = simulate(sp, 40, 0, 1)
    stats = schedule_stats(sp, summary)
    (window,) = stats.windows
    assert window.planned_units == len(sp.units) == window.started_p50 == window.done_p90
    assert window.spill == 0 and stats.finish_window == (("--window 1000h", 1.0),)
    assert stats.windows_used_p50 == stats.windows_used_p90 == 1


def test_a_node_that_never_comes_back_spills_everything_planned_from_its_window_on(plan):
    sp = prepare_simulation(without_recovery(plan), fails=("HCI03:reboot:hang",))  # nobody recovers it
    summary = simulate(sp, 30, 0, 1)
    stats = schedule_stats(sp, summary)
    # HCI03's OS pass is planned in sat-1: the run aborts there, so the work planned for every window spills
    assert [w.spill for w in stats.windows] == [1.0, 1.0, 1.0, 1.0]
    assert stats.finish_window == () and stats.work_p50_minutes is None
    assert all(w.started_p50 == 0 for w in stats.windows[1:])


def test_the_windows_schedule_is_in_text_and_json_and_reads_back(plan):
    sp = prepare_simulation(plan)
    summary = simulate(sp, 200, 0, 1)
    text = render_text(sp, summary)
    assert "\nWork time       P50 " in text and "\n  finishes in   sat-4 in " in text
    for name in ("sat-1", "sat-2", "sat-3", "sat-4"):
        assert f"\n  {name}  " in text
    record = sim_result(sp, summary)
    shares = dict(record.schedule.finish_window)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert shares == {sp.windows[k].name: round(n / summary.outcomes[COMPLETED], 4)
                      for k, n in summary.finish_windows.items()}
    document = json.loads(render_json(sp, summary))
    assert [w["name"] for w in document["schedule"]["windows"]] == ["sat-1", "sat-2", "sat-3", "sat-4"]
    assert [w["planned_units"] for w in document["schedule"]["windows"]] == [
        len(w.units) for w in plan.schedule.windows]
    again = SimResult.from_document(document)
    assert again == record and again.to_document() == record.to_document()
    done = [w.done_p50 for w in record.schedule.windows]
    assert done == sorted(done)  # done by a window's end counts the earlier windows' work too


def test_the_same_seed_gives_the_same_schedule_whatever_the_workers(plan):
    sp = prepare_simulation(plan)
    one = render_json(sp, simulate(sp, 64, 5, 1))
    two = render_json(sp, simulate(sp, 64, 5, 2))
    assert one == two


def test_an_older_document_without_a_schedule_still_reads(plan):
    sp = prepare_simulation(plan)
    document = json.loads(render_json(sp, simulate(sp, 20, 0, 1)))
    del document["schedule"]
    assert SimResult.from_document(document).schedule is None


@pytest.mark.parametrize("change, field", [
    (lambda s: s.update(windows="x"), "schedule.windows"),
    (lambda s: s["windows"][0].update(spill=1.5), "schedule.windows[0].spill"),
    (lambda s: s["windows"][1].pop("name"), "schedule.windows[1].name"),
    (lambda s: s["windows"][0]["units_started"].update(p50=-1), "schedule.windows[0].units_started.p50"),
    (lambda s: s["finish_window"].update({"sat-4": "most"}), "schedule.finish_window.sat-4"),
])
def test_a_bad_schedule_is_reported_by_field(plan, change, field):
    sp = prepare_simulation(plan)
    document = json.loads(render_json(sp, simulate(sp, 20, 0, 1)))
    change(document["schedule"])
    with pytest.raises(SimDocumentError, match=field.replace("[", r"\[").replace("]", r"\]")):
        SimResult.from_document(document)


def test_without_windows_there_is_no_schedule(plan):
    sp = prepare_simulation(plan, ignore_windows=True)
    summary = simulate(sp, 10, 0, 1)
    assert schedule_stats(sp, summary) is None
    assert "Schedule by window" not in render_text(sp, summary)
    assert "schedule" not in json.loads(render_json(sp, summary))
