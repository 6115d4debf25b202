"""`hciplan emit`: a backend's files for the plan (the script, the runbook with its simulated figures, ...)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hciplan.backends import BACKENDS, BackendUnsupported  # the registry imports a backend on first use
from hciplan.cli import EXIT_ERRORS, compile_file, print_diagnostics, require_plan, write_outputs

if TYPE_CHECKING:
    from hciplan.simulator.result import SimResult


def _load_simulation(path: str, plan, what_if: bool = False) -> tuple[SimResult, list[str]]:
    """A saved `hciplan.sim/1` of this plan, and how its inputs differ from the file's (allowed with --what-if)."""
    from hciplan.backends.escape import plain
    from hciplan.files import MAX_JSON_BYTES, TooLarge, read_at_most, windows_encoding
    from hciplan.simulator.inputs import differences
    from hciplan.simulator.result import parse

    again = "run `hciplan simulate FILE --format json > SIM.json` again"
    try:
        data = read_at_most(path, MAX_JSON_BYTES)
        # as diff reads a plan document: UTF-8 with or without a BOM, or UTF-16 with one (a copy saved by
        # Windows PowerShell 5.1's Out-File)
        simulation = parse(data.decode(windows_encoding(data)))
    except TooLarge as error:
        raise click.UsageError(f"{error}: not a saved simulation") from None
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise click.UsageError(f"{path}: byte 0x{error.object[error.start]:02x} at offset {error.start} is not "
                               f"valid {error.encoding.upper().replace('-SIG', '')} text: not a saved simulation; "
                               f"{again}") from None
    except ValueError as error:
        raise click.UsageError(f"{path}: {plain(str(error))}; {again}") from None
    if simulation.fingerprint is None:
        raise click.UsageError(f'{path}: the simulation names no plan ("fingerprint" is missing): {again}')
    if simulation.fingerprint != plan.fingerprint:
        raise click.UsageError(f"{path} simulated plan {plain(simulation.fingerprint)[:80]}, not this plan "
                               f"({plan.fingerprint}): simulate the current file again")
    found = differences(plan, simulation)
    if found and not what_if:
        raise click.UsageError(f"{path} is not a simulation of the file as it stands: {plain('; '.join(found))}. "
                               f"For the runbook, {again} without the overrides; or pass --what-if to show it, "
                               "labelled as a what-if")
    return simulation, found


def _run_simulation(runs: int, plan) -> SimResult:
    """Simulate the plan in-process (failure-free, within its windows, seed 0) for the runbook's figures."""
    from hciplan.simulator import simulate_result

    return simulate_result(plan, runs=runs, seed=0)


@click.command("emit")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--backend", "backend_name", type=click.Choice(sorted(BACKENDS)), default="powershell", show_default=True,
              help="What to write: the upgrade script, the runbook, the plan JSON, ...")
@click.option("-o", "--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Directory to write into (created when missing).")
@click.option("--force", is_flag=True, help="Replace files that exist with different content.")
@click.option("--simulate", "runs", type=click.IntRange(1, 1_000_000), default=None,  # as simulate --runs
              help="Runbook only: add the simulated P50/P90 and the chance to finish in the windows (N runs).")
@click.option("--simulation", "simulation_file", type=click.Path(dir_okay=False), default=None,
              help="Runbook only: take P50/P90 from a saved `hciplan simulate --format json` result.")
@click.option("--what-if", "what_if", is_flag=True,
              help="With --simulation: accept a simulation run with other inputs (--window, --fail, a scenario, "
                   "--confidence, another timing block), labelled WHAT-IF in the runbook.")
def emit(file: str, backend_name: str, output_dir: str, force: bool, runs: int | None,
         simulation_file: str | None, what_if: bool) -> None:
    """Write the output of a backend for FILE into a directory: by default Invoke-HciUpgrade.ps1.

    A plan with errors is never emitted. Files are written atomically; an
    existing file with different content is only replaced with --force.
    """
    from hciplan.backends import runbook
    from hciplan.compiler.diagnostics import Severity

    if (runs or simulation_file) and backend_name != runbook.NAME:
        raise click.UsageError("--simulate and --simulation apply to --backend runbook")
    if runs and simulation_file:
        raise click.UsageError("give either --simulate or --simulation, not both")
    if what_if and not simulation_file:
        raise click.UsageError("--what-if goes with --simulation FILE")
    result = compile_file(file)
    require_plan(result)
    warnings = [d for d in result.diagnostics if d.severity is Severity.WARNING]
    if warnings:
        print_diagnostics([result.check], warnings, "text", summary_line=False)
    backend = BACKENDS[backend_name]
    try:
        if backend_name == runbook.NAME:
            simulation, what_ifs = (_load_simulation(simulation_file, result.plan, what_if) if simulation_file
                                    else (_run_simulation(runs, result.plan) if runs else None, []))
            files = runbook.render(result.plan, result.diagnostics, simulation, tuple(what_ifs))
        else:
            files = backend.render(result.plan, result.diagnostics)
    except BackendUnsupported as error:
        click.echo(f"{file}: error: the {backend_name} backend cannot express this plan: {error}", err=True)
        sys.exit(EXIT_ERRORS)
    for path, what in write_outputs(Path(output_dir), files, force):
        click.echo(f"{what} {path}")
