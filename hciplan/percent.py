"""How a probability is shown: the one formatting every report uses (simulate, plots, runbook, report, compare, progress).

Rounding must never hide a risk: a share of 99.96% of runs is not "100%", and
one run in 5,000 is not "0%". So a share is shown to one decimal, except
that only an exact 1 is "100%" and only an exact 0 is "0%"; what would round
to them says so: ">99.9%", "<0.1%".

The documents store shares to four decimals (`stored_share`), except a share
that those decimals would turn into an exact 0 or 1, which is stored as
computed. `share_text` formats the stored value of what it is given, so the
text of a share and the text of the same share read back from an
`hciplan.sim/1` document (the runbook's, the report's) are the same.

Settings (the window rule's confidence, at most 0.999) are not estimates:
`setting_text` shows them as given, with no rounding at all.
"""

from __future__ import annotations

DIGITS = 4  # decimals of a share in the JSON documents


def stored_share(value: float | None) -> float | None:
    """A share as the documents store it: four decimals, but never an inexact 0 or 1."""
    if value is None:
        return None
    rounded = round(value, DIGITS)
    if rounded in (0.0, 1.0) and value != rounded:
        return value  # 0.99996 of the runs is not all of them
    return rounded


def share_text(value: float | None, sign: bool = True, missing: str = "-") -> str:
    """`99.8%`, `>99.9%`, `100%` (exactly 1 only), `<0.1%`, `0%` (exactly 0 only); `missing` for None.

    `sign=False` leaves out the `%` (the ends of an interval printed after a share).
    """
    if value is None:
        return missing
    value = stored_share(value)
    suffix = "%" if sign else ""
    if value >= 1.0:
        return "100" + suffix
    if value <= 0.0:
        return "0" + suffix
    text = f"{100 * value:.1f}"
    if text == "100.0":
        return ">99.9" + suffix
    if text == "0.0":
        return "<0.1" + suffix
    return text + suffix


def setting_text(value: float) -> str:
    """A probability the user set (`--confidence 0.975`) as given: `97.5%`, `90%`, `99.9%`."""
    return f"{100 * value:g}%"
