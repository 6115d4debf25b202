"""Issue 17 item 10: `plan` and `simulate` wrapped to the terminal with hanging indents; --color, NO_COLOR, FORCE_COLOR."""

from __future__ import annotations

import io
import os
import re
import sys

import pytest
from click.testing import CliRunner
from rich.text import Text

from hciplan.cli import cli
from hciplan.terminal import colour_wanted, layout, width_for, wrap_line
from helpers import ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*m")
FOUR_NODE = str(ROOT / "examples" / "four-node.hciplan")
AKS = str(ROOT / "examples" / "aks.hciplan")
CLEAN = {"COLUMNS": None, "NO_COLOR": None, "FORCE_COLOR": None}


def run(args: list[str], **env: str | None) -> str:
    result = CliRunner().invoke(cli, args, env={**CLEAN, **env}, color=True)  # color=True: click strips nothing
    assert result.exit_code == 0, result.output
    return result.stdout


def unbreakable(line: str) -> bool:
    """An overlong line is allowed only when its last word, alone after its indent or label gap, is the overflow."""
    body = line.rstrip()
    before = body[:body.rfind(" ") + 1]
    return before.strip() == "" or before.endswith("  ")


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    """The unwrapped reports (a pipe, no COLUMNS) and each wrapped at 80 and 120 columns."""
    out = {}
    for name, args in (("plan", ["plan", AKS]), ("simulate", ["simulate", FOUR_NODE, "--runs", "60", "--jobs", "1"])):
        out[name] = run(args)
        for width in (80, 120):
            out[f"{name}@{width}"] = run(args, COLUMNS=str(width))
    return out


@pytest.mark.parametrize("name", ["plan", "simulate"])
@pytest.mark.parametrize("width", [80, 120])
def test_no_line_is_longer_than_the_width_except_an_unbreakable_token(reports, name, width):
    wrapped = reports[f"{name}@{width}"]
    long = [line for line in wrapped.splitlines() if len(line) > width]
    assert all(unbreakable(line) for line in long), long
    assert any(len(line) > width for line in reports[name].splitlines())  # the test has something to wrap


@pytest.mark.parametrize("name", ["plan", "simulate"])
@pytest.mark.parametrize("width", [80, 120])
def test_wrapping_never_breaks_a_token(reports, name, width):
    """The same words in the same order: only the whitespace between them changed."""
    assert reports[f"{name}@{width}"].split() == reports[name].split()
    assert len(reports[f"{name}@{width}"].splitlines()) > len(reports[name].splitlines())


def test_continuation_lines_hang_under_the_value(reports):
    lines = reports["plan@80"].splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("  expected      "))
    assert len(lines[at]) <= 80 and re.match(r" {16}\S", lines[at + 1]), lines[at:at + 2]  # under the value
    step = next(k for k, line in enumerate(lines) if line.startswith("  p0.registration_repair "))
    value = lines[step].index("Repair")
    assert re.match(rf" {{{value}}}\S", lines[step + 1]), lines[step:step + 2]


def test_wrap_line_keeps_styles_and_a_long_word_whole():
    line = Text.from_ansi("  label         \x1b[1mbold\x1b[0m words " + "x" * 90 + " tail")
    pieces = wrap_line(line, 40)
    assert [p.plain for p in pieces] == ["  label         bold words", " " * 16 + "x" * 90, " " * 16 + "tail"]
    assert any(span.style for span in pieces[0].spans)  # the bold survived the cut
    assert layout("a short line\n", 40, False) == "a short line\n"
    assert layout("x " * 50, None, False) == "x " * 50  # no width: the renderer's own line


def test_no_ansi_in_a_pipe_unless_forced(reports):
    assert not ANSI.search(reports["plan"]) and not ANSI.search(reports["simulate"])
    for args in (["plan", AKS], ["simulate", FOUR_NODE, "--runs", "20", "--jobs", "1"]):
        assert ANSI.search(run(args, FORCE_COLOR="1"))
        assert ANSI.search(run(["--color", "always", *args]))
        assert not ANSI.search(run(args, FORCE_COLOR="1", NO_COLOR="1"))  # NO_COLOR wins
        assert not ANSI.search(run(["--color", "never", *args], FORCE_COLOR="1"))


def test_simulate_colours_like_plan():
    text = run(["--color", "always", "simulate", FOUR_NODE, "--runs", "40", "--jobs", "1"])
    assert "\x1b[1mSimulation of" in text and "\x1b[1mOutcomes" in text
    assert ANSI.sub("", text) == run(["simulate", FOUR_NODE, "--runs", "40", "--jobs", "1"])  # only the styles differ


class _Tty:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_the_colour_rules(monkeypatch):
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    assert colour_wanted("auto", _Tty(True)) and not colour_wanted("auto", _Tty(False))
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert colour_wanted("auto", _Tty(False))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted("auto", _Tty(True))
    assert colour_wanted("always", _Tty(False)) and not colour_wanted("never", _Tty(True))


class _Terminal:
    """A stream that says it is a terminal, with a file descriptor (or none: click's Windows wrappers)."""

    def __init__(self, fd):
        self.fd = fd

    def isatty(self):
        return True

    def fileno(self):
        if self.fd is None:
            raise OSError("no descriptor")
        return self.fd


def test_the_width_is_the_terminals_the_streams_first(monkeypatch):
    sizes = {7: os.terminal_size((132, 40)), 1: os.terminal_size((100, 30))}

    def size(fd):
        if fd not in sizes:
            raise OSError("not a terminal")
        return sizes[fd]

    class Stdout:
        def fileno(self):
            return 1

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", size)
    monkeypatch.setattr(sys, "__stdout__", Stdout())
    assert width_for(_Terminal(7)) == 132  # the stream's own terminal
    assert width_for(_Terminal(None)) == 100  # no descriptor: the process's stdout, as shutil asks
    monkeypatch.setattr(sys, "__stdout__", None)
    assert width_for(_Terminal(9)) == 80  # neither is a terminal: shutil's fallback
    assert width_for(io.StringIO()) is None  # not a terminal: no wrapping
    monkeypatch.setenv("COLUMNS", "57")
    assert width_for(_Terminal(7)) == 57 and width_for(io.StringIO()) == 57  # COLUMNS wins, as documented
