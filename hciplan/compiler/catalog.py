"""The step catalog: every kind of step a plan can contain, in one place.

Each kind records its phase, its scope (cluster or node), its effects on the
cluster (drain, reboot, resume, storage repair, irreversible, VM downtime), the
name of its default duration model (hciplan/compiler/durations.py), the
cmdlets it maps to (the PowerShell backend uses them) and its source tag in
the domain reference (../shared/domain.md, "Sources"). docs/plan.md lists the
same catalog and the steps consciously left out.
"""

from __future__ import annotations

from hciplan.records import record

PHASES = {
    "P0": "Gates",
    "P1": "Pre-OS",
    "P2": "OS upgrade",
    "P3": "Post-OS",
    "P4": "Network ATC",
    "P5": "Readiness",
    "P6": "Solution upgrade",
    "P7": "After",
}


@record
class StepKind:
    kind: str
    phase: str
    scope: str  # "cluster" | "node"
    title: str
    cmdlets: tuple[str, ...]
    source: str
    # "drain" | "reboot" | "isolate" (the node is cut off the network: down, like a reboot, without one)
    # | "resume" | "repair_wait" | "stop_cluster" | "start_cluster"
    effect: str | None = None
    irreversible: bool = False
    downtime: bool = False  # causes VM downtime
    storage_offline: bool = False  # takes storage copies (or volumes) offline
    gate: bool = False  # a validation gate: irreversible steps need one before them
    interactive: bool = False  # needs an operator at a console (BMC) or a GUI
    duration: str = ""  # the duration model's name; defaults to the kind
    restarts: bool = False  # restarts the node outside the rolling walk (inside the offline bracket)
    # An irreversible step: the state it leaves the cluster in once it has run (or was cut short while
    # running), with its source; `simulate` reports it for runs that end early past the point of no return.
    no_return: str = ""
    # A feature-update setup: part of its duration runs after its first restart, with the node down
    # (durations.offline_share; the share is an assumption, docs/simulation.md "The offline part of setup").
    offline_part: bool = False

    @property
    def drains(self) -> bool:
        return self.effect == "drain"

    @property
    def reboots(self) -> bool:
        return self.effect == "reboot" or self.restarts

    @property
    def takes_node_down(self) -> bool:
        """The node stops voting and its storage copies go stale until a repair wait."""
        return self.effect in ("reboot", "isolate")

    @property
    def duration_model(self) -> str:
        return self.duration or self.kind


_KINDS = (
    # P0 gates (read-only)
    StepKind("gate.preflight", "P0", "cluster",
             "Preflight: nodes Up, virtual disks Healthy, no storage jobs, solution not installed, registered",
             ("Get-ClusterNode", "Get-VirtualDisk", "Get-StorageJob", "Get-StampInformation", "Get-AzureStackHCI"),
             "[A-ps], [A-ts], [H-maint]", gate=True),
    StepKind("registration.repair", "P0", "cluster",
             "Repair the registration, only if the cluster resource lacks a SystemAssigned identity and the "
             "Cloud Management cluster group is missing",
             ("Get-ClusterGroup", "Get-AzResource", "Register-AzStackHCI"), "[A-ps], [S-cm]"),
    StepKind("gate.test_cluster", "P0", "cluster", "Validate the cluster before any change",
             ("Test-Cluster",), "[H-maint]", gate=True),
    # P1 pre-OS
    StepKind("aks.remove", "P1", "cluster", "Remove AKS Arc (and MOC for a preview install)",
             ("Uninstall-AksHci", "Uninstall-Moc", "Uninstall-Module"), "[A-ps], [A-about]", irreversible=True,
             interactive=True,
             no_return="AKS Arc removed: its workloads are gone until redeployed [A-ps], [A-about]"),  # Uninstall-AksHci reaches every node: run at a node's console, not remotely
    StepKind("bitlocker.suspend", "P1", "node", "Suspend BitLocker until it is resumed",
             ("Suspend-BitLocker",), "[A-val]"),
    StepKind("registry.apply", "P1", "node",
             "Set RefsEnableMetadataValidation=0 and Vid SkipSmallLocalAllocations=0",
             ("New-Item", "Set-ItemProperty", "Get-ItemProperty"), "[A-ps], [S-lm]"),
    StepKind("cau.prepare", "P1", "cluster", "Check remoting on the nodes and test the CAU setup",
             ("Test-WSMan", "Test-CauSetup", "Get-BpaResult"), "[A-ps], [W-req]"),
    StepKind("cau.scan", "P1", "cluster", "Scan: every node must be offered the same feature update",
             ("Invoke-CauScan",), "[A-ps]"),
    StepKind("media.verify", "P1", "node", "Check the extracted setup media at the same path on the node",
             ("Test-Path",), "[A-ps]"),
    # shared per-node pass steps
    StepKind("node.drain", "P1", "node", "Pause the node and drain its roles",
             ("Suspend-ClusterNode", "Get-ClusterGroup"), "[A-other], [H-maint]", effect="drain"),
    StepKind("node.reboot", "P1", "node", "Restart the node and wait for it to come back",
             ("Restart-Computer",), "[A-ps], [A-other]", effect="reboot"),
    StepKind("node.resume", "P1", "node", "Resume the node with failback",
             ("Resume-ClusterNode",), "[A-other]", effect="resume"),
    StepKind("storage.wait", "P1", "node", "Wait for the storage repair jobs to finish and disks to be Healthy",
             ("Get-StorageJob", "Get-VirtualDisk"), "[H-maint], [W-resync]", effect="repair_wait"),
    # P2 OS upgrade
    StepKind("cau.drain", "P2", "node", "CAU: pause and drain the node", ("Invoke-CauRun",),
             "[A-ps], [W-invoke]", effect="drain", duration="node.drain"),
    StepKind("cau.install", "P2", "node", "CAU: run the 23H2 feature update setup", ("Invoke-CauRun",),
             "[A-ps], [W-invoke]", duration="os.install", offline_part=True),
    StepKind("cau.reboot", "P2", "node", "CAU: reboot(s) into 23H2 and auto-start services", ("Invoke-CauRun",),
             "[A-ps], [W-opts]", effect="reboot", duration="os.reboot"),
    StepKind("cau.resume", "P2", "node", "CAU: resume the node with failback", ("Invoke-CauRun",),
             "[W-invoke]", effect="resume", duration="node.resume"),
    StepKind("cau.storage_wait", "P2", "node", "CAU: wait for storage repair before the next node",
             ("Invoke-CauRun",), "[W-opts], [H-maint]", effect="repair_wait",
             duration="storage.wait"),
    StepKind("cau.functional_level", "P2", "cluster",
             "CAU: raise the cluster functional level at the end of the run (UpdateClusterFunctionalLevel)",
             ("Invoke-CauRun",), "[A-ps]", irreversible=True, duration="post.functional_level",
             no_return="cluster functional level raised: mixed OS mode cannot be backed out, "
                       "the cluster cannot take 22H2 nodes back [A-ps], [W-rolling]"),
    StepKind("os.setup", "P2", "node", "Run the 23H2 feature update setup on the drained node",
             ("Start-Process",), "[A-other], [G-hol]", duration="os.install", offline_part=True),
    StepKind("os.restart", "P2", "node", "Restart into 23H2: setup ran with /NoReboot; wait for the 23H2 build",
             ("Restart-Computer",), "[A-other], [G-hol]", effect="reboot", duration="os.reboot"),
    StepKind("offline.stop", "P2", "cluster", "Take virtual disks offline and stop the cluster (full outage)",
             ("Get-ClusterSharedVolume", "Stop-ClusterResource", "Stop-Cluster", "Set-Service"), "[A-other]",
             effect="stop_cluster", downtime=True, storage_offline=True),
    StepKind("offline.setup", "P2", "node", "Run the 23H2 feature update setup (cluster stopped)",
             ("Start-Process",), "[A-other]", downtime=True, duration="os.install", offline_part=True),
    StepKind("offline.reboot", "P2", "node", "Reboot into 23H2 (cluster stopped)",
             ("Restart-Computer",), "[A-other]", downtime=True, duration="os.reboot", restarts=True),
    StepKind("offline.start", "P2", "cluster",
             "Start the cluster service on every node, wait for the pool and jobs, bring virtual disks online",
             ("Set-Service", "Start-Service", "Get-ClusterNode", "Get-StorageJob", "Start-ClusterResource",
              "Get-VirtualDisk"),
             "[A-other]", effect="start_cluster", downtime=True),
    # P3 post-OS
    StepKind("post.validate", "P3", "cluster", "Validate the upgraded cluster (validation gate)",
             ("Test-Cluster",), "[A-post], [A-verify]", gate=True),
    StepKind("post.migration_test", "P3", "cluster",
             "Live-migrate one HA VM to every node and back; no cluster network may be Partitioned (test gate)",
             ("Get-ClusterGroup", "Move-ClusterVirtualMachineRole", "Get-ClusterNetwork"), "[A-post], [S-part]",
             gate=True),
    StepKind("post.registry_check", "P3", "cluster", "Check that the registry keys survived the upgrade",
             ("Get-ItemProperty",), "[A-verify]"),
    StepKind("post.functional_level", "P3", "cluster", "Raise the cluster functional level",
             ("Get-Cluster", "Update-ClusterFunctionalLevel"), "[A-post], [W-rolling]", irreversible=True,
             no_return="cluster functional level raised: mixed OS mode cannot be backed out, "
                       "the cluster cannot take 22H2 nodes back [A-post], [W-rolling]"),
    StepKind("post.storage_pool", "P3", "cluster", "Update the storage pool version",
             ("Get-StoragePool", "Update-StoragePool"), "[A-post] (one-way: an inference)", irreversible=True,
             no_return="storage pool version updated: the pool does not go back to "
                       "the 22H2 version [A-post] (one-way: an inference)"),
    StepKind("post.vm_version", "P3", "cluster", "Update the VM configuration versions (VMs stopped)",
             ("Get-VM", "Stop-VM", "Update-VMVersion", "Start-VM"), "[A-post]", irreversible=True, downtime=True,
             no_return="VM configuration versions updated (an interrupted update may leave VMs stopped): "
                       "the updated VMs do not run on 22H2 hosts again [A-post] (an inference)"),
    StepKind("post.oem_drivers", "P3", "cluster",
             "Reinstall the OEM drivers with the vendor's package, one node at a time",
             (), "[A-post], [A-val]", interactive=True),
    StepKind("post.sync", "P3", "cluster", "Sync the registration so Azure shows 23H2",
             ("Sync-AzureStackHCI",), "[A-post], [S-ver]"),
    # P4 Network ATC
    StepKind("atc.install", "P4", "cluster", "Install NetworkATC and FS-SMBBW on all nodes; hold the ATC service",
             ("Install-WindowsFeature", "Stop-Service", "Set-Service"), "[A-atc]"),
    StepKind("atc.configure", "P4", "node",
             "On the drained node: remove QoS/LBFO, convert VLANs, rename vSwitch and vNICs, add the intent "
             "(drops the node's network: BMC console; reconnecting VM NICs disrupts VMs)",
             ("Add-NetIntent", "Get-NetIntentStatus", "Rename-VMSwitch", "Connect-VMNetworkAdapter"),
             "[A-atc]", effect="isolate", downtime=True, interactive=True),
    # After the first node's pass: the other nodes' vSwitch gets the ATC name and their VM NICs are reconnected
    # (disrupts those VMs; skipped, live migration to the first node fails) before the next drain [A-atc].
    StepKind("atc.rename_switch", "P4", "cluster",
             "After the first node: rename the vSwitch on the remaining nodes to the Network ATC name and reconnect "
             "every VM network adapter (disrupts their VMs)",
             ("Rename-VMSwitch", "Connect-VMNetworkAdapter", "Get-VMSwitch", "Get-VMNetworkAdapter"), "[A-atc]",
             downtime=True, interactive=True),
    StepKind("atc.verify", "P4", "cluster", "Check that every intent reports Success",
             ("Get-NetIntentStatus",), "[A-atc]"),
    # P5 readiness
    StepKind("remediate.apply", "P5", "node",
             "Install the required Windows features and remove WDAC policies where planned",
             ("Install-WindowsFeature", "Enable-WindowsOptionalFeature"), "[A-val]"),
    StepKind("thin.convert", "P5", "cluster", "Convert a fixed volume to thin and cycle its CSV (its VMs stop)",
             ("Set-VirtualDisk", "Stop-ClusterResource", "Start-ClusterResource"), "[A-val]",
             downtime=True, storage_offline=True),
    StepKind("lcm.extension", "P5", "node",
             "Install or update the AzureEdgeLifecycleManager extension and wait until it has initialised",
             ("Get-AzConnectedMachineExtension", "New-AzConnectedMachineExtension", "Get-AzConnectedExtensionMetadata",
              "Update-AzConnectedExtension"), "[A-val], [S-lcm]"),
    StepKind("ad.prepare", "P5", "cluster", "Prepare the AD objects for the LCM user",
             ("New-HciAdObjectsPreCreation",), "[A-ad]"),
    StepKind("readiness.validate", "P5", "cluster", "Run the upgrade readiness validation (validation gate)",
             ("Install-Module", "Invoke-AzStackHciUpgradeValidation"), "[A-val]", gate=True),
    # P6 solution upgrade
    StepKind("solution.validate", "P6", "cluster", "Solution upgrade: ARM deployment in Validate mode",
             ("New-AzResourceGroupDeployment",), "[A-arm]", gate=True),
    StepKind("solution.deploy", "P6", "cluster",
             "Solution upgrade: ARM deployment in Deploy mode (nodes may reboot, VMs live-migrate)",
             ("New-AzResourceGroupDeployment", "Get-AzResourceGroupDeployment", "Get-AzResource"), "[A-arm], [A-inst]",
             irreversible=True,
             no_return="solution upgrade started: the deployment is retried or resumed, not rolled back; "
                       "nodes may have rebooted [A-inst]"),
    # P7 after
    StepKind("bitlocker.resume", "P7", "node", "Resume BitLocker", ("Resume-BitLocker",), "[A-inst]"),
    StepKind("wdac.reapply", "P7", "cluster", "Re-apply the new WDAC policies (operator, per the 23H2 docs)",
             (), "[A-inst]", interactive=True),
    StepKind("after.configure", "P7", "cluster",
             "Update the security posture, create the storage paths and set the CAU AD permissions",
             (), "[A-inst]", interactive=True),
    StepKind("after.verify", "P7", "cluster", "Sync the registration and check the Azure resources",
             ("Sync-AzureStackHCI", "Get-AzureStackHCI"), "[A-inst], [S-ver]"),
)

CATALOG: dict[str, StepKind] = {k.kind: k for k in _KINDS}
