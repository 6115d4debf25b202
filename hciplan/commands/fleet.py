"""`hciplan fleet plan|simulate|emit FLEET`: the click layer of fleets (the fleet branch of `hciplan check`
is in check.py).

Listed in hciplan/cli.py's COMMANDS table like every command, so it is imported only when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

EXIT_OK, EXIT_ERRORS = 0, 1


def _read(path: str):
    from hciplan.files import shared_name
    from hciplan.fleet.load import check_fleet

    try:  # as every command's FILE: an unreadable one is a usage error (exit 2), not a diagnostic
        with open(path, "rb"):
            pass
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    return check_fleet(path, shared_name(path))


def _print(checked, output_format: str, err: bool = False) -> None:
    from hciplan.cli import _style
    from hciplan.compiler.render import render_json, render_text

    if output_format == "json":
        click.echo(render_json(checked.diagnostics), nl=False)
        return
    text = render_text(checked.diagnostics, checked.sources, _style())
    if text:
        click.echo(text, nl=False, err=err)


def _stop_on_errors(checked, refusal: str, as_json: tuple[str, Callable[[dict], str]] | None = None) -> None:
    """With any error in the fleet, print its diagnostics and exit 1: with `as_json` (the schema and its
    `dumps`, for --json), as `plan --format json`, the document holding only them; else the text on stderr
    and `refusal`."""
    if checked.ok:
        return
    if as_json is not None:
        from hciplan.compiler.render import diagnostics_json

        schema, dumps = as_json
        click.echo(dumps({"schema": schema, **diagnostics_json(checked.diagnostics)}), nl=False)
    else:
        _print(checked, "text", err=True)
        click.echo(f"{refusal}: fix the errors above", err=True)
    sys.exit(EXIT_ERRORS)


@click.group("fleet")
def fleet() -> None:
    """Plan the upgrade campaign of many clusters from a fleet file (docs/fleet.md)."""


@fleet.command("plan")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the hciplan.fleet-plan/1 document.")
def plan_command(file: str, as_json: bool) -> None:
    """The campaign schedule of FLEET: each cluster's windows, wave by wave, and the operator load per shift.

    Every cluster file is checked and compiled first (as `hciplan check FLEET`);
    with any error there is no schedule: the diagnostics are printed (with
    --json, a document holding only them) and the exit code is 1.
    """
    from hciplan.fleet.campaign import plan_campaign
    from hciplan.fleet.render import SCHEMA, document, dumps, render_text

    checked = _read(file)
    _stop_on_errors(checked, "no campaign", (SCHEMA, dumps) if as_json else None)
    campaign = plan_campaign(checked)
    if as_json:
        click.echo(dumps(document(campaign, checked.diagnostics)), nl=False)
    else:
        _print(checked, "text", err=True)  # warnings, on stderr: the schedule stays clean to read or diff
        click.echo(render_text(campaign), nl=False)
    sys.exit(EXIT_OK)


@fleet.command("emit")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace DIR when an earlier `fleet emit` wrote it with other content.")
def emit_command(file: str, directory: str, force: bool) -> None:
    """Write DIR: per cluster a folder with what `hciplan emit` writes (script, runbook), and manifest.json.

    The clusters are scheduled as by `hciplan fleet plan`; DIR/manifest.json
    (hciplan.fleet-manifest/1) lists each one in campaign order with its
    wave, windows, status, plan fingerprint and file hashes. With any error
    nothing is written (exit 1). DIR is written whole or not at all; a
    non-empty DIR is replaced only with --force, and only when it holds an
    earlier fleet emit.
    """
    from hciplan.files import WriteError
    from hciplan.fleet.campaign import plan_campaign
    from hciplan.fleet.emit import EmitError, build, write_tree

    checked = _read(file)
    _stop_on_errors(checked, "nothing written")
    _print(checked, "text", err=True)  # warnings
    campaign = plan_campaign(checked)
    try:
        tree = build(checked, campaign, checked.name)
    except EmitError as error:
        click.echo(f"{error}\nnothing written", err=True)
        sys.exit(EXIT_ERRORS)
    try:  # as `hciplan emit`: a refusal to replace is a usage error (exit 2)
        outcome = write_tree(directory, tree, force=force)
    except FileExistsError as error:
        raise click.UsageError(f"{error}: review it, then rerun with --force to replace it (or choose another "
                               "DIR)") from None
    except WriteError as error:
        raise click.UsageError(str(error)) from None
    clusters = sum(1 for name in tree if name.endswith("/Invoke-HciUpgrade.ps1"))
    click.echo(f"{outcome} {directory}: {clusters} cluster folders, manifest.json, README.txt")
    sys.exit(EXIT_OK)


@fleet.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--runs", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Monte Carlo runs of the whole campaign.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Master seed: each cluster's run i draws from (seed, its file, its fingerprint, i).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run the run ranges on a dask.distributed cluster.")
@click.option("--json", "as_json", is_flag=True, help="Print the hciplan.fleet-simulation/1 document.")
def simulate_command(file: str, runs: int, seed: int, jobs: int | None, scheduler: str | None, as_json: bool) -> None:
    """Monte Carlo of the campaign of FLEET: waves, health gate, delays, operators (docs/fleet.md).

    Each run replays `fleet plan`'s schedule with drawn durations: each
    cluster's plan in its windows, a wave delayed by a late one, the gate
    stopping the later waves. Prints the P50/P90 campaign end, P(every
    cluster inside its windows), clusters done per week, the clusters most
    likely to overrun, engineer-hours and P(operators over-booked). The same
    seed gives the same bytes whatever --jobs is, with or without --scheduler.
    """
    from hciplan.cli import EXIT_INTERRUPTED, EXIT_USAGE, _ProgressBar
    from hciplan.fleet.campaign import plan_campaign
    from hciplan.fleet.simrender import SCHEMA, document, dumps, render_text
    from hciplan.fleet.simulate import Model, simulate
    from hciplan.simulator.montecarlo import SimulationError

    checked = _read(file)
    _stop_on_errors(checked, "no simulation", (SCHEMA, dumps) if as_json else None)
    _print(checked, "text", err=True)  # warnings, on stderr
    campaign = plan_campaign(checked)
    model = Model(campaign, {c.name: c.result.plan for c in checked.clusters})
    try:
        with _ProgressBar(runs) as advance:
            agg = simulate(model, runs, seed, jobs, scheduler, advance)
    except SimulationError as error:
        click.echo(f"hciplan: {error}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("\nhciplan: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(dumps(document(model, agg, seed)), nl=False)
    else:
        click.echo(render_text(model, agg, seed), nl=False)
    sys.exit(EXIT_OK)
