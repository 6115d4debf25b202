"""`hciplan check`: every problem of the files, and with --validation what the validator's results say."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from hciplan.cli import EXIT_ERRORS, EXIT_OK, FORMAT, _read_validation, _style, print_diagnostics, read_checked

if TYPE_CHECKING:
    from hciplan.compiler.compile import CompileResult
    from hciplan.compiler.pipeline import CheckResult


@click.command("check")
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

    fleets = []
    if any(_may_be_fleet(f) for f in files):  # else hciplan.fleet is not imported (start-up: docs/performance.md)
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


def _may_be_fleet(path: str) -> bool:
    """A necessary condition of `hciplan.fleet.load.is_fleet_file`, without importing hciplan.fleet: its
    pattern needs the ASCII word `fleet`, whose bytes the file then holds (UTF-8 decodes ASCII bytes alone
    to ASCII letters; a replaced byte is U+FFFD). Read with the same bound; unreadable means False as there."""
    from hciplan.compiler.pipeline import MAX_SOURCE_BYTES
    from hciplan.files import TooLarge, read_at_most

    try:
        return b"fleet" in read_at_most(path, MAX_SOURCE_BYTES)
    except (OSError, TooLarge):
        return False


def _print_fleet_check(results, compiled, fleets, output_format: str) -> None:
    """`hciplan check` of fleet files (and any cluster files beside them): one renderer, one summary line."""
    from hciplan.compiler.diagnostics import Severity
    from hciplan.compiler.render import render_json, render_text

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


def _check_validation(files: tuple[str, ...], results: list[CheckResult], compiled: list[CompileResult],
                      validation_file: str, output_format: str) -> int:
    """`check FILE --validation RESULTS`: the file's diagnostics with the verdict's, then the verdict's summary."""
    from hciplan.compiler.diagnostics import Severity
    from hciplan.compiler.render import check_document, render_text
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
        import json  # here, not at the top: check's text output does not need it

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
