"""`hciplan compare` and `simulate --vary`: common random numbers, paired intervals, sensitivity, errors, JSON.

Runs are kept small (tens to a few hundred per variant): the properties tested here
hold exactly (zero differences, byte-identical output) or by a wide margin (paired
intervals against unpaired ones, a model widened to hours against minutes).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.compare.paired import SCHEMA
from hciplan.compare.run import Options, compare
from helpers import ROOT

FOUR = ROOT / "examples" / "four-node.hciplan"
TWO = ROOT / "examples" / "two-node.hciplan"
FIGURES = ("p50", "p90", "p_within_window", "completed_share", "exposure_mean")
# A duration model widened far beyond the others (node.drain's default is minutes): the sensitivity must rank it first.
WIDE_DRAIN = '\ntiming {\n  model "node.drain" { distribution = uniform  low = 1m  high = 10h }\n}\n'


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def width(interval: list) -> float:
    low, high = interval
    assert low is not None and high is not None
    return high - low


# --- common random numbers: an identical variant differs by exactly nothing ---------------------------------


def test_a_variant_identical_to_the_base_has_exactly_zero_paired_differences(tmp_path):
    copy = tmp_path / "copy.hciplan"
    shutil.copyfile(FOUR, copy)
    # the same file under another name, and an override that writes the value the file already has
    document = compare((str(FOUR), str(copy)), ("upgrade.method=cau",), Options(runs=60, seed=5, jobs=1))
    base, *others = document["variants"]
    assert 0 < base["outcomes"]["completed"] < 60  # some runs complete, some stop: every figure is exercised
    assert len(document["differences"]) == 2
    for variant, difference in zip(others, document["differences"]):
        for figure in FIGURES:
            entry = difference[figure]
            assert entry["estimate"] == 0, (variant["name"], figure, entry)
            assert entry["interval"] == [0, 0], (variant["name"], figure, entry)
        own = {k: v for k, v in variant.items() if k not in ("name", "file", "overrides")}
        assert own == {k: v for k, v in base.items() if k not in ("name", "file", "overrides")}


def test_a_real_change_has_a_paired_interval_narrower_than_the_unpaired_one():
    document = compare((str(FOUR),), ("upgrade.method=manual",), Options(runs=120, seed=0, jobs=1))
    difference = document["differences"][0]
    assert difference["p90"]["estimate"] != 0 or difference["completed_share"]["estimate"] != 0  # a real change
    for figure in FIGURES:
        entry = difference[figure]
        assert width(entry["interval"]) < width(entry["unpaired_interval"]), (figure, entry)
        # the paired interval is an interval around its estimate, not an artefact
        assert entry["interval"][0] <= entry["estimate"] <= entry["interval"][1], (figure, entry)


def test_a_window_change_is_paired_too():
    document = compare((str(FOUR),), ("window=30h",), Options(runs=100, seed=2, jobs=1))
    entry = document["differences"][0]["p_within_window"]
    assert entry["estimate"] != 0
    assert width(entry["interval"]) < width(entry["unpaired_interval"])


# --- sensitivity --------------------------------------------------------------------------------------------


def sensitivity_models(text: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / "plan.hciplan"
    path.write_text(text, encoding="utf-8")
    document = compare((str(path),), (), Options(runs=2, seed=1, jobs=1, ignore_windows=True, sensitivity_runs=12))
    assert document["variants"][0]["outcomes"]["completed"] == 2
    return document["sensitivity"]["models"]


def test_a_widened_duration_model_ranks_first_in_the_sensitivity(tmp_path):
    text = TWO.read_text(encoding="utf-8")
    plain = sensitivity_models(text, tmp_path)
    assert plain[0]["model"] != "node.drain"  # as written, the drain is not what drives the P90
    widened = sensitivity_models(text + WIDE_DRAIN, tmp_path)
    first = widened[0]
    assert first["model"] == "node.drain" and "node.drain" in first["kinds"]
    assert first["p90_swing"] > 2 * max(abs(m["p90_swing"]) for m in widened[1:])
    assert [m["model"] for m in widened] != [m["model"] for m in plain]


# --- determinism and the JSON document ----------------------------------------------------------------------


def test_compare_output_is_identical_for_one_and_two_jobs():
    args = ("compare", str(FOUR), "--vary", "upgrade.method=manual", "--runs", "40", "--seed", "7")
    outputs = {}
    for jobs in ("1", "2"):
        for fmt in ("text", "json"):
            result = run(*args, "--jobs", jobs, "--format", fmt)
            assert result.exit_code == 0, result.output
            outputs[jobs, fmt] = result.stdout
    assert outputs["1", "text"] == outputs["2", "text"]
    assert outputs["1", "json"] == outputs["2", "json"]


def test_compare_json_has_its_schema_and_is_deterministic():
    args = ("compare", str(TWO), "--vary", "upgrade.method=manual,window=20h", "--runs", "20", "--jobs", "1",
            "--window", "none", "--format", "json")
    first, second = run(*args), run(*args)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    document = json.loads(first.stdout)
    assert document["schema"] == SCHEMA == "hciplan.compare/1"
    assert document["draws"] == "keyed" and document["runs"] == 20
    assert [v["overrides"] for v in document["variants"]] == [[], ["upgrade.method=manual", "window=20h"]]
    assert document["variants"][0]["windows"] == [] and document["variants"][1]["windows"] != []
    assert document["variants"][1]["method"] == "manual"


def test_simulate_vary_is_compare_of_the_file_and_its_variant():
    simulate = run("simulate", str(TWO), "--vary", "upgrade.method=manual", "--runs", "20", "--jobs", "1",
                   "--format", "json")
    compared = run("compare", str(TWO), "--vary", "upgrade.method=manual", "--runs", "20", "--jobs", "1",
                   "--format", "json")
    assert simulate.exit_code == compared.exit_code == 0, simulate.output
    assert simulate.stdout == compared.stdout


# --- errors: a clear message, an exit code, no traceback ----------------------------------------------------


def _witness_value_at() -> str:
    """`LINE:COL` of the two-node example's `witness` value, where the variant's error is reported."""
    for number, line in enumerate(TWO.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("witness"):
            return f"{number}:{line.index('cloud') + 1}"
    raise AssertionError("the two-node example has no witness line")


@pytest.mark.parametrize("vary, code, expected", [
    ("upgrade.nope=1", 2, "`upgrade.nope` is not an attribute hciplan can vary"),
    ("upgrade.method=fast", 2, "`fast` is not a valid `method`; allowed: cau, wac, manual, offline"),
    ("upgrade.max_failed_nodes=-1", 2, "`max_failed_nodes` = -1 is out of range; allowed: 0 to 63"),
    ("timing.run_spread=2", 2, "`run_spread` = 2 is out of range; allowed: 0 to 1"),
    ("window=abc", 2, "hciplan: `--vary window=abc`: `abc` is not a duration"),  # said once, as written
    ("window=10s", 2, "`--vary window=10s` is shorter than a minute"),
    ("upgrade.method", 2, "write ATTR=VALUE"),
    # checked as the checker would: the variant's error at the base file's line, then why there is no comparison
    ("cluster.witness=none", 1, f"two-node.hciplan:{_witness_value_at()}: error[HCI501]: a two-node cluster without a witness"),
])
def test_vary_errors_are_clear_and_exit_non_zero(vary, code, expected):
    for command in ("compare", "simulate"):
        result = CliRunner().invoke(cli, [command, str(TWO), "--vary", vary, "--runs", "5", "--jobs", "1"])
        assert result.exit_code == code, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        assert expected in result.stderr, result.stderr
        assert result.stdout == ""  # nothing half-written


def test_an_override_of_a_block_the_file_lacks_is_refused(tmp_path):
    text = TWO.read_text(encoding="utf-8")
    start = text.index("\n  solution {")
    path = tmp_path / "no-solution.hciplan"
    path.write_text(text[:start] + text[text.index("\n  }\n", start) + 4:], encoding="utf-8")
    assert run("check", str(path)).exit_code == 0  # a valid file without a solution upgrade
    result = run("compare", str(path), "--vary", 'solution.key_vault="kv-new"', "--runs", "5", "--jobs", "1")
    assert result.exit_code == 2
    assert "the file has no `solution` block to vary" in result.stderr and result.stdout == ""


def test_an_invalid_variant_says_it_is_not_a_plan():
    result = run("compare", str(TWO), "--vary", "cluster.witness=none", "--runs", "5", "--jobs", "1")
    assert result.exit_code == 1
    assert "the variant `cluster.witness=none` has errors" in result.stderr


def test_a_bad_fail_spec_is_a_usage_error_as_in_simulate():
    for command in ("compare", "simulate"):
        result = CliRunner().invoke(cli, [command, str(TWO), "--vary", "upgrade.method=manual", "--fail",
                                          "NOPE:install", "--runs", "5", "--jobs", "1"])
        assert result.exit_code == 2, (command, result.output)
        assert "NOPE" in result.stderr and "Traceback" not in result.output


def test_compare_needs_something_to_compare():
    result = CliRunner().invoke(cli, ["compare", str(TWO), "--runs", "5"])
    assert result.exit_code == 2
    assert "nothing to compare" in result.stderr


# --- no completed run -----------------------------------------------------------------------------------------


def test_no_completed_run_says_why_instead_of_n_a():
    # the two-node plan does not fit its one 8-hour window: every run stops at the window
    result = run("compare", str(TWO), "--vary", "upgrade.method=manual", "--vary", "window=none", "--runs", "6",
                 "--jobs", "1", "--sensitivity", "2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "n/a" not in out and "-0m" not in out and "-0.0 pts" not in out
    assert f"no run of {TWO} completed (6 of 6 stopped at a window): it has no P50 or P90" in out
    assert f"P90 cannot be compared: neither {TWO} nor upgrade.method=manual has a completed run" in out
    assert f"P90 cannot be compared: no run of {TWO} completed" in out  # window=none completes, the base does not
    assert "P90 at P10 .. at P90" in out and "no run completed at the base" in out
    # where P(within window) has no meaning, the table says why
    assert "no window" in out.splitlines()[4]  # the window=none variant's row


# --- tornado chart (plot extra) -----------------------------------------------------------------------------


def test_tornado_writes_a_chart(tmp_path):
    pytest.importorskip("matplotlib", reason="the tornado chart needs the plot extra (matplotlib)")
    path = tmp_path / "plan.hciplan"
    path.write_text(TWO.read_text(encoding="utf-8") + WIDE_DRAIN, encoding="utf-8")
    chart = tmp_path / "tornado.svg"
    args = ("compare", str(path), "--window", "none", "--runs", "2", "--sensitivity", "2", "--jobs", "1",
            "--tornado", str(chart))
    result = run(*args)
    assert result.exit_code == 0, result.output
    first = chart.read_bytes()
    assert first.startswith(b"<?xml") and b"node.drain" in first
    chart.unlink()
    assert run(*args).exit_code == 0
    assert chart.read_bytes() == first  # the same document gives the same bytes


def test_tornado_needs_sensitivity():
    result = CliRunner().invoke(cli, ["compare", str(TWO), "--vary", "upgrade.method=manual", "--tornado", "t.svg"])
    assert result.exit_code == 2
    assert "--tornado draws the sensitivity: add --sensitivity RUNS" in result.stderr


# --- docs/compare.md documents what the commands print -------------------------------------------------------

DOC = (ROOT / "docs" / "compare.md").read_text(encoding="utf-8")


def doc_section(title: str) -> str:
    """The text from the `## title` heading to the next `## ` heading."""
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else None]


def documented_keys(title: str) -> set[str]:
    """Every `key.path` named in the first cell of the section's tables."""
    cells = re.findall(r"^\| ([^|]+) \|", doc_section(title), re.M)
    return {key for cell in cells for key in re.findall(r"`([a-z0-9_]+(?:(?:\[\])?\.[a-z0-9_]+)*)`", cell)}


def field_paths(value, path: str = "", opaque: tuple[str, ...] = ()) -> set[str]:
    """Every `path.key` of the document (lists as `[]`); below an `opaque` path (keyed by data) nothing."""
    found = set()
    if isinstance(value, dict) and path not in opaque:
        for key, item in value.items():
            full = f"{path}.{key}" if path else key
            found.add(full)
            found |= field_paths(item, full, opaque)
    elif isinstance(value, list):
        for item in value:
            found |= field_paths(item, path + "[]", opaque)
    return found


def test_the_compare_json_has_exactly_the_documented_fields():
    document = compare((str(FOUR),), ("upgrade.method=manual",), Options(runs=4, seed=0, jobs=1, sensitivity_runs=2))
    assert document["differences"][0].get("p_within_window") and document["sensitivity"]["models"]
    # the five figures of a difference share one shape, documented once (as `differences[].p90.*`)
    for figure in FIGURES:
        assert set(document["differences"][0][figure]) == {"estimate", "interval", "unpaired_interval"}
    seen = {re.sub(r"^differences\[\]\.(p50|p_within_window|completed_share|exposure_mean)\.",
                   "differences[].p90.", path)
            for path in field_paths(document, opaque=("variants[].outcomes",))}
    documented = documented_keys("`hciplan.compare/1`")
    assert seen - documented == set(), "in the document, not in docs/compare.md"
    assert documented - seen == set(), "in docs/compare.md, not in the document"


def test_the_diff_json_fields_are_documented():
    document = json.loads((ROOT / "tests" / "golden" / "diff" / "four-node-next.json").read_text(encoding="utf-8"))
    seen = field_paths(document, opaque=("counts", "changes[].fields", "changes[].old", "changes[].new",
                                         "changes[].window"))
    documented = documented_keys("`hciplan.diff/1`")
    assert seen - documented == set()
    sides = {k for k in documented if k.startswith(("old.", "new."))}
    assert sides == {f"{side}.{key}" for side in ("old", "new") for key in document["old"]}
    assert {k for k in documented if "." not in k} == set(document)


def test_the_documented_diff_text_is_the_golden_one():
    golden = (ROOT / "tests" / "golden" / "diff" / "four-node-next.txt").read_text(encoding="utf-8")
    assert f"```text\n{golden}```" in DOC


def test_the_documented_vary_attributes_are_the_ones_accepted():
    from hciplan.compare.variants import attribute_paths

    rows = re.findall(r"^\| `([a-z_]+\.?)` \| (.+) \|$", doc_section("`hciplan compare FILE [FILE...]` and "
                                                                     "`simulate --vary`"), re.M)
    documented = []
    for block, cell in rows:
        if block.endswith("."):
            documented += [block + name for name in re.findall(r"`([a-z_0-9]+)`", cell)]
        else:
            documented.append(block)
    assert documented == attribute_paths()


def test_the_documented_comparison_is_what_compare_prints(monkeypatch):
    """docs/compare.md's sample and README's tour show lines that today's `compare` prints."""
    command = "$ hciplan compare examples/four-node.hciplan --vary upgrade.method=manual --vary window=30h --runs 200\n"
    monkeypatch.chdir(ROOT)  # the docs' relative path, and so their column widths
    out = run(*command[2:].split()[1:], "--jobs", "1").stdout.splitlines()  # the same output for any --jobs
    for name, text, least in (("docs/compare.md", DOC, 15), ("README.md", (ROOT / "README.md").read_text("utf-8"), 5)):
        block = text[text.index(command) + len(command):].split("```")[0]
        shown = [line for line in block.splitlines() if line and line != "..." and not line.startswith("$ ")]
        assert len(shown) >= least, name
        missing = [line for line in shown if line not in out]
        assert not missing, f"{name} shows lines compare does not print: {missing}"


def test_the_plan_json_fields_added_for_diff_are_documented_in_plan_md():
    text = (ROOT / "docs" / "plan.md").read_text(encoding="utf-8")
    section = text[text.index("### Added for `hciplan diff`"):]
    cells = re.findall(r"^\| ([^|]+) \|", section, re.M)
    documented = {key for cell in cells for key in re.findall(r"`([a-z_.\[\]]+)`", cell)}
    document = json.loads(run("plan", "--format", "json", str(FOUR)).stdout)
    assert {"windows", "units[].window", "margins", "facts", "timing"} <= documented
    assert set(document["margins"]) == documented - {"windows", "units[].window", "margins", "facts", "timing"}
    assert document["windows"] and all("window" in unit for unit in document["units"])
