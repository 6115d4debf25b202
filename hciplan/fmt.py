"""The formatter: the one place that prints `.hciplan` text.

Two front ends build the same small layout tree (`Document`, `Block`, `Attr`,
`Comment`) and one printer turns it into canonical text:

- `document_from_source` reads a file: the syntax tree gives the items, and a
  second pass of the same lark lexer (with ignored tokens kept) gives the
  comments, which are attached to the items (see `_CommentPlacer`);
- `document_from_model` (and `hciplan.discovery.importer`) build it from data,
  with comments (TODOs) where they want them.

The canonical layout: 2-space indentation, one attribute per line, `=` aligned
within a run of consecutive attributes, attributes in schema order before
child blocks in schema order (at the top: cluster, upgrade, timing, scenarios).
Repeated blocks (nodes, volumes, VM groups, windows, scenarios) keep their
relative order: node order in the file is the default upgrade order. Unknown attributes and blocks (a file with mistakes can still be
formatted) follow the known ones in their original order. Values are printed
canonically: sizes in the largest binary unit that is exact (`768GB`),
durations as `1h30m`, strings re-escaped, lists as `["a", "b"]`, ranges as
`a .. b`. Blank lines are the printer's choice (one before each block), except
that a blank line next to a comment is kept, so comment paragraphs survive.
The comments that open a file, separated from the first item by a blank line,
stay at the top of the file.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import decimal
import difflib
import re
import ipaddress
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Union

from hciplan.compiler import model as m
from hciplan.compiler import quantities, schema, syntax
from hciplan.compiler.quantities import duration_literal
from hciplan.compiler.diagnostics import Collector, Diagnostic
from hciplan.compiler.pipeline import decode
from hciplan.compiler.schema import BlockSpec
from hciplan.compiler.source import Source
from hciplan.grammar import get_parser

INDENT = "  "
# Every top-level block the language has, in the order the formatter prints them.
TOP_LEVEL = schema.TOP_LEVEL + schema.SIMULATION_TOP_LEVEL

# --- the layout tree ------------------------------------------------------------------


@dataclass
class Comment:
    """A comment exactly as written, marker included (`# ...`, `// ...`, `/* ... */`)."""

    text: str
    blank_before: bool = False  # a blank line separated it from what came before
    source_end_line: int = field(default=0, compare=False, repr=False)  # where a parsed comment ended

    @staticmethod
    def lines(text: str, blank_before: bool = False) -> list["Comment"]:
        """`# `-comments for a (possibly multi-line) message."""
        out = [Comment(("# " + line).rstrip()) for line in text.split("\n")]
        if out:
            out[0].blank_before = blank_before
        return out


@dataclass
class Attr:
    """`name = value`. The value is a syntax-tree value or a Python value of the schema type."""

    name: str
    value: Any
    leading: list[Comment] = field(default_factory=list)
    trailing: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line between the leading comments and the attribute


@dataclass
class Block:
    type: str
    labels: list[str] = field(default_factory=list)  # decoded label values
    items: list[Union[Attr, "Block"]] = field(default_factory=list)
    leading: list[Comment] = field(default_factory=list)
    open_trailing: list[str] = field(default_factory=list)  # comments after `{` on its line
    trailing: list[str] = field(default_factory=list)  # comments after `}` on its line
    dangling: list[Comment] = field(default_factory=list)  # comments after the last item
    blank_before: bool = False


@dataclass
class Document:
    items: list[Union[Attr, Block]] = field(default_factory=list)
    dangling: list[Comment] = field(default_factory=list)  # comments after the last item
    header: list[Comment] = field(default_factory=list)  # the file's opening comments, kept first


# --- values ---------------------------------------------------------------------------

_SIZE_STEPS = (("PB", 1024**5), ("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))


def size_text(size: int) -> str:
    """A byte count in the largest binary unit that divides it exactly: `768GB`, `1536MB`, `100B`."""
    for unit, scale in _SIZE_STEPS:
        if size and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size}B"


def quote(value: str) -> str:
    """A string literal that reads back as `value` (the escapes of `syntax.decode_string`)."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp") and ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def number_text(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    text = format(decimal.Decimal(repr(value)), "f")  # no exponent: the grammar has none
    return text if "." in text else text + ".0"  # keep it a decimal, so it reads back as one


def quantity_value(text: str, kind: str) -> int | None:
    """The value `lower` gives a size or duration literal, or None when it would reject it."""
    try:
        return quantities.parse_quantity(text, kind)
    except quantities.QuantityError:
        return None


def timestamp_text(value: dt.datetime) -> str:
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}"
    if value.second:
        text += f":{value.second:02d}"
    offset = value.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return text + "Z"
    sign = "+" if minutes > 0 else "-"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _syntax_value_text(value: syntax.Value, kind: str | None) -> str:
    if isinstance(value, syntax.Str):
        return quote(value.value)
    if isinstance(value, syntax.Number):
        return number_text(value.value)
    if isinstance(value, syntax.Quantity):
        if kind in ("size", "duration"):
            amount = quantity_value(value.text, kind)
            if amount is not None:
                return size_text(amount) if kind == "size" else duration_literal(amount)
        return value.text  # not a valid literal for this attribute: `check` says why; keep it
    if isinstance(value, (syntax.Timestamp, syntax.Clock, syntax.Ipv4)):
        return value.text
    if isinstance(value, syntax.Ipv4Range):
        return f"{value.start.text} .. {value.end.text}"
    if isinstance(value, syntax.Ident):
        return value.name
    if isinstance(value, syntax.ListValue):
        item_kind = {"duration_list": "duration", "string_list": "string"}.get(kind or "")
        return "[" + ", ".join(_syntax_value_text(item, item_kind) for item in value.items) + "]"
    raise TypeError(f"not a syntax value: {value!r}")


def value_text(value: Any, kind: str | None) -> str:
    """Print a value: a syntax-tree value as written (canonicalised), or a Python value of schema type `kind`."""
    if isinstance(value, (syntax.Str, syntax.Number, syntax.Quantity, syntax.Timestamp, syntax.Clock, syntax.Ipv4,
                          syntax.Ipv4Range, syntax.Ident, syntax.ListValue)):
        return _syntax_value_text(value, kind)
    if kind == "string":
        return quote(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return str(int(value))
    if kind == "number":
        return number_text(value)
    if kind == "size":
        return size_text(value)
    if kind == "duration":
        return duration_literal(value)
    if kind == "ipv4":
        interface = ipaddress.IPv4Interface(value)
        return str(interface.ip) if interface.network.prefixlen == 32 else str(interface)
    if kind == "ipv4_network":
        return str(ipaddress.IPv4Network(value))
    if kind == "ipv4_range":
        return f"{value.start} .. {value.end}"
    if kind == "timestamp":
        return timestamp_text(value)
    if kind == "enum":
        return str(value)
    if kind == "clock":  # minutes after midnight (fleet files)
        return f"{value // 60:02d}:{value % 60:02d}"
    if kind == "date":
        return value.isoformat()
    if kind == "string_list":
        return "[" + ", ".join(quote(item) for item in value) + "]"
    if kind == "duration_list":
        return "[" + ", ".join(duration_literal(item) for item in value) + "]"
    raise TypeError(f"cannot print {value!r} as {kind}")


# --- the printer ------------------------------------------------------------------------


def _child_spec(parent: BlockSpec | None, name: str, top_level: bool) -> BlockSpec | None:
    if top_level:
        return next((spec for spec in TOP_LEVEL if spec.name == name), None)
    if parent is None:
        return None
    child = parent.child(name)
    return child.spec if child else None


def _ordered(items: list, spec: BlockSpec | None, top_level: bool) -> list:
    """Attributes before blocks; each in schema order, unknown ones last; a stable sort."""
    if top_level:
        block_order = [s.name for s in TOP_LEVEL]
        attr_order: list[str] = []
    elif spec is not None:
        block_order = [c.spec.name for c in spec.children]
        attr_order = [a.name for a in spec.attrs]
    else:
        block_order, attr_order = [], []

    def key(item) -> tuple[int, int]:
        if isinstance(item, Attr):
            return (0, attr_order.index(item.name) if item.name in attr_order else len(attr_order))
        return (1, block_order.index(item.type) if item.type in block_order else len(block_order))

    return sorted(items, key=key)


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def comment(self, comment: Comment, indent: str) -> None:
        self.lines.append(indent + comment.text)  # a multi-line /* */ keeps its inner lines as written

    def body(self, items: list, dangling: list[Comment], spec: BlockSpec | None, depth: int,
             top_level: bool = False) -> None:
        indent = INDENT * depth
        ordered = _ordered(items, spec, top_level)
        # Where blank lines go: before every block (and between top-level items), and
        # wherever the source had one next to a comment. Never right after `{`.
        blank_before: list[bool] = []
        for index, item in enumerate(ordered):
            structural = index > 0 and (isinstance(item, Block) or top_level)
            from_comment = index > 0 and bool(item.leading) and item.leading[0].blank_before
            blank_before.append(structural or from_comment)
        widths = self._attribute_widths(ordered, blank_before)

        for index, item in enumerate(ordered):
            if blank_before[index]:
                self.blank()
            for position, comment in enumerate(item.leading):
                if position > 0 and comment.blank_before:
                    self.blank()
                self.comment(comment, indent)
            if item.leading and item.blank_before:
                self.blank()
            if isinstance(item, Attr):
                kind = spec.attr(item.name).type if spec is not None and spec.attr(item.name) else None
                line = f"{indent}{item.name.ljust(widths[index])} = {value_text(item.value, kind)}"
                self.lines.append(line + _trailing(item.trailing))
            else:
                self.block(item, _child_spec(spec, item.type, top_level), depth)
        for position, comment in enumerate(dangling):
            if (ordered or position > 0) and comment.blank_before:
                self.blank()
            self.comment(comment, indent)

    @staticmethod
    def _attribute_widths(ordered: list, blank_before: list[bool]) -> list[int]:
        """Align `=` within each run of attributes that no blank line interrupts."""
        widths = [0] * len(ordered)
        run: list[int] = []

        def close() -> None:
            width = max((len(ordered[i].name) for i in run), default=0)
            for i in run:
                widths[i] = width
            run.clear()

        for index, item in enumerate(ordered):
            interrupted = blank_before[index] or (bool(item.leading) and (
                item.blank_before or any(c.blank_before for c in item.leading[1:])))
            if not isinstance(item, Attr) or interrupted:
                close()
            if isinstance(item, Attr):
                run.append(index)
        close()
        return widths

    def block(self, block: Block, spec: BlockSpec | None, depth: int) -> None:
        indent = INDENT * depth
        header = indent + block.type + "".join(" " + quote(label) for label in block.labels) + " {"
        after = _trailing(block.trailing)
        if not block.items and not block.dangling and not block.open_trailing:
            self.lines.append(header + "}" + after)
            return
        self.lines.append(header + _trailing(block.open_trailing))
        self.body(block.items, block.dangling, spec, depth + 1)
        self.lines.append(indent + "}" + after)


def _trailing(comments: list[str]) -> str:
    return ("  " + " ".join(comments)) if comments else ""


def render(document: Document) -> str:
    """The canonical text of a layout tree, ending with one newline (empty document: empty text)."""
    printer = _Printer()
    for position, comment in enumerate(document.header):
        if position > 0 and comment.blank_before:
            printer.blank()
        printer.comment(comment, "")
    printer.blank()
    printer.body(document.items, document.dangling, None, 0, top_level=True)
    while printer.lines and printer.lines[-1] == "":
        printer.lines.pop()
    return "\n".join(printer.lines) + "\n" if printer.lines else ""


# --- from source text: the syntax tree plus its comments ------------------------------------

Position = tuple[int, int]  # (line, column), 1-based, as lark reports them


@dataclass
class _Lexed:
    text: str
    start: Position
    end: Position
    previous_end_line: int  # end line of the previous code or comment token (0 at the start)
    previous_code_end: Position  # end of the previous code token ((0, 0) at the start)


def _lex_comments(source: Source) -> tuple[list[_Lexed], list[Position]]:
    """Every comment with its neighbourhood, and the position of every `{`.

    This is the parser's own lexer with ignored tokens kept, so a `#` inside a
    string or the `/` of `10.0.0.0/24` can never be mistaken for a comment.
    """
    comments: list[_Lexed] = []
    braces: list[Position] = []
    previous_end_line = 0
    previous_code_end: Position = (0, 0)
    for token in get_parser().lex(source.text, dont_ignore=True):
        if token.type == "WS":
            continue
        start, end = (token.line, token.column), (token.end_line, token.end_column)
        if token.type in ("COMMENT", "BLOCK_COMMENT"):
            comments.append(_Lexed(str(token), start, end, previous_end_line, previous_code_end))
        else:
            previous_code_end = end
            if token.type == "LBRACE":
                braces.append(start)
        previous_end_line = end[0]
    return comments, braces


def _start(item) -> Position:
    return (item.span.line, item.span.column)


def _end(item) -> Position:
    return (item.span.end_line, item.span.end_column)


class _CommentPlacer:
    """Attach each comment to the item it belongs to.

    A comment is *trailing* when code ends on the line where it starts: it stays
    on that item's line (after `{` for a block opening, after `}` for a block).
    Otherwise it *leads* the next item of its block, or *dangles* at the end of
    the block when no item follows. A comment written inside an attribute (in a
    multi-line list, say) or inside a block header leads that attribute or block.
    """

    def __init__(self, braces: list[Position]):
        self.braces = braces

    def _open_brace(self, block: syntax.Block) -> Position:
        after = _end(block.labels[-1]) if block.labels else (block.type_span.end_line, block.type_span.end_column)
        return self.braces[bisect.bisect_left(self.braces, after)]

    def place(self, items: tuple, comments: list[_Lexed], opening: Position | None) -> tuple[list, list[Comment], list[str]]:
        """Layout items for a body, its dangling comments, and comments trailing its `{`."""
        layout = [self._layout(item) for item in items]
        inside: dict[int, list[_Lexed]] = {}
        dangling: list[Comment] = []
        open_trailing: list[str] = []
        pending: list[Comment] = []  # leading comments waiting for the next item
        cursor = 0
        for comment in comments:
            while cursor < len(items) and _end(items[cursor]) <= comment.start:
                self._flush(items[cursor], layout[cursor], pending)
                cursor += 1
            if cursor < len(items) and _start(items[cursor]) <= comment.start:
                inside.setdefault(cursor, []).append(comment)  # within the item's text
                continue
            trailing = comment.previous_code_end[0] == comment.start[0] and not pending
            if trailing and cursor > 0 and _end(items[cursor - 1]) == comment.previous_code_end:
                layout[cursor - 1].trailing.append(comment.text)
            elif trailing and opening is not None and cursor == 0:
                open_trailing.append(comment.text)
            else:
                pending.append(Comment(comment.text, comment.start[0] - comment.previous_end_line > 1,
                                       comment.end[0]))
        while cursor < len(items):
            self._flush(items[cursor], layout[cursor], pending)
            cursor += 1
        dangling.extend(pending)
        for index, item in enumerate(items):
            self._place_inside(item, layout[index], inside.get(index, []))
        return layout, dangling, open_trailing

    @staticmethod
    def _flush(item, layout: Attr | Block, pending: list[Comment]) -> None:
        """Give the comments met so far to the item that follows them."""
        if pending:
            layout.leading.extend(pending)
            layout.blank_before = item.span.line - pending[-1].source_end_line > 1
            pending.clear()

    def _layout(self, item) -> Attr | Block:
        if isinstance(item, syntax.Attribute):
            return Attr(item.name, item.value)
        return Block(item.type, [label.value for label in item.labels])

    def _place_inside(self, item, layout: Attr | Block, comments: list[_Lexed]) -> None:
        if isinstance(item, syntax.Attribute):
            layout.leading.extend(Comment(c.text) for c in comments)
            return
        brace = self._open_brace(item)
        header = [c for c in comments if c.start < brace]
        body = [c for c in comments if c.start > brace]
        layout.leading.extend(Comment(c.text) for c in header)
        layout.items, layout.dangling, layout.open_trailing = self.place(item.body, body, brace)


def document_from_source(source: Source, diagnostics: Collector) -> Document | None:
    """The layout tree of a file, or None (with diagnostics) when it has a syntax error."""
    before = len(diagnostics.items)
    parsed = syntax.parse(source, diagnostics)
    if parsed is None or len(diagnostics.items) > before:
        return None  # syntax errors, invalid escapes or too-deep nesting: nothing safe to print
    comments, braces = _lex_comments(source)
    items, dangling, _ = _CommentPlacer(braces).place(parsed.body, comments, None)
    header: list[Comment] = []
    if items and items[0].leading and items[0].blank_before:
        # Comments that open the file, apart from the first item, describe the file: they stay
        # on top even when the first item moves (an `upgrade` written before the `cluster`).
        header, items[0].leading = items[0].leading, []
        items[0].blank_before = False
    return Document(items, dangling, header)


# --- from a model -------------------------------------------------------------------------


# The failure attributes that apply to one mode only (hciplan.compiler.lower checks them).
_MODE_ONLY = {"factor": "slow", "attempts": "error"}


def block_from_model(spec: BlockSpec, obj: Any, *, explicit: bool = False) -> Block:
    """The layout of one model object; `explicit` also writes attributes equal to their default."""
    defaults = {f.name: f.default for f in dataclasses.fields(obj)}
    items: list[Attr | Block] = []
    for attr in spec.attrs:
        value = getattr(obj, attr.name)
        if value is None or (not explicit and not attr.required and value == attr.default):
            continue
        if spec in (schema.FAILURE, schema.RISK) and value == attr.default and \
                _MODE_ONLY.get(attr.name, obj.mode) != obj.mode:
            continue  # a default written for a mode it does not apply to is an error (HCI1006)
        items.append(Attr(attr.name, value))
    for child in spec.children:
        value = getattr(obj, child.field)
        if child.repeated:
            items.extend(block_from_model(child.spec, v, explicit=explicit) for v in value)
        elif value is not None and (explicit or value != defaults.get(child.field)):
            items.append(block_from_model(child.spec, value, explicit=explicit))
    return Block(spec.name, [getattr(obj, spec.label)] if spec.label else [], items)


def document_from_model(model: m.Model, *, explicit: bool = False) -> Document:
    items = [block_from_model(schema.CLUSTER, model.cluster, explicit=explicit)]
    if model.upgrade is not None:
        items.append(block_from_model(schema.UPGRADE, model.upgrade, explicit=explicit))
    if model.timing is not None:  # an empty `timing {}` is still written: the file had one
        items.append(block_from_model(schema.TIMING, model.timing, explicit=explicit))
    items.extend(block_from_model(schema.SCENARIO, scenario, explicit=explicit) for scenario in model.scenarios)
    return Document(items)


def format_model(model: m.Model, *, explicit: bool = False) -> str:
    """The canonical text of a model: parsing it gives an equal model."""
    return render(document_from_model(model, explicit=explicit))


# --- formatting files ---------------------------------------------------------------------


@dataclass(frozen=True)
class Formatted:
    """The outcome of formatting one input: the canonical text, or the diagnostics that prevent it."""

    name: str
    original: bytes
    source: Source | None
    text: str | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.text is not None

    @property
    def changed(self) -> bool:
        """Whether the file's bytes differ from the canonical text (CRLF or a BOM count as changes)."""
        return self.text is not None and self.text.encode("utf-8") != self.original


def format_bytes(name: str, data: bytes) -> Formatted:
    """Format a file's content. Files with syntax errors are refused, with the diagnostics saying why."""
    diagnostics = Collector()
    source = decode(name, data, diagnostics)
    document = document_from_source(source, diagnostics) if source is not None else None
    text = render(document) if document is not None else None
    return Formatted(name, data, source, text, tuple(diagnostics.sorted()))


def format_text(text: str, name: str = "<input>") -> Formatted:
    return format_bytes(name, text.encode("utf-8"))


def unified_diff(result: Formatted) -> str:
    """What formatting changes in a file: a unified diff from the file as written to the formatted text.

    Both sides are named by the file (`patch -p0` applies it). Invisible
    changes are made visible on the removed lines: a CRLF line end shows as
    `\\r`, a byte order mark as `\\ufeff`.
    """
    original = result.original.decode("utf-8", errors="replace")
    old, new = _lines(original), _lines(result.text or "")
    lines = difflib.unified_diff(old, new, fromfile=result.name, tofile=result.name,
                                 fromfiledate="(as written)", tofiledate="(formatted)")
    out = []
    for line in lines:
        if line.startswith("-") and not line.startswith("---"):
            line = line.replace("\ufeff", "\\ufeff")
            if line.endswith("\r\n"):
                line = line[:-2] + "\\r\n"  # shown, rather than swallowed by the terminal
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _lines(text: str) -> list[str]:
    """Lines split at `\\n` only, ends kept (str.splitlines would also split at form feeds and the like)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)
