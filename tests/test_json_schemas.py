"""Every JSON document hciplan writes names its schema, and the schema is documented (issue 17.5).

The commands are found from the click app: a new command with `--format json` fails here until it is added
with an invocation, so no JSON output can ship without its `schema` key.
"""

from __future__ import annotations

import json
import re

import click
import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from helpers import EXAMPLES, ROOT

EXAMPLE = str(EXAMPLES / "two-node.hciplan")
SIM = ("--runs", "4", "--jobs", "1")


def invocations(tmp_path) -> dict[str, tuple[list[str], str]]:
    """command -> (its arguments with `--format json`, the schema it writes)."""
    journal = tmp_path / "empty.jsonl"  # a night that has not started: progress still reports it
    journal.write_text("", encoding="utf-8")
    return {
        "check": (["check", EXAMPLE], "hciplan.check/1"),
        "plan": (["plan", EXAMPLE], "hciplan.plan/1"),
        "simulate": (["simulate", EXAMPLE, *SIM], "hciplan.sim/1"),
        "compare": (["compare", EXAMPLE, "--vary", "window=10h", *SIM], "hciplan.compare/1"),
        "diff": (["diff", EXAMPLE, EXAMPLE], "hciplan.diff/1"),
        "progress": (["progress", EXAMPLE, str(journal), "--now", "2026-12-06T08:00Z", *SIM], "hciplan.progress/1"),
    }


def json_commands() -> set[str]:
    ctx = click.Context(cli)
    return {name for name in cli.list_commands(ctx) for command in [cli.get_command(ctx, name)]
            for p in command.params if p.name == "output_format" and isinstance(p.type, click.Choice)
            and "json" in p.type.choices}


def test_every_format_json_output_has_its_schema(tmp_path) -> None:
    cases = invocations(tmp_path)
    assert set(cases) == json_commands()  # a command with --format json missing here fails the test
    for name, (args, schema) in cases.items():
        result = CliRunner().invoke(cli, [*args, "--format", "json"])
        assert result.exit_code in (0, 1), (name, result.output)
        assert json.loads(result.stdout)["schema"] == schema, name
    varied = CliRunner().invoke(cli, ["simulate", EXAMPLE, "--vary", "window=10h", *SIM, "--format", "json"])
    assert json.loads(varied.stdout)["schema"] == "hciplan.compare/1"
    validation = CliRunner().invoke(cli, ["check", EXAMPLE, "--validation",
                                          str(ROOT / "tests/fixtures/validation/upgrade-validation.json"),
                                          "--format", "json"])
    assert json.loads(validation.stdout)["schema"] == "hciplan.check/1"


def test_emit_json_writes_the_plan_schema(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["emit", EXAMPLE, "--backend", "json", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [written] = [p for p in tmp_path.iterdir() if p.suffix == ".json"]
    assert json.loads(written.read_text(encoding="utf-8"))["schema"] == "hciplan.plan/1"


def test_every_schema_name_in_the_code_is_in_the_documents_table() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "hciplan").rglob("*.py"))
    written = set(re.findall(r'"(hciplan\.[a-z]+/\d+)"', code))
    table = (ROOT / "docs" / "language.md").read_text(encoding="utf-8").split("names its schema in a `schema` key")[1]
    documented = set(re.findall(r"^\| `(hciplan\.[a-z]+/\d+)` \|", table, re.M))
    assert written == documented and len(written) >= 7


@pytest.mark.parametrize("name", ["hciplan.check/1"])
def test_the_check_document_is_shown_with_its_keys(name) -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    sample = json.loads(text.split("`--format json` prints the diagnostics as JSON")[1].split("```json")[1]
                        .split("```")[0])
    document = json.loads(CliRunner().invoke(cli, ["check", EXAMPLE, "--format", "json"]).stdout)
    assert sample["schema"] == document["schema"] == name
    assert set(sample) == set(document)
    assert set(sample["diagnostics"][0]) == set(document["diagnostics"][0])
