"""Benchmark: what keyed draws (common random numbers, `compare`) cost per run against sequential ones (`simulate`).

    python bench/bench_compare.py [--sample 1000] [--file examples/sixteen-node.hciplan ...]

Per plan, the same prepared simulation twice: with sequential draws (one
generator per run, `hciplan simulate`) and with keyed draws (every uniform a
hash of the run, the step's draw key, the lane and the count; `hciplan
compare`, `--vary`, `--sensitivity`). Each is timed over --sample runs in one
process (best of three), without windows (every step runs) and with the
file's windows. Then the paired bootstrap of one variant against the base
(hciplan/compare/paired.py) over the same number of runs, the other cost
`compare` adds. Figures go to docs/performance.md; this is not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hciplan.compare import paired  # noqa: E402
from hciplan.compiler.compile import compile_checked  # noqa: E402
from hciplan.compiler.pipeline import load_source  # noqa: E402
from hciplan.simulator import prepare_simulation  # noqa: E402
from hciplan.simulator.engine import run_once  # noqa: E402
from hciplan.simulator.montecarlo import run_batch, summarise  # noqa: E402
from hciplan.simulator.prepared import keyed_draws  # noqa: E402
from bench_simulator import best_of  # noqa: E402  (bench/ is the script's folder, first on sys.path)

FILES = ("examples/four-node.hciplan", "examples/sixteen-node.hciplan")


def per_run_ms(sp, n: int) -> float:
    run_once(sp, 0, 0)  # build the per-plan runtime once, as each worker does
    return best_of(3, lambda: run_batch(sp, 0, 0, n)) / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", action="append", help="a plan (repeatable) [default: the 4- and 16-node examples]")
    parser.add_argument("--sample", type=int, default=1000, help="runs per timing")
    args = parser.parse_args()
    n = args.sample
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {n} runs per timing, best of 3")
    for file in args.file or [str(ROOT / f) for f in FILES]:
        plan = compile_checked(load_source(Path(file))).plan
        print(f"plan: {Path(file).name}: {len(plan.steps)} steps")
        for label, ignore in (("no windows", True), ("the file's windows", False)):
            sequential = prepare_simulation(plan, ignore_windows=ignore)
            keyed = keyed_draws(sequential, plan)
            seq_ms, key_ms = per_run_ms(sequential, n), per_run_ms(keyed, n)
            print(f"  {label:<20} sequential {seq_ms:.3f} ms/run, keyed {key_ms:.3f} ms/run, "
                  f"ratio {key_ms / seq_ms:.2f}")
        sp = keyed_draws(prepare_simulation(plan), plan)
        batches = [run_batch(sp, 0, 0, n)]
        sample = paired.Sample(paired.Variant("base", file, plan, sp), summarise(sp, n, 0, batches),
                               tuple(batches[0].within))
        elapsed = best_of(3, lambda: paired.differences(sample, [sample], 0))
        print(f"  paired bootstrap of one variant ({paired.BOOTSTRAP} replicates of {n} runs): {elapsed:.2f} s")


if __name__ == "__main__":
    main()
