"""Hostile text for property tests of every output: a shared alphabet, models that carry it, and one checker per
output language that says whether the text stayed inert.

Usage (tests/test_hostile_outputs.py does this for every backend; a new backend adds one entry to `OUTPUTS`):

    value = MARK + "<img src=x onerror=alert(1)>|`" + MARK
    result = compile_field("volume", value)            # a valid plan with `value` as a volume's name, or refused
    if result.ok:
        text = render("runbook", result.plan)
        check_output("markdown", text, value, baseline=render("runbook", compile_field("volume", harmless("volume")).plan))

Each checker parses the output with the language's own parser where one is available (markdown-it-py with the
GFM table rule, Graphviz `dot`, tree-sitter-powershell, `json`, `html.parser`) and asserts that (1) the
output still parses, (2) it has the same structure as the output for a harmless value (so the value added no
table cell, heading, graph node, HTML element or command), and (3) the value appears only where text belongs
(a code span, a label, a string literal), showing exactly the value (`escape.plain` of it).
"""

from __future__ import annotations

import functools
import html.parser
import json
import re
import shutil
import subprocess
import unicodedata

from hypothesis import strategies as st
from markdown_it import MarkdownIt

from hciplan.backends.escape import plain
from hciplan.compiler.characters import is_control, is_invisible
from hciplan.compiler.compile import compile_checked
from hciplan.fmt import quote
from plan_models import Shape, hciplan_text

MARK = "QZX"  # brackets every hostile value, so the checkers can find it in any output

# The shared hostile alphabet: quotes of every kind, PowerShell's specials, Markdown, HTML, DOT, Mermaid and
# comment delimiters, line breaks, bidirectional controls and invisible characters.
FRAGMENTS = [
    "'", '"', "\u2018", "\u2019", "\u201a", "\u201b", "\u201c", "\u201d", "\u201e", "\u2013", "\u2014",
    "`", "``", "```", "~~~", "$(", "$(Stop-Computer -Force)", "${env:PATH}", "@(", ";", "|", "||", "&", "&amp;",
    "&#x202e;", "<", ">", "<img src=x onerror=alert(1)>", "<script>", "</td>", "]", "[", "[x](javascript:y)", "{", "}",
    "(", ")", "\\", "\\n", "\\|", "*", "_", "**", "#", "# ", "#quot;", "#35;", "#>", "<#", "-->", "<!--", "->",
    "\n", "\r\n", "\t", "\u2028", "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u061c", "\u200b", "\ufeff",
    "\u00ad", " ", "  ", "x", "é", "%", "\\N", "\\G", "\\l", "-", ".",
]


# The fragments the character rules let through (no control, separator or format character): the ones that
# reach the outputs in a free-text field; and all of them in one value, every attack at once.
PASSING_FRAGMENTS = [f for f in FRAGMENTS if not any(is_control(c) or is_invisible(c) for c in f)]
ALL_AT_ONCE = MARK + "".join(PASSING_FRAGMENTS) + MARK
# Characters a field refuses by its own rule, beyond the character rules: an AD path refuses & " ' < > (HCI707).
REFUSED_IN = {"adou_path": frozenset("&\"'<>")}


def all_at_once(field: str) -> str:
    """`ALL_AT_ONCE` without the characters `field` refuses by its own rule: every attack the field lets through."""
    return "".join(c for c in ALL_AT_ONCE if c not in REFUSED_IN.get(field, ()))


def mostly_passing_values() -> st.SearchStrategy[str]:
    """Hostile values, half of them from the fragments the character rules let through (so that most reach
    the outputs rather than stop at HCI109/HCI113), half from the whole alphabet."""
    return st.one_of(hostile_values(fragments=PASSING_FRAGMENTS), hostile_values())


def hostile_values(max_fragments: int = 6, fragments: list[str] = FRAGMENTS) -> st.SearchStrategy[str]:
    """`MARK + hostile core + MARK`, the core joined from 1 to `max_fragments` fragments of the alphabet."""
    return st.lists(st.sampled_from(fragments), min_size=1, max_size=max_fragments).map(lambda p: MARK + "".join(p) + MARK)


# --- models carrying a value in one free-text field ---------------------------------------------------

BASE = hciplan_text(Shape(solution=True, source="media")).replace(
    'volume "Data" {', 'volume "Data" { used = 100GB ').replace(
    "  vm_version = skip", '  vm_version = skip\n  convert_to_thin = ["Data"]').replace(
    'deployment_user = "hcilcm"', 'deployment_user = "hcilcm"  custom_location = "clu-test-cl"  '
                                  'adou_path = "OU=hci,DC=contoso,DC=com"')


def _label(block: str, old: str, *also: str):
    def put(text: str, literal_text: str) -> str:
        text = text.replace(f'{block} "{old}"', f"{block} {literal_text}")
        for other in also:
            text = text.replace(other.format(old=f'"{old}"'), other.format(old=literal_text))
        return text
    return put


def _attribute(name: str, old: str):
    def put(text: str, literal_text: str) -> str:
        return text.replace(f'{name} = "{old}"', f"{name} = {literal_text}")
    return put


# field -> how to write a value into BASE (as an hciplan string literal), and how a harmless value looks
FIELDS = {
    "cluster": _label("cluster", "clu-test", 'upgrade {old}'),
    "node": _label("node", "N02"),
    "pool": _label("pool", "S2D"),
    "volume": _label("volume", "Data", "convert_to_thin = [{old}]"),
    "vm_group": _label("vm_group", "apps"),
    "window": _label("window", "w1"),
    "media_path": _attribute("media_path", "C:\\\\Media\\\\23H2"),
    "key_vault": _attribute("key_vault", "kv-test-01"),
    "deployment_user": _attribute("deployment_user", "hcilcm"),
    "custom_location": _attribute("custom_location", "clu-test-cl"),
    "adou_path": _attribute("adou_path", "OU=hci,DC=contoso,DC=com"),
}
PREFIXES = {"media_path": "C:\\", "adou_path": "OU="}  # so the value keeps the shape its field asks for
SUFFIXES = {"adou_path": ",DC=contoso,DC=com"}


def in_field(field: str, value: str) -> str:
    """The field's full value for a hostile `value`: prefixed and suffixed where the field has a shape."""
    return PREFIXES.get(field, "") + value + SUFFIXES.get(field, "")


def harmless(field: str) -> str:
    return MARK + "plain" + MARK


def model_text(field: str, value: str) -> str:
    text = FIELDS[field](BASE, quote(in_field(field, value)))
    assert text != BASE, f"{field}: the value was not written"
    return text


@functools.lru_cache(maxsize=256)
def compile_field(field: str, value: str):
    """The compile result of BASE with `value` in `field` (cached: baselines are asked for again and again)."""
    from hciplan.compiler.pipeline import check_text

    return compile_checked(check_text(model_text(field, value), "hostile.hciplan"))


def baseline_plan(field: str):
    result = compile_field(field, harmless(field))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    return result.plan


# --- checkers, one per output language ------------------------------------------------------------------

def _shown(value: str) -> str:
    """How an output shows `value` as text: on one line, invisible characters as `\\uXXXX`."""
    return plain(value)


_STEP_ID = re.compile(r"p\d[.-][A-Za-z0-9_.-]*")  # step ids (and their function names) carry a mangled copy


def _shows_value(piece: str, value: str) -> bool:
    """Whether `piece`, wherever it holds the marker outside a step id, shows exactly the value."""
    return MARK not in _STEP_ID.sub("", piece) or _shown(value) in piece


MARKDOWN = MarkdownIt("commonmark").enable("table")  # GFM tables: a `|` ends a cell, even in a code span


def _markdown_shape(tokens) -> list[tuple[str, str]]:
    return [(t.type, t.tag) for t in tokens if t.type != "inline"]


@functools.lru_cache(maxsize=64)
def _baseline_markdown_shape(baseline: str) -> list[tuple[str, str]]:
    return _markdown_shape(MARKDOWN.parse(baseline))


def check_markdown(text: str, value: str, baseline: str) -> None:
    tokens = MARKDOWN.parse(text)
    # 1. no raw HTML anywhere, and 2. the same blocks, tables, rows and cells as for a harmless value
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not kinds & {"html_block", "html_inline"}, "raw HTML in the Markdown"
    assert _markdown_shape(tokens) == _baseline_markdown_shape(baseline), "the value changed the document's shape"
    # 3. the value only inside code (spans show exactly it) or as literal text, never as markup
    shown, seen = _shown(value), False
    for token in tokens:
        for piece in [token, *(token.children or [])]:
            if MARK not in piece.content or piece.children:
                continue
            assert piece.type in ("code_inline", "fence", "text"), (piece.type, piece.content[:80])
            if piece.type in ("code_inline", "text"):
                assert _shows_value(piece.content, value), ("the value is cut or marked up", piece.content, shown)
                seen = seen or shown in piece.content
            else:  # a fenced PowerShell block: the value stays inside string literals there
                _assert_only_in_literals(piece.content)
                seen = True
    assert seen or MARK not in text, "the value appears only as markup"


def _marked_nodes(tree, code: str):
    """The smallest node around each occurrence of the marker, found from the text (walking every node of a
    long script in Python costs a second an example; tree-sitter finds a byte range's node in C)."""
    data, mark = code.encode("utf-8"), MARK.encode()
    at = data.find(mark)
    while at != -1:
        yield tree.root_node.descendant_for_byte_range(at, at + len(mark))
        at = data.find(mark, at + 1)


def _parsed(code: str):
    """`code` parsed as PowerShell, asserting it has no ERROR or MISSING node."""
    import ps_parse

    code = code.removeprefix(ps_parse.BOM)  # as ps_parse.parse does, so byte offsets match
    tree = ps_parse.parse(code)
    assert not tree.root_node.has_error, ps_parse.errors(tree)[:5]
    return code, tree


def _assert_only_in_literals(code: str, exempt: re.Pattern = _STEP_ID) -> None:
    """Every occurrence of the marker in PowerShell `code` is inside a string literal or a comment (or is a
    whole token matching `exempt`: a step id or a function named after one)."""
    import ps_parse

    code, tree = _parsed(code)
    for node in _marked_nodes(tree, code):
        if not exempt.fullmatch(ps_parse.text(node)):
            assert ps_parse.inside(node, {"string_literal", "comment"}), (node.type, ps_parse.text(node)[:60])


def dot_available() -> bool:
    return shutil.which("dot") is not None


_SPACE = re.compile(r"\s*")


def dot_json_many(texts: list[str]) -> list[dict]:
    """Each DOT graph of `texts` as Graphviz reads it (`dot -Tjson`), all in one `dot` run: dot lays out every
    graph of its input and writes one JSON document per graph, so a batch costs one process, not one each."""
    done = subprocess.run(["dot", "-Tjson"], input="\n".join(texts).encode("utf-8"), capture_output=True,
                          timeout=120)
    assert done.returncode == 0 and b"syntax error" not in done.stderr, done.stderr.decode("utf-8", "replace")[:500]
    out, decoder, stream = [], json.JSONDecoder(), done.stdout.decode("utf-8")
    at = _SPACE.match(stream).end()
    while at < len(stream):
        document, at = decoder.raw_decode(stream, at)
        out.append(document)
        at = _SPACE.match(stream, at).end()
    assert len(out) == len(texts), f"dot read {len(out)} graphs of {len(texts)}"
    return out


def _dot_json(text: str) -> dict:
    [graph] = dot_json_many([text])
    return graph


def _escstring(label: str) -> str:
    """Graphviz's reading of our labels: `\\\\` is a backslash, `\\n` ends a line (we write no other escapes)."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), label)


def check_dot(text: str, value: str, baseline: str) -> None:
    check_dot_graph(_dot_json(text), value, _dot_json(baseline))


def check_dot_graph(graph: dict, value: str, base: dict) -> None:
    """`check_dot` on graphs already read by Graphviz (`dot_json_many`)."""
    assert len(graph.get("objects", [])) == len(base.get("objects", [])), "the value added graph nodes"
    assert len(graph.get("edges", [])) == len(base.get("edges", [])), "the value added edges"
    labels = [_escstring(o.get("label", "")) for o in graph.get("objects", [])]
    lines = [line for label in labels for line in label.split("\n")]
    assert all(_shows_value(line, value) for line in lines), ([line for line in lines if MARK in line][:2], value)
    assert any(_shown(value) in line for line in lines) or not any(MARK in line for line in lines)
    names = [o["name"] for o in graph.get("objects", [])]
    assert len(set(names)) == len(names), "two boxes share a DOT ID"


_MERMAID_LINE = re.compile(
    r'flowchart TD'
    r'|  subgraph P\d\["[^"]*"\]'
    r'|    s\d+(?:\("[^"]*"\)|\{"[^"]*"\}|\{\{"[^"]*"\}\})'
    r'|  end'
    r'|  s\d+ --> s\d+'
    r'|  classDef \w+ [\w:#,.-]+'
    r'|  class s\d+(?:,s\d+)* \w+')
_MERMAID_LABEL = re.compile(r'"([^"]*)"')


def check_mermaid(text: str, value: str, baseline: str) -> None:
    """No Mermaid parser runs without a browser, so the check is structural: every line is one the backend
    writes, with its label inside quotes, and every label is inert text (no `"`, `<`, `>`, `&` or backtick;
    `#` only in `#NN;` entity codes, which decode to exactly the value)."""
    lines = text.splitlines()
    assert len(lines) == len(baseline.splitlines()), "the value added lines"
    shown = _shown(value)
    for line in lines:
        assert _MERMAID_LINE.fullmatch(line), line[:120]
        for label in _MERMAID_LABEL.findall(line):
            parts = label.split("<br/>")
            for part in parts:
                assert not set(part) & set("<>&`"), part
                assert re.fullmatch(r"(?:[^#]|#\d+;)*", part), part
                decoded = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), part)
                assert _shows_value(decoded, value), (decoded, shown)


@functools.lru_cache(maxsize=1)
def _command_names_query():
    import tree_sitter
    import tree_sitter_powershell

    # the name of every command invocation, as ps_parse.commands finds them (its `command_name` child)
    language = tree_sitter.Language(tree_sitter_powershell.language())
    return tree_sitter.Query(language, "(command [(command_name) (command_name_expr)] @name)")


def _command_names(tree) -> tuple[frozenset[str], int]:
    """The names of the commands a script runs, and how many times it calls a step function: those are named
    after step ids, which carry node and volume names, so only their number is the script's shape."""
    import tree_sitter

    nodes = tree_sitter.QueryCursor(_command_names_query()).captures(tree.root_node).get("name", [])
    names = [node.text.decode("utf-8") for node in nodes]
    return frozenset(n for n in names if not n.startswith("Step-")), sum(n.startswith("Step-") for n in names)


@functools.lru_cache(maxsize=64)
def _baseline_command_names(baseline: str) -> tuple[frozenset[str], int]:
    return _command_names(_parsed(baseline)[1])


def check_powershell(text: str, value: str, baseline: str) -> None:
    import ps_parse

    text, tree = _parsed(text)
    for node in _marked_nodes(tree, text):
        if re.fullmatch(r"Step-[A-Za-z0-9_-]+", ps_parse.text(node)):
            continue  # a step function named after a step id (only [A-Za-z0-9_-])
        assert ps_parse.inside(node, {"string_literal", "comment"}), (node.type, ps_parse.text(node)[:60])
    assert _command_names(tree) == _baseline_command_names(baseline), "the value added a command"


def _invisible(char: str) -> bool:
    return char != "\n" and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def check_plain(text: str, value: str, baseline: str) -> None:
    """Terminal text: no control or format character, and the value adds no line."""
    assert not any(_invisible(c) for c in text), "a control or invisible character in plain text"
    assert len(text.splitlines()) == len(baseline.splitlines()), "the value added lines"
    assert all(_shows_value(line, value) for line in text.splitlines()), _shown(value)


def check_json(text: str, value: str, baseline: str) -> None:
    document = json.loads(text)

    def strings(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, item in node.items():
                yield from strings(key)
                yield from strings(item)
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)

    assert all(MARK not in _STEP_ID.sub("", s) or value in s for s in strings(document)), "a value was cut in the JSON"
    assert set(json.loads(baseline)) == set(document)


class _Tags(html.parser.HTMLParser):
    """The page's elements and attribute names (its shape), its decoded text and attribute values, and apart
    the text of its `<pre>` blocks (the report shows PowerShell commands there)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shape: list[tuple] = []
        self.text: list[str] = []
        self.code: list[str] = []
        self._pre = 0

    def handle_starttag(self, tag, attrs):
        self.shape.append(("start", tag, tuple(name for name, _ in attrs)))
        self.text.extend(v or "" for _, v in attrs)
        self._pre += tag == "pre"

    def handle_endtag(self, tag):
        self.shape.append(("end", tag))
        self._pre -= tag == "pre"

    def handle_data(self, data):
        (self.code if self._pre else self.text).append(data)

    def handle_comment(self, data):
        self.shape.append(("comment",))


@functools.lru_cache(maxsize=64)
def _baseline_html_shape(baseline: str) -> list[tuple]:
    base = _Tags()
    base.feed(baseline)
    base.close()
    return base.shape


def check_html(text: str, value: str, baseline: str) -> None:
    """HTML (the report): the same elements and attribute names as for a harmless value, so the value added
    no element, attribute or comment; the value, decoded, only as text or an attribute value that shows it
    exactly; and in `<pre>` blocks (PowerShell commands) only inside string literals, parsed by tree-sitter."""
    page = _Tags()
    page.feed(text)
    page.close()
    assert page.shape == _baseline_html_shape(baseline), "the value added or changed elements"
    assert all(_shows_value(t, value) for t in page.text), ([t for t in page.text if MARK in t][:2], _shown(value))
    for code in page.code:
        if MARK in code:
            _assert_only_in_literals(code)


CHECKERS = {"markdown": check_markdown, "dot": check_dot, "mermaid": check_mermaid, "powershell": check_powershell,
            "plain": check_plain, "json": check_json, "html": check_html}


def check_output(language: str, text: str, value: str, baseline: str) -> None:
    CHECKERS[language](text, value, baseline)
