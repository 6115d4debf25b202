"""`hciplan fmt`: .hciplan files in the canonical layout (print, --write or --check)."""

from __future__ import annotations

import sys

import click

from hciplan.cli import EXIT_ERRORS, EXIT_OK, _read_bytes, _write_output


@click.command("fmt")
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
    from hciplan.compiler.render import render_text
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
