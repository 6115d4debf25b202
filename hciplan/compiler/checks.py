"""Static checks: everything that can be known from the file alone.

Each check is a small named pass over the model that reports diagnostics; the
passes run in the order of `PASSES`. Sources of each rule are on the codes
(see codes.py and `hciplan explain CODE`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable

from hciplan.compiler.diagnostics import Collector, Related, Severity
from hciplan.compiler.model import Model
from hciplan.compiler.storage import (
    INFRASTRUCTURE_VOLUME,
    RESILIENCY,
    footprint_factor,
    format_size,
    infrastructure_space,
    thin_conversion_frees,
)
from hciplan.words import counted

SUPPORTED_PATHS = (("22H2", "23H2"),)
MAX_NODES = 16  # machines per cluster Azure Local supports [M-plan], [M-req]

NETBIOS_RE = re.compile(r"^[A-Za-z0-9-]{1,15}$")
DNS_NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$")
KEY_VAULT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
DEPLOYMENT_USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,19}$")
CUSTOM_LOCATION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
LOCAL_PATH_RE = re.compile(r"^[A-Za-z]:\\")
MIN_INFRA_IPS = 6


def _netbios_ok(name: str) -> bool:
    return bool(NETBIOS_RE.match(name)) and not name.isdigit()


# --- passes --------------------------------------------------------------------------


def check_upgrade_path(model: Model, report: Collector) -> None:
    upgrade, cluster = model.upgrade, model.cluster
    if upgrade is None:
        return
    if upgrade.name.lower() != cluster.name.lower():
        report.report("HCI110", upgrade.spans.header,
                      f"`upgrade \"{upgrade.name}\"` does not name the cluster `{cluster.name}`",
                      related=[Related(cluster.spans.header, "the cluster is described here")],
                      hints=[f'write `upgrade "{cluster.name}" {{ ... }}`'])
    if (cluster.version.upper(), upgrade.to.upper()) not in SUPPORTED_PATHS:
        paths = ", ".join(f"{a} -> {b}" for a, b in SUPPORTED_PATHS)
        report.report("HCI201", upgrade.spans["to"],
                      f"upgrading from {cluster.version} to {upgrade.to} is not supported",
                      related=[Related(cluster.spans["version"], f"the cluster runs {cluster.version}")],
                      hints=[f"supported paths: {paths}"])


def check_supported_configuration(model: Model, report: Collector) -> None:
    upgrade, cluster = model.upgrade, model.cluster
    if upgrade is None:
        return
    if cluster.supplemental_package:
        report.report("HCI202", cluster.spans["supplemental_package"],
                      "clusters with the 22H2 Supplemental Package cannot be upgraded to 23H2 [A-about]")
    if cluster.stretched:
        if upgrade.solution is not None:
            report.report("HCI203", upgrade.solution.spans.header,
                          "a stretched cluster cannot take the solution upgrade [A-about]",
                          related=[Related(cluster.spans["stretched"], "the cluster is stretched")],
                          hints=["remove the `solution` block: stretched clusters take the OS upgrade only",
                                 "support for stretched clusters ended in April 2026"])
        if upgrade.source != "media":
            report.report("HCI204", upgrade.spans["source"],
                          "a stretched cluster's OS upgrade uses the dedicated 2509 ISO [A-stretch]",
                          hints=['set `source = media` and `media_path = "C:\\\\Media\\\\2509"` (the extracted ISO)',
                                 "remove Storage Replica partnerships first and recreate them afterwards"])
    if cluster.managed_by == "scvmm_2022":
        report.report("HCI205", cluster.spans["managed_by"],
                      "the OS upgrade of an SCVMM-managed cluster needs SCVMM 2025 [A-about]",
                      hints=["upgrade SCVMM to 2025 first (then `managed_by = scvmm_2025`), "
                             "or remove the cluster from SCVMM"])
    if cluster.arc_vms.preview:
        report.report("HCI206", cluster.arc_vms.spans["preview"],
                      "clusters running preview Arc VMs cannot be upgraded [A-about]",
                      hints=["remove the preview Arc VMs and MOC before planning the upgrade"])
    if cluster.aks.installed and upgrade.aks != "remove":
        report.report("HCI207", upgrade.spans["aks"],
                      "AKS Arc is installed and must be removed before the upgrade [A-about]",
                      related=[Related(cluster.aks.spans["installed"], "AKS is installed")],
                      hints=["set `aks = remove` (irreversible for AKS workloads: move them first)"])
    if not cluster.registered:
        report.report("HCI208", cluster.spans["registered"],
                      "the cluster must be registered with Azure (and connected) to be upgraded [A-ts]",
                      hints=["register it (`Register-AzStackHCI`) and set `registered = true`"])


def check_readiness(model: Model, report: Collector) -> None:
    upgrade, cluster = model.upgrade, model.cluster
    if upgrade is None:
        return
    if cluster.bitlocker == "on" and upgrade.bitlocker != "suspend":
        report.report("HCI301", upgrade.spans["bitlocker"],
                      "BitLocker is on: every upgrade reboot would stop at the recovery prompt [A-val]",
                      related=[Related(cluster.spans["bitlocker"], "BitLocker is on")],
                      hints=["set `bitlocker = suspend` in the upgrade block"])
    chosen = _check_convert_to_thin(model, report)
    if upgrade.solution is None:
        return  # the remaining checks are the solution upgrade's readiness checks
    if upgrade.functional_level == "manual" or upgrade.storage_pool == "skip":
        which = "functional_level" if upgrade.functional_level == "manual" else "storage_pool"
        report.report("HCI308", upgrade.spans[which],
                      "the solution upgrade needs the functional level and the pool version current [A-val]",
                      hints=["use `functional_level = after_validation` and `storage_pool = update`"])
    if cluster.wdac == "enforced" and upgrade.wdac != "disable":
        report.report("HCI302", upgrade.spans["wdac"],
                      "WDAC is enforced: policies must be removed before Arc enablement [A-val]",
                      related=[Related(cluster.spans["wdac"], "WDAC is enforced")],
                      hints=["set `wdac = disable`; the new policies are re-applied after the upgrade"])
    if not cluster.network_atc and upgrade.network_atc != "configure":
        report.report("HCI303", upgrade.spans["network_atc"],
                      "the solution upgrade requires Network ATC, which is not configured [A-val]",
                      related=[Related(cluster.spans["network_atc"], "Network ATC is not configured")],
                      hints=["set `network_atc = configure`"])
    if cluster.language.lower() != "en-us":
        report.report("HCI304", cluster.spans["language"],
                      f"install language `{cluster.language}` is not English (en-US) [A-val]",
                      hints=["run `Set-WinUserLanguageList en-US` for the LCM user on each node, "
                             'then set `language = "en-US"`'])
    for volume in cluster.volumes:
        if volume.name.lower() == INFRASTRUCTURE_VOLUME.lower():
            report.report("HCI306", volume.spans.header,
                          f"a volume is already named `{volume.name}` [A-val]",
                          hints=["move the VMs' storage off it and rename it; renaming alone breaks the VMs' paths"])
    pool = cluster.pool
    if pool is None:
        report.report("HCI309", cluster.spans.header,
                      "no `pool` block: hciplan cannot check the pool space that `Infrastructure_1` needs [A-val]",
                      hints=['describe the pool: `pool "S2D on ..." { size = 61TB  allocated = 42TB }` '
                             "(Get-StoragePool: Size, AllocatedSize)"])
        return
    freed = sum(thin_conversion_frees(v, len(cluster.nodes)) or 0 for v in chosen)
    space = infrastructure_space(pool, len(cluster.nodes), freed)
    if not space.fits:
        planned = f" plus {format_size(freed)} from the planned thin conversions" if chosen else ""
        report.report("HCI305", pool.spans.header,
                      f"the pool has {format_size(max(pool.free, 0))} free{planned}; `Infrastructure_1` needs "
                      f"{format_size(space.needed)} ({format_size(space.shortfall)} short) [A-val]",
                      hints=[space.figures()] + _thin_conversion_hints(model, chosen)
                      + _reserve_hint(pool, space))


def _reserve_hint(pool, space) -> list[str]:
    if not space.reserve_assumed:
        return []
    return ["the reserve is an assumption: set `reserve` on the pool to the size of one capacity drive "
            "times min(nodes, 4) (`Get-PhysicalDisk` Size)"]


def _check_convert_to_thin(model: Model, report: Collector) -> list:
    """The volumes `convert_to_thin` names, after reporting the names that cannot be converted."""
    upgrade, cluster = model.upgrade, model.cluster
    chosen = []
    for name in upgrade.convert_to_thin or ():
        volume = next((v for v in cluster.volumes if v.name.lower() == name.lower()), None)
        if volume is None or volume.provisioning != "fixed" or volume in chosen:
            why = ("is not a volume of the cluster" if volume is None else
                   "is listed twice" if volume in chosen else "is already thin")
            report.report("HCI307", upgrade.spans["convert_to_thin"], f"`{name}` {why}",
                          hints=["fixed volumes: " + (", ".join(v.name for v in cluster.volumes
                                                                if v.provisioning == "fixed") or "none")])
            continue
        if volume.used is None:
            report.report("HCI307", upgrade.spans["convert_to_thin"],
                          f"`{name}`: set `used` on the volume so hciplan can tell what converting it frees",
                          related=[Related(volume.spans.header, "the volume")])
            continue
        chosen.append(volume)
    return chosen


def _thin_conversion_hints(model: Model, chosen: list) -> list[str]:
    nodes = len(model.cluster.nodes)
    hints = []
    for volume in model.cluster.volumes:
        if volume.provisioning != "fixed" or volume in chosen:
            continue
        freed = thin_conversion_frees(volume, nodes)
        if freed is not None:
            hints.append(f"converting fixed volume `{volume.name}` to thin frees about {format_size(freed)}")
        else:
            upper = int(volume.size * footprint_factor(volume.resiliency, nodes))
            hints.append(f"converting fixed volume `{volume.name}` to thin frees up to {format_size(upper)} "
                         "(set `used` for an exact figure)")
    if not hints:
        hints.append("no other fixed volume can be converted to thin: shrink a volume or add drives")
    else:
        hints.append("list the volumes to convert in `convert_to_thin = [...]`; their VMs stop while the CSV cycles")
    return hints


def check_intents(model: Model, report: Collector) -> None:
    """Intents that this plan will not carry out: say so instead of dropping them silently."""
    upgrade, cluster = model.upgrade, model.cluster
    if upgrade is None:
        return
    idle = []
    if upgrade.functional_level == "manual":
        idle += [(name, f"`{name} = update` needs the functional level raised; it is raised by hand here")
                 for name in ("storage_pool", "vm_version")
                 if getattr(upgrade, name) == "update" and upgrade.spans.written(name)]
    if upgrade.convert_to_thin and upgrade.solution is None:
        idle.append(("convert_to_thin", "volumes are converted to thin only to make room for the solution upgrade"))
    if upgrade.network_atc == "configure" and cluster.network_atc:
        idle.append(("network_atc", "Network ATC is already configured (`network_atc = true` in the cluster)"))
    if upgrade.wdac == "disable" and cluster.wdac != "enforced":
        idle.append(("wdac", f"WDAC is `{cluster.wdac}`, not enforced: there is nothing to disable"))
    if upgrade.aks == "remove" and not cluster.aks.installed:
        idle.append(("aks", "AKS is not installed (`aks { installed = true }` is not in the cluster)"))
    for name, why in idle:
        report.report("HCI609", upgrade.spans[name], f"`{name}` has no effect: {why}",
                      hints=["remove it, or correct the cluster's description"])


def check_names(model: Model, report: Collector) -> None:
    cluster, upgrade = model.cluster, model.upgrade
    name = cluster.name
    if not (3 <= len(name) <= 15 and _netbios_ok(name)):
        report.report("HCI403", cluster.spans.header, f"cluster name `{name}` is not a valid cluster name",
                      hints=["use 3-15 letters, digits and hyphens, not all digits"])
    seen: dict[str, object] = {}
    seen_ips: dict[str, object] = {}
    for node in cluster.nodes:
        if not _netbios_ok(node.name):
            report.report("HCI401", node.spans.header, f"node name `{node.name}` is not a NetBIOS name",
                          hints=["use 1-15 letters, digits and hyphens, not all digits"])
        key = node.name.lower()
        if key in seen:
            report.report("HCI402", node.spans.header, f"node `{node.name}` is described twice",
                          related=[Related(seen[key].spans.header, "first described here")])
        seen.setdefault(key, node)
        ip = str(node.ip.ip)
        if ip in seen_ips:
            report.report("HCI402", node.spans["ip"], f"node `{node.name}` has the same IP as `{seen_ips[ip].name}`",
                          related=[Related(seen_ips[ip].spans["ip"], "that IP is used here")])
        seen_ips.setdefault(ip, node)
        if key == name.lower():
            report.report("HCI403", cluster.spans.header, f"the cluster name `{name}` is also a node's name",
                          related=[Related(node.spans.header, "the node")], hints=["cluster and node names must differ"])
    for kind, items in (("volume", cluster.volumes), ("VM group", cluster.vm_groups),
                        ("window", upgrade.windows if upgrade else ())):
        first: dict[str, object] = {}
        for item in items:
            key = item.name.lower()
            if key in first:
                report.report("HCI402", item.spans.header, f"{kind} `{item.name}` is described twice",
                              related=[Related(first[key].spans.header, "first described here")])
            first.setdefault(key, item)
    if upgrade is None:
        return
    if upgrade.orchestrator is not None:
        orchestrator = upgrade.orchestrator
        short = orchestrator.split(".")[0]
        if not DNS_NAME_RE.match(orchestrator) or not _netbios_ok(short):
            report.report("HCI401", upgrade.spans["orchestrator"],
                          f"orchestrator `{orchestrator}` is not a valid computer name",
                          hints=["use the machine's NetBIOS name or DNS name"])
        elif cluster.node(short) is not None or short.lower() == name.lower():
            report.report("HCI404", upgrade.spans["orchestrator"],
                          f"orchestrator `{orchestrator}` is part of the cluster [A-ps]",
                          hints=["name a Windows Server 2022 machine outside the cluster"])
    if upgrade.node_order is not None:
        _check_node_order(model, report)


def _check_node_order(model: Model, report: Collector) -> None:
    cluster, upgrade = model.cluster, model.upgrade
    order = upgrade.node_order
    span = upgrade.spans["node_order"]
    known = {n.name.lower() for n in cluster.nodes}
    listed = [n.lower() for n in order]
    problems = []
    unknown = [n for n in order if n.lower() not in known]
    if unknown:
        problems.append("not cluster nodes: " + ", ".join(unknown))
    missing = [n.name for n in cluster.nodes if n.name.lower() not in listed]
    if missing:
        problems.append("missing: " + ", ".join(missing))
    repeated = sorted({n for n in order if listed.count(n.lower()) > 1})
    if repeated:
        problems.append("listed twice: " + ", ".join(repeated))
    if problems:
        report.report("HCI405", span, "`node_order` must name each cluster node once (" + "; ".join(problems) + ")",
                      hints=["cluster nodes: " + ", ".join(n.name for n in cluster.nodes)])


def _all_vms(count: int) -> str:
    """`all 12 VMs`, `the one VM`."""
    return "the one VM" if count == 1 else f"all {count} VMs"


def check_availability(model: Model, report: Collector) -> None:
    cluster = model.cluster
    nodes = cluster.nodes
    offline = model.upgrade is not None and model.upgrade.method == "offline"
    if len(nodes) == 1:
        # A rolling method needs a second node to move the VMs to and to keep quorum: only offline fits.
        report.report("HCI505", cluster.spans.header,
                      f"single-node cluster: every reboot takes {_all_vms(cluster.vm_count)} down",
                      severity=None if offline or model.upgrade is None else Severity.ERROR,
                      hints=[] if offline or model.upgrade is None else
                      ["a rolling upgrade needs a second node; use `method = offline` and plan the outage"])
    if len(nodes) > MAX_NODES:
        extra = nodes[MAX_NODES]
        report.report("HCI507", extra.spans.header,
                      f"the cluster has {len(nodes)} nodes; Azure Local supports 1 to {MAX_NODES} machines per "
                      f"cluster [M-plan]",
                      hints=[f"`{extra.name}` is machine {MAX_NODES + 1}: split the machines into clusters of at "
                             f"most {MAX_NODES}, one file each"])
    if len(nodes) == 2 and cluster.witness == "none":
        report.report("HCI501", cluster.spans["witness"],
                      "a two-node cluster without a witness loses quorum when a node reboots",
                      hints=["configure a cloud, file share or disk witness and set `witness` accordingly"])
    elif len(nodes) >= 3 and cluster.witness == "none":
        report.report("HCI506", cluster.spans["witness"],
                      f"no witness: {len(nodes)} nodes survive one node down only through dynamic quorum",
                      hints=["a cloud witness makes a second failure during the upgrade survivable"])
    for volume in cluster.volumes:
        need = RESILIENCY[volume.resiliency].min_nodes
        if len(nodes) < need:
            report.report("HCI502", volume.spans["resiliency"],
                          f"`{volume.resiliency}` needs at least {need} nodes; the cluster has {len(nodes)}")
    for volume in cluster.volumes:
        if volume.used is not None and volume.used > volume.size:
            report.report("HCI504", volume.spans["used"], f"`used` {format_size(volume.used)} exceeds the volume's "
                          f"size {format_size(volume.size)}", hints=["`used` is the data written on the volume"])
    if cluster.pool is not None and cluster.pool.allocated > cluster.pool.size:
        report.report("HCI504", cluster.pool.spans["allocated"],
                      f"allocated {format_size(cluster.pool.allocated)} exceeds the pool size "
                      f"{format_size(cluster.pool.size)}")
    if len(nodes) >= 2 and not (offline and not _plan_drains_nodes(model)):
        ha = cluster.ha_vm_memory
        largest = max(nodes, key=lambda n: n.memory)
        remaining = sum(n.memory for n in nodes) - largest.memory
        if ha > remaining:
            spans = [g for g in cluster.vm_groups if g.ha]
            report.report("HCI503", spans[0].spans.header if spans else cluster.spans.header,
                          f"HA VMs need {format_size(ha)}, but with `{largest.name}` drained the other "
                          f"{counted(len(nodes) - 1, 'node')} {'has' if len(nodes) == 2 else 'have'} {format_size(remaining)}",
                          related=[Related(g.spans.header, f"{g.name}: {format_size(g.memory)}") for g in spans[1:]],
                          hints=[f"free {format_size(ha - remaining)}: shut VMs down for the upgrade, "
                                 "reduce their memory, or add memory"])


def _plan_drains_nodes(model: Model) -> bool:
    """Whether the plan drains nodes one at a time (the offline bracket itself does not)."""
    upgrade = model.upgrade
    atc = upgrade.network_atc == "configure" and not model.cluster.network_atc
    return upgrade.method != "offline" or upgrade.solution is not None or atc


def check_method(model: Model, report: Collector) -> None:
    upgrade, cluster = model.upgrade, model.cluster
    if upgrade is None:
        return
    if upgrade.method == "wac" and upgrade.source == "media":
        report.report("HCI601", upgrade.spans["source"],
                      "Windows Admin Center has no ISO or offline option [A-wac]",
                      hints=["use `method = cau` with media, or `source = windows_update`"])
    if upgrade.method == "offline":
        report.report("HCI602", upgrade.spans["method"],
                      f"offline upgrade: {_all_vms(cluster.vm_count)} {'is' if cluster.vm_count == 1 else 'are'} down while every "
                      "node upgrades at once [A-other]",
                      hints=["`method = cau` keeps HA VMs running"])
    if upgrade.method == "cau" and upgrade.orchestrator is None:
        report.report("HCI603", upgrade.spans.header, "`method = cau` needs an `orchestrator` [A-ps]",
                      hints=['name a Windows Server 2022 machine outside the cluster: `orchestrator = "MGMT01"`'])
    if upgrade.source == "media":
        path = upgrade.media_path
        if path is None:
            report.report("HCI604", upgrade.spans["source"], "`source = media` needs `media_path` [A-ps]",
                          hints=['add `media_path = "C:\\\\Media\\\\23H2"`: the extracted ISO, same path on every node'])
        elif not LOCAL_PATH_RE.match(path) or len(path) > 260:
            report.report("HCI604", upgrade.spans["media_path"],
                          f"`media_path` must be an absolute local path such as C:\\Media\\23H2, not `{path}`",
                          hints=["extract the ISO to the same local folder on every node"])
        elif path.lower().rstrip("\\").endswith(".iso"):
            report.report("HCI604", upgrade.spans["media_path"],
                          "`media_path` must be the folder of the extracted ISO, not the .iso file [A-ps]")
    elif upgrade.media_path is not None:
        report.report("HCI605", upgrade.spans["media_path"], "`media_path` is ignored with `source = windows_update`")
    if upgrade.functional_level == "with_cau":
        if upgrade.method not in ("cau", "wac"):
            report.report("HCI606", upgrade.spans["functional_level"],
                          f"`method = {upgrade.method}` cannot raise the functional level itself",
                          hints=["use `functional_level = after_validation`"])
        elif upgrade.method == "cau" and upgrade.source == "windows_update":
            report.report("HCI610", upgrade.spans["functional_level"],
                          "the RollingUpgradePlugin raises the functional level only on the media route [A-ps]: "
                          "over Windows Update this plan raises it in P3, after validation",
                          hints=["write `functional_level = after_validation` (what this plan does), or use "
                                 "`source = media` for CAU to raise it"])
        else:
            report.report("HCI608", upgrade.spans["functional_level"],
                          "the irreversible functional-level update would run without a validation gate",
                          hints=["`functional_level = after_validation` runs Test-Cluster first"])
    if cluster.nodes and upgrade.max_failed_nodes > len(cluster.nodes) - 1:
        report.report("HCI607", upgrade.spans["max_failed_nodes"],
                      f"`max_failed_nodes` is {upgrade.max_failed_nodes}; with {counted(len(cluster.nodes), 'node')} "
                      f"CAU accepts 0 to {len(cluster.nodes) - 1} [W-opts]")


def check_solution(model: Model, report: Collector) -> None:
    upgrade, cluster = model.upgrade, model.cluster
    solution = upgrade.solution if upgrade else None
    if solution is None:
        return
    vault = solution.key_vault
    if not KEY_VAULT_RE.match(vault) or "--" in vault:
        report.report("HCI701", solution.spans["key_vault"], f"`{vault}` is not a valid key vault name [Z-names]",
                      hints=["3-24 letters, digits and hyphens; start with a letter, end with a letter or digit, no `--`"])
    user = solution.deployment_user
    if "\\" in user or "@" in user:
        bare = user.split("\\")[-1] if "\\" in user else user.split("@")[0]
        report.report("HCI702", solution.spans["deployment_user"],
                      f"write the deployment user without a domain, not `{user}` [A-inst]",
                      hints=[f"write `{bare}`"])
    elif user.lower() == "administrator" or not DEPLOYMENT_USER_RE.match(user):
        report.report("HCI702", solution.spans["deployment_user"], f"`{user}` is not a valid deployment user [A-inst]",
                      hints=["1-20 letters, digits, `-` and `_`, not starting with `-` or a digit, not Administrator"])
    location = solution.custom_location
    if location is not None and not CUSTOM_LOCATION_RE.match(location):
        report.report("HCI706", solution.spans["custom_location"], f"`{location}` is not a valid custom location name",
                      hints=[f"the default is `{cluster.name}-cl`"])
    if solution.adou_path is not None:
        path = solution.adou_path
        bad = sorted(set(path) & set("&\"'<>"))
        if bad or not re.search(r"(?i)\bOU=", path) or not re.search(r"(?i)\bDC=", path):
            report.report("HCI707", solution.spans["adou_path"], f"`{path}` is not a valid OU path [A-ad]",
                          hints=["write a distinguished name below the domain root, such as OU=HCI,DC=contoso,DC=com"]
                          + ([f"remove {' '.join(bad)}"] if bad else []))
    _check_ip_range(model, report)


def _check_ip_range(model: Model, report: Collector) -> None:
    cluster, solution = model.cluster, model.upgrade.solution
    ip_range = solution.ip_range
    span = solution.spans["ip_range"]
    if int(ip_range.end) < int(ip_range.start):
        report.report("HCI703", span, f"the range {ip_range} ends before it starts", hints=["write `first .. last`"])
        return
    if ip_range.size < MIN_INFRA_IPS:
        # Suggest a range of the minimum size from the same start, moved down if it would pass 255.255.255.255.
        first = min(int(ip_range.start), 2**32 - MIN_INFRA_IPS)
        suggestion = f"{ipaddress.IPv4Address(first)} .. {ipaddress.IPv4Address(first + MIN_INFRA_IPS - 1)}"
        report.report("HCI703", span, f"the range {ip_range} has {ip_range.size} addresses; at least "
                      f"{MIN_INFRA_IPS} are needed [A-inst]",
                      hints=[f"extend it to `{suggestion}`"])
    subnet = solution.subnet
    if subnet is None:
        prefixed = [n.ip.network for n in cluster.nodes if n.ip.network.prefixlen < 32]
        subnet = prefixed[0] if prefixed else (
            ipaddress.IPv4Interface(f"{cluster.nodes[0].ip.ip}/24").network if cluster.nodes else None)
    if subnet is not None and (ip_range.start not in subnet or ip_range.end not in subnet):
        report.report("HCI704", span, f"the range {ip_range} is not inside the management subnet {subnet} [A-inst]",
                      hints=["pick free addresses in the nodes' subnet, or set `subnet` if it is larger"])
    elif subnet is not None and subnet.prefixlen < 31:
        reserved = [a for a in (subnet.network_address, subnet.broadcast_address) if a in ip_range]
        if reserved:
            report.report("HCI704", span, f"the range {ip_range} includes the subnet's "
                          + " and ".join("network" if a == subnet.network_address else "broadcast" for a in reserved)
                          + f" address ({', '.join(map(str, reserved))}) [A-inst]",
                          hints=["only host addresses of the subnet can be assigned"])
    inside = [node for node in cluster.nodes if node.ip.ip in ip_range]
    if inside:  # one mistake (the range), one diagnostic, however many nodes it covers
        names = ", ".join(f"`{node.name}` ({node.ip.ip})" for node in inside)
        report.report("HCI705", span,
                      f"the range {ip_range} includes the IP of node{'s' * (len(inside) > 1)} {names}",
                      related=[Related(node.spans["ip"], f"`{node.name}`'s IP") for node in inside],
                      hints=["the range must hold only unused addresses"])


def check_windows(model: Model, report: Collector) -> None:
    if model.upgrade is None:
        return
    windows = model.upgrade.windows
    zoned = []
    for window in windows:
        ok = True
        for which in ("start", "end"):
            if getattr(window, which).tzinfo is None:
                ok = False
                report.report("HCI802", window.spans[which], f"the window's {which} has no time zone",
                              hints=["append `Z` for UTC or an offset such as `+01:00`"])
        if ok and window.end <= window.start:
            report.report("HCI801", window.spans["end"], f"window `{window.name}` ends before it starts",
                          related=[Related(window.spans["start"], "it starts here")])
        elif ok:
            zoned.append(window)
    zoned.sort(key=lambda w: w.start)
    for earlier, later in zip(zoned, zoned[1:]):
        if later.start < earlier.end:
            report.report("HCI803", later.spans.header, f"windows `{earlier.name}` and `{later.name}` overlap",
                          related=[Related(earlier.spans.header, "the earlier window")])


PASSES: tuple[Callable[[Model, Collector], None], ...] = (
    check_upgrade_path,
    check_supported_configuration,
    check_names,
    check_availability,
    check_method,
    check_readiness,
    check_intents,
    check_solution,
    check_windows,
)


def run_checks(model: Model, report: Collector) -> None:
    for check in PASSES:
        check(model, report)
