"""The escapers: the only way a value from a `.hciplan` file or an inventory enters generated text.

One function per output language, each following that language's specification (cited on the function):

| output | function | used by |
| --- | --- | --- |
| plain text (terminal, comments) | `plain` | summary |
| Markdown text | `md_text` | runbook |
| Markdown code span | `md_code` | runbook (outside tables) |
| Markdown code span in a GFM table cell | `md_cell_code` | runbook (inside tables) |
| Markdown fenced code block | `md_block` | runbook |
| HTML text and quoted attribute values | `html_text` | (none yet: the report escapes with Jinja2's autoescape, MarkupSafe, the same five characters) |
| Graphviz DOT quoted ID | `dot_id` | dot |
| Graphviz DOT label (escString) | `dot_label` | dot |
| Mermaid quoted label | `mermaid_label` | mermaid |
| PowerShell literal, comment, identifier | `literal`, `literal_list`, `comment_text`, `function_name` | powershell, runbook |

The PowerShell escapers live in `pstext` (the script backend's own module) and are re-exported here.
`tests/test_escaping.py` reads the code of the text backends (summary, runbook, dot, mermaid) with `ast` and
checks that every value interpolated into output text passes through one of the functions in `ESCAPERS`, or
is on its short allow-list of values that cannot carry user text. The PowerShell backend is held to the same
rule by tree-sitter instead (tests/test_hostile_outputs.py: user text only inside string literals), and the
report by Jinja2's autoescape (tests/test_hostile_outputs.py: check_html).

Every escaper first makes invisible characters visible (`plain`): the checker refuses bidirectional and
other format characters (HCI113), so this is a second line of defence, not the rule.
"""

from __future__ import annotations

import re

from hciplan.backends.pstext import comment_text, function_name, literal, literal_list, visible

__all__ = ["ESCAPERS", "comment_text", "dot_id", "dot_label", "function_name", "html_text", "literal",
           "literal_list", "md_block", "md_cell_code", "md_code", "md_text", "mermaid_label", "plain"]


def plain(value: str) -> str:
    """`value` on one line for plain text (a terminal, a log): controls, format characters (bidirectional
    overrides, zero-width characters), line separators and newlines shown as `\\uXXXX`.

    Terminals act on C0/C1 controls (ECMA-48 escape sequences) and reorder text by the Unicode
    Bidirectional Algorithm (UAX #9); neither can then act on a user's value.
    """
    return visible(value)


# --- Markdown: CommonMark 0.31.2 and the GitHub Flavored Markdown spec 0.29-gfm -------------------------

# The ASCII punctuation that can start inline structure in CommonMark or GFM: code spans (6.1), emphasis
# (6.2, `*` `_`), links and images (6.3, 6.4: `[` `]`; `!` only before `[`), autolinks and raw HTML (6.5,
# 6.6: they open with `<`; `>` alone is text inside a line), entity references (2.5: `&`), backslash
# escapes themselves (2.4), GFM tables (4.10: `|`) and strikethrough (6.5 ext: `~`), and `$` (GitHub
# renders `$...$` as math). CommonMark 2.4: any ASCII punctuation may be backslash-escaped, and then stands
# for itself. Line-start markers (`#`, `>`, `-`, `1.`) cannot occur: the text never starts a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<&|~$])")


def md_text(value: str) -> str:
    """`value` as literal Markdown text inside a line (a sentence, a heading, a table cell).

    Every character that could start Markdown structure is backslash-escaped (CommonMark 2.4), so the
    text renders as itself: no emphasis, link, raw HTML, entity or extra table cell. Newlines and other
    invisible characters are shown as `\\uXXXX` (`plain`), so the value cannot start a new block
    (heading, fence, list item) either.
    """
    return _MD_SPECIAL.sub(r"\\\1", plain(value))


def _code_span(text: str) -> str:
    # CommonMark 6.1: a code span opens and closes with backtick strings of equal length, so the fence is
    # one backtick longer than the longest run inside; one space is stripped from each side when both ends
    # are spaces, and a content starting or ending with a backtick needs a space to be unambiguous.
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if (text.startswith("`") or text.endswith("`") or not text.strip(" ")
                  or (text.startswith(" ") and text.endswith(" "))) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_code(value: str) -> str:
    """`value` as an inline code span on one line (CommonMark 6.1), outside tables.

    Inside a code span nothing is Markdown (no HTML, no escapes), so only the backtick fence matters.
    In a table cell use `md_cell_code`: there a `|` still ends the cell.
    """
    return _code_span(plain(value))


def md_cell_code(value: str) -> str:
    """`value` as an inline code span inside a GFM table cell.

    GFM 4.10 (tables): a `|` ends the cell even inside a code span, unless it is written `\\|`, which the
    table parser turns back into `|` before the code span is read ("It is possible to include a pipe in a
    cell's content by escaping it, including inside other inline spans"). So the span shows exactly the
    value, and the row keeps its cells.
    """
    return _code_span(plain(value)).replace("|", "\\|")


def md_block(code: str, language: str = "powershell") -> str:
    """A fenced code block (CommonMark 4.5) that no content line can close early.

    A backtick fence closes only on a line of at least as many backticks, so the fence is longer than
    any backtick run in the code (at least three). The code is our generated text (a PowerShell command
    whose user values are already literals); a fence never interprets its content.
    """
    runs = [len(m) for m in re.findall(r"`+", code)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{language}\n{code.rstrip()}\n{fence}"


# --- HTML: the HTML Living Standard, 13.1 "Writing HTML documents" ---------------------------------------

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def html_text(value: str) -> str:
    """`value` as HTML text or a quoted attribute value: `& < > " '` as character references (HTML 13.1.4,
    13.2.5.72), the same five MarkupSafe (Jinja2's autoescape) replaces; invisible characters as `plain`.
    """
    return "".join(_HTML.get(c, c) for c in plain(value))


# --- Graphviz DOT: https://graphviz.org/doc/info/lang.html and .../attrs.html#k:escString -------------------


def dot_id(value: str) -> str:
    """`value` as a double-quoted DOT ID (a node or graph name).

    DOT language, "Lexical and Semantic Notes": "In quoted strings in DOT, the only escaped character is
    double-quote ("). That is, in quoted strings, the dyad \\" is converted to "; all other characters are
    left unchanged. In particular, \\\\ remains \\\\." A backslash before the closing quote would still escape
    it, so backslashes are doubled too: distinct values stay distinct IDs. A backslash before a newline
    continues the line, so newlines (refused by the checker) are shown as `\\u000A` first.
    """
    return '"' + plain(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_label(lines: str | tuple[str, ...]) -> str:
    """Lines of text as a double-quoted DOT label, an escString (attrs.html#k:escString).

    In an escString `\\n` `\\l` `\\r` end lines and `\\N` `\\G` `\\E` `\\T` `\\H` `\\L` are replaced by graph
    names; doubling every backslash makes each one a literal backslash, quotes are `\\"`, and our own line
    breaks are `\\n`. Labels are always quoted, never `<...>` HTML-like labels.
    """
    lines = (lines,) if isinstance(lines, str) else lines
    return '"' + "\\n".join(plain(line).replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'


# --- Mermaid: https://mermaid.js.org/syntax/flowchart.html ("Entity codes to escape characters") --------------

# Inside a quoted label Mermaid ends the label at `"`, decodes `#name;` / `#number;` entity codes, renders
# HTML (`<`, `>`, `&`) and reads a label that starts with a backtick as Markdown. Each of these, and `#`
# itself (so no value can spell an entity), becomes its decimal entity code `#NN;`.
_MERMAID_SPECIAL = frozenset('"#&<>`')


def mermaid_label(lines: str | tuple[str, ...]) -> str:
    """Lines of text as a quoted Mermaid flowchart label, joined with `<br/>` (our line breaks)."""
    lines = (lines,) if isinstance(lines, str) else lines
    return '"' + "<br/>".join("".join(f"#{ord(c)};" if c in _MERMAID_SPECIAL else c for c in plain(line))
                              for line in lines) + '"'


# The escapers, by output language: the functions `tests/test_escaping.py` accepts around a user value.
ESCAPERS = {
    "plain": (plain,),
    "markdown": (md_text, md_code, md_cell_code, md_block, literal, literal_list),
    "html": (html_text,),
    "dot": (dot_id, dot_label),
    "mermaid": (mermaid_label,),
    "powershell": (literal, literal_list, comment_text, function_name),
}
