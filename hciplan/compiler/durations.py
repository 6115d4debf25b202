"""Duration models per step, with their provenance, and expected (mean) durations.

A default model is a triangular distribution (low, mode, high) in minutes,
unless a step's duration follows from physics: drain and failback from the VM
memory over the live-migration bandwidth, storage repair from the data written
while the node was down, and the feature-update download from the media size
over the download bandwidth. Figures the domain reference publishes carry its
tag; every other figure is an explicit assumption, labelled as such.

A `timing { ... }` block in the file overrides the physics parameters and any
model, with one of five distributions: fixed, uniform, triangular, lognormal
(given its median and 90th percentile) and empirical (observed durations).
`resolve()` gives the one description of a step's duration that both consumers
read: `hciplan plan` uses its mean, the simulator draws from it, so the two
agree on every step's mean. (The plan's expected duration, the longest path of
step means, is the simulated mean of a straight chain and a lower bound of it
where steps run in parallel: docs/simulation.md.)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.model import DEFAULT_TIMING, GiB, MiB, DurationModel, Model, Timing
from hciplan.compiler.storage import down_node_write_rate
from hciplan.records import record

if TYPE_CHECKING:
    import random  # the draws' generator, in annotations only: check never draws

try:  # statistics.NormalDist's own quantile function, without importing statistics (docs/performance.md)
    from _statistics import _normal_dist_inv_cdf
except ImportError:  # not CPython: statistics' pure-Python one
    from statistics import _normal_dist_inv_cdf


def inv_normal(p: float) -> float:
    """The standard normal's p-quantile: `statistics.NormalDist().inv_cdf(p)`, the same float.

    `statistics` pulls in `fractions` and `decimal`, a large share of `check`'s imports for one function.
    """
    if p <= 0.0 or p >= 1.0:
        from statistics import StatisticsError

        raise StatisticsError("p must be in the range 0.0 < p < 1.0")
    return _normal_dist_inv_cdf(p, 0.0, 1.0)


Z90 = inv_normal(0.9)  # 1.2815...: the lognormal's p90 is exp(mu + Z90 * sigma)


class Distribution(Protocol):
    """A duration distribution in minutes."""

    provenance: str
    assumption: bool

    @property
    def mean(self) -> float: ...

    def quantile(self, q: float) -> float: ...

    def draw(self, rng: random.Random) -> float: ...


@record
class Fixed:
    value: float
    provenance: str
    assumption: bool = True

    @property
    def mean(self) -> float:
        return self.value

    def quantile(self, q: float) -> float:
        return self.value

    def draw(self, rng: random.Random) -> float:
        return self.value


@record
class Uniform:
    low: float
    high: float
    provenance: str
    assumption: bool = True

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def quantile(self, q: float) -> float:
        return self.low + q * (self.high - self.low)

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@record
class Triangular:
    low: float
    mode: float
    high: float
    provenance: str
    assumption: bool = True

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def quantile(self, q: float) -> float:
        low, mode, high = self.low, self.mode, self.high
        if high == low:
            return low
        if q * (high - low) < mode - low:
            return low + math.sqrt(q * (high - low) * (mode - low))
        return high - math.sqrt((1 - q) * (high - low) * (high - mode))

    def draw(self, rng: random.Random) -> float:
        return rng.triangular(self.low, self.high, self.mode)


@record
class LogNormal:
    """Given as its median and 90th percentile, the way people remember durations."""

    median: float
    p90: float
    provenance: str
    assumption: bool = True

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sigma(self) -> float:
        return math.log(self.p90 / self.median) / Z90

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def quantile(self, q: float) -> float:
        return math.exp(self.mu + self.sigma * inv_normal(q))

    def draw(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)


@record
class Empirical:
    """Observed durations, each drawn with equal chance (a bootstrap)."""

    observed: tuple[float, ...]
    provenance: str
    assumption: bool = False

    @property
    def mean(self) -> float:
        return sum(self.observed) / len(self.observed)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.observed)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    def draw(self, rng: random.Random) -> float:
        return rng.choice(self.observed)


@record
class Scaled:
    """A physics figure times a random spread of mean 1: the mean stays the physics figure."""

    minutes: float
    spread: Triangular
    provenance: str
    assumption: bool = True

    @property
    def mean(self) -> float:
        return self.minutes  # the spread's mean is 1 by construction

    def quantile(self, q: float) -> float:
        return self.minutes * self.spread.quantile(q)

    def draw(self, rng: random.Random) -> float:
        return self.minutes * self.spread.draw(rng)


def _published(low: float, mode: float, high: float, source: str) -> Triangular:
    return Triangular(low, mode, high, source, assumption=False)


def _assumed(low: float, mode: float, high: float, why: str) -> Triangular:
    return Triangular(low, mode, high, f"assumption: {why}")


DEFAULT_MODELS: dict[str, Triangular] = {
    "gate.preflight": _assumed(2, 5, 10, "read-only queries on every node"),
    "registration.repair": _assumed(1, 2, 25, "usually only the probe runs (about a minute); a repair waits for "
                                    "the Cloud Management group, about 15 min [S-cm]"),
    "gate.test_cluster": _assumed(5, 10, 20, "Test-Cluster runtime is not published"),
    "aks.remove": _assumed(15, 30, 60, "AKS removal time is not published [domain.md section 5]"),
    "bitlocker.suspend": _assumed(0.5, 1, 2, "one cmdlet per node"),
    "registry.apply": _assumed(0.5, 1, 2, "three registry writes"),
    "cau.prepare": _assumed(2, 5, 10, "remoting setup and Test-CauSetup"),
    "cau.scan": _assumed(3, 5, 15, "Invoke-CauScan over all nodes"),
    "media.verify": _assumed(0.5, 1, 2, "one Test-Path per node"),
    "node.reboot": _assumed(5, 10, 15, "a plain restart; CAU's default allowance is 15 min [W-opts]"),
    "os.install": _assumed(30, 45, 90, "per-node OS install time is not published [domain.md section 5]"),
    "os.reboot": _assumed(10, 20, 30, "feature-update reboots; the CAU allowance is 15 min per reboot [W-opts]"),
    "post.validate": _assumed(5, 10, 20, "Test-Cluster runtime is not published"),
    "post.migration_test": _assumed(3, 5, 20, "one VM live-migrated to every node and back; migration time is "
                                    "not published"),
    "post.registry_check": _assumed(0.5, 1, 2, "registry reads"),
    "post.functional_level": _assumed(0.5, 1, 3, "one cluster-wide cmdlet"),
    "post.storage_pool": _assumed(1, 2, 5, "runs online [A-post]"),
    "post.vm_version": _assumed(5, 10, 30, "stop, update and start the VMs"),
    "post.oem_drivers": _assumed(30, 60, 180, "the operator reinstalls the vendor's drivers node by node (drain, "
                                 "install, restart, resync); not published"),
    "post.sync": _published(1, 2, 15, "[S-ver]: immediate after Sync-AzureStackHCI"),
    "offline.stop": _assumed(5, 10, 20, "virtual disks offline and Stop-Cluster"),
    "offline.start": _assumed(10, 15, 30, "Start-Cluster and pool health"),
    "atc.install": _assumed(5, 10, 20, "feature install on all nodes, no reboot [A-atc]"),
    "atc.configure": _assumed(20, 30, 60, "per-node ATC migration time is not published [domain.md section 5]"),
    "atc.verify": _assumed(2, 5, 10, "intent status polling"),
    "atc.rename_switch": _assumed(10, 20, 45, "an operator renames the vSwitch and reconnects the VM NICs on each "
                                  "remaining node; not published [A-atc]"),
    "remediate.apply": _assumed(5, 15, 30, "feature installs; the reboot is a separate step"),
    "thin.convert": _assumed(10, 15, 30, "provisioning change and CSV cycle per volume"),
    # The extension's install or update, then its initialisation, which [S-lcm] puts at about 15-20 min; the
    # low end and the tail (a slow install, an update on top) are assumptions.
    "lcm.extension": _assumed(15, 20, 35, "Arc extension install or update, then LCM initialisation ([S-lcm]: about 15-20 min)"),
    "ad.prepare": _assumed(2, 5, 10, "AD object creation"),
    "readiness.validate": _assumed(15, 30, 60, "Environment Checker runtime is not published [domain.md section 5]"),
    "solution.validate": _published(8, 10, 15, "[A-arm]: about 10 min"),
    "solution.deploy": _published(150, 165, 180, "[A-arm]: 2.5-3 h"),
    "bitlocker.resume": _assumed(0.5, 1, 2, "one cmdlet per node"),
    "wdac.reapply": _assumed(5, 10, 20, "operator re-applies the policies"),
    "after.configure": _assumed(10, 20, 45, "operator work in the portal and AD [A-inst]; not published"),
    "after.verify": _published(10, 15, 20, "[S-lcm]: LCM initialisation about 15-20 min"),
}


# [A-arm] gives 2.5-3 h without a node count and [A-inst] says the portal's upgrade takes longer
# with more nodes. Assumption: the 2.5-3 h holds up to four nodes, and each node above four adds
# 10 min (the per-node part of the deployment: its extension, validation and update steps).
DEPLOY_BASE_NODES = 4
DEPLOY_MINUTES_PER_NODE = 10.0

# Physics-based figures vary around their value by this factor (mean exactly 1, skewed to the
# slow side: a migration or a resync is more often slower than computed than faster).
SPREAD = Triangular(0.8, 0.9, 1.3, "assumption: +30%/-20% around the physics figure, mean 1")

# Duration models computed from physics rather than drawn from a table; a timing block may
# still override them with a distribution.
PHYSICS_MODELS = {
    "node.drain": "live-migrate the node's share of the HA VMs away (memory / bandwidth + per-VM cost), plus 1 min",
    "node.resume": "failback: the same migrations back, plus 1 min",
    "storage.wait": "repair overhead + data written while the node was down / resync rate; the write rate "
                    "from the VM groups (512KB/s per VM, an assumption, or each group's write_per_s)",
    "os.download": "media size / download bandwidth (source = windows_update only; part of the install step)",
}
MODEL_NAMES = tuple(sorted(set(DEFAULT_MODELS) | set(PHYSICS_MODELS)))


@record
class Physics:
    """Parameters of the physical models. All are assumptions (nothing is published), except the media size."""

    live_migration_gib_per_s: float = 1.0  # about 10 GbE with compression
    per_vm_migration_s: float = 5.0
    write_mib_per_s: float = 20.0  # writes landing on a down node's copies (see write_mib_per_s())
    resync_mib_per_s: float = 200.0
    repair_overhead_min: float = 3.0  # job start-up and Healthy polling
    media_gib: float = 3.0  # [P-dell]: "more than 2-3 GB per node"
    download_mib_per_s: float = 10.0  # about 80 Mbit/s of a shared Internet link per node

    @staticmethod
    def from_timing(timing: Timing | None) -> "Physics":
        t = timing or DEFAULT_TIMING
        write = t.write_per_s / MiB if t.write_per_s is not None else Physics.write_mib_per_s
        return Physics(t.live_migration_per_s / GiB, float(t.per_vm_migration), write,
                       t.resync_per_s / MiB, t.repair_overhead / 60, t.media_size / GiB, t.download_per_s / MiB)


PHYSICS = Physics()


def drain_minutes(model: Model, physics: Physics = PHYSICS) -> float:
    """Live-migrate one node's share of the HA VMs (VMs assumed spread evenly over the nodes)."""
    nodes = max(len(model.cluster.nodes), 1)
    memory = model.cluster.ha_vm_memory / nodes
    vms = sum(g.count for g in model.cluster.vm_groups if g.ha) / nodes
    seconds = memory / (physics.live_migration_gib_per_s * GiB) + vms * physics.per_vm_migration_s
    return seconds / 60


def write_mib_per_s(model: Model, physics: Physics = PHYSICS) -> float:
    """MiB/s landing on a down node's copies: the timing block's `write_per_s`, else from the VM groups' writes.

    The workload sets it (storage.down_node_write_rate), so a busy cluster resyncs longer after
    the same reboot than a quiet one [H-maint, W-resync]: "grows with pause length and data written".
    """
    if model.timing is not None and model.timing.write_per_s is not None:
        return physics.write_mib_per_s
    return down_node_write_rate(model.cluster) / MiB


def deploy_model(model: Model) -> Triangular:
    """The solution deployment: [A-arm]'s 2.5-3 h, plus a per-node term above DEPLOY_BASE_NODES ([A-inst])."""
    extra = DEPLOY_MINUTES_PER_NODE * max(len(model.cluster.nodes) - DEPLOY_BASE_NODES, 0)
    base = DEFAULT_MODELS["solution.deploy"]
    if not extra:
        return base
    return Triangular(base.low + extra, base.mode + extra, base.high + extra,
                      f"{base.provenance}, plus {DEPLOY_MINUTES_PER_NODE:g} min per node above {DEPLOY_BASE_NODES} "
                      "(assumption; [A-inst]: longer with more nodes)", assumption=True)


def download_minutes(physics: Physics = PHYSICS) -> float:
    """Download the feature update on one node: media size over the download bandwidth."""
    return physics.media_gib * 1024 / physics.download_mib_per_s / 60


def from_timing_model(m: DurationModel) -> Distribution:
    """The distribution a `model` block of the timing block describes (its values are seconds)."""
    where = f"timing block, {m.spans.header.file}:{m.spans.header.line}" if m.spans else "timing block"
    minutes = {name: (getattr(m, name) / 60 if isinstance(getattr(m, name), int) else None)
               for name in ("value", "low", "mode", "high", "median", "p90")}
    if m.distribution == "fixed":
        return Fixed(minutes["value"], where, assumption=False)
    if m.distribution == "uniform":
        return Uniform(minutes["low"], minutes["high"], where, assumption=False)
    if m.distribution == "triangular":
        return Triangular(minutes["low"], minutes["mode"], minutes["high"], where, assumption=False)
    if m.distribution == "lognormal":
        return LogNormal(minutes["median"], minutes["p90"], where, assumption=False)
    return Empirical(tuple(v / 60 for v in m.observed), where)


@record
class StepDuration:
    """How one step's duration is made: a drawn part, an optional extra part (the download), or the repair physics.

    The repair is `(overhead + ratio x down time) x spread`, where the down time
    is the node's reboot in the same pass plus the offline part of the setup
    before it (`offline_share`): its mean is what `hciplan plan` shows, and the
    simulator uses the down time of each run.
    """

    main: Distribution | None
    extra: Distribution | None = None
    repair_overhead: float = 0.0
    repair_ratio: float = 0.0  # minutes of resync per minute down
    repair: bool = False
    shared_sigma: float = 0.0  # log-sd of the run's shared speed factors on this step (shared_factor_sigma)

    def mean(self, down_minutes: float = 0.0) -> float:
        total = (self.main.mean if self.main else 0.0) + (self.extra.mean if self.extra else 0.0)
        if self.repair:
            total += self.repair_overhead + self.repair_ratio * down_minutes
        return total

    def quantile(self, q: float, down_minutes: float = 0.0) -> float:
        """A conservative q-quantile: the parts' quantiles added and times the shared factor's quantile.

        Exact when the parts and the factor move together; above the true quantile otherwise (q > 0.5).
        """
        total = (self.main.quantile(q) if self.main else 0.0) + (self.extra.quantile(q) if self.extra else 0.0)
        if self.repair:
            total += (self.repair_overhead + self.repair_ratio * down_minutes) * SPREAD.quantile(q)
        return total * factor_quantile(self.shared_sigma, q)

    def provenance(self) -> str:
        parts = [d.provenance for d in (self.main, self.extra) if d is not None]
        if self.repair:
            parts.append("physics: " + PHYSICS_MODELS["storage.wait"])
        return "; ".join(parts)


def shared_factor_sigma(timing: Timing | None) -> float:
    """The log-sd of the product of a run's two shared factors (run and duration model), which are independent."""
    t = timing or DEFAULT_TIMING
    return math.hypot(t.run_spread, t.kind_spread)


def factor_mu(sigma: float) -> float:
    """The log-mean that gives a lognormal factor of log-sd `sigma` a mean of exactly 1."""
    return -sigma * sigma / 2


def factor_quantile(sigma: float, q: float) -> float:
    """The q-quantile of a lognormal factor of mean 1 and log-sd `sigma` (1 when sigma is 0)."""
    if sigma == 0:
        return 1.0
    return math.exp(factor_mu(sigma) + sigma * inv_normal(q))


def resolve(model: Model, kind: str | None, model_name: str) -> StepDuration:
    """The duration of a step of `kind` whose duration model is `model_name`, after the file's timing block.

    Precedence: a timing `model` named after the step kind, then one named after
    the duration model, then the default (a table entry, or physics).
    """
    timing = model.timing or DEFAULT_TIMING
    physics = Physics.from_timing(model.timing)
    shared = shared_factor_sigma(timing)
    override = (timing.model(kind) if kind else None) or timing.model(model_name)
    extra = None
    if model_name == "os.install" and model.upgrade is not None and model.upgrade.source == "windows_update":
        download = timing.model("os.download")
        extra = (from_timing_model(download) if download else
                 Scaled(download_minutes(physics), SPREAD, "physics: " + PHYSICS_MODELS["os.download"]))
    if override is not None:
        return StepDuration(from_timing_model(override), extra, shared_sigma=shared)
    if model_name in ("node.drain", "node.resume"):
        return StepDuration(Scaled(1.0 + drain_minutes(model, physics), SPREAD,
                                   "physics: " + PHYSICS_MODELS[model_name]), extra, shared_sigma=shared)
    if model_name == "storage.wait":
        ratio = write_mib_per_s(model, physics) / physics.resync_mib_per_s
        return StepDuration(None, extra, physics.repair_overhead_min, ratio, repair=True, shared_sigma=shared)
    if model_name == "solution.deploy":
        return StepDuration(deploy_model(model), extra, shared_sigma=shared)
    return StepDuration(DEFAULT_MODELS[model_name], extra, shared_sigma=shared)


def offline_share(model: Model, kind: str) -> float:
    """The share of a step's drawn duration during which its node is down: the offline part of setup.

    A feature update's setup runs its first (downlevel) phase with the OS up, then restarts and runs
    its SafeOS and first-boot phases offline; the plan's install step holds the whole setup, its reboot
    step only the restarts. While setup runs offline the node's drives serve no writes, so that part
    counts as down time, like the reboot: in the resync and in the exposure. No split is published
    (domain.md section 5: "per-node OS install time" is not), so the share of the setup is an
    **assumption**: `timing.offline_share`, default 0.5. The download of a Windows Update install
    (`os.download`, its extra part) runs online: the share of the whole step is scaled so that its
    mean offline part is the share of the setup's mean alone. 0 for every kind that is not a setup.
    """
    if not CATALOG[kind].offline_part:
        return 0.0
    share = (model.timing or DEFAULT_TIMING).offline_share
    d = resolve(model, kind, CATALOG[kind].duration_model)
    if share == 0 or d.extra is None:
        return share
    setup = d.main.mean
    total = setup + d.extra.mean
    return share * setup / total if total > 0 else 0.0


def mean_minutes(kind: str, model: Model, down_minutes: float = 0.0, step_kind: str | None = None) -> float:
    """The expected duration of one step whose duration model is `kind` (and whose catalog kind is `step_kind`)."""
    return resolve(model, step_kind, kind).mean(down_minutes)
