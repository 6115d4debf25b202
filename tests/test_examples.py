"""Every example behaves as it says: valid ones check clean, invalid ones report exactly their `# expect:` lines.

New examples are picked up automatically: drop a file in examples/ or
examples/invalid/ and annotate the offending lines.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.compiler.pipeline import load_source

from helpers import ALL_EXAMPLES, EXAMPLES, INVALID_EXAMPLES, VALID_EXAMPLES, expected_diagnostics


def run_json(path) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(path)])
    return result.exit_code, json.loads(result.output)["diagnostics"]


def test_the_examples_the_issue_asks_for_exist():
    names = {p.relative_to(EXAMPLES).as_posix() for p in ALL_EXAMPLES}
    assert {
        "two-node.hciplan", "four-node.hciplan", "sixteen-node.hciplan", "aks.hciplan",
        "invalid/stretched-solution.hciplan", "invalid/scvmm-2022.hciplan", "invalid/several-mistakes.hciplan",
    } <= names


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: p.name)
def test_every_example_opens_with_a_comment_saying_what_it_covers(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and len(first) > 20


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_valid_example_checks_without_errors(path):
    assert not expected_diagnostics(path.read_text(encoding="utf-8")), "valid examples announce no diagnostics"
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output
    exit_code, diagnostics = run_json(path)
    assert exit_code == 0
    assert [d for d in diagnostics if d["severity"] == "error"] == []


def test_four_node_example_has_no_diagnostics_at_all():
    exit_code, diagnostics = run_json(EXAMPLES / "four-node.hciplan")
    assert (exit_code, diagnostics) == (0, [])


def test_valid_examples_describe_what_their_names_promise():
    two = load_source(EXAMPLES / "two-node.hciplan").model
    assert len(two.cluster.nodes) == 2 and two.cluster.witness == "cloud"
    assert {v.resiliency for v in two.cluster.volumes} <= {"mirror_2way", "nested_mirror_2way"}

    sixteen = load_source(EXAMPLES / "sixteen-node.hciplan").model
    assert len(sixteen.cluster.nodes) == 16 and sixteen.upgrade.solution is not None
    assert len(sixteen.cluster.volumes) >= 3
    assert all(v.resiliency == "mirror_3way" for v in sixteen.cluster.volumes if v.provisioning == "fixed")
    largest = max(n.memory for n in sixteen.cluster.nodes)
    assert 0 < sixteen.cluster.ha_vm_memory <= sum(n.memory for n in sixteen.cluster.nodes) - largest

    aks = load_source(EXAMPLES / "aks.hciplan").model
    assert aks.cluster.aks.installed and aks.upgrade.aks == "remove"


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_invalid_example_reports_exactly_its_expected_diagnostics(path):
    expected = expected_diagnostics(path.read_text(encoding="utf-8"))
    assert expected, f"{path.name} announces no `# expect:` diagnostics"
    exit_code, diagnostics = run_json(path)
    reported = Counter((d["code"], d["line"]) for d in diagnostics)
    assert reported == expected
    assert exit_code == 1
    assert all(d["file"] == str(path) for d in diagnostics)


def test_several_mistakes_reports_many_semantic_codes_in_one_run():
    expected = expected_diagnostics((EXAMPLES / "invalid" / "several-mistakes.hciplan").read_text(encoding="utf-8"))
    families = {code[:4] for code, _ in expected}
    assert len({code for code, _ in expected}) >= 6
    assert "HCI1" not in families and "HCI0" not in families  # semantic only: the checks all ran


def test_expect_comment_parser_reads_several_codes_and_repeats():
    text = "a\nb  # expect: HCI101, HCI705,HCI705\n# expect: HCI801\nc # expected: HCI999\n"
    assert expected_diagnostics(text) == Counter({("HCI101", 2): 1, ("HCI705", 2): 2, ("HCI801", 3): 1})
