"""Benchmark: 10,000 Monte Carlo runs of the 16-node plan, against a bare simpy model of the same size.

    python bench/bench_simulator.py [--runs 10000] [--jobs 2] [--file examples/sixteen-node.hciplan]

The bare model has the same steps, the same dependencies and the same simpy
events as the simulator (one process per step that waits for its
predecessors' processes and holds for a triangular draw) and nothing else: no
failure handling, windows, repair physics or bookkeeping. The script checks
that both schedule the same number of events, times each in one process, and
reports the ratio; then it times the whole `hciplan simulate` series with
`--jobs` processes. Figures go to docs/performance.md; this is not a test.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hciplan.compiler.compile import compile_checked  # noqa: E402
from hciplan.compiler.pipeline import load_source  # noqa: E402
from hciplan.simulator import engine, fast, prepare_simulation  # noqa: E402
from hciplan.simulator.engine import run_once, run_seed  # noqa: E402
from hciplan.simulator.montecarlo import quiet_gc, run_batch, simulate  # noqa: E402


class CountingEnvironment(simpy.Environment):
    """Counts scheduled events, to show the two models do the same simpy work."""

    scheduled = 0

    def schedule(self, event, priority=1, delay=0):
        CountingEnvironment.scheduled += 1
        super().schedule(event, priority, delay)


def bare_run(preds: tuple[tuple[int, ...], ...], seed: int, index: int, environment=simpy.Environment) -> float:
    """The same DAG as a bare simpy model: wait for the predecessors, hold for a draw."""
    rng = random.Random(run_seed(seed, index))
    durations = [rng.triangular(5.0, 30.0, 10.0) for _ in preds]
    env = environment()
    timeout = env.timeout
    procs: list = [None] * len(preds)

    def step(i: int):
        for p in preds[i]:
            yield procs[p]
        yield timeout(durations[i])

    for i in range(len(preds)):
        procs[i] = env.process(step(i))
    env.run()
    return env.now


def events_per_run(function) -> float:
    CountingEnvironment.scheduled = 0
    for index in range(20):
        function(index)
    return CountingEnvironment.scheduled / 20


def best_of(repeats: int, function) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(ROOT / "examples" / "sixteen-node.hciplan"))
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sample", type=int, default=1000, help="runs per single-process timing")
    args = parser.parse_args()

    plan = compile_checked(load_source(args.file)).plan
    full = prepare_simulation(plan, ignore_windows=True)  # every step runs: the heaviest case
    windowed = prepare_simulation(plan)  # the file's windows: runs stop at the last window
    preds = full.preds
    edges = sum(len(p) for p in preds)
    print(f"plan: {args.file}: {full.size} steps, {edges} dependencies, {len(plan.model.cluster.nodes)} nodes")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, simpy {simpy.__version__}")

    real_environment = engine.simpy.Environment
    engine.simpy.Environment = CountingEnvironment
    try:
        sim_events = events_per_run(lambda i: run_once(full, 0, i))
    finally:
        engine.simpy.Environment = real_environment
    bare_events = events_per_run(lambda i: bare_run(preds, 0, i, CountingEnvironment))
    print(f"events per run: simulator {sim_events:.0f}, bare model {bare_events:.0f}")

    n = args.sample
    run_once(full, 0, 0)  # build the per-plan runtime once, as each worker does
    os.environ[fast.FORCE_SIMPY] = "1"  # the simpy engine against bare simpy (bench_fast.py times the fast path)
    sim_time = best_of(3, lambda: run_batch(full, 0, 0, n))
    del os.environ[fast.FORCE_SIMPY]
    bare_time = best_of(3, lambda: _bare_series(preds, n))
    print(f"one process, {n} runs: simulator {sim_time / n * 1e3:.3f} ms/run, "
          f"bare simpy {bare_time / n * 1e3:.3f} ms/run, ratio {sim_time / bare_time:.2f} (target <= 1.5)")

    for label, sp in (("no windows (all steps)", full), ("the file's windows", windowed)):
        start = time.perf_counter()
        summary = simulate(sp, args.runs, seed=0, jobs=args.jobs)
        elapsed = time.perf_counter() - start
        print(f"{args.runs} runs, {args.jobs} processes, {label}: {elapsed:.2f} s (target < 10 s); "
              f"outcomes {summary.outcomes}")
    start = time.perf_counter()
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(args.jobs) as pool:
        chunk = args.runs // args.jobs
        list(pool.map(_bare_chunk, [(preds, k * chunk, (k + 1) * chunk) for k in range(args.jobs)]))
    print(f"{args.runs} runs, {args.jobs} processes, bare simpy model: {time.perf_counter() - start:.2f} s")


def _bare_chunk(task) -> None:
    preds, first, last = task
    gc.freeze()
    with quiet_gc() as collect:  # the same garbage-collection policy as the simulator's batches
        for i in range(first, last):
            bare_run(preds, 0, i)
            collect()


def _bare_series(preds, n: int) -> None:
    with quiet_gc() as collect:
        for i in range(n):
            bare_run(preds, 0, i)
            collect()


if __name__ == "__main__":
    main()
