"""Azure Local (Azure Stack HCI) facts that the script and the runbook both name, in one place.

The target build, the roles and features the solution upgrade requires, the CAU plug-in and its arguments,
the ARM template and the registry keys the upgrade sets. The PowerShell backend and the runbook read them
from here, so what the runbook tells an operator is what the script does. Sources are the domain
reference's tags (../shared/domain.md).
"""

from __future__ import annotations

from hciplan.backends.pstext import literal
from hciplan.compiler.model import Upgrade

TARGET_BUILD = 25398  # 23H2 is OS build 25398.x (domain.md, scope)

ROLLING_UPGRADE_PLUGIN = "Microsoft.RollingUpgradePlugin"

# The upgrade-cluster ARM template (releases >= 2503) [A-arm], [Q-tpl], pinned to one commit of
# Azure/azure-quickstart-templates: the repository's `master` moves, and the script must deploy the template
# that was reviewed. The script's -TemplateUri overrides it (a reviewed newer commit, or a copy shipped with the plan).
TEMPLATE_REPOSITORY = "Azure/azure-quickstart-templates"
TEMPLATE_COMMIT = "15c284b4181efb2b39a978e030eecacc840dac3f"
TEMPLATE_PATH = "quickstarts/microsoft.azurestackhci/upgrade-cluster/azuredeploy.json"
TEMPLATE_URI = f"https://raw.githubusercontent.com/{TEMPLATE_REPOSITORY}/{TEMPLATE_COMMIT}/{TEMPLATE_PATH}"
# The parameters that template declares [Q-tpl] (tests/fixtures/upgrade-cluster-parameters.json records them with
# their source). It has no `adouPath` parameter (its deploymentSettings write an empty one), so the plan's
# `adou_path` serves New-HciAdObjectsPreCreation [A-ad] only and never reaches the template.
TEMPLATE_PARAMETERS = frozenset({
    "deploymentMode", "keyVaultName", "createNewKeyVault", "softDeleteRetentionDays", "diagnosticStorageAccountName",
    "logsRetentionInDays", "storageAccountType", "clusterName", "failoverClusterName", "location", "tenantId",
    "AzureStackLCMAdminUsername", "AzureStackLCMAdminPasssword", "domainFqdn", "arcNodeResourceIds", "subnetMask",
    "defaultGateway", "startingIPAddress", "endingIPAddress", "dnsServers", "physicalNodesSettings", "customLocation",
})

# The registry values (DWORD 0) the upgrade sets on every node before its OS upgrade [A-ps], [S-lm].
# lib/node.ps1 (Set-UpgradeRegistry, Test-UpgradeRegistry) writes the same keys; a test keeps them equal.
REFS_KEY = r"HKLM:\SYSTEM\CurrentControlSet\Control\FileSystem"
VID_KEY = r"HKLM:\SYSTEM\CurrentControlSet\Services\Vid\Parameters"
REFS_VALUE = "RefsEnableMetadataValidation"  # set to 0
VID_VALUE = "SkipSmallLocalAllocations"  # set to 0; the Vid\Parameters key may not exist yet

# Required roles and optional features for the solution upgrade, as listed by [A-val] (Remediation 1).
REQUIRED_ROLES = ("Failover-Clustering", "FS-VSS-Agent", "FS-Resource-Manager", "GPMC", "NetworkATC",
                  "NetworkController", "RSAT-AD-Powershell", "RSAT-Hyper-V-Tools", "Data-Center-Bridging",
                  "NetworkVirtualization", "RSAT-AD-AdminCenter")
REQUIRED_OPTIONAL_FEATURES = (
    "Server-Core", "ServerManager-Core-RSAT", "ServerManager-Core-RSAT-Role-Tools",
    "ServerManager-Core-RSAT-Feature-Tools", "DataCenterBridging-LLDP-Tools", "Microsoft-Hyper-V",
    "Microsoft-Hyper-V-Offline", "Microsoft-Hyper-V-Online", "RSAT-Hyper-V-Tools-Feature",
    "Microsoft-Hyper-V-Management-PowerShell", "NetworkVirtualization", "RSAT-AD-Tools-Feature",
    "RSAT-ADDS-Tools-Feature", "DirectoryServices-DomainController-Tools", "ActiveDirectory-PowerShell",
    "DirectoryServices-AdministrativeCenter", "DNS-Server-Tools", "EnhancedStorage", "WCF-Services45",
    "WCF-TCP-PortSharing45", "NetFx4ServerFeatures", "NetFx4", "MicrosoftWindowsPowerShellRoot",
    "MicrosoftWindowsPowerShell", "Server-Psh-Cmdlets", "KeyDistributionService-PSH-Cmdlets",
    "TlsSessionTicketKey-PSH-Cmdlets", "Tpm-PSH-Cmdlets", "ServerCore-WOW64", "SmbDirect",
    "FailoverCluster-AdminPak", "Windows-Defender", "SMBBW", "FailoverCluster-FullServer",
    "FailoverCluster-PowerShell", "DataCenterBridging", "BitLocker", "Dedup-Core", "FileAndStorage-Services",
    "Storage-Services", "File-Services", "CoreFileServer", "SystemDataArchiver",
    "ServerCoreFonts-NonCritical-Fonts-MinConsoleFonts", "ServerCoreFonts-NonCritical-Fonts-BitmapFonts",
    "ServerCoreFonts-NonCritical-Fonts-TrueType", "ServerCoreFonts-NonCritical-Fonts-UAPFonts",
    "ServerCoreFonts-NonCritical-Fonts-Support", "ServerCore-Drivers-General", "ServerCore-Drivers-General-WOW64",
    "NetworkATC")


# The readiness validation's documented non-blocking tests: the TPM properties of [A-val]'s "Non-blocking
# validation tests" table (domain.md section 3, "Warnings"). Every other failed test blocks the solution upgrade,
# whatever its Severity: the same article's -PassThru sample reports blocking tests (Windows OS is 23H2, Network
# ATC, required Windows features, storage pool) with Severity Warning.
READINESS_TPM_WARNINGS = ("OwnerClearDisabled", "TpmReady", "TpmPresent", "LockoutCount", "TpmActivated",
                          "ManagedAuthLevel", "AutoProvisioning", "LockedOut", "TpmEnabled")

def plugin_arguments(upgrade: Upgrade) -> dict[str, str]:
    """The RollingUpgradePlugin's arguments (`-CauPluginArguments`) for an upgrade, in the order they are shown [A-ps]."""
    arguments = {"WuConnected": "true" if upgrade.source == "windows_update" else "false"}
    if upgrade.source == "media":
        arguments["PathToSetupMedia"] = upgrade.media_path or ""
        # documented for the media route only [A-ps]; over Windows Update the plan raises the level in P3
        if upgrade.functional_level == "with_cau":
            arguments["UpdateClusterFunctionalLevel"] = "true"
    return arguments


def plugin_arguments_literal(upgrade: Upgrade) -> str:
    """`plugin_arguments` as a PowerShell hashtable of quoted literals: `@{ WuConnected = 'true'; ... }`."""
    return "@{ " + "; ".join(f"{name} = {literal(value)}" for name, value in plugin_arguments(upgrade).items()) + " }"
