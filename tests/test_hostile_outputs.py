"""Hostile text in every free-text field, for every backend: refused by the checker, or inert in the output.

The alphabet, the models and the per-language checkers are in `tests/hostile.py` (shared, so a new backend
adds one line to `OUTPUTS`). Also here: the checkers catch the attacks they exist for (each is run on the
output of the naive escaping this project used before), the character rules (HCI113, HCI114), the list of
fields that reach PowerShell, and injective identifiers.
"""

from __future__ import annotations

import functools
import json
import re
import zlib

import pytest
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

import hostile
from hciplan.backends import BACKENDS, dot, json_plan, mermaid, powershell, report, runbook, summary
from hciplan.backends.escape import md_code
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import REGISTRY, Severity
from hciplan.compiler.pipeline import check_text
from hciplan.discovery.importer import import_inventory
from helpers import BASE

# The report simulates its plan; two runs give every section of the page (the runs' figures are not what is
# checked here, the text around them is).
REPORT_RUNS = 2

# output -> (its language's checker, how to render a plan); an output is named after its backend
# (`dot-detail` is the dot backend's other view), and every backend in BACKENDS has one.
OUTPUTS = {
    "summary": ("plain", lambda plan: summary.render_summary(plan)),
    "json": ("json", lambda plan: json_plan.dumps(json_plan.plan_document(plan))),
    "dot": ("dot", lambda plan: dot.to_dot(plan)),
    "dot-detail": ("dot", lambda plan: dot.to_dot(plan, detail=True)),
    "mermaid": ("mermaid", lambda plan: mermaid.to_mermaid(plan)),
    "mermaid-detail": ("mermaid", lambda plan: mermaid.to_mermaid(plan, detail=True)),
    "runbook": ("markdown", lambda plan: runbook.render_runbook(plan)),
    "powershell": ("powershell", lambda plan: powershell.render(plan)[powershell.FILE_NAME]),
    "report": ("html", lambda plan: report.build(plan, runs=REPORT_RUNS)),
}


@functools.lru_cache(maxsize=None)
def baseline(output: str, field: str) -> str:
    return OUTPUTS[output][1](hostile.baseline_plan(field))


def _skip_without_dot(output: str) -> None:
    if OUTPUTS[output][0] == "dot" and not hostile.dot_available():
        pytest.skip("Graphviz `dot` is not installed (.ci/run installs Debian's graphviz package)")


def test_every_backend_has_an_output_under_the_hostile_text_test():
    assert {output.split("-")[0] for output in OUTPUTS} == set(BACKENDS)


# Hostile examples per field: each compiles once and is rendered by, and checked in, every output (a fraction
# of a second an example; a refused one costs only its compile). Each field draws from its own fixed seed,
# so CI draws the same examples every time and the fields do not all get the same values; and each field
# first gets every attack it lets through in one value (`hostile.all_at_once`).
HOSTILE_EXAMPLES = 8


@pytest.mark.parametrize("field", sorted(hostile.FIELDS))
def test_hostile_text_in_any_field_is_refused_or_inert(field):
    """For every backend: a hostile value in `field` is refused by the checker (an error with a registered
    code, never a crash), or every output shows it as inert text (the checkers in hostile.py).

    The DOT outputs are collected and read by Graphviz once, after the examples (one `dot` process for all
    of them rather than two an example); a failure there names its output and value."""
    graphs: list[tuple[str, str, str]] = []  # (output, value, DOT text)
    verdicts: list[bool] = []  # accepted or refused, per example

    @seed(zlib.crc32(field.encode()))
    @settings(max_examples=HOSTILE_EXAMPLES, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=hostile.mostly_passing_values())
    @example(value=hostile.all_at_once(field))
    def run(value):
        result = hostile.compile_field(field, value)
        verdicts.append(result.ok)
        if not result.ok:  # refused: with an error, never a crash
            assert any(d.severity is Severity.ERROR and d.code in REGISTRY for d in result.diagnostics)
            return
        for output, (language, render) in OUTPUTS.items():
            text = render(result.plan)
            if language == "dot":
                graphs.append((output, value, text))
                continue
            try:
                hostile.check_output(language, text, value, baseline(output, field))
            except AssertionError as error:
                raise AssertionError(f"{output}: {value!r}: {error}") from error

    run()
    if field in FREE_TEXT:  # fields that take any text: every attack at once, and most values, reach the outputs
        assert verdicts[0] and sum(verdicts) >= HOSTILE_EXAMPLES // 2, f"{verdicts}: too few values reached the outputs"
    if graphs and not hostile.dot_available():
        pytest.skip("Graphviz `dot` is not installed (.ci/run installs Debian's graphviz package): DOT not checked")
    bases = sorted({output for output, _, _ in graphs})
    parsed = hostile.dot_json_many([text for *_, text in graphs] + [baseline(output, field) for output in bases])
    base_graphs = dict(zip(bases, parsed[len(graphs):]))
    for (output, value, _), graph in zip(graphs, parsed):
        try:
            hostile.check_dot_graph(graph, value, base_graphs[output])
        except AssertionError as error:
            raise AssertionError(f"{output}: {value!r}: {error}") from error


# The fields whose values may hold any character the checker accepts (the others are names with a grammar of
# their own: NetBIOS names, Azure resource names, an account name, refused unless plain).
FREE_TEXT = {"adou_path", "media_path", "pool", "vm_group", "volume", "window"}


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("field", sorted(hostile.FIELDS))
def test_a_harmless_value_in_every_field_passes_every_checker(output, field):
    """The baselines themselves check clean, and every field's value does reach the model."""
    _skip_without_dot(output)
    language, render = OUTPUTS[output]
    plan = hostile.baseline_plan(field)
    hostile.check_output(language, render(plan), hostile.harmless(field), baseline(output, field))


# --- the checkers catch what they exist for -------------------------------------------------------------------

@pytest.mark.parametrize("core, problem", [("a|b", "cut"), ("|<img src=x onerror=alert(1)>|", "raw HTML")])
def test_the_markdown_checker_catches_a_pipe_in_a_table_code_span(monkeypatch, core, problem):
    value = hostile.MARK + core + hostile.MARK
    plan = hostile.compile_field("window", value).plan
    hostile.check_markdown(runbook.render_runbook(plan), value, baseline("runbook", "window"))
    monkeypatch.setattr(runbook, "md_cell_code", md_code)  # the escaping before issue 16
    with pytest.raises(AssertionError, match=problem):
        hostile.check_markdown(runbook.render_runbook(plan), value, baseline("runbook", "window"))


def test_the_markdown_checker_catches_raw_html():
    text = baseline("runbook", "window").replace("Do not edit", "Do not <img src=x onerror=alert(1)> edit")
    with pytest.raises(AssertionError, match="raw HTML"):
        hostile.check_markdown(text, hostile.harmless("window"), baseline("runbook", "window"))


def test_the_mermaid_checker_catches_html_and_quotes():
    value = hostile.MARK + '<img src=x onerror=alert(1)>"]' + hostile.MARK
    plan = hostile.compile_field("volume", value).plan
    text = mermaid.to_mermaid(plan, detail=True)
    hostile.check_mermaid(text, value, baseline("mermaid-detail", "volume"))
    naive = text.replace(mermaid.mermaid_label(value).strip('"'), value.replace('"', "#quot;"))
    assert naive != text
    with pytest.raises(AssertionError):
        hostile.check_mermaid(naive, value, baseline("mermaid-detail", "volume"))


def test_the_dot_checker_catches_a_label_that_breaks_out():
    _skip_without_dot("dot")
    value = hostile.MARK + 'x\\' + hostile.MARK
    plan = hostile.compile_field("volume", value).plan
    text = dot.to_dot(plan, detail=True)
    hostile.check_dot(text, value, baseline("dot-detail", "volume"))
    naive = text.replace("\\\\", "\\").replace("x\\QZX", 'x"QZX];\n  evil [label="owned')
    with pytest.raises(AssertionError):
        hostile.check_dot(naive, value, baseline("dot-detail", "volume"))


def test_the_plain_checker_catches_a_bidi_control():
    text = baseline("summary", "window")
    with pytest.raises(AssertionError, match="invisible"):
        hostile.check_plain(text.replace("QZXplainQZX", "QZX\u202eplainQZX"), hostile.harmless("window"), text)


# --- the character rules -------------------------------------------------------------------------------------

def test_a_bidi_control_is_an_error_with_its_code_point_and_column():
    for written, column in (('volume "Da\u202eta01"', 13), ('volume "Da\\u202Eta01"', 13)):
        text = BASE.replace('volume "Data01"', written)
        result = check_text(text, "bidi.hciplan")
        assert result.model is None
        [d] = [d for d in result.diagnostics if d.code == "HCI113"]
        assert "U+202E RIGHT-TO-LEFT OVERRIDE" in d.message and "bidirectional" in d.message
        line = text.splitlines()[d.span.line - 1]
        assert d.span.column == column and line[column - 1:].startswith(("\u202e", "\\u202E"))
        assert d.span.end_column - d.span.column == (1 if "\u202e" in written else 6)


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069", "\u200e", "\u200f", "\u061c", "\u200b", "\u200d", "\u2060", "\ufeff",
                                  "\u00ad"])
def test_every_bidi_and_invisible_format_character_is_refused(char):
    result = check_text(BASE.replace('window "first"', f'window "fi{char}rst"'))
    assert [d.code for d in result.diagnostics] == ["HCI113"]
    assert f"U+{ord(char):04X}" in result.diagnostics[0].message


@pytest.mark.parametrize("field", ["pool", "volume", "window", "media_path", "key_vault", "deployment_user",
                                   "custom_location", "adou_path"])
@pytest.mark.parametrize("char", ["\u2018", "\u2019", "\u201c", "\u201e", "\u2013", "\u2014"])
def test_typographic_quotes_and_dashes_warn_in_names_the_script_uses(field, char):
    value = hostile.MARK + char + hostile.MARK
    result = hostile.compile_field(field, value)  # some fields refuse the dash anyway (HCI7xx): it warns still
    assert result.ok or field in ("key_vault", "deployment_user", "custom_location"), result.diagnostics
    warnings = [d for d in result.diagnostics if d.code == "HCI114"]
    assert len(warnings) == 1 + (field == "volume")  # the volume's name is written twice (convert_to_thin)
    assert f"U+{ord(char):04X}" in warnings[0].message


def test_typographic_quotes_do_not_warn_where_the_script_never_uses_the_text():
    result = hostile.compile_field("vm_group", hostile.MARK + "\u2019" + hostile.MARK)
    assert result.ok and "HCI114" not in [d.code for d in result.diagnostics]


def test_the_fields_listed_as_reaching_powershell_are_exactly_those_in_the_script():
    from hciplan.compiler import characters

    listed = characters.POWERSHELL_LABELS | characters.POWERSHELL_ATTRIBUTES
    script = baseline("powershell", "pool")
    assert hostile.MARK not in script.replace("QZXplainQZX", "")  # baselines carry only the harmless value
    for field in hostile.FIELDS:
        reaches = hostile.MARK in baseline("powershell", field)
        assert reaches == (field in listed), (field, reaches)


def test_the_importer_refuses_a_bidi_control_with_its_code_point():
    from test_import import fixture_json

    document = fixture_json("two-node")
    document["nodes"][1]["Name"] = "N\u202e02"
    result = import_inventory(json.dumps(document).encode())
    assert result.text is None
    assert any(e.path == "$.nodes[1].Name" and "U+202E RIGHT-TO-LEFT OVERRIDE" in e.message for e in result.errors), \
        result.errors


def test_hci113_and_hci114_are_explained(tmp_path):
    from click.testing import CliRunner

    from hciplan.cli import cli

    for code, words in (("HCI113", "U+202A-U+202E"), ("HCI114", "U+2018")):
        result = CliRunner().invoke(cli, ["explain", code])
        assert result.exit_code == 0 and words in result.output


# --- identifiers --------------------------------------------------------------------------------------------

def _volumes_text(names: list[str]) -> str:
    from hciplan.fmt import quote

    volumes = "".join(f"  volume {quote(n)} {{ size = 1TB  resiliency = mirror_3way  used = 10GB }}\n" for n in names)
    text = re.sub(r'  volume "[^"]+" \{[^\n]*\}\n', "", BASE)
    text = text.replace('  vm_group "sql"', volumes + '  vm_group "sql"', 1)
    return text.replace("  vm_version = skip", f"  vm_version = skip\n  convert_to_thin = [{', '.join(quote(n) for n in names)}]")


def _emit(names: list[str]) -> str:
    result = compile_checked(check_text(_volumes_text(names)))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics if d.severity is Severity.ERROR]
    script = powershell.render(result.plan)[powershell.FILE_NAME]
    hostile._parsed(script)  # it parses: no ERROR or MISSING node
    functions = re.findall(r"^function (Step-\S+) \{", script, re.M)
    assert len({f.lower() for f in functions}) == len(functions), "two functions share a name"
    return script


def test_volumes_that_differ_only_in_what_mangling_drops_can_be_emitted():
    script = _emit(["data-", "data_", "data", "DATA.", "da-ta", "da--ta", "da.ta"])
    for name in ["data-", "data_", "data", "DATA.", "da-ta", "da--ta", "da.ta"]:
        assert f"'{name}'" in script


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet="aA-_.é ", min_size=1, max_size=4), min_size=1, max_size=5,
                unique_by=lambda n: n.lower()))
def test_any_distinct_volume_names_give_distinct_function_names(names):
    if any(not n.strip() for n in names):
        return  # a blank name is refused by the checker (a clear error, not an emission problem)
    result = compile_checked(check_text(_volumes_text(names)))
    if not result.ok:
        return
    _emit(names)


def test_the_readme_shows_the_real_hci113_output(monkeypatch, tmp_path):
    """README, "Hostile text": the `hciplan check` example is what hciplan prints for that file."""
    from click.testing import CliRunner

    from hciplan.cli import cli
    from helpers import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```console\n\$ hciplan check two-node\.hciplan\n(.*?)```", readme, re.S)
    assert shown, "the README's HCI113 example is gone"
    text = (ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8")
    (tmp_path / "two-node.hciplan").write_text(text.replace('volume "Volume01"', 'volume "Vol\\u202Eume01"', 1),
                                               encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "two-node.hciplan"])
    assert result.exit_code == 1
    assert result.output == shown.group(1)
