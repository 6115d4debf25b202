"""The `hciplan` command: a thin click layer over the library.

Exit codes: 0 no errors (warnings allowed), 1 errors found in the input,
2 usage error (bad option, unreadable file), 70 internal error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hciplan import __version__, completion
from hciplan.backends import BACKENDS, BackendUnsupported  # the registry imports a backend on first use
import hciplan.compiler.codes  # noqa: F401 - fills REGISTRY for every command, as the compiler did
from hciplan.compiler.diagnostics import REGISTRY, Diagnostic, Severity, did_you_mean
from hciplan.compiler.render import check_document, render_json, render_text
from hciplan.files import (MAX_JSON_BYTES, TooLarge, WriteError, read_at_most, shared_name, windows_encoding,
                           write_folder, write_text)
from hciplan.words import counted

if TYPE_CHECKING:  # imported by the commands that use them: start-up stays near the floor (bench_startup.py)
    from hciplan.compiler.compile import CompileResult
    from hciplan.compiler.pipeline import CheckResult
    from hciplan.simulator.result import SimResult

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl+C

FORMAT = click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                      show_default=True, help="Output format.")


_COLOUR = {"choice": "auto"}  # the global --color option, set by the group before any command runs


def use_colour() -> bool:
    """`--color`, then NO_COLOR (https://no-color.org), then FORCE_COLOR, then whether stdout is a terminal."""
    from hciplan.terminal import colour_wanted

    return colour_wanted(_COLOUR["choice"], sys.stdout)


def echo_report(text: str) -> None:
    """A `plan` or `simulate` report on stdout: wrapped to the terminal with hanging indents (terminal.py)."""
    from hciplan.terminal import layout, width_for

    colour = use_colour()
    click.echo(layout(text, width_for(sys.stdout), colour), nl=False, color=colour)


def _style():
    if use_colour():
        return click.style
    return lambda text, **_: text


MAX_INPUT_BYTES = MAX_JSON_BYTES  # the one limit of hciplan.files, under the name the commands use


def load_source(path: str, name: str | None = None) -> CheckResult:
    """hciplan.compiler.pipeline.load_source, imported on first use: `--help` does not load the parser."""
    from hciplan.compiler import pipeline

    return pipeline.load_source(path, name)


def read_checked(paths: tuple[str, ...], shared: bool = False) -> list[CheckResult]:
    """Each file read and checked; `shared`: diagnostics name it as documents do (hciplan.files.shared_name)."""
    results = []
    for path in paths:
        try:
            results.append(load_source(path, shared_name(path) if shared else None))
        except OSError as error:
            raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    return results


def print_diagnostics(results: list[CheckResult], diagnostics: list[Diagnostic], output_format: str,
                      summary_line: bool = True) -> None:
    """Print diagnostics (text to stdout with a summary line, or the JSON document)."""
    if output_format == "json":
        click.echo(render_json(diagnostics), nl=False)
        return
    sources = {r.source.name: r.source for r in results if r.source is not None}
    text = render_text(diagnostics, sources, _style())
    if text:
        click.echo(text, nl=False, err=not summary_line)
    if summary_line:
        errors = sum(d.severity is Severity.ERROR for d in diagnostics)
        warnings = len(diagnostics) - errors
        files = len(results)
        click.echo(f"{files} file{'s' * (files != 1)} checked: {errors} error{'s' * (errors != 1)}, "
                   f"{warnings} warning{'s' * (warnings != 1)}")


def compile_file(path: str) -> CompileResult:
    """The plan of FILE for the commands that show or emit one (a file without an upgrade is HCI112).

    The plan's diagnostics name the file by its `shared_name`, so the plan JSON, the summary and the
    documents emitted from it are the same bytes however the path was typed, and hold no absolute path.
    """
    from hciplan.compiler.compile import compile_checked

    return compile_checked(read_checked((path,), shared=True)[0], need_plan=True)


def require_plan(result: CompileResult) -> None:
    """Stop with the diagnostics on stderr when there is no plan to show (never emit a plan with errors)."""
    if result.ok:
        return
    print_diagnostics([result.check], list(result.diagnostics), "text", summary_line=False)
    click.echo("no plan: fix the errors above", err=True)
    sys.exit(EXIT_ERRORS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hciplan")
@click.option("--color", "--colour", "colour", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour the output: auto colours a terminal only, and follows NO_COLOR "
              "(it wins) and FORCE_COLOR.")
def cli(colour: str) -> None:
    """Plan, check, simulate and script an Azure Stack HCI 22H2 -> 23H2 upgrade."""
    _COLOUR["choice"] = colour


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@FORMAT
@click.option("--validation", "validation_file", type=click.Path(dir_okay=False), metavar="RESULTS.json",
              help="Also report what Environment Checker results (Invoke-AzStackHciUpgradeValidation -PassThru, "
                   "as JSON) say about the one FILE; see docs/validation.md.")
def check(files: tuple[str, ...], output_format: str, validation_file: str | None) -> None:
    """Check .hciplan FILES and report every problem found in them.

    Beyond the file's own rules, the file is compiled and its plan proven safe
    (storage, quorum, capacity, irreversible steps, space): a file without an
    upgrade block has nothing to plan (HCI112). Exit 0 means a plan exists.
    With --validation, the validator's failures are reported at the facts they
    decide, with hciplan's remediation and the validator's own text.
    """
    from hciplan.compiler.compile import compile_checked
    from hciplan.fleet.load import check_fleet, is_fleet_file

    fleets = [check_fleet(f) for f in files if is_fleet_file(f)]  # a fleet file checks its clusters too
    if fleets:
        if validation_file is not None:
            raise click.UsageError("--validation applies to one cluster file, not to a fleet")
        files = tuple(f for f in files if not is_fleet_file(f))
    results = read_checked(files)
    # need_plan: a file without an upgrade block is HCI112 here too, so a clean check means a plan exists
    compiled = [compile_checked(r, need_plan=True) for r in results]
    if validation_file is not None:
        sys.exit(_check_validation(files, results, compiled, validation_file, output_format))
    diagnostics = [d for c in compiled for d in c.diagnostics]
    if fleets:
        _print_fleet_check(results, compiled, fleets, output_format)
        sys.exit(EXIT_ERRORS if any(not c.ok for c in compiled) or any(not f.ok for f in fleets) else EXIT_OK)
    print_diagnostics(results, diagnostics, output_format)
    failed = any(not c.ok for c in compiled)
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)


def _print_fleet_check(results, compiled, fleets, output_format: str) -> None:
    """`hciplan check` of fleet files (and any cluster files beside them): one renderer, one summary line."""
    diagnostics = [d for c in compiled for d in c.diagnostics] + [d for f in fleets for d in f.diagnostics]
    if output_format == "json":
        click.echo(render_json(diagnostics), nl=False)
        return
    sources = {r.source.name: r.source for r in results if r.source is not None}
    for f in fleets:
        sources.update(f.sources)
    text = render_text(diagnostics, sources, _style())
    if text:
        click.echo(text, nl=False)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    files = len(results) + sum(1 + len(f.clusters) for f in fleets)
    click.echo(f"{files} file{'s' * (files != 1)} checked: {errors} error{'s' * (errors != 1)}, "
               f"{warnings} warning{'s' * (warnings != 1)}")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@FORMAT
def plan(file: str, output_format: str) -> None:
    """Show what the upgrade of FILE will do: phases, steps, order, points of no return."""
    from hciplan.backends import json_plan, summary

    result = compile_file(file)
    if output_format == "json":
        click.echo(json_plan.dumps(json_plan.plan_document(result.plan if result.ok else None, result.diagnostics)),
                   nl=False)
        sys.exit(EXIT_OK if result.ok else EXIT_ERRORS)
    require_plan(result)
    echo_report(summary.render_summary(result.plan, result.diagnostics, _style()))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "output_format", type=click.Choice(["dot", "mermaid"]), default="dot", show_default=True,
              help="Graph language.")
@click.option("--detail", is_flag=True, help="One box per step instead of one box per node pass.")
def graph(file: str, output_format: str, detail: bool) -> None:
    """Print the step DAG of FILE as Graphviz dot or Mermaid, grouped by phase."""
    from hciplan.backends import dot, mermaid

    result = compile_file(file)
    require_plan(result)
    render = dot.to_dot if output_format == "dot" else mermaid.to_mermaid
    click.echo(render(result.plan, detail), nl=False)


@cli.command()
@click.argument("code", shell_complete=completion.complete_code)
def explain(code: str) -> None:
    """Print the long explanation of a diagnostic CODE (for example HCI305)."""
    entry = REGISTRY.get(code.upper())
    if entry is None:
        hint = did_you_mean(code, REGISTRY)
        raise click.UsageError(f"unknown diagnostic code {code!r}" + (f"; {hint}" if hint else ""))
    click.echo(f"{entry.code} ({entry.severity}): {entry.title}\n")
    click.echo(entry.explanation)
    if entry.source:
        click.echo(f"\nSource: {entry.source} (see the source list in the domain reference, docs/language.md)")


# --- fmt, discover, import: from a live cluster to a formatted file ------------------------


def _read_bytes(path: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of an input file, refused before reading past `limit` (hciplan.files.read_at_most)."""
    try:
        return read_at_most(path, limit)
    except TooLarge as error:
        raise click.UsageError(f"{error}: is this the right file?") from None
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None


def _write_output(path: str, text: str, force: bool, *, in_place: bool = False) -> None:
    """Write a command's output file through the one safe writer (hciplan.files); an existing file needs --force.

    A symbolic link is written through only with --force, or when the command
    rewrites in place a file it was given to read (fmt --write, --into): then
    the link is the user's own way to name that file.
    """
    try:
        write_text(path, text, overwrite=force, links="follow" if force or in_place else "refuse")
    except FileExistsError:
        raise click.UsageError(f"{path} already exists; pass --force to overwrite it") from None
    except WriteError as error:
        raise click.UsageError(str(error)) from None


@cli.command("fmt")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--write", "-w", is_flag=True, help="Rewrite the files in place instead of printing them.")
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; exit 1 and print, as a unified diff, what --write would change.")
def fmt_command(files: tuple[str, ...], write: bool, check_only: bool) -> None:
    """Print .hciplan FILES in the canonical layout (comments kept).

    Files with syntax errors are refused: their diagnostics are printed, the
    exit code is 1 and nothing is written.
    """
    from hciplan.compiler.pipeline import MAX_SOURCE_BYTES
    from hciplan.fmt import format_bytes

    if write and check_only:
        raise click.UsageError("--write and --check exclude each other")
    results = [format_bytes(path, _read_bytes(path, MAX_SOURCE_BYTES)) for path in files]
    broken = [r for r in results if not r.ok]
    if broken:
        sources = {r.source.name: r.source for r in broken if r.source is not None}
        click.echo(render_text([d for r in broken for d in r.diagnostics], sources), err=True, nl=False)
        click.echo(f"hciplan fmt: {len(broken)} file{'s' * (len(broken) != 1)} not formatted "
                   "because of syntax errors; nothing was written", err=True)
        sys.exit(EXIT_ERRORS)
    if check_only:
        from hciplan.fmt import unified_diff

        unformatted = [r for r in results if r.changed]
        for result in unformatted:
            click.echo(unified_diff(result), nl=False)
        for result in unformatted:
            click.echo(f"not formatted: {result.name}", err=True)
        if unformatted:
            click.echo(f"hciplan fmt: {len(unformatted)} of {len(results)} file{'s' * (len(results) != 1)} not "
                       "formatted; `hciplan fmt --write` applies the diff above", err=True)
        sys.exit(EXIT_ERRORS if unformatted else EXIT_OK)
    if write:
        changed = [r for r in results if r.changed]
        for result in changed:
            _write_output(result.name, result.text, force=True, in_place=True)
            click.echo(f"formatted {result.name}", err=True)
        sys.exit(EXIT_OK)
    for result in results:
        click.echo(result.text, nl=False)


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the script to this file (e.g. Get-HciPlanInventory.ps1) instead of printing it.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def discover(output: str | None, force: bool) -> None:
    """Write the read-only PowerShell script that inventories a cluster for `hciplan import`."""
    from hciplan.discovery import script_text

    text = script_text()
    if output is None:
        click.echo(text, nl=False)
        return
    _write_output(output, text, force)
    click.echo(f"wrote {output}: run it on a cluster node (Windows PowerShell 5.1), then "
               f"`hciplan import hciplan-inventory.json -o cluster.hciplan`", err=True)


@cli.command("import")
@click.argument("inventory", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the .hciplan file here instead of printing it.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--validation", "validation_file", type=click.Path(dir_okay=False), metavar="RESULTS.json",
              help="Import Environment Checker results instead of an inventory (docs/validation.md).")
@click.option("--into", type=click.Path(dir_okay=False), metavar="FILE.hciplan",
              help="With --validation: rewrite the facts of this file that the results decide.")
def import_command(inventory: str | None, output: str | None, force: bool, validation_file: str | None,
                   into: str | None) -> None:
    """Turn an INVENTORY (JSON from the discovery script) into a formatted .hciplan file.

    Whatever the inventory could not read becomes a `# TODO:` comment. A malformed
    inventory is reported by JSON path, the exit code is 1 and nothing is written.

    With --validation RESULTS.json, read the real validator's results instead:
    list what each failed test means (or that hciplan does not know it), and
    with --into FILE rewrite the facts the results decide (BitLocker, WDAC,
    Network ATC, AKS, language, ...), each with a `# from validation:` comment.
    """
    from hciplan.discovery.importer import import_inventory

    if validation_file is not None:
        if inventory is not None or output is not None or force:
            raise click.UsageError("--validation imports into an existing file: give --into FILE, not an "
                                   "INVENTORY, -o or --force")
        sys.exit(_import_validation(validation_file, into))
    if inventory is None:
        raise click.UsageError("give an INVENTORY (from `hciplan discover`'s script), or --validation RESULTS.json")
    if into is not None:
        raise click.UsageError("--into goes with --validation RESULTS.json")
    if output is not None and not force and os.path.lexists(output):  # a dangling link counts as there
        raise click.UsageError(f"{output} already exists; pass --force to overwrite it")
    result = import_inventory(_read_bytes(inventory))
    if result.text is None:
        for error in result.errors:
            click.echo(f"{inventory}: {error}", err=True)
        click.echo(f"hciplan import: {inventory} is not a usable inventory; nothing was written", err=True)
        sys.exit(EXIT_ERRORS)
    todos = f"{result.todos} TODO{'s' * (result.todos != 1)} to review"
    if output is None:
        click.echo(result.text, nl=False)
        click.echo(f"hciplan import: {todos}", err=True)
        return
    _write_output(output, result.text, force)
    click.echo(f"wrote {output}: {todos}, then run `hciplan check {output}`", err=True)


# --- the real validator's results: check --validation and import --validation (docs/validation.md) -------


def _read_validation(path: str, command: str):
    """The results of an export, or None after printing why they cannot be read (every error, by JSON path)."""
    from hciplan.discovery.validation import MAX_ERRORS, read_validation

    read = read_validation(_read_bytes(path))
    if read.ok:
        return read.results
    for error in read.errors[:MAX_ERRORS]:
        click.echo(f"{path}: {error}", err=True)
    if len(read.errors) > MAX_ERRORS:
        click.echo(f"{path}: ... and {len(read.errors) - MAX_ERRORS} more", err=True)
    click.echo(f"hciplan {command}: {path} is not an Environment Checker export hciplan can read "
               "(docs/validation.md lists the accepted shapes); nothing was done", err=True)
    return None


def _check_validation(files: tuple[str, ...], results: list[CheckResult], compiled: list[CompileResult],
                      validation_file: str, output_format: str) -> int:
    """`check FILE --validation RESULTS`: the file's diagnostics with the verdict's, then the verdict's summary."""
    from hciplan.discovery import verdict

    if len(files) != 1:
        raise click.UsageError("--validation applies to one FILE: the results describe one cluster")
    validation = _read_validation(validation_file, "check")
    if validation is None:
        return EXIT_ERRORS
    result = compiled[0]
    diagnostics = list(result.diagnostics)
    judged = None
    if result.check.model is not None:
        judged = verdict.judge(result.check.model, diagnostics, validation, validation_file)
        diagnostics = verdict.overlay(diagnostics, judged)
    if output_format == "json":
        document = check_document(diagnostics)
        document["validation"] = verdict.to_json(judged or verdict.Verdict(validation_file, tuple(validation)))
        click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        sources = {r.source.name: r.source for r in results if r.source is not None}
        click.echo(render_text(diagnostics, sources, _style()), nl=False)
        if judged is None:
            click.echo(f"validation {validation_file}: not applied, fix the errors above first")
        else:
            click.echo("\n".join(verdict.summary_lines(judged)))
        errors = sum(d.severity is Severity.ERROR for d in diagnostics)
        warnings = len(diagnostics) - errors
        click.echo(f"1 file checked: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    failed = judged is None or any(d.severity is Severity.ERROR for d in diagnostics)
    return EXIT_ERRORS if failed else EXIT_OK


def _import_validation(validation_file: str, into: str | None) -> int:
    """`import --validation RESULTS [--into FILE]`: the table, and the facts the results decide written into FILE."""
    from hciplan.discovery import verdict

    validation = _read_validation(validation_file, "import")
    if validation is None:
        return EXIT_ERRORS
    if into is None:
        click.echo("\n".join(verdict.table_lines(verdict.Verdict(validation_file, tuple(validation)), judged=False)))
        click.echo("give --into FILE.hciplan to see what the results mean for a file and write the facts they decide")
        return EXIT_OK
    outcome = verdict.import_into(read_checked((into,))[0], validation, validation_file)
    if outcome.verdict is None:
        print_diagnostics([outcome.check], list(outcome.check.diagnostics), "text", summary_line=False)
        click.echo(f"hciplan import: {into} has errors that stop hciplan reading it; fix them first; "
                   "nothing was written", err=True)
        return EXIT_ERRORS
    if outcome.problem is not None:
        click.echo(f"hciplan import: {outcome.problem}; nothing was written", err=True)
        return EXIT_ERRORS
    click.echo("\n".join(verdict.table_lines(outcome.verdict, judged=True)))
    if outcome.text is not None:
        _write_output(into, outcome.text, force=True, in_place=True)
        changed = ", ".join(f"{f.change.attr} = {f.change.shown}" for f in outcome.written)
        click.echo(f"updated {into}: {len(outcome.written)} fact{'s' * (len(outcome.written) != 1)} written "
                   f"({changed}); now run `hciplan check {into} --validation {validation_file}`")
    else:
        click.echo(f"{into} unchanged: no fact of it contradicts the results; run "
                   f"`hciplan check {into} --validation {validation_file}` for every failure at its place")
    return EXIT_OK


def _load_simulation(path: str, plan, what_if: bool = False) -> tuple[SimResult, list[str]]:
    """A saved `hciplan.sim/1` of this plan, and how its inputs differ from the file's (allowed with --what-if)."""
    from hciplan.backends.escape import plain
    from hciplan.simulator.inputs import differences
    from hciplan.simulator.result import parse

    again = "run `hciplan simulate FILE --format json > SIM.json` again"
    try:
        data = read_at_most(path, MAX_INPUT_BYTES)
        # as diff reads a plan document: UTF-8 with or without a BOM, or UTF-16 with one (a copy saved by
        # Windows PowerShell 5.1's Out-File)
        simulation = parse(data.decode(windows_encoding(data)))
    except TooLarge as error:
        raise click.UsageError(f"{error}: not a saved simulation") from None
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise click.UsageError(f"{path}: byte 0x{error.object[error.start]:02x} at offset {error.start} is not "
                               f"valid {error.encoding.upper().replace('-SIG', '')} text: not a saved simulation; "
                               f"{again}") from None
    except ValueError as error:
        raise click.UsageError(f"{path}: {plain(str(error))}; {again}") from None
    if simulation.fingerprint is None:
        raise click.UsageError(f'{path}: the simulation names no plan ("fingerprint" is missing): {again}')
    if simulation.fingerprint != plan.fingerprint:
        raise click.UsageError(f"{path} simulated plan {plain(simulation.fingerprint)[:80]}, not this plan "
                               f"({plan.fingerprint}): simulate the current file again")
    found = differences(plan, simulation)
    if found and not what_if:
        raise click.UsageError(f"{path} is not a simulation of the file as it stands: {plain('; '.join(found))}. "
                               f"For the runbook, {again} without the overrides; or pass --what-if to show it, "
                               "labelled as a what-if")
    return simulation, found


def _run_simulation(runs: int, plan) -> SimResult:
    """Simulate the plan in-process (failure-free, within its windows, seed 0) for the runbook's figures."""
    from hciplan.simulator import simulate_result

    return simulate_result(plan, runs=runs, seed=0)


def write_outputs(directory: Path, files: dict[str, str], force: bool) -> list[tuple[Path, str]]:
    """Write every file atomically, or none of them (hciplan.files.write_folder).

    A file that exists with the same bytes is left alone ("unchanged"); one
    with different bytes, or a symbolic link, is replaced only with `force`
    (the link itself: nothing is written outside the folder). The check covers
    all files before the first write, so a refusal leaves the directory untouched.
    """
    try:
        return write_folder(directory, {name: text.encode("utf-8") for name, text in files.items()}, force=force)
    except FileExistsError as error:
        raise click.UsageError(f"{error}: review it, then rerun with --force to replace it (or choose another "
                               "-o directory)") from None
    except WriteError as error:
        raise click.UsageError(str(error)) from None


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--backend", "backend_name", type=click.Choice(sorted(BACKENDS)), default="powershell", show_default=True,
              help="What to write: the upgrade script, the runbook, the plan JSON, ...")
@click.option("-o", "--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Directory to write into (created when missing).")
@click.option("--force", is_flag=True, help="Replace files that exist with different content.")
@click.option("--simulate", "runs", type=click.IntRange(1, 1_000_000), default=None,  # as simulate --runs
              help="Runbook only: add the simulated P50/P90 and the chance to finish in the windows (N runs).")
@click.option("--simulation", "simulation_file", type=click.Path(dir_okay=False), default=None,
              help="Runbook only: take P50/P90 from a saved `hciplan simulate --format json` result.")
@click.option("--what-if", "what_if", is_flag=True,
              help="With --simulation: accept a simulation run with other inputs (--window, --fail, a scenario, "
                   "--confidence, another timing block), labelled WHAT-IF in the runbook.")
def emit(file: str, backend_name: str, output_dir: str, force: bool, runs: int | None,
         simulation_file: str | None, what_if: bool) -> None:
    """Write the output of a backend for FILE into a directory: by default Invoke-HciUpgrade.ps1.

    A plan with errors is never emitted. Files are written atomically; an
    existing file with different content is only replaced with --force.
    """
    from hciplan.backends import runbook

    if (runs or simulation_file) and backend_name != runbook.NAME:
        raise click.UsageError("--simulate and --simulation apply to --backend runbook")
    if runs and simulation_file:
        raise click.UsageError("give either --simulate or --simulation, not both")
    if what_if and not simulation_file:
        raise click.UsageError("--what-if goes with --simulation FILE")
    result = compile_file(file)
    require_plan(result)
    warnings = [d for d in result.diagnostics if d.severity is Severity.WARNING]
    if warnings:
        print_diagnostics([result.check], warnings, "text", summary_line=False)
    backend = BACKENDS[backend_name]
    try:
        if backend_name == runbook.NAME:
            simulation, what_ifs = (_load_simulation(simulation_file, result.plan, what_if) if simulation_file
                                    else (_run_simulation(runs, result.plan) if runs else None, []))
            files = runbook.render(result.plan, result.diagnostics, simulation, tuple(what_ifs))
        else:
            files = backend.render(result.plan, result.diagnostics)
    except BackendUnsupported as error:
        click.echo(f"{file}: error: the {backend_name} backend cannot express this plan: {error}", err=True)
        sys.exit(EXIT_ERRORS)
    for path, what in write_outputs(Path(output_dir), files, force):
        click.echo(f"{what} {path}")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--runs", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Number of Monte Carlo runs.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Master seed: run i draws from a generator derived from (seed, i).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
@click.option("--scenario", "scenario_name", metavar="NAME", help="Inject the failures of a scenario block.",
              shell_complete=completion.complete_scenario)
@click.option("--fail", "fails", multiple=True, metavar="NODE:STEP[:MODE]", shell_complete=completion.complete_fail,
              help="Inject a failure (repeatable). MODE: error[=ATTEMPTS] hang slow[=FACTOR] drain_failure "
                   "resync_stall; default error.")
@click.option("--window", "window", metavar="DURATION|none",
              help="One window of this length from the planned start instead of the file's windows; "
                   "`none` simulates without windows.")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=None,
              help="Start a unit of work only if it ends inside the window with this probability "
                   "[default: the timing block's window_confidence, 0.9].")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run the batches on a dask.distributed cluster.")
@click.option("--gantt", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="Draw the timeline of the median run.")
@click.option("--histogram", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="Draw the distribution: the finish window and the work time per window (S-curves) over "
                   "several windows, else the durations.")
@click.option("--criticality", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="Draw the most critical steps (share of completed runs on the critical path).")
@click.option("--vary", "varies", multiple=True, metavar="ATTR=VALUE[,ATTR=VALUE]",
              help="Compare FILE with this variant (repeatable), with common random numbers: as `hciplan compare "
                   "FILE --vary ...` (docs/compare.md).")
@FORMAT
def simulate(file: str, runs: int, seed: int, jobs: int | None, scenario_name: str | None, fails: tuple[str, ...],
             window: str | None, confidence: float | None, scheduler: str | None, gantt: str | None,
             histogram: str | None, criticality: str | None, varies: tuple[str, ...], output_format: str) -> None:
    """Dry-run the plan of FILE many times: durations, the chance to fit the window, failures.

    Prints P50/P80/P90/P95/max durations, the probability of finishing inside
    the window, the outcomes (completed, aborted, stopped at the window), the
    most critical steps and the time with reduced storage resiliency. The same
    seed gives the same numbers whatever --jobs is. See docs/simulation.md.
    """
    from hciplan import simulator
    from hciplan.simulator import montecarlo, plots, provenance, report

    if varies:  # a paired comparison of FILE and its variants (docs/compare.md)
        if gantt or histogram or criticality:
            raise click.UsageError("--gantt, --histogram and --criticality draw one simulation: leave them out "
                                   "with --vary")
        sys.exit(_compare((file,), varies, runs, seed, jobs, scenario_name, fails, window, confidence, None, None,
                          output_format, scheduler))
    for path in (gantt, histogram, criticality):
        if path is not None:
            try:
                plots.check_target(path)
            except plots.PlotError as error:
                raise click.UsageError(str(error)) from None
    window_minutes, ignore_windows = _window_option(window)
    result = compile_file(file)
    require_plan(result)
    try:
        sim_plan = simulator.prepare_simulation(result.plan, scenario_name, fails, window_minutes, ignore_windows,
                                                confidence)
    except KeyError as error:
        raise click.UsageError(error.args[0]) from None
    except simulator.FailureSpecError as error:
        raise click.UsageError("; ".join((error.message,) + error.hints)) from None
    except simulator.ScenarioError as error:
        print_diagnostics([result.check], error.diagnostics, "text", summary_line=False)
        click.echo(f"no simulation: fix the scenario `{scenario_name}` above", err=True)
        sys.exit(EXIT_ERRORS)

    try:
        with _ProgressBar(runs) as advance:
            summary = montecarlo.simulate(sim_plan, runs, seed, jobs, scheduler, advance)
    except montecarlo.Interrupted as interrupted:
        _report_interrupted(sim_plan, runs, seed, interrupted, report)
    except montecarlo.SimulationError as error:
        click.echo(f"hciplan: {error}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        if gantt is not None:
            median = summary.median_run()
            plots.write_gantt(gantt, sim_plan, montecarlo.trace_run(sim_plan, seed, median))
        if histogram is not None:
            plots.write_histogram(histogram, sim_plan, summary)
        if criticality is not None:
            plots.write_criticality(criticality, sim_plan, summary)
    except (montecarlo.SimulationError, plots.PlotError) as error:
        click.echo(f"hciplan: {error}", err=True)
        sys.exit(EXIT_USAGE)
    models = provenance.model_provenance(result.plan)  # the header's provenance line, and the JSON's `models`
    if output_format == "json":
        click.echo(report.render_json(sim_plan, summary, models), nl=False)
    else:
        echo_report(report.render_text(sim_plan, summary, models, _style()))


def _window_option(window: str | None) -> tuple[float | None, bool]:
    """`--window DURATION|none`: (minutes of the one window, or None; whether to ignore the file's windows)."""
    from hciplan import simulator

    if window is None:
        return None, False
    try:
        minutes = simulator.parse_window(window)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    return minutes, minutes is None


def _report_interrupted(sim_plan, runs: int, seed: int, interrupted, report) -> None:
    """Ctrl+C: what the finished runs show, on stderr (stdout gets no partial document), then exit 130."""
    from hciplan.simulator import montecarlo

    done = interrupted.done
    finished = interrupted.finished
    click.echo(f"\nhciplan: interrupted after {finished} of {counted(runs, 'run')}", err=True)
    if finished:
        # above montecarlo.EXACT_RUNS the batches were folded as they came: the fold's summary is the partial one
        partial = interrupted.partial or montecarlo.summarise(sim_plan, finished, seed, done)
        click.echo(f"what the {counted(finished, 'finished run')} show (a partial series: rerun for the full figures):",
                   err=True)
        click.echo(report.render_text(sim_plan, partial, None), err=True, nl=False)
    sys.exit(EXIT_INTERRUPTED)


class _ProgressBar:
    """A rich progress bar on stderr, only when stderr is a terminal and the series is long."""

    def __init__(self, runs: int):
        self.runs = runs
        self.bar = None

    def __enter__(self):
        if not sys.stderr.isatty() or self.runs < 200:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bar = Progress("simulating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("runs", total=self.runs)
        return lambda done: self.bar.advance(task, done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- progress: the night of the change, from the script's journal ---------------------------------


def _parse_now(text: str | None) -> tuple:
    """`--now` as an aware moment, and whether it is the clock (no --now)."""
    import datetime as dt

    if text is None:
        return dt.datetime.now(dt.timezone.utc), True
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text[:60]!r} is not a timestamp: write it as 2026-12-06T01:30Z or "
                                 "2026-12-06T02:30+01:00", param_hint="--now") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text[:60]!r} has no UTC offset: add one (2026-12-06T01:30Z, or +01:00)",
                                 param_hint="--now")
    return moment, False


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("journal", type=click.Path(dir_okay=False))
@click.option("--now", "now_text", metavar="TIMESTAMP",
              help="Estimate from this moment (ISO 8601 with its offset, e.g. 2026-12-06T01:30Z) "
                   "[default: the clock].")
@click.option("--runs", type=click.IntRange(1, 100_000), default=1000, show_default=True,  # estimate.MAX_RUNS
              help="Number of Monte Carlo runs of what is left.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Master seed: run i draws from a generator derived from (seed, i).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
@click.option("--cau-node", "cau_node", metavar="NODE", shell_complete=completion.complete_node,
              help="The node a running CAU run is updating (Get-CauRun shows it) [default: estimated from the "
                   "elapsed time].")
@FORMAT
@click.option("--watch", "watching", is_flag=True, help="Refresh as the journal grows; Ctrl+C ends.")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True, metavar="SECONDS",
              help="With --watch: how often to look at the journal.")
def progress(file: str, journal: str, now_text: str | None, runs: int, seed: int, jobs: int | None,
             cau_node: str | None, output_format: str, watching: bool, interval: float) -> None:
    """Where the upgrade of FILE stands, from the script's JOURNAL, and what is left of the night.

    Shows every step's status (done, skipped, running, failed, ...) with its
    actual and planned duration, the current unit and its safe point, then
    simulates the rest from now: the finished steps are facts, the running
    step is conditioned on its age, and the night's speed so far updates the
    models. Prints the P50/P90 finish, the chance to be done by the window's
    end, the last safe point that fits tonight and what stops where if the
    window closes. See docs/progress.md.
    """
    from hciplan.journal import JournalError, read_journal
    from hciplan.progress import ProgressError, progress_document, render_json
    from hciplan.progress.render import render_text, signature, watch

    if watching and now_text is not None:
        raise click.UsageError("--watch follows the clock: leave --now out")
    if watching and output_format == "json":
        raise click.UsageError("--watch shows the text report: leave --format json out")
    now, clock = _parse_now(now_text)
    result = compile_file(file)
    require_plan(result)

    read = {"journal": None}  # the journal as last read: --watch reads it again only when it changes

    def document(moment, changed: bool = True, advance=None) -> dict:
        if changed or read["journal"] is None:
            read["journal"] = None  # a journal that fails to read is read again next time
            read["journal"] = read_journal(journal)
        return progress_document(result.plan, read["journal"], moment, runs, seed, jobs, cau_node, clock, advance)

    try:
        seen = signature(journal)
        with _ProgressBar(0 if watching else runs) as advance:
            first = document(now, advance=advance)
    except JournalError as error:
        if error.line is None and error.message.startswith("cannot be read"):
            raise click.UsageError(f"{error}; the script creates its journal when it starts "
                                   "(Invoke-HciUpgrade.journal.jsonl next to it, or -JournalPath)") from None
        click.echo(f"hciplan progress: {error}", err=True)
        sys.exit(EXIT_ERRORS)
    except ProgressError as error:
        raise click.UsageError(str(error)) from None
    if output_format == "json":  # the text report shows them itself
        for warning in first["journal"]["warnings"]:
            click.echo(f"warning: {warning}", err=True)
    if not watching:
        click.echo(render_json(first) if output_format == "json" else render_text(first), nl=False)
        return

    import datetime as dt

    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    def again(changed: bool) -> str:  # while watching, a journal that turns bad is shown, not fatal
        try:
            return render_text(document(dt.datetime.now(dt.timezone.utc), changed))
        except (JournalError, ProgressError) as error:
            return f"hciplan progress: {error}\n(watching {journal}: fix it, or press Ctrl+C)\n"

    console = Console()
    try:
        if not console.is_terminal:  # no screen to redraw (a pipe, a log): each report in turn
            click.echo(render_text(first), nl=False)
            watch(journal, again, lambda text: click.echo("\n" + text, nl=False), interval, seen=seen)
        else:
            with Live(Text(render_text(first)), console=console, auto_refresh=False,
                      vertical_overflow="crop") as live:
                watch(journal, again, lambda text: live.update(Text(text), refresh=True), interval, seen=seen)
    except KeyboardInterrupt:
        sys.exit(EXIT_OK)

# --- calibrate: the timing block learnt from past runs ----------------------------------------------


@cli.command("calibrate")
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the timing block to this file (a fragment: merge it with --into, or paste it).")
@click.option("--into", "into", type=click.Path(dir_okay=False, exists=True),
              help="Merge the timing block into this .hciplan file; the rest of the file stays byte for byte.")
@click.option("--force", is_flag=True, help="Overwrite the -o file if it exists.")
@click.option("--source-type", type=click.Choice(["auto", "journal", "cau", "lcm"]), default="auto", show_default=True,
              help="What SOURCES are: script journals, CAU run reports or LCM update runs (auto: per file).")
@click.option("--empirical-from", type=click.IntRange(0, 1_000_000), default=None, metavar="N",
              help="Write a model as empirical from N observations; 0: always lognormal [default: 50].")
def calibrate_command(sources: tuple[str, ...], output: str | None, into: str | None, force: bool, source_type: str,
                      empirical_from: int | None) -> None:
    """Learn the timing block from past runs: durations per duration model and the shared spreads.

    SOURCES are the upgrade script's journals, CAU reports (`Get-CauReport -Detailed`
    as JSON or CLIXML) and LCM update runs (`Get-SolutionUpdateRun` as JSON), in
    any mix (docs/calibration.md). Prints the block, or writes it (-o), or merges
    it into a plan's file (--into); the report lists the fitted models and, per
    source, what was left out and why. Bad sources are errors with the file and
    the field (exit 1), and nothing is written.
    """
    from hciplan.calibration import CalibrationError, calibrate
    from hciplan.calibration.fitting import EMPIRICAL_FROM
    from hciplan.calibration.writing import MergeError, ledger_text, merge_into, render_timing, report_text
    from hciplan.compiler.pipeline import MAX_SOURCE_BYTES

    if output and into:
        raise click.UsageError("give either -o or --into, not both")
    if output and not force and os.path.lexists(output):
        raise click.UsageError(f"{output} already exists; pass --force to overwrite it")
    original = _read_bytes(into, MAX_SOURCE_BYTES) if into else None
    try:
        result = calibrate(sources, source_type=source_type,
                           empirical_from=EMPIRICAL_FROM if empirical_from is None else empirical_from)
    except CalibrationError as error:
        for message in error.errors:
            click.echo(f"error: {message}", err=True)
        if error.ledger is not None:
            click.echo(ledger_text(error.ledger, error.kinds), err=True, nl=False)
        click.echo("hciplan calibrate: nothing was written", err=True)
        sys.exit(EXIT_ERRORS)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if into:
        try:
            text, warnings = merge_into(original, into, result)
        except MergeError as error:
            if error.diagnostics:
                sources_by_name = {error.source.name: error.source} if error.source is not None else {}
                click.echo(render_text(list(error.diagnostics), sources_by_name), err=True, nl=False)
            click.echo(f"hciplan calibrate: {error.message}", err=True)
            sys.exit(EXIT_ERRORS)
        _write_output(into, text, force=True, in_place=True)
        for warning in warnings:
            click.echo(warning, err=True)
        click.echo(report_text(result), nl=False)
        click.echo(f"merged the timing block into {into}: check it with `hciplan check {into}`")
    elif output:
        _write_output(output, render_timing(result), force)
        click.echo(report_text(result), nl=False)
        click.echo(f"wrote {output}: merge it with `hciplan calibrate ... --into FILE`, or paste the block")
    else:
        click.echo(render_timing(result), nl=False)
        click.echo(report_text(result), err=True, nl=False)


# --- diff and compare: what changed between plans, and what a change does to the night (docs/compare.md) ---


class _DiffCommand(click.Command):
    """`diff` exits 1 on any error, a bad command line included, so that 2 always means "different"."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            error.exit_code = EXIT_ERRORS
            raise


@cli.command("diff", cls=_DiffCommand)
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@FORMAT
@click.option("--exit-code", "exit_code", is_flag=True,
              help="Exit 2 when the plans differ, 0 when they are the same (errors: 1), for CI gates.")
def diff_command(old: str, new: str, output_format: str, exit_code: bool) -> None:
    """What changed from the plan of OLD to the plan of NEW (each a .hciplan file or `plan --format json` output).

    Steps added, removed and changed, the node order and the windows units
    start in, irreversible steps and the point of no return, the safety
    margins, and the facts behind the fingerprint; irreversible changes first.
    Ids are stable, so a renamed file or reordered blocks give no change.
    """
    from hciplan.compare.diff import PlanInputError, diff_documents, load_side
    from hciplan.compare.render import diff_text, dumps

    sides = []
    for path in (old, new):
        try:
            sides.append(load_side(path))
        except PlanInputError as error:
            if error.result is not None:
                print_diagnostics([error.result.check], list(error.result.diagnostics), "text", summary_line=False)
            click.echo(f"hciplan diff: {error.message}", err=True)
            sys.exit(EXIT_ERRORS)
    document = diff_documents(*sides)
    click.echo(dumps(document) if output_format == "json" else diff_text(document), nl=False)
    sys.exit(2 if exit_code and not document["same"] else EXIT_OK)


@cli.command("compare")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--vary", "varies", multiple=True, metavar="ATTR=VALUE[,ATTR=VALUE]",
              help="A variant of the first FILE (repeatable): upgrade.method=manual, timing.run_spread=0.2, "
                   "window=10h, ... (docs/compare.md).")
@click.option("--runs", type=click.IntRange(2, 1_000_000), default=1000, show_default=True,
              help="Monte Carlo runs per variant.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Master seed, the same for every variant (common random numbers).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
@click.option("--scenario", "scenario_name", metavar="NAME", shell_complete=completion.complete_scenario,
              help="Inject the failures of a scenario block "
              "(every variant's file must have it).")
@click.option("--fail", "fails", multiple=True, metavar="NODE:STEP[:MODE]", help="Inject a failure in every variant.",
              shell_complete=completion.complete_fail)
@click.option("--window", "window", metavar="DURATION|none", help="One window of this length for every variant "
              "(a --vary window=... overrides it for its variant); `none`: no windows.")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=None,
              help="The window rule's confidence for every variant [default: each file's].")
@click.option("--sensitivity", "sensitivity_runs", type=click.IntRange(2, 1_000_000), default=None, metavar="RUNS",
              help="Also swing each duration model of the first FILE between its P10 and P90, RUNS runs per swing.")
@click.option("--tornado", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="With --sensitivity: draw the ranked swings as a tornado chart (plot extra).")
@FORMAT
def compare_command(files: tuple[str, ...], varies: tuple[str, ...], runs: int, seed: int, jobs: int | None,
                    scenario_name: str | None, fails: tuple[str, ...], window: str | None, confidence: float | None,
                    sensitivity_runs: int | None, tornado: str | None, output_format: str) -> None:
    """Simulate plan variants with common random numbers and report their paired differences.

    The first FILE is the base; every other FILE and every --vary is a
    variant. Run i of every variant draws the same durations for the same work
    and the same failures, so the differences (P50, P90, the chance to fit the
    window, outcomes, exposure) come with intervals far narrower than two
    independent simulations would give. See docs/compare.md.
    """
    sys.exit(_compare(files, varies, runs, seed, jobs, scenario_name, fails, window, confidence, sensitivity_runs,
                      tornado, output_format))


def _compare(files, varies, runs, seed, jobs, scenario_name, fails, window, confidence, sensitivity_runs, tornado,
             output_format, scheduler=None) -> int:
    """compare, and simulate --vary: the variants simulated and reported; the exit code."""
    from hciplan.compare.render import compare_text, dumps
    from hciplan.compare.run import CompareError, Options, compare
    from hciplan.compare.variants import VaryError
    from hciplan.simulator import montecarlo, plots

    if tornado is not None:
        if sensitivity_runs is None:
            raise click.UsageError("--tornado draws the sensitivity: add --sensitivity RUNS")
        from hciplan.compare import tornado as chart

        try:
            chart.check_target(tornado)
        except plots.PlotError as error:
            raise click.UsageError(str(error)) from None
    window_minutes, ignore_windows = _window_option(window)
    options = Options(runs, seed, jobs, scheduler, scenario_name, fails, window_minutes, ignore_windows, confidence,
                      sensitivity_runs)
    try:
        with _ProgressBar(0) as advance:
            document = compare(files, varies, options, advance)
        if tornado is not None:
            chart.write_tornado(tornado, document["sensitivity"])
    except (CompareError, VaryError) as error:
        if error.result is not None:
            print_diagnostics([error.result.check], list(error.result.diagnostics), "text", summary_line=False)
        click.echo(f"hciplan: {error.message}", err=True)
        return EXIT_USAGE if error.usage else EXIT_ERRORS  # a wrong command line, or a file/variant with errors
    except (montecarlo.SimulationError, plots.PlotError) as error:
        click.echo(f"hciplan: {error}", err=True)
        return EXIT_USAGE
    click.echo(dumps(document) if output_format == "json" else compare_text(document), nl=False)
    return EXIT_OK
# --- report: the change board's page (issue 13) ---------------------------------------------------------


@cli.command("report")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="FILE.html",
              help="Write the page to this file.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--runs", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Monte Carlo runs of the plan and of each scenario of the file.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Master seed.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
def report_command(file: str, output: str, force: bool, runs: int, seed: int, jobs: int | None) -> None:
    """Write one self-contained HTML page for the change board: plan, windows, simulation, charts, steps.

    The page needs nothing else to open (styles and SVG charts inline, no
    request leaves it), prints, and reads without colour. A plan with errors
    is never reported. See docs/report.md.
    """
    from hciplan.backends import report

    if not force and (os.path.exists(output) or os.path.islink(output)):  # before any work, as import -o
        raise click.UsageError(f"{output} already exists; pass --force to overwrite it")
    result = compile_file(file)
    require_plan(result)
    page = report.build(result.plan, result.diagnostics, runs=runs, seed=seed, jobs=jobs)
    _write_output(output, page, force)
    click.echo(f"wrote {output}: open it in a browser, or attach it to the change", err=True)


def _register_fleet() -> None:
    """The `fleet` command group lives in hciplan/fleet/commands.py (issue 12)."""
    from hciplan.fleet.commands import fleet

    cli.add_command(fleet)


_register_fleet()


def main() -> None:
    try:
        # not standalone: click's own mode ends a Ctrl+C with "Aborted!" and exit 1, which here means "errors found"
        code = cli.main(prog_name="hciplan", standalone_mode=False)
    except click.exceptions.Abort:  # click's form of KeyboardInterrupt
        click.echo("hciplan: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except SystemExit:
        raise
    except Exception as error:  # the last line of defence: never show a traceback to a user
        if os.environ.get("HCIPLAN_DEBUG"):
            raise
        click.echo(f"hciplan: internal error: {type(error).__name__}: {error}\n"
                   "This is a bug in hciplan; set HCIPLAN_DEBUG=1 to see the traceback and please report it.",
                   err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
