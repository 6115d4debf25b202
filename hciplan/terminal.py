"""The terminal: whether to colour, how wide to lay out, and wrapping with hanging indents (rich).

`plan` and `simulate` print reports made of aligned lines: a label, a run of
spaces, then the value (`  method        cau (Windows Update)`). On a narrow
terminal such a line is wrapped between words, never inside one, and its
continuation lines start under the value (the hanging indent); a line
without a label gap continues two columns in from where it starts. A word
longer than the room left (a fingerprint, a path) stays whole on its own line.

Colour (docs: README, "Colour and width"): `--color always|never` decides; with
`auto` (the default) NO_COLOR (https://no-color.org) turns it off, else
FORCE_COLOR turns it on, else only a terminal gets it. Width: COLUMNS when
set, else the terminal's width; output that is not a terminal (a pipe, a file)
is not wrapped unless COLUMNS asks for it, so scripts and goldens see the
renderers' own lines, byte for byte. rich is imported only to wrap, so a
command whose output is not wrapped (a pipe, `check`) does not load it.
"""

from __future__ import annotations

import io
import os
import re
import sys
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

CHOICES = ("auto", "always", "never")
MIN_ROOM = 24  # below this many columns for the value, the continuation hangs two columns in instead
_GAP = re.compile(r"\S {2,}(?=\S)")  # the end of a label: a run of two or more spaces after text
_WORD = re.compile(r"\S+\s*")


def colour_wanted(choice: str, stream: IO | None) -> bool:
    """Whether to write ANSI colour to `stream` (see the module docstring for the order of the rules)."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def width_for(stream: IO | None) -> int | None:
    """The columns to lay out for: COLUMNS, else a terminal's width; None (no wrapping) for a pipe or a file."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if stream is not None and hasattr(stream, "isatty") and stream.isatty():
        # the terminal's width, as shutil.get_terminal_size asks it (without importing shutil): from the
        # stream itself first (stderr may be the terminal when stdout is a pipe), else the process's stdout
        # (click wraps the streams on Windows), else 80 columns
        for candidate in (stream, sys.__stdout__):
            try:
                columns = os.get_terminal_size(candidate.fileno()).columns
            except (AttributeError, OSError, ValueError):
                continue
            if columns > 0:
                return columns
        return 80
    return None


def hang_of(plain: str, width: int) -> int:
    """The column continuation lines start at: under the value after the label gap, or two in from the line."""
    lead = len(plain) - len(plain.lstrip(" "))
    gap = _GAP.search(plain, lead)
    if gap is not None and width - gap.end() >= MIN_ROOM:
        return gap.end()
    return min(lead + 2, max(0, width - MIN_ROOM))


def _breaks(plain: str, start: int, first_room: int, room: int) -> list[int]:
    """Offsets to cut `plain` at (greedy, between words only), its text from `start` in."""
    from rich.cells import cell_len

    cuts, used, limit = [], 0, first_room
    for word in _WORD.finditer(plain, start):
        size = cell_len(word.group().rstrip())
        if used and used + size > limit:
            cuts.append(word.start())
            used, limit = 0, room
        used += cell_len(word.group())
    return cuts


def wrap_line(line: Text, width: int) -> list[Text]:
    """One line as lines of at most `width` columns (a longer word stays whole), continuations hanging."""
    from rich.cells import cell_len
    from rich.text import Text

    plain = line.plain
    if cell_len(plain) <= width:
        return [line]
    hang = hang_of(plain, width)
    lead = len(plain) - len(plain.lstrip(" "))
    gap = _GAP.search(plain, lead)
    value_start = gap.end() if gap else lead  # the label is never broken
    cuts = _breaks(plain, value_start, width - cell_len(plain[:value_start]), width - hang)
    if not cuts:
        return [line]
    pieces = line.divide(cuts)
    out = [pieces[0]]
    for piece in pieces[1:]:
        piece.rstrip()
        out.append(Text(" " * hang) + piece)
    for piece in out:
        piece.rstrip()
    return out


def layout(text: str, width: int | None, colour: bool) -> str:
    """`text` (its ANSI styles read by rich) wrapped to `width` (None: not wrapped), with or without colour."""
    if width is None:
        return text  # the renderers' own lines (styled by them, or plain)
    from rich.console import Console
    from rich.text import Text

    console = Console(file=io.StringIO(), width=max(width, 1), force_terminal=colour, no_color=not colour,
                      color_system="standard" if colour else None, highlight=False, emoji=False,
                      legacy_windows=False, markup=False)
    out = []
    for raw in text.split("\n"):
        line = Text.from_ansi(raw) if "\x1b" in raw else Text(raw)
        for piece in (wrap_line(line, width) if width else [line]):
            if not colour:
                out.append(piece.plain)
                continue
            console.begin_capture()
            console.print(piece, end="", soft_wrap=True)
            out.append(console.end_capture())
    return "\n".join(out)
