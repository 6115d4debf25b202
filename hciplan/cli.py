"""The `hciplan` command: a thin click layer over the library.

Exit codes: 0 no errors (warnings allowed), 1 errors found in the input,
2 usage error (bad option, unreadable file), 70 internal error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from hciplan import __version__
from hciplan.backends import BACKENDS, BackendUnsupported, dot, json_plan, mermaid, runbook, summary
from hciplan.compiler.compile import CompileResult, compile_checked
from hciplan.compiler.diagnostics import REGISTRY, Diagnostic, Severity, did_you_mean
from hciplan.compiler.pipeline import CheckResult, load_source
from hciplan.compiler.render import render_json, render_text
from hciplan.files import write_text
from hciplan.simulator.result import SimResult

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70

FORMAT = click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                      show_default=True, help="Output format.")


def use_colour() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _style():
    if use_colour():
        return click.style
    return lambda text, **_: text


def read_checked(paths: tuple[str, ...]) -> list[CheckResult]:
    results = []
    for path in paths:
        try:
            results.append(load_source(path))
        except OSError as error:
            raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    return results


def print_diagnostics(results: list[CheckResult], diagnostics: list[Diagnostic], output_format: str,
                      summary_line: bool = True) -> None:
    """Print diagnostics (text to stdout with a summary line, or the JSON document)."""
    if output_format == "json":
        click.echo(render_json(diagnostics), nl=False)
        return
    sources = {r.source.name: r.source for r in results if r.source is not None}
    text = render_text(diagnostics, sources, _style())
    if text:
        click.echo(text, nl=False, err=not summary_line)
    if summary_line:
        errors = sum(d.severity is Severity.ERROR for d in diagnostics)
        warnings = len(diagnostics) - errors
        files = len(results)
        click.echo(f"{files} file{'s' * (files != 1)} checked: {errors} error{'s' * (errors != 1)}, "
                   f"{warnings} warning{'s' * (warnings != 1)}")


def compile_file(path: str) -> CompileResult:
    """The plan of FILE for the commands that show or emit one (a file without an upgrade is HCI112)."""
    return compile_checked(read_checked((path,))[0], need_plan=True)


def require_plan(result: CompileResult) -> None:
    """Stop with the diagnostics on stderr when there is no plan to show (never emit a plan with errors)."""
    if result.ok:
        return
    print_diagnostics([result.check], list(result.diagnostics), "text", summary_line=False)
    click.echo("no plan: fix the errors above", err=True)
    sys.exit(EXIT_ERRORS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hciplan")
def cli() -> None:
    """Plan, check, simulate and script an Azure Stack HCI 22H2 -> 23H2 upgrade."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@FORMAT
def check(files: tuple[str, ...], output_format: str) -> None:
    """Check .hciplan FILES and report every problem found in them.

    Beyond the file's own rules, a file with an upgrade block is compiled and
    its plan proven safe (storage, quorum, capacity, irreversible steps, space).
    """
    results = read_checked(files)
    compiled = [compile_checked(r) for r in results]
    diagnostics = [d for c in compiled for d in c.diagnostics]
    print_diagnostics(results, diagnostics, output_format)
    failed = any(not c.check.ok or (c.plan is not None and not c.ok) for c in compiled)
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@FORMAT
def plan(file: str, output_format: str) -> None:
    """Show what the upgrade of FILE will do: phases, steps, order, points of no return."""
    result = compile_file(file)
    if output_format == "json":
        click.echo(json_plan.dumps(json_plan.plan_document(result.plan if result.ok else None, result.diagnostics)),
                   nl=False)
        sys.exit(EXIT_OK if result.ok else EXIT_ERRORS)
    require_plan(result)
    click.echo(summary.render_summary(result.plan, result.diagnostics, _style()), nl=False)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "output_format", type=click.Choice(["dot", "mermaid"]), default="dot", show_default=True,
              help="Graph language.")
@click.option("--detail", is_flag=True, help="One box per step instead of one box per node pass.")
def graph(file: str, output_format: str, detail: bool) -> None:
    """Print the step DAG of FILE as Graphviz dot or Mermaid, grouped by phase."""
    result = compile_file(file)
    require_plan(result)
    render = dot.to_dot if output_format == "dot" else mermaid.to_mermaid
    click.echo(render(result.plan, detail), nl=False)


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the long explanation of a diagnostic CODE (for example HCI305)."""
    entry = REGISTRY.get(code.upper())
    if entry is None:
        hint = did_you_mean(code, REGISTRY)
        raise click.UsageError(f"unknown diagnostic code {code!r}" + (f"; {hint}" if hint else ""))
    click.echo(f"{entry.code} ({entry.severity}): {entry.title}\n")
    click.echo(entry.explanation)
    if entry.source:
        click.echo(f"\nSource: {entry.source} (see the source list in the domain reference, docs/language.md)")


# --- fmt, discover, import: from a live cluster to a formatted file ------------------------


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None


def _write_output(path: str, text: str, force: bool) -> None:
    """Write a command's output file atomically; an existing file needs --force."""
    try:
        write_text(path, text, overwrite=force)
    except FileExistsError:
        raise click.UsageError(f"{path} already exists; pass --force to overwrite it") from None
    except OSError as error:
        raise click.UsageError(f"cannot write {path}: {error.strerror or error}") from None


@cli.command("fmt")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--write", "-w", is_flag=True, help="Rewrite the files in place instead of printing them.")
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; exit 1 and list the files that are not formatted.")
def fmt_command(files: tuple[str, ...], write: bool, check_only: bool) -> None:
    """Print .hciplan FILES in the canonical layout (comments kept).

    Files with syntax errors are refused: their diagnostics are printed, the
    exit code is 1 and nothing is written.
    """
    from hciplan.fmt import format_bytes

    if write and check_only:
        raise click.UsageError("--write and --check exclude each other")
    results = [format_bytes(path, _read_bytes(path)) for path in files]
    broken = [r for r in results if not r.ok]
    if broken:
        sources = {r.source.name: r.source for r in broken if r.source is not None}
        click.echo(render_text([d for r in broken for d in r.diagnostics], sources), err=True, nl=False)
        click.echo(f"hciplan fmt: {len(broken)} file{'s' * (len(broken) != 1)} not formatted "
                   "because of syntax errors; nothing was written", err=True)
        sys.exit(EXIT_ERRORS)
    if check_only:
        unformatted = [r.name for r in results if r.changed]
        for name in unformatted:
            click.echo(f"not formatted: {name}")
        sys.exit(EXIT_ERRORS if unformatted else EXIT_OK)
    if write:
        changed = [r for r in results if r.changed]
        for result in changed:
            _write_output(result.name, result.text, force=True)
            click.echo(f"formatted {result.name}", err=True)
        sys.exit(EXIT_OK)
    for result in results:
        click.echo(result.text, nl=False)


@cli.command()
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


@cli.command("import")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the .hciplan file here instead of printing it.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def import_command(inventory: str, output: str | None, force: bool) -> None:
    """Turn an INVENTORY (JSON from the discovery script) into a formatted .hciplan file.

    Whatever the inventory could not read becomes a `# TODO:` comment. A malformed
    inventory is reported by JSON path, the exit code is 1 and nothing is written.
    """
    from hciplan.discovery.importer import import_inventory

    if output is not None and not force and os.path.exists(output):
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


def _load_simulation(path: str, plan) -> SimResult:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        simulation = SimResult.from_document(document)
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise click.UsageError(f"{path}: {error}") from None
    if simulation.fingerprint and simulation.fingerprint != plan.fingerprint:
        raise click.UsageError(f"{path} simulated plan {simulation.fingerprint}, not this plan ({plan.fingerprint}): "
                               "simulate the current file again")
    return simulation


def _run_simulation(runs: int, plan) -> SimResult:
    """Simulate the plan in-process (failure-free, within its windows, seed 0) for the runbook's figures."""
    from hciplan.simulator import simulate_result

    return simulate_result(plan, runs=runs, seed=0)


def write_outputs(directory: Path, files: dict[str, str], force: bool) -> list[tuple[Path, str]]:
    """Write every file atomically (temporary file + rename), or none of them.

    A file that exists with the same bytes is left alone ("unchanged"); one
    with different bytes is overwritten only with `force`. The check covers all
    files before the first write, so a refusal leaves the directory untouched.
    """
    planned: list[tuple[Path, bytes]] = [(directory / name, content.encode("utf-8")) for name, content in sorted(files.items())]
    conflicts = [path for path, data in planned if path.exists() and (not path.is_file() or path.read_bytes() != data)]
    if conflicts and not force:
        names = ", ".join(str(p) for p in conflicts)
        raise click.UsageError(f"{names} already exists with different content: review it, then rerun with --force "
                               "to replace it (or choose another -o directory)")
    directory.mkdir(parents=True, exist_ok=True)
    outcome = []
    for path, data in planned:
        if path.is_file() and path.read_bytes() == data:
            outcome.append((path, "unchanged"))
            continue
        write_text(path, data.decode("utf-8"), overwrite=True)
        outcome.append((path, "wrote"))
    return outcome


@cli.command()
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
def emit(file: str, backend_name: str, output_dir: str, force: bool, runs: int | None,
         simulation_file: str | None) -> None:
    """Write the output of a backend for FILE into a directory: by default Invoke-HciUpgrade.ps1.

    A plan with errors is never emitted. Files are written atomically; an
    existing file with different content is only replaced with --force.
    """
    if (runs or simulation_file) and backend_name != runbook.NAME:
        raise click.UsageError("--simulate and --simulation apply to --backend runbook")
    if runs and simulation_file:
        raise click.UsageError("give either --simulate or --simulation, not both")
    result = compile_file(file)
    require_plan(result)
    warnings = [d for d in result.diagnostics if d.severity is Severity.WARNING]
    if warnings:
        print_diagnostics([result.check], warnings, "text", summary_line=False)
    backend = BACKENDS[backend_name]
    try:
        if backend_name == runbook.NAME:
            simulation = (_load_simulation(simulation_file, result.plan) if simulation_file
                          else _run_simulation(runs, result.plan) if runs else None)
            files = runbook.render(result.plan, result.diagnostics, simulation)
        else:
            files = backend.render(result.plan, result.diagnostics)
    except BackendUnsupported as error:
        click.echo(f"{file}: error: the {backend_name} backend cannot express this plan: {error}", err=True)
        sys.exit(EXIT_ERRORS)
    for path, what in write_outputs(Path(output_dir), files, force):
        click.echo(f"{what} {path}")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--runs", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Number of Monte Carlo runs.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Master seed: run i draws from a generator derived from (seed, i).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
@click.option("--scenario", "scenario_name", metavar="NAME", help="Inject the failures of a scenario block.")
@click.option("--fail", "fails", multiple=True, metavar="NODE:STEP[:MODE]",
              help="Inject a failure (repeatable). MODE: error[=ATTEMPTS] hang slow[=FACTOR] drain_failure "
                   "resync_stall; default error.")
@click.option("--window", "window", metavar="DURATION|none",
              help="One window of this length from the planned start instead of the file's windows; "
                   "`none` simulates without windows.")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=None,
              help="Start a unit of work only if it ends inside the window with this probability "
                   "[default: the timing block's window_confidence, 0.9].")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run the batches on a dask.distributed cluster.")
@click.option("--gantt", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="Draw the timeline of the median run.")
@click.option("--histogram", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="Draw the duration distribution with its S-curve.")
@FORMAT
def simulate(file: str, runs: int, seed: int, jobs: int | None, scenario_name: str | None, fails: tuple[str, ...],
             window: str | None, confidence: float | None, scheduler: str | None, gantt: str | None,
             histogram: str | None, output_format: str) -> None:
    """Dry-run the plan of FILE many times: durations, the chance to fit the window, failures.

    Prints P50/P80/P90/P95/max durations, the probability of finishing inside
    the window, the outcomes (completed, aborted, stopped at the window), the
    most critical steps and the time with reduced storage resiliency. The same
    seed gives the same numbers whatever --jobs is. See docs/simulation.md.
    """
    from hciplan import simulator
    from hciplan.simulator import montecarlo, plots, report

    for path in (gantt, histogram):
        if path is not None:
            try:
                plots.check_target(path)
            except plots.PlotError as error:
                raise click.UsageError(str(error)) from None
    window_minutes, ignore_windows = None, False
    if window is not None:
        try:
            window_minutes = simulator.parse_window(window)
        except ValueError as error:
            raise click.UsageError(str(error)) from None
        ignore_windows = window_minutes is None
    result = compile_file(file)
    require_plan(result)
    try:
        sim_plan = simulator.prepare_simulation(result.plan, scenario_name, fails, window_minutes, ignore_windows,
                                                confidence)
    except KeyError as error:
        raise click.UsageError(error.args[0]) from None
    except simulator.FailureSpecError as error:
        raise click.UsageError("; ".join((error.message,) + error.hints)) from None
    except simulator.ScenarioError as error:
        print_diagnostics([result.check], error.diagnostics, "text", summary_line=False)
        click.echo(f"no simulation: fix the scenario `{scenario_name}` above", err=True)
        sys.exit(EXIT_ERRORS)

    try:
        with _ProgressBar(runs) as advance:
            summary = montecarlo.simulate(sim_plan, runs, seed, jobs, scheduler, advance)
        if gantt is not None:
            median = summary.median_run()
            plots.write_gantt(gantt, sim_plan, montecarlo.trace_run(sim_plan, seed, median))
        if histogram is not None:
            plots.write_histogram(histogram, sim_plan, summary)
    except (montecarlo.SimulationError, plots.PlotError) as error:
        click.echo(f"hciplan: {error}", err=True)
        sys.exit(EXIT_USAGE)
    if output_format == "json":
        click.echo(report.render_json(sim_plan, summary), nl=False)
    else:
        click.echo(report.render_text(sim_plan, summary), nl=False)


class _ProgressBar:
    """A rich progress bar on stderr, only when stderr is a terminal and the series is long."""

    def __init__(self, runs: int):
        self.runs = runs
        self.bar = None

    def __enter__(self):
        if not sys.stderr.isatty() or self.runs < 200:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bar = Progress("simulating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("runs", total=self.runs)
        return lambda done: self.bar.advance(task, done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- calibrate: the timing block learnt from past runs ----------------------------------------------


@cli.command("calibrate")
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

    if output and into:
        raise click.UsageError("give either -o or --into, not both")
    if output and not force and os.path.exists(output):
        raise click.UsageError(f"{output} already exists; pass --force to overwrite it")
    original = _read_bytes(into) if into else None
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
        _write_output(into, text, force=True)
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


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as error:  # the last line of defence: never show a traceback to a user
        if os.environ.get("HCIPLAN_DEBUG"):
            raise
        click.echo(f"hciplan: internal error: {type(error).__name__}: {error}\n"
                   "This is a bug in hciplan; set HCIPLAN_DEBUG=1 to see the traceback and please report it.",
                   err=True)
        sys.exit(EXIT_INTERNAL)
