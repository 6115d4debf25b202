"""What the real validator's verdict means for a `.hciplan` file.

`hciplan.discovery.validation` reads the Environment Checker's results; this
module maps each test hciplan knows to the fact of the file it decides
(`KNOWN_TESTS`, `FACTS`) and judges every failure against the file and its
plan (`judge`):

- *planned*: the plan resolves it (BitLocker is suspended in P1, the OS is
  upgraded in P2, ...): listed in the summary, no diagnostic;
- *confirmed*: hciplan's own rule for the fact already reports it (HCI301 for
  BitLocker, HCI305 for pool space): that diagnostic gets the validator's text;
- *contradicted*: the file says otherwise (`bitlocker = off`): HCI1102, with the
  value to write, which `hciplan import --validation ... --into FILE` writes;
- *live*: no fact of the file decides it (Secure Boot off, a node not Up):
  HCI1101 at the node's block or the fact's attribute, with hciplan's remediation;
- a test hciplan does not know: HCI1103, listed with its name, status and target.

`overlay` turns a verdict into diagnostics for the one renderer;
`rewrite` changes the facts of a file's layout tree for `hciplan.fmt`.
docs/validation.md documents the tests, the facts and the rules.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from hciplan import fmt
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import Collector, Diagnostic, Severity
from hciplan.compiler.model import Model
from hciplan.compiler.pipeline import CheckResult, check_text
from hciplan.compiler.source import Span
from hciplan.compiler.storage import INFRASTRUCTURE_VOLUME
from hciplan.discovery.inventory import escape_control
from hciplan.discovery.validation import Result

COMMENT_PREFIX = "# from validation:"
MAX_TEXT = 240  # characters of the validator's Detail or Remediation quoted in one message or hint


# --- the tests hciplan knows ------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownTest:
    """A test name hciplan maps to a fact; `decides`: a failure sets the fact's value; `proves`: a pass does too."""

    name: str
    fact: str
    origin: str
    decides: bool = True
    proves: bool = False


# Where the names come from (docs/validation.md cites them):
UPGRADE = "upgrade validator"  # AzStackHci.EnvironmentChecker: AzStackHciUpgrade/AzStackHci.Upgrade.Helpers.psm1
AGGREGATED = "upgrade validator, aggregated"  # New-AggregatedTestResult: AzStackHci_Upgrade_<test without Test->
CLUSTER = "upgrade validator, cluster tests"  # the checker's cluster helpers, run by the upgrade validation
STORAGE = "upgrade validator, storage tests"  # AzStackHci_Storage_* renamed AzStackHci_Upgrade_* by Test-Storage
SAMPLE = "support samples"  # ../shared/samples/envchecker-results.txt (Azure/AzureLocal-Supportability TSGs)

KNOWN_TESTS: tuple[KnownTest, ...] = (
    KnownTest("AzStackHci_Upgrade_23H2", "os_version", UPGRADE, proves=True),
    KnownTest("AzStackHci_Upgrade_Windows_OS_Version", "os_version", UPGRADE, proves=True),
    KnownTest("AzStackHci_Upgrade_Test_Unsupported_OS_Build", "os_version", UPGRADE),
    KnownTest("AzStackHci_Upgrade_RequiredWindowsVersionForUpgrade", "os_version", AGGREGATED, proves=True),
    KnownTest("AzStackHci_Required_Windows_Features", "features", UPGRADE),
    KnownTest("AzStackHci_Upgrade_RequiredWindowsFeature", "features", AGGREGATED),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCFeature_Installed", "network_atc", UPGRADE),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCIntents_Present", "network_atc", UPGRADE),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCManagementIntent_Present", "network_atc", UPGRADE),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCStorageIntent_Present", "network_atc", UPGRADE),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCRequiredIntents_Present", "network_atc", UPGRADE, proves=True),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCService_Running", "network_atc", UPGRADE, decides=False),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCIntent_HealthyState", "network_atc", UPGRADE, decides=False),
    KnownTest("AzStackHci_Upgrade_Test_NetworkATCIntent_StatusNull", "network_atc", UPGRADE, decides=False),
    KnownTest("AzStackHci_Upgrade_NetworkAtcIntents", "network_atc", AGGREGATED, decides=False, proves=True),
    KnownTest("AzStackHci_Network_Test_Network_Cluster_MgmtIntent_Exists", "network_atc", SAMPLE),
    KnownTest("AzStackHci_Network_Test_Network_Cluster_StorageIntentExistence", "network_atc", SAMPLE),
    KnownTest("AzStackHci_Network_Test_Network_Cluster_Intent_Status", "network_atc", SAMPLE, decides=False),
    KnownTest("AzureLocal_Network_Test_IntentVirtualAdapterExistence", "network_atc", SAMPLE, decides=False),
    KnownTest("AzStackHci_Upgrade_BitlockerSuspension", "bitlocker", UPGRADE),
    KnownTest("AzStackHci_Upgrade_WDACEnablement", "wdac", UPGRADE, proves=True),  # aggregated: the same name
    KnownTest("AzStackHci_Upgrade_Language", "language", UPGRADE, proves=True),  # aggregated: the same name
    KnownTest("AzStackHci_Upgrade_AksHci", "aks", UPGRADE, proves=True),
    KnownTest("AzStackHci_Upgrade_AksHciInstallState", "aks", AGGREGATED, proves=True),
    KnownTest("AzStackHci_Upgrade_Moc", "aks", UPGRADE, proves=True),
    KnownTest("AzStackHci_Upgrade_MocInstallState", "aks", AGGREGATED, proves=True),
    KnownTest("AzStackHci_Upgrade_MocServices", "aks", UPGRADE, proves=True),
    KnownTest("AzStackHci_Upgrade_MocServicesInstallState", "aks", AGGREGATED, proves=True),
    KnownTest("AzStackHci_Upgrade_StretchedCluster", "stretched", CLUSTER, proves=True),
    KnownTest("AzStackHci_Upgrade_ClusterRegistrationState", "registered", UPGRADE),
    KnownTest("AzStackHci_Upgrade_AzureStackHCIRegistrationState", "registered", AGGREGATED),
    KnownTest("AzStackHci_Upgrade_SupportedCloud", "cloud", UPGRADE),
    KnownTest("AzStackHci_Upgrade_AzureSupportedCloudType", "cloud", AGGREGATED),
    KnownTest("AzStackHci_Upgrade_ClusterFunctionalLevel", "functional_level", CLUSTER),
    KnownTest("AzStackHci_Upgrade_Test_Storage_Pool", "pool", STORAGE),
    KnownTest("AzStackHci_Upgrade_Test_Storage_Volume", "infra_volume", STORAGE),
    KnownTest("AzStackHci_Upgrade_Storage", "storage", AGGREGATED),
    KnownTest("AzStackHci_Upgrade_Minimum_LCM_Version", "lcm", UPGRADE),
    KnownTest("AzStackHci_Upgrade_LCMVersion", "lcm", AGGREGATED),
    KnownTest("AzStackHci_Upgrade_AlreadyDeployedEnvironment", "already_deployed", UPGRADE),
    KnownTest("AzStackHci_Upgrade_AlreadyDeployed", "already_deployed", AGGREGATED),
    KnownTest("AzStackHci_Upgrade_Cluster_NameLength", "cluster_name", CLUSTER),
    KnownTest("AzStackHci_Upgrade_Cluster_Exists", "cluster_state", CLUSTER),
    KnownTest("AzStackHci_Cluster_ResourceOnline", "cluster_state", CLUSTER),
    KnownTest("AzStackHci_Upgrade_ClusterNodeUp", "node_up", CLUSTER),
    KnownTest("AzStackHci_Upgrade_ClusterIPExcludedFromIPPool", "ip_range", CLUSTER),
    KnownTest("AzStackHci_Network_Test_Validity_MgmtIp_NotIn_Infra_Pool", "ip_range", SAMPLE),
    KnownTest("AzStackHci_Network_Test_Validity_MgmtIp_In_Infra_Subnet", "ip_range", SAMPLE),
    KnownTest("AzStackHci_Network_Test_Management_IP_Range_Subnet", "ip_range", SAMPLE),
    KnownTest("AzStackHci_Network_Test_IP_Pools_Subnet_No_Duplicates", "ip_range", SAMPLE),
    KnownTest("AzStackHci_Network_Test_AKS_Subnet_POD_CIDR_IP_Range_Overlap", "ip_range", SAMPLE),
    KnownTest("AzStackHci_Network_Test_AKS_Subnet_Service_CIDR_IP_Range_Overlap", "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_ExceptionFound", "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_AzureArc", "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_DNSClientServerAddress_Readiness",
              "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_DNS_Server_Port_53", "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_Hyper_V_Readiness", "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_IPReadiness", "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_VMSwitch_Readiness", "ip_range", SAMPLE),
    KnownTest("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_vNIC_Readiness", "ip_range", SAMPLE),
    KnownTest("AzureLocal_Network_Test_NodeManagementIPConnection", "node_ip", SAMPLE),
    KnownTest("AzStackHci_Hardware_Test_Secure_Boot", "secure_boot", SAMPLE),
    KnownTest("AzStackHci_Hardware_Test_Tpm_Version", "tpm_version", SAMPLE),
    KnownTest("AzStackHci_Upgrade_Test_Tpm_Version", "tpm_version", UPGRADE),  # Test-TPMHealth renames Hardware
    KnownTest("AzStackHci_Upgrade_TPMHealth", "tpm_property", AGGREGATED),
    KnownTest("AzStackHci_Software_IsNotPartofDomain", "domain", SAMPLE),
)
_BY_NAME = {test.name.lower(): test for test in KNOWN_TESTS}
# The TPM property tests, one per property: AzStackHci_Hardware_Test_Tpm_TpmPresent_Property (the checker's own
# example of a name); the upgrade validation renames Hardware to Upgrade.
TPM_PROPERTY_TEST = re.compile(r"AzStackHci_(Hardware|Upgrade)_Test_Tpm_\w+_Property", re.I)


def known_test(result: Result) -> KnownTest | None:
    test = _BY_NAME.get(result.name.lower())
    if test is None and TPM_PROPERTY_TEST.fullmatch(result.name):
        return KnownTest(result.name, "tpm_property", UPGRADE)
    return test


# --- the facts they decide ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """An attribute of the file the results decide: `block` is ("cluster",) or ("cluster", "aks")."""

    block: tuple[str, ...]
    attr: str
    value: object
    shown: str  # as written in the file


def _upgrade_planned(model: Model, text: str, condition: Callable[[Model], bool]) -> str | None:
    return text if model.upgrade is not None and condition(model) else None


@dataclass(frozen=True)
class Fact:
    """A fact of the model (or of the plan) that validator tests decide, and how hciplan judges a failure of it.

    `agrees`: the file says what a failure says. `planned`: the plan step that resolves it, or None.
    `fix`: the value a failure implies (for the rewrite). `proven`: the value a pass implies, or the text
    to write when no single value can be written. `uncertain`: why a failure may be planned after all.
    `scope`: when a live failure blocks: any upgrade, only a solution upgrade, never (warning), or a
    new deployment's test (deployment).
    """

    key: str
    what: str
    scope: str
    remediation: str
    codes: tuple[str, ...] = ()
    per_node: bool = False
    place: Callable[[Model, str | None], Span] | None = None
    agrees: Callable[[Model, Sequence[Result]], bool] = lambda model, results: True
    planned: Callable[[Model], str | None] = lambda model: None
    fix: Callable[[Model, Sequence[Result]], Change | None] = lambda model, results: None
    proven: Callable[[Model, Sequence[Result]], tuple[str, Change | None] | None] = lambda model, results: None
    uncertain: Callable[[Model], tuple[str, ...] | None] = lambda model: None
    unhealthy: str | None = None  # the remediation when a test that does not decide the fact fails on a file
    #                               that has it (intents configured but unhealthy)


def _cluster_attr(name: str) -> Callable[[Model, str | None], Span]:
    return lambda model, node: model.cluster.spans[name]


def _node_block(model: Model, node: str | None) -> Span:
    found = model.cluster.node(node) if node else None
    return found.spans.header if found is not None else model.cluster.spans.header


def _node_ip(model: Model, node: str | None) -> Span:
    found = model.cluster.node(node) if node else None
    return found.spans["ip"] if found is not None else model.cluster.spans.header


def _aks_place(model: Model, node: str | None) -> Span:
    aks = model.cluster.aks
    return aks.spans["installed"] if aks.spans is not None else model.cluster.spans.header


def _pool_place(model: Model, node: str | None) -> Span:
    pool = model.cluster.pool
    return pool.spans.header if pool is not None else model.cluster.spans.header


def _solution_place(attr: str | None) -> Callable[[Model, str | None], Span]:
    def place(model: Model, node: str | None) -> Span:
        solution = model.upgrade.solution if model.upgrade is not None else None
        if solution is None:
            return model.cluster.spans.header
        return solution.spans[attr] if attr else solution.spans.header
    return place


def _upgrade_attr(name: str) -> Callable[[Model, str | None], Span]:
    return lambda model, node: model.upgrade.spans[name] if model.upgrade is not None else model.cluster.spans.header


def _language_tag(results: Sequence[Result]) -> str | None:
    """The first language tag the validator saw (AdditionalData.Resource is "Language: de-DE")."""
    for result in results:
        match = re.search(r"Language:\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)", result.resource or "")
        if match:
            return match.group(1)
    return None


def _language_fix(model: Model, results: Sequence[Result]) -> Change | None:
    tag = _language_tag(results)
    return Change(("cluster",), "language", tag, f'"{tag}"') if tag and not tag.lower().startswith("en-") else None


def _language_proven(model: Model, results: Sequence[Result]) -> tuple[str, Change | None] | None:
    if model.cluster.language.lower().startswith("en-"):
        return None
    tag = _language_tag(results)
    tag = tag if tag and tag.lower().startswith("en-") else "en-US"
    return f'`language = "{tag}"`', Change(("cluster",), "language", tag, f'"{tag}"')


def _flag(block: tuple[str, ...], attr: str, value: bool) -> Change:
    return Change(block, attr, value, "true" if value else "false")


def _enum(attr: str, value: str) -> Change:
    return Change(("cluster",), attr, value, value)


def _not_en(model: Model, results: Sequence[Result]) -> bool:
    return model.cluster.language.lower() != "en-us"


FACTS: dict[str, Fact] = {fact.key: fact for fact in (
    Fact("bitlocker", "BitLocker suspension", "upgrade",
         "set `bitlocker = suspend` in the upgrade block, or every reboot stops at the recovery prompt (HCI301) "
         "[A-val]", ("HCI301",), place=_cluster_attr("bitlocker"),
         agrees=lambda m, r: m.cluster.bitlocker == "on",
         planned=lambda m: _upgrade_planned(m, "P1 suspends BitLocker on every node before the first reboot "
                                               "(`bitlocker = suspend`)", lambda m: m.upgrade.bitlocker == "suspend"),
         fix=lambda m, r: _enum("bitlocker", "on")),
    Fact("wdac", "WDAC enablement", "solution",
         "set `wdac = disable`: the policies are removed before Arc enablement and the new ones re-applied after "
         "(HCI302) [A-val]", ("HCI302",), place=_cluster_attr("wdac"),
         agrees=lambda m, r: m.cluster.wdac == "enforced",
         planned=lambda m: _upgrade_planned(m, "P5 removes the WDAC policies before Arc enablement and P7 re-applies "
                                               "the new ones (`wdac = disable`)",
                                            lambda m: m.upgrade.wdac == "disable" and m.upgrade.solution is not None),
         fix=lambda m, r: _enum("wdac", "enforced"),
         proven=lambda m, r: ("`wdac = audit` or `wdac = off`, whichever the nodes run", None)
         if m.cluster.wdac == "enforced" else None),
    Fact("network_atc", "Network ATC", "solution",
         "set `network_atc = configure`: P4 installs Network ATC and moves each node to its intents (HCI303) "
         "[A-val], [A-atc]", ("HCI303",), place=_cluster_attr("network_atc"),
         agrees=lambda m, r: not m.cluster.network_atc,
         planned=lambda m: _upgrade_planned(m, "P4 installs Network ATC and moves each node to its intents "
                                               "(`network_atc = configure`)",
                                            lambda m: m.upgrade.network_atc == "configure"),
         fix=lambda m, r: _flag(("cluster",), "network_atc", False),
         proven=lambda m, r: ("`network_atc = true`, or the plan configures Network ATC again",
                              _flag(("cluster",), "network_atc", True)) if not m.cluster.network_atc else None,
         unhealthy="the intents exist but are not healthy: `Get-NetIntentStatus` on each node says why; a "
                   "management intent reporting PhysicalAdapterNotFound needs `Rename-NetAdapter`, then "
                   "`Set-NetIntentRetryState` [S-atcnic]"),
    Fact("language", "display language", "solution",
         "run `Set-WinUserLanguageList en-US` for the LCM user on each node, then set `language = \"en-US\"` "
         "(HCI304) [A-val]", ("HCI304",), place=_cluster_attr("language"), agrees=_not_en, fix=_language_fix,
         proven=_language_proven),
    Fact("aks", "AKS and MOC", "upgrade",
         "set `aks = remove` (irreversible for the AKS workloads: move them first) (HCI207) [A-about]",
         ("HCI207",), place=_aks_place, agrees=lambda m, r: m.cluster.aks.installed,
         planned=lambda m: _upgrade_planned(m, "P1 removes AKS Arc before the OS upgrade (`aks = remove`)",
                                            lambda m: m.upgrade.aks == "remove"),
         fix=lambda m, r: _flag(("cluster", "aks"), "installed", True),
         proven=lambda m, r: ("`aks { installed = false }`", _flag(("cluster", "aks"), "installed", False))
         if m.cluster.aks.installed else None),
    Fact("stretched", "stretched cluster", "upgrade",
         "a stretched cluster takes the OS upgrade only, from the 2509 ISO: no `solution` block, `source = media` "
         "(HCI203, HCI204) [A-stretch]", ("HCI203", "HCI204"), place=_cluster_attr("stretched"),
         agrees=lambda m, r: m.cluster.stretched,
         planned=lambda m: _upgrade_planned(m, "the plan takes the OS upgrade only, from the media, as a stretched "
                                               "cluster must [A-stretch]",
                                            lambda m: m.upgrade.solution is None and m.upgrade.source == "media"),
         fix=lambda m, r: _flag(("cluster",), "stretched", True),
         proven=lambda m, r: ("`stretched = false`", _flag(("cluster",), "stretched", False))
         if m.cluster.stretched else None),
    Fact("registered", "Azure registration", "upgrade",
         "register the cluster (`Register-AzStackHCI`) and set `registered = true` (HCI208) [A-ts]", ("HCI208",),
         place=_cluster_attr("registered"), agrees=lambda m, r: not m.cluster.registered,
         fix=lambda m, r: _flag(("cluster",), "registered", False)),
    Fact("cloud", "supported Azure cloud", "solution",
         "the solution upgrade needs the cluster registered in public Azure (the checker also accepts Azure US "
         "Government); Azure China cannot take it [A-inst]", place=_cluster_attr("registered")),
    Fact("os_version", "OS version", "upgrade",
         "the nodes must run a supported 23H2 build with its latest cumulative update before the solution upgrade "
         "[A-val]", place=_cluster_attr("version"),
         agrees=lambda m, r: m.cluster.version.upper() != "23H2",
         planned=lambda m: _upgrade_planned(m, "P2 upgrades every node to 23H2; the readiness gate (P5) validates "
                                               "again after it",
                                            lambda m: m.cluster.version.upper() == "22H2" and m.upgrade.to.upper() == "23H2"),
         proven=lambda m, r: ("`version = \"23H2\"`: the OS upgrade is done, and hciplan plans 22H2 -> 23H2 only",
                              None) if m.cluster.version.upper() != "23H2" else None),
    Fact("features", "required Windows features", "solution",
         "install the required roles and features on each node, drained: some need a restart [A-val]",
         per_node=True, place=_node_block,
         planned=lambda m: _upgrade_planned(m, "P5's remediation pass installs the required roles and features on "
                                               "each node, drained and restarted [A-val]",
                                            lambda m: m.upgrade.solution is not None)),
    Fact("functional_level", "cluster functional level", "solution",
         "use `functional_level = after_validation` and `storage_pool = update` (HCI308) [A-val]", ("HCI308",),
         place=_upgrade_attr("functional_level"),
         planned=lambda m: _upgrade_planned(m, "P3 raises the cluster functional level after the validation gate",
                                            lambda m: m.upgrade.functional_level != "manual")),
    Fact("pool", "storage pool", "solution",
         "the pool needs room for `Infrastructure_1` (HCI305), a current version (`storage_pool = update`, HCI308) "
         "and to be healthy [A-val]", ("HCI305", "HCI309", "HCI308"), place=_pool_place,
         uncertain=lambda m: _pool_uncertain(m)),
    Fact("infra_volume", "volume name Infrastructure_1", "solution",
         "describe the volume named `Infrastructure_1` in the file; move the VMs' storage off it and rename it "
         "(HCI306) [A-val]", ("HCI306",),
         place=lambda m, node: m.cluster.spans.header,
         agrees=lambda m, r: any(v.name.lower() == INFRASTRUCTURE_VOLUME.lower() for v in m.cluster.volumes)),
    Fact("storage", "storage pool and volumes", "solution",
         "the pool needs room for `Infrastructure_1` (HCI305) and a current version (HCI308); no volume may be "
         "named `Infrastructure_1` (HCI306) [A-val]", ("HCI305", "HCI306", "HCI309", "HCI308"), place=_pool_place,
         uncertain=lambda m: _pool_uncertain(m)),
    Fact("ip_range", "infrastructure IP range", "solution",
         "the range needs at least 6 contiguous IPv4 addresses in the management subnet, unused, excluding node "
         "and cluster IPs, with outbound access and reachable from the hosts (HCI703-HCI705) [A-inst]",
         ("HCI703", "HCI704", "HCI705"), place=_solution_place("ip_range")),
    Fact("lcm", "LCM version", "solution",
         "install or update the LCM extension on every node [A-val], [S-lcm]",
         place=_solution_place(None),
         planned=lambda m: _upgrade_planned(m, "P5 installs or updates the LCM extension on every node and waits "
                                               "until it has initialised [A-val], [S-lcm]",
                                            lambda m: m.upgrade.solution is not None)),
    Fact("already_deployed", "solution already deployed", "solution",
         "the solution is already installed: remove the `solution` block, there is nothing to upgrade [A-ps]",
         place=_solution_place(None)),
    Fact("cluster_name", "cluster name", "upgrade",
         "write the cluster's name as `Get-Cluster` shows it: a failover cluster name is 3 to 15 characters "
         "(HCI403) [A-arm]", ("HCI403",),
         place=lambda m, node: m.cluster.spans.header, agrees=lambda m, r: len(m.cluster.name) > 15),
    Fact("cluster_state", "cluster and its core resources", "upgrade",
         "run the validation on a node of the running cluster; its core resources must be online [A-val]",
         place=lambda m, node: m.cluster.spans.header),
    Fact("node_up", "node Up", "upgrade",
         "bring the node up and resume it (`Get-ClusterNode`, `Resume-ClusterNode`): every node must be Up before "
         "the upgrade [A-val]", per_node=True, place=_node_block),
    Fact("node_ip", "node management IP", "solution",
         "the node's management IP must reach that node: check its `ip` and DNS (HCI402 finds duplicates in the "
         "file) [A-inst]", per_node=True, place=_node_ip),
    Fact("secure_boot", "Secure Boot", "solution",
         "enable Secure Boot in the node's UEFI firmware (an assumption: the validator's own requirement; the domain "
         "reference lists no Secure Boot check for this upgrade)", per_node=True, place=_node_block),
    Fact("tpm_version", "TPM version 2.0", "solution",
         "the TPM must report version 2.0: switch it in firmware, which clears it (suspend BitLocker first); the "
         "emitted readiness gate treats only the TPM property tests as warnings [A-val]",
         per_node=True, place=_node_block),
    Fact("tpm_property", "TPM properties", "warning",
         "a documented non-blocking TPM warning: fix it after the upgrade [A-val]", per_node=True, place=_node_block),
    Fact("domain", "domain membership", "deployment",
         "nodes must not be domain-joined before a new deployment, but an existing cluster's nodes are domain members "
         "and its solution upgrade relies on AD (the deployment user is an AD user [A-inst]): these results come from "
         "a deployment validation, not from `Invoke-AzStackHciUpgradeValidation` (inference)",
         per_node=True, place=_node_block),
)}


def _pool_uncertain(model: Model) -> tuple[str, ...] | None:
    """Why a pool failure hciplan's figures do not explain may still be planned (its version), or None."""
    upgrade = model.upgrade
    if upgrade is None or model.cluster.pool is None or upgrade.storage_pool != "update" \
            or upgrade.functional_level == "manual":
        return None
    return ("hciplan's figures leave room for `Infrastructure_1`: if the failure is the pool's version, P3's "
            "`storage_pool = update` raises it before the readiness gate",
            "if it is space or health, correct `size` and `allocated` from `Get-StoragePool` (HCI305) and repair "
            "the pool [A-val]")


# --- the verdict ---------------------------------------------------------------------------------------

PLANNED, CONFIRMED, CONTRADICTED, LIVE, UNKNOWN = "planned", "confirmed", "contradicted", "live", "unknown"


@dataclass(frozen=True)
class Finding:
    """One fact (or unknown test) and the results about it, judged against the file."""

    fact: Fact | None
    results: tuple[Result, ...]
    state: str
    span: Span
    code: str | None  # the code this finding reports (HCI1101-HCI1103) or the hciplan rule it confirms
    message: str
    hints: tuple[str, ...] = ()
    severity: Severity | None = None
    planned_by: str | None = None
    change: Change | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.name for r in self.results))


@dataclass(frozen=True)
class Verdict:
    """The results of one export, judged against one file (or against no file: `findings` is then empty)."""

    name: str
    results: tuple[Result, ...]
    findings: tuple[Finding, ...] = ()
    foreign: tuple[str, ...] = ()  # machines the results name that are not nodes of the file (when none are)
    cluster: Span | None = None  # the file's cluster block

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def finding_of(self, result: Result) -> Finding | None:
        return next((f for f in self.findings if any(r is result for r in f.results)), None)

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(f.change for f in self.findings if f.change is not None)


@functools.lru_cache(maxsize=1024)
def _boundary(name: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9-]){re.escape(name)}(?![A-Za-z0-9-])", re.I)


def mentioned_nodes(result: Result, model: Model) -> tuple[str, ...]:
    """The file's nodes a result is about: named in its target, source or display name (or, for an aggregated
    result, in its detail), in file order."""
    fields = " ".join(t for t in (result.target_name, result.target_id, result.source, result.display_name) if t)
    found = tuple(n.name for n in model.cluster.nodes if _boundary(n.name).search(fields))
    if not found and result.aggregated and result.detail:
        found = tuple(n.name for n in model.cluster.nodes if _boundary(n.name).search(result.detail))
    return found


_COMPUTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")


def _machines(result: Result) -> set[str]:
    """Machine names a result states: "Machine: NODE3, ..." in its target, or the bare target of a test about a
    node (the upgrade validator's node tests name the node alone); shared names such as AllServers aside."""
    names = set()
    for text in (result.target_name, result.target_id):
        for match in re.finditer(r"Machine:\s*([^,\s]+)", text or ""):
            names.add(match.group(1))
    test = known_test(result)
    if not names and test is not None and FACTS[test.fact].per_node and _COMPUTER_NAME.match(result.target_name or ""):
        names.add(result.target_name)
    return {n for n in names if n.lower() not in ("allservers", "allnodes", "all")}


def _clip(text: str | None) -> str | None:
    """The first non-empty line of a validator text, made printable and kept short."""
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    first = escape_control(lines[0]).strip('"')
    more = len(lines) > 1
    if len(first) > MAX_TEXT:
        first, more = first[: MAX_TEXT - 1].rstrip(), True
    return first + (" ..." if more else "")


def _severity_word(results: Sequence[Result]) -> str:
    severities = [r.severity for r in results if r.severity]
    return f" ({severities[0].capitalize()})" if severities else ""


def _targets(results: Sequence[Result], nodes: Sequence[str], model: Model | None = None) -> str:
    """The file's nodes the results name, then the validator's own targets of the results that name none."""
    shown = list(nodes)
    for result in results:
        if model is not None:
            shown.extend(mentioned_nodes(result, model) or (escape_control(result.target),))
        elif not nodes:
            shown.append(escape_control(result.target))
    shown = list(dict.fromkeys(shown))
    return ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")


def _reported(results: Sequence[Result], nodes: Sequence[str], model: Model | None = None) -> str:
    """"FAILURE for `Test Secure Boot` on AzL-Node-01 (Critical)"."""
    status = "FAILURE" if any(r.failed for r in results) else results[0].status
    labels = list(dict.fromkeys(escape_control(r.label) for r in results))
    shown = ", ".join(f"`{label}`" for label in labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
    return f"{status} for {shown} on {_targets(results, nodes, model)}{_severity_word(results)}"


def _detail(results: Sequence[Result]) -> str:
    """The validator's Detail of the first result that has one (a Description only says what was checked)."""
    detail = next((_clip(r.detail) for r in results if _clip(r.detail)), None)
    return f": {detail}" if detail else ""


def _validator_hints(results: Sequence[Result]) -> list[str]:
    hints = []
    remediation = next((_clip(r.remediation) for r in results if _clip(r.remediation)), None)
    if remediation:
        hints.append(f"the validator's remediation: {remediation}")
    notes = list(dict.fromkeys(r.note for r in results if r.note))
    hints.extend(f"read from the results: {note}" for note in notes)
    return hints


@dataclass
class _Context:
    model: Model
    fired: dict[str, list[Diagnostic]]

    @property
    def upgrade(self):
        return self.model.upgrade

    @property
    def solution(self):
        return self.model.upgrade.solution if self.model.upgrade is not None else None


def _not_blocking(context: _Context, fact: Fact) -> str | None:
    """Why the fact does not block this plan, or None when it does."""
    if fact.scope == "warning":
        return "[A-val] lists it among the warnings that do not block the upgrade"
    if fact.scope == "deployment":
        return "it is a test of a new deployment, not of this upgrade"
    if context.upgrade is None:
        return "the file plans no upgrade yet"
    if fact.scope == "solution" and context.solution is None:
        return "it matters for the solution upgrade, which this file does not plan"
    return None


def _live_severity(context: _Context, fact: Fact, results: Sequence[Result]) -> tuple[Severity, str | None]:
    why = _not_blocking(context, fact)
    if why is None and not any(r.failed for r in results):
        why = "the validator reports a warning, not a failure"
    return (Severity.ERROR, None) if why is None else (Severity.WARNING, why)


def _contradiction_severity(context: _Context, fact: Fact) -> Severity:
    """A wrong fact is an error where it matters to this plan, a warning elsewhere (it matters once it does)."""
    return Severity.ERROR if _not_blocking(context, fact) is None else Severity.WARNING


def _judge_fact(context: _Context, fact: Fact, results: tuple[Result, ...], node: str | None,
                nodes: tuple[str, ...], tests: Sequence[KnownTest]) -> Finding:
    model = context.model
    reported = _reported(results, nodes, None if fact.per_node else model)
    detail = _detail(results)
    validator = _validator_hints(results)
    place = fact.place(model, node) if fact.place is not None else model.cluster.spans.header
    decides = any(t.decides for t in tests)
    if not fact.agrees(model, results) and decides:
        change = fact.fix(model, results)
        hints = [f"write `{change.attr} = {change.shown}` (`hciplan import --validation RESULTS --into FILE` "
                 f"writes it), then: {fact.remediation}" if change else fact.remediation]
        return Finding(fact, results, CONTRADICTED, place, "HCI1102",
                       f"the validator reports {reported}, which the file contradicts{detail}",
                       tuple(hints + validator), _contradiction_severity(context, fact), change=change)
    planned = fact.planned(model)
    if planned is not None:
        return Finding(fact, results, PLANNED, place, None, reported, planned_by=planned)
    fired = [code for code in fact.codes if context.fired.get(code)]
    if fired:
        return Finding(fact, results, CONFIRMED, place, fired[0],
                       f"the validator confirms it: {reported} at {_when(results)}{detail}", tuple(validator))
    uncertain = fact.uncertain(model)
    severity, why = _live_severity(context, fact, results)
    hints = [fact.unhealthy if fact.unhealthy and not fact.agrees(model, results) else fact.remediation]
    if uncertain is not None:
        severity, hints = Severity.WARNING, list(uncertain)
    elif why is not None and fact.scope != "warning":  # a warning fact's remediation already says why
        hints.insert(0, f"a warning here: {why}")
    if fact.per_node and node is None and not nodes:
        hints.insert(0, f"{_targets(results, ())} names no node of this file")
    return Finding(fact, results, LIVE, place, "HCI1101", f"the validator reports {reported}{detail}",
                   tuple(hints + validator), severity)


def _when(results: Sequence[Result]) -> str:
    stamps = [r for r in results if r.timestamp is not None]
    if not stamps:
        return "an unknown time"
    return max(stamps, key=lambda r: r.when).when


def _proven_finding(context: _Context, fact: Fact, passes: tuple[Result, ...]) -> Finding | None:
    """A fact the passing tests decide, when the file says the opposite."""
    proven = fact.proven(context.model, passes)
    if proven is None:
        return None
    written, change = proven
    place = fact.place(context.model, None) if fact.place is not None else context.model.cluster.spans.header
    reported = _reported(passes, (), context.model)
    return Finding(fact, passes, CONTRADICTED, place, "HCI1102",
                   f"the validator reports {reported}, which the file contradicts",
                   (f"write {written}" + (" (`hciplan import --validation RESULTS --into FILE` writes it)"
                                          if change else ""),) + tuple(_validator_hints(passes)),
                   _contradiction_severity(context, fact), change=change)


def judge(model: Model, diagnostics: Iterable[Diagnostic], results: Sequence[Result], name: str) -> Verdict:
    """Judge every result against the file's model; `diagnostics` are hciplan's own for the file."""
    fired: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        fired.setdefault(diagnostic.code, []).append(diagnostic)
    context = _Context(model, fired)

    groups: dict[tuple, list[Result]] = {}
    group_nodes: dict[tuple, list[str]] = {}
    tests: dict[tuple, list[KnownTest]] = {}
    passes: dict[str, list[Result]] = {}
    for result in results:
        test = known_test(result)
        nodes = mentioned_nodes(result, model)
        if result.passed or result.status == "IN_PROGRESS":
            if result.passed and test is not None and test.proves:
                passes.setdefault(test.fact, []).append(result)
            continue
        fact = FACTS[test.fact] if test is not None else None
        if fact is not None and fact.per_node and nodes:
            keys = [(fact.key, n) for n in nodes]
        elif fact is not None:
            keys = [(fact.key, None)]
        else:
            keys = [("?", result.name, nodes[0] if len(nodes) == 1 else None)]
        for key in keys:
            groups.setdefault(key, []).append(result)
            group_nodes.setdefault(key, [])
            for n in ([key[1]] if fact is not None and fact.per_node and key[1] else nodes):
                if n not in group_nodes[key]:
                    group_nodes[key].append(n)
            if test is not None:
                tests.setdefault(key, []).append(test)

    findings = []
    for key, members in groups.items():
        members_t = tuple(members)
        nodes = tuple(group_nodes[key])
        if key[0] == "?":
            node = key[2]
            place = _node_block(model, node) if node else model.cluster.spans.header
            hints = ["hciplan does not know this test and cannot say what it means for the plan; the emitted "
                     "readiness gate (P5) stops on any failed test of `Invoke-AzStackHciUpgradeValidation` but the "
                     "TPM property warnings: resolve it, or confirm it belongs to another validation"]
            status = "FAILURE" if any(r.failed for r in members_t) else members_t[0].status
            findings.append(Finding(None, members_t, UNKNOWN, place, "HCI1103",
                                    f"the validator reports {status} for `{escape_control(members_t[0].name)}` "
                                    f"({escape_control(members_t[0].label)}) on {_targets(members_t, nodes, model)}"
                                    f"{_severity_word(members_t)}, a test hciplan does not know{_detail(members_t)}",
                                    tuple(hints + _validator_hints(members_t))))
            continue
        fact = FACTS[key[0]]
        findings.append(_judge_fact(context, fact, members_t, key[1], nodes, tests[key]))
    failed_facts = {key[0] for key in groups}
    for fact_key, passed in passes.items():
        if fact_key not in failed_facts:
            finding = _proven_finding(context, FACTS[fact_key], tuple(passed))
            if finding is not None:
                findings.append(finding)

    named = any(mentioned_nodes(r, model) for r in results)
    foreign = sorted({m for r in results for m in _machines(r)} - {n.name.lower() for n in model.cluster.nodes},
                     key=str.lower)
    foreign = [m for m in foreign if model.cluster.node(m) is None]
    return Verdict(name, tuple(results), tuple(findings), tuple(foreign) if not named else (),
                   model.cluster.spans.header)


def overlay(diagnostics: Iterable[Diagnostic], verdict: Verdict) -> list[Diagnostic]:
    """hciplan's diagnostics with the verdict's: a confirmed rule carries the validator's text; the rest are added."""
    out = list(diagnostics)
    for finding in verdict.findings:
        if finding.state == CONFIRMED:
            extra = (finding.message,) + finding.hints
            out = [dataclasses.replace(d, hints=d.hints + extra) if d.code == finding.code else d for d in out]
    added = Collector()
    for finding in verdict.findings:
        if finding.state in (CONTRADICTED, LIVE, UNKNOWN):
            added.report(finding.code, finding.span, finding.message, hints=finding.hints, severity=finding.severity)
    if verdict.foreign and verdict.cluster is not None:
        shown = ", ".join(escape_control(m) for m in verdict.foreign[:5])
        more = f" and {len(verdict.foreign) - 5} more" if len(verdict.foreign) > 5 else ""
        added.report("HCI1104", verdict.cluster,
                     f"the validation results name machines ({shown}{more}) but none of the file's nodes",
                     hints=["export the results on this cluster, or check that the nodes are named as "
                            "`Get-ClusterNode` names them"])
    return sorted(out + added.items, key=Diagnostic.sort_key)


# --- reports: the summary under `check`, the table of `import` ----------------------------------------------


def _counts(verdict: Verdict) -> str:
    parts = [f"{verdict.count('SUCCESS')} passed", f"{verdict.count('FAILURE')} failed"]
    if verdict.count("WARNING"):
        parts.append(f"{verdict.count('WARNING')} with a warning")
    if verdict.count("IN_PROGRESS"):
        parts.append(f"{verdict.count('IN_PROGRESS')} still in progress")
    total = len(verdict.results)
    return f"{total} result{'s' * (total != 1)}: " + ", ".join(parts)


def summary_lines(verdict: Verdict) -> list[str]:
    """What `hciplan check --validation` prints after the diagnostics: the counts and what the plan resolves."""
    lines = [f"validation {escape_control(verdict.name)}: {_counts(verdict)}"]
    planned = [f for f in verdict.findings if f.state == PLANNED]
    if planned:
        lines.append(f"  resolved by the plan ({len(planned)}):")
        lines.extend(f"    {f.message}: {f.planned_by}" for f in planned)
    shown = {state: sum(f.state == state for f in verdict.findings) for state in (CONFIRMED, CONTRADICTED, LIVE,
                                                                                   UNKNOWN)}
    if any(shown.values()):
        lines.append(f"  reported above: {shown[CONFIRMED]} by hciplan's own rules, {shown[CONTRADICTED]} "
                     f"contradicting the file (HCI1102), {shown[LIVE]} live (HCI1101), {shown[UNKNOWN]} of tests "
                     "hciplan does not know (HCI1103)")
    return lines


def _state_text(finding: Finding | None) -> str:
    if finding is None:
        return ""
    if finding.state == PLANNED:  # the step, without its explanation: `check` prints it in full
        return "planned: " + re.split(r";| \(", finding.planned_by)[0]
    if finding.state == CONFIRMED:
        return f"reported by {finding.code}"
    if finding.state == CONTRADICTED:
        return "contradicts the file (HCI1102)" + (
            f": write `{finding.change.attr} = {finding.change.shown}`" if finding.change else "")
    if finding.state == LIVE:
        return f"live {'error' if finding.severity is Severity.ERROR else 'warning'} (HCI1101)"
    return "not known (HCI1103)"


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
            for row in rows]


def _short(text: str, width: int = 40) -> str:
    text = escape_control(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def table_lines(verdict: Verdict, judged: bool) -> list[str]:
    """The table `hciplan import --validation` prints: each failed test hciplan maps (with what the file makes
    of it when `judged`), each failed test it does not know, and the passes counted."""
    lines = [f"{escape_control(verdict.name)}: {_counts(verdict)}"]
    mapped, unknown = [], []
    for result in verdict.results:
        if result.passed or result.status == "IN_PROGRESS":
            continue
        test = known_test(result)
        row = (escape_control(result.name), result.status, _short(result.target))
        if test is None:
            unknown.append(row + ("",))
        else:
            fact = FACTS[test.fact]
            what = fact.what + (f" ({', '.join(fact.codes)})" if fact.codes else "")
            mapped.append(row + (what, _state_text(verdict.finding_of(result)) if judged else ""))
    if mapped:
        lines.append(f"Failed tests hciplan maps to a fact ({len(mapped)}):")
        lines.extend(_columns([("TEST", "STATUS", "TARGET", "FACT", "IN THE FILE" if judged else "")] + mapped))
    if unknown:
        lines.append(f"Failed tests hciplan does not know ({len(unknown)}), listed as the validator wrote them:")
        lines.extend(_columns([("TEST", "STATUS", "TARGET", "")] + unknown))
    passed = [r for r in verdict.results if r.passed]
    if passed:
        known_passes = sum(known_test(r) is not None for r in passed)
        lines.append(f"Passed: {len(passed)} ({known_passes} of tests hciplan knows)")
    for finding in verdict.findings:
        if finding.state == CONTRADICTED and not any(r.failed or r.status == "WARNING" for r in finding.results):
            lines.append(f"Passing tests that contradict the file: {', '.join(finding.names)}: "
                         f"{_state_text(finding)}")
    return [line.rstrip() for line in lines]


def to_json(verdict: Verdict) -> dict:
    """The verdict for `check --format json`: the counts, and each result with what hciplan made of it."""
    tests = []
    for result in verdict.results:
        test = known_test(result)
        finding = verdict.finding_of(result)
        tests.append({
            "path": result.path, "name": result.name, "status": result.status, "severity": result.severity,
            "target": result.target, "timestamp": result.when if result.timestamp else None,
            "fact": test.fact if test else None,
            "state": finding.state if finding else ("passed" if result.passed else None),
            "code": finding.code if finding else None,
        })
    return {"file": verdict.name, "results": len(verdict.results), "passed": verdict.count("SUCCESS"),
            "failed": verdict.count("FAILURE"), "warnings": verdict.count("WARNING"),
            "in_progress": verdict.count("IN_PROGRESS"), "tests": tests}


# --- the rewrite: facts the results decide, written into the file through hciplan.fmt --------------------


def _comment(finding: Finding) -> str:
    names = finding.names
    shown = escape_control(names[0]) + (f" (+{len(names) - 1} more)" if len(names) > 1 else "")
    status = "FAILURE" if any(r.failed for r in finding.results) else finding.results[0].status
    return f"{COMMENT_PREFIX} {shown} {status} {_when(finding.results).replace('an unknown time', 'time unknown')}"


def _without_provenance(trailing: list[str]) -> list[str]:
    """Trailing comments without an earlier `# from validation:` (which, once parsed, ends the comment before it)."""
    kept = []
    for comment in trailing:
        if COMMENT_PREFIX in comment:
            comment = comment[: comment.index(COMMENT_PREFIX)].rstrip()
        if comment:
            kept.append(comment)
    return kept


def _find_block(items: list, type_: str) -> fmt.Block | None:
    return next((item for item in items if isinstance(item, fmt.Block) and item.type == type_), None)


def rewrite(document: fmt.Document, verdict: Verdict) -> list[Finding]:
    """Write each change the verdict implies into the layout tree; the findings whose change was written.

    The attribute gets its new value and a trailing `# from validation: TEST STATUS TIME` comment (an earlier
    one is replaced, other comments stay); a missing attribute (or `aks` block) is added.
    """
    done = []
    for finding in verdict.findings:
        change = finding.change
        if change is None:
            continue
        block = _find_block(document.items, change.block[0])
        if block is None:
            continue
        for child in change.block[1:]:
            inner = _find_block(block.items, child)
            if inner is None:
                inner = fmt.Block(child, [])
                block.items.append(inner)
            block = inner
        attr = next((item for item in block.items if isinstance(item, fmt.Attr) and item.name == change.attr), None)
        if attr is None:
            attr = fmt.Attr(change.attr, change.value)
            block.items.append(attr)
        attr.value = change.value
        attr.trailing = _without_provenance(attr.trailing) + [_comment(finding)]
        done.append(finding)
    return done


@dataclass(frozen=True)
class ImportOutcome:
    """What `import --validation --into FILE` does: the verdict (None when FILE cannot be read as a model), the
    new text of FILE (None when nothing changes), the findings written, or the problem that stops the write."""

    check: CheckResult
    verdict: Verdict | None
    text: str | None = None
    written: tuple[Finding, ...] = ()
    problem: str | None = None


def _value_in(model: Model, change: Change) -> object:
    obj: object = model.cluster
    for name in change.block[1:]:
        obj = getattr(obj, name)
    return getattr(obj, change.attr)


def import_into(check: CheckResult, results: Sequence[Result], name: str) -> ImportOutcome:
    """Judge the results against a checked file and rewrite, through hciplan.fmt, the facts they decide."""
    if check.model is None or check.source is None:
        return ImportOutcome(check, None)
    compiled = compile_checked(check)
    verdict = judge(check.model, compiled.diagnostics, results, name)
    if not verdict.changes:
        return ImportOutcome(check, verdict)
    document = fmt.document_from_source(check.source, Collector())
    if document is None:  # cannot happen: the file parsed into a model
        return ImportOutcome(check, verdict, problem=f"{check.source.name} could not be laid out again")
    written = tuple(rewrite(document, verdict))
    text = fmt.render(document)
    # A backstop, as for the inventory import: the new text must read back with exactly the values written.
    reread = check_text(text, check.source.name)
    if reread.model is None or any(_value_in(reread.model, f.change) != f.change.value for f in written):
        return ImportOutcome(check, verdict, problem=f"the rewritten {check.source.name} does not read back as "
                             "intended; this is a bug in hciplan import, please report it with the results")
    return ImportOutcome(check, verdict, text, written)
