"""Benchmark: per-run cost of the vectorised sampler (simulator/vector.py) against the simpy and fast paths.

    python bench/bench_vector.py [--runs 200] [--batch 1000] [--repeats 3]

On the 16-node example without windows and with the file's windows, in
sequential draws (`simulate`) and keyed draws (`compare`, `--vary`), it times in
one process, CPU time, best of `--repeats`:
- simpy: `engine.run_once` for `--runs` runs (the reference: a RunResult per run);
- fast: `fast.run_fast` for the same runs (the same RunResults, no simpy);
- vector: `vector.run_vector` on one batch of `--batch` runs (end, exposure, the bound flag per run);
- floor: `vector.draw_batch` on the same batch: just drawing the batch's durations (with the shared
  factors), the least any sampler of these draws pays;
and prints microseconds per run and the ratios (simpy / vector, fast / vector, vector / floor), all from the
one run of this script. Keyed rows also check that the vector ends equal the fast path's (the engine's).
Figures go to docs/performance.md ("Simulate: the vectorised sampler"); this is not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hciplan.compiler.compile import compile_checked  # noqa: E402
from hciplan.compiler.pipeline import load_source  # noqa: E402
from hciplan.simulator import fast, prepare_simulation, vector  # noqa: E402
from hciplan.simulator.engine import run_once  # noqa: E402
from hciplan.simulator.prepared import keyed_draws  # noqa: E402

PLAN = "sixteen-node"
SEED = 3


def best_of(repeats: int, function) -> float:
    """The least CPU time of this process over `repeats` calls (on a loaded machine the wall clock also counts
    the time other processes hold the cores, the CPU time mostly not)."""
    times = []
    for _ in range(repeats):
        begin = time.process_time()
        function()
        times.append(time.process_time() - begin)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs of the simpy and fast paths")
    parser.add_argument("--batch", type=int, default=1000, help="runs of the vector batch")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = compile_checked(load_source(ROOT / "examples" / f"{PLAN}.hciplan"))
    plan = result.plan
    print(f"{PLAN}, {len(plan.steps)} steps; simpy and fast {args.runs} runs, vector batch {args.batch} runs; "
          f"CPU us per run, best of {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'windows':<8} {'draws':<11} {'simpy':>9} {'fast':>9} {'vector':>9} {'floor':>9} {'simpy/vec':>10} "
          f"{'fast/vec':>9} {'vec/floor':>10}")
    for windows, draws in (("none", "sequential"), ("none", "keyed"), ("file", "sequential"), ("file", "keyed")):
        sp = prepare_simulation(plan, ignore_windows=windows == "none")
        if draws == "keyed":
            sp = keyed_draws(sp, plan)
        runs = range(args.runs)
        # warm the per-plan structures of each path (what a worker does once)
        run_once(sp, SEED, 0), fast.run_fast(sp, SEED, 0), vector.run_vector(sp, SEED, 0, 10)
        simpy_us = best_of(args.repeats, lambda: [run_once(sp, SEED, k) for k in runs]) / args.runs * 1e6
        fast_us = best_of(args.repeats, lambda: [fast.run_fast(sp, SEED, k) for k in runs]) / args.runs * 1e6
        vector_us = best_of(args.repeats, lambda: vector.run_vector(sp, SEED, 0, args.batch)) / args.batch * 1e6
        floor_us = best_of(args.repeats, lambda: vector.draw_batch(sp, SEED, 0, args.batch)) / args.batch * 1e6
        if draws == "keyed":
            batch = vector.run_vector(sp, SEED, 0, args.runs)
            reference = [fast.run_fast(sp, SEED, k) for k in runs]
            assert all(batch.end[k] == r.end for k, r in enumerate(reference) if r is not None), "keyed ends differ"
        print(f"{windows:<8} {draws:<11} {simpy_us:>9.1f} {fast_us:>9.1f} {vector_us:>9.1f} {floor_us:>9.1f} "
              f"{simpy_us / vector_us:>9.1f}x {fast_us / vector_us:>8.1f}x {vector_us / floor_us:>9.2f}x")


if __name__ == "__main__":
    main()
