"""`hciplan progress`: the night of the change, from the script's journal, and what is left of it."""

from __future__ import annotations

import sys

import click

from hciplan import completion
from hciplan.cli import EXIT_ERRORS, EXIT_OK, FORMAT, _ProgressBar, compile_file, require_plan


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


@click.command("progress")
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
