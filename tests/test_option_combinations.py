"""Every option combination of `emit`, `simulate`, `plan` and `graph` either works or says why.

Hypothesis draws a command, an input file (valid plans of every method, a plan no run of which completes
within its windows, a file with errors, one without an upgrade block, a missing file) and any mix of the
command's options, valid or not. Whatever the mix, the command ends with exit code 0 (it worked), 1 (the
file has errors) or 2 (a usage error, with a message), never an exception or "internal error". The
budget stays small for CI (`max_examples` below); `HYPOTHESIS_PROFILE=dev` explores far more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hciplan.cli import cli
from helpers import BASE, EXAMPLES
from plan_models import Shape
from sim_helpers import shape_text

SCENARIO = '\nscenario "night" {\n  fail "N02" { step = "reboot"  mode = hang }\n}\n'
NO_RUN_COMPLETES = shape_text(Shape(nodes=2, solution=True),
                              windows='  window "w1" { start = 2026-12-05T22:00Z  end = 2026-12-05T22:20Z }')

FILES = {
    "four-node": (EXAMPLES / "four-node.hciplan").read_text(encoding="utf-8"),
    "base": BASE,
    "small": shape_text(Shape(nodes=2)) + SCENARIO,
    "wac": shape_text(Shape(nodes=2, method="wac")),
    "offline": shape_text(Shape(nodes=2, method="offline", source="media")),
    "no-run-completes": NO_RUN_COMPLETES,
    "no-windows": shape_text(Shape(nodes=2), windows=""),
    "errors": BASE.replace("memory = 768GB", "memory = 768"),
    "no-upgrade": BASE[: BASE.index("upgrade ")],
}
EXIT_CODES = {0, 1, 2}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("options")
    for name, text in FILES.items():
        (root / f"{name}.hciplan").write_text(text, encoding="utf-8")
    # saved simulations: a real one of the small plan, one of another plan, and broken ones
    small = CliRunner().invoke(cli, ["simulate", str(root / "small.hciplan"), "--runs", "3", "--jobs", "1",
                                     "--format", "json"])
    assert small.exit_code == 0, small.output
    (root / "sim-small.json").write_text(small.stdout, encoding="utf-8")
    document = json.loads(small.stdout)
    (root / "sim-other.json").write_text(json.dumps({**document, "fingerprint": "sha256:" + "0" * 64}))
    (root / "sim-no-run.json").write_text(json.dumps({**document,  # of the small plan: a fingerprint is required
                                                      "duration_minutes": {k: None for k in document["duration_minutes"]},
                                                      "outcomes": {"completed": 0, "aborted": 3, "stopped_at_window": 0}}))
    (root / "sim-bad.json").write_text("{not json")
    (root / "sim-empty.json").write_text("{}")
    (root / "existing-file").write_text("x")
    return root


def _file(root: Path):
    return st.sampled_from([*(str(root / f"{n}.hciplan") for n in FILES), str(root / "missing.hciplan"), str(root)])


def _optional(*options: st.SearchStrategy) -> st.SearchStrategy:
    """Any subset of the options, each an argument list."""
    return st.tuples(*(st.one_of(st.just([]), o) for o in options)).map(lambda parts: [a for p in parts for a in p])


def emit_args(root: Path):
    return st.tuples(_file(root), _optional(
        st.sampled_from(["powershell", "runbook", "json", "dot", "mermaid", "summary", "html"]).map(lambda b: ["--backend", b]),
        st.sampled_from([str(root / "out"), str(root / "existing-file")]).map(lambda o: ["-o", o]),
        st.just(["--force"]),
        st.sampled_from(["1", "3", "0", "-1", "x"]).map(lambda n: ["--simulate", n]),
        st.sampled_from(["sim-small.json", "sim-other.json", "sim-no-run.json", "sim-bad.json", "sim-empty.json",
                         "missing.json", "existing-file"]).map(lambda f: ["--simulation", str(root / f)]),
        st.just(["--what-if"]),
    )).map(lambda t: ["emit", t[0], *t[1]])


def simulate_args(root: Path):
    return st.tuples(_file(root), _optional(
        st.sampled_from(["1", "4", "0"]).map(lambda n: ["--runs", n]),
        st.sampled_from(["0", "7", "-3"]).map(lambda n: ["--seed", n]),
        st.sampled_from(["1", "2", "0"]).map(lambda n: ["--jobs", n]),
        st.sampled_from(["night", "missing", ""]).map(lambda s: ["--scenario", s]),
        st.lists(st.sampled_from(["N01:reboot", "N02:reboot:hang", "N01:drain:slow=3", "N09:reboot", "x", "N01:",
                                  ":reboot", "N01:reboot:error=0", "N01:reboot:bogus", "N01:registry.reboot"]),
                 min_size=1, max_size=2).map(lambda fs: [a for f in fs for a in ("--fail", f)]),
        st.sampled_from(["8h", "none", "0m", "1m", "x", "-5m", "100000d"]).map(lambda w: ["--window", w]),
        st.sampled_from(["0.5", "0.999", "0.1", "1"]).map(lambda c: ["--confidence", c]),
        st.sampled_from(["json", "text", "xml"]).map(lambda f: ["--format", f]),
        st.sampled_from(["plot.txt", "missing-dir/plot.png"]).map(lambda p: ["--gantt", str(root / p)]),
        st.sampled_from(["plot.bmp", "missing-dir/h.svg"]).map(lambda p: ["--histogram", str(root / p)]),
    )).map(lambda t: ["simulate", t[0], *t[1]])


def plan_args(root: Path):
    return st.tuples(_file(root), _optional(st.sampled_from(["json", "text", "yaml"]).map(lambda f: ["--format", f]))
                     ).map(lambda t: ["plan", t[0], *t[1]])


def graph_args(root: Path):
    return st.tuples(_file(root), _optional(st.sampled_from(["dot", "mermaid", "svg"]).map(lambda f: ["--format", f]),
                                            st.just(["--detail"]))).map(lambda t: ["graph", t[0], *t[1]])


def assert_works_or_says_why(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert result.exit_code in EXIT_CODES, (args, result.exit_code, result.output[-500:])
    assert "Traceback" not in result.output and "internal error" not in result.output, (args, result.output[-500:])
    if result.exit_code != 0:
        assert result.output.strip(), (args, "a failure must say why")


@pytest.mark.parametrize("command", ["emit", "simulate", "plan", "graph"])
def test_every_option_combination_works_or_says_why(workspace, command):
    strategy = {"emit": emit_args, "simulate": simulate_args, "plan": plan_args, "graph": graph_args}[command](workspace)

    budget = settings.default.max_examples  # the profile's: 60 in CI, 2000 with HYPOTHESIS_PROFILE=dev
    @settings(max_examples=budget if command in ("emit", "simulate") else budget // 4, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(strategy)
    def run(args):
        assert_works_or_says_why(args)

    run()


@pytest.mark.parametrize("simulation", [None, "sim-no-run.json"])
def test_a_runbook_with_a_simulation_in_which_no_run_completes(workspace, simulation):
    """The issue's example: the runbook says "no run completed" instead of failing."""
    args = ["emit", str(workspace / "no-run-completes.hciplan"), "--backend", "runbook", "-o", str(workspace / "nrc"),
            "--force"]
    if simulation:
        args = ["emit", str(workspace / "small.hciplan"), "--backend", "runbook", "-o", str(workspace / "nrc2"),
                "--force", "--simulation", str(workspace / simulation)]
    else:
        args += ["--simulate", "3"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    runbook = next((workspace / ("nrc2" if simulation else "nrc")).glob("*.md")).read_text(encoding="utf-8")
    assert "| Simulated duration | no run completed (3 runs" in runbook
