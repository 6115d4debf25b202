"""Number agreement in text outputs: `1 run`, never `1 runs` (hciplan.words, issue 17 item 11)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.words import counted, plural

from helpers import VALID_EXAMPLES

NOUNS = "run|step|node|window|file|error|warning|phase|unit|VM|observation|pass|TODO|fact|result|minute|swing"
ONE_PLURAL = re.compile(rf"(?<![\d.,])1 ({NOUNS})(s|es)\b")


@pytest.mark.parametrize("count, noun, spec, text", [
    (1, "run", ",", "1 run"), (0, "run", ",", "0 runs"), (1000, "run", ",", "1,000 runs"), (2, "VM", "", "2 VMs"),
    (1, "VM", "", "1 VM"), (2, "pass", "", "2 passes"), (1.2, "step", ".0f", "1 step"), (1.6, "step", ".0f", "2 steps"),
])
def test_counted(count, noun, spec, text):
    assert counted(count, noun, spec) == text


def test_plural_is_singular_only_for_exactly_one():
    assert [plural("run", n) for n in (0, 1, 1.5, 2)] == ["runs", "run", "runs", "runs"]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.stem)
def test_one_run_is_written_in_the_singular(path):
    result = CliRunner().invoke(cli, ["simulate", str(path), "--runs", "1", "--jobs", "1"], catch_exceptions=False)
    assert result.exit_code == 0
    assert re.search(r"^Simulation of \S+: 1 run, seed 0", result.stdout, re.M)
    assert not ONE_PLURAL.search(result.stdout), ONE_PLURAL.search(result.stdout).group(0)


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.stem)
def test_no_text_output_says_one_of_a_plural(path, tmp_path):
    runner = CliRunner()
    outputs = [runner.invoke(cli, ["plan", str(path)]).stdout, runner.invoke(cli, ["check", str(path)]).stdout]
    emitted = runner.invoke(cli, ["emit", str(path), "--backend", "runbook", "--simulate", "1", "-o", str(tmp_path)])
    assert emitted.exit_code == 0, emitted.output
    outputs += [p.read_text(encoding="utf-8") for p in sorted(tmp_path.iterdir())]
    for text in outputs:
        found = ONE_PLURAL.search(text)
        assert found is None, found.group(0)
    runbook = "".join(outputs[2:])
    assert "(1 run" in runbook


def test_the_checks_count_one_node_and_one_vm_in_the_singular(tmp_path):
    path = tmp_path / "one.hciplan"
    path.write_text('cluster "hci-one" {\n  version = "22H2"\n  registered = true\n  witness = cloud\n'
                    '  node "N1" { memory = 512GB  ip = 10.0.0.11 }\n  vm_group "a" { count = 1  memory = 8GB }\n}\n'
                    'upgrade "hci-one" {\n  to = "23H2"\n  method = offline\n  source = media\n'
                    '  media_path = "D:\\\\m"\n  max_failed_nodes = 1\n'
                    '  window "w" { start = 2026-12-05T22:00Z  end = 2026-12-06T06:00Z }\n}\n', encoding="utf-8")
    out = CliRunner().invoke(cli, ["check", str(path)]).stdout
    assert "every reboot takes the one VM down" in out and "the one VM is down while every node" in out
    assert "with 1 node CAU accepts 0 to 0" in out
    assert not ONE_PLURAL.search(out), ONE_PLURAL.search(out).group(0)
