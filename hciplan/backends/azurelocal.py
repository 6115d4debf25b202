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

TEMPLATE_URI = ("https://raw.githubusercontent.com/Azure/azure-quickstart-templates/master/quickstarts/"
                "microsoft.azurestackhci/upgrade-cluster/azuredeploy.json")  # [A-arm], [Q-tpl]: releases >= 2503

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
