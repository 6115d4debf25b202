"""Helpers shared by the test modules: where the examples are, and text mutations."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from hciplan.compiler.pipeline import CheckResult, check_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
VALID_EXAMPLES = sorted(EXAMPLES.glob("*.hciplan"))
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.hciplan"))
ALL_EXAMPLES = VALID_EXAMPLES + INVALID_EXAMPLES

# `# expect: HCI123` or `# expect: HCI123, HCI456` at the end of a line.
EXPECT_RE = re.compile(r"#\s*expect:\s*(HCI\d{3}(?:\s*,\s*HCI\d{3})*)\s*$")


def expected_diagnostics(text: str) -> Counter:
    """The (code, line) pairs an example announces in its `# expect:` comments."""
    expected: Counter = Counter()
    for number, line in enumerate(text.splitlines(), start=1):
        match = EXPECT_RE.search(line)
        if match:
            for code in match.group(1).split(","):
                expected[(code.strip(), number)] += 1
    return expected


def replace_once(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, so a mutation can never silently miss."""
    count = text.count(old)
    assert count == 1, f"{old!r} occurs {count} times in the text to mutate"
    return text.replace(old, new)


def mutate(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        text = replace_once(text, old, new)
    return text


def line_of(text: str, fragment: str) -> int:
    """The 1-based line on which `fragment` (which must occur once) is written."""
    assert text.count(fragment) == 1, f"{fragment!r} must occur exactly once"
    return text[: text.index(fragment)].count("\n") + 1


def codes(result: CheckResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def check(text: str) -> CheckResult:
    return check_text(text, "test.hciplan")
