"""Benchmark: per-run cost of the exact fast path (simulator/fast.py) against the simpy engine.

    python bench/bench_fast.py [--runs 1000] [--repeats 3]

For the 4- and 16-node examples, without windows (every step runs) and with the
file's windows, in sequential and keyed draws, it times `run_batch` (what a
worker runs: the runs and their tallies) in one process with the fast path on and
with `HCIPLAN_SIMPY=1`, checks that both give the same batch, and prints the
cost per run, the speed-up and how many runs the fast path handed to simpy; then
the run alone (`run_once` against `run_fast`, without the batch's tallies, which
both paths share). The fast batch evaluates its runs a block at a time
(`fast.run_block`: a block's keyed draws and schedules by window on numpy
arrays), so its cost per run can be below the run alone's.
Figures go to docs/performance.md ("Simulate: the exact fast path"); this is not a test.
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
from hciplan.simulator import fast, prepare_simulation  # noqa: E402
from hciplan.simulator.engine import run_once  # noqa: E402
from hciplan.simulator.montecarlo import run_batch  # noqa: E402
from hciplan.simulator.prepared import keyed_draws  # noqa: E402

PLANS = ("four-node", "sixteen-node")


def best_of(repeats: int, function) -> float:
    """The least CPU time of this process over `repeats` calls: on a loaded machine the wall clock also counts
    the time other processes hold the cores, the CPU time mostly not (caches are still shared)."""
    times = []
    for _ in range(repeats):
        begin = time.process_time()
        function()
        times.append(time.process_time() - begin)
    return min(times)


def timed(sp, runs: int, repeats: int, simpy: bool):
    if simpy:
        os.environ[fast.FORCE_SIMPY] = "1"
    else:
        os.environ.pop(fast.FORCE_SIMPY, None)
    batch = run_batch(sp, 0, 0, runs)  # also warms the per-plan runtime, as each worker does
    return best_of(repeats, lambda: run_batch(sp, 0, 0, runs)) / runs, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="rows whose plan, windows or draws contain this text")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.runs} runs, best of {args.repeats} "
          f"(CPU time); load average {os.getloadavg()[0]:.1f}")
    print("per run: the batch (runs and tallies, what a worker does), then the run alone (run_once against run_fast)")
    print(f"{'plan':<14}{'windows':<9}{'draws':<12}{'simpy':>10}{'fast':>10}{'speed-up':>10}"
          f"{'run simpy':>11}{'run fast':>10}{'speed-up':>10}{'to simpy':>10}")
    for name in PLANS:
        plan = compile_checked(load_source(str(ROOT / "examples" / f"{name}.hciplan"))).plan
        for windows, options in (("none", {"ignore_windows": True}), ("file", {})):
            for draws in ("sequential", "keyed"):
                if args.only and not any(args.only in x for x in (name, windows, draws)):
                    continue
                sp = prepare_simulation(plan, **options)
                if draws == "keyed":
                    sp = keyed_draws(sp, plan)
                handed = sum(fast.run_fast(sp, 0, i) is None for i in range(args.runs))
                reference, slow_batch = timed(sp, args.runs, args.repeats, simpy=True)
                quick, fast_batch = timed(sp, args.runs, args.repeats, simpy=False)
                if fast_batch != slow_batch:
                    raise SystemExit(f"{name} {windows} {draws}: the fast path's batch differs from simpy's")
                alone = best_of(args.repeats, lambda: [run_once(sp, 0, i) for i in range(args.runs)]) / args.runs
                bare = best_of(args.repeats, lambda: [fast.run_fast(sp, 0, i) for i in range(args.runs)]) / args.runs
                print(f"{name:<14}{windows:<9}{draws:<12}{reference * 1e6:>8.0f}us{quick * 1e6:>8.0f}us"
                      f"{reference / quick:>9.1f}x{alone * 1e6:>9.0f}us{bare * 1e6:>8.0f}us{alone / bare:>9.1f}x"
                      f"{handed:>10}")
    os.environ.pop(fast.FORCE_SIMPY, None)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
