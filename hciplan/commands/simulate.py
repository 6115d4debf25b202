"""`hciplan simulate` and `hciplan compare`: Monte Carlo dry runs of a plan, alone or paired with variants."""

from __future__ import annotations

import sys

import click

from hciplan import completion
from hciplan.cli import (EXIT_ERRORS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, FORMAT, _ProgressBar, _style,
                         compile_file, echo_report, print_diagnostics, require_plan)
from hciplan.words import counted


@click.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--runs", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Number of Monte Carlo runs.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Master seed: run i draws from a generator derived from (seed, i).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
@click.option("--scenario", "scenario_name", metavar="NAME", help="Inject the failures of a scenario block.",
              shell_complete=completion.complete_scenario)
@click.option("--fail", "fails", multiple=True, metavar="NODE:STEP[:MODE]", shell_complete=completion.complete_fail,
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
              help="Draw the distribution: the finish window and the work time per window (S-curves) over "
                   "several windows, else the durations.")
@click.option("--criticality", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="Draw the most critical steps (share of completed runs on the critical path).")
@click.option("--vary", "varies", multiple=True, metavar="ATTR=VALUE[,ATTR=VALUE]",
              help="Compare FILE with this variant (repeatable), with common random numbers: as `hciplan compare "
                   "FILE --vary ...` (docs/compare.md).")
@FORMAT
def simulate(file: str, runs: int, seed: int, jobs: int | None, scenario_name: str | None, fails: tuple[str, ...],
             window: str | None, confidence: float | None, scheduler: str | None, gantt: str | None,
             histogram: str | None, criticality: str | None, varies: tuple[str, ...], output_format: str) -> None:
    """Dry-run the plan of FILE many times: durations, the chance to fit the window, failures.

    Prints P50/P80/P90/P95/max durations, the probability of finishing inside
    the window, the outcomes (completed, aborted, stopped at the window), the
    most critical steps and the time with reduced storage resiliency. The same
    seed gives the same numbers whatever --jobs is. See docs/simulation.md.
    """
    from hciplan import simulator
    from hciplan.simulator import montecarlo, plots, provenance, report

    if varies:  # a paired comparison of FILE and its variants (docs/compare.md)
        if gantt or histogram or criticality:
            raise click.UsageError("--gantt, --histogram and --criticality draw one simulation: leave them out "
                                   "with --vary")
        sys.exit(_compare((file,), varies, runs, seed, jobs, scenario_name, fails, window, confidence, None, None,
                          output_format, scheduler))
    for path in (gantt, histogram, criticality):
        if path is not None:
            try:
                plots.check_target(path)
            except plots.PlotError as error:
                raise click.UsageError(str(error)) from None
    window_minutes, ignore_windows = _window_option(window)
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
    except montecarlo.Interrupted as interrupted:
        _report_interrupted(sim_plan, runs, seed, interrupted, report)
    except montecarlo.SimulationError as error:
        click.echo(f"hciplan: {error}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        if gantt is not None:
            median = summary.median_run()
            plots.write_gantt(gantt, sim_plan, montecarlo.trace_run(sim_plan, seed, median))
        if histogram is not None:
            plots.write_histogram(histogram, sim_plan, summary)
        if criticality is not None:
            plots.write_criticality(criticality, sim_plan, summary)
    except (montecarlo.SimulationError, plots.PlotError) as error:
        click.echo(f"hciplan: {error}", err=True)
        sys.exit(EXIT_USAGE)
    models = provenance.model_provenance(result.plan)  # the header's provenance line, and the JSON's `models`
    if output_format == "json":
        click.echo(report.render_json(sim_plan, summary, models), nl=False)
    else:
        echo_report(report.render_text(sim_plan, summary, models, _style()))


def _window_option(window: str | None) -> tuple[float | None, bool]:
    """`--window DURATION|none`: (minutes of the one window, or None; whether to ignore the file's windows)."""
    from hciplan import simulator

    if window is None:
        return None, False
    try:
        minutes = simulator.parse_window(window)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    return minutes, minutes is None


def _report_interrupted(sim_plan, runs: int, seed: int, interrupted, report) -> None:
    """Ctrl+C: what the finished runs show, on stderr (stdout gets no partial document), then exit 130."""
    from hciplan.simulator import montecarlo

    done = interrupted.done
    finished = interrupted.finished
    click.echo(f"\nhciplan: interrupted after {finished} of {counted(runs, 'run')}", err=True)
    if finished:
        # above montecarlo.EXACT_RUNS the batches were folded as they came: the fold's summary is the partial one
        partial = interrupted.partial or montecarlo.summarise(sim_plan, finished, seed, done)
        click.echo(f"what the {counted(finished, 'finished run')} show (a partial series: rerun for the full figures):",
                   err=True)
        click.echo(report.render_text(sim_plan, partial, None), err=True, nl=False)
    sys.exit(EXIT_INTERRUPTED)


@click.command("compare")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--vary", "varies", multiple=True, metavar="ATTR=VALUE[,ATTR=VALUE]",
              help="A variant of the first FILE (repeatable): upgrade.method=manual, timing.run_spread=0.2, "
                   "window=10h, ... (docs/compare.md).")
@click.option("--runs", type=click.IntRange(2, 1_000_000), default=1000, show_default=True,
              help="Monte Carlo runs per variant.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Master seed, the same for every variant (common random numbers).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,  # montecarlo.MAX_DEFAULT_JOBS
              help="Worker processes, at most 64 [default: all cores, at most 64].")
@click.option("--scenario", "scenario_name", metavar="NAME", shell_complete=completion.complete_scenario,
              help="Inject the failures of a scenario block "
              "(every variant's file must have it).")
@click.option("--fail", "fails", multiple=True, metavar="NODE:STEP[:MODE]", help="Inject a failure in every variant.",
              shell_complete=completion.complete_fail)
@click.option("--window", "window", metavar="DURATION|none", help="One window of this length for every variant "
              "(a --vary window=... overrides it for its variant); `none`: no windows.")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=None,
              help="The window rule's confidence for every variant [default: each file's].")
@click.option("--sensitivity", "sensitivity_runs", type=click.IntRange(2, 1_000_000), default=None, metavar="RUNS",
              help="Also swing each duration model of the first FILE between its P10 and P90, RUNS runs per swing.")
@click.option("--tornado", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="With --sensitivity: draw the ranked swings as a tornado chart (plot extra).")
@FORMAT
def compare_command(files: tuple[str, ...], varies: tuple[str, ...], runs: int, seed: int, jobs: int | None,
                    scenario_name: str | None, fails: tuple[str, ...], window: str | None, confidence: float | None,
                    sensitivity_runs: int | None, tornado: str | None, output_format: str) -> None:
    """Simulate plan variants with common random numbers and report their paired differences.

    The first FILE is the base; every other FILE and every --vary is a
    variant. Run i of every variant draws the same durations for the same work
    and the same failures, so the differences (P50, P90, the chance to fit the
    window, outcomes, exposure) come with intervals far narrower than two
    independent simulations would give. See docs/compare.md.
    """
    sys.exit(_compare(files, varies, runs, seed, jobs, scenario_name, fails, window, confidence, sensitivity_runs,
                      tornado, output_format))


def _compare(files, varies, runs, seed, jobs, scenario_name, fails, window, confidence, sensitivity_runs, tornado,
             output_format, scheduler=None) -> int:
    """compare, and simulate --vary: the variants simulated and reported; the exit code."""
    from hciplan.compare.render import compare_text, dumps
    from hciplan.compare.run import CompareError, Options, compare
    from hciplan.compare.variants import VaryError
    from hciplan.simulator import montecarlo, plots

    if tornado is not None:
        if sensitivity_runs is None:
            raise click.UsageError("--tornado draws the sensitivity: add --sensitivity RUNS")
        from hciplan.compare import tornado as chart

        try:
            chart.check_target(tornado)
        except plots.PlotError as error:
            raise click.UsageError(str(error)) from None
    window_minutes, ignore_windows = _window_option(window)
    options = Options(runs, seed, jobs, scheduler, scenario_name, fails, window_minutes, ignore_windows, confidence,
                      sensitivity_runs)
    try:
        with _ProgressBar(0) as advance:
            document = compare(files, varies, options, advance)
        if tornado is not None:
            chart.write_tornado(tornado, document["sensitivity"])
    except (CompareError, VaryError) as error:
        if error.result is not None:
            print_diagnostics([error.result.check], list(error.result.diagnostics), "text", summary_line=False)
        click.echo(f"hciplan: {error.message}", err=True)
        return EXIT_USAGE if error.usage else EXIT_ERRORS  # a wrong command line, or a file/variant with errors
    except (montecarlo.SimulationError, plots.PlotError) as error:
        click.echo(f"hciplan: {error}", err=True)
        return EXIT_USAGE
    click.echo(dumps(document) if output_format == "json" else compare_text(document), nl=False)
    return EXIT_OK
