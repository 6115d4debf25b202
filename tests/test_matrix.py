"""Every valid example through every plan backend, against golden files; and byte-identical output across processes.

Goldens live in tests/golden/<backend>/<example>.<ext> (the JSON plan's in
tests/golden/plan/, shared with test_plan); regenerate them with
HCIPLAN_REGEN=1 and review the diff. The PowerShell and runbook backends have
their own golden tests (test_powershell, test_runbook).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hciplan.backends import BACKENDS
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import check_bytes
from helpers import ROOT, VALID_EXAMPLES, assert_golden

GOLDEN = Path(__file__).parent / "golden"
MATRIX_BACKENDS = ("summary", "json", "dot", "mermaid")
GOLDEN_DIRS = {"json": "plan"}  # the JSON plan goldens predate the matrix


@pytest.fixture(scope="module")
def compiled():
    cache = {}

    def get(example: Path):
        if example not in cache:
            # the path as the CLI is given it in the goldens (diagnostics name their file), read from the root
            name = str(example.relative_to(ROOT))
            cache[example] = compile_checked(check_bytes(name, example.read_bytes()))
        return cache[example]
    return get


@pytest.mark.parametrize("backend", MATRIX_BACKENDS)
@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=lambda p: p.stem)
def test_golden_backend_output(compiled, example: Path, backend: str) -> None:
    result = compiled(example)
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    module = BACKENDS[backend]
    (name, text), = module.render(result.plan, result.diagnostics).items()
    assert_golden(GOLDEN / GOLDEN_DIRS.get(backend, backend) / f"{example.stem}{Path(name).suffix}", text)


def test_every_backend_is_in_a_golden_matrix() -> None:
    """A new backend gets goldens: here, or in its own test like the script, the runbook and the report."""
    assert set(BACKENDS) == set(MATRIX_BACKENDS) | {"powershell", "runbook", "report"}


# --- determinism across processes -------------------------------------------------------------------

EXAMPLE = "examples/two-node.hciplan"
COMMANDS = {
    "plan-json": ["plan", "--format", "json", EXAMPLE],
    "graph-dot": ["graph", "--format", "dot", EXAMPLE],
    "emit": ["emit", EXAMPLE, "-o", "{out}"],
    "simulate": ["simulate", EXAMPLE, "--runs", "50", "--format", "json", "--jobs", "1"],
}
HASH_SEEDS = ("0", "12345")


def _start(args: list[str], seed: str, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "hciplan", *(a.format(out=out) for a in args)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_outputs_are_byte_identical_across_hash_seeds_and_jobs(tmp_path) -> None:
    """Set or dict order leaking into output would differ between PYTHONHASHSEED values; so would --jobs."""
    runs = {(name, seed): (args, tmp_path / f"{name}-{seed}") for name, args in COMMANDS.items() for seed in HASH_SEEDS}
    runs["simulate-jobs2", "0"] = ([*COMMANDS["simulate"][:-1], "2"], tmp_path / "jobs2")
    started = {key: _start(args, key[1], out) for key, (args, out) in runs.items()}  # all at once: one start-up's time
    outputs = {}
    for key, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, (key, stderr.decode())
        out = runs[key][1]
        if out.is_dir():  # emit: the files it wrote (its stdout names the directory, which differs)
            outputs[key] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
            assert outputs[key], "emit wrote nothing"
        else:
            outputs[key] = stdout
            assert stdout, f"{key} printed nothing"
    for name in COMMANDS:
        assert outputs[name, "0"] == outputs[name, "12345"], f"{name} differs between PYTHONHASHSEED values"
    assert outputs["simulate", "0"] == outputs["simulate-jobs2", "0"], "--jobs 1 and --jobs 2 differ"
