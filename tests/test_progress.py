"""`hciplan progress`: journals written from simulated nights, read back with their status and estimate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.journal import format_time, lines_until, parse_journal, simulated_journal
from hciplan.progress import ProgressError, progress_document, render_json
from hciplan.progress import render
from hciplan.progress.posterior import Observation, posterior
from hciplan.progress.render import render_text
from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import Segment
from hciplan.simulator.montecarlo import trace_run
from helpers import ROOT
from plan_models import Shape
from sim_helpers import final_segments, plan_of, shape_text

ORIGIN = dt.datetime(2026, 12, 5, 22, 0, tzinfo=dt.timezone.utc)
SIX_HOURS = '  window "w1" { start = 2026-12-05T22:00Z  end = 2026-12-06T04:00Z }'
LONG = '  window "w1" { start = 2026-12-05T22:00Z  end = 2026-12-06T12:00Z }'
# The vendor-driver step's default model (30 .. 180 min) dominates the end of a night; a tighter one lets
# the narrowing test see the rest of the night narrow.
TIGHT = ('\ntiming {\n  model "post.oem_drivers" { distribution = triangular  low = 50m  mode = 60m  high = 75m }\n'
         '}\n')
RUNS = 200


@dataclasses.dataclass
class Night:
    text: str
    plan: object
    sp: object
    run: object
    lines: list

    def at(self, minutes: float) -> dt.datetime:
        return ORIGIN + dt.timedelta(minutes=minutes)

    def journal(self, minutes: float):
        return parse_journal(lines_until(self.lines, self.at(minutes)), "night.jsonl")

    def document(self, minutes: float, runs: int = RUNS, **options) -> dict:
        return progress_document(self.plan, self.journal(minutes), self.at(minutes), runs=runs, seed=0, jobs=1,
                                 **options)

    def segment(self, step_id: str) -> tuple[float, float]:
        return final_segments(self.run)[self.sp.ids.index(step_id)]


def make_night(text: str, index: int = 0, fails: tuple[str, ...] = (), scale: float = 1.0) -> Night:
    plan = plan_of(text)
    sp = prepare_simulation(plan, fails=fails)
    run = trace_run(sp, 0, index)
    if scale != 1.0:  # the same night, every step `scale` times as long
        run = dataclasses.replace(run, end=run.end * scale, segments=tuple(
            Segment(s.step, s.attempt, s.start * scale, s.end * scale, s.status) for s in run.segments))
    return Night(text, plan, prepare_simulation(plan), run, simulated_journal(plan, sp, run, ORIGIN))


@pytest.fixture(scope="module")
def night() -> Night:
    result = make_night(shape_text(Shape(nodes=3), windows=LONG, tail=TIGHT))
    assert result.run.outcome == "completed"
    return result


def steps(document: dict) -> dict[str, dict]:
    return {s["id"]: s for p in document["phases"] for u in p["units"] for s in u["steps"]}


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def close(text: str, expected: dt.datetime) -> bool:
    """Equal to the second (the document's times are in whole seconds)."""
    return abs((moment(text) - expected).total_seconds()) <= 1


# --- status -------------------------------------------------------------------------------------------------


def test_a_cut_mid_unit_shows_the_running_step_since_its_start_and_the_current_unit(night):
    begin, end = night.segment("p1.registry.N02.reboot")
    now = (begin + end) / 2
    doc = night.document(now)
    by_id = steps(doc)
    reboot = by_id["p1.registry.N02.reboot"]
    assert reboot["status"] == "running" and close(reboot["start"], night.at(begin)) and reboot["end"] is None
    for done in ("p1.registry.N02.drain", "p1.registry.N02.apply", "p1.registry.N01.storage_wait"):
        a, b = night.segment(done)
        assert by_id[done]["status"] == "done" and by_id[done]["measured"]
        assert by_id[done]["actual_minutes"] == pytest.approx(b - a, abs=0.01)
        assert by_id[done]["ratio"] == pytest.approx((b - a) / night.plan.step(done).mean_minutes, abs=0.002)
    for pending in ("p1.registry.N02.resume", "p1.registry.N03.drain", "p2.cau.N01.drain", "p7.verify"):
        assert by_id[pending]["status"] == "pending" and by_id[pending]["actual_minutes"] is None
    assert doc["counts"]["running"] == 1 and doc["stopped"] is None
    current = doc["current"]
    assert (current["unit"], current["step"], current["status"]) == ("p1.registry.N02", "p1.registry.N02.reboot",
                                                                      "running")
    assert current["safe_point"] == "p1.registry.N02.storage_wait"
    assert close(current["since"], night.at(begin))
    assert night.at(now) < moment(current["safe_point_at"]["p50"]) <= moment(current["safe_point_at"]["p90"])
    unit = next(u for p in doc["phases"] for u in p["units"] if u["id"] == "p1.registry.N02")
    assert unit["status"] == "running"
    text = render_text(doc)
    assert "p1.registry.N02.reboot running since 2026-12-05T" in text
    assert "Current unit  p1.registry.N02 (pass of N02): safe point after p1.registry.N02.storage_wait" in text


def test_a_running_cau_run_is_attributed_at_the_means_unless_the_node_is_named(night):
    since = night.segment("p2.cau.N01.drain")[0]
    n01 = [f"p2.cau.N01.{verb}" for verb in ("drain", "install", "reboot", "resume", "storage_wait")]
    means = sum(night.plan.step(i).mean_minutes for i in n01)
    now = since + means + 1.0
    assert now < night.segment("p2.cau.N03.storage_wait")[1]  # the CAU run is still running in the journal
    doc = night.document(now)
    by_id = steps(doc)
    assert next(e for e in doc["entries"] if e["id"] == "p2.cau_run")["status"] == "running"
    assert all(by_id[i]["status"] == "done" and by_id[i]["estimated"] and not by_id[i]["measured"] for i in n01)
    drain = by_id["p2.cau.N02.drain"]
    assert drain["status"] == "running" and drain["estimated"] and close(drain["start"], night.at(since + means))
    assert by_id["p2.cau.N02.install"]["status"] == "pending"
    assert doc["cau_estimate"]["basis"] == "elapsed" and doc["cau_estimate"]["running"] == ["p2.cau.N02.drain"]
    assert any("--cau-node" in note for note in doc["notes"])
    assert doc["current"]["unit"] == "p2.cau.N02"

    on_first = steps(night.document(now, cau_node="N01"))  # still on N01: its pass took longer than its means
    assert on_first["p2.cau.N01.storage_wait"]["status"] == "running"
    assert all(on_first[i]["status"] == "done" for i in n01[:-1])
    assert on_first["p2.cau.N02.drain"]["status"] == "pending"

    third = night.document(now, cau_node="N03")  # N01 and N02 fit in the elapsed time only compressed
    on_third = steps(third)
    assert on_third["p2.cau.N02.storage_wait"]["status"] == "done"
    assert on_third["p2.cau.N03.drain"]["status"] == "running" and close(on_third["p2.cau.N03.drain"]["start"],
                                                                         night.at(now))
    assert third["cau_estimate"] == {**third["cau_estimate"], "basis": "node", "node": "N03", "stretched": True}
    with pytest.raises(ProgressError, match="not a node of the CAU run; did you mean `N03`"):
        night.document(now, cau_node="N3")


def test_cau_node_needs_a_running_cau_run(night):
    with pytest.raises(ProgressError, match="no CAU run is running"):
        night.document(night.segment("p1.cau_scan")[1] - 1, cau_node="N01")


def test_a_failed_step_stops_the_script_there_and_counts_pending_in_the_estimate(night):
    # max_recoveries = 0: the journal of the night as the script left it, before anyone recovers the step
    text = night.text.replace("timing {\n", "timing {\n  max_recoveries = 0\n", 1)
    assert text != night.text
    failed = make_night(text, fails=("N02:registry.reboot:error",))
    assert failed.run.outcome == "aborted"
    end = failed.run.end
    doc = failed.document(end + 10)
    by_id = steps(doc)
    reboot = by_id["p1.registry.N02.reboot"]
    assert reboot["status"] == "failed" and "simulated error" in reboot["message"]
    assert close(reboot["end"], failed.at(end))
    assert by_id["p1.registry.N02.resume"]["status"] == "pending" and by_id["p7.verify"]["status"] == "pending"
    assert doc["stopped"]["step"] == "p1.registry.N02.reboot" and doc["stopped"]["status"] == "failed"
    assert "the rerun starts this step again" in doc["stopped"]["rerun"]
    assert doc["current"]["unit"] == "p1.registry.N02" and doc["current"]["step"] == "p1.registry.N02.reboot"
    estimate = doc["estimate"]
    assert estimate["outcomes"]["completed"] > 0.9 * RUNS  # the rerun starts it again and the night goes on
    assert moment(doc["current"]["safe_point_at"]["p50"]) > failed.at(end + 10)
    text = render_text(doc)
    assert "Stopped       p1.registry.N02.reboot failed at" in text and "p1.registry.N02.reboot is counted pending" in text


def test_a_cau_run_stopped_for_the_window_is_shown_as_such():
    # one 6-hour window: this night stops between nodes (in 8 hours the CAU run now fits: the unit fit rule)
    night8 = make_night(shape_text(Shape(nodes=3), windows=SIX_HOURS))
    assert night8.run.outcome == "stopped_at_window"
    doc = night8.document(night8.run.end + 5)
    entry = next(e for e in doc["entries"] if e["id"] == "p2.cau_run")
    assert entry["status"] == "window"
    assert doc["stopped"]["status"] == "window" and "next window" in doc["stopped"]["rerun"]
    by_id = steps(doc)
    assert by_id["p2.cau.N02.storage_wait"]["status"] == "done" and by_id["p2.cau.N03.drain"]["status"] == "pending"
    estimate = doc["estimate"]
    assert estimate["p_done_by_window_end"] == 0.0  # N03's unit does not fit before 04:00 either
    closing = estimate["if_window_closes"]
    assert closing["share"] == 1.0 and closing["stops"][0]["step"] == "p2.cau.N03.drain"
    assert estimate["last_safe_point"]["step"] == "p2.cau.N02.storage_wait"


def test_a_completed_journal_is_done_by_the_journals_end(night):
    last = night.lines[-1][0]
    doc = progress_document(night.plan, parse_journal(lines_until(night.lines, last)), last, runs=50, seed=0, jobs=1)
    assert doc["finished"] and set(doc["counts"]) >= {"done"}
    assert doc["counts"]["done"] == len(night.plan.steps) and sum(doc["counts"].values()) == len(night.plan.steps)
    estimate = doc["estimate"]
    assert estimate["p_done_by_window_end"] == 1.0 and estimate["outcomes"]["completed"] == 50
    assert close(estimate["finish"]["p50"], last) and close(estimate["finish"]["p90"], last)
    assert doc["current"] is None and doc["stopped"] is None
    assert "finished at" in render_text(doc)


def test_a_skipped_step_is_a_fact_but_not_a_measurement(night):
    now = night.segment("p1.cau_scan")[1] + 1
    text = lines_until(night.lines, night.at(now))
    done = json.loads(next(line for line in text.splitlines() if '"p0.test_cluster","status":"done"' in line))
    skipped = json.dumps({**done, "status": "skipped", "message": "probe: already in the target state"},
                         separators=(",", ":"))
    edited = text.replace(json.dumps(done, separators=(",", ":")), skipped)
    assert edited != text
    before = progress_document(night.plan, parse_journal(text), night.at(now), runs=20, seed=0, jobs=1)
    after = progress_document(night.plan, parse_journal(edited), night.at(now), runs=20, seed=0, jobs=1)
    step = steps(after)["p0.test_cluster"]
    assert step["status"] == "skipped" and not step["measured"] and step["actual_minutes"] is None
    assert after["speed"]["measured_steps"] == before["speed"]["measured_steps"] - 1
    assert after["counts"]["skipped"] == 1


def test_a_journal_written_in_another_offset_reads_the_same(night):
    now = night.segment("p1.registry.N03.drain")[1] + 1
    text = lines_until(night.lines, night.at(now))
    plus_one = dt.timezone(dt.timedelta(hours=1))
    shifted = []
    for line in text.splitlines():
        entry = json.loads(line)
        for key in ("start", "end"):
            entry[key] = format_time(dt.datetime.fromisoformat(entry[key]).astimezone(plus_one))
        shifted.append(json.dumps(entry, separators=(",", ":")))
    utc = progress_document(night.plan, parse_journal(text), night.at(now), runs=30, seed=0, jobs=1)
    local = progress_document(night.plan, parse_journal("\n".join(shifted) + "\n"), night.at(now), runs=30, seed=0,
                              jobs=1)
    assert render_json(local) == render_json(utc)


# --- the estimate -------------------------------------------------------------------------------------------


def test_the_finish_estimate_narrows_as_the_night_goes_on(night):
    truth = night.run.end
    spreads, errors = [], []
    for share in (0.25, 0.5, 0.75):
        finish = night.document(truth * share, runs=400)["estimate"]["finish"]
        spreads.append(finish["p90_minutes"] - finish["p50_minutes"])
        errors.append(abs(truth * share + finish["p50_minutes"] - truth))
    assert spreads[1] < 0.85 * spreads[0] and spreads[2] < 0.85 * spreads[1], spreads
    assert max(errors) < 0.15 * truth, (errors, truth)  # the simulated night's real finish stays in range


def test_a_slow_night_so_far_raises_the_speed_factor_and_the_rest(night):
    slow = make_night(night.text, scale=1.5)
    begin, end = night.segment("p1.cau_scan")  # the gates and the registry passes are measured by then
    normal = night.document((begin + end) / 2)
    slower = slow.document(1.5 * (begin + end) / 2)
    assert steps(slower).keys() == steps(normal).keys()
    assert [s["status"] for s in steps(slower).values()] == [s["status"] for s in steps(normal).values()]
    assert slower["speed"]["measured_steps"] == normal["speed"]["measured_steps"] >= 15
    # 1.5x, except the repair waits: their median grows with this night's (slower) reboot
    assert 1.4 < slower["speed"]["observed_ratio"] / normal["speed"]["observed_ratio"] <= 1.5
    factor, base = slower["speed"]["run_factor"]["mean"], normal["speed"]["run_factor"]["mean"]
    assert factor > 1.15 and factor > base + 0.1
    assert slower["estimate"]["finish"]["p50_minutes"] > 1.1 * normal["estimate"]["finish"]["p50_minutes"]
    assert "the night runs" in render_text(slower)


def test_the_posterior_matches_the_closed_form_of_one_model():
    sp = prepare_simulation(plan_of(shape_text(Shape(nodes=2))))
    g = sp.factor_group[0]
    observations = tuple(Observation(0, actual, 5.0, 0.2) for actual in (6.0, 7.5, 6.5))
    speed = posterior(sp, observations)
    (mr, sr), (mg, sg) = sp.run_factor, sp.group_factors[g]
    w = len(observations) / 0.2**2
    a, b, c = 1 / sr**2 + w, w, 1 / sg**2 + w  # the 2x2 precision of (r, k_g)
    det = a * c - b * b
    total = sum(o.y for o in observations) / 0.2**2
    rhs = (mr / sr**2 + total, mg / sg**2 + total)
    mean_r = (c * rhs[0] - b * rhs[1]) / det
    mean_g = (a * rhs[1] - b * rhs[0]) / det
    assert speed.run == pytest.approx((mean_r, math.sqrt(c / det)))
    assert speed.groups[g] == pytest.approx((mean_g, math.sqrt(a / det)))
    assert speed.combined[g][1] == pytest.approx(math.sqrt((a + c - 2 * b) / det))
    others = [k for k in range(len(sp.group_names)) if k != g]
    assert all(speed.groups[k] == sp.group_factors[k] for k in others)  # unobserved models keep their prior
    assert posterior(sp, ()).run == sp.run_factor


# --- the command line ---------------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(cli, ["progress", *args])


@pytest.fixture()
def files(tmp_path, night):
    plan_file = tmp_path / "night.hciplan"
    plan_file.write_text(night.text, encoding="utf-8")
    now = night.segment("p2.cau.N02.install")[0] + 3
    journal = tmp_path / "night.jsonl"
    journal.write_text(lines_until(night.lines, night.at(now)), encoding="utf-8")
    return str(plan_file), str(journal), night.at(now).isoformat()


def test_the_same_journal_now_and_seed_give_the_same_bytes_whatever_jobs(files):
    plan_file, journal, now = files
    for output in ("json", "text"):
        one = invoke(plan_file, journal, "--now", now, "--runs", "60", "--seed", "3", "--jobs", "1", "--format", output)
        two = invoke(plan_file, journal, "--now", now, "--runs", "60", "--seed", "3", "--jobs", "2", "--format", output)
        assert one.exit_code == 0, one.output
        assert one.stdout == two.stdout and one.stdout


def test_errors_are_clear_messages_with_a_non_zero_exit(tmp_path, files, night):
    plan_file, journal, now = files
    lines = open(journal, encoding="utf-8").read().splitlines()

    def journal_with(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    other = tmp_path / "other.hciplan"
    other.write_text(shape_text(Shape(nodes=4)), encoding="utf-8")
    broken = tmp_path / "broken.hciplan"
    broken.write_text(night.text.replace("memory = 768GB", "memory = 768XB", 1), encoding="utf-8")
    cases = [
        ((str(other), journal, "--now", now), 1, "the plan changed since the script ran"),
        ((plan_file, journal_with("bad.jsonl", "\n".join(lines[:3] + ["{not json"] + lines[3:]) + "\n"), "--now", now), 1,
         "bad.jsonl:4: is not JSON"),
        ((plan_file, journal_with("unknown.jsonl", "\n".join(lines[:5] + [lines[5].replace('"p0.test_cluster"', '"p0.test_clustr"')]
                                            + lines[6:]) + "\n"), "--now", now), 1,
         "step `p0.test_clustr` is not a step of this plan (did you mean `p0.test_cluster`?)"),
        ((plan_file, journal, "--now", "2026-12-05T22:05Z"), 2, "is before the journal's last record"),
        ((plan_file, journal, "--now", "2026-12-05T22:05"), 2, "has no UTC offset"),
        ((plan_file, str(tmp_path / "missing.jsonl"), "--now", now), 2, "cannot be read"),
        ((plan_file, journal, "--now", now, "--cau-node", "N7"), 2, "not a node of the CAU run"),
        ((str(broken), journal, "--now", now), 1, "no plan: fix the errors above"),
        ((plan_file, journal, "--watch", "--now", now), 2, "--watch follows the clock"),
        ((plan_file, journal, "--watch", "--format", "json"), 2, "--watch shows the text report"),
        ((plan_file, journal, "--now", now, "--runs", "100001"), 2, "1<=x<=100000"),
    ]
    for args, code, message in cases:
        result = invoke("--runs", "5", *args, "--jobs", "1")
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.stdout == "", (args, result.stdout)  # nothing half-written


def test_watch_refreshes_when_the_journal_grows_and_ctrl_c_ends_cleanly(monkeypatch, files, night):
    plan_file, journal, now = files
    more = [text for when, text in night.lines if when > moment(now)]
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            with open(journal, "a", encoding="utf-8") as handle:
                handle.write("\n".join(more[:6]) + "\n")
        elif len(calls) == 2:
            return  # nothing new: no refresh
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(render, "_sleep", sleep)
    result = invoke(plan_file, journal, "--watch", "--interval", "0.1", "--runs", "20", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.stdout.count("Progress of clu-test") == 2  # the first report, then one refresh
    assert calls == [0.1, 0.1, 0.1]


def test_watch_reads_again_only_when_the_journal_changes_and_estimates_again_as_time_passes(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text("one\n", encoding="utf-8")
    seen = render.signature(str(path))
    ticks = iter([0.0, 10.0, 20.0, 20.0 + render.RECOMPUTE_SECONDS, 400.0, 400.0, 410.0])
    calls, shown = [], []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:
            path.write_text("one\ntwo\n", encoding="utf-8")  # the journal grows
        if len(calls) == 5:
            raise KeyboardInterrupt

    def compute(changed: bool) -> str:
        return f"changed={changed}"

    with pytest.raises(KeyboardInterrupt):
        render.watch(str(path), compute, shown.append, 1.0, seen=seen, sleep=sleep, clock=lambda: next(ticks))
    # nothing new at first; then the grown journal; then the clock alone (the journal unchanged)
    assert shown == ["changed=True", "changed=False"]


# --- the document -------------------------------------------------------------------------------------------


def documented_fields() -> dict[str, str]:
    text = (ROOT / "docs" / "progress.md").read_text(encoding="utf-8")
    section = text[text.index("## `hciplan.progress/1`"):]
    return dict(re.findall(r"^\| `([a-z0-9_.\[\]]+)` \| ([^|]+) \|", section, re.M))


def field_paths(value, path: str = "") -> dict[str, set[str]]:
    """Per object path (lists as `[]`), the keys the document holds there."""
    found: dict[str, set[str]] = {}
    if isinstance(value, dict):
        found.setdefault(path, set()).update(value)
        for key, item in value.items():
            for sub, keys in field_paths(item, f"{path}.{key}" if path else key).items():
                found.setdefault(sub, set()).update(keys)
    elif isinstance(value, list):
        for item in value:
            for sub, keys in field_paths(item, path + "[]").items():
                found.setdefault(sub, set()).update(keys)
    return found


def test_the_json_document_has_exactly_the_documented_fields(night, tmp_path):
    documented = documented_fields()
    mid_cau = night.document(night.segment("p2.cau.N02.install")[0] + 3, runs=40)
    stopped = make_night(shape_text(Shape(nodes=3))).document(500, runs=40)
    assert mid_cau["schema"] == stopped["schema"] == "hciplan.progress/1"
    seen: dict[str, set[str]] = {}
    for doc in (mid_cau, stopped):
        assert json.loads(render_json(doc)) == doc
        for path, keys in field_paths(doc).items():
            seen.setdefault(path, set()).update(keys)
    for path, keys in seen.items():
        if path in ("counts", "estimate.outcomes"):  # keyed by status and outcome: documented as a whole
            continue
        for key in keys:
            full = f"{path}.{key}" if path else key
            assert full in documented, f"`{full}` is not documented in docs/progress.md"
    for full in documented:
        parent, _, key = full.rpartition(".")
        if parent in seen:
            assert key in seen[parent], f"docs/progress.md documents `{full}`, which the document lacks"
