"""The `hciplan` command: a thin click layer over the library.

Exit codes: 0 no errors (warnings allowed), 1 errors found in the input,
2 usage error (bad option, unreadable file), 70 internal error.

This module holds the group, the helpers the commands share and `main`; each
command lives in a module of `hciplan.commands` that is imported only when
that command runs (click's lazy-loading pattern: `_LazyGroup`), so
`hciplan check` builds one click command, not fourteen, and `hciplan --help`
none (it lists them from the table `COMMANDS`, whose one-line helps
tests/test_startup.py holds to each command's own).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hciplan import __version__

if TYPE_CHECKING:  # imported by the commands that use them: start-up stays near the floor (bench_startup.py)
    from hciplan.compiler.compile import CompileResult
    from hciplan.compiler.diagnostics import Diagnostic
    from hciplan.compiler.pipeline import CheckResult

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl+C

# name -> (module of hciplan.commands, the click command in it, its short help as `--help` lists it).
# The short help is the command's own (its docstring's first sentence, Command.get_short_help_str);
# tests/test_startup.py fails when they drift apart, so edit both.
COMMANDS = {
    "calibrate": ("calibrate", "calibrate_command",
                  "Learn the timing block from past runs: durations per duration model and the shared spreads."),
    "check": ("check", "check", "Check .hciplan FILES and report every problem found in them."),
    "compare": ("simulate", "compare_command",
                "Simulate plan variants with common random numbers and report their paired differences."),
    "diff": ("diff", "diff_command", "What changed from the plan of OLD to the plan of NEW (each a .hciplan file "
             "or `plan --format json` output)."),
    "discover": ("inventory", "discover",
                 "Write the read-only PowerShell script that inventories a cluster for `hciplan import`."),
    "emit": ("emit", "emit",
             "Write the output of a backend for FILE into a directory: by default Invoke-HciUpgrade.ps1."),
    "explain": ("explain", "explain", "Print the long explanation of a diagnostic CODE (for example HCI305)."),
    "fleet": ("fleet", "fleet", "Plan the upgrade campaign of many clusters from a fleet file (docs/fleet.md)."),
    "fmt": ("fmt", "fmt_command", "Print .hciplan FILES in the canonical layout (comments kept)."),
    "graph": ("plan", "graph", "Print the step DAG of FILE as Graphviz dot or Mermaid, grouped by phase."),
    "import": ("inventory", "import_command",
               "Turn an INVENTORY (JSON from the discovery script) into a formatted .hciplan file."),
    "plan": ("plan", "plan", "Show what the upgrade of FILE will do: phases, steps, order, points of no return."),
    "progress": ("progress", "progress",
                 "Where the upgrade of FILE stands, from the script's JOURNAL, and what is left of the night."),
    "report": ("report", "report_command", "Write one self-contained HTML page for the change board: plan, "
               "windows, simulation, charts, steps."),
    "simulate": ("simulate", "simulate",
                 "Dry-run the plan of FILE many times: durations, the chance to fit the window, failures."),
}

FORMAT = click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                      show_default=True, help="Output format.")


_COLOUR = {"choice": "auto"}  # the global --color option, set by the group before any command runs


def use_colour() -> bool:
    """`--color`, then NO_COLOR (https://no-color.org), then FORCE_COLOR, then whether stdout is a terminal."""
    from hciplan.terminal import colour_wanted

    return colour_wanted(_COLOUR["choice"], sys.stdout)


def echo_report(text: str) -> None:
    """A `plan` or `simulate` report on stdout: wrapped to the terminal with hanging indents (terminal.py)."""
    from hciplan.terminal import layout, width_for

    colour = use_colour()
    click.echo(layout(text, width_for(sys.stdout), colour), nl=False, color=colour)


def _style():
    if use_colour():
        return click.style
    return lambda text, **_: text


def load_source(path: str, name: str | None = None) -> CheckResult:
    """hciplan.compiler.pipeline.load_source, imported on first use: `--help` does not load the parser."""
    from hciplan.compiler import pipeline

    return pipeline.load_source(path, name)


def read_checked(paths: tuple[str, ...], shared: bool = False) -> list[CheckResult]:
    """Each file read and checked; `shared`: diagnostics name it as documents do (hciplan.files.shared_name)."""
    from hciplan.files import shared_name

    results = []
    for path in paths:
        try:
            results.append(load_source(path, shared_name(path) if shared else None))
        except OSError as error:
            raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    return results


def print_diagnostics(results: list[CheckResult], diagnostics: list[Diagnostic], output_format: str,
                      summary_line: bool = True) -> None:
    """Print diagnostics (text to stdout with a summary line, or the JSON document)."""
    from hciplan.compiler.diagnostics import Severity
    from hciplan.compiler.render import render_json, render_text

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
    """The plan of FILE for the commands that show or emit one (a file without an upgrade is HCI112).

    The plan's diagnostics name the file by its `shared_name`, so the plan JSON, the summary and the
    documents emitted from it are the same bytes however the path was typed, and hold no absolute path.
    """
    from hciplan.compiler.compile import compile_checked

    return compile_checked(read_checked((path,), shared=True)[0], need_plan=True)


def require_plan(result: CompileResult) -> None:
    """Stop with the diagnostics on stderr when there is no plan to show (never emit a plan with errors)."""
    if result.ok:
        return
    print_diagnostics([result.check], list(result.diagnostics), "text", summary_line=False)
    click.echo("no plan: fix the errors above", err=True)
    sys.exit(EXIT_ERRORS)


def _read_bytes(path: str, limit: int | None = None) -> bytes:
    """The bytes of an input file, refused before reading past `limit` (hciplan.files.read_at_most;
    default MAX_JSON_BYTES, the one limit of hciplan.files)."""
    from hciplan.files import MAX_JSON_BYTES, TooLarge, read_at_most

    try:
        return read_at_most(path, MAX_JSON_BYTES if limit is None else limit)
    except TooLarge as error:
        raise click.UsageError(f"{error}: is this the right file?") from None
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None


def _write_output(path: str, text: str, force: bool, *, in_place: bool = False) -> None:
    """Write a command's output file through the one safe writer (hciplan.files); an existing file needs --force.

    A symbolic link is written through only with --force, or when the command
    rewrites in place a file it was given to read (fmt --write, --into): then
    the link is the user's own way to name that file.
    """
    from hciplan.files import WriteError, write_text

    try:
        write_text(path, text, overwrite=force, links="follow" if force or in_place else "refuse")
    except FileExistsError:
        raise click.UsageError(f"{path} already exists; pass --force to overwrite it") from None
    except WriteError as error:
        raise click.UsageError(str(error)) from None


def _read_validation(path: str, command: str):
    """The results of an export, or None after printing why they cannot be read (every error, by JSON path).

    Shared by `check --validation` and `import --validation` (docs/validation.md)."""
    from hciplan.discovery.validation import MAX_ERRORS, read_validation

    read = read_validation(_read_bytes(path))
    if read.ok:
        return read.results
    for error in read.errors[:MAX_ERRORS]:
        click.echo(f"{path}: {error}", err=True)
    if len(read.errors) > MAX_ERRORS:
        click.echo(f"{path}: ... and {len(read.errors) - MAX_ERRORS} more", err=True)
    click.echo(f"hciplan {command}: {path} is not an Environment Checker export hciplan can read "
               "(docs/validation.md lists the accepted shapes); nothing was done", err=True)
    return None


def write_outputs(directory: Path, files: dict[str, str], force: bool) -> list[tuple[Path, str]]:
    """Write every file atomically, or none of them (hciplan.files.write_folder).

    A file that exists with the same bytes is left alone ("unchanged"); one
    with different bytes, or a symbolic link, is replaced only with `force`
    (the link itself: nothing is written outside the folder). The check covers
    all files before the first write, so a refusal leaves the directory untouched.
    """
    from hciplan.files import WriteError, write_folder

    try:
        return write_folder(directory, {name: text.encode("utf-8") for name, text in files.items()}, force=force)
    except FileExistsError as error:
        raise click.UsageError(f"{error}: review it, then rerun with --force to replace it (or choose another "
                               "-o directory)") from None
    except WriteError as error:
        raise click.UsageError(str(error)) from None


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


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use, from the table COMMANDS.

    click's documented lazy-loading pattern (`list_commands`/`get_command`):
    running a command imports its module alone, so its siblings' options are
    never built; `--help` writes the command list from the table without
    importing any of them; completion and `hciplan CMD --help` import the one
    they need, and behave as before.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _ = entry
        return getattr(import_module(f"hciplan.commands.{module}"), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's Group.format_commands with the short helps of the table: the same rows, no import.

        A bare Command with the table's text shortens it exactly as the real
        command shortens its docstring (Command.get_short_help_str).
        """
        from gettext import gettext as _  # as click translates its own headings

        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)) for name in names]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """As click's, with the "Did you mean" hint drawn from the table (click draws it from `self.commands`,
        which stays empty here)."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as error:
            raise click.exceptions.NoSuchCommand(error.command_name, possibilities=COMMANDS, ctx=ctx) from None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hciplan")
@click.option("--color", "--colour", "colour", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour the output: auto colours a terminal only, and follows NO_COLOR "
              "(it wins) and FORCE_COLOR.")
def cli(colour: str) -> None:
    """Plan, check, simulate and script an Azure Stack HCI 22H2 -> 23H2 upgrade."""
    _COLOUR["choice"] = colour


def main() -> None:
    try:
        # not standalone: click's own mode ends a Ctrl+C with "Aborted!" and exit 1, which here means "errors found"
        code = cli.main(prog_name="hciplan", standalone_mode=False)
    except click.exceptions.Abort:  # click's form of KeyboardInterrupt
        click.echo("hciplan: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except SystemExit:
        raise
    except Exception as error:  # the last line of defence: never show a traceback to a user
        if os.environ.get("HCIPLAN_DEBUG"):
            raise
        click.echo(f"hciplan: internal error: {type(error).__name__}: {error}\n"
                   "This is a bug in hciplan; set HCIPLAN_DEBUG=1 to see the traceback and please report it.",
                   err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
