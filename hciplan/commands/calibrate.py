"""`hciplan calibrate`: the timing block learnt from past runs."""

from __future__ import annotations

import os
import sys

import click

from hciplan.cli import EXIT_ERRORS, _read_bytes, _write_output


@click.command("calibrate")
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
    from hciplan.compiler.render import render_text

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
