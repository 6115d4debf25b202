"""The `hciplan` command line: exit codes, JSON shape, text rendering, colour and `explain`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hciplan import cli as cli_module
from hciplan.cli import cli
from hciplan.compiler.diagnostics import REGISTRY

from helpers import BASE, EXAMPLES, line_of, mutate

ANSI = re.compile(r"\x1b\[[0-9;]*m")
JSON_KEYS = {"code", "severity", "message", "file", "line", "column", "end_line", "end_column", "hints"}


def invoke(*args: str, **kwargs):
    return CliRunner().invoke(cli, list(args), **kwargs)


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "plan.hciplan") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


# --- exit codes -----------------------------------------------------------------------------------


def test_exit_0_when_clean(write):
    result = invoke("check", write(BASE))
    assert result.exit_code == 0 and result.output == "1 file checked: 0 errors, 0 warnings\n"


def test_exit_0_with_warnings_only(write):
    result = invoke("check", write(mutate(BASE, ("witness = cloud", "witness = none"))))
    assert result.exit_code == 0
    assert "warning[HCI506]" in result.output and result.output.endswith("0 errors, 1 warning\n")


def test_exit_1_when_errors(write):
    result = invoke("check", write(mutate(BASE, ('to = "23H2"', 'to = "24H2"'))))
    assert result.exit_code == 1 and "error[HCI201]" in result.output
    assert result.output.endswith("1 file checked: 1 error, 0 warnings\n")


def test_exit_1_when_any_of_several_files_has_errors(write):
    good, bad = write(BASE, "good.hciplan"), write("nonsense {", "bad.hciplan")
    result = invoke("check", good, bad)
    assert result.exit_code == 1 and result.output.endswith("2 files checked: 1 error, 0 warnings\n")


@pytest.mark.parametrize("args", [
    ["check", "does-not-exist.hciplan"],
    ["check"],
    ["check", "--colour", "x.hciplan"],
    ["check", "--format", "xml", "x.hciplan"],
    ["frobnicate"],
    ["explain", "HCI999"],
    ["explain"],
])
def test_exit_2_for_usage_errors(args):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "nowhere.hciplan"
    result = invoke("check", str(missing))
    assert result.exit_code == 2 and "cannot read" in result.output and "nowhere.hciplan" in result.output


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_a_surrogate_escape_is_reported_not_a_crash(write, output_format):
    path = write(mutate(BASE, ('deployment_user = "hcilcm"', 'deployment_user = "\\ud800"')))
    result = invoke("check", "--format", output_format, path)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1 and "HCI008" in result.output


def test_directory_is_a_usage_error(tmp_path):
    assert invoke("check", str(tmp_path)).exit_code == 2


def test_unknown_code_suggests_a_close_one():
    result = invoke("explain", "HCI3O5")
    assert result.exit_code == 2 and "did you mean `HCI305`?" in result.output


def test_internal_errors_never_show_a_traceback(monkeypatch, capsys, write):
    path = write(BASE)

    def broken(*_args):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli_module, "load_source", broken)
    monkeypatch.setattr(sys, "argv", ["hciplan", "check", path])
    monkeypatch.delenv("HCIPLAN_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == cli_module.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: simulated bug" in err and "Traceback" not in err
    monkeypatch.setenv("HCIPLAN_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli_module.main()


# --- JSON -----------------------------------------------------------------------------------------


def test_json_shape(write):
    text = mutate(BASE, ("memory = 768GB", "memory = 768"), ("witness = cloud", "witnes = cloud"))
    path = write(text)
    result = invoke("check", "--format", "json", path)
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert list(document) == ["diagnostics", "schema"] and document["schema"] == "hciplan.check/1"
    diagnostics = document["diagnostics"]
    assert len(diagnostics) >= 2
    for d in diagnostics:
        assert JSON_KEYS <= set(d)
        assert isinstance(d["hints"], list) and all(isinstance(h, str) for h in d["hints"])
        assert d["severity"] in ("error", "warning") and d["file"] == path
        assert all(isinstance(d[k], int) for k in ("line", "column", "end_line", "end_column"))
    memory = next(d for d in diagnostics if d["code"] == "HCI103")
    line = line_of(text, "memory = 768 ")
    column = text.splitlines()[line - 1].index("768") + 1
    assert (memory["line"], memory["column"], memory["end_line"], memory["end_column"]) == (line, column, line, column + 3)
    assert memory["hints"] == ["add a unit: `768GB`"]


def test_json_for_a_clean_file_is_an_empty_list(write):
    result = invoke("check", "--format", "json", write(BASE))
    assert result.exit_code == 0 and json.loads(result.output) == {"schema": "hciplan.check/1", "diagnostics": []}


def test_json_is_deterministic_sorted_and_ends_with_a_newline():
    path = str(EXAMPLES / "invalid" / "several-mistakes.hciplan")
    first = invoke("check", "--format", "json", path).output
    second = invoke("check", "--format", "json", path).output
    assert first == second and first.endswith("}\n")
    assert first == json.dumps(json.loads(first), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    positions = [(d["line"], d["column"]) for d in json.loads(first)["diagnostics"]]
    assert positions == sorted(positions)


def test_json_keeps_the_order_of_the_files(write):
    a = write("nonsense {", "b-first.hciplan")
    b = write('x = "unterminated', "a-second.hciplan")
    files = [d["file"] for d in json.loads(invoke("check", "--format", "json", a, b).output)["diagnostics"]]
    assert files == [a, b]


# --- text -----------------------------------------------------------------------------------------


def test_text_rendering_has_location_source_line_caret_and_hints(write):
    text = mutate(BASE, ("memory = 768GB", "memory = 768"))
    path = write(text)
    lines = invoke("check", path).output.splitlines()
    line = line_of(text, "memory = 768 ")
    source = text.splitlines()[line - 1]
    column = source.index("768") + 1
    assert lines[0] == f"{path}:{line}:{column}: error[HCI103]: `memory` takes a size such as `768GB`, not a number"
    assert lines[1] == f"{line:>5} | {source}"
    caret = lines[2]
    assert caret.startswith("      | ")
    assert caret.index("^") == lines[1].index("768") and caret.endswith("^~~")
    assert lines[3] == "  hint: add a unit: `768GB`"
    assert lines[4] == "1 file checked: 1 error, 0 warnings"


@pytest.mark.parametrize("separator", ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029"])
def test_the_source_line_shown_is_the_line_of_the_diagnostic(write, separator):
    """Characters that str.splitlines() treats as line breaks, but the language does not."""
    # (Strings may not hold such characters: HCI109. Comments may.)
    text = mutate(BASE, ('  version = "22H2"\n', f'  version = "22H2"  # a{separator}b\n'),
                  ('  language = "en-US"\n', f'  language = "en-US"  // c{separator}d\n'), ("memory = 768GB", "memory = 768"))
    path = write(text)
    lines = invoke("check", path).output.split("\n")
    line = line_of(text, "memory = 768 ")
    source = text.split("\n")[line - 1]
    assert lines[0].startswith(f"{path}:{line}:{source.index('768') + 1}: error[HCI103]")
    assert lines[1] == f"{line:>5} | {source}" and "768  ip" in source


def test_text_rendering_shows_related_locations_as_notes(write):
    text = mutate(BASE, ("  registered = true\n", "  registered = true\n  registered = false\n"))
    path = write(text)
    output = invoke("check", path).output
    assert f"  note: {path}:{line_of(BASE, 'registered = true')}:3: first set here" in output


def test_text_rendering_of_a_span_at_the_end_of_the_file(write):
    path = write('cluster "c" {\n  version =')
    result = invoke("check", path)
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:1:13: error[HCI003]: unclosed block")


def test_text_rendering_of_a_very_long_line_keeps_the_caret_under_the_mistake(write):
    text = "x = [" + "1, " * 400 + "@]"
    path = write(text)
    lines = invoke("check", path).output.splitlines()
    assert lines[0].startswith(f"{path}:1:{text.index('@') + 1}: error[HCI006]")
    assert len(lines[1]) < 200
    assert lines[1][lines[2].index("^")] == "@"


# --- colour ---------------------------------------------------------------------------------------


def test_no_colour_when_output_is_not_a_terminal(write):
    path = write(mutate(BASE, ('to = "23H2"', 'to = "24H2"')))
    result = CliRunner().invoke(cli, ["check", path], color=True, env={"NO_COLOR": None})
    assert result.exit_code == 1 and "error[HCI201]" in result.output
    assert not ANSI.search(result.output)


def test_colour_path_is_real(monkeypatch, write):
    """The assertion above could not fail if no colour were ever produced: show that it can be."""
    monkeypatch.setattr(cli_module, "use_colour", lambda: True)
    path = write(mutate(BASE, ('to = "23H2"', 'to = "24H2"')))
    result = CliRunner().invoke(cli, ["check", path], color=True)
    assert ANSI.search(result.output)
    assert "error[HCI201]" in ANSI.sub("", result.output)


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    try:
        process = subprocess.run([sys.executable, "-m", "hciplan", *args], stdout=secondary, stderr=secondary,
                                 env=env, timeout=60)
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    assert process.returncode == 1
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_colour_on_a_terminal_unless_no_color(write):
    path = write(mutate(BASE, ('to = "23H2"', 'to = "24H2"')))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = run_on_a_terminal(["check", path], env)
    assert ANSI.search(coloured) and "HCI201" in coloured
    plain = run_on_a_terminal(["check", path], {**env, "NO_COLOR": "1"})
    assert "HCI201" in plain and not ANSI.search(plain)


# --- explain --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_explain_prints_the_long_explanation_of_every_code(code):
    entry = REGISTRY[code]
    result = invoke("explain", code.lower())
    assert result.exit_code == 0
    assert result.output.startswith(f"{code} ({entry.severity}): {entry.title}\n")
    assert entry.explanation in result.output and len(entry.explanation) > 40
    if entry.source:
        assert f"Source: {entry.source}" in result.output
    else:
        assert "Source:" not in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and "hciplan" in result.output
