"""The fuzz harness at scale: N generated inputs split over every command, crashes counted and saved.

    PYTHONPATH=$PWD python bench/bench_fuzz.py --inputs 100000 --jobs 2 --seed 1

Each command gets its share of the inputs from the strategies of tests/fuzz/harness.py (the ones CI replays on a
small budget), run in-process through click's CliRunner. A crash (exit 70, "internal error", a traceback, an
exception escaping) is saved as a corpus case in tests/fuzz/corpus/crash-COMMAND-HASH/ so tests/test_fuzz.py
replays it from then on. Prints inputs tried, exit codes and crashes per command; exit 1 when any input crashed.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import multiprocessing
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def fuzz_command(job: tuple[str, int, int, float]) -> dict:
    """Run COUNT inputs of one command (a worker); returns its tally and the crashing cases."""
    command, count, seed, budget_s = job
    warnings.simplefilter("ignore")
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from fuzz.harness import CASES, run_case, save_case

    codes: collections.Counter = collections.Counter()
    crashes: list[dict] = []
    started = time.monotonic()

    class Budget(Exception):
        """The time budget ran out: stop this command early (the tally says how many ran)."""

    @hypothesis_seed(seed)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(CASES[command])
    def one(case):
        if budget_s and time.monotonic() - started > budget_s:
            raise Budget
        outcome = run_case(case)
        codes[outcome.exit_code] += 1
        if outcome.crashed:
            digest = hashlib.sha256(repr((case.argv, case.files)).encode()).hexdigest()[:10]
            folder = save_case(case, f"crash-{command}-{digest}")
            crashes.append({"reason": outcome.reason, "argv": case.argv, "saved": str(folder.relative_to(ROOT)),
                            "tail": outcome.output[-400:]})

    try:
        one()
    except Budget:
        pass
    return {"command": command, "codes": dict(codes), "tried": sum(codes.values()), "crashes": crashes,
            "seconds": time.monotonic() - started}


class _Serial:
    """A stand-in for a pool of one: the jobs run in this process."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap_unordered(function, jobs, chunksize=1):
        return map(function, jobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs in all, split over the commands")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (1: in this process)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (a different seed, different inputs)")
    parser.add_argument("--chunks", type=int, default=1, help="split each command's share into this many seeds")
    parser.add_argument("--minutes", type=float, default=0, help="stop each chunk after this long (0: no limit)")
    parser.add_argument("--commands", nargs="*", help="only these commands")
    args = parser.parse_args(argv)

    from fuzz.harness import COMMANDS
    commands = args.commands or list(COMMANDS)
    share = max(1, args.inputs // (len(commands) * args.chunks))
    jobs = [(c, share, args.seed * 1000 + k, args.minutes * 60) for k in range(args.chunks) for c in commands]
    started = time.monotonic()
    results = []
    with multiprocessing.Pool(args.jobs) if args.jobs > 1 else _Serial() as pool:
        for r in pool.imap_unordered(fuzz_command, jobs, chunksize=1):  # a line per finished chunk: partial counts
            results.append(r)
            print(f"  {r['command']}: {r['tried']} inputs, {len(r['crashes'])} crashes, {r['seconds']:.0f} s",
                  flush=True)

    totals: dict[str, dict] = {}
    for r in results:
        t = totals.setdefault(r["command"], {"tried": 0, "codes": collections.Counter(), "crashes": []})
        t["tried"] += r["tried"]
        t["codes"].update(r["codes"])
        t["crashes"] += r["crashes"]
    print(f"{'command':<10} {'inputs':>8} {'crashes':>8}  exit codes")
    for command in commands:
        t = totals[command]
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(t["codes"].items()))
        print(f"{command:<10} {t['tried']:>8} {len(t['crashes']):>8}  {codes}")
    tried = sum(t["tried"] for t in totals.values())
    crashed = [c for t in totals.values() for c in t["crashes"]]
    print(f"{'total':<10} {tried:>8} {len(crashed):>8}  in {time.monotonic() - started:.0f} s, seed {args.seed}")
    for crash in crashed:
        print(f"\ncrash: {crash['reason']}\n  argv: {' '.join(crash['argv'])}\n  saved: {crash['saved']}\n"
              f"  output: {crash['tail'][-300:]!r}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
