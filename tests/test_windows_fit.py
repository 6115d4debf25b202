"""HCI804: the compiled plan's expected work against its maintenance windows (a plan-level warning)."""

from __future__ import annotations

import math


from hciplan.backends.summary import render_summary
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import Severity
from hciplan.compiler.pipeline import check_text
from hciplan.compiler.quantities import format_minutes

from helpers import BASE, line_of, mutate

THIRD = '  window "third" { start = 2026-12-19T22:00Z  end = 2026-12-20T06:00Z }\n'
FOURTH = '  window "fourth" { start = 2026-12-26T22:00Z  end = 2026-12-27T06:00Z }\n'


def compiled(text: str):
    result = compile_checked(check_text(text, "w.hciplan"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    return result


def hci804(result) -> list:
    return [d for d in result.diagnostics if d.code == "HCI804"]


def test_a_plan_that_fits_its_windows_has_no_warning():
    result = compiled(BASE)  # about 24.3h of work in four 8h windows
    assert 24 * 60 < result.plan.critical_path()[0] <= 32 * 60
    assert hci804(result) == []


def test_work_beyond_the_windows_is_a_warning_with_the_numbers():
    text = mutate(BASE, (THIRD, ""), (FOURTH, ""))
    result = compiled(text)
    work = result.plan.critical_path()[0]
    assert 16 * 60 < work
    (diagnostic,) = hci804(result)
    assert diagnostic.severity is Severity.WARNING
    assert (diagnostic.span.file, diagnostic.span.line) == ("w.hciplan", line_of(text, 'window "first"'))
    needed = math.ceil(work / (8 * 60))
    assert diagnostic.message == (f"the expected work, {format_minutes(work)}, does not fit the 2 windows "
                                  f"(16h00m in all): it needs at least {needed} windows of 8h00m")
    assert "`first` 8h00m, `second` 8h00m" in diagnostic.hints[0]
    assert f"add at least {needed - 2} more window" in diagnostic.hints[1]


def test_a_unit_longer_than_the_longest_window_is_named():
    # A 2h window: the solution deployment alone (2.5-3 h [A-arm]) cannot fit any number of them.
    short = mutate(BASE, ("end = 2026-12-06T06:00Z", "end = 2026-12-06T00:00Z"),
                   ("end = 2026-12-13T06:00+01:00", "end = 2026-12-13T00:00+01:00"),
                   ("end = 2026-12-20T06:00Z", "end = 2026-12-20T00:00Z"),
                   ("end = 2026-12-27T06:00Z", "end = 2026-12-27T00:00Z"))
    (diagnostic,) = hci804(compiled(short))
    assert "cannot fit even the longest window (`first`, 2h00m)" in diagnostic.message
    assert "no number of windows of this length holds it" in diagnostic.message
    assert diagnostic.message.startswith(("step `", "the "))
    assert "a window of at least" in diagnostic.hints[1]


def test_the_longest_window_is_related_when_it_is_not_the_first():
    text = mutate(BASE, (THIRD, ""), (FOURTH, ""), ("end = 2026-12-13T06:00+01:00", "end = 2026-12-13T10:00+01:00"))
    (diagnostic,) = hci804(compiled(text))
    assert "windows of 12h00m" in diagnostic.message
    assert [r.span.line for r in diagnostic.related] == [line_of(text, 'window "second"')]


def test_the_summary_lists_the_warning_once_and_has_no_note_of_its_own():
    result = compiled(mutate(BASE, (THIRD, ""), (FOURTH, "")))
    text = render_summary(result.plan, result.diagnostics)
    assert text.count("HCI804") == 1
    assert "exceeds the windows" not in text and "note " not in text
