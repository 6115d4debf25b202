"""Shell completion: the callbacks behind `--fail NODE:STEP[:MODE]`, `--cau-node`, `--scenario` and `explain CODE`.

Each is called as the shell would call it (click's ShellComplete with the words
typed so far), so the wiring of every option is tested with the callback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.shell_completion import ShellComplete

from hciplan.cli import cli
from hciplan.compiler.diagnostics import REGISTRY
from hciplan.compiler.schema import FAILURE_MODES
from hciplan.simulator.failures import resolve_step, step_names

from helpers import ROOT

FOUR = str(ROOT / "examples" / "four-node.hciplan")
NODES = ["HCI01", "HCI02", "HCI03", "HCI04"]


def complete(args: list[str], incomplete: str) -> list[str]:
    return [item.value for item in ShellComplete(cli, {}, "hciplan", "_HCIPLAN_COMPLETE")
            .get_completions(args, incomplete)]


@pytest.mark.parametrize("args", [["simulate", FOUR, "--fail"], ["simulate", "--runs", "10", FOUR, "--fail"],
                                  ["compare", FOUR, "--fail"]])
def test_fail_completes_the_nodes_of_the_file(args):
    assert complete(args, "") == [f"{n}:" for n in NODES] + ["cluster:"]
    assert complete(args, "hci0") == [f"{n}:" for n in NODES]  # as the file is matched: case-insensitively
    assert complete(args, "HCI03") == ["HCI03:"]


def test_fail_completes_the_steps_of_the_node_each_resolving():
    from hciplan.cli import compile_file

    plan = compile_file(FOUR).plan
    steps = complete(["simulate", FOUR, "--fail"], "HCI03:")
    assert steps == [f"HCI03:{name}" for name in step_names(plan, "HCI03")] and len(steps) > 10
    assert "HCI03:cau.install" in steps and "HCI03:reboot" in steps  # step kinds and verbs
    assert complete(["simulate", FOUR, "--fail"], "HCI03:bitlocker") == ["HCI03:bitlocker.resume",
                                                                           "HCI03:bitlocker.suspend"]
    for value in steps:  # nothing offered that --fail would refuse (a verb of several passes means P2's)
        node, step = value.split(":")
        resolve_step(plan, node, step, "error")
    cluster = complete(["simulate", FOUR, "--fail"], "cluster:")
    assert "cluster:gate.preflight" in cluster and not any(s.startswith("cluster:p") and s[9:10].isdigit()
                                                           for s in cluster)


def test_step_names_list_a_step_once_not_by_its_kind_and_its_id_both():
    """`bitlocker.resume` (the kind) and `bitlocker_resume` (from the id) name one step: list the kind only."""
    from hciplan.cli import compile_file

    plan = compile_file(FOUR).plan
    for node in [*NODES, "cluster"]:
        names = step_names(plan, node)
        spelt = [n.replace("_", ".") for n in names]
        assert len(spelt) == len(set(spelt)), node
    assert "bitlocker_resume" not in step_names(plan, "HCI03") and "bitlocker.resume" in step_names(plan, "HCI03")


def test_the_unknown_step_error_lists_each_step_once():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["simulate", FOUR, "--runs", "2", "--fail", "HCI03:nosuch"])
    assert result.exit_code == 2
    assert "bitlocker.resume" in result.stderr and "bitlocker_resume" not in result.stderr


def test_fail_completes_the_modes():
    assert complete(["simulate", FOUR, "--fail"], "HCI03:reboot:") == [f"HCI03:reboot:{m}" for m in FAILURE_MODES]
    assert complete(["simulate", FOUR, "--fail"], "HCI03:reboot:h") == ["HCI03:reboot:hang"]


@pytest.mark.parametrize("file", [None, "missing.hciplan", "broken"])
def test_without_a_readable_file_nothing_is_completed_and_nothing_fails(tmp_path, file):
    if file == "broken":
        path = tmp_path / "broken.hciplan"
        path.write_text('cluster "c" {\n', encoding="utf-8")
        file = str(path)
    args = ["simulate", "--fail"] if file is None else ["simulate", file, "--fail"]
    assert complete(args, "") == []
    assert complete(args, "HCI03:") == []


def test_cau_node_and_scenario_complete_from_the_file(tmp_path):
    assert complete(["progress", FOUR, "journal.jsonl", "--cau-node"], "") == NODES
    path = tmp_path / "s.hciplan"
    path.write_text(Path(FOUR).read_text(encoding="utf-8")
                    + '\nscenario "bad-night" {\n  fail "HCI03" {\n    step = "reboot"\n    mode = hang\n  }\n}\n',
                    encoding="utf-8")
    assert complete(["simulate", str(path), "--scenario"], "") == ["bad-night"]
    assert complete(["simulate", str(path), "--scenario"], "x") == []


def test_explain_completes_the_codes_with_their_titles():
    items = ShellComplete(cli, {}, "hciplan", "_HCIPLAN_COMPLETE").get_completions(["explain"], "hci30")
    assert [i.value for i in items] == sorted(c for c in REGISTRY if c.startswith("HCI30"))
    assert all(i.help == REGISTRY[i.value].title for i in items)
    assert complete(["explain"], "") == sorted(REGISTRY)
