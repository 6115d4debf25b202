"""Turn an inventory into a starting `.hciplan` file.

The importer decides what the file says; `hciplan.fmt` prints it. Facts the
inventory holds become attributes. Facts it could not read become `# TODO:`
comments naming the JSON path and the reason, never a silent default: a
required attribute is then left out (so `hciplan check` reports it until a
human writes it), and an attribute with a default says which default applies.
The `upgrade` block starts from safe defaults (a rolling CAU run that stops at
the first failed node, every readiness remediation the cluster needs) and
leaves the human decisions (orchestrator, maintenance window, solution-upgrade
inputs) as commented TODO lines.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hciplan.compiler import schema
from hciplan.compiler.diagnostics import Collector
from hciplan.compiler.pipeline import normalise_newlines
from hciplan.compiler.source import Source
from hciplan.discovery.inventory import (Inventory, InventoryError, NodeInventory, Unknown, escape_control, known,
                                         read_inventory)
from hciplan.fmt import Attr, Block, Comment, Document, document_from_source, render

# OS builds of Azure Stack HCI releases: 20349 is 22H2, 25398 is 23H2, 26100 is 24H2 [A-ps];
# 20348 (21H2) and 17784 (20H2) are reference knowledge, not in domain.md.
BUILD_VERSIONS = {"17784": "20H2", "20348": "21H2", "20349": "22H2", "25398": "23H2", "26100": "24H2"}

# Get-ClusterQuorum's witness resource types.
WITNESS_TYPES = {"cloud witness": "cloud", "file share witness": "file_share", "physical disk": "disk"}

# MSFT_VirtualDisk.ProvisioningType: 1 Thin, 2 Fixed (CIM numbers, when not written as names).
PROVISIONING = {"thin": "thin", "1": "thin", "fixed": "fixed", "2": "fixed"}

# Get-ClusterNetwork Role: ClusterAndClient (3) carries the management traffic.
MANAGEMENT_ROLES = {"clusterandclient", "3"}

# SCVMM agent product versions: 10.22.x is SCVMM 2022, 10.25.x SCVMM 2025 (reference knowledge:
# System Center version numbering; not in domain.md). Older agents are written as scvmm_2022:
# like 2022, they must be upgraded to 2025 first [A-about].


def _major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None

CODE_INTEGRITY = {0: "off", 1: "audit", 2: "enforced"}


@dataclass(frozen=True)
class ImportResult:
    text: str | None
    errors: tuple[InventoryError, ...]
    todos: int = 0


def import_inventory(data: bytes) -> ImportResult:
    """The formatted `.hciplan` text for an inventory, or the errors that prevent it."""
    read = read_inventory(data)
    if read.inventory is None:
        return ImportResult(None, read.errors)
    document = inventory_document(read.inventory)
    text = render(document)
    problem = _reread_problem(document, text)
    if problem is not None:
        return ImportResult(None, (InventoryError("$", problem),))
    return ImportResult(text, (), text.count("# TODO:"))


def _reread_problem(document: Document, text: str) -> str | None:
    """Why the generated text does not read back as the document the importer built, or None.

    A backstop: every inventory string is escaped where it is printed, so this should never
    fire; if it does, an inventory string broke out of its comment or string, and the file
    is refused rather than written with attributes nobody meant.
    """
    diagnostics = Collector()
    reread = document_from_source(Source("<import>", normalise_newlines(text)), diagnostics)
    if reread is None:
        first = next(iter(diagnostics.sorted()), None)
        where = f" (line {first.span.line}: {first.message})" if first is not None else ""
        return (f"the generated file does not parse{where}: an inventory string breaks its syntax; "
                "this is a bug in hciplan import, please report it with the inventory")
    if _skeleton(reread) != _skeleton(document):
        return ("the generated file does not say what the importer meant (an inventory string escaped its "
                "comment or string); this is a bug in hciplan import, please report it with the inventory")
    return None


def _skeleton(node: Document | Block) -> tuple:
    """What a layout tree says, comments aside: its attribute names and its blocks with their labels.

    Independent of the order the printer chooses (schema order; repeated blocks keep theirs).
    """
    attributes = sorted(item.name for item in node.items if isinstance(item, Attr))
    blocks = sorted((item for item in node.items if isinstance(item, Block)), key=lambda block: block.type)
    labels = tuple(node.labels) if isinstance(node, Block) else ()
    kind = node.type if isinstance(node, Block) else "document"
    return (kind, labels, tuple(attributes), tuple(_skeleton(block) for block in blocks))


def _comment_lines(text: str | tuple[str, ...]) -> list[Comment]:
    """`# ` comment lines: one per line given, inventory strings inside them made visible.

    A newline or other control character from the inventory would end the comment and make
    the rest of the line code; it is written as an escape (`\\n`) instead. Multi-line notes
    pass their lines as a tuple.
    """
    lines = (text,) if isinstance(text, str) else text
    return [comment for line in lines for comment in Comment.lines(escape_control(line))]


class _BlockBuilder:
    """Items in schema order; notes wait for the next item written and lead it."""

    def __init__(self, type_: str, labels: list[str]):
        self.block = Block(type_, labels)
        self.pending: list[Comment] = []
        self.detached = False  # a blank line between the pending notes and the next item

    def note(self, text: str | tuple[str, ...], detached: bool = False) -> None:
        self.pending.extend(_comment_lines(text))
        self.detached = self.detached or detached

    def todo(self, text: str | tuple[str, ...]) -> None:
        lines = (text,) if isinstance(text, str) else text
        self.note(("TODO: " + lines[0],) + tuple(lines[1:]))

    def attr(self, name: str, value, comment: str | None = None) -> None:
        trailing = [f"# {escape_control(comment)}"] if comment else []
        self.block.items.append(Attr(name, value, leading=self.pending, trailing=trailing,
                                     blank_before=self.detached))
        self.pending, self.detached = [], False

    def child(self, block: Block) -> None:
        block.leading = self.pending + block.leading
        block.blank_before = block.blank_before or self.detached
        self.block.items.append(block)
        self.pending, self.detached = [], False

    def done(self) -> Block:
        self.block.dangling.extend(self.pending)
        self.pending = []
        return self.block


def _why(fact: Unknown) -> str:
    return f"{fact.path}: {fact.reason}"


def _default_of(spec: schema.BlockSpec, name: str) -> str:
    attr = spec.attr(name)
    value = attr.default
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def inventory_document(inventory: Inventory) -> Document:
    cluster = _cluster_block(inventory)
    upgrade = _upgrade_block(inventory, cluster)
    source = inventory.collected_on if known(inventory.collected_on) else "an unknown machine"
    when = inventory.collected_at if known(inventory.collected_at) else "an unknown time"
    header = _comment_lines((
        f"Cluster {inventory.cluster_name}, imported by `hciplan import` from the inventory collected",
        f"on {source} at {when}.",
        "Review every TODO below, then run `hciplan check` on this file."))
    return Document([cluster.block, upgrade], header=header)


@dataclass
class _ClusterFacts:
    block: Block
    bitlocker: str | None  # "on", "off" or None when unknown
    wdac: str | None
    network_atc: bool | None
    aks_installed: bool | None
    stretched: bool | None


def _reachable(inventory: Inventory) -> list[NodeInventory]:
    return [n for n in inventory.nodes if n.reachable]


def _per_node(inventory: Inventory, field: str) -> tuple[dict[str, object], list[Unknown]]:
    """A per-node fact: the known values by node name, and the Unknowns.

    For a node that could not be reached at all, the Unknown just names the node: its
    block in the file carries the full reason once.
    """
    values, unknown = {}, []
    for node in inventory.nodes:
        fact = getattr(node, field)
        if known(fact):
            values[node.name] = fact
        elif not node.reachable:
            unknown.append(Unknown(node.path, f"{node.name} could not be read"))
        else:
            unknown.append(fact)
    return values, unknown


def _unknown_note(unknown: list[Unknown]) -> str:
    return "; ".join(_why(u) for u in unknown[:4]) + ("; ..." if len(unknown) > 4 else "")


def _cluster_block(inventory: Inventory) -> _ClusterFacts:
    spec = schema.CLUSTER
    b = _BlockBuilder("cluster", [inventory.cluster_name])

    # version: from the nodes' OS builds.
    builds, unknown = _per_node(inventory, "build")
    versions = {name: BUILD_VERSIONS.get(build) for name, build in builds.items()}
    distinct = sorted({v for v in versions.values() if v}, key=list(BUILD_VERSIONS.values()).index)
    if len(distinct) == 1 and all(versions.values()):
        if unknown:
            b.note(f"version from the nodes that could be read; not read: {_unknown_note(unknown)}")
        b.attr("version", distinct[0])
    elif builds:
        listed = ", ".join(f"{name} {build}" for name, build in builds.items())
        b.todo(f"set `version`: the nodes run OS builds {listed} (20349 is 22H2, 25398 is 23H2)")
    else:
        b.todo(f"set `version` (\"22H2\"): no node's OS could be read ({_unknown_note(unknown)})")

    # registered: Get-AzureStackHCI reports Registered and Connected [A-ts].
    registration = inventory.registration
    if known(registration):
        status, connection = registration
        registered = status.lower() == "registered" and connection.lower() == "connected"
        b.attr("registered", registered,
               None if registered else f"Get-AzureStackHCI: RegistrationStatus {status}, ConnectionStatus {connection}")
    else:
        b.todo(f"set `registered`: Get-AzureStackHCI could not be read ({_why(registration)})")

    # witness: Get-ClusterQuorum's witness resource.
    witness = inventory.witness_type
    if not known(witness):
        b.todo(f"set `witness` (cloud, file_share, disk or none): the quorum could not be read ({_why(witness)})")
    elif witness is None:
        b.attr("witness", "none")
    elif witness.lower() in WITNESS_TYPES:
        b.attr("witness", WITNESS_TYPES[witness.lower()])
    else:
        b.todo(f"set `witness`: the quorum witness is a `{witness}` resource, which hciplan does not know")

    # language: the OS install language of each node [A-val].
    languages, unknown = _per_node(inventory, "install_language")
    distinct_languages = sorted(set(languages.values()))
    if len(distinct_languages) == 1:
        if unknown:
            b.note(f"language from the nodes that could be read; not read: {_unknown_note(unknown)}")
        b.attr("language", distinct_languages[0])
    elif distinct_languages:
        other = next(lang for lang in languages.values() if lang.lower() != "en-us")
        listed = ", ".join(f"{name} {lang}" for name, lang in languages.items())
        b.attr("language", other, f"the nodes differ: {listed}")
    else:
        b.todo(f"set `language`: no node's install language could be read ({_unknown_note(unknown)}); "
               f"until then hciplan assumes \"{_default_of(spec, 'language')}\"")

    # bitlocker: the OS volume of every node.
    protection, unknown = _per_node(inventory, "bitlocker_protection")
    protected = sorted(name for name, status in protection.items() if status.lower() in ("on", "1"))
    bitlocker: str | None
    if protected:
        bitlocker = "on"
        note = None if len(protected) == len(inventory.nodes) else "on for " + ", ".join(protected)
        b.attr("bitlocker", "on", note)
    elif unknown:
        bitlocker = None
        b.todo(f"set `bitlocker` (on or off): not read on every node ({_unknown_note(unknown)}); "
               "the nodes that were read have it off; until then hciplan assumes off")
    else:
        bitlocker = "off"
        b.attr("bitlocker", "off")

    # wdac: Win32_DeviceGuard code integrity, the strictest node wins.
    integrity, unknown = _per_node(inventory, "code_integrity")
    wdac: str | None = None
    if integrity and (not unknown or max(integrity.values()) == 2):
        wdac = CODE_INTEGRITY.get(max(integrity.values()), "enforced")
        if unknown:
            b.note(f"WDAC not read on every node: {_unknown_note(unknown)}")
        b.attr("wdac", wdac)
    else:
        b.todo(f"set `wdac` (enforced, audit or off): not read on every node ({_unknown_note(unknown)}); "
               "until then hciplan assumes off")

    # network_atc: the NetworkATC feature on every node and at least one intent [A-atc].
    features, unknown = _per_node(inventory, "features")
    intents = inventory.net_intents
    network_atc: bool | None = None
    if unknown or not known(intents):
        reasons = unknown + ([intents] if not known(intents) else [])
        b.todo(f"set `network_atc` (true when Network ATC is installed with intents): not read "
               f"({_unknown_note(reasons)}); until then hciplan assumes false")
    else:
        missing = sorted(name for name, f in features.items() if f.get("NetworkATC", "").lower() != "installed")
        network_atc = not missing and bool(intents)
        why = None
        if missing:
            why = "the NetworkATC feature is not installed on " + ", ".join(missing)
        elif not intents:
            why = "NetworkATC is installed but has no intent"
        b.attr("network_atc", network_atc, why)

    # managed_by: the SCVMM agent service and its version.
    versions_found, unknown = _per_node(inventory, "scvmm_agent_version")
    agents = {name: v for name, v in versions_found.items() if v}
    if agents:
        listed = ", ".join(f"{n} {v}" for n, v in agents.items())
        releases = {_major_minor(v) for v in agents.values()}
        if None in releases:
            b.todo(f"set `managed_by`: SCVMM agent versions {listed} are not ones hciplan knows")
        elif any(r < (10, 25) for r in releases):
            b.attr("managed_by", "scvmm_2022", f"SCVMM agent {listed}: older than SCVMM 2025")
        elif releases == {(10, 25)}:
            b.attr("managed_by", "scvmm_2025", f"SCVMM agent {listed}")
        else:
            b.todo(f"set `managed_by`: SCVMM agent versions {listed} are newer than hciplan knows")
    elif unknown:
        b.todo(f"set `managed_by`: the SCVMM agent could not be checked ({_unknown_note(unknown)}); "
               "until then hciplan assumes none")
    else:
        b.attr("managed_by", "none")

    # stretched: two or more sites (Get-ClusterFaultDomain -Type Site).
    sites = inventory.sites
    stretched: bool | None = None
    if known(sites):
        stretched = len(sites) >= 2
        b.attr("stretched", stretched, ("sites: " + ", ".join(sites)) if stretched else None)
    else:
        b.todo(f"set `stretched`: the sites could not be read ({_why(sites)}); until then hciplan assumes false")

    b.note("TODO: discovery cannot tell whether the 22H2 Supplemental Package is installed; it cannot take "
           "this upgrade [A-about]. If it is, write `supplemental_package = true`", detached=True)

    for node in inventory.nodes:
        b.child(_node_block(node, inventory))
    _storage(b, inventory)
    _vm_groups(b, inventory)
    aks_installed = _aks(b, inventory)
    _arc_vms(b, inventory)
    return _ClusterFacts(b.done(), bitlocker, wdac, network_atc, aks_installed, stretched)


def _node_block(node: NodeInventory, inventory: Inventory) -> Block:
    b = _BlockBuilder("node", [node.name])
    if not node.reachable:
        reason = node.unreachable_reason or "the inventory has no details for it"
        b.note(f"TODO: {node.name} could not be read ({node.path}: {reason}); fill in what is missing")
    if known(node.state) and node.state.lower() not in ("up", "0"):
        b.note(f"TODO: {node.name} was {node.state} when the inventory ran; every node must be Up before "
               "the upgrade [H-maint]")
    if known(node.memory):
        b.attr("memory", node.memory)
    else:
        b.todo("set `memory` (installed memory such as 768GB)" + ("" if not node.reachable else f": {_why(node.memory)}"))
    address, why_not = _management_address(node.name, inventory)
    if address is not None:
        b.attr("ip", address)
    else:
        b.todo(f"set `ip` (the management address): {why_not}")
    return b.done()


def _management_address(node: str, inventory: Inventory) -> tuple[ipaddress.IPv4Interface | None, str]:
    """The node's address on the ClusterAndClient network with its prefix (`10.0.10.11/24`), or why there is none."""
    networks, interfaces = inventory.networks, inventory.interfaces
    if not known(networks):
        return None, _why(networks)
    if not known(interfaces):
        return None, _why(interfaces)
    management = [n for n in networks if n.role.lower() in MANAGEMENT_ROLES]
    for network in management:
        for owner, network_name, address in interfaces:
            if owner.lower() == node.lower() and network_name == network.name:
                try:
                    prefix = ipaddress.IPv4Network(f"0.0.0.0/{network.mask}").prefixlen
                    return ipaddress.IPv4Interface(f"{address}/{prefix}"), ""
                except ValueError:
                    return None, f"`{address}` with mask `{network.mask}` (network {network.name}) is not an IPv4 address"
    return None, "no cluster network interface of this node on a ClusterAndClient (management) network"


def _resiliency(disk) -> str | None:
    """hciplan's resiliency name for a virtual disk, from its setting and copies, or its tiers."""
    setting, copies, redundancy = disk.resiliency_setting, disk.data_copies, disk.physical_disk_redundancy
    tiers = disk.tiers if known(disk.tiers) else []
    if tiers:
        kinds = {t[0].lower() for t in tiers}
        if kinds == {"mirror", "parity"}:
            return "mirror_accelerated_parity"
        if len(kinds) == 1:
            setting, copies, redundancy = tiers[0]
    if not known(setting) or not known(copies):
        return None
    if setting.lower() == "mirror":
        return {2: "mirror_2way", 3: "mirror_3way", 4: "nested_mirror_2way"}.get(copies)
    if setting.lower() == "parity" and known(redundancy) and redundancy == 2:
        return "dual_parity"
    return None


def _storage(b: _BlockBuilder, inventory: Inventory) -> None:
    pool = inventory.pool
    if not known(pool):
        b.todo(f"describe the storage pool: `pool \"name\" {{ size = ... allocated = ... }}` ({_why(pool)})")
    elif pool is not None:
        name, size, allocated = pool
        p = _BlockBuilder("pool", [name])
        p.attr("size", size)
        p.attr("allocated", allocated)
        b.child(p.done())
    disks = inventory.virtual_disks
    if not known(disks):
        b.todo(f"describe the volumes: `volume \"name\" {{ size = ... resiliency = ... }}` ({_why(disks)})")
        return
    used = inventory.csv_used if known(inventory.csv_used) else {}
    for disk in disks:
        v = _BlockBuilder("volume", [disk.name])
        if known(disk.size):
            v.attr("size", disk.size)
        else:
            v.todo(f"set `size`: {_why(disk.size)}")
        resiliency = _resiliency(disk)
        if resiliency:
            v.attr("resiliency", resiliency)
        else:
            shown = disk.resiliency_setting if known(disk.resiliency_setting) else "unknown"
            v.todo(f"set `resiliency`: {disk.path} is `{shown}` with "
                   f"{disk.data_copies if known(disk.data_copies) else '?'} data copies, which hciplan cannot map")
        provisioning = PROVISIONING.get(disk.provisioning.lower()) if known(disk.provisioning) else None
        if provisioning:
            v.attr("provisioning", provisioning)
        else:
            v.todo(f"set `provisioning` (fixed or thin): {disk.path}.ProvisioningType was not understood; "
                   "until then hciplan assumes fixed")
        if disk.name in used:
            v.attr("used", used[disk.name])
        b.child(v.done())


def _vm_groups(b: _BlockBuilder, inventory: Inventory) -> None:
    """VMs grouped by HA and dynamic memory; memory is assigned memory when running, startup memory otherwise."""
    groups: dict[tuple[bool, bool], list[tuple[str, int]]] = {}
    unread: list[str] = []
    for node in inventory.nodes:
        if not known(node.vms):
            unread.append(f"{node.name} ({_why(node.vms)})")
            continue
        for vm in node.vms:
            running = known(vm.state) and vm.state.lower() == "running"
            memory = vm.memory_assigned if running else vm.memory_startup
            if not (known(memory) and known(vm.clustered) and known(vm.dynamic_memory)):
                unread.append(f"VM {vm.name} on {node.name}")
                continue
            groups.setdefault((vm.clustered, vm.dynamic_memory), []).append((node.name, memory))
    names = {(True, False): "ha", (True, True): "ha_dynamic", (False, False): "local", (False, True): "local_dynamic"}
    for key in [(True, False), (True, True), (False, False), (False, True)]:
        if key not in groups:
            continue
        members = groups[key]
        per_node: dict[str, int] = {}
        for node_name, _ in members:
            per_node[node_name] = per_node.get(node_name, 0) + 1
        g = _BlockBuilder("vm_group", [names[key]])
        g.note("VMs per node: " + ", ".join(f"{n} {c}" for n, c in per_node.items()))
        g.attr("count", len(members))
        g.attr("memory", sum(memory for _, memory in members))
        g.attr("ha", key[0])
        g.attr("dynamic_memory", key[1])
        b.child(g.done())
    if unread:
        b.todo("add the VMs that could not be read: " + "; ".join(unread[:4]) + ("; ..." if len(unread) > 4 else ""))


def _aks(b: _BlockBuilder, inventory: Inventory) -> bool | None:
    modules, unknown_modules = _per_node(inventory, "modules")
    services, unknown_services = _per_node(inventory, "services")
    found = sorted({f"{name} on {node}" for node, mods in modules.items() for name in mods
                    if name.lower() in ("akshci", "moc")}
                   | {f"service {name} on {node}" for node, svcs in services.items() for name in svcs
                      if name.lower() in ("wssdagent", "wssdcloudagent")})
    if found:
        a = _BlockBuilder("aks", [])
        a.attr("installed", True, None)
        a.todo("discovery cannot tell whether a preview AKS or MOC was used; if so, write `preview = true` "
               "(the removal then adds Uninstall-Moc)")
        block = a.done()
        block.leading = _comment_lines("AKS Arc found: " + ", ".join(found[:4]) + ("; ..." if len(found) > 4 else ""))
        b.child(block)
        return True
    if unknown_modules or unknown_services:
        b.todo(f"AKS Arc could not be checked on every node ({_unknown_note(unknown_modules + unknown_services)}); "
               "if it is installed, write `aks { installed = true }`")
        return None
    return False


def _arc_vms(b: _BlockBuilder, inventory: Inventory) -> None:
    modules, _ = _per_node(inventory, "modules")
    if any(name.lower() == "archci" for mods in modules.values() for name in mods):
        b.todo("the ArcHci module is installed: if the preview of Arc VM management is in use, write "
               "`arc_vms { preview = true }` (such clusters cannot be upgraded [A-about])")


def _upgrade_block(inventory: Inventory, facts: _ClusterFacts) -> Block:
    b = _BlockBuilder("upgrade", [inventory.cluster_name])
    b.attr("to", "23H2")
    b.attr("method", "cau", "a rolling Cluster-Aware Updating run, one node at a time [A-ps]")
    if facts.stretched:
        b.attr("source", "media", "stretched clusters upgrade from the dedicated 2509 ISO [A-stretch]")
        b.todo('set `media_path` to the folder of the extracted 2509 ISO, the same on every node, '
               'such as "C:\\\\Media\\\\2509"')
    else:
        b.attr("source", "windows_update")
    b.todo('set `orchestrator`: a Windows Server 2022 machine outside the cluster that drives CAU, '
           'such as `orchestrator = "MGMT01"` [A-ps]')
    b.attr("max_failed_nodes", 0, "stop at the first node that fails")
    b.attr("max_retries_per_node", 3)
    # reboot_timeout is left out: the plan derives it from the feature-update reboot (CAU's 15 min is too short)
    b.attr("node_order", tuple(n.name for n in inventory.nodes), "the inventory's order; change it if you wish")

    if facts.aks_installed:
        b.attr("aks", "remove", "irreversible for AKS workloads: move them first [A-ps]")
    elif facts.aks_installed is None:
        b.todo("if AKS Arc is installed, write `aks = remove` (irreversible for AKS workloads)")
    if facts.bitlocker == "on":
        b.attr("bitlocker", "suspend", "or every upgrade reboot stops at the recovery prompt [A-val]")
    elif facts.bitlocker is None:
        b.attr("bitlocker", "suspend", "BitLocker was not read on every node; suspending is harmless [A-val]")
    if facts.wdac == "enforced":
        b.attr("wdac", "disable", "WDAC policies are removed before Arc enablement, re-applied after [A-val]")
    elif facts.wdac is None:
        b.todo("if WDAC is enforced, write `wdac = disable` [A-val]")
    if facts.network_atc is False:
        b.attr("network_atc", "configure", "the solution upgrade requires Network ATC [A-val]")
    elif facts.network_atc is None:
        b.todo("if Network ATC is not configured, write `network_atc = configure` [A-val]")
    b.attr("functional_level", "after_validation", "irreversible: raised only after Test-Cluster passes [A-post]")
    b.attr("storage_pool", "update")
    b.attr("vm_version", "skip")

    b.todo(("add the maintenance window(s), with a time zone:",
           'window "first-night" { start = 2026-12-05T22:00Z  end = 2026-12-06T06:00Z }'))
    if known(inventory.solution_installed) and inventory.solution_installed:
        b.todo("Get-StampInformation returned a stamp: the solution is already installed, there is "
               "nothing to upgrade [A-ps]")
    if facts.stretched:
        b.note("no `solution` block: a stretched cluster takes the OS upgrade only [A-stretch]")
    else:
        b.todo(("to ask for the solution upgrade, add its inputs (a human decision) [A-inst]:",
                "solution {",
                '  key_vault       = "kv-..."  # 3-24 letters, digits, hyphens; globally unique',
                '  deployment_user = "..."     # AD user, local admin on every node, not Administrator',
                "  ip_range        = a.b.c.d .. a.b.c.e  # 6+ free contiguous IPs in the management subnet",
                "}"))
    return b.done()
