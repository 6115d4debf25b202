"""`hciplan simulate`'s honesty: intervals beside every figure, the rule on enough runs, and the models' provenance."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.simulator.montecarlo import Summary
from hciplan.simulator.provenance import model_provenance
from hciplan.simulator.report import DURATION_TARGET, SHARE_TARGET, precision
from hciplan.simulator.stats import half_width, runs_for_share
from plan_models import Shape
from sim_helpers import fixed_timing, plan_of, shape_text

BASE = shape_text(Shape(nodes=3))
SHARE = r"(?:\d+\.\d|0|100|<0\.1|>99\.9)"  # a share as hciplan/percent.py writes it (so are its interval's ends)


def simulate(path, *args: str):
    result = CliRunner().invoke(cli, ["simulate", str(path), "--jobs", "1", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def write(tmp_path, text: str, name: str = "t.hciplan"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def summary_of(runs: int, durations: list[float], within: int | None = None) -> Summary:
    """A Summary as summarise() would give it: `durations` completed runs, the others stopped at the window."""
    completed = len(durations)
    return Summary(
        runs=runs, seed=0, outcomes={"completed": completed, "aborted": 0, "stopped_at_window": runs - completed},
        durations=tuple(durations), ends=tuple(durations) + (0.0,) * (runs - completed),
        run_outcomes=("completed",) * completed + ("stopped_at_window",) * (runs - completed),
        p_within_window=None if within is None else within / runs, exposure_mean=0.0, exposure_p90=0.0,
        overrun_share=None if within is None else 0.0, overrun_p90=0.0, overrun_max=0.0, criticality={}, stops={},
        remaining_median={}, upgraded_median={}, nodes=3, exposures=(0.0,) * runs)


# --- the rule on enough runs ---------------------------------------------------------------------


def test_a_share_known_only_to_3_points_asks_for_the_runs_that_give_half_a_point():
    rule = precision(s := summary_of(1000, [600.0] * 500, within=500), s.intervals())
    misses = dict(rule.misses)
    assert set(misses) == {"p_within_window", "outcomes.completed", "outcomes.stopped_at_window"}
    assert misses["p_within_window"] == pytest.approx(0.031, abs=0.001)
    assert runs_for_share(0.5, SHARE_TARGET) == 38411 and rule.runs_needed == 39000  # rounded up, 2 digits
    assert not rule.met


def test_a_wide_p90_asks_for_runs_by_the_square_of_its_width():
    rng = random.Random(3)
    durations = [rng.lognormvariate(6.0, 0.3) for _ in range(1000)]
    s = summary_of(1000, durations)
    intervals, stats = s.intervals(), s.duration_stats()
    rule = precision(s, intervals)
    width = half_width(stats["p90"], intervals.durations["p90"])
    assert width > DURATION_TARGET * stats["p90"]  # a 30% log-sd is not known to 1% from 1000 runs
    assert dict(rule.misses)["duration_minutes.p90"] == pytest.approx(width)
    wanted = 1000 * (width / (DURATION_TARGET * stats["p90"])) ** 2
    assert wanted <= rule.runs_needed < 1.1 * wanted + 100


def test_exact_figures_meet_the_rule():
    rule = precision(s := summary_of(1000, [600.0] * 1000), s.intervals())
    assert rule.met and rule.runs_needed == 1000  # 1000 of 1000: Wilson +/-0.38%


def test_too_few_completed_runs_for_a_p90_bound_are_a_miss():
    rule = precision(s := summary_of(20, [float(m) for m in range(20)]), s.intervals())
    assert dict(rule.misses)["duration_minutes.p90"] is None  # open-ended: no 95% upper bound among 20 runs
    assert rule.runs_needed >= 36


def test_following_the_note_meets_the_rule(tmp_path):
    """Exact durations, every run completes: only the shares' intervals are wide, and the advised runs suffice."""
    path = write(tmp_path, BASE + fixed_timing())
    few = simulate(path, "--runs", "100", "--window", "none")
    note = re.search(r"note +95% intervals wider than .*?: (.*?); use --runs (\d+)", few, re.S)
    assert note, few
    assert "completed +/-3.7%" in note.group(1)
    runs = note.group(2)
    assert runs == str(runs_for_share(1.0, SHARE_TARGET) // 10 * 10 + 10)  # 765, rounded up to 770
    enough = simulate(path, "--runs", runs, "--window", "none")
    assert "note " not in enough
    assert "its 95% Monte Carlo interval, within +/-0.5% on shares and +/-1% on P50 and P90" in enough


# --- the text -------------------------------------------------------------------------------------


def test_every_printed_share_and_percentile_has_its_interval(tmp_path):
    out = simulate(write(tmp_path, BASE), "--runs", "200", "--window", "10h")
    assert re.search(r"^  95% CI +(-\d+m \+\d+m +){4}- +-\d+m \+\d+m$", out, re.M), out
    assert re.search(r"finishes at   P50 \S+ \(\d\d:\d\d-\d\d:\d\d\), P90 \S+ \(\d\d:\d\d-\d\d:\d\d\)", out), out
    assert re.search(r"^Within window   \d+\.\d% \(\d+\.\d-\d+\.\d\) of runs", out, re.M), out
    for label in ("completed", "aborted", "stopped at window"):
        assert re.search(rf"{label} [\d,]+ runs +{SHARE}% \({SHARE}(-| to ){SHARE}\)$", out, re.M), label
    assert re.search(r"^Storage exposure  \S+ \(\S+-\S+\) mean, \S+ \(\S+-\S+\) P90$", out, re.M), out
    critical = [line for line in out.splitlines() if line.startswith("  p") and "mean " in line]
    assert critical and all(re.search(rf"{SHARE}% \({SHARE}(-| to ){SHARE}\) +mean", line) for line in critical)


def test_text_and_json_are_the_same_bytes_whatever_the_jobs(tmp_path):
    path = write(tmp_path, BASE)
    for fmt in ("text", "json"):
        args = ("--runs", "60", "--seed", "5", "--window", "9h", "--format", fmt)
        one = CliRunner().invoke(cli, ["simulate", str(path), "--jobs", "1", *args], catch_exceptions=False).stdout
        two = CliRunner().invoke(cli, ["simulate", str(path), "--jobs", "3", *args], catch_exceptions=False).stdout
        assert one == two
        assert ('"intervals"' if fmt == "json" else "95% CI") in one


# --- provenance ----------------------------------------------------------------------------------


def drawn_models(text: str) -> int:
    plan = plan_of(text)
    return len({s.spec.duration_model for s in plan.steps}) + 1  # + the download (source = windows_update)


def header(out: str) -> str:
    return out.split("\n\n")[0]


def test_defaults_are_named_assumptions(tmp_path):
    out = header(simulate(write(tmp_path, BASE), "--runs", "5"))
    assert "\n  models        defaults (assumptions)\n" in out
    assert "\n  shared speed  run_spread 0.1, kind_spread 0.1: defaults (assumptions); a slow night" in out


def test_a_calibrated_timing_block_names_its_runs_and_dates(tmp_path):
    timing = """
timing {
  calibrated_runs = 14  calibrated_from = 2026-10-01T21:00Z  calibrated_to = 2026-11-20T23:40Z
  run_spread = 0.15
  model "os.install" { distribution = lognormal  median = 40m  p90 = 70m  observations = 56 }
  model "cau.reboot" { distribution = empirical  observed = [14m, 17m, 22m, 31m] }
}
"""
    total = drawn_models(BASE + timing)
    out = header(simulate(write(tmp_path, BASE + timing), "--runs", "5"))
    assert (f"\n  models        calibrated from 14 runs, 2026-10-01..2026-11-20 (2 of {total} models; the rest "
            "defaults, assumptions)\n") in out
    assert "\n  shared speed  run_spread 0.15 (calibrated), kind_spread 0.1 (default, an assumption);" in out
    doc = json.loads(simulate(write(tmp_path, BASE + timing), "--runs", "5", "--format", "json"))
    assert doc["models"] == {"drawn": total, "from_timing": 2, "physics_from_timing": [],
                             "calibration": {"runs": 14, "from": "2026-10-01T21:00:00Z", "to": "2026-11-20T23:40:00Z"},
                             "run_spread": {"value": 0.15, "source": "calibrated"},
                             "kind_spread": {"value": 0.1, "source": "default"}}


def test_a_timing_block_without_calibration_counts_what_it_replaces(tmp_path):
    timing = """
timing {
  resync_per_s = 400MB
  kind_spread = 0.2
  model "cau.install" { distribution = lognormal  median = 45m  p90 = 80m }
  model "gate.preflight" { distribution = fixed  value = 4m }
  model "node.drain" { distribution = uniform  low = 5m  high = 25m }
}
"""
    total = drawn_models(BASE + timing)
    out = header(simulate(write(tmp_path, BASE + timing), "--runs", "5"))
    assert f"\n  models        3 of {total} from the timing block, the rest defaults (assumptions)\n" in out
    assert "\n                physics parameters from the timing block: resync_per_s\n" in out
    assert "\n  shared speed  run_spread 0.1 (default, an assumption), kind_spread 0.2 (from the timing block);" in out


def test_a_kind_model_counts_once_beside_its_duration_model(tmp_path):
    """`model "cau.install"` replaces os.install for that kind only: the plan then draws from both, one of them its own."""
    plan = plan_of(BASE + '\ntiming {\n  model "cau.install" { distribution = fixed  value = 40m }\n}\n')
    models = model_provenance(plan)
    uses_os_install = {s.kind for s in plan.steps if s.spec.duration_model == "os.install"}
    assert models.from_timing == 1
    assert models.drawn == drawn_models(BASE) + (len(uses_os_install - {"cau.install"}) > 0)


def test_every_model_from_the_timing_block_and_independent_steps(tmp_path):
    out = header(simulate(write(tmp_path, BASE + fixed_timing()), "--runs", "5"))
    assert f"\n  models        all {drawn_models(BASE)} from the timing block\n" in out
    assert "\n  shared speed  run_spread 0, kind_spread 0: from the timing block; steps independent\n" in out


# --- the documented output -----------------------------------------------------------------------


@pytest.mark.parametrize("doc", ["README.md", "docs/simulation.md"])
def test_the_documented_report_is_what_simulate_prints(doc):
    """Every line the doc shows of `simulate examples/four-node.hciplan --window 28h` is in today's output."""
    root = Path(__file__).resolve().parent.parent
    text = (root / doc).read_text(encoding="utf-8")
    command = "$ hciplan simulate examples/four-node.hciplan --window 28h\n"
    block = text[text.index(command) + len(command):].split("```")[0]
    shown = [line for line in block.splitlines()
             if line and line != "..." and not line.startswith("$") and "fingerprint" not in line]
    assert len(shown) >= 10
    out = CliRunner().invoke(cli, ["simulate", str(root / "examples" / "four-node.hciplan"), "--window", "28h"],
                             catch_exceptions=False).stdout.splitlines()
    missing = [line for line in shown if line not in out]
    assert not missing, f"{doc} shows lines simulate does not print: {missing}"
