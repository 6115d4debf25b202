"""Size and duration literals, and how durations are shown: the one place that parses and formats them.

- `parse_quantity` / `parse_duration`: the file grammar's rules for a literal
  (`768GB`, `1h30m`): the QUANTITY token of the grammar, each unit once, known
  units only, not absurdly large. Lowering uses it for every size and duration
  in a file, and the command line for its durations (`simulate --window`), so
  both accept exactly the same texts.
- `duration_literal`: the canonical literal of a duration (`1h30m`), which
  `parse_duration` reads back; `hciplan fmt` writes it.
- `format_minutes`: a duration as people read it in every report (`1d 1h03m`,
  `3h07m`, `42m`): the plan summary, the simulation report and the runbook.
"""

from __future__ import annotations

import functools
import re

from hciplan.compiler.diagnostics import did_you_mean
from hciplan.compiler.schema import DURATION_UNITS, SIZE_UNITS

QUANTITY_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]+)")

# 2^70 bytes (a zebibyte) or seconds (beyond the age of the universe): far above any real figure, and low
# enough that sums and products over a whole plan stay finite floats.
MAX_QUANTITY = 2**70

DURATION_FORM = "a duration such as `45m`, `6h` or `1h30m` (units d, h, m, s, each at most once)"


class QuantityError(ValueError):
    """A literal the language rejects: its diagnostic code, message and hints.

    `wrong_kind` is set for a size where a duration is expected (or the other
    way round): lowering reports that as a type error of the attribute.
    """

    def __init__(self, code: str, message: str, hints: tuple[str, ...] = (), wrong_kind: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hints = hints
        self.wrong_kind = wrong_kind


@functools.cache
def _token() -> re.Pattern[str]:
    """The grammar's QUANTITY terminal, so a literal outside a file is lexed exactly as inside one."""
    from hciplan.grammar import get_parser

    return re.compile(get_parser().get_terminal("QUANTITY").pattern.to_regexp())


def clip(text: str, limit: int = 24) -> str:
    """A literal short enough to quote in a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_quantity(text: str, kind: str) -> int:
    """The value of a `kind` ("size" or "duration") literal: bytes or whole seconds; QuantityError if invalid."""
    units = SIZE_UNITS if kind == "size" else DURATION_UNITS
    other = DURATION_UNITS if kind == "size" else SIZE_UNITS
    if not _token().fullmatch(text):
        raise QuantityError("HCI103", f"`{clip(text)}` is not a {kind}")
    parts = QUANTITY_PART.findall(text)
    total = 0.0
    seen: set[str] = set()
    for number, unit in parts:
        if unit not in units:
            if unit in other and len(parts) == 1:
                raise QuantityError("HCI103", f"`{clip(text)}` is a {'duration' if kind == 'size' else 'size'}, "
                                    f"not a {kind}", wrong_kind=True)
            raise QuantityError("HCI004", f"unknown {kind} unit `{unit}` in `{text}`",
                                (did_you_mean(unit, units), "units: " + ", ".join(units)))
        if unit in seen or (kind == "size" and len(parts) > 1):
            raise QuantityError("HCI103", f"`{text}` repeats a unit",
                                ("write each unit once, largest first: `1h30m`",))
        seen.add(unit)
        total += float(number) * units[unit]
    if not total <= MAX_QUANTITY:  # also false for inf and nan
        raise QuantityError("HCI109", f"`{clip(text)}` is out of range",
                            ("no attribute takes a size or duration anywhere near this large",))
    return int(round(total))


def parse_duration(text: str) -> int:
    """A duration literal (`45m`, `1h30m`) in whole seconds, by the file's rules; QuantityError if invalid."""
    return parse_quantity(text, "duration")


_DURATION_STEPS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_literal(seconds: int) -> str:
    """Seconds as the canonical literal: `1h30m`, `45m`, 90 -> `1m30s`; zero is `0s`. `parse_duration` reads it back."""
    parts = []
    rest = seconds
    for unit, scale in _DURATION_STEPS:
        count, rest = divmod(rest, scale)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_minutes(minutes: float) -> str:
    """`1d 4h05m`, `3h07m`, `42m`: whole minutes, the way a change board reads durations (every report)."""
    total = int(round(minutes))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h{mins:02d}m"
    if hours:
        return f"{hours}h{mins:02d}m"
    return f"{mins}m"
