"""The cmdlet catalog: every command the generated PowerShell may call, with its module and real parameters.

The PowerShell backend may only emit commands listed here (or functions the
script defines itself), and only with the parameters listed here; a test
walks the parse tree of every emitted script to enforce it. Each entry names
its module and the documentation page its syntax was taken from. The
`confirmed` field says how the names were checked while this catalog was
written: "docs" means the syntax block of the cited page (or the cited
Microsoft doc's example) was read; "domain" means the cmdlet and parameters
come from the project's domain reference (../shared/domain.md), which cites
the Microsoft page; "reference" means the cmdlet is a standard
Windows PowerShell 5.1 / Windows Server 2022 cmdlet whose page was not re-read
for this catalog (its parameters are the long-documented ones listed).
docs/powershell.md reproduces this table.

Parameters listed are the ones hciplan uses plus their close relatives; the
catalog is not a complete copy of each cmdlet's syntax. Common parameters
(-ErrorAction, -Verbose, ...) are allowed for every cmdlet; -WhatIf/-Confirm
only where the cmdlet supports ShouldProcess (listed per cmdlet).
"""

from __future__ import annotations

from dataclasses import dataclass

COMMON_PARAMETERS = frozenset({
    "Debug", "ErrorAction", "ErrorVariable", "InformationAction", "InformationVariable", "OutBuffer",
    "OutVariable", "PipelineVariable", "Verbose", "WarningAction", "WarningVariable",
})

LEARN = "https://learn.microsoft.com/powershell/module"


@dataclass(frozen=True, slots=True)
class Cmdlet:
    name: str
    module: str
    parameters: tuple[str, ...]
    source: str
    confirmed: str = "reference"  # "docs" | "domain" | "reference" (see the module docstring)
    local: bool = True  # runs on the orchestrator (its module belongs in #Requires -Modules)

    def accepts(self, parameter: str) -> bool:
        """Whether `-parameter` is a real parameter of this cmdlet (case-insensitive, like PowerShell)."""
        wanted = parameter.lower()
        return wanted in {p.lower() for p in self.parameters} or wanted in {c.lower() for c in COMMON_PARAMETERS}


def _c(name: str, module: str, parameters: str, source: str, confirmed: str = "reference", local: bool = True) -> Cmdlet:
    return Cmdlet(name, module, tuple(parameters.split()), source, confirmed, local)


_FC = f"{LEARN}/failoverclusters"
_CAU = f"{LEARN}/clusterawareupdating"
_STORAGE = f"{LEARN}/storage"
_MGMT = f"{LEARN}/microsoft.powershell.management"
_UTIL = f"{LEARN}/microsoft.powershell.utility"
_CORE = f"{LEARN}/microsoft.powershell.core"

_CATALOG = (
    # FailoverClusters (RSAT on the orchestrator)
    _c("Get-Cluster", "FailoverClusters", "Name Domain InputObject", f"{_FC}/get-cluster"),
    _c("Get-ClusterNode", "FailoverClusters", "Name Cluster InputObject", f"{_FC}/get-clusternode"),
    _c("Get-ClusterGroup", "FailoverClusters", "Name Cluster InputObject VMId", f"{_FC}/get-clustergroup"),
    _c("Suspend-ClusterNode", "FailoverClusters", "Name Drain ForceDrain Wait TargetNode InputObject Cluster WhatIf Confirm",
       f"{_FC}/suspend-clusternode", "docs"),
    _c("Resume-ClusterNode", "FailoverClusters", "Name Failback InputObject Cluster", f"{_FC}/resume-clusternode", "docs"),
    _c("Test-Cluster", "FailoverClusters", "Node Cluster Include Ignore ReportName List Force InputObject",
       f"{_FC}/test-cluster"),
    _c("Update-ClusterFunctionalLevel", "FailoverClusters", "Force WhatIf InputObject Cluster",
       f"{_FC}/update-clusterfunctionallevel", "docs"),
    _c("Stop-Cluster", "FailoverClusters", "Name Force Wait InputObject Cluster WhatIf Confirm", f"{_FC}/stop-cluster"),
    _c("Start-Cluster", "FailoverClusters", "Name ForceQuorum IgnorePersistentState PreventQuorum Wait",
       f"{_FC}/start-cluster"),
    _c("Get-ClusterSharedVolume", "FailoverClusters", "Name Node InputObject Cluster", f"{_FC}/get-clustersharedvolume",
       "docs"),
    _c("Stop-ClusterResource", "FailoverClusters", "Name IgnoreLocked Wait InputObject Cluster WhatIf Confirm",
       f"{_FC}/stop-clusterresource", "docs"),
    _c("Start-ClusterResource", "FailoverClusters", "Name IgnoreLocked ChooseSubOwner Wait InputObject Cluster",
       f"{_FC}/start-clusterresource", "docs"),
    _c("Stop-ClusterGroup", "FailoverClusters", "Name IgnoreLocked Wait InputObject Cluster",
       f"{_FC}/stop-clustergroup", "docs"),
    _c("Get-ClusterNetwork", "FailoverClusters", "Name Cluster InputObject", f"{_FC}/get-clusternetwork"),
    # Run inside Invoke-Command on a node: from a remote machine it needs CredSSP (its page says so).
    _c("Move-ClusterVirtualMachineRole", "FailoverClusters",
       "Name Node Cancel MigrationType IgnoreLocked VMId Wait InputObject Cluster",
       f"{_FC}/move-clustervirtualmachinerole", "docs", local=False),
    _c("Start-ClusterGroup", "FailoverClusters", "Name IgnoreLocked ChooseBestNode Wait InputObject Cluster",
       f"{_FC}/start-clustergroup", "docs"),
    # ClusterAwareUpdating (RSAT on the orchestrator) [W-invoke]
    _c("Test-CauSetup", "ClusterAwareUpdating", "ClusterName Credential", f"{_CAU}/test-causetup", "docs"),
    _c("Invoke-CauScan", "ClusterAwareUpdating",
       "ClusterName CauPluginName Credential CauPluginArguments RunPluginsSerially StopOnPluginFailure",
       f"{_CAU}/invoke-causcan", "docs"),
    _c("Invoke-CauRun", "ClusterAwareUpdating",
       "MaxFailedNodes MaxRetriesPerNode NodeOrder PreUpdateScript PostUpdateScript ConfigurationName "
       "RequireAllNodesOnline WarnAfter StopAfter RebootTimeoutMinutes SeparateReboots EnableFirewallRules "
       "FailbackMode SuspendClusterNodeTimeoutMinutes Force ForcePauseNoDrain ForcePauseAndDrain "
       "ForcePauseDrainAndReboot SkipUpdateChecks ForceSelfUpdate SiteAwareUpdatingOrder ClusterName "
       "CauPluginName Credential CauPluginArguments RunPluginsSerially StopOnPluginFailure OsRollingUpgrade "
       "AttemptSoftReboot RebootMode ForceRecovery WhatIf Confirm",
       f"{_CAU}/invoke-caurun", "docs"),
    _c("Get-CauRun", "ClusterAwareUpdating", "ClusterName Credential WaitForStart WaitForCompletion ShowClusterNodeState",
       f"{_CAU}/get-caurun", "docs"),
    _c("Stop-CauRun", "ClusterAwareUpdating", "ClusterName Credential Wait Force", f"{_CAU}/stop-caurun", "docs"),
    _c("Get-CauReport", "ClusterAwareUpdating", "ClusterName StartDate EndDate Last Detailed Report Credential",
       f"{_CAU}/get-caureport", "docs"),
    _c("Get-BpaResult", "BestPractices", "ModelId SubmodelId CollectedConfiguration All Filter RepositoryPath",
       f"{LEARN}/bestpractices/get-bparesult"),
    # Storage (inbox; CIM sessions to the cluster name)
    _c("Get-StoragePool", "Storage", "FriendlyName UniqueId Name IsPrimordial CimSession", f"{_STORAGE}/get-storagepool",
       "docs"),
    _c("Update-StoragePool", "Storage", "FriendlyName UniqueId Name InputObject CimSession ThrottleLimit AsJob WhatIf "
       "Confirm", f"{_STORAGE}/update-storagepool", "docs"),
    _c("Get-VirtualDisk", "Storage", "FriendlyName UniqueId Name CimSession", f"{_STORAGE}/get-virtualdisk", "docs"),
    _c("Set-VirtualDisk", "Storage", "FriendlyName UniqueId Name InputObject NewFriendlyName ProvisioningType CimSession",
       f"{_STORAGE}/set-virtualdisk", "docs"),
    _c("Get-StorageJob", "Storage", "Name UniqueId JobState CimSession", f"{_STORAGE}/get-storagejob"),
    _c("New-CimSession", "CimCmdlets", "ComputerName Credential Authentication Port SessionOption Name",
       f"{LEARN}/cimcmdlets/new-cimsession"),
    _c("Remove-CimSession", "CimCmdlets", "CimSession ComputerName Id Name WhatIf Confirm",
       f"{LEARN}/cimcmdlets/remove-cimsession", "docs"),
    _c("Get-CimInstance", "CimCmdlets", "ClassName Namespace Filter CimSession ComputerName",
       f"{LEARN}/cimcmdlets/get-ciminstance", local=False),
    # On the nodes (inside Invoke-Command script blocks)
    _c("Get-AzureStackHCI", "AzureStackHCI", "", "https://learn.microsoft.com/azure-stack/hci/manage/manage-cluster-registration",
       "docs", local=False),
    _c("Sync-AzureStackHCI", "AzureStackHCI", "", "https://learn.microsoft.com/azure/azure-local/upgrade/post-upgrade-steps",
       "domain", local=False),
    _c("Get-StampInformation", "(Azure Local 23H2 solution)", "",
       "https://learn.microsoft.com/azure/azure-local/upgrade/upgrade-22h2-to-23h2-powershell", "domain", local=False),
    _c("Suspend-BitLocker", "BitLocker", "MountPoint RebootCount WhatIf Confirm", f"{LEARN}/bitlocker/suspend-bitlocker",
       "docs", local=False),
    _c("Resume-BitLocker", "BitLocker", "MountPoint WhatIf Confirm", f"{LEARN}/bitlocker/resume-bitlocker", "docs",
       local=False),
    _c("Get-BitLockerVolume", "BitLocker", "MountPoint", f"{LEARN}/bitlocker/get-bitlockervolume", local=False),
    _c("Install-WindowsFeature", "ServerManager", "Name IncludeAllSubFeature IncludeManagementTools Restart Source "
       "ComputerName Credential WhatIf", f"{LEARN}/servermanager/install-windowsfeature", "docs", local=False),
    _c("Get-WindowsFeature", "ServerManager", "Name ComputerName Credential", f"{LEARN}/servermanager/get-windowsfeature",
       local=False),
    _c("Enable-WindowsOptionalFeature", "Dism", "FeatureName Online All NoRestart LimitAccess Source",
       f"{LEARN}/dism/enable-windowsoptionalfeature", "docs", local=False),
    _c("Get-WindowsImage", "Dism", "ImagePath Index Name", f"{LEARN}/dism/get-windowsimage", "docs", local=False),
    _c("Get-NetIntentStatus", "NetworkATC", "Name ComputerName ClusterName GlobalOverrides",
       f"{LEARN}/networkatc/get-netintentstatus", "docs", local=False),
    _c("Get-VM", "Hyper-V", "Name Id ComputerName VMName", f"{LEARN}/hyper-v/get-vm", local=False),
    _c("Get-VMHardDiskDrive", "Hyper-V", "VMName VM ComputerName", f"{LEARN}/hyper-v/get-vmharddiskdrive", local=False),
    _c("Stop-VM", "Hyper-V", "Name VM Force TurnOff Save ComputerName WhatIf Confirm", f"{LEARN}/hyper-v/stop-vm",
       local=False),
    _c("Start-VM", "Hyper-V", "Name VM ComputerName WhatIf Confirm", f"{LEARN}/hyper-v/start-vm", local=False),
    _c("Update-VMVersion", "Hyper-V", "Name VM Force ComputerName WhatIf Confirm", f"{LEARN}/hyper-v/update-vmversion",
       local=False),
    _c("Get-VMSwitch", "Hyper-V", "Name Id SwitchType ResourcePoolName ComputerName", f"{LEARN}/hyper-v/get-vmswitch",
       local=False),
    _c("Get-VMNetworkAdapter", "Hyper-V", "VMName VM Name ManagementOS All ComputerName",
       f"{LEARN}/hyper-v/get-vmnetworkadapter", local=False),
    _c("Get-VMHostSupportedVersion", "Hyper-V", "Default ComputerName", f"{LEARN}/hyper-v/get-vmhostsupportedversion",
       local=False),
    _c("Uninstall-AksHci", "AksHci", "", "https://learn.microsoft.com/azure/aks/hybrid/reference/ps/uninstall-akshci",
       "domain", local=False),
    _c("Uninstall-Moc", "Moc", "", "https://learn.microsoft.com/azure/aks/hybrid/reference/ps/uninstall-moc",
       local=False),
    # Readiness and the solution upgrade (Az modules on the orchestrator)
    _c("Invoke-AzStackHciUpgradeValidation", "AzStackHci.EnvironmentChecker", "PsSession PassThru OutputPath",
       "https://learn.microsoft.com/azure/azure-local/upgrade/validate-solution-upgrade-readiness", "docs",
       local=False),
    _c("Get-AzContext", "Az.Accounts", "ListAvailable Name DefaultProfile", f"{LEARN}/az.accounts/get-azcontext"),
    _c("Get-AzConnectedMachine", "Az.ConnectedMachine", "Name ResourceGroupName SubscriptionId",
       f"{LEARN}/az.connectedmachine/get-azconnectedmachine"),
    _c("Get-AzConnectedMachineExtension", "Az.ConnectedMachine", "Name MachineName ResourceGroupName SubscriptionId",
       f"{LEARN}/az.connectedmachine/get-azconnectedmachineextension"),
    _c("New-AzConnectedMachineExtension", "Az.ConnectedMachine",
       "Name ResourceGroupName MachineName Location Publisher ExtensionType TypeHandlerVersion NoWait AsJob",
       "https://learn.microsoft.com/azure/azure-local/upgrade/validate-solution-upgrade-readiness", "docs"),
    _c("Get-AzConnectedExtensionMetadata", "Az.ConnectedMachine", "ExtensionType Location Publisher Version "
       "SubscriptionId DefaultProfile", f"{LEARN}/az.connectedmachine/get-azconnectedextensionmetadata", "docs"),
    _c("Update-AzConnectedExtension", "Az.ConnectedMachine", "MachineName ResourceGroupName SubscriptionId "
       "ExtensionTarget JsonString JsonFilePath InputObject DefaultProfile AsJob NoWait PassThru WhatIf Confirm",
       f"{LEARN}/az.connectedmachine/update-azconnectedextension", "docs"),
    # deploymentMode is not a cmdlet parameter but a parameter of the upgrade-cluster template [Q-tpl], which the
    # cmdlet exposes as a dynamic parameter; a value given inline overrides the parameter file's.
    _c("New-AzResourceGroupDeployment", "Az.Resources",
       "Name ResourceGroupName TemplateUri TemplateFile TemplateParameterObject TemplateParameterFile Mode AsJob "
       "WhatIf Confirm deploymentMode", f"{LEARN}/az.resources/new-azresourcegroupdeployment"),
    _c("Get-AzResourceGroupDeployment", "Az.Resources", "ResourceGroupName Name Id Pre DefaultProfile",
       f"{LEARN}/az.resources/get-azresourcegroupdeployment", "docs"),
    _c("Get-AzResource", "Az.Resources",
       "Name ResourceType ResourceGroupName ResourceId ExpandProperties ApiVersion ODataQuery Pre DefaultProfile",
       f"{LEARN}/az.resources/get-azresource", "docs"),
    # -RepairRegistration reads the resource name and group from the node's registration (Get-AzureStackHCI's
    # AzureResourceUri); the 22H2 -> 23H2 doc runs it with -TenantId -SubscriptionId -ComputerName [A-ps].
    _c("Register-AzStackHCI", "Az.StackHCI",
       "SubscriptionId Region ResourceName TenantId ResourceGroupName ArmAccessToken AccountId EnvironmentName "
       "ComputerName CertificateThumbprint Credential ArcServerResourceGroupName RepairRegistration "
       "UseDeviceAuthentication WhatIf Confirm", f"{LEARN}/az.stackhci/register-azstackhci", "docs"),
    _c("New-HciAdObjectsPreCreation", "AsHciADArtifactsPreCreationTool", "AzureStackLCMUserCredential AsHciOUName",
       "https://learn.microsoft.com/azure/azure-local/deploy/deployment-prep-active-directory", "domain"),
    _c("Install-Module", "PowerShellGet", "Name RequiredVersion AllowClobber Force Scope Repository",
       f"{LEARN}/powershellget/install-module", "docs", local=False),
    _c("Uninstall-Module", "PowerShellGet", "Name RequiredVersion AllVersions Force",
       f"{LEARN}/powershellget/uninstall-module", "docs", local=False),
    # Microsoft.PowerShell.* and WSMan (inbox)
    _c("Invoke-Command", "Microsoft.PowerShell.Core", "ComputerName Credential ScriptBlock ArgumentList Session AsJob "
       "Authentication ErrorAction", f"{_CORE}/invoke-command"),
    _c("New-PSSession", "Microsoft.PowerShell.Core", "ComputerName Credential Name Authentication",
       f"{_CORE}/new-pssession"),
    _c("Remove-PSSession", "Microsoft.PowerShell.Core", "Session Id Name ComputerName", f"{_CORE}/remove-pssession"),
    _c("Start-Job", "Microsoft.PowerShell.Core", "Name ScriptBlock ArgumentList Credential InitializationScript",
       f"{_CORE}/start-job"),
    _c("Wait-Job", "Microsoft.PowerShell.Core", "Job Id Name Timeout Any", f"{_CORE}/wait-job"),
    _c("Receive-Job", "Microsoft.PowerShell.Core", "Job Id Name Keep Wait AutoRemoveJob", f"{_CORE}/receive-job"),
    _c("Stop-Job", "Microsoft.PowerShell.Core", "Job Id Name", f"{_CORE}/stop-job"),
    _c("Remove-Job", "Microsoft.PowerShell.Core", "Job Id Name Force WhatIf Confirm", f"{_CORE}/remove-job", "docs"),
    _c("Get-Command", "Microsoft.PowerShell.Core", "Name Module CommandType", f"{_CORE}/get-command"),
    _c("Get-Module", "Microsoft.PowerShell.Core", "Name ListAvailable", f"{_CORE}/get-module"),
    _c("Set-StrictMode", "Microsoft.PowerShell.Core", "Version Off", f"{_CORE}/set-strictmode"),
    _c("Where-Object", "Microsoft.PowerShell.Core", "FilterScript Property Value EQ", f"{_CORE}/where-object"),
    _c("ForEach-Object", "Microsoft.PowerShell.Core", "Process Begin End MemberName", f"{_CORE}/foreach-object"),
    _c("Test-WSMan", "Microsoft.WSMan.Management", "ComputerName Credential Authentication Port",
       f"{LEARN}/microsoft.wsman.management/test-wsman"),
    _c("Start-Transcript", "Microsoft.PowerShell.Host", "Path Append Force NoClobber IncludeInvocationHeader",
       f"{LEARN}/microsoft.powershell.host/start-transcript"),
    _c("Stop-Transcript", "Microsoft.PowerShell.Host", "", f"{LEARN}/microsoft.powershell.host/stop-transcript"),
    _c("Test-Path", "Microsoft.PowerShell.Management", "Path LiteralPath PathType", f"{_MGMT}/test-path", local=True),
    _c("Join-Path", "Microsoft.PowerShell.Management", "Path ChildPath", f"{_MGMT}/join-path"),
    _c("Split-Path", "Microsoft.PowerShell.Management", "Path LiteralPath Parent Leaf", f"{_MGMT}/split-path"),
    _c("New-Item", "Microsoft.PowerShell.Management", "Path Name ItemType Value Force", f"{_MGMT}/new-item"),
    _c("Set-ItemProperty", "Microsoft.PowerShell.Management", "Path LiteralPath Name Value Type Force",
       f"{_MGMT}/set-itemproperty"),
    _c("Get-ItemProperty", "Microsoft.PowerShell.Management", "Path LiteralPath Name", f"{_MGMT}/get-itemproperty"),
    _c("Restart-Computer", "Microsoft.PowerShell.Management",
       "ComputerName Credential Force Wait Timeout For Delay Protocol WsmanAuthentication WhatIf Confirm",
       f"{_MGMT}/restart-computer", "docs"),
    _c("Set-Service", "Microsoft.PowerShell.Management", "Name StartupType Status ComputerName", f"{_MGMT}/set-service"),
    _c("Stop-Service", "Microsoft.PowerShell.Management", "Name Force NoWait", f"{_MGMT}/stop-service"),
    _c("Start-Service", "Microsoft.PowerShell.Management", "Name DisplayName InputObject PassThru WhatIf Confirm",
       f"{_MGMT}/start-service"),
    _c("Start-Process", "Microsoft.PowerShell.Management", "FilePath ArgumentList Wait PassThru NoNewWindow",
       f"{_MGMT}/start-process"),
    _c("Get-Credential", "Microsoft.PowerShell.Security", "UserName Message Credential",
       f"{LEARN}/microsoft.powershell.security/get-credential"),
    _c("ConvertTo-Json", "Microsoft.PowerShell.Utility", "InputObject Depth Compress", f"{_UTIL}/convertto-json"),
    _c("ConvertFrom-Json", "Microsoft.PowerShell.Utility", "InputObject", f"{_UTIL}/convertfrom-json"),
    _c("Write-Host", "Microsoft.PowerShell.Utility", "Object ForegroundColor NoNewline", f"{_UTIL}/write-host"),
    _c("Write-Warning", "Microsoft.PowerShell.Utility", "Message", f"{_UTIL}/write-warning"),
    _c("Write-Verbose", "Microsoft.PowerShell.Utility", "Message", f"{_UTIL}/write-verbose"),
    _c("Format-List", "Microsoft.PowerShell.Utility", "Property InputObject", f"{_UTIL}/format-list"),
    _c("Format-Table", "Microsoft.PowerShell.Utility", "Property AutoSize InputObject", f"{_UTIL}/format-table"),
    _c("Out-String", "Microsoft.PowerShell.Utility", "InputObject Width Stream", f"{_UTIL}/out-string"),
    _c("Select-Object", "Microsoft.PowerShell.Utility", "Property ExpandProperty First Unique", f"{_UTIL}/select-object"),
    _c("Sort-Object", "Microsoft.PowerShell.Utility", "Property Unique Descending", f"{_UTIL}/sort-object"),
    _c("Start-Sleep", "Microsoft.PowerShell.Utility", "Seconds Milliseconds", f"{_UTIL}/start-sleep"),
)

CATALOG: dict[str, Cmdlet] = {c.name.lower(): c for c in _CATALOG}


def lookup(name: str) -> Cmdlet | None:
    """The catalog entry for a command name (case-insensitive, as PowerShell resolves names)."""
    return CATALOG.get(name.lower())


def required_modules(names) -> list[str]:
    """The modules to list in `#Requires -Modules` for cmdlets the script calls on the orchestrator.

    Inbox Microsoft.PowerShell.* modules, CimCmdlets and WSMan are always present
    and left out; cmdlets that run inside Invoke-Command on the nodes are left out.
    """
    inbox = ("Microsoft.", "CimCmdlets", "(")
    modules = {CATALOG[n.lower()].module for n in names if n.lower() in CATALOG and CATALOG[n.lower()].local}
    return sorted(m for m in modules if not m.startswith(inbox))
