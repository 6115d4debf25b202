"""Durations: the command line accepts exactly the literals a file accepts, and every report shows them alike."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hciplan.cli import cli
from hciplan.compiler.quantities import QuantityError, duration_literal, format_minutes, parse_duration
from hciplan.simulator import MAX_WINDOW_DAYS, parse_window
from helpers import BASE, EXAMPLES, check


def file_duration(text: str) -> int | None:
    """The seconds a file gives `per_vm_migration = TEXT` (a duration with no upper bound), None if rejected."""
    result = check(BASE + f"\ntiming {{ per_vm_migration = {text} }}\n")
    if result.model is None or any(d.severity.name == "ERROR" for d in result.diagnostics):
        return None
    return result.model.timing.per_vm_migration


def cli_window(text: str) -> float | None:
    try:
        return parse_window(text)
    except ValueError:
        return None


# Near-misses of duration literals: digits, decimals, the units and their neighbours, repeats, signs, spaces.
PIECES = st.sampled_from(["0", "1", "3", "45", "1.5", "0.25", "007", ".", "-", " ", "d", "h", "m", "s", "H", "M",
                          "x", "ms", "GB", "1h", "30m", "3h", "h3", "9999999999999999999999d"])
NEAR_MISSES = st.lists(PIECES, min_size=1, max_size=5).map("".join)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(NEAR_MISSES)
def test_the_window_accepts_exactly_what_a_file_accepts(text):
    in_file = file_duration(text)
    on_cli = cli_window(text)
    if in_file is None:
        assert on_cli is None, f"--window {text!r} accepted, the file rejects it"
    elif 60 <= in_file <= MAX_WINDOW_DAYS * 86400:
        assert on_cli == in_file / 60, f"--window {text!r} gives {on_cli} min, the file {in_file / 60}"
    else:
        assert on_cli is None  # a valid literal, outside the window's range (a minute to a year)


@pytest.mark.parametrize("text", ["3h3h", "1h30", "90", "1H", "6 h", "1h 30m", "1.h", "٣h", "", "-1h", "1h-30m"])
def test_both_reject(text):
    assert file_duration(text) is None
    assert cli_window(text) is None


@pytest.mark.parametrize("text, minutes", [("6h", 360), ("1h30m", 90), ("30m1h", 90), ("1.5h", 90), ("1d", 1440),
                                           ("90m", 90), ("3600s", 60)])
def test_both_accept(text, minutes):
    assert file_duration(text) == minutes * 60
    assert cli_window(text) == minutes


def test_the_cli_says_the_accepted_form():
    result = CliRunner().invoke(cli, ["simulate", str(EXAMPLES / "four-node.hciplan"), "--window", "3h3h"])
    assert result.exit_code == 2
    assert "`3h3h` repeats a unit" in result.output
    assert "`1h30m`" in result.output and "`none`" in result.output
    assert "Traceback" not in result.output


@given(st.integers(0, 400 * 86400))
@settings(deadline=None, derandomize=True)
def test_the_canonical_literal_reads_back(seconds):
    assert parse_duration(duration_literal(seconds)) == seconds


def test_quantity_errors_carry_the_files_codes():
    with pytest.raises(QuantityError) as repeated:
        parse_duration("3h3h")
    with pytest.raises(QuantityError) as unknown:
        parse_duration("3w")
    assert (repeated.value.code, unknown.value.code) == ("HCI103", "HCI004")


@pytest.mark.parametrize("minutes, text", [(42, "42m"), (187, "3h07m"), (1503, "1d 1h03m"), (1440, "1d 0h00m"),
                                           (0.4, "0m"), (59.6, "1h00m")])
def test_one_display_format(minutes, text):
    assert format_minutes(minutes) == text


# A shown duration: `42m`, `3h07m` or `1d 1h03m`, never `25h03m`.
SHOWN = re.compile(r"(?<![\w+-])(?:(\d+)d )?(\d+)h(\d\d)m\b")


def shown_durations(text: str) -> list[str]:
    found = []
    for match in SHOWN.finditer(text):
        days, hours, mins = match.groups()
        assert int(hours) < 24, f"{match.group(0)!r} should be written with days"
        assert int(mins) < 60
        total = (int(days or 0) * 24 + int(hours)) * 60 + int(mins)
        assert format_minutes(total) == match.group(0)
        found.append(match.group(0))
    return found


def test_plan_simulate_and_runbook_show_durations_alike(tmp_path):
    """Plan and simulate show the same figure the same way: the windows' total, days written as days."""
    example = str(EXAMPLES / "sixteen-node.hciplan")
    runner = CliRunner()
    plan = runner.invoke(cli, ["plan", example])
    simulated = runner.invoke(cli, ["simulate", example, "--runs", "5", "--jobs", "1", "--window", "25h3m"])
    runbook = runner.invoke(cli, ["emit", example, "--backend", "runbook", "-o", str(tmp_path)])
    assert plan.exit_code == 0 and simulated.exit_code == 0 and runbook.exit_code == 0
    runbook_text = (tmp_path / "RUNBOOK.md").read_text(encoding="utf-8")
    for text in (plan.output, simulated.output, runbook_text):
        assert shown_durations(text)
    assert "(1d 0h00m in all)" in plan.output and "(1d 0h00m in all)" in runbook_text
    assert "24h00m" not in plan.output + runbook_text
