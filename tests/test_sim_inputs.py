"""A saved simulation records its inputs, and a runbook never presents a what-if as the file's simulation (issue 17.1).

`simulate --window 26h --format json > w.json; emit --backend runbook --simulation w.json` used to print the
26-hour chance under the file's four 8-hour windows. The document now records every input; a reader refuses
one that differs from the file's, or with `--what-if` labels it prominently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.percent import share_text
from hciplan import __version__
from hciplan.cli import cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.simulator.prepared import timing_digest
from helpers import EXAMPLES
from hostile import MARK, check_markdown, harmless

EXAMPLE = EXAMPLES / "two-node.hciplan"
FILE_WINDOWS = ["sunday-morning"]
SCENARIO = ('\nscenario "bad-night" {\n  fail "EDGE-N2" { step = "reboot"  mode = hang }\n}\n'
            'scenario "risky" {\n  risk "cau.reboot" { probability = 0.2  mode = hang }\n}\n')


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def simulate_json(path: Path, *options: str) -> dict:
    result = invoke("simulate", path, "--runs", "8", "--jobs", "1", "--format", "json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def save(tmp_path: Path, document: dict, name: str = "sim.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def emit(tmp_path: Path, simulation: Path, *options: str, source: Path = EXAMPLE):
    out = tmp_path / "out"
    return invoke("emit", source, "--backend", "runbook", "--simulation", simulation, "-o", out, *options), out


@pytest.fixture(scope="module")
def with_scenario(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "two-node.hciplan"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + SCENARIO, encoding="utf-8")
    return path


def test_the_document_records_the_inputs_of_a_plain_simulation() -> None:
    inputs = simulate_json(EXAMPLE)["inputs"]
    plan = compile_checked(load_source(EXAMPLE)).plan
    assert [w["name"] for w in inputs["windows"]] == FILE_WINDOWS
    window = plan.model.upgrade.windows[0]
    assert inputs["windows"][0]["start"] == window.start.isoformat(timespec="minutes").replace("+00:00", "Z")
    assert inputs["windows"][0]["end_minutes"] == (window.end - window.start).total_seconds() / 60
    assert (inputs["window_override"], inputs["fails"], inputs["scenario"], inputs["failures"]) == (None, [], None, [])
    assert inputs["confidence"] == plan.confidence
    assert inputs["timing"] == {"digest": timing_digest(plan.model.timing), "block": plan.model.timing is not None}
    assert inputs["draws"] == "sequential" and inputs["jobs_independent"] is True
    assert inputs["hciplan_version"] == __version__


def test_the_document_records_overrides_and_injected_failures() -> None:
    inputs = simulate_json(EXAMPLE, "--window", "26h", "--fail", "EDGE-N1:reboot:hang", "--confidence", "0.95")["inputs"]
    assert inputs["window_override"] == "26h"
    assert [(w["name"], w["start_minutes"], w["end_minutes"]) for w in inputs["windows"]] == [("--window 26h", 0, 1560)]
    assert inputs["fails"] == ["EDGE-N1:reboot:hang"]
    [failure] = inputs["failures"]
    assert failure["origin"] == "--fail EDGE-N1:reboot:hang" and failure["mode"] == "hang"
    plan = compile_checked(load_source(EXAMPLE)).plan
    [step] = [s.id for s in plan.steps if s.node == "EDGE-N1" and s.id == failure["step"]]  # the step it resolved to
    assert plan.steps[[s.id for s in plan.steps].index(step)].spec.reboots
    assert inputs["confidence"] == 0.95
    assert simulate_json(EXAMPLE, "--window", "none")["inputs"]["windows"] == []


def test_the_text_header_shows_the_inputs() -> None:
    text = invoke("simulate", EXAMPLE, "--runs", "5", "--jobs", "1", "--window", "26h").stdout
    header = text.split("\n\n")[0]
    assert "--window 26h instead of the file's windows: a what-if" in header
    digest = timing_digest(compile_checked(load_source(EXAMPLE)).plan.model.timing)
    assert digest[:19] in header and f"hciplan {__version__}" in header
    assert "the same figures whatever --jobs" in header
    plain = invoke("simulate", EXAMPLE, "--runs", "5", "--jobs", "1").stdout.split("\n\n")[0]
    assert "what-if" not in plain and "  inputs        " in plain


def test_the_issues_repro_a_26h_what_if_is_refused_for_the_runbook(tmp_path) -> None:
    saved = save(tmp_path, simulate_json(EXAMPLE, "--window", "26h"), "w.json")
    result, out = emit(tmp_path, saved)
    assert result.exit_code == 2, result.output
    assert "simulated with --window 26h, not the file's windows (sunday-morning)" in result.output
    assert "without the overrides" in result.output and "--what-if" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_with_what_if_the_runbook_labels_it_prominently(tmp_path) -> None:
    saved = save(tmp_path, simulate_json(EXAMPLE, "--window", "26h"), "w.json")
    result, out = emit(tmp_path, saved, "--what-if")
    assert result.exit_code == 0, result.output
    text = (out / "RUNBOOK.md").read_text(encoding="utf-8")
    summary = text.split("## Summary")[1].split("## Risks")[0]
    label = summary.index("> **WHAT-IF: simulated with --window 26h, not the file's windows (sunday-morning).**")
    assert label < summary.index("| Simulated duration | **WHAT-IF** ")  # before any figure
    assert "| Chance to finish in the simulated windows | **WHAT-IF** " in summary
    assert "| Simulation inputs | **WHAT-IF** windows `--window 26h`" in summary


def test_a_simulation_of_the_file_is_accepted_and_its_inputs_shown(tmp_path) -> None:
    saved = save(tmp_path, simulate_json(EXAMPLE, "--seed", "5"))
    result, out = emit(tmp_path, saved)
    assert result.exit_code == 0, result.output
    text = (out / "RUNBOOK.md").read_text(encoding="utf-8")
    assert "WHAT-IF" not in text
    assert "| Simulation inputs | windows `sunday-morning`, confidence 90%, no failures injected, default timing" in text


@pytest.mark.parametrize("options, differs", [
    (("--window", "none"), "simulated with --window none (no windows), not the file's windows (sunday-morning)"),
    (("--fail", "EDGE-N1:reboot:hang"), "simulated with --fail EDGE-N1:reboot:hang"),
    (("--confidence", "0.95"), "simulated with --confidence 0.95, not the file's 0.9"),
    (("--scenario", "bad-night"), "simulated with --scenario bad-night"),
])
def test_each_differing_input_is_named(tmp_path, with_scenario, options, differs) -> None:
    saved = save(tmp_path, simulate_json(with_scenario, *options))
    result, out = emit(tmp_path, saved, source=with_scenario)
    assert result.exit_code == 2 and differs in result.output, result.output
    assert not out.exists()
    labelled, out = emit(tmp_path, saved, "--what-if", source=with_scenario)
    assert labelled.exit_code == 0 and "> **WHAT-IF: " in (out / "RUNBOOK.md").read_text(encoding="utf-8")


def test_another_timing_block_is_a_difference_the_fingerprint_does_not_see(tmp_path) -> None:
    timed = tmp_path / "timed.hciplan"
    timed.write_text(EXAMPLE.read_text(encoding="utf-8") + "\ntiming {\n  run_spread = 0.3\n}\n", encoding="utf-8")
    document = simulate_json(timed)
    assert document["fingerprint"] == compile_checked(load_source(EXAMPLE)).plan.fingerprint  # the same plan
    result, _ = emit(tmp_path, save(tmp_path, document))
    assert result.exit_code == 2 and "simulated with another timing block" in result.output


def test_a_document_without_inputs_or_fingerprint_is_refused(tmp_path) -> None:
    document = simulate_json(EXAMPLE)
    older = {k: v for k, v in document.items() if k != "inputs"}
    result, _ = emit(tmp_path, save(tmp_path, older))
    assert result.exit_code == 2 and "does not record its inputs (written by an older hciplan)" in result.output
    anonymous = {k: v for k, v in document.items() if k != "fingerprint"}
    result, out = emit(tmp_path, save(tmp_path, anonymous))
    assert result.exit_code == 2 and '"fingerprint" is missing' in result.output and not out.exists()


def test_what_if_needs_a_simulation_file(tmp_path) -> None:
    result = invoke("emit", EXAMPLE, "--backend", "runbook", "--what-if", "-o", tmp_path / "out")
    assert result.exit_code == 2 and "--what-if goes with --simulation FILE" in result.output


# --- the read-back schema check (issue 18): every field typed and bounded, no traceback, exit 2 --------------

@pytest.fixture(scope="module")
def saved_document() -> dict:
    return simulate_json(EXAMPLE)


@pytest.mark.parametrize("text, message", [
    ('{"runs": NaN}', "not valid JSON for hciplan.sim/1: NaN is not a number JSON allows"),
    ('{"p_within_window": 1e999}', "not valid JSON for hciplan.sim/1: 1e999 is too large for a number"),
    ('{"exposure_minutes": -Infinity}', "-Infinity is not a number JSON allows"),
    ('{"runs": -3}', '"runs" must be a whole number of at least 1, not -3'),
    ('{"p_within_window": 7.0}', '"p_within_window" must be between 0 and 1, not 7.0'),
    ('{"seed": "<b>7</b>"}', '"seed" must be a whole number of at least 0, not \'<b>7</b>\''),
    ('{"seed": 99999999999999999999}', '"seed" must be at most 9223372036854775807'),
    ('{"schema": "hciplan.plan/1"}', 'expected "schema": "hciplan.sim/1", not \'hciplan.plan/1\''),
    ('{"inputs": {"confidence": 2}}', '"inputs.confidence" must be between 0 and 1'),
    ('{"stops": [{"outcome": "won", "step": "x", "reason": "y", "runs": 1}]}', '"stops[0].outcome" must be one of'),
    ('{"criticality": {"p0.pre flight": "high"}}', '"criticality[\'p0.pre flight\']" must be a number'),
])
def test_a_malformed_simulation_names_the_field_and_exits_2(tmp_path, saved_document, text, message) -> None:
    change = text.replace("NaN", "0").replace("1e999", "0").replace("-Infinity", "0")
    document = {**saved_document, **json.loads(change)}
    if isinstance(document.get("inputs"), dict) and "confidence" in json.loads(change).get("inputs", {}):
        document["inputs"] = {**saved_document["inputs"], **json.loads(change)["inputs"]}
    body = json.dumps(document)
    if change != text:  # put the non-JSON constant back where the change put its stand-in
        key = next(iter(json.loads(change)))
        body = body.replace(f'"{key}": 0', text[1:-1], 1)
        assert text[1:-1] in body
    path = tmp_path / "sim.json"
    path.write_text(body, encoding="utf-8")
    result, out = emit(tmp_path, path)
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert f"{path}: " in result.output and "simulate FILE --format json" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception) or \
        isinstance(result.exception, SystemExit)
    assert not out.exists()


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "must be a JSON object with \"schema\": \"hciplan.sim/1\", not a list"),
    ('"sim"', "not a string"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"schema": "hciplan.sim/1", "runs": 5, "duration_minutes": {"p50": "' + "x" * 5000 + '", "p90": 1}}',
     "\"duration_minutes.p50\" must be a number, not 'xxxx"),
])
def test_a_document_that_is_no_object_or_absurd_is_refused_briefly(tmp_path, text, message) -> None:
    path = tmp_path / "sim.json"
    path.write_text(text, encoding="utf-8")
    result, _ = emit(tmp_path, path)
    assert result.exit_code == 2 and message in result.output, result.output[:500]
    assert len(result.output) < 1000  # a hostile value is clipped, never echoed whole


def test_strings_from_a_document_reach_the_runbook_escaped(tmp_path, saved_document) -> None:
    def runbook(value: str) -> str:
        inputs = {**saved_document["inputs"], "window_override": value, "hciplan_version": value,
                  "windows": [{**saved_document["inputs"]["windows"][0], "name": value}]}
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        result, out = emit(folder, save(folder, {**saved_document, "inputs": inputs}), "--what-if")
        assert result.exit_code == 0, result.output
        return (out / "RUNBOOK.md").read_text(encoding="utf-8")

    value = MARK + "<img src=x onerror=alert(1)>|`*_[x](y)\n# h" + MARK
    text = runbook(value)
    check_markdown(text, value, runbook(harmless("window")))  # inert: no HTML, no extra cell, shown exactly
    assert text.count(MARK) == 6  # shown three times: the WHAT-IF label, the window's name and the version


# --- the JSON is as complete as the text (issue 17.5) ----------------------------------------------------------

def test_every_figure_of_the_text_is_in_the_json(with_scenario) -> None:
    """Each figure the text report prints, read from the JSON of the same runs and formatted as the text does."""
    from hciplan.compiler.quantities import format_minutes

    args = ["simulate", str(with_scenario), "--runs", "60", "--seed", "1", "--jobs", "1", "--window", "13h",
            "--scenario", "risky", "--fail", "EDGE-N1:drain:error=2"]
    text = invoke(*args).stdout
    doc = json.loads(invoke(*args, "--format", "json").stdout)
    header, lines = text.split("\n\n")[0], text.splitlines()

    def line_with(*pieces: str) -> str:
        found = [line for line in lines if all(piece in line for piece in pieces)]
        assert found, pieces
        return found[0]

    plan = doc["plan"]
    assert f"Simulation of {plan['cluster']}: {doc['runs']:,} runs, seed {doc['seed']}" in header
    assert f"{plan['steps']} steps, method {plan['method']}, fingerprint {doc['fingerprint']}" in header
    inputs = doc["inputs"]
    assert inputs["failures"] and inputs["risks"]
    for failure in inputs["failures"]:
        assert f"{failure['origin']} ({failure['step']})" in header
    for risk in inputs["risks"]:
        assert f"{risk['kind']} {risk['mode']} p={risk['probability']:g}" in header
    for window in inputs["windows"]:
        assert f"{window['name']} {window['start']} .. {window['end']}" in header
    assert f"with {inputs['confidence']:.0%} confidence" in header
    assert f"--window {inputs['window_override']} instead" in header and inputs["timing"]["digest"][:19] in header
    if not doc["precision"]["met"]:
        assert f"use --runs {doc['precision']['runs_needed']}" in header
    durations = doc["duration_minutes"]
    assert doc["outcomes"]["completed"] > 0 and doc["outcomes"]["aborted"] > 0  # every section is shown
    row = line_with(format_minutes(durations["p50"]), format_minutes(durations["p95"]))
    assert all(format_minutes(durations[k]) in row for k in ("p50", "p80", "p90", "p95", "max", "mean"))
    finish = doc["finish_at"]
    assert f"finishes at   P50 {finish['p50']}" in text and f"P90 {finish['p90']}" in text
    assert f"Within window   {share_text(doc['p_within_window'])}" in text
    labels = {"completed": "completed", "aborted": "aborted", "stopped_at_window": "stopped at window"}
    for outcome, runs in doc["outcomes"].items():
        line_with(f"{labels[outcome]} {runs:,} run", f"{runs / doc['runs']:.1%}")
    for outcome, left in doc["left"].items():
        verb = "aborted at" if outcome == "aborted" else "stopped before"
        line_with(f"{verb} (median: {left['steps_median']:.0f} steps left",
                  f"{left['nodes_upgraded_median']:.0f} of {left['nodes']} nodes on 23H2")
        distribution = {int(n): runs for n, runs in left["nodes_upgraded_runs"].items()}
        assert sum(distribution.values()) == doc["outcomes"][outcome]  # every early run, by its nodes on 23H2
        assert all(0 <= n <= left["nodes"] for n in distribution)
    shown_stops = [line for line in lines if re.match(r"    \S", line) and " runs  " in line]
    assert shown_stops and len(shown_stops) <= len(doc["stops"])
    for stop in doc["stops"]:
        if any(stop["step"] in line and stop["reason"] in line for line in shown_stops):
            line_with(stop["step"], f"{stop['runs']:,} runs  {stop['reason']}")
    assert all(any(s["step"] in line and s["reason"] in line for s in doc["stops"]) for line in shown_stops)
    line_with("Storage exposure", format_minutes(doc["exposure_minutes"]) + " (",
              format_minutes(doc["exposure_p90_minutes"]) + " (")
    schedule = doc["schedule"]
    for window in schedule["windows"]:
        line_with(f"  {window['name']}", f"{window['planned_units']:>7}")
    critical = text.split("Most critical steps")[1].splitlines()[1:]
    assert critical
    for line in critical:
        step, share = line.split()[:2]
        assert share_text(doc['criticality'][step]) == share, line


def test_a_document_with_every_field_reads_and_writes_back_unchanged(with_scenario) -> None:
    from hciplan.simulator.result import SimResult, parse

    for options in ((), ("--window", "13h", "--scenario", "risky", "--fail", "EDGE-N1:drain:error=2")):
        text = invoke("simulate", with_scenario, "--runs", "30", "--jobs", "1", "--format", "json", *options).stdout
        record = parse(text)
        assert record.inputs is not None and record.plan is not None
        assert record.to_document() == json.loads(text)
        assert SimResult.from_document(record.to_document()) == record


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_simulation_saved_through_windows_powershell_is_read(tmp_path, saved_document, encoding) -> None:
    """A copy re-saved by Windows PowerShell 5.1 (`Out-File` writes UTF-16 with a BOM) reads as the original."""
    path = tmp_path / "sim.json"
    path.write_bytes(json.dumps(saved_document).encode(encoding))
    result, out = emit(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert "| Simulation inputs | windows `sunday-morning`" in (out / "RUNBOOK.md").read_text(encoding="utf-8")


def test_a_simulation_that_is_not_text_says_which_byte(tmp_path, saved_document) -> None:
    path = tmp_path / "sim.json"
    body = json.dumps(saved_document).encode("utf-8")
    path.write_bytes(body[:40] + b"\xc3\x28" + body[40:])
    result, out = emit(tmp_path, path)
    assert result.exit_code == 2 and not out.exists()
    assert "byte 0xc3 at offset 40 is not valid UTF-8 text: not a saved simulation" in result.output
    assert "codec" not in result.output  # Python's wording stays out of the message
