"""What the night has shown about its speed: the shared speed factors, updated from the measured steps.

Every simulated run multiplies each step's own draw by a run factor exp(r) and
a factor exp(k_g) of the step's duration model g (docs/simulation.md,
"Correlated durations"), with Gaussian priors r ~ N(mu_r, s_r^2) and
k_g ~ N(mu_g, s_g^2) from the plan's timing block. A measured step i (a `done`
with its own start) gives

    y_i = ln(actual_i / median_i) = r + k_g(i) + e_i,    e_i ~ N(0, s_i^2)

where median_i and s_i = ln(q90 / q50) / 1.2816 (floored at `MIN_SIGMA`) describe
the step's own distribution without the shared factors (a lognormal reading of
it: an approximation for the triangular defaults). The model is linear and
Gaussian, so the posterior of (r, k_1, ..., k_G) is Gaussian: its precision is
the prior's plus the sum of x_i x_i^T / s_i^2 (x_i picks r and k_g(i)), solved
here by a Cholesky factorisation in pure Python (a few dozen unknowns).

The engine draws each factor independently, so it is given the **marginal**
posteriors; their correlation (r and k_g trade off against each other: the data
pins their sum better than either) is dropped. That makes the sum r + k_g of an
observed model a little wider than the joint posterior says: an approximation
on the cautious side, documented in docs/progress.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from hciplan.compiler.durations import Z90
from hciplan.simulator.prepared import NO_STEP, SimPlan

MIN_SIGMA = 0.05  # a fixed or very narrow model still leaves room for measurement noise (log-sd)


@dataclass(frozen=True, slots=True)
class Observation:
    """One measured step: its duration against the median of its own distribution."""

    step: int  # index in the plan
    actual: float  # minutes
    median: float  # of the step's own distribution (without the shared factors)
    sigma: float  # its own log-sd, floored at MIN_SIGMA

    @property
    def y(self) -> float:
        return math.log(self.actual / self.median)


@dataclass(frozen=True)
class Speed:
    """The shared factors before and after the night's measured steps (log-mean, log-sd pairs)."""

    observations: tuple[Observation, ...]
    run_prior: tuple[float, float]
    run: tuple[float, float]  # posterior marginal of r
    group_priors: tuple[tuple[float, float], ...]  # by SimPlan.group_names
    groups: tuple[tuple[float, float], ...]  # posterior marginals of k_g
    combined: tuple[tuple[float, float], ...]  # posterior of r + k_g (with their covariance), by group

    @property
    def run_factor(self) -> float:
        """The posterior mean of the run factor exp(r) (its prior mean is 1)."""
        mu, sigma = self.run
        return math.exp(mu + sigma * sigma / 2)

    def group_factor(self, g: int) -> float:
        """The posterior mean of exp(r + k_g): what the night's speed makes of model g's durations."""
        mu, sigma = self.combined[g]
        return math.exp(mu + sigma * sigma / 2)

    @property
    def observed_ratio(self) -> float | None:
        """The geometric mean of actual / median over the measured steps."""
        if not self.observations:
            return None
        return math.exp(math.fsum(o.y for o in self.observations) / len(self.observations))

    def counts(self, sp: SimPlan) -> dict[int, int]:
        """Measured steps per duration model (group index)."""
        counts: dict[int, int] = {}
        for o in self.observations:
            g = sp.factor_group[o.step]
            counts[g] = counts.get(g, 0) + 1
        return counts


def observe(sp: SimPlan, measured: dict[int, float], facts: dict[int, tuple[float, float]]) -> tuple[Observation, ...]:
    """The observations of the measured steps (index -> minutes); `facts` give a repair wait its down time."""
    observations = []
    for i in sorted(measured):
        actual = measured[i]
        own = dataclasses.replace(sp.durations[i], shared_sigma=0.0)
        down = 0.0
        reboot = sp.repair_from[i]
        if reboot is not None and reboot != NO_STEP:  # this night's down time, as the engine computes the resync
            begin, end = facts.get(reboot, (0.0, sp.mean_minutes[reboot]))
            down = end - begin
            unit = sp.units[sp.unit_of[reboot]]
            if unit.down_from != NO_STEP:  # and the offline part of the setup before the reboot
                setup = facts.get(unit.down_from, (0.0, sp.mean_minutes[unit.down_from]))
                down += unit.offline * (setup[1] - setup[0])
        q50, q90 = own.quantile(0.5, down), own.quantile(0.9, down)
        if actual <= 0 or q50 <= 0:
            continue
        sigma = max(MIN_SIGMA, math.log(q90 / q50) / Z90) if q90 > q50 else MIN_SIGMA
        observations.append(Observation(i, actual, q50, sigma))
    return tuple(observations)


def posterior(sp: SimPlan, observations: tuple[Observation, ...]) -> Speed:
    """The Gaussian posterior of the run and model factors given the observations (the prior when none)."""
    groups = len(sp.group_names)
    priors = [sp.run_factor] + list(sp.group_factors)  # parameter 0 is r, parameter 1 + g is k_g
    observed = {sp.factor_group[o.step] for o in observations}
    # Only parameters with prior spread and (for a model) an observation are unknowns; the rest keep their prior.
    free = [p for p in range(groups + 1) if priors[p][1] > 0 and (p == 0 or p - 1 in observed)]
    slot = {p: k for k, p in enumerate(free)}
    n = len(free)
    precision = [[0.0] * n for _ in range(n)]
    rhs = [0.0] * n
    for p, k in slot.items():
        mu, sigma = priors[p]
        precision[k][k] = 1 / sigma**2
        rhs[k] = mu / sigma**2
    for o in observations:
        params = (0, 1 + sp.factor_group[o.step])
        known = sum(priors[p][0] for p in params if p not in slot)  # a fixed factor: its (log) mean
        picked = [slot[p] for p in params if p in slot]
        weight = 1 / o.sigma**2
        for a in picked:
            rhs[a] += (o.y - known) * weight
            for b in picked:
                precision[a][b] += weight
    covariance = _inverse(precision) if n else []
    mean = [math.fsum(covariance[a][b] * rhs[b] for b in range(n)) for a in range(n)]

    def marginal(p: int) -> tuple[float, float]:
        if p not in slot:
            return priors[p]
        k = slot[p]
        return mean[k], math.sqrt(max(covariance[k][k], 0.0))

    def combined(g: int) -> tuple[float, float]:
        (mr, sr), (mg, sg) = marginal(0), marginal(1 + g)
        cov = covariance[slot[0]][slot[1 + g]] if 0 in slot and 1 + g in slot else 0.0
        return mr + mg, math.sqrt(max(sr * sr + sg * sg + 2 * cov, 0.0))

    return Speed(observations, sp.run_factor, marginal(0), tuple(sp.group_factors),
                 tuple(marginal(1 + g) for g in range(groups)), tuple(combined(g) for g in range(groups)))


def _inverse(matrix: list[list[float]]) -> list[list[float]]:
    """The inverse of a symmetric positive definite matrix, through its Cholesky factor L (A = L L^T)."""
    n = len(matrix)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            total = matrix[i][j] - math.fsum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                low[i][i] = math.sqrt(total)  # positive: the prior alone is positive definite
            else:
                low[i][j] = total / low[j][j]
    # L^-1 by forward substitution, then A^-1 = L^-T L^-1
    inv_low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        inv_low[i][i] = 1 / low[i][i]
        for j in range(i):
            inv_low[i][j] = -math.fsum(low[i][k] * inv_low[k][j] for k in range(j, i)) / low[i][i]
    return [[math.fsum(inv_low[k][i] * inv_low[k][j] for k in range(max(i, j), n)) for j in range(n)]
            for i in range(n)]
