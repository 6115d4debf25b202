"""The runbook backend: a Markdown change-board document for the upgrade, for every method including WAC.

Sections: the summary (cluster, method, windows, expected duration, and the
simulated P50/P90 and chance to finish in the window when a simulation's
summary, a `SimResult`, is given), risks and the point of no return, what to prepare, then per phase a
checklist: each step (per-node passes folded into one checklist per pass)
with the commands an operator would run, its expected duration, how to verify
it and how to back out while that is still possible. The commands are the
same operations the PowerShell backend scripts; for `method = wac` the OS
upgrade is the Windows Admin Center procedure [A-wac].

Every value from the `.hciplan` file is shown through `pstext` (code spans,
fenced blocks, PowerShell literals), so names cannot break the Markdown.
Output is deterministic: no timestamps; the plan fingerprint identifies it.
"""

from __future__ import annotations

from typing import Iterable

from hciplan import __version__
from hciplan.backends.azurelocal import (REFS_KEY, REFS_VALUE, ROLLING_UPGRADE_PLUGIN, TARGET_BUILD, TEMPLATE_URI, VID_KEY, VID_VALUE,
                                         plugin_arguments_literal)
from hciplan.backends.pstext import literal, literal_list, md_block, md_code, md_text
from hciplan.backends.summary import format_time
from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.catalog import PHASES
from hciplan.compiler.diagnostics import Diagnostic, Severity
from hciplan.compiler.plan import Plan, Step
from hciplan.compiler.quantities import format_minutes
from hciplan.simulator.result import SimResult

NAME = "runbook"
FILE_NAME = "RUNBOOK.md"


# --- what each step kind means to an operator -----------------------------------------------------

_N = "$Node"  # in per-node commands the runbook shows a variable; the checklist lists the nodes


def _commands(plan: Plan, step: Step) -> str:
    """PowerShell an operator runs for a step (values quoted exactly as the script quotes them)."""
    model, upgrade = plan.model, plan.model.upgrade
    cluster = literal(model.cluster.name)
    kind = step.kind
    cau_args = plugin_arguments_literal(upgrade)  # what the script passes
    table = {
        "gate.preflight": [f"Get-ClusterNode -Cluster {cluster}", f"Get-VirtualDisk -CimSession {cluster}",
                           f"Get-StorageJob -CimSession {cluster}",
                           "Invoke-Command -ComputerName $AnyNode { Get-StampInformation }  # must return nothing",
                           "Invoke-Command -ComputerName $AnyNode { Get-AzureStackHCI }  # Registered, Connected"],
        "registration.repair": [
            f"Get-ClusterGroup -Cluster {cluster} | Where-Object Name -eq 'Cloud Management'  # present: nothing to do",
            "$uri = (Invoke-Command -ComputerName $AnyNode { Get-AzureStackHCI }).AzureResourceUri",
            "(Get-AzResource -ResourceId $uri -ExpandProperties).Identity.Type  # SystemAssigned: nothing to do",
            "# only when both hold [A-ps]:",
            "Register-AzStackHCI -TenantId $TenantId -SubscriptionId $SubscriptionId -ComputerName $AnyNode -RepairRegistration",
            f"Get-ClusterGroup -Cluster {cluster} | Where-Object Name -eq 'Cloud Management'  # back within about 15 min [S-cm]"],
        "gate.test_cluster": [f"Test-Cluster -Cluster {cluster}"],
        "post.validate": [f"Test-Cluster -Cluster {cluster}"],
        "aks.remove": ["# on one node's console (it reaches every node; through remoting that needs CredSSP):",
                       "Uninstall-AksHci" + ("; Uninstall-Moc" if model.cluster.aks.preview else ""),
                       "# then on every node:", "Uninstall-Module -Name AksHci -AllVersions -Force"],
        "bitlocker.suspend": ["Suspend-BitLocker -MountPoint 'C:' -RebootCount 0"],
        "bitlocker.resume": ["Resume-BitLocker -MountPoint 'C:'"],
        "registry.apply": [
            f"Set-ItemProperty -Path {literal(REFS_KEY)} -Name {literal(REFS_VALUE)} -Value 0 -Type DWord",
            f"New-Item -Path {literal(VID_KEY)}  # 'already exists' is fine; no -Force",
            f"Set-ItemProperty -Path {literal(VID_KEY)} -Name {literal(VID_VALUE)} -Value 0 -Type DWord"],
        "node.drain": [f"Suspend-ClusterNode -Name {_N} -Cluster {cluster} -Drain -Wait",
                       f"Get-ClusterGroup -Cluster {cluster} | Where-Object OwnerNode -eq {_N}  # nothing online"],
        "node.reboot": [f"Restart-Computer -ComputerName {_N} -Protocol WSMan -Force -Wait -For PowerShell",
                        f"Get-ClusterNode -Name {_N} -Cluster {cluster}  # until it shows Paused: it rejoined"],
        "os.restart": [f"Restart-Computer -ComputerName {_N} -Protocol WSMan -Force -Wait -For PowerShell",
                       f"Invoke-Command -ComputerName {_N} {{ Get-CimInstance -ClassName Win32_Process -Filter \"Name = 'windeploy.exe' OR Name = 'SetupHost.exe'\" }}  # until none is left",
                       f"Get-ClusterNode -Name {_N} -Cluster {cluster}  # until it shows Paused: it rejoined",
                       f"Invoke-Command -ComputerName {_N} {{ [System.Environment]::OSVersion.Version.Build }}  # {TARGET_BUILD}"],
        "node.resume": [f"Resume-ClusterNode -Name {_N} -Cluster {cluster} -Failback Immediate"],
        "storage.wait": [f"Get-StorageJob -CimSession {cluster}  # until none is left",
                         f"Get-VirtualDisk -CimSession {cluster}  # all Healthy"],
        "media.verify": [f"Test-Path -LiteralPath (Join-Path {literal(upgrade.media_path or '')} 'setup.exe')"],
        "cau.prepare": ["Set-WSManQuickConfig; Enable-PSRemoting  # on every node", f"Test-CauSetup -ClusterName {cluster}"],
        "cau.scan": [f"Invoke-CauScan -ClusterName {cluster} -CauPluginName {ROLLING_UPGRADE_PLUGIN} "
                     f"-CauPluginArguments {cau_args} -Verbose | Format-List *"],
        "os.setup": ([f"Invoke-Command -ComputerName {_N} {{ Start-Process -FilePath (Join-Path {literal(upgrade.media_path or '')} "
                      "'setup.exe') -ArgumentList '/auto upgrade /EULA accept /DynamicUpdate disable /NoReboot' -Wait }"]
                     if upgrade.source == "media" else ["# on the node's console: SConfig, option 6 (Install updates), then 3 (Feature updates)"]),
        "offline.stop": ["Get-VM | Where-Object State -eq 'Running'  # on every node: note them, they start again at the end",
                         "Get-VM | Where-Object State -eq 'Running' | Stop-VM -Force  # on every node: a guest shutdown",
                         f"Get-ClusterGroup -Cluster {cluster} | Where-Object GroupType -eq 'VirtualMachine'  # all Offline",
                         f"Get-ClusterSharedVolume -Cluster {cluster} | Stop-ClusterResource",
                         f"Stop-Cluster -Cluster {cluster} -Force",
                         "Set-Service -Name ClusSvc -StartupType Disabled  # on every node"],
        "offline.setup": (["Start-Process -FilePath (Join-Path " + literal(upgrade.media_path or '') +
                           " 'setup.exe') -ArgumentList '/auto upgrade /EULA accept /DynamicUpdate disable /NoReboot' -Wait  # on every node"]
                          if upgrade.source == "media" else ["# on every node's console: SConfig, 6 then 3"]),
        "offline.reboot": [f"Restart-Computer -ComputerName {literal_list([n.name for n in model.cluster.nodes])} -Force -Wait -For PowerShell"],
        "offline.start": ["Set-Service -Name ClusSvc -StartupType Automatic; Start-Service -Name ClusSvc  # on every node, locally "
                          "(Start-Cluster from the orchestrator needs CredSSP)",
                          f"Get-ClusterNode -Cluster {cluster}  # every node Up (retry while the cluster name comes up)",
                          f"Get-StoragePool -CimSession {cluster} -IsPrimordial $false  # Healthy (retry while the cluster name comes up)",
                          f"Get-StorageJob -CimSession {cluster}  # wait until none is left",
                          f"Get-ClusterSharedVolume -Cluster {cluster} | Start-ClusterResource",
                          f"Get-VirtualDisk -CimSession {cluster}  # all Healthy",
                          "Start-ClusterGroup  # the VM roles that were running before offline.stop"],
        "post.migration_test": [
            "# on a node's console or in Invoke-Command on a node (remotely the cmdlet needs CredSSP):",
            f"Get-ClusterGroup -Cluster {cluster} | Where-Object {{ $_.GroupType -eq 'VirtualMachine' -and $_.State -eq 'Online' }}",
            "Move-ClusterVirtualMachineRole -Name $Vm -Node $Node -MigrationType Live  # to every node, then back",
            f"Get-ClusterNetwork -Cluster {cluster}  # none Partitioned [S-part]"],
        "post.oem_drivers": ["# the vendor's driver package or tool, one node at a time:",
                             f"Suspend-ClusterNode -Name {_N} -Cluster {cluster} -Drain -Wait",
                             "# install the OEM drivers; restart if the vendor asks",
                             f"Resume-ClusterNode -Name {_N} -Cluster {cluster} -Failback Immediate",
                             f"Get-StorageJob -CimSession {cluster}  # none left before the next node"],
        "post.registry_check": [f"Get-ItemProperty -Path {literal(REFS_KEY)} -Name {REFS_VALUE}",
                                f"Get-ItemProperty -Path {literal(VID_KEY)} -Name {VID_VALUE}"],
        "post.functional_level": [f"(Get-Cluster -Name {cluster}).ClusterFunctionalLevel",
                                  f"Update-ClusterFunctionalLevel -Cluster {cluster}"],
        "post.storage_pool": [f"Update-StoragePool -FriendlyName {literal(model.cluster.pool.name) if model.cluster.pool else '$PoolName'}"],
        "post.vm_version": ["Stop-VM -Name $Vm; Update-VMVersion -Name $Vm; Start-VM -Name $Vm  # per VM"],
        "post.sync": ["Sync-AzureStackHCI"],
        "atc.install": ["Install-WindowsFeature -Name NetworkATC, FS-SMBBW  # on every node",
                        "Set-Service -Name NetworkATC -StartupType Disabled; Stop-Service -Name NetworkATC  # nodes not drained"],
        "atc.configure": (["# BMC console of the drained FIRST node: remove NetQos policies and LBFO, keep the SET vSwitch,",
                           "# convert VLANs to VMNetworkAdapterIsolation, rename the vNICs, start NetworkATC",
                           "Rename-VMSwitch -Name $OldSwitchName -NewName $AtcSwitchName",
                           "Add-NetIntent ...  # your intent definition, once: the intent is cluster-wide",
                           f"Get-NetIntentStatus -ClusterName {cluster}  # Success for this node",
                           "# then on every remaining node: the same vSwitch name, and every VM NIC reconnected",
                           "Rename-VMSwitch -Name $OldSwitchName -NewName $AtcSwitchName",
                           "Get-VM | Get-VMNetworkAdapter | Connect-VMNetworkAdapter -SwitchName $AtcSwitchName",
                           "# each later node, drained in turn: the same cleanup, rename the vNICs, start NetworkATC, wait for",
                           "# Success; no Rename-VMSwitch and no Add-NetIntent there (the intent is cluster-wide)"]
                          if step.node == model.ordered_nodes()[0].name else
                          ["# BMC console of the drained node: remove NetQos policies and LBFO, keep the SET vSwitch (it already",
                           "# has its Network ATC name), convert VLANs to VMNetworkAdapterIsolation, rename the vNICs, start NetworkATC;",
                           "# no Add-NetIntent and no Rename-VMSwitch here: the intent is cluster-wide since the first node",
                           f"Get-NetIntentStatus -ClusterName {cluster}  # Success for this node"]),
        "atc.rename_switch": ["# on every node after the first: the vSwitch gets the Network ATC name, every VM NIC is reconnected",
                              "Rename-VMSwitch -Name $OldSwitchName -NewName $AtcSwitchName",
                              "Get-VM | Get-VMNetworkAdapter | Connect-VMNetworkAdapter -SwitchName $AtcSwitchName",
                              "Get-VMSwitch -SwitchType External  # the same names on every node",
                              "Get-VM | Get-VMNetworkAdapter | Where-Object { -not $_.SwitchName }  # none left"],
        "atc.verify": [f"Get-NetIntentStatus -ClusterName {cluster}"],
        "remediate.apply": ["Install-WindowsFeature -Name $Role -IncludeAllSubFeature -IncludeManagementTools  # the 11 roles [A-val]",
                            "Enable-WindowsOptionalFeature -FeatureName $Feature -All -Online  # the optional features [A-val]"],
        "thin.convert": [f"Set-VirtualDisk -FriendlyName {literal(step.target or '')} -ProvisioningType Thin",
                         "Get-ClusterSharedVolume -Name " + literal(f"Cluster Virtual Disk ({step.target or ''})") + " | Stop-ClusterResource",
                         "Get-ClusterSharedVolume -Name " + literal(f"Cluster Virtual Disk ({step.target or ''})") + " | Start-ClusterResource"],
        "lcm.extension": ["Get-AzConnectedMachineExtension -ResourceGroupName $ResourceGroup -MachineName $Node -Name AzureEdgeLifecycleManager",
                          "# missing: install it",
                          "New-AzConnectedMachineExtension -Name AzureEdgeLifecycleManager -ResourceGroupName $ResourceGroup "
                          "-MachineName $Node -Location $Region -Publisher Microsoft.AzureStack.Orchestration -ExtensionType LcmController",
                          "# present: update it when a newer version is offered (compare with its TypeHandlerVersion)",
                          "Get-AzConnectedExtensionMetadata -Location $Region -Publisher Microsoft.AzureStack.Orchestration -ExtensionType LcmController",
                          "Update-AzConnectedExtension -ResourceGroupName $ResourceGroup -MachineName $Node "
                          "-ExtensionTarget @{ 'Microsoft.AzureStack.Orchestration.LcmController' = @{ targetVersion = $Latest } }",
                          "# then wait until ProvisioningState is Succeeded: LCM initialisation takes about 15-20 min [S-lcm]"],
        "ad.prepare": ["New-HciAdObjectsPreCreation -AzureStackLCMUserCredential (Get-Credential "
                       f"{literal(upgrade.solution.deployment_user) if upgrade.solution else ''}) -AsHciOUName "
                       f"{literal(upgrade.solution.adou_path) if upgrade.solution and upgrade.solution.adou_path else ''}"],
        "readiness.validate": ["Install-Module -Name AzStackHci.EnvironmentChecker -AllowClobber",
                               "Invoke-AzStackHciUpgradeValidation -PassThru | Where-Object Status -eq 'FAILURE'"],
        "solution.validate": [f"$UpgradeClusterTemplate = {literal(TEMPLATE_URI)}  # pinned: the reviewed commit [Q-tpl]",
                              "New-AzResourceGroupDeployment -ResourceGroupName $ResourceGroup -TemplateUri $UpgradeClusterTemplate "
                              "-TemplateParameterFile $ParameterFile -deploymentMode Validate"],
        "solution.deploy": [f"$UpgradeClusterTemplate = {literal(TEMPLATE_URI)}  # pinned: the reviewed commit [Q-tpl]",
                            "New-AzResourceGroupDeployment -ResourceGroupName $ResourceGroup -TemplateUri $UpgradeClusterTemplate "
                            "-TemplateParameterFile $ParameterFile -deploymentMode Deploy"],
        "wdac.reapply": ["# re-apply the 23H2 WDAC policies per the Azure Local 23H2 documentation"],
        "after.configure": ["# per the solution-upgrade article [A-inst]: the security posture (security settings),",
                            "# the storage paths for Azure Local VM images and disks, the CAU Active Directory permissions"],
        "after.verify": ["Sync-AzureStackHCI", "Get-AzureStackHCI"] + ([] if upgrade.solution is None else [
                         "(Get-AzResourceGroupDeployment -ResourceGroupName $ResourceGroup -Name hciplan-upgrade-deploy).ProvisioningState  # Succeeded",
                         "(Get-AzResource -ResourceGroupName $ResourceGroup -ResourceType Microsoft.AzureStackHCI/clusters/deploymentSettings "
                         "-ExpandProperties).Properties.provisioningState  # Succeeded"]),
    }
    if kind == "gate.preflight":
        kinds = {s.kind for s in plan.steps}
        if upgrade.method == "cau":
            table[kind].insert(0, "(Get-CimInstance -ClassName Win32_OperatingSystem).BuildNumber  # on the orchestrator: "
                                  "20348 (Windows Server 2022), outside the cluster [A-ps], [W-invoke]")
        if "registration.repair" not in kinds:
            table[kind] += [f"Get-ClusterGroup -Cluster {cluster} | Where-Object Name -eq 'Cloud Management'  # if missing and "
                            "the resource identity lacks SystemAssigned:",
                            "Register-AzStackHCI -TenantId $TenantId -SubscriptionId $SubscriptionId -ComputerName $AnyNode "
                            "-RepairRegistration  # [A-ps], [S-cm]"]
        if "readiness.validate" in kinds:
            table[kind].append("Get-AzConnectedMachine -ResourceGroupName $ResourceGroup -Name $Node  # every node: "
                               "Status Connected [A-val], [A-arm]")
    return "\n".join(table.get(kind, [f"# {kind}"]))


_VERIFY = {
    "gate.preflight": "every node Up, every virtual disk Healthy, no storage job, no stamp information, Registered and Connected",
    "registration.repair": "the Cloud Management cluster group is present (it was, or it came back after the repair)",
    "gate.test_cluster": "the validation report has no failure",
    "post.validate": "the validation report has no failure (the live-migration test is the next step)",
    "aks.remove": "`Get-Module -ListAvailable AksHci` returns nothing on every node",
    "bitlocker.suspend": "`Get-BitLockerVolume -MountPoint C:` shows ProtectionStatus Off",
    "bitlocker.resume": "`Get-BitLockerVolume -MountPoint C:` shows ProtectionStatus On",
    "registry.apply": "both values read 0",
    "node.drain": "the node is Paused and hosts no online role",
    "node.reboot": "the node answers PowerShell remoting again and shows Paused in `Get-ClusterNode`",
    "os.restart": f"setup's windeploy has ended, the node shows Paused in `Get-ClusterNode` and runs build {TARGET_BUILD} (not a later one)",
    "node.resume": "the node is Up and its roles are back",
    "storage.wait": "no storage job is left and every virtual disk is Healthy",
    "media.verify": "setup.exe exists at the same path on every node",
    "cau.prepare": "Test-CauSetup reports no error (Get-BpaResult Microsoft/Windows/ClusterAwareUpdating)",
    "cau.scan": "every node is offered the same feature update",
    "os.setup": "setup finished on the node",
    "offline.stop": "the cluster is stopped and ClusSvc is Disabled on every node",
    "offline.setup": "setup finished on every node",
    "offline.reboot": f"every node reports build {TARGET_BUILD} or later",
    "offline.start": "the cluster is up, no storage job is left, every virtual disk is Healthy and every CSV online",
    "post.migration_test": "the VM ran on every node and is back home; no cluster network is Partitioned",
    "post.oem_drivers": "the vendor's tool reports its driver versions on every node; every node Up, storage Healthy",
    "post.registry_check": "both values still read 0 on every node; if not, re-apply and reboot that node",
    "post.functional_level": "ClusterFunctionalLevel increased",
    "post.storage_pool": "Update-StoragePool completed without error",
    "post.vm_version": "every VM runs the host's default configuration version",
    "post.sync": "the Azure portal shows 23H2",
    "atc.install": "both features installed; the NetworkATC service Disabled on the nodes not yet configured",
    "atc.configure": "Get-NetIntentStatus shows Success for the node; after a later node, every vSwitch keeps its Network ATC name and every VM NIC is connected",
    "atc.rename_switch": "every node has the first node's external vSwitch names and no VM network adapter is disconnected or on another vSwitch",
    "atc.verify": "every intent shows Success",
    "remediate.apply": "the roles and features are installed",
    "thin.convert": "`(Get-VirtualDisk -FriendlyName <volume>).ProvisioningType` is Thin and the pool has more free space",
    "lcm.extension": ("the AzureEdgeLifecycleManager extension is Succeeded on the node, at the newest version "
                      "offered, and has finished initialising"),
    "ad.prepare": "the OU and its objects exist",
    "readiness.validate": ("no test fails (Status FAILURE), whatever its Severity, except the documented TPM property "
                           "warnings [A-val], which are listed to fix after the upgrade"),
    "solution.validate": "the Validate deployment Succeeded",
    "solution.deploy": ("the Deploy deployment Succeeded (Get-AzResourceGroupDeployment ProvisioningState) and the "
                        "cluster's deploymentSettings resource reports provisioningState Succeeded (Get-AzResource "
                        "-ExpandProperties); Get-StampInformation then returns the solution version"),
    "wdac.reapply": "the new policies are enforced on every node",
    "after.configure": "the security settings, storage paths and CAU permissions are in place",
    "after.verify": "one Arc machine per node, the Azure Local resource, *-arcbridge, *-cl and the key vault exist",
}

_BACKOUT = {
    "aks.remove": "none: AKS Arc is gone once removed (back up what runs on it first)",
    "bitlocker.suspend": "`Resume-BitLocker -MountPoint C:`",
    "registry.apply": "keep the values: they are the documented target state for every method",
    "node.drain": "`Resume-ClusterNode -Name <node> -Failback Immediate`",
    "node.reboot": "none needed; if the node does not come back, work from its BMC console",
    "os.restart": "if the node does not come back, work from its BMC console; once on 23H2 it stays so, and the cluster runs in mixed mode, reversible until the functional level is raised [W-rolling]",
    "cau.scan": "nothing changed yet",
    "os.setup": "until the functional level is raised the cluster may stay in mixed mode; stop here and plan the rest [W-rolling]",
    "offline.stop": "on every node `Set-Service ClusSvc -StartupType Automatic; Start-Service ClusSvc`, then CSVs online, start the VMs",
    "offline.setup": "before the restarts: abandon setup and restart the cluster as for offline.stop",
    "registration.repair": "none needed: a repair re-registers the same resource [A-ps]",
    "post.migration_test": "a failed migration leaves the VM where it runs; do not raise the functional level until "
                           "live migration works (the cluster can still go back) [A-post]",
    "post.oem_drivers": "reinstall the previous driver package with the vendor's tool",
    "after.configure": "nothing to undo: each setting is changed forward, in the portal or AD, as the article describes",
    "post.functional_level": "none: point of no return",
    "post.storage_pool": "none: one-way",
    "post.vm_version": "none: a VM's configuration version cannot be lowered",
    "atc.configure": "before Add-NetIntent: restore the node's previous networking from its BMC console",
    "atc.rename_switch": "rename the vSwitch back on the nodes not yet configured and reconnect their VM NICs to it",
    "thin.convert": "`Set-VirtualDisk -ProvisioningType Fixed` needs the space back; plan it as one-way",
    "solution.deploy": "none: retry or resume the failed operation from Azure [A-inst]",
}


def _title(step: Step) -> str:
    """A step's title for Markdown: the catalog text, and its target (a user's volume name) as code."""
    return md_text(step.spec.title) + (f": {md_code(step.target)}" if step.target else "")


def _backout(step: Step) -> str:
    if step.kind in _BACKOUT:
        return _BACKOUT[step.kind]
    if step.kind.startswith("cau."):
        return ("`Stop-CauRun` ends the run; upgraded nodes stay upgraded and the cluster stays in mixed mode, "
                "reversible until the functional level is raised [W-rolling]; a Locked cluster needs "
                "`Invoke-CauRun -ForceRecovery -Force`")
    if step.spec.gate or step.kind.endswith("verify") or step.kind in ("storage.wait", "node.resume", "media.verify"):
        return "nothing to undo (read-only or returns to normal)"
    return "rerun the step; it is idempotent"


# --- document --------------------------------------------------------------------------------------


def _wac_section(plan: Plan, steps: list[Step]) -> list[str]:
    upgrade = plan.model.upgrade
    nodes = list(dict.fromkeys(s.node for s in steps if s.node))
    minutes = sum(s.mean_minutes for s in steps)
    level = upgrade.functional_level == "with_cau"
    lines = [
        f"### OS upgrade in Windows Admin Center (~{format_minutes(minutes)}) [A-wac]",
        "",
        "Windows Admin Center runs CAU underneath and restarts one node at a time. It cannot be scripted: "
        "follow these steps in its GUI. Do not switch tools in the middle of the run.",
        "",
        "- [ ] Enable CredSSP for the WAC connection (turn it off again afterwards).",
        "- [ ] Turn Kernel Soft Reboot off for this run.",
        "- [ ] Cluster Manager > Updates > check for updates; choose the Azure Stack HCI 23H2 feature update "
        "(Windows Update only: WAC has no ISO option).",
        f"- [ ] Readiness checks pass; start the install. Expected node order: {', '.join(md_code(n) for n in nodes)}.",
        ("- [ ] Tick **Update the cluster functional level to enable new features** (IRREVERSIBLE at the end of the run)."
         if level else "- [ ] Leave **Update the cluster functional level** unticked: it is raised later, after validation."),
        f"- [ ] Watch progress in WAC or with `Get-CauRun -ClusterName {literal(plan.model.cluster.name)}`.",
        "",
        "Per node, CAU drains, installs, restarts, resumes and waits for storage:",
        "",
    ]
    for node in nodes:
        per = sum(s.mean_minutes for s in steps if s.node == node)
        lines.append(f"- [ ] {md_code(node)} upgraded (build {TARGET_BUILD}) and Up, storage jobs done (~{format_minutes(per)})")
    lines += ["", "- Back out: " + _backout(steps[0]), ""]
    return lines


def _step_section(plan: Plan, heading: str, steps: list[Step], nodes: list[str]) -> list[str]:
    first = steps[0]
    parallel = bool(nodes) and (not first.group or first.group == "offline")  # offline: every node at once
    if parallel:
        minutes = max(sum(s.mean_minutes for s in steps if s.node == node) for node in nodes)
    else:
        minutes = sum(s.mean_minutes for s in steps)
    marks = []
    if any(s.spec.irreversible for s in steps):
        marks.append("**IRREVERSIBLE**")
    if any(s.spec.downtime for s in steps):
        marks.append("**VM downtime**")
    if any(s.spec.interactive for s in steps):
        marks.append("operator at the console")
    lines = [f"### {heading} (~{format_minutes(minutes)}){' — ' + ', '.join(marks) if marks else ''}", ""]
    kinds = list(dict.fromkeys(s.kind for s in steps))
    if nodes:
        if first.group == "offline":
            lines.append("Every node at once, while the cluster is stopped:")
        elif first.group:
            lines.append("One node at a time, in this order; each node's pass ends with healthy storage:")
        else:
            lines.append("On each node (they are independent):")
        lines.append("")
        for node in nodes:
            per = [s for s in steps if s.node == node]
            verbs = ": " + md_text(" > ".join(s.id.rsplit(".", 1)[-1] for s in per)) if first.group else ""
            lines.append(f"- [ ] {md_code(node)}{verbs} (~{format_minutes(sum(s.mean_minutes for s in per))})")
        lines.append("")
    else:
        lines += [f"- [ ] {md_code(first.id)}: {_title(first)}", ""]
    for kind in kinds:
        step = next(s for s in steps if s.kind == kind)
        lines += [f"**{md_text(step.spec.title)}** ({md_text(step.spec.source)})", "",
                  md_block(_commands(plan, step)), "",
                  f"- Verify: {_VERIFY.get(kind, 'the step completed without error')}",
                  f"- Back out: {_backout(step)}", ""]
    return lines


def _phase_sections(plan: Plan, phase: str, steps: list[Step]) -> list[str]:
    lines = [f"## {phase} {PHASES[phase]}", ""]
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            continue
        if plan.interactive and step.group == CAU_RUN:
            run = [s for s in steps if s.group == CAU_RUN]
            seen.update(s.id for s in run)
            lines += _wac_section(plan, run)
            continue
        if step.node and step.group:  # a node pass: every step of the pass, one checklist
            members = [s for s in steps if s.group == step.group]
            heading = md_text("CAU run (one Invoke-CauRun, RollingUpgradePlugin)" if step.group == CAU_RUN
                              else f"{step.group} pass")
        elif step.node:  # the same independent step on every node
            members = [s for s in steps if s.kind == step.kind and s.node and not s.group]
            heading = _title(step)
        else:
            members = [step]
            heading = f"{md_code(step.id)}: {_title(step)}"
        seen.update(s.id for s in members)
        nodes = list(dict.fromkeys(s.node for s in members if s.node))
        lines += _step_section(plan, heading, members, nodes)
        if step.group == CAU_RUN:
            lines.insert(len(lines) - 1, "- Monitor: `Get-CauRun`; on failure `Get-CauReport -Last -Detailed`")
    return lines


def render_runbook(plan: Plan, diagnostics: Iterable[Diagnostic] = (), simulation: SimResult | None = None) -> str:
    model, upgrade = plan.model, plan.model.upgrade
    cluster = model.cluster
    minutes, _ = plan.critical_path()
    order = [n.name for n in model.ordered_nodes()]
    source = "Windows Update" if upgrade.source == "windows_update" else f"the extracted ISO at {md_code(upgrade.media_path or '')}"
    method = {"cau": "Cluster-Aware Updating with the RollingUpgradePlugin, scripted",
              "wac": "Windows Admin Center (interactive; no script)",
              "manual": "manual, node by node, scripted",
              "offline": "offline: every node at once, full outage"}[upgrade.method]
    out = [
        f"# Upgrade runbook: cluster {md_code(cluster.name)}, {md_text(cluster.version)} to {md_text(upgrade.to)}",
        "",
        f"Generated by hciplan {__version__} from plan `{plan.fingerprint}`. Do not edit: change the `.hciplan` "
        "file and emit again.",
        "",
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| Cluster | {md_code(cluster.name)}: {len(cluster.nodes)} nodes, {cluster.vm_count} VMs |",
        f"| Method | {method}, from {source} |",
        f"| Node order | {' → '.join(md_code(n) for n in order)} |",
    ]
    if upgrade.orchestrator:
        out.append(f"| Orchestrator | {md_code(upgrade.orchestrator)} (outside the cluster) |")
    for window in upgrade.windows:
        length = (window.end - window.start).total_seconds() / 60
        out.append(f"| Window {md_code(window.name)} | {format_time(window.start)} to {format_time(window.end)} "
                   f"({format_minutes(length)}) |")
    if not upgrade.windows:
        out.append("| Windows | none planned |")
    out.append(f"| Expected duration | {format_minutes(minutes)} (critical path of mean step durations) |")
    if simulation is None:
        out.append("| Simulated duration | not simulated: emit with `--simulate N` (or `--simulation FILE`) for P50/P90 |")
    else:
        durations = simulation.durations
        shown = ("no run completed" if durations.p50 is None or durations.p90 is None
                 else f"P50 {format_minutes(durations.p50)}, P90 {format_minutes(durations.p90)}")
        out.append(f"| Simulated duration | {shown} ({simulation.runs} runs"
                   + (f", seed {simulation.seed}" if simulation.seed is not None else "") + ") |")
        if simulation.p_within_window is not None:
            out.append(f"| Chance to finish in the windows | {simulation.p_within_window:.0%} |")
    out += [f"| Steps | {len(plan.steps)} in {len(plan.phases())} phases |", ""]

    irreversible = [s for s in plan.steps if s.spec.irreversible]
    downtime = [s for s in plan.steps if s.spec.downtime]
    interactive = [s for s in plan.steps if s.spec.interactive or (plan.interactive and s.group == CAU_RUN)]
    out += ["## Risks and the point of no return", ""]
    if irreversible:
        first = irreversible[0]
        out.append(f"- **Point of no return: {md_code(first.id)}** ({_title(first)}). Until it runs, the "
                   "cluster can stay in (or go back to) a supported state: mixed-OS mode is reversible until the "
                   "functional level is raised and should end within 4 weeks [W-rolling].")
        out += [f"- Irreversible: {md_code(s.id)}: {_title(s)}" for s in irreversible]
    else:
        out.append("- No irreversible step: every step can be backed out.")
    if downtime:
        out += [f"- VM downtime: {md_code(s.id)}: {_title(s)}" for s in downtime]
    else:
        out.append("- VM downtime: none; HA VMs live-migrate off each node before it goes down (the docs still advise "
                   "shutting VMs down [A-ps]).")
    out.append("- Storage: only one node (fault domain) is down at a time; each node waits for the repair jobs before "
               "the next one goes down [H-maint], [W-resync].")
    if interactive:
        out.append(f"- {len(interactive)} steps need an operator at a console or GUI: "
                   + ", ".join(md_code(s.id) for s in interactive[:6]) + (" ..." if len(interactive) > 6 else ""))
    # whether the work fits the windows is warning HCI804, listed with the other warnings below
    warnings = [d for d in diagnostics if d.severity is Severity.WARNING]
    out += [f"- Check warning {d.code}: {md_code(d.message)}" for d in warnings]
    out += ["", "## Before the change", ""]
    if plan.interactive:
        out += ["- [ ] Review this runbook with the change board; the OS upgrade runs from Windows Admin Center.",
                "- [ ] Every other step is run by hand with the commands below."]
    else:
        out += ["- [ ] `hciplan emit FILE --backend powershell -o DIR` and review `Invoke-HciUpgrade.ps1` (its fingerprint "
                f"is `{plan.fingerprint}`).",
                "- [ ] Rehearse: `.\\Invoke-HciUpgrade.ps1 -WhatIf` on the orchestrator (read-only preflight, lists every step).",
                "- [ ] Run it in each window; rerun the same command to resume. Irreversible steps need "
                "`-ConfirmIrreversible` or a Yes."]
    out += ["- [ ] Backups of the VMs and of anything AKS Arc runs are current.", ""]
    for phase, steps in plan.phases():
        out += _phase_sections(plan, phase, steps)
    return "\n".join(line.rstrip() for line in out).rstrip("\n") + "\n"


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = (), simulation: SimResult | None = None) -> dict[str, str]:
    return {FILE_NAME: render_runbook(plan, diagnostics, simulation)}
