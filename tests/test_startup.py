"""Start-up: what the CLI imports for `--help` and `check`, and the in-house DAG walks that replace networkx there.

Not timed (the figures are bench/bench_startup.py's, in docs/performance.md): these tests hold the
property the figures rest on, that the heavy libraries are imported only by the commands that use them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import importlib
import pkgutil

import click
import networkx as nx
import pytest
from click.testing import CliRunner

from hciplan.backends import BACKENDS, MODULES
from hciplan.cli import COMMANDS, cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.compiler.plan import Step, order_steps

from helpers import INVALID_EXAMPLES, ROOT, VALID_EXAMPLES

HEAVY = ("networkx", "simpy", "jinja2", "matplotlib", "numpy", "rich")
# Standard-library modules `check` used to import for work it rarely or never does (docs/performance.md):
# difflib for a typo's hint, secrets for a write's temporary name, importlib.resources (and zipfile) to read
# the grammar, click.shell_completion to define the completers, statistics (with fractions and decimal) for
# NormalDist's quantile function alone; lark itself (its grammar compiler and what that imports: the parser is
# hciplan/grammar/standalone.py), logging and pickle (lark's logger and table cache, cut from the stand-alone
# parser), hashlib and json (the plan's fingerprint, which check never shows; json also for --format json
# alone), shutil (a terminal's width), random (unitfit seeds the Mersenne Twister through _random). The probe
# reports them beside the heavy libraries.
NOT_FOR_CHECK = ("difflib", "secrets", "importlib.resources", "zipfile", "click.shell_completion", "statistics",
                 "fractions", "decimal", "lark", "logging", "pickle", "hashlib", "json", "shutil", "random")
MARK = "LOADED:"
# Runs the CLI as the console script does, then (at exit, after the command's SystemExit) prints which
# heavy top-level packages were imported.
PROBE = (
    "import atexit, sys\n"
    f"HEAVY = {set(HEAVY)!r}\n"
    f"atexit.register(lambda: print({MARK!r}, sorted({{m.split('.')[0] for m in sys.modules}} & HEAVY),"
    " file=sys.stderr))\n"
    f"atexit.register(lambda: print('STDLIB:', sorted(set(sys.modules) & {set(NOT_FOR_CHECK)!r}), file=sys.stderr))\n"
    "atexit.register(lambda: print('HCIPLAN:', sorted(m for m in sys.modules if m.startswith('hciplan.')),"
    " file=sys.stderr))\n"
    "from hciplan.cli import main\n"
    "sys.argv[0] = 'hciplan'\n"
    "main()\n"
)


def loaded_by(*arguments: str) -> tuple[list[str], subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("COLUMNS", None)  # not wrapped: the output is a pipe, as in a script
    run = subprocess.run([sys.executable, "-c", PROBE, *arguments], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    lines = [line for line in run.stderr.splitlines() if line.startswith(MARK)]
    assert len(lines) == 1, run.stderr
    return eval(lines[0][len(MARK):]), run  # a list literal printed by the probe above


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = ("import sys; import hciplan.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'networkx','simpy','jinja2','matplotlib','numpy'}))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_help_loads_no_heavy_library() -> None:
    loaded, run = loaded_by("--help")
    assert run.returncode == 0 and "Usage: hciplan" in run.stdout
    assert loaded == []


@pytest.mark.parametrize("path", [*VALID_EXAMPLES, INVALID_EXAMPLES[0]], ids=lambda p: p.name)
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_check_loads_no_heavy_library(path, output_format) -> None:
    loaded, run = loaded_by("check", str(path.relative_to(ROOT)), "--format", output_format)
    assert run.returncode in (0, 1), run.stderr  # clean or errors found, never a crash
    assert loaded == []


def stdlib_loaded(run: subprocess.CompletedProcess) -> list[str]:
    lines = [line for line in run.stderr.splitlines() if line.startswith("STDLIB:")]
    assert len(lines) == 1, run.stderr
    return eval(lines[0][len("STDLIB:"):])  # a list literal printed by the probe above


@pytest.mark.parametrize("path", [VALID_EXAMPLES[0], INVALID_EXAMPLES[0]], ids=lambda p: p.name)
def test_check_loads_no_standard_module_it_does_not_use(path) -> None:
    _, run = loaded_by("check", str(path.relative_to(ROOT)))
    assert run.returncode in (0, 1), run.stderr
    assert stdlib_loaded(run) == []


def hciplan_loaded(run: subprocess.CompletedProcess) -> list[str]:
    lines = [line for line in run.stderr.splitlines() if line.startswith("HCIPLAN:")]
    assert len(lines) == 1, run.stderr
    return eval(lines[0][len("HCIPLAN:"):])  # a list literal printed by the probe above


# What only other commands use: their command modules and the packages behind them.
NOT_FOR_CHECK_HCIPLAN = ("hciplan.simulator", "hciplan.compare", "hciplan.progress", "hciplan.calibration",
                         "hciplan.discovery", "hciplan.fmt", "hciplan.journal", "hciplan.completion",
                         "hciplan.backends.", "hciplan.fleet")


@pytest.mark.parametrize("path", [VALID_EXAMPLES[0], INVALID_EXAMPLES[0]], ids=lambda p: p.name)
def test_check_imports_its_own_command_module_only(path) -> None:
    """The CLI imports the module of the command that runs (hciplan.cli.COMMANDS), not those of simulate,
    emit, report, compare...; nor the packages only they use."""
    _, run = loaded_by("check", str(path.relative_to(ROOT)))
    assert run.returncode in (0, 1), run.stderr
    loaded = hciplan_loaded(run)
    assert [m for m in loaded if m.startswith("hciplan.commands.")] == ["hciplan.commands.check"]
    assert [m for m in loaded if m.startswith(NOT_FOR_CHECK_HCIPLAN)] == []


def test_a_fleet_file_is_still_checked_as_a_fleet() -> None:
    """The probe can fail: `check` imports hciplan.fleet for a file holding the word `fleet`, and checks the
    fleet (its clusters too), while a cluster file does not import it (above)."""
    _, run = loaded_by("check", "examples/fleet/retail.hciplan")
    assert run.returncode in (0, 1), run.stderr
    assert "hciplan.fleet.load" in hciplan_loaded(run)
    assert "files checked" in run.stdout, run.stdout


def test_help_imports_no_command_module_and_no_compiler() -> None:
    """`--help` lists every command from the table: no command is built, nothing of the compiler is read."""
    _, run = loaded_by("--help")
    assert run.returncode == 0 and all(f"  {name} " in run.stdout for name in COMMANDS), run.stdout
    loaded = hciplan_loaded(run)
    assert [m for m in loaded if m.startswith(("hciplan.commands.", "hciplan.compiler", "hciplan.files"))] == []


def test_each_command_imports_the_module_the_table_names() -> None:
    """The probe can fail: `simulate --help` imports its module, and the table names it."""
    _, run = loaded_by("simulate", "--help")
    assert run.returncode == 0 and "Usage: hciplan simulate" in run.stdout
    assert [m for m in hciplan_loaded(run) if m.startswith("hciplan.commands.")] == [
        f"hciplan.commands.{COMMANDS['simulate'][0]}"]


def every_command_object() -> dict[str, click.Command]:
    """Every click command defined in hciplan.commands, by its name, found by importing every module there."""
    import hciplan.commands

    found = {}
    for info in pkgutil.iter_modules(hciplan.commands.__path__):
        module = importlib.import_module(f"hciplan.commands.{info.name}")
        nested = {id(c) for value in vars(module).values() if isinstance(value, click.Group)
                  for c in value.commands.values()}  # a group's subcommands (`fleet plan`) are not top-level
        for value in vars(module).values():
            if isinstance(value, click.Command) and value.callback.__module__ == module.__name__ \
                    and id(value) not in nested:  # defined here
                assert value.name not in found, value.name
                found[value.name] = value
    return found


def eager_group() -> click.Group:
    """The group as click builds it by default, with every command added: what the lazy one must equal."""
    return click.Group(cli.name, commands=every_command_object(), params=cli.params, callback=cli.callback,
                       help=cli.help, context_settings=cli.context_settings)


def test_the_command_table_names_every_command_with_its_own_short_help() -> None:
    commands = every_command_object()
    assert sorted(commands) == sorted(COMMANDS)  # a command defined without a table entry (or the reverse) fails
    ctx = click.Context(cli)
    for name, (module, attribute, short_help) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is commands[name] and command.callback.__module__ == f"hciplan.commands.{module}"
        assert getattr(importlib.import_module(f"hciplan.commands.{module}"), attribute) is command
        assert short_help == command.get_short_help_str(limit=10**6), name  # the docstring's first sentence


@pytest.mark.parametrize("width", [30, 40, 60, 80, 100, 200])
def test_help_lists_the_commands_as_an_eager_group_does(width) -> None:
    """The table's short helps shorten as the commands' own at every terminal width: --help is byte-identical."""
    eager = eager_group()
    for args in (["--help"], []):
        lazy_run = CliRunner().invoke(cli, args, terminal_width=width)
        eager_run = CliRunner().invoke(eager, args, terminal_width=width)
        assert (lazy_run.exit_code, lazy_run.output) == (eager_run.exit_code, eager_run.output)
        assert "Commands:" in lazy_run.output


@pytest.mark.parametrize("typed", ["chek", "simulat", "nosuch", "--colr"])
def test_a_mistyped_command_gets_the_same_hint(typed) -> None:
    """click draws "Did you mean" from the group's `commands`, which the lazy group leaves empty."""
    lazy_run, eager_run = (CliRunner().invoke(group, [typed, "x"]) for group in (cli, eager_group()))
    assert (lazy_run.exit_code, lazy_run.output) == (eager_run.exit_code, eager_run.output)
    if typed in ("chek", "simulat"):
        assert "Did you mean" in lazy_run.output


def test_completion_offers_every_command_and_option_as_before() -> None:
    """Shell completion resolves commands through the lazy group: the same words and helps as an eager one."""
    from click.shell_completion import ShellComplete

    def words(group, args, incomplete):
        return [(item.type, item.value, item.help) for item in
                ShellComplete(group, {}, "hciplan", "_HCIPLAN_COMPLETE").get_completions(args, incomplete)]

    eager = eager_group()
    cases = [([], ""), ([], "c"), ([], "-"), ([], "--")] + [([name], "-") for name in COMMANDS]
    cases += [([name], "--") for name in COMMANDS]
    for args, incomplete in cases:
        assert words(cli, args, incomplete) == words(eager, args, incomplete), (args, incomplete)
    assert [value for _, value, _ in words(cli, [], "")] == sorted(COMMANDS)


def test_the_normal_quantile_is_statistics_own() -> None:
    """durations.inv_normal (check's path, without importing statistics) gives NormalDist's floats and errors."""
    import random
    import statistics

    from hciplan.compiler.durations import inv_normal

    rng = random.Random(14)
    for p in [rng.random() for _ in range(2000)] + [5e-324, 1e-300, 1e-9, 0.5, 0.9, 0.999, 1 - 2**-53]:
        if 0.0 < p < 1.0:
            assert inv_normal(p) == statistics.NormalDist().inv_cdf(p), p
    for p in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(statistics.StatisticsError, match="0.0 < p < 1.0"):
            inv_normal(p)


def test_a_typo_still_gets_its_hint() -> None:
    """difflib is imported when a hint needs it (the probe sees it, and the hint is there)."""
    loaded, run = loaded_by("check", "examples/invalid/typos.hciplan")
    assert run.returncode == 1 and "did you mean `witness`?" in run.stdout
    assert "difflib" in stdlib_loaded(run)


def test_the_commands_that_need_them_still_load_them() -> None:
    """The probe can fail: a command that uses a library still imports it (here simulate, simpy)."""
    loaded, run = loaded_by("simulate", "examples/two-node.hciplan", "--runs", "3", "--jobs", "1")
    assert run.returncode == 0, run.stderr
    assert "simpy" in loaded


def test_every_registered_backend_is_named_as_its_module() -> None:
    assert list(BACKENDS) == list(MODULES) and len(BACKENDS) == len(MODULES)
    for name in BACKENDS:
        assert BACKENDS[name].NAME == name
        assert callable(BACKENDS[name].render)
    with pytest.raises(KeyError):
        BACKENDS["no-such-backend"]


def example_plans():
    for path in VALID_EXAMPLES:
        result = compile_checked(load_source(path), need_plan=True)
        assert result.plan is not None, path
        yield path.name, result.plan


@pytest.mark.parametrize("name,plan", list(example_plans()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_dag_walks_agree_with_networkx(name, plan) -> None:
    graph = nx.DiGraph()
    for s in plan.steps:
        graph.add_node(s.id)
        for p in s.after:
            graph.add_edge(p, s.id)
    shuffled = sorted(plan.steps, key=lambda s: s.id[::-1])  # another input order gives the same order
    expected = list(nx.lexicographical_topological_sort(graph, key=lambda n: n))
    assert [s.id for s in order_steps(shuffled)] == expected == [s.id for s in plan.steps]
    for s in plan.steps:
        assert plan.ancestors(s.id) == nx.ancestors(graph, s.id)
        assert set(plan.successors(s.id)) == set(graph.successors(s.id))
    assert set(plan.graph.edges) == set(graph.edges) and set(plan.graph) == set(graph)


def test_a_cycle_is_refused() -> None:
    steps = [Step("a", "k", "P0", after=("b",)), Step("b", "k", "P0", after=("a",)), Step("c", "k", "P0")]
    with pytest.raises(ValueError, match="cycle"):
        order_steps(steps)


def test_the_package_api_is_imported_on_first_use() -> None:
    import hciplan
    from hciplan.compiler import pipeline

    assert hciplan.check_text is pipeline.check_text and hciplan.load_source is pipeline.load_source
    assert hciplan.CheckResult is pipeline.CheckResult and hciplan.check_source is pipeline.check_source
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        hciplan.nothing  # noqa: B018


def test_explain_finds_every_code_in_a_fresh_process() -> None:
    """The registry is filled by importing hciplan.compiler.codes, which --help no longer does by the way."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    run = subprocess.run([sys.executable, "-m", "hciplan", "explain", "hci305"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("HCI305 (")


def test_diff_loads_no_heavy_library() -> None:
    """`diff` walks the plan documents' `after` lists itself: two plans compare without networkx."""
    two, four = (f"examples/{name}.hciplan" for name in ("two-node", "four-node"))
    loaded, run = loaded_by("diff", two, four)
    assert run.returncode in (0, 1), run.stderr
    assert "examples/two-node.hciplan -> examples/four-node.hciplan: " in run.stdout, run.stdout
    assert loaded == []


def run_check(cache_dir, *extra_env: tuple[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "HCIPLAN_CACHE_DIR": str(cache_dir),
           **dict(extra_env)}
    return subprocess.run([sys.executable, "-m", "hciplan", "check", "examples/two-node.hciplan"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_cache_is_filled_once_and_changes_no_output(tmp_path) -> None:
    """The first process fills the cache (the records' code: the parser's tables are in its module); the next
    reads it; same bytes out, and the same as with no cache at all."""
    folder = tmp_path / "cache"
    first = run_check(folder)
    entries = sorted(p.name for p in folder.iterdir())
    assert [name.split("-")[0] for name in entries] == ["records"], entries
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    second = run_check(folder)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps  # nothing new: nothing written
    none = run_check("")  # HCIPLAN_CACHE_DIR empty: no cache
    assert first.returncode == second.returncode == none.returncode == 0, first.stderr
    assert first.stdout == second.stdout == none.stdout and first.stderr == second.stderr == none.stderr == ""


def test_an_unusable_cache_folder_changes_nothing(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = run_check(blocker / "cache")  # cannot be created
    assert run.returncode == 0 and run.stderr == "" and "0 errors" in run.stdout


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership and modes")
def test_a_cache_entry_others_may_write_is_not_read(tmp_path, monkeypatch) -> None:
    from hciplan import cache

    monkeypatch.setenv(cache.ENVIRONMENT, str(tmp_path))
    assert cache.store("entry", b"data") and cache.load("entry") == b"data"
    assert (tmp_path / "entry").stat().st_mode & 0o777 == 0o600 and not list(tmp_path.glob(".*.tmp"))
    (tmp_path / "entry").chmod(0o620)
    assert cache.load("entry") is None
    monkeypatch.setenv(cache.ENVIRONMENT, "")
    assert cache.load("entry") is None and not cache.store("entry", b"data")


def test_no_hciplan_class_on_checks_path_is_built_by_dataclasses() -> None:
    """`record` builds them (one exec, cached code); a class `record` hands to `dataclasses` (a base class,
    ClassVar...) costs an exec per method in every process, as unitfit's three distributions did. lark's code
    in the stand-alone parser is left as lark wrote it: its one dataclass (TextSlice) costs 0.3 ms."""
    code = ("import dataclasses, sys\n"
            "built = []\n"
            "original = dataclasses._process_class\n"
            "def spy(cls, *args, **kwargs):\n"
            "    built.append(f'{cls.__module__}.{cls.__qualname__}')\n"
            "    return original(cls, *args, **kwargs)\n"
            "dataclasses._process_class = spy\n"
            "import hciplan.cli, hciplan.commands.check, hciplan.compiler.compile, hciplan.compiler.render\n"
            "print(sorted(name for name in built if name.startswith('hciplan.')\n"
            "             and not name.startswith('hciplan.grammar.standalone.')))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_a_cluster_file_mentioning_fleet_is_checked_as_before(tmp_path) -> None:
    """The word `fleet` in a cluster file (a comment) makes `check` ask hciplan.fleet, which says no."""
    source = (ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8")
    path = tmp_path / "two-node.hciplan"
    path.write_text("# not a fleet file\n" + source, encoding="utf-8")
    loaded, run = loaded_by("check", str(path))
    assert run.returncode == 0 and "1 file checked: 0 errors, 1 warning" in run.stdout, run.stdout + run.stderr
    assert "hciplan.fleet.load" in hciplan_loaded(run)
