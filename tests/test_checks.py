"""Every diagnostic code from HCI101 upward: a small model that triggers it, and (for
semantic codes) a corrected variant that does not.

Each case starts from `helpers.BASE` (or a 1- or 2-node variant of it), which
checks clean, and applies textual replacements. `at` is a fragment written on
the line where the diagnostic must point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import REGISTRY, Severity
from hciplan.compiler.storage import format_size

from helpers import BASE, check, codes, line_of, mutate

GiB = 1024**3

# Two nodes, 2-way mirrors, no node_order and no solution: the smallest clean file.
TWO_NODES = mutate(
    BASE,
    ('  node "HCI03" { memory = 512GB  ip = 10.0.10.13/24 }\n', ""),
    ('  node "HCI04" { memory = 768GB  ip = 10.0.10.14/24 }\n', ""),
    ('volume "Data01" { size = 2TB  resiliency = mirror_3way', 'volume "Data01" { size = 2TB  resiliency = mirror_2way'),
    ('volume "Data02" { size = 1TB  resiliency = mirror_3way', 'volume "Data02" { size = 1TB  resiliency = mirror_2way'),
    ('volume "Thin01" { size = 4TB  resiliency = mirror_3way', 'volume "Thin01" { size = 4TB  resiliency = mirror_2way'),
    ('vm_group "web" { count = 20  memory = 640GB', 'vm_group "web" { count = 20  memory = 0GB'),
    ('  node_order = ["HCI04", "HCI03", "HCI02", "HCI01"]\n', ""),
)
ONE_NODE = mutate(
    TWO_NODES,
    ('  node "HCI02" { memory = 512GB  ip = 10.0.10.12/24 }\n', ""),
    ('  volume "Data01" { size = 2TB  resiliency = mirror_2way  provisioning = fixed }\n', ""),
    ('  volume "Data02" { size = 1TB  resiliency = mirror_2way  provisioning = fixed  used = 256GB }\n', ""),
    ('  volume "Thin01" { size = 4TB  resiliency = mirror_2way  provisioning = thin }\n', ""),
)
SOLUTION_BLOCK = BASE[BASE.index("  solution {"):BASE.rindex("  }\n") + 4]
WITHOUT_SOLUTION = (SOLUTION_BLOCK, "")
STRETCHED = ("stretched = false", "stretched = true")
MEDIA = ("source = windows_update", 'source = media\n  media_path = "C:\\\\Media\\\\2509"')


@dataclass(frozen=True)
class Case:
    code: str
    broken: tuple[tuple[str, str], ...]
    at: str
    fixed: tuple[tuple[str, str], ...] | None = None  # applied on top of `broken`; None for structural codes
    base: str = BASE
    name: str = ""


def case(code, *broken, at, fixed=None, base=BASE, name=""):
    return Case(code, tuple(broken), at, None if fixed is None else tuple(fixed), base, name)


CASES = [
    # --- HCI1xx: structure and types (the model is not built) ---------------------------------
    case("HCI101", ("  arc_vms { preview = false }", "  arc_vms { preview = false }\n  timing { }"), at="timing"),
    case("HCI101", ("}\n\nupgrade", '}\n\nschedule "night" { }\n\nupgrade'), at="schedule", name="top level"),
    case("HCI101", ("witness = cloud", "witness { }"), at="witness {", name="attribute as block"),
    case("HCI102", ("witness = cloud", "witnes = cloud"), at="witnes"),
    case("HCI102", ('cluster "hci-base" {', 'version = "22H2"\ncluster "hci-base" {'), at='version = "22H2"\ncluster',
         name="top level"),
    case("HCI103", ("memory = 768GB", "memory = 768"), at="memory = 768 "),
    case("HCI103", ("witness = cloud", 'witness = "cloud"'), at='"cloud"', name="quoted enum"),
    case("HCI103", ("registered = true", "registered = yes"), at="yes", name="bool"),
    case("HCI103", ("reboot_timeout = 45m", "reboot_timeout = 30GB"), at="30GB", name="size for duration"),
    case("HCI103", ('"HCI02", "HCI01"]', '"HCI02", HCI01]'), at="HCI01]", name="unquoted list item"),
    case("HCI103", ("subnet = 10.0.10.0/24", "subnet = 10.0.10.0"), at="subnet =", name="network without prefix"),
    case("HCI103", ("start = 2026-12-05T22:00Z", "start = 2026-12-05"), at="start = 2026-12-05 ", name="date only"),
    case("HCI104", ("witness = cloud", "witness = clowd"), at="clowd"),
    case("HCI105", ("  witness = cloud\n", ""), at='cluster "hci-base"'),
    case("HCI105", ('ip = 10.0.10.13/24 ', ""), at='node "HCI03"', name="in a node"),
    case("HCI106", ("  registered = true\n", "  registered = true\n  registered = false\n"), at="registered = false"),
    case("HCI107", ("aks { installed = false }", 'aks "x" { installed = false }'), at='aks "x"'),
    case("HCI107", ('window "first" {', "window {"), at="window {", name="missing label"),
    case("HCI108", ('  pool "S2D" {', '  pool "S2D-2" { size = 1TB  allocated = 0GB }\n  pool "S2D" {'), at='pool "S2D" {'),
    case("HCI108", ('upgrade "hci-base" {', 'cluster "again" { }\nupgrade "hci-base" {'), at='cluster "again"',
         name="second cluster"),
    case("HCI109", ("count = 4 ", "count = 0 "), at="count = 0"),
    case("HCI109", ("ip = 10.0.10.12/24", "ip = 10.0.10.256/24"), at="10.0.10.256", name="octet"),
    case("HCI109", ("ip = 10.0.10.12/24", "ip = 10.0.10.12/33"), at="/33", name="prefix"),
    case("HCI109", ("start = 2026-12-05T22:00Z", "start = 2026-02-30T22:00Z"), at="2026-02-30", name="date"),
    case("HCI109", ("reboot_timeout = 45m", "reboot_timeout = 7h"), at="7h", name="duration"),
    case("HCI109", ("max_retries_per_node = 3", "max_retries_per_node = 65"), at="65", name="int"),
    case("HCI109", ("subnet = 10.0.10.0/24", "subnet = 10.0.10.1/24"), at="subnet =", name="host bits"),
    case("HCI109", ('node "HCI02"', 'node "HCI\\n02"'), at='HCI\\n02', name="control character"),
    case("HCI113", ('volume "Data01"', 'volume "Data\u202e01"'), at="Data\u202e01", name="raw override"),
    case("HCI113", ('window "first"', 'window "fi\\u2066rst"'), at="fi\\u2066rst", name="escaped isolate"),
    case("HCI113", ('deployment_user = "hcilcm"', 'deployment_user = "hci\u200blcm"'), at="hci\u200blcm",
         name="zero-width space"),
    case("HCI114", ('pool "S2D"', 'pool "S2D\u2019s"'), at="S2D\u2019s", fixed=[("S2D\u2019s", "S2D's")]),
    case("HCI110", (BASE[:BASE.index("upgrade")], ""), at='upgrade "hci-base"', name="no cluster"),
    case("HCI111", (BASE[BASE.index('  node "HCI01"'):BASE.index('  pool "S2D"')], ""), at='cluster "hci-base"'),
    # --- HCI110 is also semantic: the upgrade must name the cluster ---------------------------
    case("HCI110", ('upgrade "hci-base"', 'upgrade "hci-other"'), at='upgrade "hci-other"',
         fixed=[('upgrade "hci-other"', 'upgrade "HCI-BASE"')], name="other cluster"),
    # --- HCI2xx: upgrade path and supported configurations ---------------------------------------
    case("HCI201", ('to = "23H2"', 'to = "24H2"'), at='to = "24H2"', fixed=[('to = "24H2"', 'to = "23h2"')]),
    case("HCI201", ('version = "22H2"', 'version = "23H2"'), at="to =", fixed=[('version = "23H2"', 'version = "22H2"')],
         name="from 23H2"),
    case("HCI202", ("supplemental_package = false", "supplemental_package = true"), at="supplemental_package",
         fixed=[("supplemental_package = true", "supplemental_package = false")]),
    case("HCI203", STRETCHED, MEDIA, at="  solution {", fixed=[WITHOUT_SOLUTION]),
    case("HCI204", STRETCHED, WITHOUT_SOLUTION, at="source = windows_update", fixed=[MEDIA]),
    case("HCI205", ("managed_by = none", "managed_by = scvmm_2022"), at="managed_by",
         fixed=[("managed_by = scvmm_2022", "managed_by = scvmm_2025")]),
    case("HCI206", ("arc_vms { preview = false }", "arc_vms { preview = true }"), at="arc_vms",
         fixed=[("arc_vms { preview = true }", "arc_vms { }")]),
    case("HCI207", ("aks { installed = false }", "aks { installed = true }"), at="aks = keep",
         fixed=[("aks = keep", "aks = remove")]),
    case("HCI207", ("aks { installed = false }", "aks { installed = true }"), ("  aks = keep\n", ""),
         at='upgrade "hci-base"', fixed=[("aks { installed = true }", "aks { }")], name="default keep"),
    case("HCI208", ("registered = true", "registered = false"), at="registered",
         fixed=[("registered = false", "registered = true")]),
    # --- HCI3xx: readiness ---------------------------------------------------------------------------
    case("HCI301", ("bitlocker = suspend", "bitlocker = keep"), at="bitlocker = keep",
         fixed=[("bitlocker = on", "bitlocker = off")]),
    case("HCI301", ("bitlocker = suspend", "bitlocker = keep"), WITHOUT_SOLUTION, at="bitlocker = keep",
         fixed=[("bitlocker = keep", "bitlocker = suspend")], name="OS upgrade only"),
    case("HCI302", ("wdac = disable", "wdac = keep"), at="wdac = keep", fixed=[("wdac = enforced", "wdac = audit")]),
    case("HCI302", ("wdac = disable", "wdac = keep"), at="wdac = keep", fixed=[WITHOUT_SOLUTION],
         name="only for the solution upgrade"),
    case("HCI303", ("network_atc = configure", "network_atc = keep"), at="network_atc = keep",
         fixed=[("network_atc = false", "network_atc = true")]),
    case("HCI304", ('language = "en-US"', 'language = "de-DE"'), at="language",
         fixed=[('language = "de-DE"', 'language = "EN-us"')]),
    # 10.5TB free: far above the raw 250GB, below the 750GB 3-way footprint + the assumed 10TB reserve
    case("HCI305", ("allocated = 28TB", "allocated = 29.5TB"), at='pool "S2D"',
         fixed=[("allocated = 29.5TB", "allocated = 29.25TB")]),
    case("HCI305", ("allocated = 28TB", "allocated = 29.5TB"), at='pool "S2D"',
         fixed=[("allocated = 29.5TB", "allocated = 29.5TB  reserve = 4TB")], name="explicit reserve"),
    case("HCI305", ("allocated = 28TB", "allocated = 29.5TB"),
         ("vm_version = skip", 'vm_version = skip\n  convert_to_thin = ["Thin01"]'), at='pool "S2D"',
         fixed=[('convert_to_thin = ["Thin01"]', 'convert_to_thin = ["data02"]')], name="planned conversion"),
    case("HCI306", ('volume "Thin01"', 'volume "infrastructure_1"'), at='volume "infrastructure_1"',
         fixed=[('volume "infrastructure_1"', 'volume "Infrastructure_2"')]),
    case("HCI308", ("functional_level = after_validation", "functional_level = manual"), at="functional_level",
         fixed=[(SOLUTION_BLOCK, "")]),
    case("HCI308", ("storage_pool = update", "storage_pool = skip"), at="storage_pool",
         fixed=[("storage_pool = skip", "storage_pool = update")], name="pool version"),
    case("HCI309", ('  pool "S2D" { size = 40TB  allocated = 28TB }\n', ""), at='cluster "hci-base"',
         fixed=[WITHOUT_SOLUTION]),
    case("HCI307", ("vm_version = skip", 'vm_version = skip\n  convert_to_thin = ["Data09"]'), at="convert_to_thin",
         fixed=[('["Data09"]', '["Data02"]')]),
    case("HCI307", ("vm_version = skip", 'vm_version = skip\n  convert_to_thin = ["Data01"]'), at="convert_to_thin",
         fixed=[('["Data01"]', '["Data02"]')], name="used unknown"),
    case("HCI307", ("vm_version = skip", 'vm_version = skip\n  convert_to_thin = ["Data02", "DATA02"]'),
         at="convert_to_thin", fixed=[('["Data02", "DATA02"]', '["Data02"]')], name="listed twice"),
    # --- HCI4xx: names ---------------------------------------------------------------------------------
    case("HCI401", ('node "HCI01"', 'node "12345"'), ('"HCI02", "HCI01"]', '"HCI02", "12345"]'), at='node "12345"',
         fixed=[('node "12345"', 'node "N12345"'), ('"HCI02", "12345"]', '"HCI02", "N12345"]')]),
    case("HCI401", ('node "HCI01"', 'node "HCI01-IS-TOO-LONG"'), ('"HCI02", "HCI01"]', '"HCI02", "HCI01-IS-TOO-LONG"]'),
         at='node "HCI01-IS-TOO-LONG"', fixed=[('node "HCI01-IS-TOO-LONG"', 'node "HCI01-IS-LONG"'),
                                                ('"HCI01-IS-TOO-LONG"]', '"HCI01-IS-LONG"]')], name="16 characters"),
    case("HCI401", ('orchestrator = "MGMT01"', 'orchestrator = "MGMT_01"'), at="orchestrator",
         fixed=[('orchestrator = "MGMT_01"', 'orchestrator = "mgmt-01.contoso.com"')], name="orchestrator"),
    case("HCI402", ("ip = 10.0.10.12/24", "ip = 10.0.10.11/24"), at='node "HCI02"',
         fixed=[('node "HCI02" { memory = 512GB  ip = 10.0.10.11/24', 'node "HCI02" { memory = 512GB  ip = 10.0.10.15/24')],
         name="same IP"),
    case("HCI402", ('volume "Data02"', 'volume "DATA01"'), at='volume "DATA01"',
         fixed=[('volume "DATA01"', 'volume "Data02"')], name="volume"),
    case("HCI402", ('window "second"', 'window "First"'), at='window "First"',
         fixed=[('window "First"', 'window "second"')], name="window"),
    case("HCI402", ('vm_group "lab"', 'vm_group "SQL"'), at='vm_group "SQL"', fixed=[('vm_group "SQL"', 'vm_group "lab"')],
         name="VM group"),
    case("HCI402", ('node "HCI02"', 'node "hci01"'), ('"HCI02", "HCI01"]', '"HCI01"]'), at='node "hci01"',
         fixed=[('node "hci01"', 'node "HCI02"'), ('"HCI01"]', '"HCI02", "HCI01"]')], name="node"),
    case("HCI403", ('cluster "hci-base"', 'cluster "hc"'), ('upgrade "hci-base"', 'upgrade "hc"'), at='cluster "hc"',
         fixed=[('cluster "hc"', 'cluster "hci"'), ('upgrade "hc"', 'upgrade "hci"')]),
    case("HCI403", ('cluster "hci-base"', 'cluster "hci-base-cluster1"'), ('upgrade "hci-base"', 'upgrade "hci-base-cluster1"'),
         at='cluster "hci-base-cluster1"', name="16 characters",
         fixed=[('cluster "hci-base-cluster1"', 'cluster "hci-base-clust1"'),
                ('upgrade "hci-base-cluster1"', 'upgrade "hci-base-clust1"')]),
    case("HCI403", ('cluster "hci-base"', 'cluster "HCI01"'), ('upgrade "hci-base"', 'upgrade "HCI01"'),
         at='cluster "HCI01"', fixed=[('cluster "HCI01"', 'cluster "HCI00"'), ('upgrade "HCI01"', 'upgrade "HCI00"')],
         name="same as a node"),
    case("HCI404", ('orchestrator = "MGMT01"', 'orchestrator = "hci03.contoso.com"'), at="orchestrator",
         fixed=[('orchestrator = "hci03.contoso.com"', 'orchestrator = "hci05.contoso.com"')]),
    case("HCI405", ('"HCI02", "HCI01"]', '"HCI01"]'), at="node_order", fixed=[('"HCI01"]', '"HCI01", "HCI02"]')]),
    case("HCI405", ('"HCI02", "HCI01"]', '"HCI02", "HCI01", "HCI05"]'), at="node_order",
         fixed=[('"HCI02", "HCI01", "HCI05"]', '"HCI02", "HCI01"]')], name="unknown node"),
    # --- HCI5xx: availability ------------------------------------------------------------------------------
    case("HCI501", ("witness = cloud", "witness = none"), base=TWO_NODES, at="witness",
         fixed=[("witness = none", "witness = disk")]),
    case("HCI502", ('"Thin01" { size = 4TB  resiliency = mirror_2way', '"Thin01" { size = 4TB  resiliency = mirror_3way'),
         base=TWO_NODES, at="resiliency = mirror_3way",
         fixed=[("resiliency = mirror_3way", "resiliency = nested_mirror_2way")]),
    case("HCI502", ('"Thin01" { size = 4TB  resiliency = mirror_3way', '"Thin01" { size = 4TB  resiliency = dual_parity'),
         ('  node "HCI04" { memory = 768GB  ip = 10.0.10.14/24 }\n', ""), ('["HCI04", ', "["), ("memory = 640GB", "memory = 320GB"),
         at="dual_parity",
         fixed=[("dual_parity", "mirror_3way")], name="parity on 3 nodes"),
    case("HCI503", ('vm_group "sql" { count = 4   memory = 512GB', 'vm_group "sql" { count = 4   memory = 1TB'),
         at='vm_group "sql"', fixed=[("ha = true", "ha = false")]),
    case("HCI504", ("allocated = 28TB", "allocated = 41TB"), at="allocated", fixed=[("size = 40TB", "size = 56TB")]),
    case("HCI504", ("used = 256GB", "used = 2TB"), at="used = 2TB", fixed=[("used = 2TB", "used = 1TB")],
         name="volume used"),
    case("HCI505", ("method = cau", "method = offline"), base=ONE_NODE, at='cluster "hci-base"',
         fixed=[('  pool "S2D"', '  node "HCI02" { memory = 512GB  ip = 10.0.10.12/24 }\n  pool "S2D"')]),
    case("HCI506", ("witness = cloud", "witness = none"), at="witness", fixed=[("witness = none", "witness = file_share")]),
    case("HCI507", ('  node "HCI02" { memory = 512GB  ip = 10.0.10.12/24 }\n', '  node "HCI02" { memory = 512GB  ip = 10.0.10.12/24 }\n'
         + "".join(f'  node "HCI{i:02d}" {{ memory = 512GB  ip = 10.0.10.{10 + i}/24 }}\n' for i in range(3, 18))),
         base=TWO_NODES, at='node "HCI17"', fixed=[('  node "HCI17" { memory = 512GB  ip = 10.0.10.27/24 }\n', "")]),
    # --- HCI6xx: method ----------------------------------------------------------------------------------------
    case("HCI601", ("method = cau", "method = wac"), MEDIA, at="source = media", fixed=[("method = wac", "method = cau")]),
    case("HCI602", ("method = cau", "method = offline"), at="method", fixed=[("method = offline", "method = manual")]),
    case("HCI603", ('  orchestrator = "MGMT01"\n', ""), at='upgrade "hci-base"', fixed=[("method = cau", "method = manual")]),
    case("HCI604", ("source = windows_update", "source = media"), at="source = media",
         fixed=[("source = media", 'source = media  media_path = "C:\\\\Media\\\\23H2"')], name="no path"),
    case("HCI604", ("source = windows_update", 'source = media  media_path = "Media\\\\23H2"'), at="media_path",
         fixed=[('"Media', '"C:\\\\Media')], name="relative path"),
    case("HCI604", ("source = windows_update", 'source = media  media_path = "D:\\\\iso\\\\23H2.iso"'), at="media_path",
         fixed=[('23H2.iso"', '23H2"')], name="the .iso file"),
    case("HCI605", ("source = windows_update", 'source = windows_update  media_path = "C:\\\\Media"'), at="media_path",
         fixed=[("source = windows_update", "source = media")]),
    case("HCI606", ("method = cau", "method = manual"), ("functional_level = after_validation", "functional_level = with_cau"),
         at="functional_level", fixed=[("functional_level = with_cau", "functional_level = after_validation")]),
    case("HCI607", ("max_failed_nodes = 0", "max_failed_nodes = 4"), at="max_failed_nodes",
         fixed=[("max_failed_nodes = 4", "max_failed_nodes = 3")]),
    case("HCI608", ("functional_level = after_validation", "functional_level = with_cau"),
         ("source = windows_update", 'source = media  media_path = "C:\\\\Media\\\\23H2"'), at="functional_level",
         fixed=[("functional_level = with_cau", "functional_level = after_validation")]),
    case("HCI610", ("functional_level = after_validation", "functional_level = with_cau"), at="functional_level",
         fixed=[("functional_level = with_cau", "functional_level = after_validation")]),
    # --- HCI7xx: solution inputs ----------------------------------------------------------------------------------
    case("HCI609", ("aks = keep", "aks = remove"), at="aks = remove", fixed=[("aks = remove", "aks = keep")]),
    case("HCI609", ("wdac = enforced", "wdac = audit"), at="wdac = disable",
         fixed=[("wdac = disable", "wdac = keep")], name="wdac not enforced"),
    case("HCI609", ("network_atc = false", "network_atc = true"), at="network_atc = configure",
         fixed=[("network_atc = configure", "network_atc = keep")], name="atc configured"),
    case("HCI609", WITHOUT_SOLUTION, ("wdac = enforced", "wdac = off"), ("wdac = disable", "wdac = keep"),
         ("network_atc = false", "network_atc = true"), ("network_atc = configure", "network_atc = keep"),
         ("vm_version = skip", 'vm_version = skip\n  convert_to_thin = ["Data02"]'), at="convert_to_thin",
         fixed=[('  convert_to_thin = ["Data02"]\n', "")], name="thin without solution"),
    case("HCI609", WITHOUT_SOLUTION, ("functional_level = after_validation", "functional_level = manual"),
         ("vm_version = skip", "vm_version = update"), ("wdac = enforced", "wdac = off"),
         ("wdac = disable", "wdac = keep"), at="vm_version = update",
         fixed=[("vm_version = update", "vm_version = skip"), ("storage_pool = update", "storage_pool = skip")],
         name="version without level"),
    case("HCI701", ('key_vault = "kv-hci-base"', 'key_vault = "kv--hci-base"'), at="key_vault",
         fixed=[('"kv--hci-base"', '"kv-hci-base-1"')]),
    case("HCI701", ('key_vault = "kv-hci-base"', 'key_vault = "1kv-hci-base"'), at="key_vault", name="digit first",
         fixed=[('"1kv-hci-base"', '"kv1-hci-base"')]),
    case("HCI701", ('key_vault = "kv-hci-base"', 'key_vault = "kv-hci-base-"'), at="key_vault", name="ends with a hyphen",
         fixed=[('"kv-hci-base-"', '"kv-hci-base-0"')]),
    case("HCI701", ('key_vault = "kv-hci-base"', 'key_vault = "kv"'), at="key_vault", name="2 characters",
         fixed=[('"kv"', '"kv1"')]),
    case("HCI701", ('key_vault = "kv-hci-base"', 'key_vault = "kv-hci-base-cluster-00001"'), at="key_vault",
         name="25 characters", fixed=[('"kv-hci-base-cluster-00001"', '"kv-hci-base-cluster-0001"')]),
    case("HCI702", ('deployment_user = "hcilcm"', 'deployment_user = "CONTOSO\\\\hcilcm"'), at="deployment_user",
         fixed=[('"CONTOSO\\\\hcilcm"', '"hcilcm"')]),
    case("HCI702", ('deployment_user = "hcilcm"', 'deployment_user = "hcilcm@contoso.com"'), at="deployment_user",
         name="UPN", fixed=[('"hcilcm@contoso.com"', '"hci_lcm"')]),
    case("HCI702", ('deployment_user = "hcilcm"', 'deployment_user = "Administrator"'), at="deployment_user",
         name="Administrator", fixed=[('"Administrator"', '"hci-admin"')]),
    case("HCI702", ('deployment_user = "hcilcm"', 'deployment_user = "1lcm"'), at="deployment_user", name="digit first",
         fixed=[('"1lcm"', '"_1lcm"')]),
    case("HCI702", ('deployment_user = "hcilcm"', 'deployment_user = "hcilcm-deployment-usr"'), at="deployment_user",
         name="21 characters", fixed=[('"hcilcm-deployment-usr"', '"hcilcm-deployment-us"')]),
    case("HCI703", ("10.0.10.50 .. 10.0.10.59", "10.0.10.50 .. 10.0.10.54"), at="ip_range",
         fixed=[("10.0.10.54", "10.0.10.55")]),
    case("HCI703", ("10.0.10.50 .. 10.0.10.59", "10.0.10.59 .. 10.0.10.50"), at="ip_range", name="reversed",
         fixed=[("10.0.10.59 .. 10.0.10.50", "10.0.10.50 .. 10.0.10.59")]),
    case("HCI704", ("10.0.10.50 .. 10.0.10.59", "10.0.10.250 .. 10.0.10.255"), at="ip_range",
         fixed=[("10.0.10.250 .. 10.0.10.255", "10.0.10.249 .. 10.0.10.254")], name="broadcast"),
    case("HCI704", ("10.0.10.50 .. 10.0.10.59", "10.0.11.50 .. 10.0.11.59"), at="ip_range",
         fixed=[("subnet = 10.0.10.0/24", "subnet = 10.0.8.0/22")]),
    case("HCI704", ("10.0.10.50 .. 10.0.10.59", "10.0.10.250 .. 10.0.11.3"), ("  subnet = 10.0.10.0/24\n", ""),
         at="ip_range", fixed=[("10.0.10.250 .. 10.0.11.3", "10.0.10.240 .. 10.0.10.249")], name="from the node prefix"),
    case("HCI705", ("10.0.10.50 .. 10.0.10.59", "10.0.10.10 .. 10.0.10.19"), at="ip_range",
         fixed=[("10.0.10.10 .. 10.0.10.19", "10.0.10.20 .. 10.0.10.29")]),
    case("HCI706", ('custom_location = "hci-base-cl"', 'custom_location = "-cl"'), at="custom_location",
         fixed=[('"-cl"', '"hci.base_cl"')]),
    case("HCI707", ('adou_path = "OU=hci-base,DC=contoso,DC=com"', 'adou_path = "OU=R&D,DC=contoso,DC=com"'),
         at="adou_path", fixed=[("R&D", "RnD")]),
    case("HCI707", ('adou_path = "OU=hci-base,DC=contoso,DC=com"', 'adou_path = "DC=contoso,DC=com"'),
         at="adou_path", fixed=[('"DC=contoso', '"OU=x,DC=contoso')], name="top level"),
    # --- HCI8xx: windows ----------------------------------------------------------------------------------------------
    case("HCI801", ("end = 2026-12-06T06:00Z", "end = 2026-12-05T06:00Z"), at="end = 2026-12-05T06:00Z",
         fixed=[("end = 2026-12-05T06:00Z", "end = 2026-12-05T23:00Z")]),
    case("HCI801", ("end = 2026-12-06T06:00Z", "end = 2026-12-05T23:00+01:00"), at="end = 2026-12-05T23:00+01:00",
         fixed=[("end = 2026-12-05T23:00+01:00", "end = 2026-12-05T23:00-01:00")], name="zones compared"),
    case("HCI802", ("start = 2026-12-05T22:00Z", "start = 2026-12-05T22:00"), at="start = 2026-12-05T22:00 ",
         fixed=[("start = 2026-12-05T22:00 ", "start = 2026-12-05T22:00+00:00 ")]),
    case("HCI803", ("start = 2026-12-12T22:00+01:00", "start = 2026-12-06T05:00+01:00"), at='window "second"',
         fixed=[("start = 2026-12-06T05:00+01:00", "start = 2026-12-06T07:00+01:00")]),
]


def case_id(c: Case) -> str:
    return f"{c.code}-{c.name}" if c.name else c.code


def broken_text(c: Case) -> str:
    return mutate(c.base, *c.broken)


def test_the_bases_check_clean():
    for base in (BASE, TWO_NODES):
        assert check(base).diagnostics == ()
    assert codes(check(ONE_NODE)) == ["HCI505"]  # a single node is always worth a warning


def test_every_code_from_hci101_up_has_a_case():
    """Every code `hciplan check` can report past parsing: the HCI1xx-HCI8xx families (see codes.py)."""
    covered = {c.code for c in CASES}
    # HCI112 belongs to the commands that need a plan (tests/test_plan.py), not to `check`; HCI804 judges
    # the compiled plan against the windows (tests/test_windows_fit.py), HCI805 its expected schedule's
    # mixed OS mode (tests/test_mixed_mode.py).
    registered = {code for code in REGISTRY if 101 <= int(code[3:]) < 900} - {"HCI112", "HCI804", "HCI805"}
    assert registered - covered == set()


def test_every_semantic_code_has_a_corrected_variant():
    semantic = {c.code for c in CASES if int(c.code[3:]) >= 200}
    corrected = {c.code for c in CASES if c.fixed is not None}
    assert semantic <= corrected


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_code_is_reported_where_expected(c: Case):
    text = broken_text(c)
    result = check(text)
    matching = [d for d in result.diagnostics if d.code == c.code]
    assert matching, [(d.code, d.message) for d in result.diagnostics]
    assert line_of(text, c.at) in {d.span.line for d in matching}
    entry = REGISTRY[c.code]
    assert all(d.severity is entry.severity for d in matching)
    assert all(d.message for d in matching)
    if int(c.code[3:]) < 200 and c.fixed is None:
        assert result.model is None, "structural mistakes stop the model from being built"
    else:
        assert result.model is not None


@pytest.mark.parametrize("c", [c for c in CASES if c.fixed is not None], ids=case_id)
def test_corrected_variant_is_not_reported(c: Case):
    result = check(mutate(broken_text(c), *c.fixed))
    assert c.code not in codes(result), [(d.code, d.message) for d in result.diagnostics]
    assert not any(d.severity is Severity.ERROR for d in result.diagnostics), result.diagnostics


def test_domain_rules_cite_their_source():
    for c in CASES:
        entry = REGISTRY[c.code]
        if entry.source:
            assert re.fullmatch(r"\[[A-Z]-[a-z0-9]+\](, \[[A-Z]-[a-z0-9]+\])*", entry.source), entry.source


# --- structural errors stop the semantic checks -------------------------------------------------------


def test_structural_errors_stop_semantic_checks():
    text = mutate(BASE, ("memory = 768GB", "memory = 768"), ('to = "23H2"', 'to = "24H2"'))
    assert codes(check(text)) == ["HCI103"]
    semantic_only = mutate(BASE, ('to = "23H2"', 'to = "24H2"'))
    assert codes(check(semantic_only)) == ["HCI201"]


def test_several_structural_errors_are_all_reported():
    text = mutate(BASE, ("memory = 768GB", "memory = 768"), ("witness = cloud", "witness = clowd"),
                  ("method = cau", "method = cau  methd = cau"))
    assert sorted(codes(check(text))) == ["HCI102", "HCI103", "HCI104"]


# --- messages and hints carry the numbers and names that matter ------------------------------------


def one(text: str, code: str):
    matching = [d for d in check(text).diagnostics if d.code == code]
    assert len(matching) == 1, check(text).diagnostics
    return matching[0]


def test_hci503_reports_ha_memory_and_memory_left():
    text = mutate(BASE, ('vm_group "sql" { count = 4   memory = 512GB', 'vm_group "sql" { count = 4   memory = 1TB'))
    diagnostic = one(text, "HCI503")
    need, left = (1024 + 640) * GiB, 3 * 512 * GiB  # HCI04 (768GB) is the largest node
    assert f"need {format_size(need)}" in diagnostic.message
    assert "`HCI04` drained" in diagnostic.message and "other 3 nodes" in diagnostic.message
    assert f"have {format_size(left)}" in diagnostic.message
    assert any(f"free {format_size(need - left)}" in h for h in diagnostic.hints)
    assert [r.message for r in diagnostic.related] == ["web: 640GB"]


SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)(TB|GB|MB|KB|B)\b")


def sizes_in(text: str) -> list[float]:
    scale = {"TB": 1024**4, "GB": GiB, "MB": 1024**2, "KB": 1024, "B": 1}
    return [float(number) * scale[unit] for number, unit in SIZE_RE.findall(text)]


@pytest.mark.parametrize("sql_memory", ["1TB", "1.25TB", "1100GB", "2TB"])
def test_hci503_figures_add_up(sql_memory):
    """need - have = what to free, as a reader would check it from the printed figures."""
    text = mutate(BASE, ('vm_group "sql" { count = 4   memory = 512GB', f'vm_group "sql" {{ count = 4   memory = {sql_memory}'))
    diagnostic = one(text, "HCI503")
    need, have = sizes_in(diagnostic.message)
    (free,) = sizes_in(diagnostic.hints[0])
    assert abs((need - have) - free) <= 0.01 * GiB, (diagnostic.message, diagnostic.hints[0])


@pytest.mark.parametrize(("size", "shown"), [
    (768 * GiB, "768GB"), (1536 * GiB, "1.5TB"), (2816 * GiB, "2.75TB"), (1664 * GiB, "1664GB"),
    (250 * GiB, "250GB"), (int(0.1 * 1024**4), "102.4GB"), (1024**4, "1TB"), (512, "512B"), (1536, "1.5KB"),
    (-2 * GiB, "-2GB"), (0, "0B"),
])
def test_format_size(size, shown):
    assert format_size(size) == shown


def test_hci503_ignores_non_ha_vms_and_offline_upgrades():
    text = mutate(BASE, ('vm_group "lab" { count = 3   memory = 96GB', 'vm_group "lab" { count = 3   memory = 9TB'))
    assert check(text).ok
    too_big = mutate(BASE, ('vm_group "sql" { count = 4   memory = 512GB', 'vm_group "sql" { count = 4   memory = 1TB'),
                     ("method = cau", "method = offline"))
    # The offline bracket drains nothing, but the solution upgrade's remediation and the ATC pass do.
    assert "HCI503" in codes(check(too_big))
    bracket_only = mutate(too_big, (SOLUTION_BLOCK, ""), ("network_atc = configure", "network_atc = keep"),
                          ("network_atc = false", "network_atc = true"), ("wdac = disable", "wdac = keep"),
                          ("wdac = enforced", "wdac = off"))
    assert "HCI503" not in codes(check(bracket_only))
    assert compile_checked(check(bracket_only)).ok  # and the safety proofs agree: nothing drains


def test_hci505_is_an_error_for_a_rolling_method_on_one_node():
    rolling = check(ONE_NODE)
    assert [(d.code, d.severity) for d in rolling.diagnostics if d.code == "HCI505"] == [("HCI505", Severity.ERROR)]
    assert "method = offline" in one(ONE_NODE, "HCI505").hints[0]


def test_hci305_names_the_fixed_volumes_and_what_converting_frees():
    diagnostic = one(mutate(BASE, ("allocated = 28TB", "allocated = 39.9TB")), "HCI305")
    free = 40 * 1024**4 - int(round(39.9 * 1024**4))
    needed = 750 * GiB + 10 * 1024**4  # 250GB as a 3-way mirror + one drive of 40TB / (4 x 4) on each of 4 nodes
    assert f"the pool has {format_size(free)} free" in diagnostic.message
    assert f"needs {format_size(needed)}" in diagnostic.message
    assert f"({format_size(needed - free)} short)" in diagnostic.message
    hints = "\n".join(diagnostic.hints)
    assert "footprint 750GB (250GB as a 3-way mirror) + repair reserve 10TB (assumed" in hints
    assert "set `reserve` on the pool" in hints
    assert "`Data01` to thin frees up to 6TB" in hints          # 2TB, 3-way mirror, nothing known about use
    assert "`Data02` to thin frees about 2.25TB" in hints  # (1TB - 256GB) x 3
    assert "Thin01" not in hints
    assert "stop" in hints  # converting stops the VMs on the volume


def _pool(base: str, pool: str) -> str:
    return mutate(base, ('pool "S2D" { size = 40TB  allocated = 28TB }', pool))


def test_hci305_counts_the_two_way_mirror_footprint_on_two_nodes():
    # 400GB free held the raw 250GB (the old rule); as a 2-way mirror Infrastructure_1 takes 500GB.
    short = _pool(TWO_NODES, 'pool "S2D" { size = 40TB  allocated = 39.609375TB  reserve = 0GB }')
    diagnostic = one(short, "HCI305")
    assert "the pool has 400GB free; `Infrastructure_1` needs 500GB (100GB short)" in diagnostic.message
    assert diagnostic.hints[0].startswith("footprint 500GB (250GB as a 2-way mirror) + repair reserve 0B "
                                          "(the pool's `reserve`)")
    assert "HCI305" not in codes(check(_pool(TWO_NODES, 'pool "S2D" { size = 40TB  allocated = 39.5TB  reserve = 0GB }')))


def test_hci305_counts_the_three_way_mirror_footprint_on_three_or_more_nodes():
    assert "HCI305" in codes(check(_pool(BASE, 'pool "S2D" { size = 40TB  allocated = 39.4TB  reserve = 0GB }')))  # ~614GB
    assert "HCI305" not in codes(check(_pool(BASE, 'pool "S2D" { size = 40TB  allocated = 39.25TB  reserve = 0GB }')))


def test_hci305_keeps_the_assumed_repair_reserve_free():
    # 2 nodes: one drive per node, a drive taken as 8TB / (4 x 2) = 1TB: 2TB reserve + 500GB footprint.
    enough_for_the_volume = _pool(TWO_NODES, 'pool "S2D" { size = 8TB  allocated = 6TB }')
    diagnostic = one(enough_for_the_volume, "HCI305")
    assert "the pool has 2TB free; `Infrastructure_1` needs 2548GB (500GB short)" in diagnostic.message
    assert "repair reserve 2TB (assumed: one capacity drive per node up to four" in diagnostic.hints[0]
    assert "HCI305" not in codes(check(_pool(TWO_NODES, 'pool "S2D" { size = 8TB  allocated = 5.5TB }')))


def test_hci305_without_fixed_volumes_says_so():
    text = mutate(BASE, ("allocated = 28TB", "allocated = 39.9TB"),
                  ("size = 2TB  resiliency = mirror_3way  provisioning = fixed", "size = 2TB  resiliency = mirror_3way  provisioning = thin"),
                  ("size = 1TB  resiliency = mirror_3way  provisioning = fixed", "size = 1TB  resiliency = mirror_3way  provisioning = thin"))
    assert re.match(r"no (other )?fixed volume", one(text, "HCI305").hints[1])  # after the figures


def test_hci201_lists_the_supported_paths():
    diagnostic = one(mutate(BASE, ('to = "23H2"', 'to = "24H2"')), "HCI201")
    assert "22H2 to 24H2" in diagnostic.message
    assert diagnostic.hints == ("supported paths: 22H2 -> 23H2",)


def test_hci405_lists_unknown_missing_and_repeated_nodes():
    diagnostic = one(mutate(BASE, ('["HCI04", "HCI03", "HCI02", "HCI01"]', '["HCI04", "HCI09", "HCI02", "hci04"]')), "HCI405")
    assert "not cluster nodes: HCI09" in diagnostic.message
    assert "missing: HCI01, HCI03" in diagnostic.message
    assert "listed twice: " in diagnostic.message and "HCI04" in diagnostic.message.split("listed twice: ")[1]


def test_hci602_counts_the_vms_affected():
    diagnostic = one(mutate(BASE, ("method = cau", "method = offline")), "HCI602")
    assert "all 27 VMs" in diagnostic.message  # 4 + 20 + 3, HA or not


def test_hci607_gives_the_allowed_range():
    diagnostic = one(mutate(BASE, ("max_failed_nodes = 0", "max_failed_nodes = 5")), "HCI607")
    assert "4 nodes" in diagnostic.message and "0 to 3" in diagnostic.message


def test_hci702_hint_gives_the_bare_user_name():
    diagnostic = one(mutate(BASE, ('deployment_user = "hcilcm"', 'deployment_user = "CONTOSO\\\\lcm-user"')), "HCI702")
    assert diagnostic.hints == ("write `lcm-user`",)


def test_hci703_counts_the_addresses():
    diagnostic = one(mutate(BASE, ("10.0.10.50 .. 10.0.10.59", "10.0.10.50 .. 10.0.10.53")), "HCI703")
    assert "has 4 addresses; at least 6" in diagnostic.message
    assert "`10.0.10.50 .. 10.0.10.55`" in diagnostic.hints[0]


def test_hci703_hint_stays_inside_the_address_space():
    diagnostic = one(mutate(BASE, ("10.0.10.50 .. 10.0.10.59", "255.255.255.254 .. 255.255.255.255")), "HCI703")
    assert diagnostic.hints == ("extend it to `255.255.255.250 .. 255.255.255.255`",)


def test_hci705_names_the_node_whose_ip_overlaps():
    diagnostic = one(mutate(BASE, ("10.0.10.50 .. 10.0.10.59", "10.0.10.14 .. 10.0.10.23")), "HCI705")
    assert "node `HCI04` (10.0.10.14)" in diagnostic.message
    assert diagnostic.related[0].span.line == line_of(BASE, "ip = 10.0.10.14/24")


def test_hci705_is_one_diagnostic_for_the_range_whatever_it_covers():
    diagnostic = one(mutate(BASE, ("10.0.10.50 .. 10.0.10.59", "10.0.10.12 .. 10.0.10.21")), "HCI705")
    assert "nodes `HCI02` (10.0.10.12), `HCI03` (10.0.10.13), `HCI04` (10.0.10.14)" in diagnostic.message
    assert [r.span.line for r in diagnostic.related] == [line_of(BASE, f"ip = 10.0.10.1{i}/24") for i in (2, 3, 4)]


def test_unknown_names_get_did_you_mean():
    assert "did you mean `witness`?" in one(mutate(BASE, ("witness = cloud", "witnes = cloud")), "HCI102").hints
    assert "did you mean `cloud`?" in one(mutate(BASE, ("witness = cloud", "witness = clowd")), "HCI104").hints
    assert "did you mean `vm_group`?" in one(mutate(BASE, ('vm_group "lab"', 'vmgroup "lab"')), "HCI101").hints
    hint = one(mutate(BASE, ("witness = cloud", 'witness = "cloud"')), "HCI103").hints[0]
    assert "without quotes" in hint


def test_a_misspelt_required_attribute_is_reported_once():
    result = check(mutate(BASE, ("witness = cloud", "witnes = cloud")))
    assert codes(result) == ["HCI102"] and result.diagnostics[0].hints == ("did you mean `witness`?",)
    in_a_node = check(mutate(BASE, ("ip = 10.0.10.13/24", "ipp = 10.0.10.13/24")))
    assert codes(in_a_node) == ["HCI102"]
    unrelated = check(mutate(BASE, ("  witness = cloud\n", "  colour = blue\n")))
    assert sorted(codes(unrelated)) == ["HCI102", "HCI105"]  # not a misspelling: witness is still missing


def test_a_cluster_without_nodes_is_reported_alone():
    nodes = BASE[BASE.index('  node "HCI01"'):BASE.index('  pool "S2D"')]
    result = check(mutate(BASE, (nodes, "")))
    assert codes(result) == ["HCI111"] and result.model is None  # not three HCI502 about "0 nodes"
    assert result.diagnostics[0].message == "`cluster` needs at least one `node` block"


def test_a_decimal_where_a_whole_number_is_expected_says_so():
    diagnostic = one(mutate(BASE, ("count = 4 ", "count = 4.5 ")), "HCI103")
    assert diagnostic.message == "`count` takes a whole number, not a decimal number"


def test_related_spans_point_at_the_other_place():
    diagnostic = one(mutate(BASE, ("  registered = true\n", "  registered = true\n  registered = false\n")), "HCI106")
    assert diagnostic.related[0].span.line == line_of(BASE, "registered = true")
