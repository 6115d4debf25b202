"""No input crashes any command: the fuzz corpus replayed, plus a small derandomized random budget per command.

The corpus (tests/fuzz/corpus/, described in its README) holds inputs that found a bug or sit at an edge: each is
replayed with its own command line and, when it is a lone .hciplan file, with every command that reads one. The
random part draws from the same grammar-aware strategies as bench/bench_fuzz.py, which runs them at scale.
A crash is exit code 70, "internal error", a traceback in the output or an exception escaping (fuzz/harness.py).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from fuzz.harness import CASES, COMMANDS, CORPUS, applicable, corpus_cases, load_case, run_case, run_command

CORPUS_CASES = corpus_cases()
# The CI budget per command: small, derandomized by the "ci" profile (tests/conftest.py), so CI is deterministic.
BUDGET = dict.fromkeys(COMMANDS, 30)


def test_the_corpus_is_there_and_described():
    assert len(CORPUS_CASES) >= 40
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in CORPUS_CASES if f"`{p.name}`" not in readme and not p.name.startswith("crash-")]
    assert not missing, f"say in tests/fuzz/corpus/README.md what these are: {missing}"
    assert {load_case(p).command for p in CORPUS_CASES} >= {"check", "simulate", "import", "diff", "progress",
                                                            "calibrate"}


@pytest.mark.parametrize("folder", CORPUS_CASES, ids=[p.name for p in CORPUS_CASES])
def test_corpus_case_crashes_no_command(folder):
    case = load_case(folder)
    files = dict(case.files)
    for argv in applicable(case):
        outcome = run_command(argv, files)
        assert not outcome.crashed, (argv, outcome.reason, outcome.output[-800:])
        assert outcome.exit_code in (0, 1, 2), (argv, outcome.exit_code)
        if outcome.exit_code != 0:
            assert outcome.output.strip(), (argv, "a failure must say why")


def test_the_driver_sees_a_crash():
    """The harness can fail: an exception escaping a command is a crash, an ordinary error is not."""
    outcome = run_command(["check", "{dir}/a.hciplan"], {"a.hciplan": b"x = 1\n"})
    assert not outcome.crashed and outcome.exit_code == 1
    from unittest import mock
    with mock.patch("hciplan.cli.load_source", side_effect=ZeroDivisionError("boom")):
        outcome = run_command(["check", "{dir}/a.hciplan"], {"a.hciplan": b"x = 1\n"})
    assert outcome.crashed and "ZeroDivisionError" in outcome.reason


@pytest.mark.parametrize("command", COMMANDS)
def test_random_inputs_crash_no_command(command):
    @settings(max_examples=BUDGET[command], deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(CASES[command])
    def one(case):
        outcome = run_case(case)
        assert not outcome.crashed, (case.argv, outcome.reason, outcome.output[-800:])

    one()
