"""Source files and spans: where in which file a construct was written."""

from __future__ import annotations

from hciplan.records import record


@record
class Span:
    """A region of a source file. Lines and columns are 1-based; the end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def of(file: str, meta_or_token) -> "Span":
        """Build a span from a lark token or a tree's `meta`."""
        return Span(
            file,
            meta_or_token.line,
            meta_or_token.column,
            meta_or_token.end_line,
            meta_or_token.end_column,
        )

    def to(self, other: "Span") -> "Span":
        """The span covering `self` up to the end of `other`."""
        return Span(self.file, self.line, self.column, other.end_line, other.end_column)


@record
class Source:
    """The decoded text of one input file."""

    name: str
    text: str

    def line_text(self, line: int) -> str:
        """One line (1-based), "" past the end. Rendering many lines: use `LineIndex(source)` once."""
        return LineIndex(self).line_text(line)

    def end_span(self) -> Span:
        """A zero-width span at the end of the file (for "unexpected end of file")."""
        lines = self.text.split("\n")
        line = len(lines)
        column = len(lines[-1]) + 1
        return Span(self.name, line, column, line, column)


class LineIndex:
    """Where each line of a source starts, found once, so that any number of excerpts cost linear time.

    Lines end at "\n" only, as the parser counts them: str.splitlines() would also split on
    form feeds, \x1c-\x1e, \x85 and \u2028, and show the wrong line under a diagnostic.
    """

    __slots__ = ("text", "starts")

    def __init__(self, source: Source):
        self.text = source.text
        starts = [0]
        find, at = self.text.find, self.text.find("\n")
        while at >= 0:
            starts.append(at + 1)
            at = find("\n", at + 1)
        self.starts = starts

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self.starts):
            return ""
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end]
