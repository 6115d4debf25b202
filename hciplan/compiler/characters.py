"""The character rules for names and texts, shared by the checker (lower.py) and the inventory importer.

- Controls and line/paragraph separators (categories Cc, Zl, Zp) are refused (HCI109): they split lines.
- Format characters (category Cf) are refused (HCI113): they are invisible, and the bidirectional ones
  (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F marks, U+061C) make a
  reviewer read text in an order that is not the order of its characters ("Trojan Source",
  CVE-2021-42574; Unicode Bidirectional Algorithm, UAX #9, section 2). Zero-width spaces and joiners,
  the soft hyphen and the BOM are Cf too: two names that look the same would be different names.
- Typographic quotes and dashes warn (HCI114) in names that reach PowerShell: the PowerShell language
  specification's lexical grammar (section 2.3.5.2 string literals, and the `dash` production) reads
  U+2018-U+201B as single quotes, U+201C-U+201E as double quotes and U+2013-U+2015 as dashes, so a name copied from a word processor means something else to a
  reader than to the shell. The script still quotes them correctly (`pstext.literal`): it is a warning.

docs/language.md ("Characters in names and texts") states the same rules.
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
TYPOGRAPHIC = {
    "\u2018": "a typographic single quote", "\u2019": "a typographic single quote",
    "\u201a": "a typographic single quote", "\u201b": "a typographic single quote",
    "\u201c": "a typographic double quote", "\u201d": "a typographic double quote",
    "\u201e": "a typographic double quote",
    "\u2013": "a dash", "\u2014": "a dash", "\u2015": "a dash",
}
PLAIN_EQUIVALENT = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"',
                    "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u2015": "-"}

# The block labels and attributes whose values the PowerShell backend writes into the script
# (tests/test_hostile_outputs.py, test_the_fields_listed_as_reaching_powershell_are_exactly_those_in_the_script,
# checks this list against an emitted script).
POWERSHELL_LABELS = frozenset({"cluster", "node", "pool", "volume", "window"})
POWERSHELL_ATTRIBUTES = frozenset({"media_path", "orchestrator", "node_order", "convert_to_thin", "key_vault",
                                   "deployment_user", "custom_location", "adou_path"})


def is_control(char: str) -> bool:
    """A control or line/paragraph separator (refused: HCI109)."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def is_invisible(char: str) -> bool:
    """A format character: bidirectional controls, zero-width characters, the BOM (refused: HCI113)."""
    return unicodedata.category(char) == "Cf"


def code_point(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`: how a diagnostic names a character."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def describe_invisible(char: str) -> str:
    kind = "a bidirectional control" if char in BIDI_CONTROLS else "an invisible format character"
    return f"{code_point(char)}, {kind}"


def first_refused(text: str) -> tuple[int, str] | None:
    """The index and description of the first invisible (Cf) character in `text`, or None."""
    for index, char in enumerate(text):
        if is_invisible(char):
            return index, describe_invisible(char)
    return None
