"""Sensitivity: which duration models' uncertainty drives the P90 and the window risk.

Each duration model with a spread (a step whose P10 and P90 differ) is swung: its steps
are pinned at their own P10, then at their P90 (engine.py's pinned draws), while every
other step, the shared speed factors and the failure draws keep their keyed draws. With
common random numbers the two simulations differ only by that model, so the swing (P90
at the model's P90 minus P90 at its P10, and the same for P(within window)) is its
share of the uncertainty, measured with little noise. Models are ranked by the P90
swing, then by the window-risk swing, then by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hciplan.compare.paired import Sample, Variant, run_variant
from hciplan.simulator.prepared import SimPlan, keyed

LOW, HIGH = 0.1, 0.9


@dataclass(frozen=True)
class Swing:
    model: str
    kinds: tuple[str, ...]
    steps: int
    low: Sample
    high: Sample

    def p90(self, sample: Sample) -> float | None:
        stats = sample.summary.duration_stats()
        return stats["p90"] if stats else None

    @property
    def p90_swing(self) -> float | None:
        low, high = self.p90(self.low), self.p90(self.high)
        return None if low is None or high is None else high - low

    @property
    def window_swing(self) -> float | None:
        low, high = self.low.summary.p_within_window, self.high.summary.p_within_window
        return None if low is None or high is None else high - low

    def record(self) -> dict:
        return {"model": self.model, "kinds": list(self.kinds), "steps": self.steps,
                "p90_low": self.p90(self.low), "p90_high": self.p90(self.high), "p90_swing": self.p90_swing,
                "p_within_low": self.low.summary.p_within_window, "p_within_high": self.high.summary.p_within_window,
                "p_within_swing": self.window_swing}


def _spread(d) -> bool:
    if d.repair:
        return True  # the repair's spread (durations.SPREAD)
    return any(part is not None and part.quantile(LOW) != part.quantile(HIGH) for part in (d.main, d.extra))


def swung_models(sp: SimPlan) -> list[tuple[str, list[int]]]:
    """(duration model, its steps) for every model of the plan with a spread, by name."""
    out = []
    for g, name in enumerate(sp.group_names):
        steps = [i for i in range(sp.size) if sp.factor_group[i] == g]
        if steps and any(_spread(sp.durations[i]) for i in steps):
            out.append((name, steps))
    return out


def pinned(sp: SimPlan, steps: list[int], q: float) -> SimPlan:
    return keyed(dataclasses.replace(sp, pinned=tuple((i, q) for i in steps), key=""))


def sensitivity(base: Variant, runs: int, seed: int, jobs: int | None, progress=None) -> tuple[Sample, list[Swing]]:
    """The base at the same number of runs (the chart's centre), and every model's swing, ranked."""
    sp = base.sim
    centre = run_variant(base, runs, seed, jobs, progress=progress)
    swings = []
    for name, steps in swung_models(sp):
        samples = []
        for q in (LOW, HIGH):
            variant = dataclasses.replace(base, name=f"{name}@P{round(q * 100)}", sim=pinned(sp, steps, q))
            samples.append(run_variant(variant, runs, seed, jobs, progress=progress))
        kinds = tuple(sorted({sp.kinds[i] for i in steps}))
        swings.append(Swing(name, kinds, len(steps), *samples))

    def rank(s: Swing):
        return (-abs(s.p90_swing or 0.0), -abs(s.window_swing or 0.0), s.model)

    return centre, sorted(swings, key=rank)
