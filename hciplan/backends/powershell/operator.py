"""What each step kind means to an operator: the runbook's commands, verify and back-out texts, one registry.

The runbook (`hciplan.backends.runbook`) shows, per step kind, the PowerShell an operator would run, how to
verify it and how to back out. Those texts live here, beside the emitters of `steps.py` that script the same
operations, registered per kind (`@operator_text("node.drain", verify=..., backout=...)` on a function of the
plan and step, or `register_text(kind, [...])` for fixed lines), so a reviewer finds a kind's runbook text
by searching for its name. A text left out (`None`) takes the runbook's default: `verify_for`, `backout_for`.

Values from the `.hciplan` file are quoted with `pstext.literal`, exactly as the script quotes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hciplan.backends.azurelocal import (REFS_KEY, REFS_VALUE, ROLLING_UPGRADE_PLUGIN, TARGET_BUILD, TEMPLATE_URI, VID_KEY,
                                         VID_VALUE, plugin_arguments_literal)
from hciplan.backends.pstext import literal, literal_list
from hciplan.compiler.plan import Plan, Step

Commands = Callable[[Plan, Step], list[str]]


@dataclass(frozen=True)
class OperatorText:
    """A step kind's runbook texts: its commands (fixed lines, or a function of the plan and step), verify, back out."""

    commands: Commands | list[str]
    verify: str | None = None  # None: DEFAULT_VERIFY
    backout: str | None = None  # None: the rule of `backout_for`

    def command_lines(self, plan: Plan, step: Step) -> list[str]:
        return list(self.commands(plan, step) if callable(self.commands) else self.commands)


OPERATOR_TEXTS: dict[str, OperatorText] = {}  # step kind -> its runbook texts

DEFAULT_VERIFY = "the step completed without error"


def register_text(kind: str, commands: Commands | list[str], verify: str | None = None, backout: str | None = None) -> None:
    """Register the operator texts of `kind`."""
    assert kind not in OPERATOR_TEXTS, f"two operator texts for {kind}"
    OPERATOR_TEXTS[kind] = OperatorText(commands, verify, backout)


def operator_text(kind: str, verify: str | None = None, backout: str | None = None) -> Callable[[Commands], Commands]:
    """Register the decorated function as the commands of `kind`, with its verify and back-out texts."""
    def register(function: Commands) -> Commands:
        register_text(kind, function, verify, backout)
        return function
    return register


def commands_for(plan: Plan, step: Step) -> str:
    """The PowerShell an operator runs for `step`, one command a line."""
    return "\n".join(OPERATOR_TEXTS[step.kind].command_lines(plan, step))


def verify_for(step: Step) -> str:
    return OPERATOR_TEXTS[step.kind].verify or DEFAULT_VERIFY


def backout_for(step: Step) -> str:
    """How to back out of `step`: its own text, else the rule for its kind."""
    text = OPERATOR_TEXTS[step.kind].backout
    if text is not None:
        return text
    if step.kind.startswith("cau."):
        return ("`Stop-CauRun` ends the run; upgraded nodes stay upgraded and the cluster stays in mixed mode, "
                "reversible until the functional level is raised [W-rolling]; a Locked cluster needs "
                "`Invoke-CauRun -ForceRecovery -Force`")
    if step.spec.gate or step.kind.endswith("verify") or step.kind in ("storage.wait", "node.resume", "media.verify"):
        return "nothing to undo (read-only or returns to normal)"
    return "rerun the step; it is idempotent"


_N = "$Node"  # in per-node commands the runbook shows a variable; the checklist lists the nodes


def _cluster(plan: Plan) -> str:
    return literal(plan.model.cluster.name)


# --- the texts, per step kind --------------------------------------------------------------------


@operator_text("gate.preflight",
               verify="every node Up, every virtual disk Healthy, no storage job, no stamp information, Registered and Connected")
def _gate_preflight(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    lines = [f"Get-ClusterNode -Cluster {cluster}", f"Get-VirtualDisk -CimSession {cluster}",
            f"Get-StorageJob -CimSession {cluster}",
            "Invoke-Command -ComputerName $AnyNode { Get-StampInformation }  # must return nothing",
            "Invoke-Command -ComputerName $AnyNode { Get-AzureStackHCI }  # Registered, Connected"]
    kinds = {s.kind for s in plan.steps}
    if plan.model.upgrade.method == "cau":
        lines.insert(0, "(Get-CimInstance -ClassName Win32_OperatingSystem).BuildNumber  # on the orchestrator: "
                        "20348 (Windows Server 2022), outside the cluster [A-ps], [W-invoke]")
    if "registration.repair" not in kinds:
        lines += [f"Get-ClusterGroup -Cluster {cluster} | Where-Object Name -eq 'Cloud Management'  # if missing and "
                  "the resource identity lacks SystemAssigned:",
                  "Register-AzStackHCI -TenantId $TenantId -SubscriptionId $SubscriptionId -ComputerName $AnyNode "
                  "-RepairRegistration  # [A-ps], [S-cm]"]
    if "readiness.validate" in kinds:
        lines.append("Get-AzConnectedMachine -ResourceGroupName $ResourceGroup -Name $Node  # every node: "
                     "Status Connected [A-val], [A-arm]")
    return lines


@operator_text("registration.repair",
               verify="the Cloud Management cluster group is present (it was, or it came back after the repair)",
               backout="none needed: a repair re-registers the same resource [A-ps]")
def _registration_repair(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [
        f"Get-ClusterGroup -Cluster {cluster} | Where-Object Name -eq 'Cloud Management'  # present: nothing to do",
        "$uri = (Invoke-Command -ComputerName $AnyNode { Get-AzureStackHCI }).AzureResourceUri",
        "(Get-AzResource -ResourceId $uri -ExpandProperties).Identity.Type  # SystemAssigned: nothing to do",
        "# only when both hold [A-ps]:",
        "Register-AzStackHCI -TenantId $TenantId -SubscriptionId $SubscriptionId -ComputerName $AnyNode -RepairRegistration",
        f"Get-ClusterGroup -Cluster {cluster} | Where-Object Name -eq 'Cloud Management'  # back within about 15 min [S-cm]"]


@operator_text("gate.test_cluster",
               verify="the validation report has no failure")
def _gate_test_cluster(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Test-Cluster -Cluster {cluster}"]


@operator_text("post.validate",
               verify="the validation report has no failure (the live-migration test is the next step)")
def _post_validate(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Test-Cluster -Cluster {cluster}"]


@operator_text("aks.remove",
               verify="`Get-Module -ListAvailable AksHci` returns nothing on every node",
               backout="none: AKS Arc is gone once removed (back up what runs on it first)")
def _aks_remove(plan: Plan, step: Step) -> list[str]:
    model = plan.model
    return ["# on one node's console (it reaches every node; through remoting that needs CredSSP):",
            "Uninstall-AksHci" + ("; Uninstall-Moc" if model.cluster.aks.preview else ""),
            "# then on every node:", "Uninstall-Module -Name AksHci -AllVersions -Force"]


register_text("bitlocker.suspend", ["Suspend-BitLocker -MountPoint 'C:' -RebootCount 0"],
              verify="`Get-BitLockerVolume -MountPoint C:` shows ProtectionStatus Off",
              backout="`Resume-BitLocker -MountPoint C:`")


register_text("bitlocker.resume", ["Resume-BitLocker -MountPoint 'C:'"],
              verify="`Get-BitLockerVolume -MountPoint C:` shows ProtectionStatus On")


register_text("registry.apply",
              [f"Set-ItemProperty -Path {literal(REFS_KEY)} -Name {literal(REFS_VALUE)} -Value 0 -Type DWord",
               f"New-Item -Path {literal(VID_KEY)}  # 'already exists' is fine; no -Force",
               f"Set-ItemProperty -Path {literal(VID_KEY)} -Name {literal(VID_VALUE)} -Value 0 -Type DWord"],
              verify="both values read 0",
              backout="keep the values: they are the documented target state for every method")


@operator_text("node.drain",
               verify="the node is Paused and hosts no online role",
               backout="`Resume-ClusterNode -Name <node> -Failback Immediate`")
def _node_drain(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Suspend-ClusterNode -Name {_N} -Cluster {cluster} -Drain -Wait",
            f"Get-ClusterGroup -Cluster {cluster} | Where-Object OwnerNode -eq {_N}  # nothing online"]


@operator_text("node.reboot",
               verify="the node answers PowerShell remoting again and shows Paused in `Get-ClusterNode`",
               backout="none needed; if the node does not come back, work from its BMC console")
def _node_reboot(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Restart-Computer -ComputerName {_N} -Protocol WSMan -Force -Wait -For PowerShell",
            f"Get-ClusterNode -Name {_N} -Cluster {cluster}  # until it shows Paused: it rejoined"]


@operator_text("os.restart",
               verify=f"setup's windeploy has ended, the node shows Paused in `Get-ClusterNode` and runs build {TARGET_BUILD} (not a later one)",
               backout="if the node does not come back, work from its BMC console; once on 23H2 it stays so, and the cluster runs in mixed mode, reversible until the functional level is raised [W-rolling]")
def _os_restart(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Restart-Computer -ComputerName {_N} -Protocol WSMan -Force -Wait -For PowerShell",
            f"Invoke-Command -ComputerName {_N} {{ Get-CimInstance -ClassName Win32_Process -Filter \"Name = 'windeploy.exe' OR Name = 'SetupHost.exe'\" }}  # until none is left",
            f"Get-ClusterNode -Name {_N} -Cluster {cluster}  # until it shows Paused: it rejoined",
            f"Invoke-Command -ComputerName {_N} {{ [System.Environment]::OSVersion.Version.Build }}  # {TARGET_BUILD}"]


@operator_text("node.resume",
               verify="the node is Up and its roles are back")
def _node_resume(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Resume-ClusterNode -Name {_N} -Cluster {cluster} -Failback Immediate"]


@operator_text("storage.wait",
               verify="no storage job is left and every virtual disk is Healthy")
def _storage_wait(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Get-StorageJob -CimSession {cluster}  # until none is left",
            f"Get-VirtualDisk -CimSession {cluster}  # all Healthy"]


@operator_text("media.verify",
               verify="setup.exe exists at the same path on every node")
def _media_verify(plan: Plan, step: Step) -> list[str]:
    upgrade = plan.model.upgrade
    return [f"Test-Path -LiteralPath (Join-Path {literal(upgrade.media_path or '')} 'setup.exe')"]


@operator_text("cau.prepare",
               verify="Test-CauSetup reports no error (Get-BpaResult Microsoft/Windows/ClusterAwareUpdating)")
def _cau_prepare(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return ["Set-WSManQuickConfig; Enable-PSRemoting  # on every node", f"Test-CauSetup -ClusterName {cluster}"]


@operator_text("cau.scan",
               verify="every node is offered the same feature update",
               backout="nothing changed yet")
def _cau_scan(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    cau_args = plugin_arguments_literal(plan.model.upgrade)  # what the script passes
    return [f"Invoke-CauScan -ClusterName {cluster} -CauPluginName {ROLLING_UPGRADE_PLUGIN} "
            f"-CauPluginArguments {cau_args} -Verbose | Format-List *"]


@operator_text("os.setup",
               verify="setup finished on the node",
               backout="until the functional level is raised the cluster may stay in mixed mode; stop here and plan the rest [W-rolling]")
def _os_setup(plan: Plan, step: Step) -> list[str]:
    upgrade = plan.model.upgrade
    if upgrade.source != "media":
        return ["# on the node's console: SConfig, option 6 (Install updates), then 3 (Feature updates)"]
    return [f"Invoke-Command -ComputerName {_N} {{ Start-Process -FilePath (Join-Path {literal(upgrade.media_path or '')} "
            "'setup.exe') -ArgumentList '/auto upgrade /EULA accept /DynamicUpdate disable /NoReboot' -Wait }"]


@operator_text("offline.stop",
               verify="the cluster is stopped and ClusSvc is Disabled on every node",
               backout="on every node `Set-Service ClusSvc -StartupType Automatic; Start-Service ClusSvc`, then CSVs online, start the VMs")
def _offline_stop(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return ["Get-VM | Where-Object State -eq 'Running'  # on every node: note them, they start again at the end",
            "Get-VM | Where-Object State -eq 'Running' | Stop-VM -Force  # on every node: a guest shutdown",
            f"Get-ClusterGroup -Cluster {cluster} | Where-Object GroupType -eq 'VirtualMachine'  # all Offline",
            f"Get-ClusterSharedVolume -Cluster {cluster} | Stop-ClusterResource",
            f"Stop-Cluster -Cluster {cluster} -Force",
            "Set-Service -Name ClusSvc -StartupType Disabled  # on every node"]


@operator_text("offline.setup",
               verify="setup finished on every node",
               backout="before the restarts: abandon setup and restart the cluster as for offline.stop")
def _offline_setup(plan: Plan, step: Step) -> list[str]:
    upgrade = plan.model.upgrade
    if upgrade.source != "media":
        return ["# on every node's console: SConfig, 6 then 3"]
    return ["Start-Process -FilePath (Join-Path " + literal(upgrade.media_path or '') +
            " 'setup.exe') -ArgumentList '/auto upgrade /EULA accept /DynamicUpdate disable /NoReboot' -Wait  # on every node"]


@operator_text("offline.reboot",
               verify=f"every node reports build {TARGET_BUILD} or later")
def _offline_reboot(plan: Plan, step: Step) -> list[str]:
    model = plan.model
    return [f"Restart-Computer -ComputerName {literal_list([n.name for n in model.cluster.nodes])} -Force -Wait -For PowerShell"]


@operator_text("offline.start",
               verify="the cluster is up, no storage job is left, every virtual disk is Healthy and every CSV online")
def _offline_start(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return ["Set-Service -Name ClusSvc -StartupType Automatic; Start-Service -Name ClusSvc  # on every node, locally "
            "(Start-Cluster from the orchestrator needs CredSSP)",
            f"Get-ClusterNode -Cluster {cluster}  # every node Up (retry while the cluster name comes up)",
            f"Get-StoragePool -CimSession {cluster} -IsPrimordial $false  # Healthy (retry while the cluster name comes up)",
            f"Get-StorageJob -CimSession {cluster}  # wait until none is left",
            f"Get-ClusterSharedVolume -Cluster {cluster} | Start-ClusterResource",
            f"Get-VirtualDisk -CimSession {cluster}  # all Healthy",
            "Start-ClusterGroup  # the VM roles that were running before offline.stop"]


@operator_text("post.migration_test",
               verify="the VM ran on every node and is back home; no cluster network is Partitioned",
               backout="a failed migration leaves the VM where it runs; do not raise the functional level until "
                      "live migration works (the cluster can still go back) [A-post]")
def _post_migration_test(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [
        "# on a node's console or in Invoke-Command on a node (remotely the cmdlet needs CredSSP):",
        f"Get-ClusterGroup -Cluster {cluster} | Where-Object {{ $_.GroupType -eq 'VirtualMachine' -and $_.State -eq 'Online' }}",
        "Move-ClusterVirtualMachineRole -Name $Vm -Node $Node -MigrationType Live  # to every node, then back",
        f"Get-ClusterNetwork -Cluster {cluster}  # none Partitioned [S-part]"]


@operator_text("post.oem_drivers",
               verify="the vendor's tool reports its driver versions on every node; every node Up, storage Healthy",
               backout="reinstall the previous driver package with the vendor's tool")
def _post_oem_drivers(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return ["# the vendor's driver package or tool, one node at a time:",
            f"Suspend-ClusterNode -Name {_N} -Cluster {cluster} -Drain -Wait",
            "# install the OEM drivers; restart if the vendor asks",
            f"Resume-ClusterNode -Name {_N} -Cluster {cluster} -Failback Immediate",
            f"Get-StorageJob -CimSession {cluster}  # none left before the next node"]


register_text("post.registry_check", [f"Get-ItemProperty -Path {literal(REFS_KEY)} -Name {REFS_VALUE}",
                                      f"Get-ItemProperty -Path {literal(VID_KEY)} -Name {VID_VALUE}"],
              verify="both values still read 0 on every node; if not, re-apply and reboot that node")


@operator_text("post.functional_level",
               verify="ClusterFunctionalLevel increased",
               backout="none: point of no return")
def _post_functional_level(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"(Get-Cluster -Name {cluster}).ClusterFunctionalLevel",
            f"Update-ClusterFunctionalLevel -Cluster {cluster}"]


@operator_text("post.storage_pool",
               verify="Update-StoragePool completed without error",
               backout="none: one-way")
def _post_storage_pool(plan: Plan, step: Step) -> list[str]:
    model = plan.model
    return [f"Update-StoragePool -FriendlyName {literal(model.cluster.pool.name) if model.cluster.pool else '$PoolName'}"]


register_text("post.vm_version", ["Stop-VM -Name $Vm; Update-VMVersion -Name $Vm; Start-VM -Name $Vm  # per VM"],
              verify="every VM runs the host's default configuration version",
              backout="none: a VM's configuration version cannot be lowered")


register_text("post.sync", ["Sync-AzureStackHCI"],
              verify="the Azure portal shows 23H2")


register_text("atc.install", ["Install-WindowsFeature -Name NetworkATC, FS-SMBBW  # on every node",
                              "Set-Service -Name NetworkATC -StartupType Disabled; Stop-Service -Name NetworkATC  # nodes not drained"],
              verify="both features installed; the NetworkATC service Disabled on the nodes not yet configured")


@operator_text("atc.configure",
               verify="Get-NetIntentStatus shows Success for the node; after a later node, every vSwitch keeps its Network ATC name and every VM NIC is connected",
               backout="before Add-NetIntent: restore the node's previous networking from its BMC console")
def _atc_configure(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    if step.node != plan.model.ordered_nodes()[0].name:
        return ["# BMC console of the drained node: remove NetQos policies and LBFO, keep the SET vSwitch (it already",
                "# has its Network ATC name), convert VLANs to VMNetworkAdapterIsolation, rename the vNICs, start NetworkATC;",
                "# no Add-NetIntent and no Rename-VMSwitch here: the intent is cluster-wide since the first node",
                f"Get-NetIntentStatus -ClusterName {cluster}  # Success for this node"]
    return ["# BMC console of the drained FIRST node: remove NetQos policies and LBFO, keep the SET vSwitch,",
            "# convert VLANs to VMNetworkAdapterIsolation, rename the vNICs, start NetworkATC",
            "Rename-VMSwitch -Name $OldSwitchName -NewName $AtcSwitchName",
            "Add-NetIntent ...  # your intent definition, once: the intent is cluster-wide",
            f"Get-NetIntentStatus -ClusterName {cluster}  # Success for this node",
            "# then on every remaining node: the same vSwitch name, and every VM NIC reconnected",
            "Rename-VMSwitch -Name $OldSwitchName -NewName $AtcSwitchName",
            "Get-VM | Get-VMNetworkAdapter | Connect-VMNetworkAdapter -SwitchName $AtcSwitchName",
            "# each later node, drained in turn: the same cleanup, rename the vNICs, start NetworkATC, wait for",
            "# Success; no Rename-VMSwitch and no Add-NetIntent there (the intent is cluster-wide)"]


register_text("atc.rename_switch", ["# on every node after the first: the vSwitch gets the Network ATC name, every VM NIC is reconnected",
                                    "Rename-VMSwitch -Name $OldSwitchName -NewName $AtcSwitchName",
                                    "Get-VM | Get-VMNetworkAdapter | Connect-VMNetworkAdapter -SwitchName $AtcSwitchName",
                                    "Get-VMSwitch -SwitchType External  # the same names on every node",
                                    "Get-VM | Get-VMNetworkAdapter | Where-Object { -not $_.SwitchName }  # none left"],
              verify="every node has the first node's external vSwitch names and no VM network adapter is disconnected or on another vSwitch",
              backout="rename the vSwitch back on the nodes not yet configured and reconnect their VM NICs to it")


@operator_text("atc.verify",
               verify="every intent shows Success")
def _atc_verify(plan: Plan, step: Step) -> list[str]:
    cluster = _cluster(plan)
    return [f"Get-NetIntentStatus -ClusterName {cluster}"]


register_text("remediate.apply", ["Install-WindowsFeature -Name $Role -IncludeAllSubFeature -IncludeManagementTools  # the 11 roles [A-val]",
                                  "Enable-WindowsOptionalFeature -FeatureName $Feature -All -Online  # the optional features [A-val]"],
              verify="the roles and features are installed")


@operator_text("thin.convert",
               verify="`(Get-VirtualDisk -FriendlyName <volume>).ProvisioningType` is Thin and the pool has more free space",
               backout="`Set-VirtualDisk -ProvisioningType Fixed` needs the space back; plan it as one-way")
def _thin_convert(plan: Plan, step: Step) -> list[str]:
    return [f"Set-VirtualDisk -FriendlyName {literal(step.target or '')} -ProvisioningType Thin",
            "Get-ClusterSharedVolume -Name " + literal(f"Cluster Virtual Disk ({step.target or ''})") + " | Stop-ClusterResource",
            "Get-ClusterSharedVolume -Name " + literal(f"Cluster Virtual Disk ({step.target or ''})") + " | Start-ClusterResource"]


register_text("lcm.extension", ["Get-AzConnectedMachineExtension -ResourceGroupName $ResourceGroup -MachineName $Node -Name AzureEdgeLifecycleManager",
                                "# missing: install it",
                                "New-AzConnectedMachineExtension -Name AzureEdgeLifecycleManager -ResourceGroupName $ResourceGroup "
                                "-MachineName $Node -Location $Region -Publisher Microsoft.AzureStack.Orchestration -ExtensionType LcmController",
                                "# present: update it when a newer version is offered (compare with its TypeHandlerVersion)",
                                "Get-AzConnectedExtensionMetadata -Location $Region -Publisher Microsoft.AzureStack.Orchestration -ExtensionType LcmController",
                                "Update-AzConnectedExtension -ResourceGroupName $ResourceGroup -MachineName $Node "
                                "-ExtensionTarget @{ 'Microsoft.AzureStack.Orchestration.LcmController' = @{ targetVersion = $Latest } }",
                                "# then wait until ProvisioningState is Succeeded: LCM initialisation takes about 15-20 min [S-lcm]"],
              verify="the AzureEdgeLifecycleManager extension is Succeeded on the node, at the newest version "
                     "offered, and has finished initialising")


@operator_text("ad.prepare",
               verify="the OU and its objects exist")
def _ad_prepare(plan: Plan, step: Step) -> list[str]:
    upgrade = plan.model.upgrade
    return ["New-HciAdObjectsPreCreation -AzureStackLCMUserCredential (Get-Credential "
            f"{literal(upgrade.solution.deployment_user) if upgrade.solution else ''}) -AsHciOUName "
            f"{literal(upgrade.solution.adou_path) if upgrade.solution and upgrade.solution.adou_path else ''}"]


register_text("readiness.validate", ["Install-Module -Name AzStackHci.EnvironmentChecker -AllowClobber",
                                     "Invoke-AzStackHciUpgradeValidation -PassThru | Where-Object Status -eq 'FAILURE'"],
              verify="no test fails (Status FAILURE), whatever its Severity, except the documented TPM property "
                     "warnings [A-val], which are listed to fix after the upgrade")


register_text("solution.validate", [f"$UpgradeClusterTemplate = {literal(TEMPLATE_URI)}  # pinned: the reviewed commit [Q-tpl]",
                                    "New-AzResourceGroupDeployment -ResourceGroupName $ResourceGroup -TemplateUri $UpgradeClusterTemplate "
                                    "-TemplateParameterFile $ParameterFile -deploymentMode Validate"],
              verify="the Validate deployment Succeeded")


register_text("solution.deploy", [f"$UpgradeClusterTemplate = {literal(TEMPLATE_URI)}  # pinned: the reviewed commit [Q-tpl]",
                                  "New-AzResourceGroupDeployment -ResourceGroupName $ResourceGroup -TemplateUri $UpgradeClusterTemplate "
                                  "-TemplateParameterFile $ParameterFile -deploymentMode Deploy"],
              verify="the Deploy deployment Succeeded (Get-AzResourceGroupDeployment ProvisioningState) and the "
                     "cluster's deploymentSettings resource reports provisioningState Succeeded (Get-AzResource "
                     "-ExpandProperties); Get-StampInformation then returns the solution version",
              backout="none: retry or resume the failed operation from Azure [A-inst]")


register_text("wdac.reapply", ["# re-apply the 23H2 WDAC policies per the Azure Local 23H2 documentation"],
              verify="the new policies are enforced on every node")


register_text("after.configure", ["# per the solution-upgrade article [A-inst]: the security posture (security settings),",
                                  "# the storage paths for Azure Local VM images and disks, the CAU Active Directory permissions"],
              verify="the security settings, storage paths and CAU permissions are in place",
              backout="nothing to undo: each setting is changed forward, in the portal or AD, as the article describes")


@operator_text("after.verify",
               verify="one Arc machine per node, the Azure Local resource, *-arcbridge, *-cl and the key vault exist")
def _after_verify(plan: Plan, step: Step) -> list[str]:
    upgrade = plan.model.upgrade
    return ["Sync-AzureStackHCI", "Get-AzureStackHCI"] + ([] if upgrade.solution is None else [
            "(Get-AzResourceGroupDeployment -ResourceGroupName $ResourceGroup -Name hciplan-upgrade-deploy).ProvisioningState  # Succeeded",
            "(Get-AzResource -ResourceGroupName $ResourceGroup -ResourceType Microsoft.AzureStackHCI/clusters/deploymentSettings "
            "-ExpandProperties).Properties.provisioningState  # Succeeded"])


# One Invoke-CauRun performs these (the runbook's CAU run section); each shows only its kind.
for _kind in ("cau.drain", "cau.install", "cau.reboot", "cau.resume", "cau.storage_wait", "cau.functional_level"):
    register_text(_kind, [f"# {_kind}"])
