"""The PowerShell backend: `Invoke-HciUpgrade.ps1`, a reviewable, resumable Windows PowerShell 5.1 upgrade script.

Shape of the script (docs/powershell.md explains it for operators):
- `#Requires`, comment-based help generated from the plan, `[CmdletBinding(SupportsShouldProcess,
  ConfirmImpact = 'High')]` and the parameters;
- a data region: every value from the `.hciplan` file as a quoted literal (`pstext.literal`);
- the helper chunks the plan needs (`ps_library`): the runner `Invoke-PlanStep`, the JSON-lines journal,
  bounded waits, node work;
- one function per step, named after the step id (`Step-p1-registry-HCI04-drain`); the sub-steps of one
  CAU run are one function (one `Invoke-CauRun`), and so are the parallel node steps of the offline method;
- the run: `Invoke-PlanStep` calls in plan order, each with the step's probe, post-condition and flags.

A plan whose OS upgrade runs in Windows Admin Center (`method = wac`) is interactive: this backend refuses it
with `BackendUnsupported` and points to the runbook. Output is deterministic: no timestamps, the plan
fingerprint identifies the script. The file starts with a UTF-8 byte-order mark because Windows PowerShell
5.1 reads a .ps1 without one in the ANSI code page, which would misread non-ASCII names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable

from hciplan import __version__
from hciplan.backends import cmdlets
from hciplan.backends.ps_library import CHUNKS, closure
from hciplan.backends.pstext import comment_text, function_name, literal, literal_list
from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.catalog import PHASES
from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.durations import DEFAULT_MODELS
from hciplan.compiler.plan import Plan, Step

NAME = "powershell"
DESCRIPTION = "Invoke-HciUpgrade.ps1: the resumable Windows PowerShell 5.1 upgrade script"
FILE_NAME = "Invoke-HciUpgrade.ps1"
BOM = "\ufeff"

TARGET_BUILD = 25398  # 23H2 is OS build 25398.x (domain.md, scope)
POLL_SECONDS = 30
ROLLING_UPGRADE_PLUGIN = "Microsoft.RollingUpgradePlugin"
TEMPLATE_URI = ("https://raw.githubusercontent.com/Azure/azure-quickstart-templates/master/quickstarts/"
                "microsoft.azurestackhci/upgrade-cluster/azuredeploy.json")  # [A-arm], [Q-tpl]: releases >= 2503
# What node state proves a CAU sub-step done once the run has ended (or was cancelled by -StopAfter mid-node):
# the build alone only proves setup and its reboots; resume needs the node Up (not paused), the storage wait
# needs storage healthy as well [W-invoke], [H-maint].
CAU_SUBSTEP_EVIDENCE = {"cau.drain": "upgraded", "cau.install": "upgraded", "cau.reboot": "upgraded",
                        "cau.resume": "up", "cau.storage_wait": "healthy"}
# A Test-Cluster warning that reports a failure: "failed", "failure(s)", "fails" as whole words, so that
# "Failover" (in nearly every test name) does not count.
TEST_CLUSTER_FAILURE = r"\bfail(ed|ure|ures|s)?\b"
POOL_FREE_TOLERANCE = 0.01  # assumption: 1% of the pool size of drift is noise, more makes the plan stale

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


class Unsupported(Exception):
    """Raised for plans this backend cannot script; the CLI reports it as `BackendUnsupported`."""


@dataclass
class Unit:
    """One runner entry: a step, or a group of steps one function performs (a CAU run, the offline upgrade)."""

    id: str
    steps: list[Step]
    body: list[str]
    needs: set[str] = field(default_factory=set)
    probe: str | None = None
    verify: str | None = None
    target: str | None = None
    fit_minutes: float = 0.0
    read_only: bool = False

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def function(self) -> str:
        return function_name("Step", self.id)

    @property
    def title(self) -> str:
        if len(self.steps) == 1:
            return self.first.title
        if self.first.group == CAU_RUN:
            return "One CAU run with the RollingUpgradePlugin: " + ", ".join(dict.fromkeys(s.node for s in self.steps if s.node))
        return "Upgrade every node at once inside the stopped cluster"

    @property
    def irreversible(self) -> bool:
        return any(s.spec.irreversible for s in self.steps)

    @property
    def covers(self) -> list[str]:
        return [s.id for s in self.steps] if len(self.steps) > 1 else []


def minutes(value: float) -> int:
    return max(1, math.ceil(value))


def wait_minutes(step: Step, floor: int = 15) -> int:
    """The bound of a wait: four times the step's expected minutes, at least `floor` (an assumption, documented)."""
    return max(floor, minutes(4 * step.mean_minutes))


def reboot_minutes(plan: Plan) -> int:
    """The plan's reboot timeout (CAU's -RebootTimeoutMinutes), used for every plain restart."""
    return plan.reboot_timeout


def os_reboot_minutes(plan: Plan) -> int:
    """A feature-update restart finishes setup first: the plan's timeout, but at least twice the slowest modelled one."""
    return max(reboot_minutes(plan), minutes(2 * DEFAULT_MODELS["os.reboot"].high))


def setup_minutes() -> int:
    return minutes(2 * DEFAULT_MODELS["os.install"].high)


def pass_minutes(plan: Plan, step: Step) -> float:
    """Expected minutes of the node pass `step` starts (to the pass's end, the next safe point)."""
    members = [s for s in plan.steps if s.group == step.group and s.node == step.node and s.phase == step.phase]
    return sum(s.mean_minutes for s in members)


# --- step bodies ------------------------------------------------------------------------------


def _node(step: Step) -> str:
    return literal(step.node or "")


def _body(plan: Plan, step: Step, unit: Unit) -> None:
    """Fill the unit's function body, probe and post-condition for one plain step."""
    kind, node = step.kind, _node(step)
    upgrade = plan.model.upgrade
    body, needs = unit.body, unit.needs
    after_setup = step.kind == "node.reboot" and step.group == "os"

    if kind == "gate.preflight":
        unit.read_only = True
        needs.update({"Get-StorageProblem", "Get-ClusterWide", "Stop-Upgrade"})
        body += PREFLIGHT
    elif kind in ("gate.test_cluster", "post.validate"):
        report = "p0" if kind == "gate.test_cluster" else "p3"
        body += [
            "# Test-Cluster must pass before any change, and again after the OS upgrade [H-maint], [A-post].",
            "$warnings = @()",
            f"$report = Join-Path -Path (Split-Path -Path $JournalPath -Parent) -ChildPath 'Test-Cluster-{report}'",
            "$null = Test-Cluster -Cluster $ClusterName -ReportName $report -WarningVariable warnings -WarningAction SilentlyContinue",
            f"$failed = @($warnings | Where-Object {{ [string]$_ -match {literal(TEST_CLUSTER_FAILURE)} }})",
            "if ($failed.Count -gt 0) { throw ('cluster validation reported failures; see {0}.htm: {1}' -f $report, ($failed -join '; ')) }",
        ]
    elif kind == "aks.remove":
        needs.update({"Invoke-OnNode", "Request-OperatorAction"})
        moc = ("then Uninstall-Moc (the plan records a preview install)" if plan.model.cluster.aks.preview else
               "(Uninstall-Moc only if AKS or Arc VM previews were ever used; the plan says they were not)")
        body += [
            "# Uninstall-AksHci acts on every node from the one it runs on: through remoting that is a second hop,",
            "# which fails without CredSSP, so the operator runs it on a node's console. The script then removes the",
            "# AksHci module from every node, each one locally; a module already gone is done [A-ps], [A-val].",
            "Request-OperatorAction -Instructions " + literal(
                "Back up what runs on AKS Arc first: its removal cannot be undone. On the console (or an RDP "
                "session) of one node, signed in as a cluster administrator, run Uninstall-AksHci, " + moc + ". "
                "If it already ran in an earlier attempt, only acknowledge; the script then removes the AksHci "
                "module from every node."),
            "foreach ($node in $PlanNodes) {",
            "    Invoke-OnNode -Node $node -ScriptBlock {",
            "        $ErrorActionPreference = 'Stop'",
            "        if (Get-Module -ListAvailable -Name 'AksHci') { Uninstall-Module -Name 'AksHci' -AllVersions -Force }",
            "    }",
            "}",
        ]
        unit.probe = ("@($PlanNodes | Where-Object { Invoke-OnNode -Node $_ -ScriptBlock "
                      "{ [bool](Get-Module -ListAvailable -Name 'AksHci') } }).Count -eq 0")
        unit.verify = unit.probe
    elif kind == "bitlocker.suspend":
        needs.add("BitLocker")
        body.append(f"Suspend-NodeBitLocker -Node {node}")
        unit.probe = f"(Get-NodeBitLockerStatus -Node {node}) -eq 'Off'"
        unit.verify = unit.probe
        unit.target = step.node
    elif kind == "bitlocker.resume":
        needs.add("BitLocker")
        body.append(f"Resume-NodeBitLocker -Node {node}")
        unit.probe = f"(Get-NodeBitLockerStatus -Node {node}) -eq 'On'"
        unit.verify = unit.probe
        unit.target = step.node
    elif kind == "registry.apply":
        needs.add("Set-UpgradeRegistry")
        body.append(f"Set-UpgradeRegistry -Node {node}")
        unit.probe = f"Test-UpgradeRegistry -Node {node}"
        unit.verify = unit.probe
        unit.target = step.node
    elif kind == "node.drain":
        needs.update({"Invoke-NodeDrain", "Test-NodeUpgraded"})
        body.append(f"Invoke-NodeDrain -Node {node} -TimeoutMinutes {wait_minutes(step)}")
        if step.group == "os":
            unit.probe = f"Test-NodeUpgraded -Node {node}"
        unit.verify = f"Test-NodePaused -Node {node}"
        unit.target = step.node
        unit.fit_minutes = pass_minutes(plan, step)
    elif kind == "node.reboot":
        needs.update({"Invoke-NodeRestart", "Test-NodeUpgraded"})
        if after_setup:
            body.append("# setup ran with /NoReboot: this restart finishes the feature update")
            body.append(f"Invoke-NodeRestart -Node {node} -TimeoutMinutes {os_reboot_minutes(plan)}")
            unit.probe = f"Test-NodeUpgraded -Node {node}"
            unit.verify = unit.probe
        else:
            body.append(f"Invoke-NodeRestart -Node {node} -TimeoutMinutes {reboot_minutes(plan)}")
        unit.target = step.node
    elif kind == "node.resume":
        needs.add("Invoke-NodeResume")
        body.append(f"Invoke-NodeResume -Node {node}")
        unit.probe = f"Test-NodeUp -Node {node}"
        unit.verify = unit.probe
        unit.target = step.node
    elif kind == "storage.wait":
        needs.add("Get-StorageProblem")
        body.append(f"Wait-StorageHealthy -TimeoutMinutes {wait_minutes(step, floor=30)}")
        unit.target = step.node
    elif kind == "media.verify":
        needs.add("Test-NodeMedia")
        body.append(f"if (-not (Test-NodeMedia -Node {node})) {{ throw ('setup.exe is not in {{0}} on {{1}}: extract the ISO "
                    f"to the same folder on every node [A-ps]' -f $PlanMediaPath, {node}) }}")
        unit.target = step.node
    elif kind == "cau.prepare":
        body += [
            "# Remoting must answer on every node; CAU's Best Practices Analyzer model must report no error [A-ps], [W-req].",
            "foreach ($node in $PlanNodes) { $null = Test-WSMan -ComputerName $node }",
            "$null = Test-CauSetup -ClusterName $ClusterName @CredentialArgs",
            "$errors = @(Get-BpaResult -ModelId 'Microsoft/Windows/ClusterAwareUpdating' | Where-Object { [string]$_.Severity -eq 'Error' })",
            "if ($errors.Count -gt 0) { throw ('Test-CauSetup found errors: {0}' -f (@($errors | ForEach-Object { $_.Title }) -join '; ')) }",
        ]
    elif kind == "cau.scan":
        needs.add("Request-OperatorAction")
        body += [
            "# Every node must be offered the same feature update [A-ps].",
            f"$scan = @(Invoke-CauScan -ClusterName $ClusterName -CauPluginName {literal(ROLLING_UPGRADE_PLUGIN)} "
            "-CauPluginArguments $CauPluginArguments @CredentialArgs)",
            "Write-Host (Out-String -InputObject ($scan | Format-Table -AutoSize))",
            "$offers = @{}",
            "foreach ($update in $scan) {",
            "    $nodeName = $update.PSObject.Properties['NodeName']",
            "    $title = $update.PSObject.Properties['UpdateTitle']",
            "    if (-not $nodeName -or -not $title) {",
            "        Request-OperatorAction -Instructions 'Review the scan above: every node must be offered the same feature update.'",
            "        return",
            "    }",
            "    $offers[[string]$nodeName.Value] = [string]$title.Value",
            "}",
            "$missing = @($PlanNodes | Where-Object { -not $offers.ContainsKey($_) })",
            "if ($missing.Count -gt 0) { throw ('no feature update is offered to {0}' -f ($missing -join ', ')) }",
            "if (@($offers.Values | Sort-Object -Unique).Count -gt 1) { throw ('the nodes are offered different updates: {0}' -f (@($offers.Values | Sort-Object -Unique) -join '; ')) }",
        ]
    elif kind == "os.setup":
        needs.add("Test-NodeUpgraded")
        unit.probe = f"Test-NodeUpgraded -Node {node}"
        unit.target = step.node
        if upgrade.source == "media":
            needs.add("Start-NodeSetup")
            body.append(f"Start-NodeSetup -Nodes @({node}) -TimeoutMinutes {setup_minutes()}")
        else:
            needs.add("Request-OperatorAction")
            unit.verify = unit.probe
            body.append("Request-OperatorAction -Instructions " + literal(
                f"On the console of {step.node}, run SConfig and choose 6 (Install updates), then 3 (Feature "
                "updates) to install the 23H2 feature update from Windows Update; let it restart until it "
                f"reports build {TARGET_BUILD} [A-other]."))
    elif kind == "post.registry_check":
        needs.add("Set-UpgradeRegistry")
        body += [
            "# The upgrade can reset the keys: re-apply and reboot the node if they reverted [A-verify].",
            "$reverted = @($PlanNodes | Where-Object { -not (Test-UpgradeRegistry -Node $_) })",
            "if ($reverted.Count -gt 0) { throw ('the registry keys reverted on {0}: re-apply them (Set-UpgradeRegistry) and reboot those nodes one at a time, then rerun' -f ($reverted -join ', ')) }",
        ]
    elif kind == "post.functional_level":
        needs.update({"Test-FunctionalLevelRaised", "Invoke-NodeResume"})
        unit.probe = "Test-FunctionalLevelRaised"
        body += [
            "# All nodes must be up; the level cannot be lowered again [A-post], [W-rolling].",
            "$down = @($PlanNodes | Where-Object { -not (Test-NodeUp -Node $_) })",
            "if ($down.Count -gt 0) { throw ('every node must be Up before the functional level is raised: {0}' -f ($down -join ', ')) }",
            "$before = [int64](Get-Cluster -Name $ClusterName).ClusterFunctionalLevel",
            "Update-ClusterFunctionalLevel -Cluster $ClusterName -Force",
            "$after = [int64](Get-Cluster -Name $ClusterName).ClusterFunctionalLevel",
            "if ($after -le $before) { throw ('the cluster functional level is still {0}' -f $after) }",
        ]
    elif kind == "post.storage_pool":
        body += [
            "# One-way pool version update, online [A-post].",
            "$session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
            "try { Get-StoragePool -CimSession $session -FriendlyName $PlanPoolName | Update-StoragePool -Confirm:$false }",
            "finally { Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false }",
        ]
    elif kind == "post.vm_version":
        needs.add("Invoke-OnNode")
        body += [
            "# Each VM below the host's default version is stopped, updated and started again [A-post].",
            "foreach ($node in $PlanNodes) {",
            "    Invoke-OnNode -Node $node -ScriptBlock {",
            "        $ErrorActionPreference = 'Stop'",
            "        $latest = [version](Get-VMHostSupportedVersion -Default).Version",
            "        foreach ($vm in @(Get-VM)) {",
            "            if ([version]$vm.Version -ge $latest) { continue }",
            "            $running = [string]$vm.State -eq 'Running'",
            "            if ($running) { Stop-VM -VM $vm -Force }",
            "            Update-VMVersion -VM $vm -Force",
            "            if ($running) { Start-VM -VM $vm }",
            "        }",
            "    }",
            "}",
        ]
    elif kind == "post.sync":
        needs.add("Invoke-OnNode")
        body += ["# Azure shows 23H2 right after a sync [S-ver].",
                 "Invoke-OnNode -Node $ClusterName -ScriptBlock { $ErrorActionPreference = 'Stop'; Sync-AzureStackHCI }"]
    elif kind == "atc.install":
        needs.add("Invoke-OnNode")
        body += [
            "# Install the features and hold the ATC service until each node is configured in turn [A-atc].",
            "foreach ($node in $PlanNodes) {",
            "    Invoke-OnNode -Node $node -ScriptBlock {",
            "        $ErrorActionPreference = 'Stop'",
            "        $null = Install-WindowsFeature -Name 'NetworkATC', 'FS-SMBBW'",
            "        Set-Service -Name 'NetworkATC' -StartupType Disabled",
            "        Stop-Service -Name 'NetworkATC' -Force",
            "    }",
            "}",
        ]
    elif kind == "atc.configure":
        needs.update({"Request-OperatorAction", "Get-NetIntentProblem"})
        unit.target = step.node
        body.append("Request-OperatorAction -Instructions " + literal(
            f"{step.node} is drained. From its BMC console (the node loses its network): remove the NetQos "
            "policies and any LBFO team, keep the SET vSwitch, convert the VLANs from VMNetworkAdapterVlan to "
            "VMNetworkAdapterIsolation, rename the vSwitch and vNICs to the Network ATC names, enable and start "
            "the NetworkATC service, run Add-NetIntent, and wait until Get-NetIntentStatus shows Success for "
            "this node; on the other nodes reconnect every VM network adapter after the rename [A-atc]."))
        body.append(f"$problems = @(Get-NetIntentProblem -Node {node})")
        body.append("if ($problems.Count -gt 0) { throw ('Network ATC is not configured: {0}' -f ($problems -join '; ')) }")
    elif kind == "atc.verify":
        needs.update({"Get-NetIntentProblem", "Wait-Until"})
        body.append(f"Wait-Until -What 'every Network ATC intent to report Success' -TimeoutMinutes "
                    f"{wait_minutes(step, floor=30)} -Condition {{ @(Get-NetIntentProblem).Count -eq 0 }}")
    elif kind == "remediate.apply":
        needs.update({"Invoke-OnNode", "Request-OperatorAction"})
        unit.target = step.node
        body += [
            "# Required roles and features for the solution upgrade; the reboot is the next step [A-val].",
            f"Invoke-OnNode -Node {node} -ArgumentList $RequiredRoles, $RequiredOptionalFeatures -ScriptBlock {{",
            "    param($Roles, $Features)",
            "    $ErrorActionPreference = 'Stop'",
            "    foreach ($role in $Roles) { $null = Install-WindowsFeature -Name $role -IncludeAllSubFeature -IncludeManagementTools }",
            "    foreach ($feature in $Features) { $null = Enable-WindowsOptionalFeature -FeatureName $feature -All -Online -NoRestart }",
            "}",
        ]
        if upgrade.wdac == "disable" and plan.model.cluster.wdac == "enforced":
            body.append("Request-OperatorAction -Instructions " + literal(
                f"Remove the WDAC policies from {step.node} the way they were deployed (policy files or Group "
                "Policy); the next step restarts the node. The new 23H2 policies are re-applied after the "
                "solution upgrade [A-val]."))
    elif kind == "thin.convert":
        needs.update({"Request-OperatorAction"})
        volume = literal(step.target or "")
        body += [
            "# Fixed -> thin frees pool space; the CSV must restart, so the VMs on it are shut down first [A-val].",
            f"$volume = {volume}",
            "$csv = Get-ClusterSharedVolume -Cluster $ClusterName -Name ('Cluster Virtual Disk ({0})' -f $volume)",
            "Request-OperatorAction -Instructions " + literal(
                f"Shut down every VM stored on the volume {step.target} (its cluster shared volume restarts)."),
            "$session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
            "try {",
            "    Set-VirtualDisk -CimSession $session -FriendlyName $volume -ProvisioningType Thin",
            "    $null = $csv | Stop-ClusterResource -Confirm:$false",
            "    $null = $csv | Start-ClusterResource",
            "    $disk = Get-VirtualDisk -CimSession $session -FriendlyName $volume",
            "    if ([string]$disk.ProvisioningType -ne 'Thin') { throw ('{0} is still {1}' -f $volume, $disk.ProvisioningType) }",
            "}",
            "finally { Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false }",
        ]
    elif kind == "lcm.extension":
        needs.add("Assert-AzureInputs")
        unit.target = step.node
        body += [
            "# The AzureEdgeLifecycleManager extension must be present on every node [A-val].",
            "Assert-AzureInputs",
            f"$existing = Get-AzConnectedMachineExtension -ResourceGroupName $ResourceGroupName -MachineName {node} "
            "-Name 'AzureEdgeLifecycleManager' -ErrorAction SilentlyContinue",
            "if (-not $existing) {",
            f"    $machine = Get-AzConnectedMachine -ResourceGroupName $ResourceGroupName -Name {node}",
            f"    $null = New-AzConnectedMachineExtension -Name 'AzureEdgeLifecycleManager' -ResourceGroupName $ResourceGroupName "
            f"-MachineName {node} -Location $machine.Location -Publisher 'Microsoft.AzureStack.Orchestration' -ExtensionType 'LcmController'",
            "}",
            f"$extension = Get-AzConnectedMachineExtension -ResourceGroupName $ResourceGroupName -MachineName {node} -Name 'AzureEdgeLifecycleManager'",
            "if ([string]$extension.ProvisioningState -ne 'Succeeded') { throw ('the LCM extension is {0}' -f $extension.ProvisioningState) }",
        ]
    elif kind == "ad.prepare":
        body += [
            "# The LCM user's password is asked for here and never stored [A-ad].",
            "$lcmCredential = Get-Credential -UserName $PlanDeploymentUser -Message 'Password of the LCM deployment user (not stored)'",
            "New-HciAdObjectsPreCreation -AzureStackLCMUserCredential $lcmCredential -AsHciOUName $PlanAdouPath",
        ]
    elif kind == "readiness.validate":
        needs.add("Invoke-OnNode")
        body += [
            "# The Environment Checker on every node; Critical failures block the solution upgrade [A-val].",
            "$blocking = @()",
            "foreach ($node in $PlanNodes) {",
            "    $results = @(Invoke-OnNode -Node $node -ScriptBlock {",
            "        $ErrorActionPreference = 'Stop'",
            "        Install-Module -Name 'AzStackHci.EnvironmentChecker' -AllowClobber -Force",
            "        Invoke-AzStackHciUpgradeValidation -PassThru",
            "    })",
            "    foreach ($result in $results) {",
            "        if ([string]$result.Status -eq 'FAILURE' -and [string]$result.Severity -eq 'CRITICAL') { $blocking += ('{0}: {1}' -f $node, $result.DisplayName) }",
            "    }",
            "}",
            "if ($blocking.Count -gt 0) { throw ('readiness checks block the upgrade: {0}' -f ($blocking -join '; ')) }",
        ]
    elif kind in ("solution.validate", "solution.deploy"):
        needs.update({"Invoke-SolutionDeployment", "Get-ClusterWide"})
        mode = "Validate" if kind == "solution.validate" else "Deploy"
        body.append(f"Invoke-SolutionDeployment -Mode '{mode}' -TimeoutMinutes {wait_minutes(step, floor=60)}")
        if kind == "solution.deploy":
            unit.probe = "Test-SolutionInstalled"
            unit.verify = "Test-SolutionInstalled"
    elif kind == "wdac.reapply":
        needs.add("Request-OperatorAction")
        body.append("Request-OperatorAction -Instructions " + literal(
            "Re-apply the new 23H2 WDAC policies on every node and update the security posture, as the "
            "Azure Local 23H2 documentation describes [A-inst]."))
    elif kind == "after.verify":
        needs.add("Get-ClusterWide")
        body += [
            "# Sync, then the registration must be connected and the solution installed [A-inst], [S-ver].",
            "Invoke-OnNode -Node $ClusterName -ScriptBlock { $ErrorActionPreference = 'Stop'; Sync-AzureStackHCI }",
            "$registration = Get-HciRegistration",
            "if ([string]$registration.ConnectionStatus -ne 'Connected') { throw ('the registration is {0}' -f $registration.ConnectionStatus) }",
        ]
        if upgrade.solution is not None:
            body.append("if (-not (Test-SolutionInstalled)) { throw 'Get-StampInformation returns nothing: the solution is not installed' }")
    else:  # a catalog kind without a script form must not be emitted silently
        raise Unsupported(f"no PowerShell for step kind {kind!r} ({step.id})")
    if step.spec.irreversible or step.spec.downtime:
        unit.fit_minutes = max(unit.fit_minutes, step.mean_minutes)


PREFLIGHT = [
    "# Read-only gates [A-ps], [A-ts], [H-maint], and the stale-plan rule: the live cluster must match the plan.",
    "# It runs in every run and rehearsal. A rerun may resume mid node pass (a node paused, storage resyncing by",
    "# design), so after the first pass its health findings are warnings: the drain refuses unhealthy storage.",
    "# Once the solution upgrade is done, Get-StampInformation answers and Infrastructure_1 uses pool space.",
    "$rerun = $script:Journal.ContainsKey($script:CurrentStep) -and $script:Journal[$script:CurrentStep] -in @('done', 'skipped')",
    "$solutionDone = $PlanSolutionDeployStep -and $script:Journal.ContainsKey($PlanSolutionDeployStep) -and $script:Journal[$PlanSolutionDeployStep] -in @('done', 'skipped')",
    "$stale = @()",
    "$problems = @()",
    "$live = @(Get-ClusterNode -Cluster $ClusterName)",
    "$liveNames = @($live | ForEach-Object { [string]$_.Name } | Sort-Object)",
    "$planNames = @($PlanNodes | Sort-Object)",
    "if (($liveNames -join ',') -ne ($planNames -join ',')) {",
    "    $stale += ('the cluster has nodes {0}; the plan has {1}' -f ($liveNames -join ', '), ($planNames -join ', '))",
    "}",
    "foreach ($node in $live) {",
    "    if ([string]$node.State -ne 'Up') { $problems += ('node {0} is {1}, not Up' -f $node.Name, $node.State) }",
    "}",
    "$problems += @(Get-StorageProblem)",
    "if ($PlanPoolName -and -not $solutionDone) {",
    "    $session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
    "    try { $pool = @(Get-StoragePool -CimSession $session -IsPrimordial $false | Where-Object { [string]$_.FriendlyName -eq $PlanPoolName }) }",
    "    finally { Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false }",
    "    if ($pool.Count -eq 0) { $stale += ('there is no storage pool named {0}' -f $PlanPoolName) }",
    "    else {",
    "        $free = [int64]$pool[0].Size - [int64]$pool[0].AllocatedSize",
    "        if ($free -lt $PlanPoolFreeBytes - $PoolFreeToleranceBytes) {",
    "            $stale += ('the pool has {0:N0} GB free; the plan assumed {1:N0} GB' -f ($free / 1073741824), ($PlanPoolFreeBytes / 1073741824))",
    "        }",
    "    }",
    "}",
    "if (-not $solutionDone -and (Test-SolutionInstalled)) { $problems += 'Get-StampInformation returns output: the solution is already installed [A-ps]' }",
    "$registration = Get-HciRegistration",
    "if ([string]$registration.RegistrationStatus -ne 'Registered' -or [string]$registration.ConnectionStatus -ne 'Connected') {",
    "    $problems += ('the registration is {0} / {1}, not Registered / Connected [A-ts]' -f $registration.RegistrationStatus, $registration.ConnectionStatus)",
    "}",
    "if ($stale.Count -gt 0) {",
    "    Stop-Upgrade -Code 2 -Message ('the live cluster no longer matches plan {0}: {1}. Update the .hciplan file, re-run hciplan plan and emit a new script.' -f $PlanFingerprint, ($stale -join '; '))",
    "}",
    "if ($problems.Count -gt 0 -and $rerun) {",
    "    foreach ($problem in $problems) { Write-Warning ('preflight (resumed run): {0}' -f $problem) }",
    "}",
    "elseif ($problems.Count -gt 0) { throw ('preflight: {0}' -f ($problems -join '; ')) }",
]


def _cau_unit(plan: Plan, steps: list[Step]) -> Unit:
    upgrade = plan.model.upgrade
    unit = Unit(f"{steps[0].phase.lower()}.{CAU_RUN}", steps, [], {"Test-NodeUpgraded", "Test-FunctionalLevelRaised",
                                                                    "Write-CauSubSteps", "Write-Journal"})
    level = any(s.kind == "cau.functional_level" for s in steps)
    per_node = [s for s in steps if s.node]
    nodes = list(dict.fromkeys(s.node for s in per_node))
    first_pass = sum(s.mean_minutes for s in per_node if s.node == nodes[0])
    total = sum(s.mean_minutes for s in steps)
    storage_wait = max((wait_minutes(s, floor=30) for s in per_node if s.kind == "cau.storage_wait"), default=30)
    unit.fit_minutes = first_pass  # CAU's -StopAfter ends the run at the window's end; one node must fit
    # Done means every node upgraded, Up (not paused) and storage healthy, not only the builds [W-invoke], [H-maint].
    unit.probe = ("(Test-AllNodesUpgraded) -and (Test-AllNodesUp) -and (@(Get-StorageProblem).Count -eq 0)"
                  + (" -and (Test-FunctionalLevelRaised)" if level else ""))
    unit.verify = unit.probe
    lines = [
        "# One CAU run performs the drain, setup, reboots, resume and storage wait of every node, one node at a",
        "# time [A-ps], [W-invoke]. It runs as a background job so this script can watch it with Get-CauRun;",
        "# -StopAfter always bounds it (the window's end, or three times the expected run). Nodes already upgraded",
        "# stay upgraded (mixed mode, reversible until the functional level is raised) [W-rolling].",
        "# The job is the CAU coordinator and must stay alive [W-invoke]: it is never removed while it runs, a",
        "# Get-CauRun error is only a missed look, and a deliberate cancel (Ctrl+C) goes through Stop-CauRun.",
        "$CauRunArgs = @{",
        "    ClusterName = $ClusterName",
        f"    CauPluginName = {literal(ROLLING_UPGRADE_PLUGIN)}",
        "    CauPluginArguments = $CauPluginArguments",
        f"    MaxFailedNodes = {upgrade.max_failed_nodes}",
        f"    MaxRetriesPerNode = {upgrade.max_retries_per_node}",
        "    RequireAllNodesOnline = $true",
        "    NodeOrder = $PlanNodes",
        f"    RebootTimeoutMinutes = {reboot_minutes(plan)}",
        "    EnableFirewallRules = $true",
        "    Force = $true",
        "}",
    ]
    if upgrade.source == "media":
        lines += ["# the ISO route as the PowerShell upgrade doc runs it [A-ps]", "$CauRunArgs.ForceSelfUpdate = $true"]
    lines += [
        "if ($Credential) { $CauRunArgs.Credential = $Credential }",
        f"$CauRunArgs.StopAfter = [timespan]::FromMinutes({minutes(3 * total)})  # assumption: three times the expected run",
        "if ($script:WindowEndAt -lt [datetimeoffset]::MaxValue) { $CauRunArgs.StopAfter = $script:WindowEndAt - [datetimeoffset]::Now }",
        "$expectedEnd = [datetimeoffset]::Now.Add($CauRunArgs.StopAfter).AddMinutes(30)",
        "$job = Start-Job -Name 'hciplan-cau-run' -ArgumentList $CauRunArgs -ScriptBlock { param($CauRunArgs) Invoke-CauRun @CauRunArgs }",
        "$ended = $false",
        "try {",
        "    while ([string]$job.State -in @('NotStarted', 'Running')) {",
        "        try {",
        "            $run = Get-CauRun -ClusterName $ClusterName @CredentialArgs",
        "            Write-Host (Out-String -InputObject ($run | Format-List))",
        "        }",
        "        catch { Write-Warning ('Get-CauRun failed ({0}); the run goes on, watching again in {1} s' -f $_, $PollSeconds) }",
        "        if ([datetimeoffset]::Now -ge $expectedEnd) {",
        "            Write-Warning ('the CAU run is still going {0:N0} min after -StopAfter should have ended it. It is left running: its coordinator is the background job of this PowerShell session, so keep this window open. To cancel it deliberately, press Ctrl+C (this script then runs Stop-CauRun) or run Stop-CauRun -ClusterName {1} -Force -Wait.' -f ([datetimeoffset]::Now - $expectedEnd.AddMinutes(-30)).TotalMinutes, $ClusterName)",
        "        }",
        "        $null = Wait-Job -Job $job -Timeout $PollSeconds",
        "    }",
        "    $ended = $true",
        "    Receive-Job -Job $job",
        f"    Wait-StorageHealthy -TimeoutMinutes {storage_wait}",
        "}",
        "catch {",
        "    Write-Warning ('The CAU run did not complete: {0}' -f $_)",
        "    try { Write-Host (Out-String -InputObject (Get-CauReport -ClusterName $ClusterName -Last -Detailed @CredentialArgs | Format-List)) }",
        "    catch { Write-Warning ('Get-CauReport failed too: {0}' -f $_) }",
        "    Write-Warning ('If Get-CauRun -ClusterName {0} shows a run that no coordinator drives (the cluster stays Locked), and no other CAU console is running, recover it with: Invoke-CauRun -ClusterName {0} -ForceRecovery -Force. Then rerun this script: upgraded nodes stay upgraded and the run continues with the rest [W-invoke].' -f $ClusterName)",
        "    Write-CauSubSteps",
        "    throw",
        "}",
        "finally {",
        "    if (-not $ended -and [string]$job.State -in @('NotStarted', 'Running')) {",
        "        # Interrupted (Ctrl+C): the coordinator dies with this session, so cancel the run the supported way first.",
        "        Write-Warning 'Cancelling the CAU run with Stop-CauRun so that the cluster is not left Locked'",
        "        try { Stop-CauRun -ClusterName $ClusterName -Force -Wait @CredentialArgs } catch { Write-Warning ('Stop-CauRun failed: {0}' -f $_) }",
        "        $null = Wait-Job -Job $job -Timeout $PollSeconds",
        "        Write-CauSubSteps",
        "    }",
        "    if ([string]$job.State -notin @('NotStarted', 'Running')) { Remove-Job -Job $job -Confirm:$false }",
        "}",
    ]
    unit.body = lines
    return unit


def _offline_unit(plan: Plan, steps: list[Step]) -> Unit:
    unit = Unit(f"{steps[0].phase.lower()}.offline", steps, [], {"Test-NodeUpgraded"})
    unit.fit_minutes = sum(s.mean_minutes for s in steps) / max(1, len({s.node for s in steps}))
    unit.probe = "Test-AllNodesUpgraded"
    unit.verify = "Test-AllNodesUpgraded"
    # The registry keys are set inside the bracket; the setup's restart applies them [A-ps], [S-lm].
    unit.needs.add("Set-UpgradeRegistry")
    registry = [
        "# The registry keys first, on every node still on 22H2: the coming restart applies them [A-ps], [S-lm].",
        "foreach ($node in @($PlanNodes | Where-Object { -not (Test-NodeUpgraded -Node $_) })) {",
        "    if (-not (Test-UpgradeRegistry -Node $node)) { Set-UpgradeRegistry -Node $node }",
        "}",
    ]
    if plan.model.upgrade.source == "media":
        unit.needs.add("Start-NodeSetup")  # only the media route has $PlanMediaPath
        unit.body = registry + [
            "# Every node at once: setup from the extracted media, then one parallel restart [A-other].",
            "$pending = @($PlanNodes | Where-Object { -not (Test-NodeUpgraded -Node $_) })",
            f"if ($pending.Count -gt 0) {{ Start-NodeSetup -Nodes $pending -TimeoutMinutes {setup_minutes()} }}",
            "if ($pending.Count -gt 0) {",
            f"    Restart-Computer -ComputerName $pending -Force -Wait -For PowerShell -Timeout {60 * os_reboot_minutes(plan)} -Delay 15 -Confirm:$false @CredentialArgs",
            "}",
        ]
    else:
        unit.needs.add("Request-OperatorAction")
        unit.body = registry + [
            "Request-OperatorAction -Instructions " + literal(
                "The cluster is stopped. On every node's console run SConfig, choose 6 (Install updates) then 3 "
                f"(Feature updates), and let each node restart until it reports build {TARGET_BUILD} [A-other]."),
        ]
    return unit


VM_SHUTDOWN_MINUTES = 30  # assumption: a graceful guest shutdown of every VM finishes within this
CLUSTER_NAME_MINUTES = 30  # assumption: the cluster's core resources come online within this after Start-Cluster


def _offline_stop_start(step: Step, unit: Unit) -> None:
    unit.needs.update({"Invoke-OnNode", "Wait-Until"})
    if step.kind == "offline.stop":
        unit.body += [
            "# Full outage [A-other]. First the VMs get a guest shutdown (Stop-VM, not a saved state, since the hosts",
            "# change OS), the running ones recorded next to the journal so offline.start restarts them; then the CSVs",
            "# go offline, the cluster stops and the cluster service is held on every node.",
            "$record = $JournalPath + '.running-vms.json'",
            "$running = @()",
            "if (Test-Path -LiteralPath $record) { $running = @((ConvertFrom-Json -InputObject ([System.IO.File]::ReadAllText($record))) | ForEach-Object { $_ }) }",
            "foreach ($node in $PlanNodes) {",
            "    $found = @(Invoke-OnNode -Node $node -ScriptBlock {",
            "        Get-VM | Where-Object { [string]$_.State -eq 'Running' } | ForEach-Object { [pscustomobject]@{ Id = [string]$_.VMId; Name = [string]$_.Name; Clustered = [bool]$_.IsClustered } }",
            "    })",
            "    foreach ($vm in $found) {",
            "        if (@($running | Where-Object { [string]$_.Id -eq [string]$vm.Id }).Count -eq 0) {",
            "            $running += [pscustomobject]@{ Node = $node; Id = [string]$vm.Id; Name = [string]$vm.Name; Clustered = [bool]$vm.Clustered }",
            "        }",
            "    }",
            "}",
            "[System.IO.File]::WriteAllText($record, (ConvertTo-Json -InputObject @($running) -Depth 3), [System.Text.UTF8Encoding]::new($false))",
            "Write-Host ('{0} running VMs recorded in {1}; shutting them down' -f $running.Count, $record)",
            "foreach ($node in $PlanNodes) {",
            "    Invoke-OnNode -Node $node -ScriptBlock {",
            "        $ErrorActionPreference = 'Stop'",
            "        foreach ($vm in @(Get-VM | Where-Object { [string]$_.State -eq 'Running' })) { Stop-VM -VM $vm -Force -Confirm:$false }",
            "    }",
            "}",
            f"Wait-Until -What 'every VM to be off' -TimeoutMinutes {VM_SHUTDOWN_MINUTES} -Condition {{",
            "    $on = 0",
            "    foreach ($node in $PlanNodes) { $on += [int](Invoke-OnNode -Node $node -ScriptBlock { @(Get-VM | Where-Object { [string]$_.State -notin @('Off', 'Saved') }).Count }) }",
            "    $on -eq 0",
            "}",
            "# The VMs are off, so taking their roles offline only records that in the cluster.",
            "$online = @(Get-ClusterGroup -Cluster $ClusterName | Where-Object { [string]$_.GroupType -eq 'VirtualMachine' -and [string]$_.State -ne 'Offline' })",
            "foreach ($group in $online) { $null = Stop-ClusterGroup -InputObject $group }",
            "$left = @(Get-ClusterGroup -Cluster $ClusterName | Where-Object { [string]$_.GroupType -eq 'VirtualMachine' -and [string]$_.State -ne 'Offline' })",
            "if ($left.Count -gt 0) { throw ('VM roles still not offline: {0}' -f (@($left | ForEach-Object { $_.Name }) -join ', ')) }",
            "foreach ($csv in @(Get-ClusterSharedVolume -Cluster $ClusterName)) { $null = $csv | Stop-ClusterResource -Confirm:$false }",
            "Stop-Cluster -Cluster $ClusterName -Force -Confirm:$false",
            "foreach ($node in $PlanNodes) {",
            "    Invoke-OnNode -Node $node -ScriptBlock { $ErrorActionPreference = 'Stop'; Set-Service -Name 'ClusSvc' -StartupType Disabled }",
            "}",
        ]
    else:
        unit.needs.add("Get-StorageProblem")
        unit.body += [
            "# Cluster service back to Automatic; Start-Cluster by a node name, since the cluster name is offline while",
            "# every node is stopped (Start-Cluster docs). Then, in order [A-other]: pool healthy and storage jobs done,",
            "# CSVs online, every virtual disk healthy; last, the VMs that offline.stop shut down start again.",
            "foreach ($node in $PlanNodes) {",
            "    Invoke-OnNode -Node $node -ScriptBlock { $ErrorActionPreference = 'Stop'; Set-Service -Name 'ClusSvc' -StartupType Automatic }",
            "}",
            "$null = Start-Cluster -Name $PlanNodes[0]",
            "# The cluster name answers (CIM, cluster cmdlets) only once the core resources are online.",
            f"Wait-Until -What ('the cluster name {{0}} to answer' -f $ClusterName) -TimeoutMinutes {CLUSTER_NAME_MINUTES} -Condition {{",
            "    try {",
            "        $session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
            "        Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false",
            "        $true",
            "    }",
            "    catch { $false }",
            "}",
            f"Wait-Until -What 'the storage pool to be Healthy and its storage jobs to finish' -TimeoutMinutes {wait_minutes(step, floor=60)} -Condition {{",
            "    $session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
            "    try {",
            "        $pools = @(Get-StoragePool -CimSession $session -IsPrimordial $false | Where-Object { [string]$_.HealthStatus -ne 'Healthy' })",
            "        $jobs = @(Get-StorageJob -CimSession $session | Where-Object { [string]$_.JobState -ne 'Completed' })",
            "    }",
            "    finally { Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false }",
            "    $pools.Count -eq 0 -and $jobs.Count -eq 0",
            "}",
            "foreach ($csv in @(Get-ClusterSharedVolume -Cluster $ClusterName)) { $null = $csv | Start-ClusterResource }",
            f"Wait-StorageHealthy -TimeoutMinutes {wait_minutes(step, floor=60)}",
            "$record = $JournalPath + '.running-vms.json'",
            "if (Test-Path -LiteralPath $record) {",
            "    foreach ($vm in @((ConvertFrom-Json -InputObject ([System.IO.File]::ReadAllText($record))) | ForEach-Object { $_ })) {",
            "        if ($vm.Clustered) { $null = Get-ClusterGroup -Cluster $ClusterName -VMId ([guid]$vm.Id) | Start-ClusterGroup }",
            "        else {",
            "            Invoke-OnNode -Node $vm.Node -ArgumentList @($vm.Id) -ScriptBlock { param($Id) $ErrorActionPreference = 'Stop'; Start-VM -VM (Get-VM -Id $Id) -Confirm:$false }",
            "        }",
            "    }",
            "    [System.IO.File]::Delete($record)",
            "}",
        ]


def build_units(plan: Plan) -> list[Unit]:
    """The runner entries in plan order; grouped steps take the place of their first step."""
    if plan.interactive:
        raise Unsupported(
            f"method = {plan.method} runs the OS upgrade from the Windows Admin Center GUI, which a script cannot "
            "drive: emit the runbook instead (hciplan emit FILE --backend runbook)")
    units: list[Unit] = []
    groups: dict[str, Unit] = {}
    grouped = {CAU_RUN: _cau_unit, "offline": _offline_unit}
    members: dict[str, list[Step]] = {}
    for step in plan.steps:
        if step.group in grouped:
            members.setdefault(step.group, []).append(step)
    for step in plan.steps:
        if step.group in grouped:
            if step.group not in groups:
                groups[step.group] = grouped[step.group](plan, members[step.group])
                units.append(groups[step.group])
            continue
        unit = Unit(step.id, [step], [])
        if step.kind in ("offline.stop", "offline.start"):
            _offline_stop_start(step, unit)
            unit.fit_minutes = step.mean_minutes
        else:
            _body(plan, step, unit)
        units.append(unit)
    names = [u.function for u in units]
    if len(set(n.lower() for n in names)) != len(names):  # PowerShell names are case-insensitive
        raise Unsupported("two steps map to the same PowerShell function name")
    return units


# --- the script ------------------------------------------------------------------------------------


def _help(plan: Plan, units: list[Unit], phases: list[str]) -> list[str]:
    model, upgrade = plan.model, plan.model.upgrade
    cluster = model.cluster
    minutes_total, _ = plan.critical_path()
    source = "Windows Update" if upgrade.source == "windows_update" else "the extracted ISO at " + comment_text(upgrade.media_path or "")
    lines = [
        "<#",
        ".SYNOPSIS",
        f"    Upgrade cluster {comment_text(cluster.name)} from {comment_text(cluster.version)} to {comment_text(upgrade.to)}"
        f" ({upgrade.method}, {source}), as planned by hciplan.",
        "",
        ".DESCRIPTION",
        f"    Generated by hciplan {__version__} from plan {plan.fingerprint}. Do not edit it: change the .hciplan",
        "    file and emit again. Run it from a Windows Server 2022 machine outside the cluster, as an administrator",
        "    of the cluster. It runs the steps below in order, journals each one, and resumes after an interruption",
        "    at the first step the journal does not record as done.",
        f"    Expected duration: about {minutes_total / 60:.1f} h of work (mean step durations), over the planned windows.",
        "",
    ]
    for phase in phases:
        lines.append(f"    {phase} {PHASES[phase]}")
        for unit in (u for u in units if u.first.phase == phase):
            marks = []
            if unit.irreversible:
                marks.append("IRREVERSIBLE")
            if any(s.spec.downtime for s in unit.steps):
                marks.append("VM DOWNTIME")
            if any(s.spec.interactive for s in unit.steps) or "Request-OperatorAction" in unit.needs:
                marks.append("operator")
            mark = f" [{', '.join(marks)}]" if marks else ""
            lines.append(f"      {unit.id}: {comment_text(unit.title)}{mark}")
    lines += [
        "",
        ".PARAMETER ClusterName",
        f"    The failover cluster to upgrade. Default from the plan: {comment_text(cluster.name)}.",
        ".PARAMETER Credential",
        "    Credentials for remoting, CIM and CAU on the nodes. Default: the current user. Never stored.",
        ".PARAMETER JournalPath",
        "    The JSON-lines journal (one line per step event); the transcript is written next to it.",
        "    Default: Invoke-HciUpgrade.journal.jsonl next to this script.",
        ".PARAMETER Phase",
        "    Run only these phases (earlier phases must be done). Default: all phases.",
        ".PARAMETER ConfirmIrreversible",
        "    Run irreversible steps without asking. Without it, each irreversible step asks (ShouldContinue) and a",
        "    non-interactive run stops before it. Irreversible steps never run under -WhatIf.",
        ".PARAMETER WindowEnd",
        "    No step starts after this time, and a node pass starts only if it can finish before it.",
        "    Default: the end of the planned window the run is in:",
    ]
    for window in upgrade.windows:
        lines.append(f"      {comment_text(window.name)}: {window.start.isoformat()} .. {window.end.isoformat()}")
    if not upgrade.windows:
        lines.append("      (the plan has no window: no limit)")
    lines += [
        ".PARAMETER Acknowledge",
        "    Step ids the operator has done by hand after the script paused for them; the script verifies them.",
        ".PARAMETER AdoptJournal",
        "    Continue with a journal written by an earlier plan (after a deliberate re-plan).",
    ]
    if upgrade.solution is not None:
        lines += [
            ".PARAMETER ResourceGroupName",
            "    Azure resource group of the cluster and its Arc machines (solution-upgrade steps).",
            ".PARAMETER TemplateParameterFile",
            "    The upgrade-cluster ARM parameter file (tenant, subscription, secret references); its plan values",
            "    (key vault, IP range, LCM user, custom location) must match the plan.",
            ".PARAMETER TemplateUri",
            "    The upgrade-cluster ARM template (releases 2503 and later).",
        ]
    lines += [
        ".EXAMPLE",
        "    .\\Invoke-HciUpgrade.ps1 -WhatIf",
        "    Rehearsal: runs the read-only preflight and lists every step it would run; changes nothing.",
        ".EXAMPLE",
        "    .\\Invoke-HciUpgrade.ps1 -Phase P0, P1",
        "    Gates and pre-OS work only; PowerShell asks before each step (ConfirmImpact High).",
        ".EXAMPLE",
        "    .\\Invoke-HciUpgrade.ps1 -Confirm:$false -ConfirmIrreversible",
        "    Unattended run, irreversible steps included; rerun the same command to resume.",
        ".EXAMPLE",
        "    .\\Invoke-HciUpgrade.ps1 -Acknowledge 'p4.atc.NODE.configure'",
        "    Resume after doing an interactive step by hand.",
        ".NOTES",
        "    Exit codes: 0 done (or the selected phases are done), 1 a step failed or timed out, 2 the plan is stale",
        "    or an input is missing, 3 paused for the operator, 4 the window ends, 5 a step was declined at the",
        "    prompt or an irreversible step was not confirmed. docs/powershell.md describes the journal and the",
        "    resume rules.",
        "#>",
    ]
    return lines


def _data(plan: Plan, units: list[Unit], phases: list[str]) -> list[str]:
    model, upgrade = plan.model, plan.model.upgrade
    cluster = model.cluster
    order = [n.name for n in model.ordered_nodes()]
    lines = [
        "#region Plan data: every value from the .hciplan file, as a quoted literal",
        f"$PlanFingerprint = {literal(plan.fingerprint)}",
        f"$PlanNodes = {literal_list(order)}  # in upgrade order",
        f"$PlanPhases = [System.Collections.Generic.List[string]]{literal_list(phases)}",
        f"$PlanStepCount = {len(plan.steps)}",
        f"$PlanOrchestrator = {literal(upgrade.orchestrator) if upgrade.orchestrator else '$null'}",
        f"$TargetBuild = {TARGET_BUILD}",
        f"$PollSeconds = {POLL_SECONDS}",
    ]
    if cluster.pool is not None:
        lines += [
            f"$PlanPoolName = {literal(cluster.pool.name)}",
            f"$PlanPoolFreeBytes = [int64]{cluster.pool.free}",
            f"$PoolFreeToleranceBytes = [int64]{int(cluster.pool.size * POOL_FREE_TOLERANCE)}  # assumption: 1% of the pool",
        ]
    else:
        lines.append("$PlanPoolName = $null")
    if upgrade.media_path is not None and upgrade.source == "media":
        lines.append(f"$PlanMediaPath = {literal(upgrade.media_path)}")
    if any(u.first.group == CAU_RUN for u in units) or any(s.kind == "cau.scan" for s in plan.steps):
        args = ["WuConnected = " + ("'true'" if upgrade.source == "windows_update" else "'false'")]
        if upgrade.source == "media":
            args.append(f"PathToSetupMedia = {literal(upgrade.media_path or '')}")
        args.append("UpdateClusterFunctionalLevel = " + ("'true'" if upgrade.functional_level == "with_cau" else "'false'"))
        lines.append("$CauPluginArguments = @{ " + "; ".join(args) + " }  # RollingUpgradePlugin arguments [A-ps]")
    cau = next((u for u in units if u.first.group == CAU_RUN), None)
    if cau is not None:
        lines.append("# The plan's per-node CAU steps and the node state that shows each one done (upgraded: on the")
        lines.append("# 23H2 build; up: upgraded, Up and not paused; healthy: up, and storage healthy), journalled after the run")
        lines.append("$CauSubSteps = @{")
        for node in order:
            entries = "; ".join(f"{literal(s.id)} = {literal(CAU_SUBSTEP_EVIDENCE[s.kind])}"
                                for s in cau.steps if s.node == node)
            lines.append(f"    {literal(node)} = [ordered]@{{ {entries} }}")
        lines.append("}")
    deploy = next((s.id for s in plan.steps if s.kind == "solution.deploy"), None)
    lines.append(f"$PlanSolutionDeployStep = {literal(deploy) if deploy else '$null'}")
    lines.append("$PlanWindows = @(")
    for window in upgrade.windows:
        lines.append(f"    @{{ Name = {literal(window.name)}; Start = [datetimeoffset]'{window.start.isoformat()}'; "
                     f"End = [datetimeoffset]'{window.end.isoformat()}' }}")
    lines.append(")")
    if any(s.kind == "remediate.apply" for s in plan.steps):
        lines.append(f"$RequiredRoles = {literal_list(REQUIRED_ROLES)}  # [A-val]")
        lines.append(f"$RequiredOptionalFeatures = {literal_list(REQUIRED_OPTIONAL_FEATURES)}  # [A-val]")
    solution = upgrade.solution
    if solution is not None:
        lines.append(f"$PlanDeploymentUser = {literal(solution.deployment_user)}")
        lines.append(f"$PlanAdouPath = {literal(solution.adou_path) if solution.adou_path else '$null'}")
        values = [("keyVaultName", solution.key_vault), ("AzureStackLCMAdminUsername", solution.deployment_user),
                  ("startingIPAddress", str(solution.ip_range.start)), ("endingIPAddress", str(solution.ip_range.end)),
                  ("customLocation", solution.custom_location or f"{cluster.name}-cl")]
        if solution.adou_path:
            values.append(("adouPath", solution.adou_path))
        lines.append("$PlanTemplateValues = @{  # upgrade-cluster template parameters the plan fixes [Q-tpl]")
        lines += [f"    {name} = {literal(value)}" for name, value in values]
        lines.append("}")
    lines.append("#endregion")
    return lines


def _params(plan: Plan, phases: list[str]) -> list[str]:
    upgrade = plan.model.upgrade
    params = [
        f"    [string] $ClusterName = {literal(plan.model.cluster.name)},",
        "    [pscredential] $Credential,",
        "    [string] $JournalPath = (Join-Path -Path $PSScriptRoot -ChildPath 'Invoke-HciUpgrade.journal.jsonl'),",
        f"    [ValidateSet({', '.join(literal(p) for p in phases)})] [string[]] $Phase = {literal_list(phases)},",
        "    [switch] $ConfirmIrreversible,",
        "    [datetime] $WindowEnd,",
        "    [string[]] $Acknowledge = @(),",
        "    [switch] $AdoptJournal",
    ]
    if upgrade.solution is not None:
        params[-1] += ","
        params += [
            "    [string] $ResourceGroupName,",
            "    [string] $TemplateParameterFile,",
            f"    [string] $TemplateUri = {literal(TEMPLATE_URI)}",
        ]
    return ["[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]", "param(", *params, ")"]


def _function(unit: Unit) -> list[str]:
    comment = f"# {unit.id}: {comment_text(unit.title)} {' '.join(dict.fromkeys(s.spec.source for s in unit.steps))}"
    return [comment, f"function {unit.function} {{", *("    " + line if line else "" for line in unit.body), "}"]


def _call(unit: Unit) -> list[str]:
    args = [f"-Id {literal(unit.id)}", f"-Phase {literal(unit.first.phase)}", f"-Title {literal(unit.title)}"]
    if unit.target:
        args.append(f"-Target {literal(unit.target)}")
    if unit.fit_minutes:
        args.append(f"-FitMinutes {unit.fit_minutes:.1f}")
    if unit.covers:
        args.append(f"-Covers {literal_list(unit.covers)}")
    if unit.irreversible:
        args.append("-Irreversible")
    if unit.read_only:
        args.append("-ReadOnly")
    if unit.probe:
        args.append(f"-Probe {{ {unit.probe} }}")
    if unit.verify:
        args.append(f"-Verify {{ {unit.verify} }}")
    args.append(f"-Action {{ {unit.function} }}")
    return ["    Invoke-PlanStep " + " `\n        ".join(args)]


_CODE_LINE = re.compile(r"^\s*(#|<#|\.[A-Z]+\b)")


def required_modules(script_code: str) -> list[str]:
    """Modules of the catalog cmdlets the script calls on the orchestrator (comments ignored)."""
    code = "\n".join(line for line in script_code.splitlines() if not _CODE_LINE.match(line))
    words = set(re.findall(r"\b[A-Z][A-Za-z]+-[A-Za-z0-9]+\b", code))
    return cmdlets.required_modules(words)


def render_script(plan: Plan) -> str:
    units = build_units(plan)
    phases = [phase for phase, _ in plan.phases()]
    needs = {"Invoke-PlanStep", "Start-HciRun", "Complete-HciRun", "Stop-Upgrade"}
    for unit in units:
        needs |= unit.needs
    library: list[str] = []
    for name in closure(needs):
        library += CHUNKS[name].code.splitlines() + [""]
    functions: list[str] = []
    for unit in units:
        functions += _function(unit) + [""]
    run = ["try {", "    Start-HciRun"]
    for unit in units:
        run += _call(unit)
    run += ["    Complete-HciRun", "}", "finally {", "    Stop-HciTranscript", "}"]
    body = [
        *_help(plan, units, phases),
        *_params(plan, phases),
        "",
        "Set-StrictMode -Version Latest",
        "$ErrorActionPreference = 'Stop'",
        "# .NET file calls resolve relative paths against the process, not the PowerShell location: make them absolute",
        "$JournalPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($JournalPath)",
        *(["if ($TemplateParameterFile) { $TemplateParameterFile = $ExecutionContext.SessionState.Path."
           "GetUnresolvedProviderPathFromPSPath($TemplateParameterFile) }"] if plan.model.upgrade.solution else []),
        "$WindowEndGiven = $PSBoundParameters.ContainsKey('WindowEnd')",
        "$script:Rehearsal = [bool]$WhatIfPreference",
        "$script:Transcribing = $false",
        "$script:Journal = @{}",
        "$script:SelectedPhases = @($Phase)",
        "$script:CurrentStep = ''",
        "$script:StepStart = [datetimeoffset]::Now",
        "$script:WindowEndAt = [datetimeoffset]::MaxValue",
        "$script:TimedOut = $false",
        "$CredentialArgs = @{}",
        "if ($Credential) { $CredentialArgs = @{ Credential = $Credential } }",
        "",
        *_data(plan, units, phases),
        "",
        "#region Helpers",
        *library,
        "#endregion",
        "",
        "#region Steps: one function per plan step, in plan order",
        *functions,
        "#endregion",
        "",
        "#region Run: the steps in plan order",
        *run,
        "#endregion",
    ]
    code = "\n".join(body) + "\n"
    modules = required_modules(code)
    header = ["#Requires -Version 5.1", "#Requires -RunAsAdministrator"]
    if modules:
        header.append("#Requires -Modules " + ", ".join(modules))
    return BOM + "\n".join(header) + "\n\n" + code  # a blank line, as New-ScriptFileInfo lays #Requires out before the help


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = ()) -> dict[str, str]:
    try:
        return {FILE_NAME: render_script(plan)}
    except Unsupported as error:
        from hciplan.backends import BackendUnsupported

        raise BackendUnsupported(str(error)) from None
