"""The syntax tree, and the one boundary where text becomes a tree or diagnostics.

The syntax tree is generic (blocks, attributes, values) and carries a span on
every node; it does not know which blocks exist. `hciplan.compiler.lower`
checks it against the schema and builds the typed model.
"""

from __future__ import annotations

import math
import re
from dataclasses import field
from typing import Union

from hciplan.compiler.diagnostics import Collector, Related
from hciplan.compiler.schema import DURATION_UNITS, SIZE_UNITS
from hciplan.compiler.source import Source, Span
from hciplan.grammar import (
    Token,
    Transformer_NonRecursive,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    get_parser,
    v_args,
)
from hciplan.records import record

# --- the syntax tree -----------------------------------------------------------


@record
class Str:
    value: str
    span: Span
    raw: str = field(default="", compare=False, repr=False)  # the token as written, quotes and escapes included

    def column_of(self, index: int) -> tuple[int, int]:
        """The columns (start, end) where the value's character `index` is written (a raw one or its escape)."""
        offsets = written_offsets(self.raw) if self.raw else []
        if index >= len(offsets):
            return self.span.column, self.span.end_column
        start, end = offsets[index]
        return self.span.column + start, self.span.column + end


@record
class Number:
    value: int | float
    span: Span


@record
class Quantity:
    """A number with a unit (`768GB`, `1h30m`); its meaning depends on the attribute."""

    text: str
    span: Span


@record
class Timestamp:
    text: str
    span: Span


@record
class Clock:
    """A time of day, `22:00` (the fleet file's weekly windows and shifts)."""

    text: str
    span: Span


@record
class Ipv4:
    text: str
    span: Span


@record
class Ipv4Range:
    start: Ipv4
    end: Ipv4
    span: Span


@record
class Ident:
    name: str
    span: Span


@record
class ListValue:
    items: tuple["Value", ...]
    span: Span


Value = Union[Str, Number, Quantity, Timestamp, Clock, Ipv4, Ipv4Range, Ident, ListValue]


@record
class Attribute:
    name: str
    name_span: Span
    value: Value
    span: Span


@record
class Block:
    type: str
    type_span: Span
    labels: tuple[Str, ...]
    body: tuple[Union[Attribute, "Block"], ...]
    span: Span

    @property
    def header_span(self) -> Span:
        """The block's type and labels: where "this block" diagnostics point."""
        end = self.labels[-1].span if self.labels else self.type_span
        return self.type_span.to(end)


@record
class Document:
    source: Source
    body: tuple[Union[Attribute, Block], ...]


# --- friendly names for terminals, used in syntax errors ----------------------------

TOKEN_NAMES = {
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
    "__ANON_0": "`..`",
    "STRING": "a quoted string",
    "NAME": "a name",
    "NUMBER": "a number",
    "QUANTITY": "a size or duration",
    "TIMESTAMP": "a timestamp",
    "CLOCK": "a time of day",
    "IPV4": "an IPv4 address",
    "$END": "the end of the file",
}
VALUE_TOKENS = {"STRING", "NUMBER", "QUANTITY", "TIMESTAMP", "CLOCK", "IPV4", "NAME", "LSQB"}
MAX_NESTING = 16
UNITS_WRITTEN_APART = set(SIZE_UNITS) | set(DURATION_UNITS)


def token_name(name: str) -> str:
    return TOKEN_NAMES.get(name, name)


def describe_token(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    text = str(token)
    if len(text) > 30:
        text = text[:27] + "..."
    return f"{token_name(token.type)} `{text}`" if token.type not in TOKEN_NAMES or token.type in {"NAME", "STRING", "NUMBER", "QUANTITY", "TIMESTAMP", "CLOCK", "IPV4"} else token_name(token.type)


# --- string literals -----------------------------------------------------------------

ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
ESCAPE_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)")


def decode_string(raw: str) -> tuple[str, int | None]:
    """Decode a quoted literal. Returns (value, offset of the first bad escape or None)."""
    body = raw[1:-1]
    out: list[str] = []
    pos = 0
    for match in ESCAPE_RE.finditer(body):
        out.append(body[pos : match.start()])
        esc = match.group(1)
        if esc in ESCAPES:
            out.append(ESCAPES[esc])
        elif len(esc) == 5 and esc[0] == "u" and not 0xD800 <= int(esc[1:], 16) <= 0xDFFF:
            out.append(chr(int(esc[1:], 16)))  # a lone surrogate is not text: it could not even be printed
        else:
            return "", match.start() + 1  # +1 for the opening quote
        pos = match.end()
    out.append(body[pos:])
    return "".join(out), None


def written_offsets(raw: str) -> list[tuple[int, int]]:
    """For each character of a literal's value, where it is written in `raw` (offsets from the opening quote)."""
    offsets: list[tuple[int, int]] = []
    pos = 1
    while pos < len(raw) - 1:
        match = ESCAPE_RE.match(raw, pos)
        end = match.end() if match is not None else pos + 1
        offsets.append((pos, end))
        pos = end
    return offsets


# --- tree -> syntax tree -------------------------------------------------------------


class _ToSyntaxTree(Transformer_NonRecursive):
    """One small method per grammar rule; non-recursive so deep nesting cannot overflow."""

    def __init__(self, source: Source, diagnostics: Collector):
        super().__init__()
        self.source = source
        self.diagnostics = diagnostics
        self._depth: dict[int, int] = {}  # id(block or list) -> nesting depth below it
        self._too_deep_reported = False

    def _nest(self, node, children, span: Span):
        """Record `node`'s depth; past MAX_NESTING, report once and drop its contents.

        The limit keeps every later stage (equality, hashing, printing) free of deep recursion.
        """
        depth = 1 + max((self._depth.get(id(c), 0) for c in children), default=0)
        if depth > MAX_NESTING:
            if not self._too_deep_reported:
                self._too_deep_reported = True
                self.diagnostics.report("HCI001", span, f"blocks or lists nested more than {MAX_NESTING} levels deep",
                                        hints=["hciplan files nest at most three blocks deep"])
            # Every ancestor is too deep as well, so the whole deep structure is dropped.
            node = type(node)(**{**{f: getattr(node, f) for f in node.__slots__},
                                 ("body" if isinstance(node, Block) else "items"): ()})
        self._depth[id(node)] = depth
        return node

    def _span(self, item) -> Span:
        return Span.of(self.source.name, item)

    def _str(self, token: Token) -> Str:
        span = self._span(token)
        value, bad = decode_string(str(token))
        if bad is not None:
            column = token.column + bad
            escape = ESCAPE_RE.match(str(token), bad).group(0)  # `\q`, or a whole `\uD800`
            self.diagnostics.report(
                "HCI008",
                Span(span.file, span.line, column, span.line, column + len(escape)),
                f"invalid escape `{escape}` in string",
                hints=['valid escapes are \\" \\\\ \\n \\t \\r \\uXXXX; write a Windows path with doubled backslashes: "C:\\\\Media"'],
            )
        return Str(value, span, str(token))

    def start(self, children):
        return children[0]

    def body(self, children):
        return tuple(children)

    @v_args(meta=True)
    def attribute(self, meta, children):
        name, value = children
        return Attribute(str(name), self._span(name), value, self._span(meta))

    @v_args(meta=True)
    def block(self, meta, children):
        name, *labels, body = children
        block = Block(str(name), self._span(name), tuple(labels), body, self._span(meta))
        return self._nest(block, body, block.span)

    def label(self, children):
        return self._str(children[0])

    def string(self, children):
        return self._str(children[0])

    def number(self, children):
        token = children[0]
        text = str(token)
        if "." in text:
            return Number(float(text), self._span(token))
        try:
            value: int | float = int(text)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits): lowering reports it
            value = -math.inf if text.startswith("-") else math.inf
        return Number(value, self._span(token))

    def quantity(self, children):
        return Quantity(str(children[0]), self._span(children[0]))

    def timestamp(self, children):
        return Timestamp(str(children[0]), self._span(children[0]))

    def clock(self, children):
        return Clock(str(children[0]), self._span(children[0]))

    def ipv4(self, children):
        return Ipv4(str(children[0]), self._span(children[0]))

    def ipv4_range(self, children):
        start, end = (Ipv4(str(t), self._span(t)) for t in children)
        return Ipv4Range(start, end, start.span.to(end.span))

    def ident(self, children):
        return Ident(str(children[0]), self._span(children[0]))

    @v_args(meta=True)
    def list(self, meta, children):
        items = tuple(c for c in children if c is not None)
        return self._nest(ListValue(items, self._span(meta)), items, self._span(meta))


# --- the boundary ----------------------------------------------------------------------


MAX_SYNTAX_ERRORS = 10  # more would mostly be consequences of the first ones


def parse(source: Source, diagnostics: Collector) -> Document | None:
    """Parse `source`; on syntax errors (nesting too deep included), report them and return None.

    After an error confined to one statement line (see `_recoverable_line`), that
    line is blanked out and the file parsed again, so one run reports several
    independent mistakes. Errors that change the bracket structure (an unclosed
    or extra bracket, an unterminated string or comment) end the search: what
    follows them would only be reported wrongly.
    """
    text = source.text
    reported = 0
    while True:
        try:
            tree = get_parser().parse(text)
        except UnexpectedInput as error:
            current = Source(source.name, text)
            _report_syntax_error(current, error, diagnostics)
            reported += 1
            line = _recoverable_line(current, error)
            if line is None or reported >= MAX_SYNTAX_ERRORS:
                return None
            text = _blank_line(text, line)
            continue
        if reported:
            return None  # the file had syntax errors: only the blanked copy parsed
        break
    transformer = _ToSyntaxTree(source, diagnostics)
    body = transformer.transform(tree)
    if transformer._too_deep_reported:
        return None  # a syntax error like any other: the deep structure was dropped, so nothing later may run
    return Document(source, body)


def _blank_line(text: str, line: int) -> str:
    """`text` with line `line` (1-based) replaced by spaces: every position elsewhere stays the same."""
    lines = text.split("\n")
    lines[line - 1] = " " * len(lines[line - 1])
    return "\n".join(lines)


def _recoverable_line(source: Source, error: UnexpectedInput) -> int | None:
    """The line to blank out to look for the next syntax error, or None when that would not be safe.

    Safe means the line holds whole statements of a block body (or of the top
    level): it starts after a complete statement, outside any list, and its
    brackets balance, so removing it leaves the structure around it intact.
    """
    if isinstance(error, UnexpectedCharacters):
        if source.text[error.pos_in_stream] == '"' or source.text.startswith("/*", error.pos_in_stream):
            return None  # an unterminated string or comment: everything after it is misread
    elif not isinstance(error, UnexpectedToken) or error.token.type == "$END":
        return None
    line = error.line
    line_start = sum(len(text) + 1 for text in source.text.split("\n")[: line - 1])
    line_end = line_start + len(source.line_text(line))
    before = _tokens_before(source, line_start)
    if _open_brackets(before) and _open_brackets(before)[-1].type == "LSQB":
        return None  # inside a list that spans lines
    if not _between_statements(source.text[:line_start]):
        return None  # the statement began on an earlier line: blanking this one would misread the next
    if isinstance(error, UnexpectedToken) and error.token.type in ("RBRACE", "RSQB"):
        return None  # a bracket problem: the structure itself is in doubt
    depth = 0
    for token in _tokens_in(source, line_start, line_end):
        if token.type in ("LBRACE", "LSQB"):
            depth += 1
        elif token.type in ("RBRACE", "RSQB"):
            depth -= 1
            if depth < 0:
                return None  # the line closes a block opened before it
    if depth != 0:
        return None  # the line opens a block it does not close
    return line


def _between_statements(text: str) -> bool:
    """Whether `text` (the file up to a line) ends where a new attribute or block may start."""
    try:
        interactive = get_parser().parse_interactive(text)
        interactive.exhaust_lexer()
        accepted = interactive.accepts()
    except UnexpectedInput:
        return False
    # A body may end here (`}`, or the end of the file at the top) and a name may start a statement:
    # after `to =` a name is a value and the body cannot end, so that is not between statements.
    return "NAME" in accepted and ("RBRACE" in accepted or "$END" in accepted)


def _tokens_in(source: Source, start: int, end: int) -> list[Token]:
    """The tokens of `source.text[start:end]`, lexed alone; a character no token starts with is skipped.

    Skipping (rather than stopping) keeps the brackets after a stray `:` counted,
    so a line that closes a block is never taken for a self-contained one.
    """
    text = source.text[start:end]
    tokens: list[Token] = []
    offset = 0
    while offset < len(text):
        try:
            for token in get_parser().lex(text[offset:]):
                tokens.append(token)
            break
        except UnexpectedCharacters as error:
            offset += error.pos_in_stream + 1
    return tokens


def _tokens_before(source: Source, stop: int) -> list[Token]:
    """The tokens that start before offset `stop` (lexing stops at the first lexical error)."""
    tokens: list[Token] = []
    try:
        for token in get_parser().lex(source.text[:stop]):
            tokens.append(token)
    except UnexpectedInput:
        pass
    return tokens


def _token_at(source: Source, start: int) -> Token | None:
    """The first token at or after offset `start`, if it lexes."""
    try:
        return next(iter(get_parser().lex(source.text[start:])), None)
    except UnexpectedInput:
        return None


def _open_brackets(tokens: list[Token]) -> list[Token]:
    stack: list[Token] = []
    for token in tokens:
        if token.type in ("LBRACE", "LSQB"):
            stack.append(token)
        elif token.type in ("RBRACE", "RSQB") and stack:
            stack.pop()
    return stack


def _report_syntax_error(source: Source, error: UnexpectedInput, diagnostics: Collector) -> None:
    file = source.name
    if isinstance(error, UnexpectedCharacters):
        line, column = error.line, error.column
        char = source.text[error.pos_in_stream]
        span = Span(file, line, column, line, column + 1)
        if char == '"':
            rest = source.line_text(line)[column - 1 :]
            diagnostics.report("HCI005", Span(file, line, column, line, column + len(rest)),
                               "unterminated string", hints=['close the string with `"` on the same line'])
        elif source.text.startswith("/*", error.pos_in_stream):
            diagnostics.report("HCI006", Span(file, line, column, line, column + 2), "unterminated comment",
                               hints=["close the comment with `*/`"])
        else:
            shown = repr(char)[1:-1] if not char.isprintable() else char
            hints = []
            if char in ":;":
                hints.append("attributes are written `name = value`, without `:` or `;`")
            if source.text.startswith("*/", error.pos_in_stream):
                hints.append("this `*/` closes a comment that was never opened with `/*`")
            if not hints:
                hints.append('remove it; if it belongs to a value, quote the value: `name = "text"`')
            diagnostics.report("HCI006", span, f"unexpected character `{shown}`", hints=hints)
        return

    assert isinstance(error, UnexpectedToken)
    token: Token = error.token
    expected = sorted(error.expected)
    if token.type == "$END":
        end = source.end_span()
        all_tokens = _tokens_before(source, len(source.text))
        open_ = _open_brackets(all_tokens)
        if open_ and open_[-1].type == "LBRACE" and _report_misindented_block(source, all_tokens, diagnostics):
            return
        if open_:
            opener = open_[-1]
            closer = "}" if opener.type == "LBRACE" else "]"
            what = "block" if opener.type == "LBRACE" else "list"
            diagnostics.report(
                "HCI003",
                Span.of(file, opener),
                f"unclosed {what}: this `{opener}` has no matching `{closer}`",
                hints=[f"add `{closer}` where the {what} ends"],
            )
            return
        diagnostics.report("HCI001", end, "unexpected end of file",
                           hints=["expected " + _expected_list(expected)])
        return

    span = Span.of(file, token)
    before = _tokens_before(source, token.start_pos)
    prev = before[-1] if before else None
    prev2 = before[-2] if len(before) > 1 else None

    if token.type in ("RBRACE", "RSQB") and token.type not in error.expected:
        opened = _open_brackets(before)
        if opened and opened[-1].type == "LSQB" and token.type == "RBRACE":
            # `}` while a list is open: the list was never closed, so point at its `[`.
            diagnostics.report("HCI003", Span.of(file, opened[-1]),
                               f"unclosed list: this `[` has no matching `]` before the `}}` on line {token.line}",
                               related=[Related(span, "the enclosing block ends here")],
                               hints=["add `]` where the list ends"])
            return
        if not opened or (token.type == "RBRACE") != (opened[-1].type == "LBRACE"):
            diagnostics.report("HCI007", span, f"`{token}` closes nothing here",
                               hints=["remove it, or look for an extra closing bracket before it"])
            return

    if _report_malformed_value(source, token, before, diagnostics):
        return
    if token.type == "NAME" and prev is not None and prev.type == "NAME":
        following = _token_at(source, token.end_pos)
        if following is not None and following.type in ("LBRACE", "STRING"):
            diagnostics.report("HCI001", span, f"block label `{token}` must be quoted",
                               hints=[f'write `{prev} "{token}" {{ ... }}`'])
            return
    if prev is not None and prev.type == "NAME" and "EQUAL" in error.expected:
        if prev2 is not None and prev2.type in ("NUMBER", "QUANTITY") and str(prev) in UNITS_WRITTEN_APART:
            diagnostics.report("HCI001", Span.of(file, prev2).to(Span.of(file, prev)),
                               f"unit written apart from its number: `{prev2} {prev}`",
                               hints=[f"write `{prev2}{prev}` without a space"])
            return
        if token.type in VALUE_TOKENS - {"LSQB"} or token.type == "LSQB":
            diagnostics.report("HCI002", Span.of(file, prev).to(span), f"missing `=` between `{prev}` and its value",
                               hints=[f"write `{prev} = {token}`"])
            return
    if (
        prev is not None and prev2 is not None and prev.type == "STRING" and prev2.type == "NAME"
        and token.type not in ("STRING", "LBRACE")
    ):
        diagnostics.report("HCI002", Span.of(file, prev2).to(Span.of(file, prev)),
                           f"missing `=` between `{prev2}` and {prev}",
                           hints=[f"write `{prev2} = {prev}` (a block would be `{prev2} {prev} {{ ... }}`)"])
        return

    hints = ["expected " + _expected_list(expected)]
    if token.type == "NAME" and prev is not None and prev.type == "NAME":
        hints.append('block labels are quoted: `node "HCI01" { ... }`')
    diagnostics.report("HCI001", span, f"unexpected {describe_token(token)}", hints=hints)


VERSION_RE = re.compile(r"[0-9]{2}[Hh][0-9]")  # 22H2, 23H2, 24H2: how Microsoft names releases
WORD_RE = re.compile(r'[^\s,\[\]{}"#=]+')
TIME_RE = re.compile(r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?(?![\w.:])")


def _report_malformed_value(source: Source, token: Token, before: list[Token], diagnostics: Collector) -> bool:
    """Specific messages for values that lex as two tokens: `23H2`, `MGMT-01`, `2026-12-05 22:00Z`."""
    file = source.name
    if not before:
        return False
    prev = before[-1]
    text = source.text
    # `2026-12-05 22:00Z`: a date, a space, a time. The grammar's timestamps join them with `T`.
    if prev.type == "TIMESTAMP" and "T" not in str(prev) and text[prev.end_pos:token.start_pos].strip(" \t") == "":
        time = TIME_RE.match(text, token.start_pos)
        if time is not None:
            joined = f"{prev}T{time.group(0)}"
            hints = [f"join the date and the time with `T`, without quotes: `{joined}`"]
            if time.group(2) is None:
                hints.append(f"and give its UTC offset: `{joined}Z`, or `{joined}+01:00`")
            diagnostics.report("HCI001", Span.of(file, prev).to(Span(file, token.line, token.column + time.end()
                                                                   - token.start_pos, token.line, token.column
                                                                   + time.end() - token.start_pos)),
                               f"timestamp written with a space: `{prev} {time.group(0)}`", hints=hints)
            return True
    # A word glued from tokens (`23H2` is the size-or-duration `23H` then the number `2`) right after `=`.
    run = [*before, token]
    start = len(run) - 1
    while start > 0 and run[start - 1].end_pos == run[start].start_pos and run[start - 1].type != "EQUAL":
        start -= 1
    if start == len(run) - 1 or start < 2 or run[start - 1].type != "EQUAL" or run[start - 2].type != "NAME":
        return False
    word = WORD_RE.match(text, run[start].start_pos)
    if word is None or word.end() <= token.start_pos:
        return False
    name, value = run[start - 2], word.group(0)
    first = run[start]
    span = Span(file, first.line, first.column, first.line, first.column + len(value))
    if VERSION_RE.fullmatch(value):
        diagnostics.report("HCI001", span, f"unquoted version `{value}`",
                           hints=[f'versions are quoted strings: write `{name} = "{value.upper()}"`'])
    else:
        diagnostics.report("HCI001", span, f"`{value}` is not one value",
                           hints=[f'if it is text (a name, a version), quote it: `{name} = "{value}"`'])
    return True


def _indent_column(source: Source, line: int) -> int:
    text = source.line_text(line)
    return len(text) - len(text.lstrip(" \t")) + 1


def _report_misindented_block(source: Source, tokens: list[Token], diagnostics: Collector) -> bool:
    """At the end of a file with a block open: blame the block whose `}` is missing, from the indentation.

    A missing `}` makes every later `}` close the block before the one it was
    written for, so the bracket count blames the outermost block. The block
    that lost its `}` is the first one whose matching `}` is indented less than
    the line that opens it. Without such a block (a file on one line, say),
    the caller reports the innermost open bracket.
    """
    file = source.name
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.type in ("LBRACE", "LSQB"):
            stack.append(index)
            continue
        if token.type not in ("RBRACE", "RSQB") or not stack:
            continue
        opened_at = stack.pop()
        opener = tokens[opened_at]
        if token.type != "RBRACE" or opener.type != "LBRACE" or token.line == opener.line:
            continue
        if token.column >= _indent_column(source, opener.line):
            continue
        outer = next((t for t in reversed(tokens[:index]) if t.type == "LBRACE"
                      and _indent_column(source, t.line) == token.column and t.line < opener.line), None)
        name = _block_name(tokens, opened_at)
        related = [Related(Span.of(file, token), f"this `}}` closes it by count, but is indented for the block "
                                                 f"of line {outer.line}" if outer else
                           "this `}` closes it by count, but is indented for an outer block")]
        diagnostics.report("HCI003", Span.of(file, opener),
                           f"unclosed block{name}: this `{{` has no matching `}}`",
                           related=related, hints=[f"add `}}` where the block ends, before line {token.line}"])
        return True
    return False


def _block_name(tokens: list[Token], brace: int) -> str:
    """` `node "HCI01"`` for the `{` at `brace` (its type and labels), or "" when it cannot be told."""
    index = brace - 1
    while index >= 0 and tokens[index].type == "STRING":
        index -= 1
    if index < 0 or tokens[index].type != "NAME":
        return ""
    return " `" + " ".join(str(t) for t in tokens[index:brace]) + "`"


def _expected_list(expected: list[str]) -> str:
    names = sorted({token_name(e) for e in expected})
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]
