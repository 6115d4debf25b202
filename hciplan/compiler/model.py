"""The typed, frozen model of a `.hciplan` file: the IR every later stage reads.

Field names equal the language's attribute names (see `schema.py`). Every
object carries `span` (its block header) and `spans` (where each attribute was
written); both are excluded from equality, so two files that say the same
thing give equal models whatever their layout.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import field

from hciplan.compiler.source import Span
from hciplan.records import record

MiB = 1024**2
GiB = 1024**3
TiB = 1024**4


@record
class Spans:
    """Where each attribute of a block was written; falls back to the block header."""

    header: Span
    attributes: tuple[tuple[str, Span], ...] = ()

    def __getitem__(self, name: str) -> Span:
        for key, span in self.attributes:
            if key == name:
                return span
        return self.header

    def written(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)


def _spans() -> Spans:
    return field(default=None, compare=False, repr=False)  # type: ignore[return-value]


@record
class IPv4Range:
    start: ipaddress.IPv4Address
    end: ipaddress.IPv4Address

    @property
    def size(self) -> int:
        return int(self.end) - int(self.start) + 1

    def __contains__(self, address: ipaddress.IPv4Address) -> bool:
        return int(self.start) <= int(address) <= int(self.end)

    def __str__(self) -> str:
        return f"{self.start} .. {self.end}"


@record
class Node:
    name: str
    memory: int  # bytes
    ip: ipaddress.IPv4Interface
    spans: Spans = _spans()


@record
class Pool:
    name: str
    size: int
    allocated: int
    # what to keep unallocated for in-place repair (None: storage.repair_reserve's assumption);
    # it changes no step of the plan, so the fingerprint leaves it out
    reserve: int | None = field(default=None, metadata={"fingerprint": False})
    spans: Spans = _spans()

    @property
    def free(self) -> int:
        return self.size - self.allocated


@record
class Volume:
    name: str
    size: int
    resiliency: str
    provisioning: str = "fixed"
    used: int | None = None
    spans: Spans = _spans()


@record
class VmGroup:
    name: str
    count: int
    memory: int  # total assigned memory of the group's VMs, in bytes
    ha: bool = True
    dynamic_memory: bool = False
    write_per_s: int | None = None  # the group's writes per second, all its VMs; None: count x an assumed rate
    spans: Spans = _spans()


@record
class Aks:
    installed: bool = False
    preview: bool = False
    spans: Spans = _spans()


@record
class ArcVms:
    preview: bool = False
    spans: Spans = _spans()


@record
class Cluster:
    name: str
    version: str
    registered: bool
    witness: str
    language: str = "en-US"
    bitlocker: str = "off"
    wdac: str = "off"
    network_atc: bool = False
    managed_by: str = "none"
    stretched: bool = False
    supplemental_package: bool = False
    nodes: tuple[Node, ...] = ()
    pool: Pool | None = None
    volumes: tuple[Volume, ...] = ()
    vm_groups: tuple[VmGroup, ...] = ()
    aks: Aks = Aks()
    arc_vms: ArcVms = ArcVms()
    spans: Spans = _spans()

    def node(self, name: str) -> Node | None:
        for node in self.nodes:
            if node.name.lower() == name.lower():
                return node
        return None

    @property
    def ha_vm_memory(self) -> int:
        return sum(g.memory for g in self.vm_groups if g.ha)

    @property
    def vm_count(self) -> int:
        return sum(g.count for g in self.vm_groups)


@record
class Window:
    name: str
    start: dt.datetime
    end: dt.datetime
    spans: Spans = _spans()


@record
class Solution:
    key_vault: str
    deployment_user: str
    ip_range: IPv4Range
    custom_location: str | None = None
    subnet: ipaddress.IPv4Network | None = None
    adou_path: str | None = None
    spans: Spans = _spans()


@record
class Upgrade:
    name: str
    to: str
    method: str = "cau"
    source: str = "windows_update"
    media_path: str | None = None
    orchestrator: str | None = None
    max_failed_nodes: int = 0
    max_retries_per_node: int = 3
    reboot_timeout: int | None = None  # seconds; None: derived from the reboot models (compiler/bounds.py)
    node_order: tuple[str, ...] | None = None
    aks: str = "keep"
    bitlocker: str = "keep"
    wdac: str = "keep"
    network_atc: str = "keep"
    functional_level: str = "after_validation"
    storage_pool: str = "update"
    vm_version: str = "skip"
    convert_to_thin: tuple[str, ...] | None = None
    windows: tuple[Window, ...] = ()
    solution: Solution | None = None
    spans: Spans = _spans()


@record
class DurationModel:
    """A `model "NAME" { ... }` in the timing block: the distribution of one step kind or duration model.

    Durations are in seconds, as written; which fields are set depends on `distribution`.
    """

    name: str
    distribution: str
    value: int | None = None
    low: int | None = None
    mode: int | None = None
    high: int | None = None
    median: int | None = None
    p90: int | None = None
    observed: tuple[int, ...] | None = None
    observations: int | None = None  # how many observations a calibrated model was fitted to (provenance only)
    spans: Spans = _spans()


@record
class Timing:
    """The `timing { ... }` block: physics parameters and duration models for the simulator.

    Rates are bytes per second, durations seconds. The defaults are hciplan's
    assumptions (docs/simulation.md gives their provenance).
    """

    live_migration_per_s: int = GiB
    per_vm_migration: int = 5
    write_per_s: int | None = None  # None: from the workload (durations.write_rate)
    resync_per_s: int = 200 * MiB
    repair_overhead: int = 3 * 60
    media_size: int = 3 * GiB
    download_per_s: int = 10 * MiB
    drain_timeout: int | None = None  # seconds; None: derived from the drain's duration (compiler/bounds.py)
    repair_timeout: int | None = None
    window_confidence: float = 0.9
    # The share of a feature-update setup that runs after its first restart, node down (an assumption:
    # no split is published; durations.offline_share).
    offline_share: float = 0.5
    # Shared speed: every run draws one lognormal factor of mean 1 for all its steps (run_spread, its
    # log-sd) and one per duration model (kind_spread): the same disks, network and update source serve
    # every node, so a slow night is slow throughout. Both are assumptions until calibrated.
    run_spread: float = 0.1
    kind_spread: float = 0.1
    calibrated_runs: int | None = None  # provenance written by `hciplan calibrate`
    calibrated_from: dt.datetime | None = None
    calibrated_to: dt.datetime | None = None
    models: tuple[DurationModel, ...] = ()
    spans: Spans = _spans()
    # Recoveries a run allows per step (compiler/recovery.py): 1 is an assumption; 0 ends a run at its first
    # failure (aborted), as before recoveries were modelled.
    max_recoveries: int = 1

    def model(self, name: str) -> DurationModel | None:
        return next((m for m in self.models if m.name == name), None)


DEFAULT_TIMING = Timing()


@record
class Failure:
    """A `fail "NODE" { ... }` in a scenario: one injected failure (the file form of `--fail`)."""

    node: str
    step: str
    mode: str = "error"
    attempts: int = 1
    factor: float = 2.0
    spans: Spans = _spans()


@record
class Risk:
    """A `risk "KIND" { ... }` in a scenario: each attempt of a step of that kind fails with a probability."""

    kind: str
    probability: float
    mode: str = "error"
    factor: float = 2.0
    spans: Spans = _spans()


@record
class Scenario:
    """A `scenario "NAME" { ... }` block: failures to inject into a simulation (`--scenario NAME`)."""

    name: str
    failures: tuple[Failure, ...] = ()
    risks: tuple[Risk, ...] = ()
    spans: Spans = _spans()


# Timing and scenarios are assumptions and what-ifs, not facts about the cluster: the plan
# fingerprint (the cluster and the upgrade asked for) leaves them out. The timing still sets each
# step's mean and bound minutes (docs/plan.md), so a saved simulation records a digest of it
# (simulator/inputs.py) to tell another timing block from the file's.
NOT_FINGERPRINTED = {"fingerprint": False}


@record
class Model:
    """One checked file: the cluster as it is, and the upgrade asked for (if any)."""

    cluster: Cluster
    upgrade: Upgrade | None = None
    timing: Timing | None = field(default=None, metadata=NOT_FINGERPRINTED)
    scenarios: tuple[Scenario, ...] = field(default=(), metadata=NOT_FINGERPRINTED)

    def scenario(self, name: str) -> Scenario | None:
        return next((s for s in self.scenarios if s.name == name), None)

    def ordered_nodes(self) -> tuple[Node, ...]:
        """The nodes in upgrade order: `node_order` when given, else file order."""
        order = self.upgrade.node_order if self.upgrade else None
        if not order:
            return self.cluster.nodes
        by_name = {n.name.lower(): n for n in self.cluster.nodes}
        return tuple(by_name[name.lower()] for name in order if name.lower() in by_name)
