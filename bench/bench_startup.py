"""Benchmark: start-up time of `hciplan` commands as a ratio to the import floor.

    python bench/bench_startup.py [--repeat 15] [--imports]

The floor is `python -c 'import lark, click'`: the two libraries every
command needs (the parser and the command line). Each command runs as a fresh
subprocess, as a user starts it (the console script's body: `from hciplan.cli
import main; main()`), and the best of `--repeat` wall-clock times is kept (the commands take
turns in each round), so
the noise of a shared machine only ever makes a figure worse, never better.

Bytecode is written to a private cache (PYTHONPYCACHEPREFIX, a temporary
folder) and warmed before timing: an installed package has its `.pyc` files,
so compiling sources on every run (PYTHONDONTWRITEBYTECODE) would measure the
compiler, not the start-up. `--imports` also lists, per command, the
third-party top-level packages it imported (from `python -X importtime`),
which is how the lazy imports are checked by eye. Figures go to
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
}
WATCHED = ("networkx", "simpy", "jinja2", "matplotlib", "numpy", "rich", "scipy", "lark", "click")


def command_line(code: str, arguments: tuple[str, ...], *flags: str) -> list[str]:
    return [sys.executable, *flags, "-c", code, *arguments]


def environment(cache: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = str(ROOT)
    env["NO_COLOR"] = "1"
    return env


def best_times(env: dict[str, str], repeat: int) -> dict[str, float]:
    """Best wall-clock time per command; the commands take turns in each round, so a burst of load on the
    shared machine falls on all of them alike rather than on whichever ran during it."""
    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(repeat):
        for label, (code, arguments) in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command_line(code, arguments), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            best[label] = min(best[label], time.perf_counter() - start)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--imports", action="store_true", help="also list the packages each command imports")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hciplan-pyc-") as cache:
        env = environment(cache)
        for code, arguments in COMMANDS.values():  # warm the bytecode cache and the file system
            subprocess.run(command_line(code, arguments), cwd=ROOT, env=env, capture_output=True, check=False)
        times = best_times(env, args.repeat)
        floor = times["import lark, click (floor)"]
        print(f"{'command':<44} {'best ms':>8} {'x floor':>8}")
        for label, seconds in times.items():
            print(f"{label:<44} {seconds * 1000:>8.1f} {seconds / floor:>8.2f}")
        if args.imports:
            print()
            for label, (code, arguments) in COMMANDS.items():
                packages = imported_packages(command_line(code, arguments, "-X", "importtime"), env)
                print(f"{label:<44} {', '.join(packages)}")


if __name__ == "__main__":
    main()
