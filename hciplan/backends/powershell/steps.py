"""One small emitter per step kind: the PowerShell body, probe and post-condition of each runner entry.

Each emitter is registered by the step kind it handles (`@emits("node.drain")`), in the style of sqlglot's
one generator per node type, so a reviewer finds a kind's PowerShell by searching for its name. Groups of
steps that one function performs are registered per group (`@emits_group(CAU_RUN)`, `@emits_group("offline")`)
and name the kinds they cover. A kind without an emitter is an `Unsupported` error at emit time, never
silently left out. An emitter fills the `Entry` it is given (units.py): body lines, probe, verify, target,
fit time. Which helpers of `lib/*.ps1` the body needs is not declared here: `library.needed` finds them.
What the runbook tells an operator for the same kind is registered in `operator.py`.

Values from the `.hciplan` file reach the code only through `pstext.literal`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from hciplan.backends.azurelocal import (READINESS_TPM_WARNINGS, REFS_KEY, REFS_VALUE, ROLLING_UPGRADE_PLUGIN,
                                        TARGET_BUILD, VID_KEY, VID_VALUE)
from hciplan.backends.pstext import literal, literal_list
from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.plan import Plan, Step
from hciplan.compiler.units import whole_minutes

if TYPE_CHECKING:  # units.py imports this module to run the emitters
    from hciplan.backends.powershell.units import Entry


class Unsupported(Exception):
    """Raised for plans this backend cannot script; `render` reports it as `BackendUnsupported`."""


Emitter = Callable[[Plan, "Entry"], None]
EMITTERS: dict[str, Emitter] = {}  # step kind -> emitter
GROUP_EMITTERS: dict[str, Emitter] = {}  # step group -> emitter of the whole group
GROUP_COVERS: dict[str, tuple[str, ...]] = {}  # step group -> the kinds its emitter performs


def emits(*kinds: str) -> Callable[[Emitter], Emitter]:
    """Register the decorated function as the emitter of `kinds`."""
    def register(function: Emitter) -> Emitter:
        for kind in kinds:
            assert kind not in EMITTERS, f"two emitters for {kind}"
            EMITTERS[kind] = function
        return function
    return register


def emits_group(group: str, covers: tuple[str, ...]) -> Callable[[Emitter], Emitter]:
    """Register the decorated function as the emitter of every step of `group` (one function for all of them)."""
    def register(function: Emitter) -> Emitter:
        GROUP_EMITTERS[group] = function
        GROUP_COVERS[group] = covers
        return function
    return register


def is_group(group: str | None) -> bool:
    """Whether the steps of `group` are emitted together, as one entry."""
    return group in GROUP_EMITTERS


def emit(plan: Plan, entry: "Entry") -> None:
    """Fill a one-step entry with its step kind's emitter."""
    step = entry.first
    emitter = EMITTERS.get(step.kind)
    if emitter is None:  # a catalog kind without a script form must not be emitted silently
        raise Unsupported(f"no PowerShell for step kind {step.kind!r} ({step.id})")
    emitter(plan, entry)
    _recheck_bitlocker(plan, entry)


# The steps (outside the CAU run) that restart nodes while BitLocker may be suspended: a node's own restart, and
# the solution upgrade, which may restart every node [A-inst]; and the groups that restart nodes (the CAU run,
# the offline bracket's node steps).
RESTARTS_NODE = ("node.reboot", "os.restart")
RESTARTS_NODES = ("solution.deploy",)


def _recheck_bitlocker(plan: Plan, entry: "Entry") -> None:
    """Before a step that restarts nodes, when the plan suspended BitLocker: C: must still be suspended.

    The plan suspends C: once in P1 (-RebootCount 0) and resumes it in P7, which can be weeks apart; protection
    that came back in between (by hand or by policy) would stop the restart at the recovery prompt [A-val]. So
    the step checks it first and suspends it again (docs/powershell.md, "BitLocker"). One rule, applied here
    to every such kind, so no emitter can forget it.
    """
    step = entry.first
    suspended = [s.node for s in plan.steps if s.kind == "bitlocker.suspend" and s.node]
    group_restarts = len(entry.steps) > 1 and any(s.spec.reboots for s in entry.steps)  # the CAU run, offline
    if step.kind in RESTARTS_NODE and step.node in suspended:
        nodes = _node(step)
    elif (step.kind in RESTARTS_NODES or group_restarts) and suspended:
        nodes = literal_list(suspended)
    else:
        return
    entry.body[:0] = ["# BitLocker was suspended in P1: it must still be before this restart [A-val].",
                      f"Assert-BitLockerSuspended -Node {nodes}"]


def emit_group(plan: Plan, entry: "Entry") -> None:
    """Fill the entry of a whole group with its group's emitter."""
    GROUP_EMITTERS[entry.first.group](plan, entry)
    _recheck_bitlocker(plan, entry)


# --- bounds and shared values --------------------------------------------------------------------
# The waits' timeouts come from the step's duration model (assumptions, documented in docs/powershell.md).

# What node state proves a CAU sub-step done once the run has ended (or was cancelled by -StopAfter mid-node):
# the build alone only proves setup and its reboots; resume needs the node Up (not paused), the storage wait
# needs storage healthy as well [W-invoke], [H-maint].
CAU_SUBSTEP_EVIDENCE = {"cau.drain": "upgraded", "cau.install": "upgraded", "cau.reboot": "upgraded",
                        "cau.resume": "up", "cau.storage_wait": "healthy"}
# A Test-Cluster warning that reports a failure: "failed", "failure(s)", "fails" as whole words, so that
# "Failover" (in nearly every test name) does not count.
TEST_CLUSTER_FAILURE = r"\bfail(ed|ure|ures|s)?\b"


def bound(step: Step) -> int:
    """The step's wait in whole minutes: the plan's bound, the simulator's give-up time (compiler/units.py)."""
    return whole_minutes(step.bound_minutes)


def longest_bound(steps: list[Step], kind: str) -> int:
    return max(bound(s) for s in steps if s.kind == kind)


def _node(step: Step) -> str:
    return literal(step.node or "")


# --- one emitter per step kind ------------------------------------------------------------------------

@emits("gate.preflight")
def _gate_preflight(plan: Plan, entry: Entry) -> None:
    body = entry.body
    entry.read_only = True
    if plan.method == "offline":
        # Inside the offline bracket the cluster is stopped and its service disabled by design: the cluster, CIM and
        # registration checks cannot answer, and a preflight that stopped here would leave every VM down. Check only
        # that every node answers remoting, and let the run go on to the bracket's next step.
        body += [
            "# (p2.offline_stop journalled at all: it may have failed after Stop-Cluster)",
            "$stopped = $script:Journal.ContainsKey('p2.offline_stop') -and $script:Journal['p2.offline_stop'] -notin @('window', 'declined')",
            "$started = $script:Journal.ContainsKey('p2.offline_start') -and $script:Journal['p2.offline_start'] -in @('done', 'skipped')",
            "if ($stopped -and -not $started) {",
            "    Write-Warning 'preflight: the cluster is stopped by the offline bracket; checking only that every node answers'",
            "    foreach ($node in $PlanNodes) { $null = Test-WSMan -ComputerName $node }",
            "    return",
            "}",
        ]
    if plan.model.upgrade.method == "cau":
        body += ["# The CAU coordinator: a Windows Server 2022 machine outside the cluster [A-ps], [W-invoke].",
                 "Assert-Orchestrator"]
    body += PREFLIGHT
    if not any(s.kind == "registration.repair" for s in plan.steps):
        # Without an Azure sign-in (no solution block) the identity cannot be read: warn, the operator decides.
        body += [
            "# Without the Azure steps the plan cannot read the resource identity: a missing Cloud Management group is",
            "# a warning, and the repair is the operator's (the runbook has the commands) [A-ps], [S-cm].",
            "if (-not (Test-CloudManagementGroup)) {",
            "    Write-Warning " + literal(
                "the Cloud Management cluster group is missing. If the identity of the cluster's Azure resource also "
                "lacks SystemAssigned, repair the registration before the upgrade (the registration cmdlet of "
                "Az.StackHCI with -RepairRegistration; the runbook's preflight shows both commands), then wait about "
                "15 min for the group [A-ps], [S-cm]"),
            "}",
        ]
    readiness = next((s for s in plan.steps if s.kind == "readiness.validate"), None)
    if readiness is not None:
        azure_before = [s.id for s in plan.steps if s.kind == "lcm.extension"]
        body += [
            "# Arc machines [A-val], [A-arm]: checked by every run that can reach the readiness validation. Without the",
            "# Azure inputs the LCM extension steps stop before it; once they are done, the inputs are required here.",
            f"$readiness = {literal(readiness.id)}",
            "$readinessDone = $script:Journal.ContainsKey($readiness) -and $script:Journal[$readiness] -in @('done', 'skipped')",
            f"if (-not $readinessDone -and $script:SelectedPhases -contains {literal(readiness.phase)}) {{",
            "    if ($ResourceGroupName -and (Get-AzContext)) {",
            "        $arc = @(Get-ArcMachineProblem)",
            "        if ($arc.Count -gt 0) {",
            "            $message = ('the Arc machines are not ready for the readiness validation: {0} [A-val], [A-arm]' -f ($arc -join '; '))",
            "            if ($script:Rehearsal) { Write-Warning ('a real run would stop here: {0}' -f $message) }",
            "            else { Stop-Upgrade -Code 1 -Message $message }",
            "        }",
            "    }",
            "    else {",
            f"        $azureBefore = @(@({', '.join(literal(i) for i in azure_before)}) | Where-Object {{ -not ($script:Journal.ContainsKey($_) -and $script:Journal[$_] -in @('done', 'skipped')) }})",
            "        $why = 'the Arc machine check needs -ResourceGroupName and an Azure sign-in (Connect-AzAccount)'",
            "        if ($azureBefore.Count -eq 0 -and -not $script:Rehearsal) { Stop-Upgrade -Code 2 -Message ('{0}: it runs before {1}' -f $why, $readiness) }",
            "        Write-Warning ('{0}; it runs in the run that has them, before {1}' -f $why, $readiness)",
            "    }",
            "}",
        ]


@emits("gate.test_cluster", "post.validate")
def _test_cluster(plan: Plan, entry: Entry) -> None:
    step = entry.first
    body = entry.body
    kind = step.kind
    report = "p0" if kind == "gate.test_cluster" else "p3"
    body += [
        "# Test-Cluster must pass before any change, and again after the OS upgrade [H-maint], [A-post].",
        "$warnings = @()",
        f"$report = Join-Path -Path (Split-Path -Path $JournalPath -Parent) -ChildPath 'Test-Cluster-{report}'",
        "$null = Test-Cluster -Cluster $ClusterName -ReportName $report -WarningVariable warnings -WarningAction SilentlyContinue",
        f"$failed = @($warnings | Where-Object {{ [string]$_ -match {literal(TEST_CLUSTER_FAILURE)} }})",
        "if ($failed.Count -gt 0) { throw ('cluster validation reported failures; see {0}.htm: {1}' -f $report, ($failed -join '; ')) }",
    ]


@emits("aks.remove")
def _aks_remove(plan: Plan, entry: Entry) -> None:
    body = entry.body
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
    entry.probe = ("@($PlanNodes | Where-Object { Invoke-OnNode -Node $_ -ScriptBlock "
                  "{ [bool](Get-Module -ListAvailable -Name 'AksHci') } }).Count -eq 0")
    entry.verify = entry.probe


@emits("bitlocker.suspend")
def _bitlocker_suspend(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    body.append(f"Suspend-NodeBitLocker -Node {node}")
    entry.probe = f"(Get-NodeBitLockerStatus -Node {node}) -eq 'Off'"
    entry.verify = entry.probe
    entry.target = step.node


@emits("bitlocker.resume")
def _bitlocker_resume(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    body.append(f"Resume-NodeBitLocker -Node {node}")
    entry.probe = f"(Get-NodeBitLockerStatus -Node {node}) -eq 'On'"
    entry.verify = entry.probe
    entry.target = step.node


@emits("registry.apply")
def _registry_apply(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    body.append(f"Set-UpgradeRegistry -Node {node}")
    entry.probe = f"Test-UpgradeRegistry -Node {node}"
    entry.verify = entry.probe
    entry.target = step.node


@emits("node.drain")
def _node_drain(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    body.append(f"Invoke-NodeDrain -Node {node} -TimeoutMinutes {bound(step)}")
    if step.group == "os":
        entry.probe = f"Test-NodeUpgraded -Node {node}"
    entry.verify = f"Test-NodePaused -Node {node}"
    entry.target = step.node


@emits("node.reboot")
def _node_reboot(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    entry.body.append(f"Invoke-NodeRestart -Node {node} -TimeoutMinutes {bound(step)}")
    entry.target = step.node


@emits("os.restart")
def _os_restart(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    entry.body += [
        "# setup ran with /NoReboot: this restart finishes the feature update; then setup's windeploy must end and",
        f"# the node must run the 23H2 build {TARGET_BUILD} [A-other], [G-hol].",
        f"Invoke-NodeRestart -Node {node} -TimeoutMinutes {bound(step)} -AfterSetup",
    ]
    entry.probe = f"Test-NodeUpgraded -Node {node}"
    entry.verify = f"Assert-NodeUpgraded -Node {node}"
    entry.target = step.node


@emits("node.resume")
def _node_resume(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    body.append(f"Invoke-NodeResume -Node {node}")
    entry.probe = f"Test-NodeUp -Node {node}"
    entry.verify = entry.probe
    entry.target = step.node


@emits("storage.wait")
def _storage_wait(plan: Plan, entry: Entry) -> None:
    step = entry.first
    body = entry.body
    body.append(f"Wait-StorageHealthy -TimeoutMinutes {bound(step)}")
    entry.target = step.node


@emits("media.verify")
def _media_verify(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    # The path and setup.exe [A-ps], and the build the media installs: the 23H2 build, not 24H2's [A-ps], [G-hol].
    body.append(f"$problem = Get-NodeMediaProblem -Node {node}")
    body.append(f"if ($problem) {{ throw ('{{0}}: {{1}}' -f {node}, $problem) }}")
    entry.target = step.node


@emits("cau.prepare")
def _cau_prepare(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body += [
        "# Remoting must answer on every node; CAU's Best Practices Analyzer model must report no error [A-ps], [W-req].",
        "foreach ($node in $PlanNodes) { $null = Test-WSMan -ComputerName $node }",
        "$null = Test-CauSetup -ClusterName $ClusterName @CredentialArgs",
        "$errors = @(Get-BpaResult -ModelId 'Microsoft/Windows/ClusterAwareUpdating' | Where-Object { [string]$_.Severity -eq 'Error' })",
        "if ($errors.Count -gt 0) { throw ('Test-CauSetup found errors: {0}' -f (@($errors | ForEach-Object { $_.Title }) -join '; ')) }",
    ]


@emits("cau.scan")
def _cau_scan(plan: Plan, entry: Entry) -> None:
    body = entry.body
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


@emits("os.setup")
def _os_setup(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    upgrade = plan.model.upgrade
    body = entry.body
    entry.probe = f"Test-NodeUpgraded -Node {node}"
    entry.target = step.node
    if upgrade.source == "media":
        body.append(f"Start-NodeSetup -Nodes @({node}) -TimeoutMinutes {bound(step)}")
    else:
        entry.verify = f"Assert-NodeUpgraded -Node {node}"
        body.append("Request-OperatorAction -Instructions " + literal(
            f"On the console of {step.node}, run SConfig and choose 6 (Install updates), then 3 (Feature "
            "updates) to install the 23H2 feature update from Windows Update; let it restart until it "
            f"reports build {TARGET_BUILD} [A-other]."))


@emits("post.registry_check")
def _post_registry_check(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body += [
        "# The upgrade can reset the keys: re-apply and reboot the node if they reverted [A-verify].",
        "$reverted = @($PlanNodes | Where-Object { -not (Test-UpgradeRegistry -Node $_) })",
        "if ($reverted.Count -gt 0) {",
        "    throw ('the upgrade registry keys reverted on {0}. On each of those nodes, one at a time: drain it (Suspend-ClusterNode -Name <node> -Drain -Wait), "
        f"set {REFS_KEY} {REFS_VALUE} = 0 and {VID_KEY} {VID_VALUE} = 0 (Set-ItemProperty -Type DWord), "
        "restart it, resume it (Resume-ClusterNode -Name <node> -Failback Immediate) and wait for the storage repair (Get-StorageJob); "
        "then rerun this script: it resumes at this step [A-ps], [A-verify]' -f ($reverted -join ', '))",
        "}",
    ]


@emits("post.functional_level")
def _post_functional_level(plan: Plan, entry: Entry) -> None:
    body = entry.body
    entry.probe = "Test-FunctionalLevelRaised"
    body += [
        "# All nodes must be up; the level cannot be lowered again [A-post], [W-rolling].",
        "$down = @($PlanNodes | Where-Object { -not (Test-NodeUp -Node $_) })",
        "if ($down.Count -gt 0) { throw ('every node must be Up before the functional level is raised: {0}' -f ($down -join ', ')) }",
        "$before = [int64](Get-Cluster -Name $ClusterName).ClusterFunctionalLevel",
        "Update-ClusterFunctionalLevel -Cluster $ClusterName -Force",
        "$after = [int64](Get-Cluster -Name $ClusterName).ClusterFunctionalLevel",
        "if ($after -le $before) { throw ('the cluster functional level is still {0}' -f $after) }",
    ]


@emits("post.storage_pool")
def _post_storage_pool(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body += [
        "# One-way pool version update, online [A-post].",
        "$session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
        "try { Get-StoragePool -CimSession $session -FriendlyName $PlanPoolName | Update-StoragePool -Confirm:$false }",
        "finally { Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false }",
    ]


@emits("post.vm_version")
def _post_vm_version(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body += [
        "# Each VM below the host's default version is stopped, updated and started again [A-post]. A VM that was",
        "# running is started again in every path (finally), also when Update-VMVersion fails; the error still",
        "# fails the step, and a rerun updates the VMs that are left.",
        "foreach ($node in $PlanNodes) {",
        "    Invoke-OnNode -Node $node -ScriptBlock {",
        "        $ErrorActionPreference = 'Stop'",
        "        $latest = [version](Get-VMHostSupportedVersion -Default).Version",
        "        foreach ($vm in @(Get-VM)) {",
        "            if ([version]$vm.Version -ge $latest) { continue }",
        "            $running = [string]$vm.State -eq 'Running'",
        "            try {",
        "                if ($running) { Stop-VM -VM $vm -Force -Confirm:$false }",
        "                Update-VMVersion -VM $vm -Force -Confirm:$false",
        "            }",
        "            finally {",
        "                if ($running -and [string](Get-VM -Id $vm.VMId).State -ne 'Running') { Start-VM -VM $vm -Confirm:$false }",
        "            }",
        "        }",
        "    }",
        "}",
    ]


@emits("post.sync")
def _post_sync(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body += ["# Azure shows 23H2 right after a sync [S-ver].",
             "Invoke-OnNode -Node $ClusterName -ScriptBlock { $ErrorActionPreference = 'Stop'; Sync-AzureStackHCI }"]


@emits("atc.install")
def _atc_install(plan: Plan, entry: Entry) -> None:
    body = entry.body
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


def atc_configure_instructions(plan: Plan, node: str) -> str:
    """The operator's Network ATC instructions for one drained node, by its place in the pass [A-atc].

    The first node gets the intent (Add-NetIntent) and its vSwitch the Network ATC name (Rename-VMSwitch); at
    the end the operator renames the vSwitch on the remaining nodes and reconnects their VM NICs, which the
    `atc.rename_switch` step checks before the next drain. Later nodes need neither: the intent is cluster-wide.
    """
    order = [n.name for n in plan.model.ordered_nodes()]
    rest = order[1:]
    common = ("remove the NetQos policies and any LBFO team, keep the SET vSwitch, convert the VLANs from "
              "VMNetworkAdapterVlan to VMNetworkAdapterIsolation, ")
    if node == order[0]:
        text = (f"{node} is drained and is the first node of the Network ATC pass. From its BMC console (the node "
                "loses its network): " + common + "rename the vSwitch (Rename-VMSwitch) and the vNICs to the "
                "Network ATC names, enable and start the NetworkATC service, run Add-NetIntent (once: the intent "
                "is cluster-wide), and wait until Get-NetIntentStatus shows Success for this node.")
        if rest:
            text += (" Then, on each remaining node (" + ", ".join(rest) + "), rename its vSwitch to the same "
                     "Network ATC name with Rename-VMSwitch and reconnect every VM network adapter to it with "
                     "Connect-VMNetworkAdapter; this briefly disrupts those VMs' network, and without it live "
                     "migration to this node fails. The script checks both before the next drain.")
    else:
        text = (f"{node} is drained. From its BMC console (the node loses its network): " + common +
                "rename the vNICs to the Network ATC names, enable and start the NetworkATC service, and wait "
                "until Get-NetIntentStatus shows Success for this node. Do not run Add-NetIntent or "
                f"Rename-VMSwitch here: the intent is cluster-wide since {order[0]}, and this node's vSwitch "
                "already has its Network ATC name.")
    return text + " [A-atc]"


@emits("atc.configure")
def _atc_configure(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    entry.target = step.node
    first = plan.model.ordered_nodes()[0].name
    body.append("Request-OperatorAction -Instructions " + literal(atc_configure_instructions(plan, step.node or "")))
    body.append(f"$problems = @(Get-NetIntentProblem -Node {node})")
    body.append("if ($problems.Count -gt 0) { throw ('Network ATC is not configured: {0}' -f ($problems -join '; ')) }")
    if step.node != first:
        body += [
            "# Before the next drain: every vSwitch keeps its Network ATC name and every VM NIC is connected [A-atc].",
            f"$switchProblems = @(Get-AtcSwitchProblem -FirstNode {literal(first)})",
            "if ($switchProblems.Count -gt 0) { throw ('the vSwitch names or VM network adapters are not ready for live migration: {0}' -f ($switchProblems -join '; ')) }",
        ]


@emits("atc.rename_switch")
def _atc_rename_switch(plan: Plan, entry: Entry) -> None:
    order = [n.name for n in plan.model.ordered_nodes()]
    check = f"@(Get-AtcSwitchProblem -FirstNode {literal(order[0])}).Count -eq 0"
    entry.probe = check  # done when the operator already renamed at the end of the first node's configure step
    entry.verify = check
    entry.body += [
        "# Before the next drain, the remaining nodes' vSwitch takes the Network ATC name and every VM NIC is",
        "# reconnected to it; skipped, live migration to the configured node fails [A-atc].",
        "Request-OperatorAction -Instructions " + literal(
            "On each of " + ", ".join(order[1:]) + ": rename the vSwitch to the Network ATC name it has on "
            f"{order[0]} (Rename-VMSwitch) and reconnect every VM network adapter to it (Connect-VMNetworkAdapter); "
            "this briefly disrupts those VMs' network. Remove VM checkpoints that would block live migration [A-atc]."),
        f"$switchProblems = @(Get-AtcSwitchProblem -FirstNode {literal(order[0])})",
        "if ($switchProblems.Count -gt 0) { throw ('the vSwitch names or VM network adapters are not ready for live migration: {0}' -f ($switchProblems -join '; ')) }",
    ]


@emits("atc.verify")
def _atc_verify(plan: Plan, entry: Entry) -> None:
    step = entry.first
    body = entry.body
    body.append(f"Wait-Until -What 'every Network ATC intent to report Success' -TimeoutMinutes "
                f"{bound(step)} -Condition {{ @(Get-NetIntentProblem).Count -eq 0 }}")


@emits("remediate.apply")
def _remediate_apply(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    upgrade = plan.model.upgrade
    body = entry.body
    entry.target = step.node
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


@emits("thin.convert")
def _thin_convert(plan: Plan, entry: Entry) -> None:
    step = entry.first
    body = entry.body
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


# The AzureEdgeLifecycleManager extension [A-val]: the Arc machine extension the solution upgrade drives.
LCM_EXTENSION = "AzureEdgeLifecycleManager"
LCM_PUBLISHER = "Microsoft.AzureStack.Orchestration"
LCM_TYPE = "LcmController"


@emits("lcm.extension")
def _lcm_extension(plan: Plan, entry: Entry) -> None:
    step = entry.first
    node = _node(step)
    body = entry.body
    entry.target = step.node
    body += [
        "# The AzureEdgeLifecycleManager extension must be present and current on every node [A-val]: installed if",
        "# missing, updated when Azure offers a newer version (an obsolete LCM package fails the solution validation,",
        "# [S-lcmpkg]), then waited for until it has finished initialising (about 15-20 min [S-lcm]), within the",
        "# step's bound.",
        "Assert-AzureInputs",
        f"$machine = Get-AzConnectedMachine -ResourceGroupName $ResourceGroupName -Name {node}",
        f"$existing = Get-AzConnectedMachineExtension -ResourceGroupName $ResourceGroupName -MachineName {node} "
        f"-Name {literal(LCM_EXTENSION)} -ErrorAction SilentlyContinue",
        "$target = $null",
        "if (-not $existing) {",
        f"    $null = New-AzConnectedMachineExtension -Name {literal(LCM_EXTENSION)} -ResourceGroupName $ResourceGroupName "
        f"-MachineName {node} -Location $machine.Location -Publisher {literal(LCM_PUBLISHER)} -ExtensionType {literal(LCM_TYPE)} -NoWait",
        "}",
        "else {",
        f"    $offered = @(Get-AzConnectedExtensionMetadata -Location $machine.Location -Publisher {literal(LCM_PUBLISHER)} "
        f"-ExtensionType {literal(LCM_TYPE)} | Where-Object {{ $_.Version }} | ForEach-Object {{ [version][string]$_.Version }} | Sort-Object -Descending)",
        "    $current = [version][string]$existing.TypeHandlerVersion",
        "    if ($offered.Count -gt 0 -and $offered[0] -gt $current) {",
        "        $target = [string]$offered[0]",
        f"        Write-Host ('updating the LCM extension on {{0}} from {{1}} to {{2}}' -f {node}, $current, $target)",
        f"        Update-AzConnectedExtension -ResourceGroupName $ResourceGroupName -MachineName {node} "
        f"-ExtensionTarget @{{ {literal(LCM_PUBLISHER + '.' + LCM_TYPE)} = @{{ targetVersion = $target }} }} -NoWait -Confirm:$false",
        "    }",
        "}",
        f"Wait-Until -What ('the LCM extension on {{0}} to finish installing and initialising' -f {node}) -TimeoutMinutes {bound(step)} -Condition {{",
        f"    $extension = Get-AzConnectedMachineExtension -ResourceGroupName $ResourceGroupName -MachineName {node} "
        f"-Name {literal(LCM_EXTENSION)} -ErrorAction SilentlyContinue",
        "    if (-not $extension) { return $false }",
        "    $state = [string]$extension.ProvisioningState",
        f"    if ($state -eq 'Failed') {{ throw ('the LCM extension on {{0}} is Failed; see the extension status of the Arc machine in Azure' -f {node}) }}",
        "    $state -eq 'Succeeded' -and (-not $target -or [string]$extension.TypeHandlerVersion -eq $target)",
        "}",
    ]
    entry.verify = f"Test-LcmExtensionReady -Node {node}"


@emits("ad.prepare")
def _ad_prepare(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body += [
        "# The LCM user's password is asked for here and never stored [A-ad].",
        "$lcmCredential = Get-Credential -UserName $PlanDeploymentUser -Message 'Password of the LCM deployment user (not stored)'",
        "New-HciAdObjectsPreCreation -AzureStackLCMUserCredential $lcmCredential -AsHciOUName $PlanAdouPath",
    ]


@emits("readiness.validate")
def _readiness_validate(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body += [
        "# The Environment Checker on every node [A-val]. Every failed test blocks, whatever its Severity: the",
        "# readiness article's own sample reports blocking tests (OS is 23H2, Network ATC, required Windows features,",
        "# storage pool) as Warning. Only the documented TPM property tests are warnings to fix later; all are listed.",
        f"$tpmWarnings = {literal_list(READINESS_TPM_WARNINGS)}  # [A-val]",
        "$blocking = @()",
        "$warned = @()",
        "foreach ($node in $PlanNodes) {",
        "    $results = @(Invoke-OnNode -Node $node -ScriptBlock {",
        "        $ErrorActionPreference = 'Stop'",
        "        Install-Module -Name 'AzStackHci.EnvironmentChecker' -AllowClobber -Force",
        "        Invoke-AzStackHciUpgradeValidation -PassThru",
        "    })",
        "    foreach ($result in @($results | Where-Object { Test-ReadinessFailed -Result $_ })) {",
        "        # StrictMode: a deserialized result may lack a field, so read them by name",
        "        $line = '{0}: {1} (Severity {2})' -f $node, (Get-ReadinessField -Result $result -Names 'DisplayName', 'Name', 'Title'), (Get-ReadinessField -Result $result -Names 'Severity')",
        "        if (Test-TpmReadinessWarning -Result $result -Properties $tpmWarnings) { $warned += $line }",
        "        else { $blocking += $line }",
        "    }",
        "}",
        "foreach ($line in $warned) { Write-Warning ('readiness warning, to fix after the upgrade [A-val]: {0}' -f $line) }",
        "foreach ($line in $blocking) { Write-Warning ('readiness check failed: {0}' -f $line) }",
        "if ($blocking.Count -gt 0) { throw ('{0} failed readiness checks block the solution upgrade: {1}' -f $blocking.Count, ($blocking -join '; ')) }",
    ]


@emits("solution.validate", "solution.deploy")
def _solution_deployment(plan: Plan, entry: Entry) -> None:
    step = entry.first
    body = entry.body
    kind = step.kind
    mode = "Validate" if kind == "solution.validate" else "Deploy"
    if kind == "solution.validate":
        body += [
            "# The solution validation needs the LCM extension initialised on every node [A-val], [S-lcm], [S-lcmpkg]:",
            "# each lcm.extension step waited for its node; a resumed run checks them all again here.",
            "$notReady = @($PlanNodes | Where-Object { -not (Test-LcmExtensionReady -Node $_) })",
            "if ($notReady.Count -gt 0) { throw ('the AzureEdgeLifecycleManager extension is not Succeeded on {0}: rerun their lcm.extension steps' -f ($notReady -join ', ')) }",
        ]
    body.append(f"Invoke-SolutionDeployment -Mode '{mode}' -TimeoutMinutes {bound(step)}")
    if kind == "solution.deploy":
        # Done is what Azure says: the deployment and its deploymentSettings Succeeded [A-arm], [Q-tpl].
        entry.probe = "Test-SolutionDeployed"
        entry.verify = "Test-SolutionDeployed"


@emits("wdac.reapply")
def _wdac_reapply(plan: Plan, entry: Entry) -> None:
    body = entry.body
    body.append("Request-OperatorAction -Instructions " + literal(
        "Re-apply the new 23H2 WDAC policies on every node and update the security posture, as the "
        "Azure Local 23H2 documentation describes [A-inst]."))


@emits("after.verify")
def _after_verify(plan: Plan, entry: Entry) -> None:
    upgrade = plan.model.upgrade
    body = entry.body
    body += [
        "# Sync, then the registration must be connected and the solution installed [A-inst], [S-ver].",
        "Invoke-OnNode -Node $ClusterName -ScriptBlock { $ErrorActionPreference = 'Stop'; Sync-AzureStackHCI }",
        "$registration = Get-HciRegistration",
        "if ([string]$registration.ConnectionStatus -ne 'Connected') { throw ('the registration is {0}' -f $registration.ConnectionStatus) }",
    ]
    if upgrade.solution is not None:
        body += [
            "# Azure is the authority: the Deploy deployment and the deploymentSettings resource Succeeded [A-arm], [Q-tpl].",
            "Assert-AzureInputs",
            "if (-not (Test-SolutionDeployed)) { throw ('the solution upgrade is not complete in Azure: the deployment hciplan-upgrade-deploy or the deploymentSettings of the cluster in {0} is not Succeeded' -f $ResourceGroupName) }",
        ]


@emits("registration.repair")
def _registration_repair(plan: Plan, entry: Entry) -> None:
    step = entry.first
    entry.body += [
        "# Only if both hold [A-ps]: the Cloud Management cluster group is missing and the cluster resource's identity",
        "# lacks SystemAssigned. The probe skips a healthy cluster without touching Azure.",
        f"Invoke-RegistrationRepair -TimeoutMinutes {bound(step)}",
    ]
    entry.probe = "-not (Test-RegistrationRepairNeeded)"
    entry.verify = entry.probe


@emits("post.migration_test")
def _post_migration_test(plan: Plan, entry: Entry) -> None:
    step = entry.first
    entry.body += [
        "# Test live migration while the cluster can still go back [A-post]: the first running clustered VM (by name) goes",
        "# to every other node and back home. Move-ClusterVirtualMachineRole runs on a node: from a remote machine it",
        "# needs CredSSP. Every wait shares the step's bound. Then no cluster network may be Partitioned [S-part].",
        f"$deadline = [datetimeoffset]::Now.AddMinutes({bound(step)})",
        "$vms = @(Get-ClusterGroup -Cluster $ClusterName | Where-Object { [string]$_.GroupType -eq 'VirtualMachine' -and [string]$_.State -eq 'Online' } | Sort-Object -Property Name)",
        "if ($vms.Count -eq 0) {",
        "    Request-OperatorAction -Instructions " + literal(
            "No clustered VM is running, so the script cannot test live migration. Start a highly available VM and "
            "rerun without -Acknowledge, or test a failover and a live migration to every node by hand "
            "(Move-ClusterVirtualMachineRole on a node's console), then acknowledge [A-post]."),
        "}",
        "else {",
        "    $vm = [string]$vms[0].Name",
        "    $origin = [string]$vms[0].OwnerNode",
        "    $route = @(@($PlanNodes | Where-Object { $_ -ne $origin }) + @($origin))",
        "    foreach ($node in $route) {",
        "        Invoke-OnNode -Node $origin -ArgumentList @($vm, $node) -ScriptBlock {",
        "            param($Name, $Target)",
        "            $ErrorActionPreference = 'Stop'",
        "            $null = Move-ClusterVirtualMachineRole -Name $Name -Node $Target -MigrationType Live -Wait 0",
        "        }",
        "        $left = [math]::Max(1, [int][math]::Ceiling(($deadline - [datetimeoffset]::Now).TotalMinutes))",
        "        Wait-Until -What ('{0} to run on {1} after a live migration' -f $vm, $node) -TimeoutMinutes $left -Condition {",
        "            $group = Get-ClusterGroup -Cluster $ClusterName -Name $vm",
        "            [string]$group.OwnerNode -eq $node -and [string]$group.State -eq 'Online'",
        "        }",
        "    }",
        "    # A record of the VM the test used (not a plan step, so resuming ignores it).",
        "    Write-Journal -Step $script:CurrentStep -Status 'note' -Start $script:StepStart -Message ('VM {0} live-migrated {1} -> {2}' -f $vm, $origin, ($route -join ' -> '))",
        "}",
        "$partitioned = @(Get-ClusterNetwork -Cluster $ClusterName | Where-Object { [string]$_.State -eq 'Partitioned' })",
        "if ($partitioned.Count -gt 0) {",
        "    throw ('cluster networks Partitioned: {0}. A BMC network adapter whose description gained ''#2'' is the known cause: extend ExcludeAdaptersByDescription, then restart each node in turn [S-part]' -f (@($partitioned | ForEach-Object { $_.Name }) -join ', '))",
        "}",
    ]


@emits("post.oem_drivers")
def _post_oem_drivers(plan: Plan, entry: Entry) -> None:
    entry.body.append("Request-OperatorAction -Instructions " + literal(
        "Some drivers revert to their inbox versions with the OS upgrade [A-post], [A-val]. Reinstall the OEM "
        "drivers with your hardware vendor's package or tool, one node at a time as the vendor's tool requires: "
        "drain the node (Suspend-ClusterNode -Drain), install, restart if asked, resume it (Resume-ClusterNode "
        "-Failback Immediate), and wait until Get-StorageJob shows no job and every virtual disk is Healthy before "
        "the next node. With nothing to reinstall, only acknowledge."))
    # After the operator's work: every node back Up and storage healthy, the safe point the next step needs.
    entry.verify = "(Test-AllNodesUp) -and (@(Get-StorageProblem).Count -eq 0)"


@emits("after.configure")
def _after_configure(plan: Plan, entry: Entry) -> None:
    entry.body.append("Request-OperatorAction -Instructions " + literal(
        "The solution upgrade is done. As the Azure Local solution-upgrade article describes [A-inst]: update the "
        "security posture of the instance (its security settings), create the storage paths for Azure Local VM "
        "images and disks, and set the Active Directory permissions that Cluster-Aware Updating needs; then "
        "acknowledge."))


# The preflight stays inline (not a lib function): it reads the runner's journal state of this very step.
PREFLIGHT = [
    "# Read-only gates [A-ps], [A-ts], [H-maint], and the stale-plan rule: the live cluster must match the plan.",
    "# It runs in every run and rehearsal. A rerun may resume mid node pass (a node paused, storage resyncing by",
    "# design), so after the first pass its health findings are warnings: the drain refuses unhealthy storage.",
    "# Once the solution upgrade is done, Get-StampInformation answers and Infrastructure_1 uses pool space.",
    "$rerun = $script:Journal.ContainsKey($script:CurrentStep) -and $script:Journal[$script:CurrentStep] -in @('done', 'skipped')",
    "$solutionDone = $PlanSolutionDeployStep -and $script:Journal.ContainsKey($PlanSolutionDeployStep) -and $script:Journal[$PlanSolutionDeployStep] -in @('done', 'skipped')",
    "$stale = @()",
    "$problems = @()",
    "# The FailoverClusters cmdlets have no -Credential: they run as the user running this script, who must be an",
    "# administrator of the cluster; -Credential reaches only remoting, CIM and CAU (cmdlet catalog).",
    "try { $live = @(Get-ClusterNode -Cluster $ClusterName) }",
    "catch {",
    "    Stop-Upgrade -Code 2 -Message ('cannot read cluster {0} as {1}\\{2}: {3}. The failover-clustering cmdlets take no -Credential, so run this script as a user who is an administrator of the cluster (and of every node); -Credential applies only to remoting, CIM and CAU.' -f $ClusterName, $env:USERDOMAIN, $env:USERNAME, $_)",
    "}",
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


# --- the offline method: stop, every node at once, start ------------------------------------------

VM_SHUTDOWN_MINUTES = 30  # assumption: a graceful guest shutdown of every VM finishes within this
CLUSTER_NAME_MINUTES = 30  # assumption: every node joins and the core resources come online within this once ClusSvc starts


@emits("offline.stop")
def _offline_stop(plan: Plan, entry: Entry) -> None:
    entry.body += [
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


@emits("offline.start")
def _offline_start(plan: Plan, entry: Entry) -> None:
    step = entry.first
    entry.body += [
        "# The cluster service back to Automatic and started on every node, each one locally through remoting:",
        "# Start-Cluster cannot run remotely without CredSSP (its doc), and if it failed every VM would stay down.",
        "# A node whose service does not start does not stop the others; the wait below names what is missing.",
        "# Then, in order [A-other]: pool healthy and storage jobs done, CSVs online, every virtual disk healthy;",
        "# last, the VMs that offline.stop shut down start again.",
        "foreach ($node in $PlanNodes) {",
        "    try {",
        "        Invoke-OnNode -Node $node -ScriptBlock {",
        "            $ErrorActionPreference = 'Stop'",
        "            Set-Service -Name 'ClusSvc' -StartupType Automatic",
        "            Start-Service -Name 'ClusSvc'",
        "        }",
        "    }",
        "    catch { Write-Warning ('could not start the cluster service on {0}: {1}' -f $node, $_) }",
        "}",
        "# The cluster answers once every node is Up and the core resources (the cluster name) are online: only then",
        "# do the cluster and CIM cmdlets below reach it.",
        f"Wait-Until -What ('every node of {{0}} to be Up and the cluster name to answer' -f $ClusterName) -TimeoutMinutes {CLUSTER_NAME_MINUTES} -Condition {{",
        "    # Until then the cluster name does not resolve: an error is a plain 'not yet', not a failed poll.",
        "    try {",
        "        $up = @(Get-ClusterNode -Cluster $ClusterName | Where-Object { [string]$_.State -eq 'Up' } | ForEach-Object { [string]$_.Name })",
        "        $missing = @($PlanNodes | Where-Object { $up -notcontains $_ })",
        "        if ($missing.Count -gt 0) { Write-Verbose ('not Up yet: {0}' -f ($missing -join ', ')); return $false }",
        "        $session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
        "        Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false",
        "        $true",
        "    }",
        "    catch { $false }",
        "}",
        f"Wait-Until -What 'the storage pool to be Healthy and its storage jobs to finish' -TimeoutMinutes {bound(step)} -Condition {{",
        "    $session = New-CimSession -ComputerName $ClusterName @CredentialArgs",
        "    try {",
        "        $pools = @(Get-StoragePool -CimSession $session -IsPrimordial $false | Where-Object { [string]$_.HealthStatus -ne 'Healthy' })",
        "        $jobs = @(Get-StorageJob -CimSession $session | Where-Object { [string]$_.JobState -ne 'Completed' })",
        "    }",
        "    finally { Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false }",
        "    $pools.Count -eq 0 -and $jobs.Count -eq 0",
        "}",
        "foreach ($csv in @(Get-ClusterSharedVolume -Cluster $ClusterName)) { $null = $csv | Start-ClusterResource }",
        f"Wait-StorageHealthy -TimeoutMinutes {bound(step)}",
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


@emits_group("offline", covers=("registry.apply", "offline.setup", "offline.reboot"))
def _offline(plan: Plan, entry: Entry) -> None:
    """The OS upgrade of every node at once, between offline.stop and offline.start."""
    steps = entry.steps
    entry.probe = "Test-AllNodesUpgraded"
    entry.verify = "Test-AllNodesUpgraded"
    # The registry keys are set inside the bracket; the setup's restart applies them [A-ps], [S-lm].
    registry = [
        "# The registry keys first, on every node still on 22H2: the coming restart applies them [A-ps], [S-lm].",
        "foreach ($node in @($PlanNodes | Where-Object { -not (Test-NodeUpgraded -Node $_) })) {",
        "    if (-not (Test-UpgradeRegistry -Node $node)) { Set-UpgradeRegistry -Node $node }",
        "}",
    ]
    if plan.model.upgrade.source == "media":
        entry.body = registry + [
            "# Every node at once: setup from the extracted media, then one parallel restart [A-other].",
            "$pending = @($PlanNodes | Where-Object { -not (Test-NodeUpgraded -Node $_) })",
            f"if ($pending.Count -gt 0) {{ Start-NodeSetup -Nodes $pending -TimeoutMinutes {longest_bound(steps, 'offline.setup')} }}",
            "if ($pending.Count -gt 0) {",
            f"    Restart-Computer -ComputerName $pending -Protocol WSMan -Force -Wait -For PowerShell -Timeout {60 * longest_bound(steps, 'offline.reboot')} -Delay 15 -Confirm:$false @CredentialArgs",
            "}",
        ]
    else:
        entry.body = registry + [
            "Request-OperatorAction -Instructions " + literal(
                "The cluster is stopped. On every node's console run SConfig, choose 6 (Install updates) then 3 "
                f"(Feature updates), and let each node restart until it reports build {TARGET_BUILD} [A-other]."),
        ]


# --- the CAU run ---------------------------------------------------------------------------------

@emits_group(CAU_RUN, covers=("cau.drain", "cau.install", "cau.reboot", "cau.resume", "cau.storage_wait",
                              "cau.functional_level"))
def _cau_run(plan: Plan, entry: Entry) -> None:
    """One CAU run (`Invoke-CauRun` with the RollingUpgradePlugin) performs every per-node CAU step."""
    upgrade, steps = plan.model.upgrade, entry.steps
    per_node = [s for s in steps if s.node]
    storage_wait = longest_bound(per_node, "cau.storage_wait")
    node_units = [u for u in plan.units if u.cau]
    far_bound = whole_minutes(sum(u.bound_minutes for u in node_units))
    # Done means every node upgraded, Up (not paused) and storage healthy, not only the builds [W-invoke], [H-maint].
    # A raised functional level is not required: P3's post.functional_level is the fallback that raises it.
    entry.probe = "(Test-AllNodesUpgraded) -and (Test-AllNodesUp) -and (@(Get-StorageProblem).Count -eq 0)"
    entry.verify = entry.probe
    fits = "; ".join(f"{literal(u.node)} = {u.fit_minutes:.1f}" for u in node_units)
    lines = [
        "# One CAU run performs the drain, setup, reboots, resume and storage wait of every node, one node at a",
        "# time [A-ps], [W-invoke]. It runs as a background job so this script can watch it with Get-CauRun.",
        "# The window rule, as the plan's units say: CAU runs the pre-update script on each node before it drains",
        "# it [W-invoke]; the script refuses a node whose unit no longer fits before the window ends, so CAU stops",
        "# cleanly between nodes and never in the middle of one. -StopAfter is only a far bound (the summed bounds",
        "# of the node units past the window's end), not the window. Nodes already upgraded stay upgraded (mixed",
        "# mode, reversible until the functional level is raised) [W-rolling].",
        "# The job is the CAU coordinator and must stay alive [W-invoke]: it is never removed while it runs, a",
        "# Get-CauRun error is only a missed look, and a deliberate cancel (Ctrl+C) goes through Stop-CauRun.",
        "# Per node: the minutes its unit needs to its safe point (the plan's fit_minutes, as the simulator uses).",
        f"$CauUnitFit = @{{ {fits} }}",
        "$preUpdate = Install-CauWindowGate -FitMinutes $CauUnitFit -WindowEnd $script:WindowEndAt",
        "$CauRunArgs = @{",
        "    ClusterName = $ClusterName",
        f"    CauPluginName = {literal(ROLLING_UPGRADE_PLUGIN)}",
        "    CauPluginArguments = $CauPluginArguments",
        f"    MaxFailedNodes = {upgrade.max_failed_nodes}",
        f"    MaxRetriesPerNode = {upgrade.max_retries_per_node}",
        "    RequireAllNodesOnline = $true",
        "    NodeOrder = $PlanNodes",
        f"    RebootTimeoutMinutes = {plan.reboot_timeout}",
        "    PreUpdateScript = $preUpdate",
        "    EnableFirewallRules = $true",
        "    Force = $true",
        "}",
        "if ($Credential) { $CauRunArgs.Credential = $Credential }",
        f"$farBound = [timespan]::FromMinutes({far_bound})  # the node units' summed bounds (the plan's)",
        "$CauRunArgs.StopAfter = $farBound",
        "if ($script:WindowEndAt -lt [datetimeoffset]::MaxValue) { $CauRunArgs.StopAfter = ($script:WindowEndAt - [datetimeoffset]::Now) + $farBound }",
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
        "    if (Test-CauStoppedAtWindow -FitMinutes $CauUnitFit -WindowEnd $script:WindowEndAt) {",
        "        # The pre-update script refused the next node: the run ended between nodes, at a safe point.",
        "        Write-CauSubSteps",
        "        $why = ('the CAU run stopped between nodes: the next node''s unit does not fit before the window ends {0:u}' -f $script:WindowEndAt)",
        "        Write-Journal -Step $script:CurrentStep -Status 'window' -Start $script:StepStart -Message $why",
        "        Stop-Upgrade -Code 4 -Message ('{0}. Rerun in the next window: upgraded nodes stay upgraded and the run continues with the rest.' -f $why)",
        "    }",
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
    entry.body = lines
