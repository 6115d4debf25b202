"""The journal read back (hciplan/journal.py), and the journal of a simulated run, as the script writes it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hciplan.journal import (JournalError, entry_ids, format_time, lines_until, parse_journal, parse_time,
                             read_journal, require_plan, simulated_journal)
from hciplan.simulator import prepare_simulation
from hciplan.simulator.montecarlo import trace_run
from plan_models import Shape
from sim_helpers import plan_of, shape_text

ORIGIN = dt.datetime(2026, 12, 5, 22, 0, tzinfo=dt.timezone.utc)
LINE = ('{"step":"p1.registry.HCI04.drain","status":"done","start":"2026-12-05T22:14:03.5000000+00:00",'
        '"end":"2026-12-05T22:19:40.1234567+01:00","message":"ok","fingerprint":"sha256:abc"}')


def test_a_line_as_the_script_writes_it_is_read_with_its_seven_decimals_and_offset():
    journal = parse_journal(LINE + "\n")
    (record,) = journal.records
    assert record.step == "p1.registry.HCI04.drain" and record.status == "done"
    assert record.start == dt.datetime(2026, 12, 5, 22, 14, 3, 500000, tzinfo=dt.timezone.utc)
    assert record.end.utcoffset() == dt.timedelta(hours=1) and record.end.microsecond == 123456
    assert journal.states()["p1.registry.HCI04.drain"] is record


def test_format_time_round_trips_through_parse_time():
    moment = dt.datetime(2026, 12, 5, 22, 14, 3, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    text = format_time(moment)
    assert text == "2026-12-05T22:14:03.0000050-05:00"
    assert parse_time(text, "j", 1, "start") == moment


def test_an_unfinished_last_line_is_ignored_with_a_warning_but_not_an_earlier_one():
    journal = parse_journal(LINE + "\n" + LINE[:40])
    assert len(journal.records) == 1 and "unfinished last line" in journal.warnings[0]
    with pytest.raises(JournalError) as error:
        parse_journal(LINE[:40] + "\n" + LINE + "\n", "night.jsonl")
    assert str(error.value).startswith("night.jsonl:1: is not JSON")


@pytest.mark.parametrize("change, message", [
    (lambda e: e.pop("status"), "no `status` field"),
    (lambda e: e.update(status="finished"), "`status` 'finished' is none of"),
    (lambda e: e.update(start="yesterday"), "`start` is not a timestamp"),
    (lambda e: e.update(start="2026-12-05T22:14:03"), "`start` has no UTC offset"),
    (lambda e: e.update(end=5), "`end` is int, not a timestamp string"),
    (lambda e: e.update(step=""), "`step` must be a non-empty string"),
    (lambda e: e.update(message=["x"]), "`message` must be a string"),
])
def test_a_malformed_line_names_its_line_and_field(change, message):
    entry = json.loads(LINE)
    change(entry)
    with pytest.raises(JournalError) as error:
        parse_journal(LINE + "\n" + json.dumps(entry) + "\n" + LINE, "j.jsonl")
    assert error.value.line == 2 and message in error.value.message


def test_a_non_object_line_and_a_non_utf8_file_are_refused(tmp_path):
    with pytest.raises(JournalError, match="a JSON list, not an object"):
        parse_journal("[1, 2]\n" + LINE)
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"\xff\x00\xc3(")
    with pytest.raises(JournalError, match="not UTF-8"):
        read_journal(path)
    with pytest.raises(JournalError, match="cannot be read"):
        read_journal(tmp_path / "missing.jsonl")


def test_a_utf16_copy_with_a_bom_is_read(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes((LINE + "\r\n").encode("utf-16"))
    assert read_journal(path).records[0].status == "done"


def test_a_journal_of_another_plan_is_refused_as_stale():
    journal = parse_journal(LINE)
    require_plan(journal, "sha256:abc")
    with pytest.raises(JournalError, match="the plan changed since the script ran"):
        require_plan(journal, "sha256:def")


@pytest.fixture(scope="module")
def cau_night():
    plan = plan_of(shape_text(Shape(nodes=3)))
    sp = prepare_simulation(plan, ignore_windows=True)
    return plan, sp, trace_run(sp, 0, 0)


def test_a_simulated_journal_is_what_the_script_writes(cau_night):
    plan, sp, run = cau_night
    lines = simulated_journal(plan, sp, run, ORIGIN)
    journal = parse_journal("".join(text + "\n" for _, text in lines))
    assert journal.fingerprints == (plan.fingerprint,)
    states = journal.states()
    # every plan step is journalled done, the CAU run once as its own entry with its sub-steps
    assert set(states) == set(entry_ids(plan).values()) | {s.id for s in plan.steps}
    assert all(r.status == "done" for r in states.values())
    times = [r.end for r in journal.records]
    assert times == sorted(times)
    starts = journal.notes("start")
    for step_id, record in states.items():
        if step_id in starts:
            assert starts[step_id].start == record.start  # the done record's start is the work's start


def test_a_cut_journal_holds_only_what_was_written_by_then(cau_night):
    plan, sp, run = cau_night
    lines = simulated_journal(plan, sp, run, ORIGIN)
    middle = lines[len(lines) // 2][0]
    cut = parse_journal(lines_until(lines, middle))
    assert 0 < len(cut.records) < len(lines)
    assert all(r.end <= middle for r in cut.records)


def test_a_cau_run_stopped_between_nodes_journals_its_sub_steps_then_window():
    windows = ('  window "w1" { start = 2026-12-05T22:00Z  end = 2026-12-06T04:00Z }\n'
               '  window "w2" { start = 2026-12-12T22:00Z  end = 2026-12-13T06:00Z }')
    plan = plan_of(shape_text(Shape(nodes=3), windows=windows))
    sp = prepare_simulation(plan)
    run = trace_run(sp, 0, 0)
    assert run.outcome == "completed"
    journal = parse_journal("".join(text + "\n" for _, text in simulated_journal(plan, sp, run, ORIGIN)))
    cau = [r for r in journal.records if r.step == "p2.cau_run"]
    assert [r.status for r in cau] == ["start", "window", "start", "done"]
    stop = cau[1]
    written = [r for r in journal.records if r.step.startswith("p2.cau.") and r.end == stop.end]
    assert {r.status for r in written} == {"done", "pending"}  # the nodes upgraded before the stop, and the rest
    assert all(r.start == cau[0].start for r in written)  # the sub-steps carry the run's start
    assert cau[2].start >= dt.datetime(2026, 12, 12, 22, tzinfo=dt.timezone.utc)  # the rerun in the next window
    assert journal.states()["p2.cau.N03.storage_wait"].status == "done"


def test_a_cau_run_stopped_at_the_last_window_ends_the_journal_with_window():
    # one 6-hour window: the CAU run stops between nodes (in the default 8 hours it now mostly fits)
    plan = plan_of(shape_text(Shape(nodes=3), windows='  window "w1" { start = 2026-12-05T22:00Z  end = 2026-12-06T04:00Z }'))
    sp = prepare_simulation(plan)
    run = next(r for r in (trace_run(sp, 0, i) for i in range(20))
               if r.outcome == "stopped_at_window" and sp.ids[r.step].startswith("p2.cau."))
    journal = parse_journal("".join(text + "\n" for _, text in simulated_journal(plan, sp, run, ORIGIN)))
    last = journal.records[-1]
    assert (last.step, last.status) == ("p2.cau_run", "window")
    assert last.end == ORIGIN + dt.timedelta(minutes=run.end)  # when CAU stopped, not when it started
    assert journal.states()[sp.ids[run.step]].status == "pending"
