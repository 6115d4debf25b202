"""Issue 17 item 2: mixed OS mode for more than 4 weeks [W-rolling] is a warning (HCI805) and a simulated figure."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import REGISTRY, Severity
from hciplan.compiler.mixed import LIMIT_MINUTES, mixed_span, mixed_steps
from hciplan.compiler.pipeline import check_text
from hciplan.simulator.result import SimResult
from helpers import ROOT, mutate

FOUR_NODE = (ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8")
# sat-2, where the last two nodes upgrade, ten weeks after sat-1 instead of one
WEEKS_APART = mutate(FOUR_NODE,
                     ("start = 2026-12-12T22:00Z\n    end   = 2026-12-13T06:00Z", "start = 2027-02-13T22:00Z\n    end   = 2027-02-14T06:00Z"),
                     ("start = 2026-12-19T22:00Z\n    end   = 2026-12-20T06:00Z", "start = 2027-02-20T22:00Z\n    end   = 2027-02-21T06:00Z"),
                     ("start = 2027-01-09T22:00Z\n    end   = 2027-01-10T06:00Z", "start = 2027-03-13T22:00Z\n    end   = 2027-03-14T06:00Z"))


def compiled(text: str):
    result = compile_checked(check_text(text, "mixed.hciplan"))
    assert result.plan is not None, [(d.code, d.message) for d in result.diagnostics]
    return result


def hci805(result) -> list:
    return [d for d in result.diagnostics if d.code == "HCI805"]


def test_windows_weeks_apart_warn_with_the_numbers_and_the_windows() -> None:
    result = compiled(WEEKS_APART)
    [warning] = hci805(result)
    assert warning.severity is Severity.WARNING
    assert "mixed OS mode is expected to last 70 days" in warning.message, warning.message
    assert "in window `sat-1`" in warning.message and "in window `sat-2`" in warning.message
    assert "2026-12-06T" in warning.message and "2027-02-1" in warning.message
    assert "[W-rolling]" in warning.message and "4 weeks" in warning.message
    assert warning.span.line == WEEKS_APART[:WEEKS_APART.index('window "sat-2"')].count("\n") + 1  # at sat-2
    assert [r.message for r in warning.related] == ["mixed mode begins in this window"]
    assert warning.hints


def test_the_shipped_weekly_windows_and_a_one_window_plan_do_not_warn() -> None:
    assert hci805(compiled(FOUR_NODE)) == []  # a week apart: mixed mode about a week
    one = (ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8")
    assert one.count("window \"") == 1
    assert hci805(compiled(one)) == []


def test_check_reports_it_and_explain_cites_the_source(tmp_path) -> None:
    path = tmp_path / "weeks.hciplan"
    path.write_text(WEEKS_APART, encoding="utf-8")
    out = CliRunner().invoke(cli, ["check", str(path)])
    assert out.exit_code == 0, out.output  # a warning, not an error
    assert "warning[HCI805]" in out.output
    entry = REGISTRY["HCI805"]
    assert entry.severity is Severity.WARNING and "[W-rolling]" in entry.source
    assert "4 weeks" in entry.explanation


def test_the_span_runs_from_the_first_node_on_23h2_to_the_functional_level() -> None:
    plan = compiled(FOUR_NODE).plan
    steps = mixed_steps(plan)
    assert len(steps.os_upgraded) == 4 and plan.steps[steps.functional_level].kind.endswith("functional_level")
    finish = [-1.0] * len(plan.steps)
    for k, i in enumerate(steps.os_upgraded):
        finish[i] = 100.0 * (k + 1)
    assert mixed_span(finish, steps.os_upgraded, steps.functional_level) == (100.0, None)  # level not raised
    finish[steps.functional_level] = 900.0
    assert mixed_span(finish, steps.os_upgraded, steps.functional_level) == (100.0, 900.0)
    assert mixed_span(finish, steps.os_upgraded, None) == (100.0, 400.0)  # raised by hand: the last node
    finish[steps.os_upgraded[-1]] = -1.0
    assert mixed_span(finish, steps.os_upgraded, steps.functional_level) == (100.0, None)  # a node on 22H2
    assert mixed_span([-1.0] * len(plan.steps), steps.os_upgraded, None) is None


def test_simulate_reports_the_mixed_mode_p50_and_p90(tmp_path) -> None:
    path = tmp_path / "weeks.hciplan"
    path.write_text(WEEKS_APART, encoding="utf-8")
    runner = CliRunner()
    text = runner.invoke(cli, ["simulate", str(path), "--runs", "60", "--jobs", "1"]).output
    line = next(line for line in text.splitlines() if line.startswith("Mixed OS mode"))
    assert "P50 70d" in line or "P50 69d" in line, line
    assert "more than Microsoft's 4 weeks" in line
    document = json.loads(runner.invoke(cli, ["simulate", str(path), "--runs", "60", "--jobs", "1",
                                              "--format", "json"]).stdout)
    mixed = document["mixed_mode"]
    assert mixed["limit_minutes"] == LIMIT_MINUTES
    assert mixed["runs"] + mixed["still_mixed_runs"] <= 60 and mixed["runs"] > 0
    assert LIMIT_MINUTES < mixed["minutes"]["p50"] <= mixed["minutes"]["p90"] <= mixed["minutes"]["max"]
    low, high = mixed["intervals"]["p50"]
    assert low <= mixed["minutes"]["p50"] <= high
    assert SimResult.from_document(document).to_document() == document  # the field round-trips


def test_mixed_mode_that_no_window_ends_warns_when_the_windows_go_on_past_4_weeks() -> None:
    """Two nodes upgrade in sat-1; the later windows are an hour long, so no node pass fits and mixed mode never ends."""
    short = mutate(FOUR_NODE,
                   ("start = 2026-12-12T22:00Z\n    end   = 2026-12-13T06:00Z", "start = 2027-02-13T22:00Z\n    end   = 2027-02-13T23:00Z"),
                   ("start = 2026-12-19T22:00Z\n    end   = 2026-12-20T06:00Z", "start = 2027-02-20T22:00Z\n    end   = 2027-02-20T23:00Z"),
                   ("start = 2027-01-09T22:00Z\n    end   = 2027-01-10T06:00Z", "start = 2027-03-13T22:00Z\n    end   = 2027-03-13T23:00Z"))
    [warning] = hci805(compiled(short))
    assert "begins in window `sat-1`" in warning.message and "does not end in the windows" in warning.message
    assert "98 days more" in warning.message, warning.message
    assert warning.span.line == short[:short.index('window "sat-1"')].count("\n") + 1
    near = mutate(short, ("start = 2027-03-13T22:00Z\n    end   = 2027-03-13T23:00Z", "start = 2026-12-26T22:00Z\n    end   = 2026-12-26T23:00Z"),
                  ("start = 2027-02-20T22:00Z\n    end   = 2027-02-20T23:00Z", "start = 2026-12-19T22:00Z\n    end   = 2026-12-19T23:00Z"),
                  ("start = 2027-02-13T22:00Z\n    end   = 2027-02-13T23:00Z", "start = 2026-12-12T22:00Z\n    end   = 2026-12-12T23:00Z"))
    assert hci805(compiled(near)) == []  # the windows end within 4 weeks: only HCI804's unplaced work remains
