"""A coverage-guided fuzz entry point (atheris, libFuzzer) over the commands that read one file; outside CI.

    pip install atheris        # optional: not a dependency of hciplan
    PYTHONPATH=$PWD python bench/atheris_check.py -runs=20000 tests/fuzz/corpus-atheris/

Each input's first byte picks a command line from tests/fuzz/harness.py (PLAN_FILE_COMMANDS, then import and
calibrate), the rest is the file. A crash (exit 70, "internal error", a traceback, an escaped exception) raises,
so libFuzzer stops and saves the input as crash-HASH; replay it with `python bench/atheris_check.py crash-HASH`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

with atheris.instrument_imports():
    import hciplan.cli  # noqa: F401  (instrumented for coverage)
    from fuzz.harness import PLAN_FILE_COMMANDS, run_command

COMMAND_LINES = [*PLAN_FILE_COMMANDS, ["import", "{dir}/a.hciplan"], ["calibrate", "{dir}/a.hciplan"]]


class Crash(Exception):
    """A command crashed on this input."""


def one_input(data: bytes) -> None:
    if not data:
        return
    argv = COMMAND_LINES[data[0] % len(COMMAND_LINES)]
    outcome = run_command(argv, {"a.hciplan": data[1:]})
    if outcome.crashed:
        raise Crash(f"{' '.join(argv)}: {outcome.reason}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
