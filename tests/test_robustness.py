"""No input, however broken, makes the checker raise: every outcome is a CheckResult.

Hypothesis feeds random text, random bytes, soups of the language's own tokens
and random mutations of every example; explicit cases cover binary junk,
invalid UTF-8, a file just over the size limit, very deep nesting, an empty
file, a BOM and CRLF line endings, through the library and through the CLI.
"""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from hciplan.cli import cli
from hciplan.compiler import schema
from hciplan.backends import dot, json_plan, mermaid, summary
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import REGISTRY
from hciplan.compiler.pipeline import MAX_SOURCE_BYTES, CheckResult, check_bytes, check_text
from hciplan.compiler.render import render_json, render_text

from helpers import ALL_EXAMPLES, BASE

EXAMPLE_TEXTS = [BASE] + [p.read_text(encoding="utf-8") for p in ALL_EXAMPLES]

# Tokens for mutations: whitespace runs, strings, words/numbers/addresses, single characters.
TOKEN_RE = re.compile(r'\s+|"(?:\\.|[^"\\\n])*"|[\w.:+/-]+|.', re.S)
EXAMPLE_TOKENS = [TOKEN_RE.findall(text) for text in EXAMPLE_TEXTS]
VOCABULARY = sorted({t for tokens in EXAMPLE_TOKENS for t in tokens} | {
    "{", "}", "[", "]", "=", ",", "..", "#", "//", "/*", "*/", '"', "\\", "\n", "\r", "\t", "\x0c", "\u2028", "\ufeff",
    "-5", "1.5", "0", "768", "768 GB", "999.1.1.1", "1.2.3.4/40", "2026-13-45T25:61Z", "2026-12-05", "1h1h", "9" * 40,
    '"\\q"', '"\\u00e9"', '"\\u12"', ":", ";", "@", "é", "timing", "scenario",
})


def assert_well_formed(result: CheckResult, data: bytes) -> None:
    """The invariants every outcome keeps, whatever the input."""
    assert isinstance(result, CheckResult)
    assert result.ok == (result.model is not None and not any(d.severity.value == "error" for d in result.diagnostics))
    if result.model is None:
        assert result.diagnostics, "a file that yields no model must say why"
    assert list(result.diagnostics) == sorted(result.diagnostics, key=lambda d: d.sort_key())
    for d in result.diagnostics:
        assert d.code in REGISTRY and d.message
        assert d.span.line >= 1 and d.span.column >= 1
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column)
    sources = {result.source.name: result.source} if result.source else {}
    render_text(result.diagnostics, sources).encode("utf-8")  # output must be writable as UTF-8
    json.loads(render_json(result.diagnostics))


def check_any(data: bytes) -> CheckResult:
    result = check_bytes("fuzz.hciplan", data)
    assert_well_formed(result, data)
    compiled = compile_checked(result)  # what `hciplan check` does next: build and prove the plan
    assert compiled.ok == (compiled.plan is not None and not any(d.severity.value == "error"
                                                                 for d in compiled.diagnostics))
    assert set(result.diagnostics) <= set(compiled.diagnostics)
    if compiled.plan is not None:  # every view of a plan renders, and the JSON is valid (no NaN, no Infinity)
        summary.render_summary(compiled.plan, compiled.diagnostics)
        json.loads(json_plan.dumps(json_plan.plan_document(compiled.plan, compiled.diagnostics)))
        dot.to_dot(compiled.plan)
        mermaid.to_mermaid(compiled.plan, detail=True)
    return result


@given(st.text(max_size=400))
def test_random_text(text):
    check_any(text.encode("utf-8"))


@given(st.binary(max_size=400))
def test_random_bytes(data):
    check_any(data)


@given(st.lists(st.sampled_from(VOCABULARY), max_size=80))
def test_soups_of_language_tokens(tokens):
    check_any("".join(tokens).encode("utf-8"))


MUTATIONS = ("delete", "duplicate", "swap", "insert", "delete_char", "insert_char")


@st.composite
def mutated_example(draw):
    tokens = list(draw(st.sampled_from(EXAMPLE_TOKENS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(MUTATIONS))
        i = draw(st.integers(0, len(tokens) - 1))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(VOCABULARY)))
        else:
            token = tokens[i]
            k = draw(st.integers(0, len(token)))
            if op == "delete_char":
                tokens[i] = token[:k] + token[k + 1:]
            else:
                tokens[i] = token[:k] + draw(st.characters(codec="utf-8")) + token[k:]
    return "".join(tokens)


@settings(max_examples=300)
@given(mutated_example())
def test_mutations_of_every_example(text):
    data = text.encode("utf-8")
    first = check_any(data)
    assert check_any(data).diagnostics == first.diagnostics  # and deterministic


def test_example_tokenisation_is_lossless():
    """Mutations start from the real examples: joining the tokens gives back each file."""
    assert len(EXAMPLE_TOKENS) == len(ALL_EXAMPLES) + 1
    for text, tokens in zip(EXAMPLE_TEXTS, EXAMPLE_TOKENS):
        assert "".join(tokens) == text and len(tokens) > 50


# --- explicit nasty inputs, through the library ---------------------------------------------------

DEEP = 100_000
NASTY = {
    "binary junk": (bytes(range(256)) * 64, "HCI009"),
    "invalid utf-8": ('cluster "c" {\n  version = "'.encode() + b"\xc3\x28" + b'"\n}\n', "HCI009"),
    "utf-16": (BASE.encode("utf-16"), "HCI009"),
    "just over the limit": (b"#" * (MAX_SOURCE_BYTES + 1), "HCI010"),
    "ten megabytes": (b"x = 1\n" * (10 * 1024 * 1024 // 6), "HCI010"),
    "deep lists": (b"x = " + b"[" * DEEP + b"]" * DEEP, "HCI001"),
    "deep blocks": (b"a { " * DEEP + b"}" * DEEP, "HCI001"),
    "deep open lists": (b"x = " + b"[" * DEEP, "HCI003"),
    "deep braces": (b"{" * DEEP, "HCI001"),
    "deep closers": (b"}" * DEEP, "HCI007"),
    "empty": (b"", "HCI110"),
    "only a BOM": (b"\xef\xbb\xbf", "HCI110"),
    "only comments": (b"# nothing\n// here\n/* at all */\n", "HCI110"),
    "unclosed block comment": (b"/* " + b"x" * 100_000, "HCI006"),
}


@pytest.fixture(scope="module")
def nasty_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("nasty")
    paths = {}
    for name, (data, _) in NASTY.items():
        path = directory / (re.sub(r"\W+", "-", name) + ".hciplan")
        path.write_bytes(data)
        paths[name] = path
    return paths


@pytest.mark.parametrize("name", NASTY)
def test_nasty_input_gives_a_diagnostic_through_the_cli(name, nasty_files):
    _, code = NASTY[name]
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(nasty_files[name])])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert code in [d["code"] for d in json.loads(result.output)["diagnostics"]]


@pytest.mark.parametrize("name", ["binary junk", "invalid utf-8", "just over the limit", "deep braces", "empty",
                                  "unclosed block comment"])
def test_nasty_input_renders_as_text(name, nasty_files):
    result = CliRunner().invoke(cli, ["check", str(nasty_files[name])])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"error[{NASTY[name][1]}]" in result.output and "Traceback" not in result.output


def test_bom_and_crlf_files_check_clean():
    assert check_any(b"\xef\xbb\xbf" + BASE.encode()).ok
    assert check_any(BASE.replace("\n", "\r\n").encode()).ok
    assert check_any(b"\xef\xbb\xbf" + BASE.replace("\n", "\r\n").encode()).ok


def test_cr_only_line_endings_are_line_endings():
    text = BASE.replace("memory = 768GB", "memory = 768")
    lf = check_any(text.encode())
    cr = check_any(text.replace("\n", "\r").encode())
    assert [(d.code, d.span) for d in cr.diagnostics] == [(d.code, d.span) for d in lf.diagnostics]
    assert [d.code for d in lf.diagnostics] == ["HCI103"]
    assert check_text(BASE.replace("\n", "\r")).ok


def test_the_size_limit_is_on_bytes_not_characters():
    result = check_any(("# " + "é" * (MAX_SOURCE_BYTES // 2)).encode())
    assert [d.code for d in result.diagnostics] == ["HCI010"]


# --- well-formed plans with arbitrary values: every semantic check runs on odd data ---------------


NAMES = st.text(alphabet="abHCI019-_.\\@ \"é", max_size=26)
BOOLS = st.sampled_from(["true", "false"])
SIZES = st.builds("{}{}".format, st.one_of(st.integers(0, 5000), st.decimals(0, 10**6, places=2).map(str)),
                  st.sampled_from(["B", "MB", "GB", "TB", "PiB"]))
ADDRESSES = st.builds("{}.{}.{}.{}".format, st.sampled_from([0, 10, 192, 255]), st.sampled_from([0, 255]),
                      st.sampled_from([0, 10, 255]), st.integers(0, 255))
# The years a plan may use (1970 to 2500, HCI109 beyond: tests/fuzz/corpus has years 1 and 9999).
TIMESTAMPS = st.builds("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}{}".format, st.sampled_from([1970, 2026, 2500]),
                       st.integers(1, 12), st.integers(1, 28), st.integers(0, 23), st.integers(0, 59),
                       st.sampled_from(["Z", "+23:59", "-23:59", "", "+00:00"]))
MEDIA_PATHS = st.sampled_from(["C:\\Media", "x.iso", "", "D:\\a.ISO", "\\\\server\\share", "C:\\" + "a" * 300])


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def choices(spec: schema.BlockSpec, name: str):
    return st.sampled_from(spec.attr(name).choices)


@st.composite
def well_formed_plans(draw):
    """Any values of the right types: the file always lowers to a model, so every check runs on it."""
    cluster = [f"cluster {quoted(draw(NAMES))} {{",
               f"  version = {quoted(draw(st.sampled_from(['22H2', '23H2', ''])))}  registered = {draw(BOOLS)}",
               f"  witness = {draw(choices(schema.CLUSTER, 'witness'))}  language = {quoted(draw(NAMES))}"]
    for name in ("bitlocker", "wdac", "managed_by"):
        cluster.append(f"  {name} = {draw(choices(schema.CLUSTER, name))}")
    for name in ("network_atc", "stretched", "supplemental_package"):
        cluster.append(f"  {name} = {draw(BOOLS)}")
    for _ in range(draw(st.integers(1, 5))):  # a cluster without nodes is a structural error (HCI111)
        prefix = draw(st.one_of(st.none(), st.integers(0, 32)))
        ip = draw(ADDRESSES) + ("" if prefix is None else f"/{prefix}")
        cluster.append(f"  node {quoted(draw(NAMES))} {{ memory = {draw(SIZES)}  ip = {ip} }}")
    if draw(st.booleans()):
        cluster.append(f'  pool "p" {{ size = {draw(SIZES)}  allocated = {draw(SIZES)} }}')
    for _ in range(draw(st.integers(0, 3))):
        used = f"  used = {draw(SIZES)}" if draw(st.booleans()) else ""
        cluster.append(f"  volume {quoted(draw(NAMES))} {{ size = {draw(SIZES)}  "
                       f"resiliency = {draw(choices(schema.VOLUME, 'resiliency'))}  "
                       f"provisioning = {draw(choices(schema.VOLUME, 'provisioning'))}{used} }}")
    for _ in range(draw(st.integers(0, 3))):
        cluster.append(f"  vm_group {quoted(draw(NAMES))} {{ count = {draw(st.integers(1, 100_000))}  "
                       f"memory = {draw(SIZES)}  ha = {draw(BOOLS)} }}")
    cluster.append(f"  aks {{ installed = {draw(BOOLS)} preview = {draw(BOOLS)} }}  arc_vms {{ preview = {draw(BOOLS)} }}")
    upgrade = [f"upgrade {quoted(draw(NAMES))} {{", f"  to = {quoted(draw(st.sampled_from(['23H2', '24H2'])))}"]
    for attr in schema.UPGRADE.attrs:
        if attr.type == "enum" and draw(st.booleans()):
            upgrade.append(f"  {attr.name} = {draw(st.sampled_from(attr.choices))}")
    if draw(st.booleans()):
        upgrade.append(f"  media_path = {quoted(draw(MEDIA_PATHS))}")
    if draw(st.booleans()):
        upgrade.append(f"  orchestrator = {quoted(draw(NAMES))}")
    upgrade.append(f"  max_failed_nodes = {draw(st.integers(0, 63))}  reboot_timeout = {draw(st.integers(1, 360))}m")
    if draw(st.booleans()):
        upgrade.append(f"  node_order = [{', '.join(quoted(n) for n in draw(st.lists(NAMES, max_size=6)))}]")
    for _ in range(draw(st.integers(0, 3))):
        upgrade.append(f"  window {quoted(draw(NAMES))} {{ start = {draw(TIMESTAMPS)}  end = {draw(TIMESTAMPS)} }}")
    if draw(st.booleans()):
        solution = [f"key_vault = {quoted(draw(NAMES))}", f"deployment_user = {quoted(draw(NAMES))}",
                    f"ip_range = {draw(ADDRESSES)} .. {draw(ADDRESSES)}"]
        if draw(st.booleans()):
            prefix = draw(st.integers(0, 32))
            network = ipaddress.IPv4Network(f"{draw(ADDRESSES)}/{prefix}", strict=False)
            solution.append(f"subnet = {network}")
        if draw(st.booleans()):
            solution.append(f"custom_location = {quoted(draw(NAMES))}")
        if draw(st.booleans()):
            solution.append(f"adou_path = {quoted(draw(st.sampled_from(['OU=a,DC=b', 'DC=b', 'OU=<x>,DC=b', ''])))}")
        upgrade.append("  solution { " + "  ".join(solution) + " }")
    return "\n".join(cluster + ["}", ""] + upgrade + ["}", ""])


@settings(max_examples=150)
@given(well_formed_plans())
def test_well_formed_plans_with_odd_values_run_every_check(text):
    result = check_any(text.encode("utf-8"))
    assert result.model is not None, [(d.code, d.message) for d in result.diagnostics]
