"""Default duration models per step, with their provenance, and expected (mean) durations.

A model is a triangular distribution (low, mode, high) in minutes, unless a
step's duration follows from physics (drain and failback from VM memory over
the live-migration bandwidth; storage repair from the data written while the
node was down). Figures the domain reference publishes carry its tag; every
other figure is an explicit assumption, labelled as such. The simulator
samples these models; `hciplan plan` uses their means.
"""

from __future__ import annotations

from dataclasses import dataclass

from hciplan.compiler.model import GiB, Model


@dataclass(frozen=True, slots=True)
class Triangular:
    low: float
    mode: float
    high: float
    provenance: str
    assumption: bool = True

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3


def _published(low: float, mode: float, high: float, source: str) -> Triangular:
    return Triangular(low, mode, high, source, assumption=False)


def _assumed(low: float, mode: float, high: float, why: str) -> Triangular:
    return Triangular(low, mode, high, f"assumption: {why}")


DEFAULT_MODELS: dict[str, Triangular] = {
    "gate.preflight": _assumed(2, 5, 10, "read-only queries on every node"),
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
    "post.registry_check": _assumed(0.5, 1, 2, "registry reads"),
    "post.functional_level": _assumed(0.5, 1, 3, "one cluster-wide cmdlet"),
    "post.storage_pool": _assumed(1, 2, 5, "runs online [A-post]"),
    "post.vm_version": _assumed(5, 10, 30, "stop, update and start the VMs"),
    "post.sync": _published(1, 2, 15, "[S-ver]: immediate after Sync-AzureStackHCI"),
    "offline.stop": _assumed(5, 10, 20, "virtual disks offline and Stop-Cluster"),
    "offline.start": _assumed(10, 15, 30, "Start-Cluster and pool health"),
    "atc.install": _assumed(5, 10, 20, "feature install on all nodes, no reboot [A-atc]"),
    "atc.configure": _assumed(20, 30, 60, "per-node ATC migration time is not published [domain.md section 5]"),
    "atc.verify": _assumed(2, 5, 10, "intent status polling"),
    "remediate.apply": _assumed(5, 15, 30, "feature installs; the reboot is a separate step"),
    "thin.convert": _assumed(10, 15, 30, "provisioning change and CSV cycle per volume"),
    "lcm.extension": _assumed(5, 10, 20, "Arc extension install"),
    "ad.prepare": _assumed(2, 5, 10, "AD object creation"),
    "readiness.validate": _assumed(15, 30, 60, "Environment Checker runtime is not published [domain.md section 5]"),
    "solution.validate": _published(8, 10, 15, "[A-arm]: about 10 min"),
    "solution.deploy": _published(150, 165, 180, "[A-arm]: 2.5-3 h"),
    "bitlocker.resume": _assumed(0.5, 1, 2, "one cmdlet per node"),
    "wdac.reapply": _assumed(5, 10, 20, "operator re-applies the policies"),
    "after.verify": _published(10, 15, 20, "[S-lcm]: LCM initialisation about 15-20 min"),
}


@dataclass(frozen=True, slots=True)
class Physics:
    """Parameters of the physical models. All are assumptions (nothing is published)."""

    live_migration_gib_per_s: float = 1.0  # about 10 GbE with compression
    per_vm_migration_s: float = 5.0
    write_mib_per_s: float = 20.0  # writes landing on a down node's copies
    resync_mib_per_s: float = 200.0
    repair_overhead_min: float = 3.0  # job start-up and Healthy polling


PHYSICS = Physics()


def drain_minutes(model: Model, physics: Physics = PHYSICS) -> float:
    """Live-migrate one node's share of the HA VMs (VMs assumed spread evenly over the nodes)."""
    nodes = max(len(model.cluster.nodes), 1)
    memory = model.cluster.ha_vm_memory / nodes
    vms = sum(g.count for g in model.cluster.vm_groups if g.ha) / nodes
    seconds = memory / (physics.live_migration_gib_per_s * GiB) + vms * physics.per_vm_migration_s
    return seconds / 60


def repair_minutes(down_minutes: float, physics: Physics = PHYSICS) -> float:
    """Resync the data written while the node was down: write rate x down time over resync rate."""
    written_mib = physics.write_mib_per_s * down_minutes * 60
    return physics.repair_overhead_min + written_mib / physics.resync_mib_per_s / 60


def mean_minutes(kind: str, model: Model, down_minutes: float = 0.0) -> float:
    """The expected duration of one step of `kind` (a catalog kind's duration model name)."""
    if kind in ("node.drain", "node.resume"):
        return 1.0 + drain_minutes(model)  # failback migrates the VMs back
    if kind == "storage.wait":
        return repair_minutes(down_minutes)
    return DEFAULT_MODELS[kind].mean
