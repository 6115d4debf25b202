"""`hciplan explain CODE`: the long explanation of a diagnostic code."""

from __future__ import annotations

import click

from hciplan import completion


@click.command("explain")
@click.argument("code", shell_complete=completion.complete_code)
def explain(code: str) -> None:
    """Print the long explanation of a diagnostic CODE (for example HCI305)."""
    from hciplan.compiler import codes  # noqa: F401 - fills REGISTRY (the compiler imports it; explain compiles nothing)
    from hciplan.compiler.diagnostics import REGISTRY, did_you_mean

    entry = REGISTRY.get(code.upper())
    if entry is None:
        hint = did_you_mean(code, REGISTRY)
        raise click.UsageError(f"unknown diagnostic code {code!r}" + (f"; {hint}" if hint else ""))
    click.echo(f"{entry.code} ({entry.severity}): {entry.title}\n")
    click.echo(entry.explanation)
    if entry.source:
        click.echo(f"\nSource: {entry.source} (see the source list in the domain reference, docs/language.md)")
