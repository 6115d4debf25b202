"""The README's Quick start (POSIX and PowerShell) and its shell completion lines say what works."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(language: str, after: str) -> str:
    start = README.index(f"```{language}\n", README.index(after)) + len(language) + 4
    return README[start: README.index("```", start)]


def test_the_quick_start_posix_lines_are_the_ones_ci_reads():
    assert block("sh", "## Quick start") == (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && hciplan plan examples/four-node.hciplan"
        " && hciplan simulate examples/four-node.hciplan\n"
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest\n")


def test_the_powershell_quick_start_runs_the_same_commands():
    posix = [c.strip() for line in block("sh", "## Quick start").splitlines() for c in line.split("&&")]
    shell = [re.sub(r"\s+#.*$", "", line) for line in block("powershell", "## Quick start").splitlines()]
    translated = {"python3 -m venv .venv": "py -3 -m venv .venv", ". .venv/bin/activate": r".\.venv\Scripts\Activate.ps1"}
    expected = []
    for command in posix:
        command = translated.get(command, command.replace("examples/", "examples\\"))
        if command not in expected:  # the second line's venv and activation are already done
            expected.append(command)
    assert shell == expected


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_documented_completion_lines_produce_a_script(shell):
    assert f"_HCIPLAN_COMPLETE={shell}_source hciplan" in block("sh", "### Shell completion")
    env = {**os.environ, "_HCIPLAN_COMPLETE": f"{shell}_source", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "hciplan"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and "_HCIPLAN_COMPLETE" in result.stdout


def test_bash_completes_explain_codes_through_the_real_entry_point():
    env = {**os.environ, "_HCIPLAN_COMPLETE": "bash_complete", "COMP_WORDS": "hciplan explain HCI30",
           "COMP_CWORD": "2", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "hciplan"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and "plain,HCI305\n" in result.stdout
