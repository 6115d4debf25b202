"""The simulation summary record: `hciplan.sim/1` round trips, and a malformed document is a clear usage error."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from hciplan.cli import cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.simulator import prepare_simulation
from hciplan.simulator.montecarlo import simulate
from hciplan.simulator.report import render_json, sim_result
from hciplan.simulator.result import SCHEMA, DurationStats, SimDocumentError, SimResult
from helpers import EXAMPLES

EXAMPLE = EXAMPLES / "two-node.hciplan"


def test_the_printed_document_is_the_records_and_reads_back() -> None:
    prepared = prepare_simulation(compile_checked(load_source(EXAMPLE)).plan)
    summary = simulate(prepared, 30, 0, 1)
    record = sim_result(prepared, summary)
    printed = render_json(prepared, summary)
    assert json.loads(printed) == record.to_document()
    assert SimResult.from_document(json.loads(printed)) == record


MINUTES = st.one_of(st.none(), st.floats(0, 1e7, allow_nan=False).map(lambda x: round(x, 2)))
NAMES = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=12)
RECORDS = st.builds(
    SimResult,
    runs=st.integers(1, 10**6),
    seed=st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    durations=st.builds(DurationStats, MINUTES, MINUTES, MINUTES, MINUTES, MINUTES, MINUTES),
    p_within_window=st.one_of(st.none(), st.floats(0, 1)),
    outcomes=st.dictionaries(NAMES, st.integers(0, 10**6), max_size=3).map(lambda d: tuple(sorted(d.items()))),
    criticality=st.dictionaries(NAMES, st.floats(0, 1), max_size=4).map(lambda d: tuple(sorted(d.items()))),
    exposure_minutes=MINUTES,
    fingerprint=st.one_of(st.none(), st.just("sha256:" + "ab" * 32)),
)


@given(RECORDS)
def test_records_round_trip_through_json(record) -> None:
    text = json.dumps(record.to_document(), sort_keys=True)
    assert SimResult.from_document(json.loads(text)) == record


GOOD = {"schema": SCHEMA, "runs": 10, "seed": 0, "duration_minutes": {"p50": 100.0, "p90": 120.5}}


@pytest.mark.parametrize("change, message", [
    ({"schema": "hciplan.plan/1"}, 'expected "schema": "hciplan.sim/1"'),
    ({"runs": None}, '"runs" is missing'),
    ({"runs": "10"}, '"runs" must be a whole number'),
    ({"runs": 0}, '"runs" must be a whole number of at least 1'),
    ({"duration_minutes": [1, 2]}, '"duration_minutes" must be an object'),
    ({"duration_minutes": {"p50": 1.0}}, '"duration_minutes.p90" is missing'),
    ({"duration_minutes": {"p50": "x", "p90": 1}}, '"duration_minutes.p50" must be a number'),
    ({"duration_minutes": {"p50": -1, "p90": 1}}, '"duration_minutes.p50" must not be negative'),
    ({"p_within_window": 1.5}, '"p_within_window" must be between 0 and 1'),
    ({"outcomes": {"completed": 1.5}}, '"outcomes.completed" must be a whole number'),
    ({"criticality": []}, '"criticality" must be an object'),
    ({"fingerprint": 3}, '"fingerprint" must be a string'),
])
def test_malformed_documents_name_the_field(change, message) -> None:
    document = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(SimDocumentError, match=message.replace("(", r"\(")):
        SimResult.from_document(document)


def test_a_document_without_completed_runs_is_valid_and_the_runbook_says_so(tmp_path) -> None:
    record = SimResult.from_document({**GOOD, "duration_minutes": {"p50": None, "p90": None}})
    saved = tmp_path / "sim.json"
    saved.write_text(json.dumps(record.to_document()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["emit", str(EXAMPLE), "--backend", "runbook", "--simulation", str(saved),
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "RUNBOOK.md").read_text(encoding="utf-8")
    assert "| Simulated duration | no run completed (10 runs, seed 0) |" in text


@pytest.mark.parametrize("content", ['{"schema": "hciplan.sim/1", "runs": 5, "duration_minutes": {"p50": "soon"}}',
                                     "[1, 2]", "{not json"])
def test_emit_with_a_malformed_simulation_is_a_usage_error(tmp_path, content) -> None:
    saved = tmp_path / "sim.json"
    saved.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["emit", str(EXAMPLE), "--backend", "runbook", "--simulation", str(saved),
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"{saved}: " in result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out").exists()
