"""`hciplan emit`: what it writes, what it refuses, and that it never leaves a half-written file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hciplan import cli as cli_module
from hciplan.compiler.quantities import format_minutes
from hciplan.cli import cli
from hciplan.simulator.inputs import file_inputs
from hciplan.simulator.result import DurationStats, SimResult
from plan_models import Shape, hciplan_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "four-node.hciplan"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def wac_file(tmp_path: Path) -> Path:
    path = tmp_path / "wac.hciplan"
    path.write_text(hciplan_text(Shape(method="wac")), encoding="utf-8")
    return path


def test_powershell_is_written_once_then_left_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run("emit", str(EXAMPLE), "-o", str(out))
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == ["Invoke-HciUpgrade.ps1"]  # nothing else, no temporary file
    data = (out / "Invoke-HciUpgrade.ps1").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf#Requires -Version 5.1")
    second = run("emit", str(EXAMPLE), "-o", str(out))
    assert second.exit_code == 0 and "unchanged" in second.output
    assert (out / "Invoke-HciUpgrade.ps1").read_bytes() == data


def test_a_different_existing_file_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "Invoke-HciUpgrade.ps1"
    target.write_text("# reviewed and signed by hand\n", encoding="utf-8")
    refused = run("emit", str(EXAMPLE), "-o", str(tmp_path))
    assert refused.exit_code == 2 and "--force" in refused.output
    assert target.read_text(encoding="utf-8") == "# reviewed and signed by hand\n"
    forced = run("emit", str(EXAMPLE), "-o", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbf#Requires")


def test_a_plan_with_errors_is_never_emitted(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hciplan"
    bad.write_text(hciplan_text(Shape()).replace('orchestrator = "MGMT01"', ""), encoding="utf-8")  # HCI603
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["emit", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert "HCI603" in result.output
    assert not out.exists()


def test_wac_has_no_script_but_a_runbook(tmp_path: Path, wac_file: Path) -> None:
    out = tmp_path / "out"
    refused = CliRunner().invoke(cli, ["emit", str(wac_file), "-o", str(out)])
    assert refused.exit_code == 1
    assert "--backend runbook" in refused.output and "Traceback" not in refused.output
    assert not out.exists()
    written = run("emit", str(wac_file), "--backend", "runbook", "-o", str(out))
    assert written.exit_code == 0
    assert "Windows Admin Center" in (out / "RUNBOOK.md").read_text(encoding="utf-8")


def test_json_backend_writes_the_plan_document(tmp_path: Path) -> None:
    assert run("emit", str(EXAMPLE), "--backend", "json", "-o", str(tmp_path)).exit_code == 0
    written = (tmp_path / "plan.json").read_text(encoding="utf-8")
    shown = run("plan", "--format", "json", str(EXAMPLE)).output
    assert written == shown and json.loads(written)["schema"] == "hciplan.plan/1"


def test_simulate_fills_the_runbook_with_the_simulated_figures(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["emit", str(EXAMPLE), "--backend", "runbook", "--simulate", "40",
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = next((tmp_path / "out").iterdir()).read_text(encoding="utf-8")
    simulated = json.loads(run("simulate", str(EXAMPLE), "--runs", "40", "--seed", "0", "--jobs", "1",
                               "--format", "json").output)
    p50, p90 = simulated["duration_minutes"]["p50"], simulated["duration_minutes"]["p90"]
    assert f"| Simulated duration | P50 {format_minutes(p50)}, P90 {format_minutes(p90)} (40 runs, seed 0) |" in text


def test_simulation_file_must_match_the_plan(tmp_path: Path) -> None:
    plan = json.loads(run("plan", "--format", "json", str(EXAMPLE)).output)
    inputs = file_inputs(cli_module.compile_file(str(EXAMPLE)).plan)
    document = {"schema": "hciplan.sim/1", "runs": 200, "seed": 1, "fingerprint": plan["fingerprint"],
                "duration_minutes": {"p50": 1300, "p90": 1500}, "p_within_window": 0.4,
                "inputs": SimResult(1, None, DurationStats(), None, inputs=inputs).to_document()["inputs"]}
    good = tmp_path / "sim.json"
    good.write_text(json.dumps(document), encoding="utf-8")
    result = run("emit", str(EXAMPLE), "--backend", "runbook", "--simulation", str(good), "-o", str(tmp_path / "a"))
    assert result.exit_code == 0
    assert "P50 21h40m, P90 1d 1h00m (200 runs, seed 1)" in (tmp_path / "a" / "RUNBOOK.md").read_text(encoding="utf-8")
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**document, "fingerprint": "sha256:other"}), encoding="utf-8")
    refused = CliRunner().invoke(cli, ["emit", str(EXAMPLE), "--backend", "runbook", "--simulation", str(stale),
                                       "-o", str(tmp_path / "b")])
    assert refused.exit_code == 2 and "simulate the current file again" in refused.output
    assert not (tmp_path / "b").exists()
    wrong_backend = CliRunner().invoke(cli, ["emit", str(EXAMPLE), "--simulation", str(good), "-o", str(tmp_path / "c")])
    assert wrong_backend.exit_code == 2


def test_an_interrupted_write_leaves_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "Invoke-HciUpgrade.ps1"
    target.write_text("old\n", encoding="utf-8")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cli_module.os, "replace", crash)
    with pytest.raises(click.UsageError, match="cannot write .*Invoke-HciUpgrade.ps1"):  # exit 2, not 70
        cli_module.write_outputs(tmp_path, {"Invoke-HciUpgrade.ps1": "new\n"}, force=True)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Invoke-HciUpgrade.ps1"]


def test_emitting_twice_gives_identical_bytes(tmp_path: Path) -> None:
    for backend in ("powershell", "runbook"):
        run("emit", str(EXAMPLE), "--backend", backend, "-o", str(tmp_path / "one"))
        run("emit", str(EXAMPLE), "--backend", backend, "-o", str(tmp_path / "two"))
    for name in os.listdir(tmp_path / "one"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
