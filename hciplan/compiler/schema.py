"""The language's schema: which blocks exist, their labels, attributes, types and defaults.

The grammar only knows blocks and attributes; this table gives them meaning.
`lower.py` checks a syntax tree against it and builds the model classes named
here, whose field names are the attribute names. docs/language.md documents
the same table (a test keeps the two in step).
"""

from __future__ import annotations

from typing import Any

from hciplan.compiler import model
from hciplan.records import record

REQUIRED = object()  # marks an attribute without a default


@record(slots=False)
class Attr:
    name: str
    type: str  # string | bool | int | number | size | duration | duration_list | ipv4 | ipv4_network | ipv4_range | timestamp | enum | string_list | clock | date
    doc: str
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()  # for enums
    min: int | float | None = None
    max: int | float | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@record(slots=False)
class BlockSpec:
    name: str
    model: type
    doc: str
    label: str | None = None  # the model field that receives the label, if the block takes one
    attrs: tuple[Attr, ...] = ()
    children: tuple["Child", ...] = ()

    def attr(self, name: str) -> Attr | None:
        return next((a for a in self.attrs if a.name == name), None)

    def child(self, name: str) -> "Child | None":
        return next((c for c in self.children if c.spec.name == name), None)


@record(slots=False)
class Child:
    spec: BlockSpec
    field: str  # the parent model's field
    repeated: bool = False
    required: bool = False  # at least one such block must be written


def enum(name: str, choices: str, doc: str, default: Any = REQUIRED) -> Attr:
    return Attr(name, "enum", doc, default, tuple(choices.split()))


NODE = BlockSpec("node", model.Node, "A physical server of the cluster.", label="name", attrs=(
    Attr("memory", "size", "Installed memory (`Get-ClusterNode`/`Get-VMHost` MemoryCapacity)."),
    Attr("ip", "ipv4", "Management IPv4 address, optionally with its prefix: `10.0.10.11/24`."),
))
POOL = BlockSpec("pool", model.Pool, "The S2D storage pool (the non-primordial one).", label="name", attrs=(
    Attr("size", "size", "Pool size (`Get-StoragePool` Size)."),
    Attr("allocated", "size", "Allocated size (`Get-StoragePool` AllocatedSize)."),
    Attr("reserve", "size", "Capacity to keep unallocated for in-place repair (one capacity drive per node, "
         "up to four); unset: assumed from the pool size, see HCI305.", None),
))
VOLUME = BlockSpec("volume", model.Volume, "A virtual disk / cluster shared volume.", label="name", attrs=(
    Attr("size", "size", "Volume size as seen by the host."),
    enum("resiliency", "mirror_2way mirror_3way nested_mirror_2way dual_parity mirror_accelerated_parity",
         "Resiliency setting of the virtual disk."),
    enum("provisioning", "fixed thin", "Provisioning type.", "fixed"),
    Attr("used", "size", "Data written on the volume; lets hciplan say what a thin conversion frees.", None),
))
VM_GROUP = BlockSpec("vm_group", model.VmGroup, "A group of similar VMs.", label="name", attrs=(
    Attr("count", "int", "Number of VMs in the group.", min=1, max=100000),
    Attr("memory", "size", "Total memory assigned to the group's VMs (not per VM)."),
    Attr("ha", "bool", "Whether the VMs are highly available (clustered roles).", True),
    Attr("dynamic_memory", "bool", "Whether the VMs use dynamic memory.", False),
    Attr("write_per_s", "size", "Data the group's VMs write per second, all of them together (storage resync). "
         "Default: 512KB per VM, an assumption.", None, min=0),
))
AKS = BlockSpec("aks", model.Aks, "AKS on Azure Stack HCI (AKS Arc) as installed today.", attrs=(
    Attr("installed", "bool", "Whether AKS Arc is installed.", False),
    Attr("preview", "bool", "Whether a preview AKS (or MOC) was used; removal then adds `Uninstall-Moc`.", False),
))
ARC_VMS = BlockSpec("arc_vms", model.ArcVms, "Arc VM management as installed today.", attrs=(
    Attr("preview", "bool", "Whether the preview of Arc VM management is installed.", False),
))
CLUSTER = BlockSpec("cluster", model.Cluster, "The cluster as it is today.", label="name", attrs=(
    Attr("version", "string", 'Current version, such as "22H2".'),
    Attr("registered", "bool", "Whether `Get-AzureStackHCI` reports Registered and Connected."),
    enum("witness", "cloud file_share disk none", "Quorum witness type."),
    Attr("language", "string", "Install language of the nodes.", "en-US"),
    enum("bitlocker", "on off", "BitLocker on the OS volumes.", "off"),
    enum("wdac", "enforced audit off", "WDAC (application control) policy state.", "off"),
    Attr("network_atc", "bool", "Whether Network ATC is installed and intents are configured.", False),
    enum("managed_by", "none scvmm_2022 scvmm_2025", "Management by System Center VMM.", "none"),
    Attr("stretched", "bool", "Whether the cluster is stretched across two sites.", False),
    Attr("supplemental_package", "bool", "Whether the 22H2 Supplemental Package is installed.", False),
), children=(
    Child(NODE, "nodes", repeated=True, required=True),
    Child(POOL, "pool"),
    Child(VOLUME, "volumes", repeated=True),
    Child(VM_GROUP, "vm_groups", repeated=True),
    Child(AKS, "aks"),
    Child(ARC_VMS, "arc_vms"),
))
WINDOW = BlockSpec("window", model.Window, "A maintenance window.", label="name", attrs=(
    Attr("start", "timestamp", "Start, with a zone: `2026-12-05T22:00Z`."),
    Attr("end", "timestamp", "End, with a zone."),
))
SOLUTION = BlockSpec("solution", model.Solution, "Inputs of the solution upgrade; its presence asks for it.", attrs=(
    Attr("key_vault", "string", "Key vault name (new or existing)."),
    Attr("deployment_user", "string", "LCM deployment user (AD user, local admin on every node)."),
    Attr("ip_range", "ipv4_range", "At least 6 contiguous free IPs in the management subnet."),
    Attr("custom_location", "string", 'Custom location name; defaults to "<cluster>-cl".', None),
    Attr("subnet", "ipv4_network", "Management subnet; defaults to the node IPs' prefix, else /24.", None),
    Attr("adou_path", "string", 'AD OU for the deployment, e.g. "OU=HCI,DC=contoso,DC=com".', None),
))
UPGRADE = BlockSpec("upgrade", model.Upgrade, "What to do to the cluster; its label is the cluster's name.",
                    label="name", attrs=(
    Attr("to", "string", 'Target version, such as "23H2".'),
    enum("method", "cau wac manual offline", "How the OS upgrade runs.", "cau"),
    enum("source", "windows_update media", "Where the feature update comes from.", "windows_update"),
    Attr("media_path", "string", "With `source = media`: the folder of the extracted ISO, same path on every node.", None),
    Attr("orchestrator", "string", "Windows Server 2022 machine outside the cluster that drives CAU.", None),
    Attr("max_failed_nodes", "int", "CAU `-MaxFailedNodes` (hciplan's default is 0: stop at the first failed node).",
         0, min=0, max=63),
    Attr("max_retries_per_node", "int", "CAU `-MaxRetriesPerNode`.", 3, min=0, max=64),
    Attr("reboot_timeout", "duration", "CAU `-RebootTimeoutMinutes` (1m to 360m), the bound of every reboot; default: "
         "twice the P90 of the slowest reboot's duration model, at least 15m (CAU's own default).",
         None, min=60, max=360 * 60),
    Attr("node_order", "string_list", "Order in which nodes are upgraded; defaults to file order.", None),
    enum("aks", "remove keep", "What to do with an installed AKS Arc.", "keep"),
    enum("bitlocker", "suspend keep", "Suspend BitLocker before the first reboot, resume at the end.", "keep"),
    enum("wdac", "disable keep", "Disable WDAC before Arc enablement, re-apply after.", "keep"),
    enum("network_atc", "configure keep", "Install and configure Network ATC (rolling, per node).", "keep"),
    enum("functional_level", "with_cau after_validation manual",
         "When the cluster functional level is raised (irreversible).", "after_validation"),
    enum("storage_pool", "update skip", "Whether to run `Update-StoragePool` after the functional level.", "update"),
    enum("vm_version", "update skip", "Whether to run `Update-VMVersion` (needs the VMs stopped).", "skip"),
    Attr("convert_to_thin", "string_list",
         "Fixed volumes to convert to thin before the solution upgrade, to free pool space (their VMs stop).", None),
), children=(
    Child(WINDOW, "windows", repeated=True),
    Child(SOLUTION, "solution"),
))

# --- simulation inputs: the timing block and scenarios (docs/simulation.md) -----------------
_T = model.DEFAULT_TIMING
DISTRIBUTIONS = ("fixed", "uniform", "triangular", "lognormal", "empirical")
# Which attributes each distribution takes; every other parameter is an error (HCI1001).
DISTRIBUTION_PARAMETERS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "lognormal": ("median", "p90"),
    "empirical": ("observed",),
}
FAILURE_MODES = ("error", "hang", "slow", "drain_failure", "resync_stall")

DURATION_MODEL = BlockSpec("model", model.DurationModel,
                           "The duration distribution of a step kind (`cau.install`) or of a duration model "
                           "(`os.install`, shared by every kind that uses it).", label="name", attrs=(
    enum("distribution", " ".join(DISTRIBUTIONS), "The distribution's family."),
    Attr("value", "duration", "fixed: the duration.", None, min=0),
    Attr("low", "duration", "uniform, triangular: the shortest duration.", None, min=0),
    Attr("mode", "duration", "triangular: the most likely duration.", None, min=0),
    Attr("high", "duration", "uniform, triangular: the longest duration.", None, min=0),
    Attr("median", "duration", "lognormal: the median (half the runs take less).", None, min=1),
    Attr("p90", "duration", "lognormal: the 90th percentile (nine runs in ten take less).", None, min=1),
    Attr("observed", "duration_list", "empirical: durations observed on earlier runs, drawn with equal chance.",
         None),
    Attr("observations", "int", "How many observed durations the model was fitted to (`hciplan calibrate` "
         "writes it; provenance only).", None, min=1),
))
TIMING = BlockSpec("timing", model.Timing,
                   "Physics parameters and duration models of the simulation (`hciplan simulate`); "
                   "rates are written as a size per second.", attrs=(
    Attr("live_migration_per_s", "size", "Live-migration bandwidth per second (drain and failback).",
         _T.live_migration_per_s, min=1),
    Attr("per_vm_migration", "duration", "Fixed cost per VM migrated (drain and failback).", _T.per_vm_migration,
         min=0),
    Attr("write_per_s", "size", "Data written per second that lands on a down node's copies (resync). "
         "Default: computed from the VM groups' writes.", _T.write_per_s, min=0),
    Attr("resync_per_s", "size", "Storage resync (repair) throughput per second.", _T.resync_per_s, min=1),
    Attr("repair_overhead", "duration", "Fixed part of every storage repair wait (jobs start, disks report Healthy).",
         _T.repair_overhead, min=0),
    Attr("media_size", "size", "Feature-update download per node with `source = windows_update`.",
         _T.media_size, min=0),
    Attr("download_per_s", "size", "Download bandwidth per node, per second.", _T.download_per_s, min=1),
    Attr("drain_timeout", "duration", "How long a drain is waited for (script and simulator); default: twice "
         "the drain's P90, at least 30m.", _T.drain_timeout, min=60),
    Attr("repair_timeout", "duration", "How long a storage repair is waited for (script and simulator); default: "
         "twice the repair's P90, at least 2h.", _T.repair_timeout, min=60),
    Attr("window_confidence", "number",
         "A node (or any unit of work) starts only if it finishes before the window ends with this probability.",
         _T.window_confidence, min=0.5, max=0.999),
    Attr("offline_share", "number", "Share of a feature-update setup's duration that runs after its first restart "
         "(the node is down: it counts in the resync and the exposure). Default 0.5: an assumption.",
         _T.offline_share, min=0, max=1),
    Attr("run_spread", "number", "Log-sd of a speed factor (mean 1) shared by every step of one run: a slow night "
         "is slow throughout. 0 makes runs independent step by step. Default: an assumption until calibrated.",
         _T.run_spread, min=0, max=1),
    Attr("kind_spread", "number", "Log-sd of a speed factor (mean 1) shared, within one run, by the steps of one "
         "duration model (every node's resync, every drain). Default: an assumption until calibrated.",
         _T.kind_spread, min=0, max=1),
    Attr("calibrated_runs", "int", "How many past runs the models were calibrated from (`hciplan calibrate` "
         "writes it; the simulation header shows it).", _T.calibrated_runs, min=1),
    Attr("calibrated_from", "timestamp", "The first observation's time (provenance, from `hciplan calibrate`).",
         _T.calibrated_from),
    Attr("calibrated_to", "timestamp", "The last observation's time (provenance, from `hciplan calibrate`).",
         _T.calibrated_to),
    Attr("max_recoveries", "int", "How many times a run recovers one step that failed (a person recovers it, the "
         "script reruns it); the next failure ends the run. 0: no recovery. Default: an assumption.",
         _T.max_recoveries, min=0, max=10),
), children=(Child(DURATION_MODEL, "models", repeated=True),))
FAILURE = BlockSpec("fail", model.Failure, "An injected failure on one node's step (the file form of `--fail`).",
                    label="node", attrs=(
    Attr("step", "string", 'The step: a verb (`"reboot"`), `"pass.verb"` (`"registry.reboot"`), a kind or a step id.'),
    enum("mode", " ".join(FAILURE_MODES), "How the step fails.", "error"),
    Attr("attempts", "int", "error: how many attempts fail (CAU retries the node's whole attempt).", 1, min=1, max=65),
    Attr("factor", "number", "slow: the factor on the step's duration.", 2.0, min=0.01, max=1000),
))
RISK = BlockSpec("risk", model.Risk, "A failure probability for every step of a kind (each attempt draws).",
                 label="kind", attrs=(
    Attr("probability", "number", "Probability that one attempt of the step fails (0 to 1).", min=0, max=1),
    enum("mode", " ".join(FAILURE_MODES), "How the step fails.", "error"),
    Attr("factor", "number", "slow: the factor on the step's duration.", 2.0, min=0.01, max=1000),
))
SCENARIO = BlockSpec("scenario", model.Scenario, "A named set of failures for `hciplan simulate --scenario NAME`.",
                     label="name", children=(Child(FAILURE, "failures", repeated=True),
                                             Child(RISK, "risks", repeated=True)))

TOP_LEVEL = (CLUSTER, UPGRADE)
ALL_BLOCKS = (CLUSTER, NODE, POOL, VOLUME, VM_GROUP, AKS, ARC_VMS, UPGRADE, WINDOW, SOLUTION)
# The simulation inputs are top-level blocks too; they are kept apart from TOP_LEVEL until every
# consumer of TOP_LEVEL (docs, the formatter) knows their attribute types (`number`, `duration_list`).
SIMULATION_TOP_LEVEL = (TIMING, SCENARIO)

# PowerShell's numeric suffixes are binary (1GB = 1073741824), and so are ours:
# administrators copy these figures from PowerShell output.
SIZE_UNITS = {
    "B": 1,
    "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5,
}
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

TYPE_NAMES = {
    "string": "a quoted string",
    "bool": "`true` or `false`",
    "int": "a whole number",
    "size": "a size such as `768GB`",
    "duration": "a duration such as `45m` or `1h30m`",
    "ipv4": "an IPv4 address such as `10.0.10.11`",
    "ipv4_network": "an IPv4 network such as `10.0.10.0/24`",
    "ipv4_range": "an IPv4 range such as `10.0.10.50 .. 10.0.10.55`",
    "timestamp": "a timestamp such as `2026-12-05T22:00Z`",
    "enum": "one of the listed identifiers",
    "string_list": 'a list of quoted strings such as `["HCI01", "HCI02"]`',
    "number": "a number such as `0.9` or `3`",
    "duration_list": "a list of durations such as `[40m, 52m, 1h5m]`",
    "clock": "a time of day such as `22:00`",
    "date": "a date such as `2026-12-24`",
}


def model_fields(spec: BlockSpec) -> set[str]:
    """The attribute and child fields a spec fills (a test checks they match the model)."""
    names = {a.name for a in spec.attrs} | {c.field for c in spec.children}
    return names | ({spec.label} if spec.label else set())


