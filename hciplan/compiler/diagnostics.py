"""Diagnostics as data: registered codes, diagnostic records and the collector.

Checks never raise for a user's mistake; they append a `Diagnostic` to a
`Collector`. Rendering lives in `hciplan.compiler.render`, in one place.
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Iterable

from hciplan.compiler.source import Span
from hciplan.records import record


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


@record
class Code:
    """A registered diagnostic code: its default severity, a title and the long explanation."""

    code: str
    severity: Severity
    title: str
    explanation: str
    source: str = ""  # a domain.md tag such as "[A-about]", or "" for language rules


REGISTRY: dict[str, Code] = {}


def register(code: str, severity: Severity, title: str, explanation: str, source: str = "") -> Code:
    if code in REGISTRY:
        raise ValueError(f"diagnostic code {code} registered twice")
    entry = Code(code, severity, title, explanation.strip(), source)
    REGISTRY[code] = entry
    return entry


@record
class Related:
    """A secondary location that helps explain a diagnostic ("first defined here")."""

    span: Span
    message: str


@record
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hints: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()

    def sort_key(self) -> tuple:
        s = self.span
        return (s.file, s.line, s.column, self.code, self.message)


@record(frozen=False, slots=False)
class Collector:
    """Accumulates diagnostics in the order checks report them."""

    items: list[Diagnostic] = field(default_factory=list)

    def report(
        self,
        code: str,
        span: Span,
        message: str,
        *,
        hints: Iterable[str] = (),
        related: Iterable[Related] = (),
        severity: Severity | None = None,
    ) -> Diagnostic:
        entry = REGISTRY[code]  # a KeyError here is a programming error, not a user one
        diagnostic = Diagnostic(
            code,
            severity or entry.severity,
            message,
            span,
            tuple(h for h in hints if h),
            tuple(related),
        )
        self.items.append(diagnostic)
        return diagnostic

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word` (case-insensitively), or None when nothing is close enough."""
    import difflib  # here, not at import: only a misspelt name needs it

    lowered = {c.lower(): c for c in choices}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[matches[0]] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A "did you mean X?" hint, or "" when nothing is close enough."""
    match = closest(word, choices)
    return f"did you mean `{match}`?" if match else ""
