"""The fixed PowerShell helpers of the upgrade script, and which of them a script needs.

The helpers are real Windows PowerShell 5.1 files, `lib/*.ps1`, shipped as package data and read with
`importlib.resources`, so editors highlight them, tree-sitter parses each one alone and a Windows user can
lint them. Each file holds top-level `function Name { ... }` definitions (the closing brace alone at the
start of a line); only those regions are copied into a script, the file's header comments are not.

No helper holds a value from the `.hciplan` file: plan values live in the script's data region as quoted
literals (`pstext.literal`), and the helpers read them by name. Double-quoted (expandable) strings are never
used, so no text is ever interpolated into code. Sources are cited next to the behaviour with the domain
reference's tags (../shared/domain.md).

Which helpers a script includes is worked out, not declared: `needed` scans the emitted code for calls of
helper names, then the helpers' own bodies, the same way `script.required_modules` scans for cmdlets to write
`#Requires -Modules`. A helper no emitted line calls is left out.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

# The order helpers appear in a script: file by file, then as defined in the file (deterministic, and
# independent of which steps a plan has).
FILES = ("runner", "journal", "waits", "node", "bitlocker", "storage", "setup", "preflight", "azure", "cau_run")

_START = re.compile(r"^function ([A-Za-z]+-[A-Za-z0-9]+) \{$")
# A command-like word (Verb-Noun), as `script.required_modules` finds cmdlets.
_WORD = re.compile(r"\b[A-Z][A-Za-z]+-[A-Za-z0-9]+\b")
_COMMENT_LINE = re.compile(r"^\s*#")


@dataclass(frozen=True)
class Helper:
    """One helper function: its name, the file it lives in and its code (from `function` to the closing brace)."""

    name: str
    file: str
    code: str


def _split(file: str, text: str) -> list[Helper]:
    """The functions of one lib file, in definition order; anything else but comments is an error."""
    helpers: list[Helper] = []
    current: list[str] | None = None
    name = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None:
            match = _START.match(line)
            if match:
                name, current = match.group(1), [line]
            elif line.strip() and not _COMMENT_LINE.match(line):
                # Code outside a function would silently never reach a script.
                raise ValueError(f"lib/{file}.ps1:{number}: code outside a function")
            continue
        current.append(line)
        if line == "}":
            helpers.append(Helper(name, file, "\n".join(current)))
            current = None
    if current is not None:
        raise ValueError(f"lib/{file}.ps1: function {name} has no closing brace at the start of a line")
    return helpers


def read_file(file: str) -> str:
    """The text of `lib/<file>.ps1`."""
    return resources.files(__package__).joinpath("lib", f"{file}.ps1").read_text(encoding="utf-8")


@functools.cache
def helpers() -> dict[str, Helper]:
    """Every helper by name, in script order (FILES, then definition order)."""
    found: dict[str, Helper] = {}
    for file in FILES:
        for helper in _split(file, read_file(file)):
            if helper.name.lower() in (n.lower() for n in found):  # PowerShell names are case-insensitive
                raise ValueError(f"helper {helper.name} is defined twice (lib/{file}.ps1)")
            found[helper.name] = helper
    return found


def calls(code: str) -> set[str]:
    """The helpers `code` names outside comment lines (whether it calls or mentions them)."""
    code = "\n".join(line for line in code.splitlines() if not _COMMENT_LINE.match(line))
    names = {name.lower(): name for name in helpers()}
    return {names[word.lower()] for word in _WORD.findall(code) if word.lower() in names}


def needed(code: str) -> list[Helper]:
    """The helpers `code` calls, and those they call in turn, in script order."""
    library = helpers()
    seen: set[str] = set()
    pending = sorted(calls(code))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += sorted(calls(library[name].code) - seen)
    return [helper for name, helper in library.items() if name in seen]

