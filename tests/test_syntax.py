"""The lexical layer: literals parse to the right values, and every syntax error gets its code.

Values are checked both in the generic syntax tree and, for typed literals
(sizes, durations, addresses, timestamps), after lowering into the model.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

import pytest

from hciplan.compiler import syntax
from hciplan.compiler.diagnostics import REGISTRY, Collector
from hciplan.compiler.pipeline import MAX_SOURCE_BYTES, check_bytes
from hciplan.compiler.schema import DURATION_UNITS, SIZE_UNITS
from hciplan.compiler.source import Source

from helpers import BASE, check, codes, line_of, mutate

GiB, TiB = 1024**3, 1024**4


def parse_ok(text: str) -> syntax.Document:
    diagnostics = Collector()
    document = syntax.parse(Source("t.hciplan", text), diagnostics)
    assert diagnostics.items == [] and document is not None
    return document


def value(literal: str) -> syntax.Value:
    """The syntax-tree value of `x = <literal>`."""
    (attribute,) = parse_ok(f"x = {literal}\n").body
    return attribute.value


def model_of(*replacements: tuple[str, str]):
    result = check(mutate(BASE, *replacements))
    assert result.ok, result.diagnostics
    return result.model


# --- sizes and durations ------------------------------------------------------------------


@pytest.mark.parametrize(("literal", "size"), [
    ("768GB", 768 * GiB),            # PowerShell's GB is 2^30, and so is ours
    ("768GiB", 768 * GiB),
    ("1TB", TiB),
    ("1.5TB", 1536 * GiB),
    ("0.5TiB", 512 * GiB),
    ("512MB", 512 * 1024**2),
    ("4096KB", 4 * 1024**2),
    ("2PB", 2 * 1024**5),
    ("1073741824B", GiB),
])
def test_sizes_use_binary_units_like_powershell(literal, size):
    model = model_of(('size = 1TB  resiliency = mirror_3way  provisioning = fixed  used = 256GB',
                      f'size = 4PB  resiliency = mirror_3way  provisioning = fixed  used = {literal}'))
    assert model.cluster.volumes[1].used == size


def test_size_and_duration_literals_are_one_quantity_token():
    assert value("768GB") == syntax.Quantity("768GB", value("768GB").span)
    assert isinstance(value("1h30m"), syntax.Quantity) and value("1h30m").text == "1h30m"


@pytest.mark.parametrize(("literal", "seconds"), [
    ("90s", 90), ("45m", 45 * 60), ("1h", 3600), ("1h30m", 5400), ("2h15m30s", 2 * 3600 + 15 * 60 + 30),
    ("1.5h", 5400),
])
def test_durations(literal, seconds):
    model = model_of(("reboot_timeout = 45m", f"reboot_timeout = {literal}"))
    assert model.upgrade.reboot_timeout == seconds


# --- numbers, identifiers, booleans ----------------------------------------------------------


@pytest.mark.parametrize(("literal", "number"), [("0", 0), ("42", 42), ("-5", -5), ("2.5", 2.5)])
def test_numbers(literal, number):
    parsed = value(literal)
    assert isinstance(parsed, syntax.Number) and parsed.value == number and type(parsed.value) is type(number)


def test_identifiers_and_booleans():
    assert value("mirror_3way") == syntax.Ident("mirror_3way", value("mirror_3way").span)
    model = model_of()
    assert model.cluster.registered is True and model.cluster.stretched is False
    assert [g.ha for g in model.cluster.vm_groups] == [True, True, False]  # the first by default


# --- IPv4 addresses, networks and ranges --------------------------------------------------------


def test_ipv4_with_and_without_prefix():
    model = model_of(("ip = 10.0.10.12/24", "ip = 10.0.10.12"))
    first, second = model.cluster.nodes[:2]
    assert first.ip == ipaddress.IPv4Interface("10.0.10.11/24")
    assert first.ip.network == ipaddress.IPv4Network("10.0.10.0/24")
    assert second.ip == ipaddress.IPv4Interface("10.0.10.12/32")
    assert model.upgrade.solution.subnet == ipaddress.IPv4Network("10.0.10.0/24")


@pytest.mark.parametrize("written", [
    "10.0.10.50 .. 10.0.10.59", "10.0.10.50..10.0.10.59", "10.0.10.50 ..10.0.10.59", "10.0.10.50\n      .. 10.0.10.59",
])
def test_ipv4_ranges_with_and_without_spaces(written):
    parsed = value(written)
    assert isinstance(parsed, syntax.Ipv4Range)
    assert (parsed.start.text, parsed.end.text) == ("10.0.10.50", "10.0.10.59")
    solution = model_of(("ip_range = 10.0.10.50 .. 10.0.10.59", f"ip_range = {written}")).upgrade.solution
    assert str(solution.ip_range) == "10.0.10.50 .. 10.0.10.59" and solution.ip_range.size == 10


# --- timestamps ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("literal", "expected"), [
    ("2026-12-05T22:00Z", dt.datetime(2026, 12, 5, 22, 0, tzinfo=dt.timezone.utc)),
    ("2026-12-05T22:00:30Z", dt.datetime(2026, 12, 5, 22, 0, 30, tzinfo=dt.timezone.utc)),
    ("2026-12-05T22:00+01:00", dt.datetime(2026, 12, 5, 21, 0, tzinfo=dt.timezone.utc)),
    ("2026-12-05T17:30-05:30", dt.datetime(2026, 12, 5, 23, 0, tzinfo=dt.timezone.utc)),
])
def test_timestamps_with_zones(literal, expected):
    model = model_of(("start = 2026-12-05T22:00Z", f"start = {literal}"))
    start = model.upgrade.windows[0].start
    assert start == expected and start.utcoffset() is not None


def test_timestamp_offset_is_kept():
    start = model_of().upgrade.windows[1].start
    assert start.utcoffset() == dt.timedelta(hours=1) and start.hour == 22


# --- strings and comments -------------------------------------------------------------------------


@pytest.mark.parametrize(("literal", "text"), [
    ('"plain"', "plain"),
    ('""', ""),
    (r'"C:\\Media\\23H2"', "C:\\Media\\23H2"),
    (r'"say \"hi\""', 'say "hi"'),
    (r'"a\tb\nc\rd"', "a\tb\nc\rd"),
    (r'"caf\u00e9"', "café"),
    ('"# not a comment // nor this /* nor this */"', "# not a comment // nor this /* nor this */"),
    ('"Überprüfung"', "Überprüfung"),
])
def test_string_literals_and_escapes(literal, text):
    parsed = value(literal)
    assert isinstance(parsed, syntax.Str) and parsed.value == text


def test_comments_of_every_kind_are_ignored():
    document = parse_ok(
        "# hash comment\n"
        "a = 1  # trailing\n"
        "// slash comment\n"
        "b = 2  // trailing\n"
        "/* a block comment\n   over two lines */ c = /* inline */ 3\n"
    )
    assert [(a.name, a.value.value) for a in document.body] == [("a", 1), ("b", 2), ("c", 3)]
    assert document.body[2].span.line == 6


def test_lists_allow_a_trailing_comma_and_may_be_empty():
    listed = value('["HCI01", "HCI02",]')
    assert isinstance(listed, syntax.ListValue) and [i.value for i in listed.items] == ["HCI01", "HCI02"]
    assert value("[]").items == ()
    multiline = value('[\n  "a",\n  "b",\n]')
    assert [i.value for i in multiline.items] == ["a", "b"]
    order = model_of(('"HCI02", "HCI01"]', '"HCI02", "HCI01",]')).upgrade.node_order
    assert order == ("HCI04", "HCI03", "HCI02", "HCI01")


def test_blocks_labels_and_spans():
    document = parse_ok('outer "a" "b" {\n  inner { k = v }\n}\n')
    (block,) = document.body
    assert block.type == "outer" and [label.value for label in block.labels] == ["a", "b"]
    assert (block.span.line, block.span.column, block.span.end_line) == (1, 1, 3)
    inner = block.body[0]
    assert inner.type == "inner" and inner.body[0].name == "k"
    assert (inner.body[0].name_span.line, inner.body[0].name_span.column) == (2, 11)


def test_layout_does_not_matter_to_the_model():
    one_line = BASE.replace("\n  ", "  ")  # attributes of one block may share a line
    assert check(one_line).model == check(BASE).model


# --- syntax errors: one code per common mistake ---------------------------------------------------

SYNTAX_ERRORS = [
    # (name, text, code, line, column, a fragment the hints must contain or None)
    ("unexpected token", 'cluster "c" {\n  version = = "22H2"\n}\n', "HCI001", 2, 13, "expected"),
    ("unexpected end of file", "x =", "HCI001", 1, 4, "expected"),
    ("unit written apart", 'cluster "c" {\n  node "n" { memory = 768 GB }\n}\n', "HCI001", 2, 23, "768GB"),
    ("missing = before a string", 'cluster "c" {\n  version "22H2"\n}\n', "HCI002", 2, 3, 'version = "22H2"'),
    ("missing = before a name", 'cluster "c" {\n  witness cloud\n}\n', "HCI002", 2, 3, "witness = cloud"),
    ("unquoted label", 'cluster "c" {\n  node HCI01 { memory = 1GB }\n}\n', "HCI001", 2, 8, 'node "HCI01" { ... }'),
    ("unquoted label and more", "cluster c1 \"x\" {\n}\n", "HCI001", 1, 9, 'cluster "c1" { ... }'),
    ("unclosed block", 'cluster "c" {\n  version = "22H2"\n', "HCI003", 1, 13, "`}`"),
    ("unclosed list", 'upgrade "c" {\n  node_order = ["a", "b"', "HCI003", 2, 16, "`]`"),
    ("list closed by }", 'upgrade "c" {\n  node_order = ["a", "b"\n}\n', "HCI003", 2, 16, "`]`"),
    ("list closed by } inline", 'x = [1, 2}', "HCI003", 1, 5, "`]`"),
    ("] in a block", 'cluster "c" {\n  x = 1 ]\n}\n', "HCI007", 2, 9, "remove it"),
    ("unknown unit", mutate(BASE, ("memory = 768GB", "memory = 768XB")), "HCI004", 16, 27, "units:"),
    ("unterminated string", 'cluster "c" {\n  version = "22H2\n}\n', "HCI005", 2, 13, '`"`'),
    ("colon instead of =", 'cluster "c" {\n  version: "22H2"\n}\n', "HCI006", 2, 10, "name = value"),
    ("stray character", 'cluster "c" {\n  @\n}\n', "HCI006", 2, 3, "remove it"),
    ("unterminated comment", 'cluster "c" {\n  /* version = "22H2"\n}\n', "HCI006", 2, 3, "`*/`"),
    ("comment closed twice", 'cluster "c" {\n  /* a */ b */\n}\n', "HCI006", 2, 13, "never opened"),
    ("extra closing brace", 'cluster "c" {\n}\n}\n', "HCI007", 3, 1, "remove it"),
    ("bad escape", 'cluster "c" {\n  version = "C:\\Media"\n}\n', "HCI008", 2, 16, "doubled backslashes"),
]


@pytest.mark.parametrize(("text", "code", "line", "column", "hint"), [case[1:] for case in SYNTAX_ERRORS],
                         ids=[case[0] for case in SYNTAX_ERRORS])
def test_syntax_error_codes(text, code, line, column, hint):
    result = check(text)
    matching = [d for d in result.diagnostics if d.code == code]
    assert matching, [(d.code, d.message) for d in result.diagnostics]
    first = matching[0]
    assert (first.span.line, first.span.column) == (line, column)
    assert first.severity.value == "error" and first.message
    if hint is not None:
        assert any(hint in h for h in first.hints), first.hints
    assert result.model is None


@pytest.mark.parametrize("code", ["HCI001", "HCI002", "HCI003", "HCI005", "HCI006", "HCI007"])
def test_a_syntax_error_is_reported_alone(code):
    text = next(case[1] for case in SYNTAX_ERRORS if case[2] == code)
    assert [d.code for d in check(text).diagnostics] == [code]


def test_nesting_too_deep_is_a_syntax_error_reported_alone():
    too_deep = "[" * 17 + '"HCI01"' + "]" * 17
    result = check(mutate(BASE, ('["HCI04", "HCI03", "HCI02", "HCI01"]', too_deep)))
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("HCI001", line_of(BASE, "node_order"))]
    assert "nested more than 16 levels" in result.diagnostics[0].message and result.model is None
    blocks = check("a { " * 17 + "}" * 17)
    assert codes(blocks) == ["HCI001"]
    deep_enough = check(mutate(BASE, ('["HCI04", "HCI03", "HCI02", "HCI01"]', "[" * 16 + "]" * 16)))
    assert codes(deep_enough) == ["HCI103"]  # 16 levels parse; the value is simply the wrong type


HUGE = "9" * 5000  # more digits than int() converts by default, and more than a float holds


@pytest.mark.parametrize(("old", "new"), [
    ("count = 4 ", f"count = {HUGE} "),
    ("count = 4 ", f"count = -{HUGE} "),
    ("count = 4 ", f"count = {HUGE}.5 "),
    ("memory = 768GB", f"memory = {HUGE}GB"),
    ("memory = 768GB", f"memory = {HUGE[:400]}GB"),
    ("reboot_timeout = 45m", f"reboot_timeout = {HUGE[:400]}h"),
    ("ip = 10.0.10.12/24", f"ip = 10.0.10.12/{HUGE}"),
])
def test_huge_numbers_are_out_of_range_not_a_crash(old, new):
    result = check(mutate(BASE, (old, new)))
    assert codes(result) == ["HCI109"] and result.model is None
    assert len(result.diagnostics[0].message) < 120


@pytest.mark.parametrize(("old", "new"), [
    ("ip = 10.0.10.12/24", "ip = 10.0.10.12/\uff13\uff12"),                   # fullwidth 32 crashed ipaddress
    ("count = 4 ", "count = \u0663 "),                                    # Arabic-Indic 3
    ("memory = 768GB", "memory = \uff17\u0036\u0038GB"),
    ("start = 2026-12-05T22:00Z", "start = \uff12026-12-05T22:00Z"),
])
def test_digits_are_ascii_only(old, new):
    result = check(mutate(BASE, (old, new)))
    assert [d.code for d in result.diagnostics] == ["HCI006"] and "unexpected character" in result.diagnostics[0].message


def test_an_invalid_escape_stops_the_semantic_checks():
    """The string's value is unknown, so checking it (here: the deployment user) would report nonsense."""
    result = check(mutate(BASE, ('deployment_user = "hcilcm"', 'deployment_user = "hci\\qlcm"')))
    assert codes(result) == ["HCI008"] and result.model is None
    with_more = check(mutate(BASE, ('deployment_user = "hcilcm"', 'deployment_user = "hci\\qlcm"'),
                             ('to = "23H2"', 'to = "24H2"')))
    assert codes(with_more) == ["HCI008"]  # not HCI201: no semantic check runs


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDFFF", "\\uDbff"])
def test_surrogate_escapes_are_invalid(escape):
    result = check(mutate(BASE, ('deployment_user = "hcilcm"', f'deployment_user = "hci{escape}"')))
    assert codes(result) == ["HCI008"] and escape in result.diagnostics[0].message


def test_the_unknown_unit_explanation_lists_the_units_the_checker_accepts():
    explanation = REGISTRY["HCI004"].explanation
    for unit in [*SIZE_UNITS, *DURATION_UNITS]:
        assert re.search(rf"\b{unit}\b", explanation), unit
    assert "1000" not in explanation and "1024" in explanation  # binary, like PowerShell
    assert not re.search(r"\bms\b", explanation)
    assert codes(check(mutate(BASE, ("reboot_timeout = 45m", "reboot_timeout = 90000ms")))) == ["HCI004"]


def test_a_unit_written_apart_is_only_suggested_when_it_exists():
    apart = check('cluster "c" {\n  x = 500 ms\n}\n')
    assert "unit written apart" not in apart.diagnostics[0].message
    apart = check('cluster "c" {\n  x = 30 m\n}\n')
    assert apart.diagnostics[0].hints == ("write `30m` without a space",)


def test_unknown_unit_suggests_the_closest():
    result = check(mutate(BASE, ("size = 40TB", "size = 40TBs")))
    (diagnostic,) = result.diagnostics
    assert diagnostic.code == "HCI004" and "did you mean `TB`?" in diagnostic.hints


def test_invalid_utf8_is_hci009_at_the_right_place():
    data = 'cluster "c" {\n  version = "22H2"\n  language = "de\xff"\n}\n'.encode("latin-1")
    (diagnostic,) = check_bytes("t.hciplan", data).diagnostics
    assert diagnostic.code == "HCI009"
    assert (diagnostic.span.line, diagnostic.span.column) == (3, 17)
    assert "0xff" in diagnostic.message and "UTF-8" in diagnostic.hints[0]


def test_nul_bytes_are_hci009():
    (diagnostic,) = check_bytes("t.hciplan", b'cluster "c" {\n  \x00\n}\n').diagnostics
    assert diagnostic.code == "HCI009" and (diagnostic.span.line, diagnostic.span.column) == (2, 3)
    assert diagnostic.hints


def test_a_file_over_the_size_limit_is_hci010_and_not_parsed():
    (diagnostic,) = check_bytes("big.hciplan", b"#" * (MAX_SOURCE_BYTES + 1)).diagnostics
    assert diagnostic.code == "HCI010" and diagnostic.hints
    assert (diagnostic.span.line, diagnostic.span.column) == (1, 1)
    size, limit = (int(n.replace(",", "")) for n in re.findall(r"[\d,]{4,}", diagnostic.message))
    assert (size, limit) == (MAX_SOURCE_BYTES + 1, MAX_SOURCE_BYTES)  # not "2048 KiB, limit 2048 KiB"
    at_limit = check_bytes("ok.hciplan", b"#" * MAX_SOURCE_BYTES)
    assert "HCI010" not in [d.code for d in at_limit.diagnostics]


def test_bom_and_crlf_are_accepted_with_the_same_positions():
    plain = check(mutate(BASE, ("memory = 768GB", "memory = 768")))
    crlf = check_bytes("test.hciplan", b"\xef\xbb\xbf" + mutate(BASE, ("memory = 768GB", "memory = 768"))
                       .replace("\n", "\r\n").encode())
    assert [(d.code, d.span) for d in crlf.diagnostics] == [(d.code, d.span) for d in plain.diagnostics]
    assert check_bytes("b.hciplan", b"\xef\xbb\xbf" + BASE.encode()).ok


def test_syntax_error_messages_use_friendly_token_names():
    (diagnostic,) = check('cluster "c" {\n  version = = "22H2"\n}\n').diagnostics
    assert "__ANON" not in diagnostic.hints[0] and "LSQB" not in diagnostic.hints[0]
    assert "a quoted string" in diagnostic.hints[0] and "`[`" in diagnostic.hints[0]


# --- specific messages and several syntax errors per file (issue 17 item 8) ------------------------------


def syntax_errors(text: str) -> list[tuple[str, int, int, str, tuple[str, ...]]]:
    result = check(text)
    assert result.model is None
    return [(d.code, d.span.line, d.span.column, d.message, d.hints) for d in result.diagnostics]


@pytest.mark.parametrize("version", ["23H2", "22H2", "24h2"])
def test_an_unquoted_version_is_told_to_be_quoted(version):
    (error,) = syntax_errors(f'upgrade "c" {{\n  to = {version}\n}}\n')
    assert error[:4] == ("HCI001", 2, 8, f"unquoted version `{version}`")
    assert error[4] == (f'versions are quoted strings: write `to = "{version.upper()}"`',)


def test_a_value_glued_from_two_tokens_is_told_to_be_quoted():
    (error,) = syntax_errors('upgrade "c" {\n  orchestrator = MGMT-01\n}\n')
    assert error[:4] == ("HCI001", 2, 18, "`MGMT-01` is not one value")
    assert 'orchestrator = "MGMT-01"' in error[4][0]


@pytest.mark.parametrize(("written", "joined", "zone_hint"), [
    ("2026-12-05 22:00Z", "2026-12-05T22:00Z", False),
    ("2026-12-05 22:00+01:00", "2026-12-05T22:00+01:00", False),
    ("2026-12-05 22:00", "2026-12-05T22:00", True),
])
def test_a_timestamp_with_a_space_is_told_to_use_t(written, joined, zone_hint):
    text = f'upgrade "c" {{\n  window "w" {{\n    start = {written}\n  }}\n}}\n'
    (error,) = syntax_errors(text)
    assert error[:4] == ("HCI001", 3, 13, f"timestamp written with a space: `{written}`")
    assert f"`{joined}`" in error[4][0]
    assert any("UTC offset" in hint for hint in error[4]) == zone_hint
    # the span covers the whole written timestamp, not only the time
    (diagnostic,) = check(text).diagnostics
    assert diagnostic.span.end_column == 13 + len(written)


@pytest.mark.parametrize("text, line, column, name, before", [
    ('cluster "c" {\n  node "a" { memory = 1GB\n  node "b" { memory = 1GB }\n}\nupgrade "c" {\n  to = "23H2"\n}\n',
     2, 12, 'node "a"', 4),
    ('cluster "c" {\n  node "a" {\n    memory = 1GB\n\n  node "b" { memory = 1GB }\n}\n', 2, 12, 'node "a"', 6),
    ('cluster "c" {\n  node "a" { memory = 1GB }\n  volume "v" {\n    size = 1TB\n}\n', 3, 14, 'volume "v"', 5),
])
def test_a_block_missing_its_brace_is_reported_where_it_opens(text, line, column, name, before):
    (diagnostic,) = check(text).diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("HCI003", line, column)
    assert diagnostic.message == f"unclosed block `{name}`: this `{{` has no matching `}}`"
    assert diagnostic.hints == (f"add `}}` where the block ends, before line {before}",)
    assert diagnostic.related and diagnostic.related[0].span.line == before


def test_without_indentation_the_innermost_open_block_is_reported():
    (diagnostic,) = check('cluster "c" { node "a" { memory = 1GB }').diagnostics
    assert (diagnostic.code, diagnostic.span.column) == ("HCI003", 13)
    (diagnostic,) = check('cluster "c" {\n  version = "22H2"\n').diagnostics  # the outer block, rightly
    assert (diagnostic.code, diagnostic.span.line) == ("HCI003", 1)


def test_several_independent_syntax_errors_are_reported_in_one_run():
    text = ('cluster "c" {\n  version = 22H2\n  witness: cloud\n  node "a" { memory = 1GB }\n}\n'
            'upgrade "c" {\n  to = 23H2\n  orchestrator = MGMT-01\n  window "w" { start = 2026-12-05 22:00Z }\n}\n')
    assert [(code, line) for code, line, *_ in syntax_errors(text)] == [
        ("HCI001", 2), ("HCI006", 3), ("HCI001", 7), ("HCI001", 8), ("HCI001", 9)]


@pytest.mark.parametrize("text, first", [
    ('cluster "c" {\n  version = "22H2\n  x = 23H2\n}\n', "HCI005"),  # unterminated string: the rest is misread
    ('cluster "c" {\n  /* open\n  x = 23H2\n}\n', "HCI006"),  # unterminated comment
    ('cluster "c" {\n}\n}\nx = 23H2\n', "HCI007"),  # a bracket closing nothing: the structure is in doubt
    ('upgrade "c" {\n  node_order = ["a",\n    "b" "c"]\n  to = 23H2\n}\n', "HCI001"),  # inside a multi-line list
    ('upgrade "c" {\n  to =\n    23H2 x\n  y = 23H2\n}\n', "HCI001"),  # the statement began on the line before
    ('cluster "c" {\n  memory = 768\n  GB\n  version = "22H2"\n  witness = cloud\n}\n', "HCI001"),  # a name alone
    ('cluster "c" {\n  node "a" {\n    version: "x" }\n  x = 23H2\n}\n', "HCI006"),  # the bad line closes a block
])
def test_recovery_stops_where_going_on_would_mislead(text, first):
    assert [code for code, *_ in syntax_errors(text)] == [first]


def test_the_number_of_syntax_errors_reported_is_capped():
    text = "".join(f"x{i} = 23H2\n" for i in range(30))
    assert len(syntax_errors(text)) == syntax.MAX_SYNTAX_ERRORS


def test_every_syntax_error_says_where_what_and_how_to_fix():
    texts = [case[1] for case in SYNTAX_ERRORS] + [
        'upgrade "c" {\n  to = 23H2\n}\n', 'x = 2026-12-05 22:00Z\n', 'a {\n  b {\n}\n']
    for text in texts:
        for diagnostic in check(text).diagnostics:
            assert diagnostic.span.line >= 1 and diagnostic.span.column >= 1 and diagnostic.message
            assert diagnostic.hints, (text, diagnostic.message)
