"""`hciplan plan` and `hciplan graph`: the compiled plan shown as a report, JSON or a graph."""

from __future__ import annotations

import sys

import click

from hciplan.cli import EXIT_ERRORS, EXIT_OK, FORMAT, _style, compile_file, echo_report, require_plan


@click.command("plan")
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


@click.command("graph")
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
