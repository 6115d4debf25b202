"""Benchmark: start-up time of `hciplan` commands as a ratio to the import floor.

    python bench/bench_startup.py [--repeat 15] [--imports] [--stages] [--instructions] [--baseline OTHER_CHECKOUT]

The floor is `python -c 'import lark, click'`, as issue 14 set it: the two
libraries every command needed then (the parser and the command line). Since
the fifth pass no command imports lark (the parser is lark's stand-alone one,
hciplan/grammar/standalone.py), so part of what a command saves against the
floor is lark's own import; the floor stays, to keep the figures comparable
from pass to pass. Each command runs as a fresh
subprocess, as a user starts it (the console script's body: `from hciplan.cli
import main; main()`), and the best of `--repeat` wall-clock times is kept (the commands take
turns in each round), so
the noise of a shared machine only ever makes a figure worse, never better; the
best CPU time (user + system, from getrusage) is printed beside it, being far
less sensitive to other jobs on a loaded machine.

Bytecode is written to a private cache (PYTHONPYCACHEPREFIX, a temporary
folder) and warmed before timing: an installed package has its `.pyc` files,
so compiling sources on every run (PYTHONDONTWRITEBYTECODE) would measure the
compiler, not the start-up. hciplan's own cache (the records' compiled
methods, hciplan/cache.py) goes to a private folder too
(HCIPLAN_CACHE_DIR), filled by the same warm-up run, as a user's is after
their first command. `--stages` also times, in one process, each stage of
`check examples/two-node.hciplan` after the interpreter's start (importing
click, hciplan.cli, the check command, the compiler; reading, parsing and
checking; compiling and proving; printing), the best of `--repeat` per stage.
`--instructions` also counts, once per command, the instructions it executes
under valgrind (cachegrind without cache simulation): a count that does not
move with the load of a shared machine, where the times do. `--imports` also lists, per command, the
third-party top-level packages it imported (from `python -X importtime`),
which is how the lazy imports are checked by eye. `--baseline` also times the
same commands from another checkout (e.g. a worktree of the main branch) in
the same rounds, so before and after come from one session under one load. Figures go to
docs/performance.md ("Start-up"); this is not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOOR = ("import lark, click", ())
RUN_CLI = "import sys; from hciplan.cli import main; sys.argv[0] = 'hciplan'; sys.exit(main())"
COMMANDS = {
    "import lark, click (floor)": FLOOR,
    "hciplan --help": (RUN_CLI, ("--help",)),
    "hciplan check examples/two-node.hciplan": (RUN_CLI, ("check", "examples/two-node.hciplan")),
    "hciplan check examples/four-node.hciplan": (RUN_CLI, ("check", "examples/four-node.hciplan")),
    "hciplan plan examples/two-node.hciplan": (RUN_CLI, ("plan", "examples/two-node.hciplan")),
}
WATCHED = ("networkx", "simpy", "jinja2", "matplotlib", "numpy", "rich", "scipy", "lark", "click")


def command_line(code: str, arguments: tuple[str, ...], *flags: str) -> list[str]:
    return [sys.executable, *flags, "-c", code, *arguments]


def environment(cache: str, root: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    env["HCIPLAN_CACHE_DIR"] = os.path.join(cache, "hciplan-cache")
    env["PYTHONPATH"] = str(root)
    env["NO_COLOR"] = "1"
    return env


def child_cpu() -> float:
    """User + system CPU seconds of the waited-for children so far (0 where there is no getrusage)."""
    try:
        import resource
    except ImportError:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_times(trees: dict[str, tuple[Path, dict[str, str]]], repeat: int) -> dict[tuple[str, str, str], float]:
    """Best wall-clock and best CPU time per (tree, command); the commands take turns in each round, so a
    burst of load on the shared machine falls on all of them alike rather than on whichever ran during it.
    CPU time (user + system of the child) moves far less with the load of other jobs than wall-clock."""
    best = {(tree, label, kind): float("inf") for tree in trees for label in COMMANDS for kind in ("wall", "cpu")}
    for _ in range(repeat):
        for tree, (root, env) in trees.items():
            for label, (code, arguments) in COMMANDS.items():
                cpu, start = child_cpu(), time.perf_counter()
                subprocess.run(command_line(code, arguments), cwd=root, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
                wall, cpu = time.perf_counter() - start, child_cpu() - cpu
                best[tree, label, "wall"] = min(best[tree, label, "wall"], wall)
                best[tree, label, "cpu"] = min(best[tree, label, "cpu"], cpu)
    return best


def imported_packages(argv_flags: list[str], env: dict[str, str]) -> list[str]:
    """The watched third-party top-level packages a command imported (parsed from -X importtime on stderr)."""
    run = subprocess.run(argv_flags, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip().split(".")[0]
            if name in WATCHED:
                names.add(name)
    return sorted(names)


# `--stages`: where `check`'s time goes, in one process, stage by stage (each stage's best over the repeats).
STAGES = ("import click", "import hciplan.cli", "the check command", "import the compiler",
          "read, parse, check", "compile, prove", "print")
STAGE_CODE = """
import contextlib, io, sys, time
marks = [time.perf_counter()]
import click  # not lark: check no longer imports it (hciplan/grammar/standalone.py); a tree that does pays it below
marks.append(time.perf_counter())
import hciplan.cli as cli_module
marks.append(time.perf_counter())
cli_module.cli.get_command(click.Context(cli_module.cli), "check")
marks.append(time.perf_counter())
from hciplan.compiler import compile as compiler, pipeline
marks.append(time.perf_counter())
checked = pipeline.load_source(sys.argv[1])
marks.append(time.perf_counter())
compiled = compiler.compile_checked(checked, need_plan=True)
marks.append(time.perf_counter())
with contextlib.redirect_stdout(io.StringIO()):
    cli_module.print_diagnostics([checked], list(compiled.diagnostics), "text")
marks.append(time.perf_counter())
print(*(b - a for a, b in zip(marks, marks[1:])))
"""


def stage_times(trees: dict[str, tuple[Path, dict[str, str]]], repeat: int, path: str) -> dict[str, list[float]]:
    """Best seconds per stage of `check PATH` in one process after the interpreter's start (STAGES), per tree."""
    best = {tree: [float("inf")] * len(STAGES) for tree in trees}
    for _ in range(repeat):
        for tree, (root, env) in trees.items():
            run = subprocess.run([sys.executable, "-c", STAGE_CODE, path], cwd=root, env=env, capture_output=True,
                                 text=True, check=True)
            best[tree] = [min(b, float(t)) for b, t in zip(best[tree], run.stdout.split())]
    return best


def instructions(root: Path, env: dict[str, str], code: str, arguments: tuple[str, ...]) -> int:
    """Instructions one run executes, counted by valgrind (cachegrind, no cache simulation): the same count
    whatever the load of the machine, unlike any time (it weighs an instruction of bytecode loading and one of
    the compiler's arithmetic alike, so its ratios are not the time's; both are shown)."""
    run = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                          *command_line(code, arguments)], cwd=root, env=env, capture_output=True, text=True,
                         check=False)
    counts = [line.rsplit(None, 1)[-1] for line in run.stderr.splitlines() if "I   refs:" in line]
    if not counts:
        raise SystemExit(f"valgrind counted nothing (is it installed?): {run.stderr[-300:]}")
    return int(counts[0].replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--imports", action="store_true", help="also list the packages each command imports")
    parser.add_argument("--baseline", type=Path, help="another checkout to time in the same rounds (before)")
    parser.add_argument("--stages", action="store_true", help="also time the stages of check in one process")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each command's instructions once under valgrind (slow; load-independent)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hciplan-pyc-") as cache:
        trees = {"this": (ROOT, environment(cache, ROOT))}
        if args.baseline:
            trees = {"baseline": (args.baseline.resolve(), environment(cache, args.baseline.resolve())), **trees}
        for root, env in trees.values():  # warm the bytecode cache and the file system
            for code, arguments in COMMANDS.values():
                subprocess.run(command_line(code, arguments), cwd=root, env=env, capture_output=True, check=False)
        times = best_times(trees, args.repeat)
        for tree in trees:
            floor = {kind: times[tree, "import lark, click (floor)", kind] for kind in ("wall", "cpu")}
            print(f"{tree + ':':<44} {'wall ms':>8} {'x floor':>8} {'cpu ms':>8} {'x floor':>8}")
            for label in COMMANDS:
                wall, cpu = times[tree, label, "wall"], times[tree, label, "cpu"]
                print(f"{label:<44} {wall * 1000:>8.1f} {wall / floor['wall']:>8.2f} "
                      f"{cpu * 1000:>8.1f} {cpu / floor['cpu'] if floor['cpu'] else 0:>8.2f}")
        if args.stages:
            stages = stage_times(trees, args.repeat, "examples/two-node.hciplan")
            print(f"\n{'check examples/two-node.hciplan, in-process:':<44}" + "".join(f" {t:>9}" for t in trees))
            for k, stage in enumerate(STAGES):
                print(f"{stage:<44}" + "".join(f" {stages[t][k] * 1000:>6.1f} ms" for t in trees))
        if args.instructions:
            print()
            for tree, (root, env) in trees.items():
                counts = {label: instructions(root, env, code, arguments) for label, (code, arguments) in COMMANDS.items()}
                print(f"{tree + ':':<44} {'instructions':>14} {'x floor':>8}")
                for label, count in counts.items():
                    print(f"{label:<44} {count:>14,} {count / counts['import lark, click (floor)']:>8.2f}")
        if args.imports:
            env = trees["this"][1]
            print()
            for label, (code, arguments) in COMMANDS.items():
                packages = imported_packages(command_line(code, arguments, "-X", "importtime"), env)
                print(f"{label:<44} {', '.join(packages)}")

if __name__ == "__main__":
    main()
