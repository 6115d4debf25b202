"""Benchmark: peak memory of the parent process of `simulate` from 10,000 to 1,000,000 runs.

    python bench/bench_memory.py [--sizes 10000,100000,1000000] [--jobs 1,2] [--windows yes,no]
                                 [--replay 2000] [--file examples/four-node.hciplan]

Each (size, jobs, windows) case runs in a child process of its own, so one
case's peak cannot hide another's: the child compiles the file, calls
`montecarlo.simulate` (the library call `hciplan simulate` makes), renders the
text report (so the Summary's readers run too) and prints its own peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`: with --jobs 2 the workers are
other processes, so this is the parent alone). "windows" is the file's own
windows, "no windows" the same file with `ignore_windows` (every step runs).
A million runs take minutes per case: `--sizes` picks the sizes. `--replay N --jobs 1`
simulates N distinct runs and feeds run i the result of run i % N, so the parent's tallies, merge and
report meet a million runs in seconds (their memory does not depend on the values being distinct; the
sorts see ties, which cost no more). Figures go to
docs/performance.md; this is not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(file: str, runs: int, jobs: int, windows: bool, replay: int) -> None:
    """One case, in this process: print a JSON line with the peak RSS and the time."""
    from hciplan.compiler.compile import compile_checked
    from hciplan.compiler.pipeline import load_source
    from hciplan.simulator import montecarlo, prepare_simulation, provenance, report
    from hciplan.simulator.montecarlo import simulate

    plan = compile_checked(load_source(file)).plan
    sp = prepare_simulation(plan, ignore_windows=not windows)
    if replay:
        # Run i is real run i % replay, simulated once here: the tallies, the merge and the report see a million
        # runs in seconds instead of an hour (jobs 1 only: the workers would simulate for real).
        pool = [montecarlo.run_once(sp, 1, i) for i in range(replay)]
        montecarlo.fast.block_runner = lambda sp: (  # what run_batch calls: runs first .. last - 1
            lambda seed, first, last: [pool[i % replay] for i in range(first, last)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    summary = simulate(sp, runs, seed=1, jobs=jobs)
    text = report.render_text(sp, summary, provenance.model_provenance(plan))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"runs": runs, "jobs": jobs, "windows": windows, "start_kib": before, "peak_kib": peak,
                      "seconds": round(seconds, 1), "report_chars": len(text)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(ROOT / "examples" / "four-node.hciplan"))
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated run counts")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    parser.add_argument("--windows", default="yes,no", help="yes: the file's windows; no: ignore them")
    parser.add_argument("--replay", type=int, default=0,
                        help="simulate only this many distinct runs and replay them (the parent's tallies at scale)")
    parser.add_argument("--child", nargs=5, metavar=("FILE", "RUNS", "JOBS", "WINDOWS", "REPLAY"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        file, runs, jobs, windows, replay = args.child
        child(file, int(runs), int(jobs), windows == "yes", int(replay))
        return
    if args.replay and args.jobs != "1":
        parser.error("--replay replays runs in this process: use it with --jobs 1")
    print(f"{'runs':>9} {'jobs':>4} {'windows':>8} {'start MiB':>10} {'peak MiB':>9} {'seconds':>8}")
    for windows in args.windows.split(","):
        for jobs in args.jobs.split(","):
            for size in args.sizes.split(","):
                out = subprocess.run([sys.executable, __file__, "--child", args.file, size, jobs, windows,
                                      str(args.replay)],
                                     check=True, capture_output=True, text=True).stdout
                row = json.loads(out.splitlines()[-1])
                print(f"{row['runs']:>9,} {row['jobs']:>4} {windows:>8} {row['start_kib'] / 1024:>10.1f} "
                      f"{row['peak_kib'] / 1024:>9.1f} {row['seconds']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
