"""PowerShell text helpers: how values from a `.hciplan` file enter generated PowerShell.

Every value written by the user (cluster, node, pool and volume names, the
media path, window names, solution inputs) reaches the PowerShell backend
through `literal()` (comments through `comment_text()`), so the rules for
quoting live in one place and the tests can exercise them directly. The
escapers of the other outputs are in `escape.py`, which re-exports these.

PowerShell rules used here (Windows PowerShell 5.1 language specification,
section 2.3.5.2 "String literals"): a single-quoted string ends at any of the
five single-quote characters (' U+2018 U+2019 U+201A U+201B) and reads two of
them in a row as one; nothing else is special inside it. Doubling every
quote character is what `[CodeGeneration]::EscapeSingleQuotedStringContent`
does. Characters that are invisible or unsafe in a reviewed file (controls
other than tab and newline, format characters such as bidirectional
overrides, line/paragraph separators, surrogates, private-use and unassigned
code points) are not written raw: they become `[char]0xXXXX` joined with `+`,
so a reviewer sees them and the file stays valid UTF-8.
"""

from __future__ import annotations

import re
import unicodedata

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
_SAFE_CONTROLS = {"\t", "\n"}


def _unsafe(char: str) -> bool:
    return char not in _SAFE_CONTROLS and unicodedata.category(char) in _UNSAFE_CATEGORIES


def _quoted(text: str) -> str:
    return "'" + "".join(c * 2 if c in SINGLE_QUOTES else c for c in text) + "'"


def literal(value: str) -> str:
    """`value` as a PowerShell expression that evaluates to exactly that string.

    Usually one single-quoted literal; when the value holds unsafe characters,
    a parenthesised concatenation of literals and `[char]0xXXXX` casts (valid
    both as an argument and inside an expression).
    """
    if not any(_unsafe(c) for c in value):
        return _quoted(value)
    parts: list[str] = []
    run = ""
    for char in value:
        if _unsafe(char):
            if run:
                parts.append(_quoted(run))
                run = ""
            parts.append(f"[char]0x{ord(char):04X}")
        else:
            run += char
    if run:
        parts.append(_quoted(run))
    if not parts[0].startswith("'"):
        parts.insert(0, "''")  # '' + [char]... keeps the result a string, not a char
    return "(" + " + ".join(parts) + ")"


def literal_list(values) -> str:
    """A PowerShell array expression of string literals: @('a', 'b')."""
    return "@(" + ", ".join(literal(v) for v in values) + ")"


def visible(value: str) -> str:
    """`value` on one line with unsafe characters and newlines shown as \\uXXXX escapes."""
    out = []
    for char in value:
        if char in ("\n", "\r") or _unsafe(char):
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def comment_text(value: str) -> str:
    """Text safe inside a PowerShell comment, line or block: one line, no block-comment delimiters."""
    return visible(value).replace("#>", "# >").replace("<#", "< #")


_FUNCTION_CHARS = re.compile(r"[^A-Za-z0-9_]+")


def function_name(prefix: str, step_id: str) -> str:
    """A PowerShell function name for a step id: `Step-` + the id with other characters as `-`.

    Step ids are built from phase names, verbs, NetBIOS node names and volume
    names made safe by the builder; this keeps only [A-Za-z0-9_] and `-`.
    """
    return prefix + "-" + _FUNCTION_CHARS.sub("-", step_id).strip("-")


def function_names(prefix: str, step_ids: list[str]) -> list[str]:
    """`function_name` for each id, made injective: distinct ids never share a function name.

    `function_name` drops what PowerShell names cannot hold (`.` and `-` both become `-`, runs collapse,
    edge dashes go) and PowerShell compares names case-insensitively, so two ids can meet (volumes `data-`
    and `data`); the later one, in plan order, is numbered (`-2`, `-3`, ...) past every name already taken.
    """
    readable = [function_name(prefix, step_id) for step_id in step_ids]
    taken = {name.lower() for name in readable}
    used: set[str] = set()
    names = []
    for name in readable:
        candidate, n = name, 1
        while candidate.lower() in used or (n > 1 and candidate.lower() in taken):
            n += 1
            candidate = f"{name}-{n}"
        used.add(candidate.lower())
        names.append(candidate)
    return names
