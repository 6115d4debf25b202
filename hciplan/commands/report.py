"""`hciplan report`: the change board's self-contained HTML page (issue 13)."""

from __future__ import annotations

import os

import click

from hciplan.cli import _write_output, compile_file, require_plan


@click.command("report")
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
