"""`hciplan simulate`: the JSON schema, the text report, plots, and clear errors with the right exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from plan_models import Shape
from sim_helpers import shape_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "four-node.hciplan")
SCENARIO = ('\nscenario "hci-night" {\n  fail "N02" { step = "reboot"  mode = hang }\n}\n'
            'scenario "typo" {\n  fail "N02" { step = "rebot" }\n}\n')
NO_RECOVERY = "timing { max_recoveries = 0 }\n"


@pytest.fixture()
def small(tmp_path) -> str:
    path = tmp_path / "small.hciplan"
    # max_recoveries = 0: hci-night's hung node stays down and CAU stops, as before anyone steps in (a
    # person's recovery and the report over all runs are tests/test_recovery.py's)
    path.write_text(shape_text(Shape(nodes=3)) + SCENARIO + NO_RECOVERY, encoding="utf-8")
    return str(path)


def simulate(*args: str):
    return CliRunner().invoke(cli, ["simulate", *args], catch_exceptions=False)


def test_json_has_exactly_the_documented_schema():
    result = simulate(EXAMPLE, "--runs", "40", "--seed", "3", "--jobs", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"schema", "runs", "seed", "duration_minutes", "p_within_window", "outcomes",
                        "criticality", "exposure_minutes", "overrun", "fingerprint",
                        "exposure_p90_minutes", "intervals", "models", "precision",
                        "schedule", "inputs", "stops", "left", "finish_at", "plan", "mixed_mode",
                        "past_return", "window_close"}  # the last thirteen: additive
    assert set(doc["inputs"]) == {"windows", "window_override", "fails", "scenario", "failures", "risks",
                                  "confidence", "timing", "draws", "jobs_independent", "hciplan_version"}
    assert doc["schema"] == "hciplan.sim/1" and doc["runs"] == 40 and doc["seed"] == 3
    assert set(doc["duration_minutes"]) == {"p50", "p80", "p90", "p95", "mean", "max"}
    assert set(doc["outcomes"]) == {"completed", "aborted", "stopped_at_window"}
    assert sum(doc["outcomes"].values()) == 40
    assert 0 <= doc["p_within_window"] <= 1
    assert all(0 < share <= 1 for share in doc["criticality"].values())
    plan = json.loads(CliRunner().invoke(cli, ["plan", "--format", "json", EXAMPLE]).stdout)
    assert doc["fingerprint"] == plan["fingerprint"]
    assert set(doc["criticality"]) <= {s["id"] for s in plan["steps"]}
    d = doc["duration_minutes"]
    assert d["p50"] <= d["p80"] <= d["p90"] <= d["p95"] <= d["max"]
    intervals = doc["intervals"]
    assert set(intervals) == {"confidence", "duration_minutes", "p_within_window", "outcomes", "exposure_minutes",
                              "exposure_p90_minutes", "overrun", "criticality"}
    assert intervals["confidence"] == 0.95
    assert set(intervals["duration_minutes"]) == {"p50", "p80", "p90", "p95", "mean"}  # max is no estimate
    for key, (low, high) in intervals["duration_minutes"].items():
        assert (low is None or low <= d[key]) and (high is None or d[key] <= high), key
    low, high = intervals["p_within_window"]
    assert low <= doc["p_within_window"] <= high
    assert set(intervals["outcomes"]) == set(doc["outcomes"]) and set(intervals["criticality"]) == set(doc["criticality"])
    assert set(doc["models"]) == {"drawn", "from_timing", "physics_from_timing", "calibration", "run_spread",
                                  "kind_spread"}
    assert set(doc["precision"]) == {"share_target", "duration_target", "met", "runs_needed", "misses"}


def test_json_is_byte_identical_for_the_same_seed_and_any_jobs(small):
    one = simulate(small, "--runs", "30", "--seed", "9", "--jobs", "1", "--format", "json", "--window", "12h")
    two = simulate(small, "--runs", "30", "--seed", "9", "--jobs", "2", "--format", "json", "--window", "12h")
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout


def test_text_report_names_outcomes_windows_and_critical_steps(small):
    result = simulate(small, "--runs", "20", "--jobs", "1", "--scenario", "hci-night", "--window", "9h")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in ("no run completed", "Within window", "aborted 20", "p2.cau.N02.reboot", "reboot timeout",
                     "Storage exposure", "scenario hci-night"):
        assert expected in out, expected
    no_window = simulate(small, "--runs", "20", "--jobs", "1", "--window", "none").stdout
    for expected in ("windows       none", "P50", "P95", "completed 20", "Most critical steps", "p2.cau.N01.install"):
        assert expected in no_window, expected


@pytest.mark.parametrize("args, message", [
    (["--fail", "N2:reboot:hang"], "did you mean `N02`?"),
    (["--fail", "N02:rebot:hang"], "did you mean `reboot`?"),
    (["--fail", "N02:reboot:hung"], "did you mean `hang`?"),
    (["--fail", "N02:reboot:error=x"], "error=x"),
    (["--fail", "N02"], "NODE:STEP"),
    (["--fail", "N02:install:drain_failure"], "needs a drain step"),
    (["--scenario", "hci-nite"], "did you mean `hci-night`?"),
    (["--window", "6x"], "unknown duration unit `x`"),
    (["--window", "3h3h"], "repeats a unit"),
    (["--histogram", "out.pdf"], ".png or .svg"),
    (["--gantt", "/nonexistent-hciplan-dir/g.png"], "does not exist"),
    (["--histogram", "/nonexistent-hciplan-dir/h.svg"], "does not exist"),
    (["--window", "99999999999999999999d"], "longer than 365 days"),
    (["--window", "3000000d"], "longer than 365 days"),
    (["--jobs", "65"], "1<=x<=64"),
    (["--runs", "1000001"], "1<=x<=1000000"),
])
def test_bad_options_are_usage_errors(small, args, message):
    result = simulate(small, "--runs", "2", "--jobs", "1", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_plot_targets_are_checked_before_the_simulation_runs(small, monkeypatch):
    from hciplan.simulator import montecarlo

    def never(*args, **kwargs):
        raise AssertionError("simulated although the plot cannot be written")

    monkeypatch.setattr(montecarlo, "simulate", never)
    result = simulate(small, "--runs", "2", "--gantt", "/nonexistent-hciplan-dir/g.png")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_absurd_durations_are_reported_relatively_instead_of_overflowing_the_date(tmp_path):
    path = tmp_path / "slow.hciplan"
    path.write_text(shape_text(Shape(nodes=3)) + "\ntiming { live_migration_per_s = 1B }\n", encoding="utf-8")
    result = simulate(str(path), "--runs", "2", "--jobs", "1", "--window", "none")
    assert result.exit_code == 0, result.output
    assert "finishes at   P50 +" in result.stdout, "past the year 9999 the finish is given from the start"


def test_the_documented_simulate_commands_on_the_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    doc = (ROOT / "docs" / "simulation.md").read_text(encoding="utf-8")
    commands = [line[2:].split("#")[0].split() for line in doc.splitlines()
                if line.startswith("$ hciplan simulate examples/")]
    assert len(commands) >= 3
    monkeypatch.chdir(tmp_path)  # plots land here
    for command in commands:
        args = [str(ROOT / a) if a.startswith("examples/") else a for a in command[2:]]
        result = simulate(*args, "--runs", "3", "--jobs", "1")  # the last --runs wins: keep it quick
        assert result.exit_code == 0, (command, result.output)


@pytest.mark.parametrize("runs", ["0", "1000001"])
def test_emit_simulate_is_bounded_like_simulate_runs(tmp_path, monkeypatch, runs):
    from hciplan.commands import emit

    def never(*args, **kwargs):
        raise AssertionError("simulated although --simulate is out of range")

    monkeypatch.setattr(emit, "_run_simulation", never)  # fail fast instead of running a million runs
    result = CliRunner().invoke(cli, ["emit", EXAMPLE, "--backend", "runbook", "--simulate", runs,
                                      "-o", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 2 and "1<=x<=1000000" in result.stderr
    assert not (tmp_path / "out").exists(), "nothing is written on a usage error"


def test_a_verb_means_the_os_upgrade_pass_and_an_ambiguous_one_lists_the_steps(tmp_path):
    path = tmp_path / "solution.hciplan"
    path.write_text(shape_text(Shape(nodes=3, solution=True)), encoding="utf-8")
    result = simulate(str(path), "--runs", "1", "--fail", "N02:drain:drain_failure", "--window", "none")
    assert result.exit_code == 0 and "p2.cau.N02.drain" in result.stdout
    result = simulate(str(path), "--runs", "1", "--fail", "N02:apply")
    assert result.exit_code == 2
    assert "p1.registry.N02.apply" in result.stderr and "p5.remediate.N02.apply" in result.stderr
    result = simulate(str(path), "--runs", "1", "--fail", "N02:remediate.apply", "--window", "none")
    assert result.exit_code == 0 and "completed 1" in result.stdout, "the operator recovers the step, it reruns"
    assert "recovered 1 completed run" in result.stdout


def test_a_scenario_naming_an_unknown_step_is_a_located_diagnostic(small):
    result = simulate(small, "--runs", "2", "--scenario", "typo")
    assert result.exit_code == 1
    assert "error[HCI1005]" in result.stderr and "did you mean `reboot`?" in result.stderr
    line = next(n for n, text in enumerate(Path(small).read_text().splitlines(), 1) if '"rebot"' in text)
    assert f"small.hciplan:{line}:" in result.stderr


def test_a_file_with_errors_is_not_simulated(tmp_path):
    path = tmp_path / "bad.hciplan"
    path.write_text(shape_text(Shape(nodes=3)).replace("memory = 768GB", "memory = 768", 1), encoding="utf-8")
    result = simulate(str(path), "--runs", "2")
    assert result.exit_code == 1 and "HCI103" in result.stderr


def test_plots_need_matplotlib_and_say_how_to_install_it(small, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    target = tmp_path / "g.png"
    result = simulate(small, "--runs", "2", "--gantt", str(target))
    assert result.exit_code == 2 and "pip install 'hciplan[plot]'" in result.stderr
    assert not target.exists()


def test_the_scheduler_needs_the_dask_extra(small, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    result = simulate(small, "--runs", "2", "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2 and "pip install 'hciplan[dask]'" in result.stderr


def test_gantt_and_histogram_are_written(small, tmp_path):
    pytest.importorskip("matplotlib")
    gantt, histogram = tmp_path / "g.png", tmp_path / "h.svg"
    result = simulate(small, "--runs", "30", "--jobs", "1", "--window", "10h", "--gantt", str(gantt),
                      "--histogram", str(histogram), "--fail", "N03:install:error")
    assert result.exit_code == 0, result.output
    assert gantt.read_bytes().startswith(b"\x89PNG")
    svg = histogram.read_text()
    assert "<svg" in svg and "N03" not in svg
    again = tmp_path / "h2.svg"
    simulate(small, "--runs", "30", "--jobs", "1", "--window", "10h", "--histogram", str(again),
             "--fail", "N03:install:error")
    assert again.read_bytes() == histogram.read_bytes(), "same seed, same picture"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_dask_scheduler_gives_the_same_numbers(small):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc:
        remote = simulate(small, "--runs", "24", "--seed", "4", "--format", "json", "--scheduler", lc.scheduler_address)
    local = simulate(small, "--runs", "24", "--seed", "4", "--format", "json", "--jobs", "1")
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout


def test_json_durations_are_null_when_no_run_completes(small):
    result = simulate(small, "--runs", "5", "--jobs", "1", "--scenario", "hci-night", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["outcomes"]["aborted"] == 5
    assert set(doc["duration_minutes"].values()) == {None} and doc["criticality"] == {}
    no_window = json.loads(simulate(small, "--runs", "5", "--jobs", "1", "--window", "none",
                                    "--format", "json").stdout)
    assert no_window["p_within_window"] is None and no_window["outcomes"]["completed"] == 5


def test_ctrl_c_stops_a_two_process_simulate_with_exit_130_and_a_partial_summary():
    """SIGINT to a real `simulate --jobs 2`: pending batches are cancelled and the workers stopped at once."""
    import os
    import signal
    import subprocess
    import time

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    command = [sys.executable, "-m", "hciplan", "simulate", str(root / "examples" / "four-node.hciplan"),
               "--runs", "1000000", "--jobs", "2"]
    # a child of a background shell may start with SIGINT ignored; the test needs Python's default handler
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), start_new_session=True)
    try:
        time.sleep(12)  # compile, start both workers, finish a few batches of 500 runs (a loaded machine is slower)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)  # the full series would take many minutes
    finally:
        try:  # the workers too, should the test fail before they were stopped
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert process.returncode == 130, err
    assert out == ""  # no partial document on stdout
    finished = int(err.split("interrupted after ")[1].split(" of 1000000 runs")[0])
    assert 0 < finished < 1_000_000
    assert f"what the {finished} finished runs show" in err
    assert f"Simulation of hci-cluster1: {finished:,} runs" in err


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    """Whether `pid` is still a live process (a zombie waiting for its reaper is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_workers_end_when_the_simulate_that_started_them_is_killed():
    """kill -9 of `simulate --jobs 2` (no chance to stop its pool): its workers notice and exit on their own."""
    import os
    import signal
    import subprocess
    import time

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    command = [sys.executable, "-m", "hciplan", "simulate", str(root / "examples" / "four-node.hciplan"),
               "--runs", "1000000", "--jobs", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                               start_new_session=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:  # compile, then the pool starts its workers
            time.sleep(0.5)
            workers = _children(process.pid)
        assert len(workers) >= 2, "the simulate never started its two workers"
        process.kill()
        process.wait(timeout=30)
        deadline = time.monotonic() + 30
        alive = workers
        while alive and time.monotonic() < deadline:
            time.sleep(0.5)
            alive = {pid for pid in workers if _running(pid)}
        assert not alive, f"workers {sorted(alive)} outlived their parent"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
