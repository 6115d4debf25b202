"""docs/language.md documents exactly the language the checker implements.

The doc is written by hand; these tests make it fail loudly when the schema,
the codes or the unit tables change without it.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from hciplan.compiler import schema, syntax
from hciplan.compiler.diagnostics import REGISTRY, Collector
from hciplan.compiler.source import Source

from helpers import ROOT

DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")


def section(title_pattern: str) -> str:
    """The text of the section whose heading matches, up to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {title_pattern}\s*$", DOC, re.M)
    assert match, f"no section {title_pattern!r}"
    level = match.group(1)
    rest = DOC[match.end():]
    end = re.search(rf"^#{{1,{len(level)}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows[1:] if rows else rows  # drop the header


# --- codes --------------------------------------------------------------------------------------


def test_every_registered_code_is_in_the_codes_table_with_its_registry_entry():
    rows = table_rows(section("Diagnostic codes"))
    documented = {row[0]: row for row in rows}
    assert set(documented) == set(REGISTRY)
    for code, entry in REGISTRY.items():
        _, severity, title, source = (documented[code] + [""])[:4]
        assert (severity, title, source) == (entry.severity.value, entry.title, entry.source), code


def test_doc_points_at_hciplan_explain():
    assert "hciplan explain" in section("Diagnostic codes")


def test_every_source_tag_used_by_a_code_is_listed():
    listed = set(re.findall(r"^\| (\[[A-Z]-[a-z0-9]+\]) \|", section("Sources"), re.M))
    used = {tag for entry in REGISTRY.values() for tag in re.findall(r"\[[A-Z]-[a-z0-9]+\]", entry.source)}
    assert used <= listed
    assert len(listed) >= 40  # the whole list, not only the tags in use


# --- blocks and attributes -----------------------------------------------------------------------


def documented_default(attr: schema.Attr) -> str:
    if attr.required:
        return "required"
    if attr.default is None:
        return "unset"
    if attr.type == "bool":
        return f"`{'true' if attr.default else 'false'}`"
    if attr.type == "string":
        return f'`"{attr.default}"`'
    if attr.type == "duration":
        return f"`{attr.default // 60}m`"
    return f"`{attr.default}`"


@pytest.mark.parametrize("spec", schema.ALL_BLOCKS, ids=lambda s: s.name)
def test_every_block_and_attribute_is_documented(spec):
    text = section(f"`{spec.name}`")
    rows = table_rows(text)
    assert [row[0] for row in rows] == [f"`{a.name}`" for a in spec.attrs]
    for attr, (name, kind, default, meaning, example) in zip(spec.attrs, rows):
        if attr.type == "enum":
            assert kind == "one of " + ", ".join(f"`{c}`" for c in attr.choices), name
        else:
            assert kind.split(",")[0] == attr.type, name
        assert default == documented_default(attr), name
        assert meaning == attr.doc, name
        assert example.startswith(f"`{attr.name} = "), name
    assert "```hcl" in text, f"`{spec.name}` has no example"
    for child in spec.children:
        assert f"`{child.spec.name}`" in text.split("|")[0], f"`{spec.name}` does not say it contains `{child.spec.name}`"


def test_attribute_examples_and_block_examples_parse():
    snippets = re.findall(r"```hcl\n(.*?)```", DOC, re.S)
    examples = re.findall(r"\| (`[a-z_]+ = [^|]*`) \|$", DOC, re.M)
    assert len(snippets) >= len(schema.ALL_BLOCKS) + 2 and len(examples) >= 40
    for text in snippets + [e.strip("`") for e in examples]:
        diagnostics = Collector()
        assert syntax.parse(Source("doc", text), diagnostics) is not None, (text, diagnostics.items)
        assert diagnostics.items == [], (text, diagnostics.items)


def test_later_blocks_and_the_stop_rule_are_explained():
    assert "`timing { ... }`" in DOC and '`scenario "..." { ... }`' in DOC
    stages = section("How a file is checked")
    assert "structural errors stop the semantic checks" in stages


def test_the_size_unit_table_matches_the_checker():
    rows = table_rows(section("Sizes"))
    documented = {}
    for units, size in rows:
        value = eval(size.replace("²", "**2").replace("³", "**3").replace("⁴", "**4").replace("⁵", "**5"))  # noqa: S307
        for unit in re.findall(r"`(\w+)`", units):
            documented[unit] = value
    assert documented == schema.SIZE_UNITS
    durations = section("Durations")
    assert all(f"`{unit}`" in durations for unit in schema.DURATION_UNITS)


# --- schema vs model --------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", schema.ALL_BLOCKS, ids=lambda s: s.name)
def test_schema_fields_match_the_model_dataclass(spec):
    fields = {f.name: f for f in dataclasses.fields(spec.model) if f.name != "spans"}
    assert schema.model_fields(spec) == set(fields)
    for attr in spec.attrs:
        model_default = fields[attr.name].default
        if attr.required:
            assert model_default is dataclasses.MISSING, f"{spec.name}.{attr.name} has a default in the model only"
        else:
            assert model_default == attr.default, f"{spec.name}.{attr.name}: model and schema defaults differ"


# --- docs/simulation.md: the hciplan.sim/1 sample is the real output (issue 17.11) --------------------------

# Maps keyed by the run's data (step ids, outcomes, window names, figures): compared by their values' shape.
_FREE_MAPS = {"criticality", "intervals.criticality", "precision.misses", "schedule.finish_window", "left",
              "left.*.nodes_upgraded_runs", "past_return", "window_close.nodes_upgraded_runs",
              "window_close.node_state_runs", "window_close.mixed_days_runs"}


def _shape(value, path: str = ""):
    """The keys of a JSON value, recursively: objects by key, lists of objects by their first item's shape."""
    if isinstance(value, dict):
        if path in _FREE_MAPS:
            shapes = {repr(_shape(v, path + ".*")) for v in value.values()}
            assert len(shapes) <= 1, (path, shapes)
            return ("map", shapes.pop() if shapes else None)
        return {k: _shape(v, f"{path}.{k}".lstrip(".")) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return ["list", _shape(value[0], path)]
    return None  # a leaf: a number, a string, null or [low, high] (which a run may leave null)


def test_the_simulation_json_sample_has_the_keys_of_the_real_output():
    import json

    from click.testing import CliRunner

    from hciplan.cli import cli

    text = (ROOT / "docs" / "simulation.md").read_text(encoding="utf-8")
    intro = "`--format json` prints (the run above"
    assert intro in text
    sample = json.loads(text.split(intro)[1].split("```json\n")[1].split("```")[0])
    command = text.split("```console\n$ hciplan simulate examples/four-node.hciplan --window 28h\n")
    assert len(command) == 2, "the text sample's command moved: keep the JSON sample's run the same"
    result = CliRunner().invoke(cli, ["simulate", str(ROOT / "examples" / "four-node.hciplan"), "--window", "28h",
                                      "--runs", "300", "--jobs", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    real = json.loads(result.stdout)
    assert _shape(sample) == _shape(real)
    assert sample["inputs"] == real["inputs"] and sample["plan"] == real["plan"]  # the same run's inputs
