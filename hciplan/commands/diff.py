"""`hciplan diff`: what changed between two plans (docs/compare.md)."""

from __future__ import annotations

import sys

import click

from hciplan.cli import EXIT_ERRORS, EXIT_OK, FORMAT, print_diagnostics


class _DiffCommand(click.Command):
    """`diff` exits 1 on any error, a bad command line included, so that 2 always means "different"."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            error.exit_code = EXIT_ERRORS
            raise


@click.command("diff", cls=_DiffCommand)
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
