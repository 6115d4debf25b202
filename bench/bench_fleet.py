"""Benchmark: `hciplan check FLEET` and `hciplan fleet plan FLEET` on a generated fleet of N clusters (issue 12).

    python bench/bench_fleet.py [--clusters 1000] [--skip-subprocess] [--profile]

It writes, in a temporary folder, N distinct cluster files in the examples'
shapes (tests/fleetgen.py: 2- and 3-node, a third with operator steps, every
one its own name and subnet, so nothing is compiled once for two files) in
six sites over five time zones with one or two weekly windows each, and a
fleet file listing them in three rings (a pilot of 5, then two folders), with
shifts, a blackout, `max_in_flight` and waves. Then, in one run:

- in process: `check_fleet` (read + parse + check of the fleet and every
  cluster file, each compiled once), split into the time spent compiling
  cluster files (`check_bytes`: parse, lower, static checks; then
  `compile_checked`: the plan and its proofs) and the rest; then
  `plan_campaign` (the schedule), then rendering the JSON document;
- end to end as subprocesses: `hciplan check FLEET` and
  `hciplan fleet plan --json FLEET` (interpreter start-up and imports included).

It prints a table with seconds and clusters per second. The issue's target
is `fleet plan` of 1,000 clusters under 30 s. Figures go to
docs/performance.md ("Fleets: check and plan of 1,000 clusters"); this is
not a test. `--profile` prints the top of a cProfile of check + plan.

`--simulate [--runs 1000]` measures the per-cluster run kernel of `fleet
simulate` instead (hciplan/fleet/runs.py): after check + plan, in this one
process, `cluster_sim` + `cluster_runs` of every planned cluster for runs
0 .. runs-1 in its offered windows (skip 0). It prints the seconds (preparing
the plans, the runs), microseconds per run, and the share of runs the vector
path sent to the engine. Figures go to docs/performance.md ("Fleet simulate:
the per-cluster kernel"). With `--profile`, the top of a cProfile of the runs.

`--campaign [--runs 1000] [--jobs 2]` measures `hciplan fleet simulate` end to end
(issue 12's target: 1,000 clusters x 1,000 runs under 60 s on 2 local cores), as
subprocesses: `fleet simulate --json --jobs J`, then the same through dask.distributed
(a scheduler and J single-threaded worker processes the benchmark starts on
127.0.0.1 with `LocalCluster`, passed as `--scheduler tcp://...`). It prints both
times, the dask overhead over the process pool, and checks that both printed the
same bytes. Figures go to docs/performance.md ("Fleet simulate: end to end").
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fleetgen import cluster_text  # noqa: E402

from hciplan.fleet import load as fl  # noqa: E402
from hciplan.fleet.campaign import plan_campaign  # noqa: E402
from hciplan.fleet.render import document, dumps  # noqa: E402

# (site, zone, windows): varied zones (daylight saving north and south, a half-hour offset) and windows
SITES = (
    ("paris", "Europe/Paris", (("saturday", "22:00", "9h"),)),
    ("lyon", "Europe/Paris", (("friday", "21:00", "10h"), ("sunday", "01:00", "6h"))),
    ("montreal", "America/Toronto", (("saturday", "21:00", "9h"), ("sunday", "08:00", "8h"))),
    ("sydney", "Australia/Sydney", (("saturday", "20:00", "12h"),)),
    ("pune", "Asia/Kolkata", (("sunday", "00:30", "9h"),)),
    ("london", "UTC", (("wednesday", "22:00", "6h"), ("saturday", "22:00", "9h"))),
)
PILOT = 5


def write_fleet(folder: Path, n: int) -> Path:
    """N cluster files in one folder per site, and the fleet file beside them; returns the fleet file."""
    for k in range(n):
        site = SITES[k % len(SITES)][0]
        nodes = 2 + (k % 5 == 0 or k % 7 == 0)  # about a third 3-node
        text = cluster_text(f"edge-{k:04d}", nodes, 10 + k, operator=k % 3 == 0, window=False)
        path = folder / site / f"edge-{k:04d}.hciplan"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    lines = ['fleet "bench" {', "  start = 2026-11-02T00:00Z  weeks = 52",
             f"  max_in_flight = {max(2, n // 20)}  wave_size = {max(5, n // 10)}  gate_percent = 20  soak = 1d"]
    for name, zone, windows in SITES:
        lines.append(f'  site "{name}" {{ zone = "{zone}"')
        for j, (day, start, length) in enumerate(windows):
            lines.append(f'    window "w{j}" {{ day = {day}  start = {start}  length = {length} }}')
        lines.append("  }")
    lines.append(f'  shift "weekend" {{ day = friday  start = 18:00  length = 62h  '
                 f'operators = {max(1, n // 50)} }}')
    lines.append('  shift "weeknight" { day = wednesday  start = 18:00  length = 12h  operators = 2 }')
    lines.append('  blackout "year-end" { start = 2026-12-19  end = 2027-01-03 }')
    pilot = [f"{SITES[k % len(SITES)][0]}/edge-{k:04d}.hciplan" for k in range(min(PILOT, n))]
    for path in pilot:
        lines.append(f'  cluster "{path}" {{ ring = 0  site = "{path.split("/")[0]}" }}')
    for j, (name, _, _) in enumerate(SITES):
        ring = 1 if j < len(SITES) // 2 else 2
        lines.append(f'  cluster "{name}/" {{ ring = {ring}  site = "{name}" }}')
    lines.append("}")
    fleet = folder / "fleet.hciplan"
    fleet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return fleet


def in_process(fleet: Path) -> dict[str, float]:
    """Seconds per stage of check + plan in this process (compile time measured around `compile_checked`)."""
    spent = {"parse": 0.0, "compile": 0.0}
    real = fl.compile_checked, fl.check_bytes

    def timed(stage, action):
        def run(*a, **kw):
            t = time.perf_counter()
            try:
                return action(*a, **kw)
            finally:
                spent[stage] += time.perf_counter() - t
        return run

    fl.compile_checked, fl.check_bytes = timed("compile", real[0]), timed("parse", real[1])
    try:
        t0 = time.perf_counter()
        checked = fl.check_fleet(str(fleet), "fleet.hciplan")
        t1 = time.perf_counter()
    finally:
        fl.compile_checked, fl.check_bytes = real
    assert checked.ok, [f"{d.span.file}:{d.span.line}: {d.message}" for d in checked.diagnostics][:5]
    campaign = plan_campaign(checked)
    t2 = time.perf_counter()
    text = dumps(document(campaign, checked.diagnostics))
    t3 = time.perf_counter()
    statuses: dict[str, int] = {}
    for c in campaign.clusters:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    return {"check": t1 - t0, "compile": spent["compile"], "parse": spent["parse"], "schedule": t2 - t1, "render": t3 - t2,
            "clusters": len(checked.clusters), "statuses": statuses, "bytes": len(text)}


def simulate(fleet: Path, runs: int, profile: bool = False) -> dict:
    """check + plan, then every planned cluster's `runs` runs through the kernel, timed (one process)."""
    import numpy as np

    from hciplan.fleet import runs as fr

    checked = fl.check_fleet(str(fleet), "fleet.hciplan")
    campaign = plan_campaign(checked)
    plans = {c.name: c.result.plan for c in checked.clusters}
    planned = [c for c in campaign.clusters if c.status == "planned"]
    indices = np.arange(runs, dtype=np.int64)
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for c in planned:
            fr.cluster_runs(fr.cluster_sim(plans[c.file], c), fr.cluster_seed(1, c), indices)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return {}
    t0 = time.perf_counter()
    sims = [fr.cluster_sim(plans[c.file], c) for c in planned]
    t1 = time.perf_counter()
    engine = done = overran = failed = 0
    for c, sp in zip(planned, sims):
        r = fr.cluster_runs(sp, fr.cluster_seed(1, c), indices)
        engine += int(r.engine.sum())
        done += int((r.status == fr.DONE).sum())
        overran += int((r.status == fr.OVERRAN).sum())
        failed += int((r.status == fr.FAILED).sum())
    t2 = time.perf_counter()
    return {"clusters": len(campaign.clusters), "planned": len(planned), "prepare": t1 - t0, "runs": t2 - t1,
            "engine": engine, "done": done, "overran": overran, "failed": failed, "total": len(planned) * runs,
            "steps": sum(sp.size for sp in sims) / max(1, len(sims))}


def subprocess_seconds(args: list[str], cwd: Path) -> tuple[float, int]:
    seconds, code, _ = subprocess_output(args, cwd)
    return seconds, code


def subprocess_output(args: list[str], cwd: Path) -> tuple[float, int, bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hciplan", *args], cwd=cwd, env=env, capture_output=True)
    if done.returncode:
        sys.stderr.write(done.stderr.decode("utf-8", "replace")[-2000:])
    return time.perf_counter() - t, done.returncode, done.stdout


def largest_child_mb() -> float:
    """Peak resident memory of the largest process this benchmark has waited for (the CLI or a pool worker)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def campaign(folder: Path, runs: int, jobs: int) -> None:
    """`fleet simulate` end to end: the local process pool, then dask on loopback; the same bytes from both."""
    command = ["fleet", "simulate", "--json", "--runs", str(runs), "--seed", "1", "fleet.hciplan"]
    pool_s, code, pool_out = subprocess_output([*command, "--jobs", str(jobs)], folder)
    assert code == 0, ("process pool", code)
    print(f"`fleet simulate --jobs {jobs}` (process pool, subprocess)   {pool_s:8.2f} s   "
          f"largest process {largest_child_mb():.0f} MB")
    try:
        from dask.distributed import LocalCluster
    except ImportError:
        print("dask.distributed is not installed: no dask figure (pip install 'hciplan[dask]')")
        return
    t = time.perf_counter()
    with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        started = time.perf_counter() - t
        dask_s, code, dask_out = subprocess_output([*command, "--scheduler", cluster.scheduler_address], folder)
    assert code == 0, ("dask", code)
    print(f"`fleet simulate --scheduler` (dask, {jobs} workers, subprocess) {dask_s:8.2f} s   "
          f"(+{started:.2f} s to start the cluster, not counted)")
    print(f"dask overhead over the process pool: {dask_s - pool_s:+.2f} s ({dask_s / pool_s:.2f}x); "
          f"same bytes: {'yes' if dask_out == pool_out else 'NO'}")
    assert dask_out == pool_out, "dask and the process pool printed different documents"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--skip-subprocess", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--simulate", action="store_true", help="time the fleet simulate kernel (runs.py)")
    parser.add_argument("--runs", type=int, default=1000, help="runs per cluster with --simulate or --campaign")
    parser.add_argument("--campaign", action="store_true", help="time `hciplan fleet simulate` end to end")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes with --campaign")
    args = parser.parse_args()
    n = args.clusters
    folder = Path(tempfile.mkdtemp(prefix="hciplan-bench-fleet-"))
    try:
        fleet = write_fleet(folder, n)
        load = os.getloadavg()
        print(f"{n} clusters; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores")
        if args.campaign:
            print(f"{args.runs} runs of the campaign")
            campaign(folder, args.runs, args.jobs)
            return
        if args.simulate:
            r = simulate(fleet, args.runs, args.profile)
            if r:
                seconds = r["prepare"] + r["runs"]
                print(f"{r['planned']} of {r['clusters']} clusters planned, {r['steps']:.0f} steps on average; "
                      f"{args.runs} runs each ({r['total']:,} runs)")
                print(f"cluster_sim (prepare every plan in its windows)  {r['prepare']:8.2f} s")
                print(f"cluster_runs (every run)                         {r['runs']:8.2f} s")
                print(f"kernel total                                     {seconds:8.2f} s   "
                      f"{seconds / r['total'] * 1e6:.1f} us per run")
                print(f"runs on the engine: {r['engine']:,} ({r['engine'] / r['total']:.3%}); done {r['done']:,}, "
                      f"overran {r['overran']:,}, failed {r['failed']:,}")
            return
        if args.profile:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            plan_campaign(fl.check_fleet(str(fleet), "fleet.hciplan"))
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
            return
        r = in_process(fleet)
        assert r["clusters"] == n, r["clusters"]
        rows = [("check: cluster files: parse + lower + checks", r["parse"]),
                ("check: cluster files: plan + proofs", r["compile"]),
                ("check: the rest (fleet file, reads, windows)", r["check"] - r["parse"] - r["compile"]),
                ("check (in process)", r["check"]),
                ("plan: schedule", r["schedule"]),
                ("plan: render JSON", r["render"]),
                ("check + plan (in process)", r["check"] + r["schedule"] + r["render"])]
        if not args.skip_subprocess:
            for label, command in (("`hciplan check FLEET` (subprocess)", ["check", "fleet.hciplan"]),
                                   ("`hciplan fleet plan --json FLEET` (subprocess)",
                                    ["fleet", "plan", "--json", "fleet.hciplan"])):
                seconds, code = subprocess_seconds(command, folder)
                assert code == 0, (label, code)
                rows.append((label, seconds))
        print(f"{'stage':<48} {'s':>8} {'clusters/s':>11}")
        for label, seconds in rows:
            print(f"{label:<48} {seconds:>8.2f} {n / seconds if seconds else float('inf'):>11.0f}")
        print(f"per cluster file: {(r['parse'] + r['compile']) / n * 1e3:.2f} ms; campaign: {r['statuses']}; "
              f"JSON {r['bytes']:,} bytes")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
