"""The one place where diagnostics become text or JSON."""

from __future__ import annotations

import unicodedata
from typing import Callable, Iterable

from hciplan.compiler.diagnostics import Diagnostic, Severity
from hciplan.compiler.source import LineIndex, Source

Style = Callable[..., str]


def _plain(text: str, **_: object) -> str:
    return text


def render_text(diagnostics: Iterable[Diagnostic], sources: dict[str, Source], style: Style = _plain) -> str:
    """`file:line:col: error[HCI101]: message`, the source line, a caret under the span, then hints."""
    out: list[str] = []
    indexes: dict[str, LineIndex] = {}  # each source's line starts, found once: linear in the diagnostics
    for d in diagnostics:
        s = d.span
        colour = "red" if d.severity is Severity.ERROR else "yellow"
        head = style(f"{d.severity}[{d.code}]", fg=colour, bold=True)
        out.append(f"{style(f'{s.file}:{s.line}:{s.column}', bold=True)}: {head}: {d.message}")
        source = sources.get(s.file)
        if source is not None:
            index = indexes.get(s.file)
            if index is None:
                index = indexes[s.file] = LineIndex(source)
            out.extend(_excerpt(index, s.line, s.column, s.end_line, s.end_column, style, colour))
        for related in d.related:
            r = related.span
            out.append(f"  {style('note', fg='cyan', bold=True)}: {r.file}:{r.line}:{r.column}: {related.message}")
        for hint in d.hints:
            out.append(f"  {style('hint', fg='green', bold=True)}: {hint}")
    return "\n".join(out) + ("\n" if out else "")


def _excerpt(index: LineIndex, line: int, column: int, end_line: int, end_column: int,
             style: Style, colour: str) -> list[str]:
    text = index.line_text(line)
    if not text and line > index.line_count:
        return []
    shown = text.expandtabs(4) if "\t" not in text[: column - 1] else text
    # an invisible or control character (HCI109, HCI113) shows as U+FFFD: one column, and it cannot reorder the line
    shown = "".join("\ufffd" if c != "\t" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in shown)
    if len(shown) > 200:  # keep very long lines readable: show a window around the column
        start = max(0, column - 80)
        shown = shown[start:start + 160]
        column -= start
        end_column = min(end_column - start, len(shown) + 1) if end_line == line else len(shown) + 1
    width = max(1, (end_column - column) if end_line == line else len(shown) - column + 1)
    gutter = f"{line:>5} | "
    prefix = "".join(c if c == "\t" else " " for c in shown[: column - 1])
    return [
        f"{gutter}{shown}",
        " " * (len(gutter) - 2) + "| " + prefix + style("^" + "~" * (width - 1), fg=colour, bold=True),
    ]


def diagnostics_json(diagnostics: Iterable[Diagnostic]) -> dict:
    return {
        "diagnostics": [
            {
                "code": d.code,
                "severity": d.severity.value,
                "message": d.message,
                "file": d.span.file,
                "line": d.span.line,
                "column": d.span.column,
                "end_line": d.span.end_line,
                "end_column": d.span.end_column,
                "hints": list(d.hints),
                "related": [
                    {"message": r.message, "file": r.span.file, "line": r.span.line, "column": r.span.column}
                    for r in d.related
                ],
            }
            for d in diagnostics
        ]
    }


CHECK_SCHEMA = "hciplan.check/1"  # `hciplan check --format json` (docs/language.md, "The check document")


def check_document(diagnostics: Iterable[Diagnostic]) -> dict:
    """The `hciplan.check/1` document: the schema name and the diagnostics."""
    return {"schema": CHECK_SCHEMA, **diagnostics_json(diagnostics)}


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    import json  # here, not at the top: check's text output does not need it

    return json.dumps(check_document(diagnostics), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
