"""`hciplan discover` and `hciplan import`: from a live cluster (its inventory, or the validator's results) to a formatted file."""

from __future__ import annotations

import os
import sys

import click

from hciplan.cli import (EXIT_ERRORS, EXIT_OK, _read_bytes, _read_validation, _write_output, print_diagnostics,
                         read_checked)


@click.command("discover")
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


@click.command("import")
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
