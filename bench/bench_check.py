"""Benchmark: how `hciplan check` grows with the number of nodes (2 to 16), and the overlap proof alone.

    python bench/bench_check.py [--repeat 5]

For each size it generates the same shape of file (tests/plan_models.py: CAU,
the solution upgrade, BitLocker and Network ATC remediation, so every pass
kind is present), then times in one process (best of `--repeat`):

- `check`: parsing, lowering, the static checks, the plan and its proofs;
- the overlap proof's reachability, as the compiler computes it now (one
  reverse-topological pass of bitsets) and as it did before (one
  `networkx.descendants` search per node pass).

It prints microseconds per step for each, so linear growth shows as a flat
column. Figures go to docs/performance.md; this is not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hciplan.compiler.compile import compile_checked  # noqa: E402
from hciplan.compiler.pipeline import check_text  # noqa: E402
from hciplan.compiler.safety import _down_intervals, _reachability  # noqa: E402
from plan_models import Shape, hciplan_text  # noqa: E402

SIZES = (2, 4, 8, 12, 16)


def best_of(repeat: int, action) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'nodes':>5} {'steps':>6} {'check ms':>9} {'us/step':>8} {'reach (bitsets) us':>19} "
          f"{'reach (searches) us':>20}")
    for nodes in SIZES:
        text = hciplan_text(Shape(nodes=nodes, solution=True, bitlocker=True, atc_configured=False))
        result = compile_checked(check_text(text, "bench.hciplan"))
        assert result.ok, [d.message for d in result.check.diagnostics]
        plan = result.plan
        position = {s.id: i for i, s in enumerate(plan.steps)}
        ends = [end for _, _, end in _down_intervals(plan)]
        check_s = best_of(args.repeat, lambda: compile_checked(check_text(text, "bench.hciplan")))
        bits_s = best_of(args.repeat, lambda: _reachability(plan, position))
        search_s = best_of(args.repeat, lambda: {end: nx.descendants(plan.graph, end) for end in ends})
        steps = len(plan.steps)
        print(f"{nodes:>5} {steps:>6} {check_s * 1e3:>9.1f} {check_s * 1e6 / steps:>8.1f} "
              f"{bits_s * 1e6:>19.0f} {search_s * 1e6:>20.0f}")


if __name__ == "__main__":
    main()
