"""Issue 17 item 4: a probability is never shown as 100% or 0% unless it is exactly that, and shows the same everywhere."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hciplan.backends import runbook
from hciplan.compare.render import _share as compare_share
from hciplan.percent import setting_text, share_text, stored_share
from hciplan.simulator import montecarlo, plots, report
from hciplan.simulator.result import SimResult
from plan_models import Shape
from sim_helpers import fixed_timing, prepare_text, shape_text

shares = st.one_of(st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
                   st.integers(0, 10**6).map(lambda k: k / 10**6),  # a share of a million runs
                   st.sampled_from([0.0, 1.0, 0.9995, 0.99949, 0.00049, 0.0005, 5e-324, 1 - 2**-53]))


@pytest.mark.parametrize(("value", "text"), [(0.998, "99.8%"), (0.9996, ">99.9%"), (1.0, "100%"), (0.0004, "<0.1%"),
                                             (0.0, "0%"), (0.5, "50.0%"), (0.0005, "0.1%"), (0.9994, "99.9%")])
def test_the_brief_examples(value: float, text: str) -> None:
    assert share_text(value) == text


@given(shares)
def test_never_100_or_0_unless_exact(value: float) -> None:
    text = share_text(value)
    assert (text == "100%") == (value == 1.0), (value, text)
    assert (text == "0%") == (value == 0.0), (value, text)
    assert re.fullmatch(r"0|100|<0\.1|>99\.9|\d{1,2}\.\d", text[:-1]), text
    assert share_text(value, sign=False) == text[:-1]


@given(shares)
def test_the_stored_share_shows_the_same_figure(value: float) -> None:
    """The text of a share and of that share read back from a document (as the runbook and report read it) agree."""
    stored = stored_share(value)
    assert stored in (0.0, 1.0) and stored == value or 0.0 < stored < 1.0 or value == stored
    assert (stored == 1.0) == (value == 1.0) and (stored == 0.0) == (value == 0.0)
    assert share_text(stored) == share_text(value)
    assert share_text(json.loads(json.dumps(stored))) == share_text(value)
    assert stored_share(stored) == stored


def test_settings_are_shown_as_given() -> None:
    assert [setting_text(c) for c in (0.9, 0.999, 0.975, 0.5)] == ["90%", "99.9%", "97.5%", "50%"]


@pytest.fixture(scope="module")
def simulated():
    plan, sp = prepare_text(shape_text(Shape(nodes=3), tail=fixed_timing()))
    summary = montecarlo.simulate(sp, 200, 0, jobs=1)
    assert summary.p_within_window is not None
    return plan, sp, summary


@settings(max_examples=60, deadline=None)
@given(shares)
def test_one_simulation_shows_one_figure_everywhere(simulated, value: float) -> None:
    """simulate's text, the histogram's title, the runbook (from the saved JSON) and compare show the same share."""
    plan, sp, summary = simulated
    summary = dataclasses.replace(summary, p_within_window=value)
    expected = share_text(value)
    text = report.render_text(sp, summary)
    shown = re.search(r"^Within window +(\S+) ", text, re.M).group(1)
    title = re.search(r", (\S+) within the window$", plots.histogram_title(sp, summary)).group(1)
    document = json.loads(report.render_json(sp, summary))
    saved = SimResult.from_document(document)
    page = runbook.render(plan, (), saved)
    chance = re.search(r"\| Chance to finish in the windows \| (\S+) \|", "".join(page.values())).group(1)
    assert shown == title == chance == compare_share(document["p_within_window"]) == expected
