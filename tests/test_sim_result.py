"""The simulation summary record: `hciplan.sim/1` round trips, and a malformed document is a clear usage error."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from hciplan.cli import cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.simulator import prepare_simulation
from hciplan.simulator.inputs import file_inputs
from hciplan.simulator.montecarlo import simulate
from hciplan.simulator.report import render_json, sim_result
from hciplan.simulator.provenance import model_provenance
from hciplan.simulator.result import (
    DURATION_KEYS,
    SCHEMA,
    SPREAD_SOURCES,
    DurationStats,
    Intervals,
    Models,
    Precision,
    SimDocumentError,
    SimResult,
    Spread,
)
from helpers import EXAMPLES

EXAMPLE = EXAMPLES / "two-node.hciplan"


def test_the_printed_document_is_the_records_and_reads_back() -> None:
    prepared = prepare_simulation(compile_checked(load_source(EXAMPLE)).plan)
    summary = simulate(prepared, 30, 0, 1)
    record = sim_result(prepared, summary)
    printed = render_json(prepared, summary)
    assert json.loads(printed) == record.to_document()
    assert SimResult.from_document(json.loads(printed)) == record
    plan = compile_checked(load_source(EXAMPLE)).plan
    full = sim_result(prepared, summary, model_provenance(plan))  # as `hciplan simulate` prints it
    assert full.intervals is not None and full.models is not None and full.precision is not None
    assert SimResult.from_document(json.loads(render_json(prepared, summary, full.models))) == full


def test_an_older_document_without_the_additive_fields_reads_and_writes_back_unchanged() -> None:
    older = {**GOOD, "p_within_window": 0.5, "outcomes": {"completed": 10}}
    record = SimResult.from_document(older)
    assert record.intervals is None and record.models is None and record.precision is None
    assert set(record.to_document()) == {"schema", "runs", "seed", "duration_minutes", "p_within_window", "outcomes",
                                         "criticality", "exposure_minutes", "fingerprint", "overrun"}


def _bounds(values: st.SearchStrategy) -> st.SearchStrategy:
    """[low, high] with low <= high, either side possibly None (unbounded)."""
    ends = st.one_of(st.none(), values)
    return st.tuples(ends, ends).map(
        lambda b: tuple(sorted(b)) if None not in b else b)


BOUNDS = _bounds(st.floats(0, 1e7, allow_nan=False).map(lambda x: round(x, 2)))
SHARE_BOUNDS = _bounds(st.floats(0, 1))
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
    exposure_p90_minutes=MINUTES,
    intervals=st.one_of(st.none(), st.builds(
        Intervals,
        durations=st.dictionaries(st.sampled_from([k for k in DURATION_KEYS if k != "max"]), BOUNDS).map(
            lambda d: tuple((k, d[k]) for k in DURATION_KEYS if k in d)),
        p_within_window=st.one_of(st.none(), SHARE_BOUNDS),
        outcomes=st.dictionaries(NAMES, SHARE_BOUNDS, max_size=3).map(lambda d: tuple(sorted(d.items()))),
        exposure_minutes=st.one_of(st.none(), BOUNDS),
        exposure_p90_minutes=st.one_of(st.none(), BOUNDS),
        overrun_share=st.one_of(st.none(), SHARE_BOUNDS),
        overrun_p90_minutes=st.one_of(st.none(), BOUNDS),
        criticality=st.dictionaries(NAMES, SHARE_BOUNDS, max_size=3).map(lambda d: tuple(sorted(d.items()))),
    )),
    models=st.one_of(st.none(), st.builds(
        Models,
        drawn=st.integers(0, 60), from_timing=st.integers(0, 60),
        physics_from_timing=st.lists(NAMES, unique=True, max_size=3).map(lambda names: tuple(sorted(names))),
        calibrated_runs=st.one_of(st.none(), st.integers(1, 10**4)),
        calibrated_from=st.one_of(st.none(), st.just("2026-10-01T21:00:00Z")),
        calibrated_to=st.one_of(st.none(), st.just("2026-11-20T23:40:00Z")),
        run_spread=st.builds(Spread, st.floats(0, 1), st.sampled_from(SPREAD_SOURCES)),
        kind_spread=st.builds(Spread, st.floats(0, 1), st.sampled_from(SPREAD_SOURCES)),
    )),
    precision=st.one_of(st.none(), st.builds(
        Precision, share_target=st.just(0.005), duration_target=st.just(0.01), runs_needed=st.integers(1, 10**7),
        misses=st.dictionaries(NAMES, st.one_of(st.none(), st.floats(0, 1e4)), max_size=3)
        .map(lambda d: tuple(sorted(d.items()))),
    )),
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
    ({"intervals": []}, '"intervals" must be an object'),
    ({"intervals": {"p_within_window": [0.2]}}, '"intervals.p_within_window" must be [low, high]'),
    ({"intervals": {"p_within_window": [0.2, 1.2]}}, '"intervals.p_within_window" must lie between 0 and 1'),
    ({"intervals": {"duration_minutes": {"p90": [130, 120]}}}, '"intervals.duration_minutes.p90" has its low end above'),
    ({"intervals": {"duration_minutes": {"max": [1, 2]}}}, '"intervals.duration_minutes.max" is not an interval'),
    ({"intervals": {"overrun": {"p90_minutes": ["a", 2]}}}, '"intervals.overrun.p90_minutes" must be a number'),
    ({"models": {"drawn": 3, "run_spread": {"value": 0.1, "source": "guess"}}},
     '"models.run_spread.source" must be one of default, timing, calibrated'),
    ({"models": {"run_spread": {"value": 0.1, "source": "default"}}}, '"models.drawn" is missing'),
    ({"models": {"drawn": 3, "calibration": {"runs": 0}, "run_spread": {"value": 0.1, "source": "default"},
                 "kind_spread": {"value": 0.1, "source": "default"}}}, '"models.calibration.runs" must be a whole'),
    ({"precision": {"share_target": 0.005, "duration_target": 0.01}}, '"precision.runs_needed" is missing'),
])
def test_malformed_documents_name_the_field(change, message) -> None:
    document = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(SimDocumentError, match=re.escape(message)):
        SimResult.from_document(document)


def test_a_document_without_completed_runs_is_valid_and_the_runbook_says_so(tmp_path) -> None:
    plan = compile_checked(load_source(EXAMPLE)).plan
    record = dataclasses.replace(SimResult.from_document({**GOOD, "duration_minutes": {"p50": None, "p90": None}}),
                                 fingerprint=plan.fingerprint, inputs=file_inputs(plan))
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
