"""Issue 9, section 2, defects 1, 6, 10, 11, 14 and 16, and the manual method's `os.restart`: the node passes the
script drives itself (drain, restart, build and media checks), BitLocker between P1 and P7, the VM version
update, and what -Credential reaches. Checked through the tree-sitter parse tree of the emitted scripts and of
the lib/*.ps1 helpers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ps_parse
from hciplan.backends import cmdlets, powershell, runbook
from hciplan.backends.powershell import library, operator
from hciplan.backends.powershell.steps import bound
from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.durations import DEFAULT_MODELS
from hciplan.compiler.pipeline import check_text, load_source
from hciplan.simulator import prepared
from plan_models import Shape, hciplan_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
VARIANTS = {
    "manual-media": Shape(method="manual", source="media", solution=True),
    "manual-wu-bitlocker": Shape(method="manual", bitlocker=True),
    "cau-bitlocker-solution": Shape(nodes=3, bitlocker=True, solution=True, vm_version="update"),
    "offline-media": Shape(method="offline", source="media", nodes=3),
}


def _plan(text: str, name: str = "variant.hciplan"):
    result = compile_checked(check_text(text, name))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics if d.severity.value == "error"]
    return result.plan


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[object, object]]:
    """Every example's and variant's plan and script parse tree."""
    out = {}
    for path in EXAMPLES:
        result = compile_checked(load_source(path))
        assert result.ok
        out[path.stem] = result.plan
    for name, shape in VARIANTS.items():
        out[name] = _plan(hciplan_text(shape))
    return {name: (plan, ps_parse.parse(powershell.render(plan)[powershell.FILE_NAME])) for name, plan in out.items()}


def _function(tree, name: str):
    node = ps_parse.function_node(tree, name)
    assert node is not None, f"{name} is not defined"
    return node


def _calls(node, name: str) -> list[ps_parse.Command]:
    return [c for c in ps_parse.commands_under(node) if c.name.lower() == name.lower()]


def _ancestors(node, kind: str):
    node = node.parent
    while node is not None:
        if node.type == kind:
            yield node
        node = node.parent


def _lib(file: str):
    return ps_parse.parse(library.read_file(file))


# --- defect 1: the drain check and the cluster's own groups -----------------------------------------------------

def test_the_drain_check_leaves_out_the_core_groups_by_group_type_not_by_name() -> None:
    drain = _function(_lib("node"), "Invoke-NodeDrain")
    [groups] = _calls(drain, "Get-ClusterGroup")
    where = ps_parse.text(groups.node.parent)  # the pipeline: Get-ClusterGroup | Where-Object { ... }
    assert "GroupType" in where and "-notin $core" in where
    assert "$_.Name" not in where and "Cluster Group" not in where  # not by the (localized) group names
    core = ps_parse.assigned_expressions(_lib("node"), "$core")
    assert core and all(t in core[0] for t in ("'Cluster'", "'AvailableStorage'", "'ClusterUpdateAgent'"))
    text = ps_parse.text(drain)
    assert "Move-ClusterGroup" in text  # the comment says why the groups are not moved first


# --- defect 6: restarts outside CAU ----------------------------------------------------------------------------

def test_restarts_use_wsman_and_wait_for_the_node_to_rejoin_within_the_steps_bound() -> None:
    restart = _function(_lib("node"), "Invoke-NodeRestart")
    [call] = _calls(restart, "Restart-Computer")
    assert call.argument("Protocol") == "WSMan"
    assert cmdlets.lookup("Restart-Computer").accepts("Protocol")
    waits = _calls(restart, "Wait-Until")
    assert waits and waits[-1].line > call.line
    rejoin = ps_parse.text(waits[-1].node)
    assert "Test-NodePaused -Node $Node" in rejoin and "Get-MinutesLeft -Deadline $deadline" in rejoin
    # after setup, windeploy (and SetupHost) must have ended first
    [after] = [c for c in ps_parse.commands_under(restart) if c.name == "Wait-Until" and "windeploy.exe" in ps_parse.text(c.node)]
    guard = ps_parse.text(next(_ancestors(after.node, "if_statement")))
    assert guard.startswith("if ($AfterSetup)") and "SetupHost.exe" in ps_parse.text(after.node)
    assert after.line < waits[-1].line


def test_every_node_restart_step_passes_its_plan_bound_and_the_os_restart_waits_for_setup(built) -> None:
    seen = set()
    for plan, tree in built.values():
        for step in plan.steps:
            if step.kind not in ("node.reboot", "os.restart"):
                continue
            function = _function(tree, "Step-" + step.id.replace(".", "-"))
            [call] = _calls(function, "Invoke-NodeRestart")
            assert call.argument("TimeoutMinutes") == str(bound(step))
            assert ("AfterSetup" in call.parameters) == (step.kind == "os.restart"), step.id
            seen.add(step.kind)
    assert seen == {"node.reboot", "os.restart"}


# --- the plan change: the manual method's restart into 23H2 is an os.restart ----------------------------------

def test_the_manual_restart_after_setup_is_a_feature_update_restart() -> None:
    plan = _plan(hciplan_text(Shape(method="manual", source="media")))
    restarts = [s for s in plan.steps if s.phase == "P2" and s.id.endswith(".reboot")]
    assert restarts and {s.kind for s in restarts} == {"os.restart"}
    spec = CATALOG["os.restart"]
    assert (spec.phase, spec.scope, spec.effect, spec.duration_model) == ("P2", "node", "reboot", "os.reboot")
    assert spec.cmdlets == ("Restart-Computer",) and spec.source == "[A-other], [G-hol]"
    assert "os.restart" in prepared.OS_REBOOTS and "node.reboot" not in prepared.OS_REBOOTS
    os_reboot = DEFAULT_MODELS["os.reboot"]
    assert all(s.mean_minutes == pytest.approx(DEFAULT_MODELS["os.reboot"].mean) for s in restarts), os_reboot
    assert all(s.bound_minutes >= os_reboot.high for s in restarts)


def test_the_runbook_tells_the_operator_how_to_do_and_check_the_os_restart() -> None:
    result = compile_checked(check_text(hciplan_text(Shape(method="manual", source="media")), "v.hciplan"))
    text = runbook.render(result.plan, result.diagnostics, None)[runbook.FILE_NAME]
    assert "-Protocol WSMan" in text and "windeploy" in text and "Paused" in text
    texts = operator.OPERATOR_TEXTS["os.restart"]
    assert texts.verify is not None and texts.backout is not None


# --- defect 10: BitLocker between P1 and P7 --------------------------------------------------------------------

RESTARTING = {"node.reboot": "Invoke-NodeRestart", "os.restart": "Invoke-NodeRestart",
              "solution.deploy": "Invoke-SolutionDeployment"}


def test_every_restart_rechecks_a_suspended_bitlocker_first(built) -> None:
    checked = set()
    for name, (plan, tree) in built.items():
        suspended = {s.node for s in plan.steps if s.kind == "bitlocker.suspend"}
        for step in plan.steps:
            if step.kind not in RESTARTING:
                continue
            function = _function(tree, "Step-" + step.id.replace(".", "-"))
            asserts = _calls(function, "Assert-BitLockerSuspended")
            if not suspended:
                assert not asserts, step.id
                continue
            [check] = asserts
            [restart] = _calls(function, RESTARTING[step.kind])
            assert check.line < restart.line, step.id
            nodes = check.argument("Node")
            assert all(f"'{n}'" in nodes for n in ([step.node] if step.node else suspended)), (step.id, nodes)
            checked.add(step.kind)
    assert checked == set(RESTARTING)


def test_the_bitlocker_helpers_resuspend_and_name_the_nodes_left_suspended() -> None:
    tree = _lib("bitlocker")
    assert ps_parse.errors(tree) == []
    check = _function(tree, "Assert-BitLockerSuspended")
    [resuspend] = _calls(check, "Suspend-NodeBitLocker")
    guard = ps_parse.text(next(_ancestors(resuspend.node, "statement_block")).parent)
    assert "'Off'" in ps_parse.text(check) and "throw" in ps_parse.text(check)
    assert guard  # re-suspends inside the loop, after the Off check
    notice = _function(tree, "Write-BitLockerNotice")
    text = ps_parse.text(notice)
    assert "Resume-BitLocker -MountPoint C:" in text and "$suspended -join" in text
    assert "if ($script:Rehearsal) { return }" in text
    [probe] = _calls(notice, "Get-BitLockerVolume")
    assert next(_ancestors(probe.node, "try_statement"), None) is not None  # never throws from Stop-Upgrade
    docs = (ROOT / "docs" / "powershell.md").read_text(encoding="utf-8")
    assert "### BitLocker" in docs and "Write-BitLockerNotice" in docs and "Assert-BitLockerSuspended" in docs


# --- defect 11: Update-VMVersion restores the VM's state ---------------------------------------------------------

def test_a_failed_vm_version_update_never_leaves_a_running_vm_off(built) -> None:
    cases = [tree for plan, tree in built.values() if any(s.kind == "post.vm_version" for s in plan.steps)]
    assert cases
    for tree in cases:
        function = _function(tree, "Step-p3-vm_version")
        [update] = _calls(function, "Update-VMVersion")
        [stop] = _calls(function, "Stop-VM")
        [start] = _calls(function, "Start-VM")
        guarded = next(_ancestors(update.node, "try_statement"))
        assert next(_ancestors(stop.node, "try_statement")) == guarded
        finally_clause = next(_ancestors(start.node, "finally_clause"))
        assert finally_clause.parent == guarded
        assert "$running" in ps_parse.text(next(_ancestors(start.node, "if_statement")))


# --- defect 14: the 23H2 build family, on the nodes and on the media -------------------------------------------

def test_only_the_23h2_build_counts_as_upgraded_and_the_build_seen_is_reported() -> None:
    tree = _lib("node")
    upgraded = ps_parse.text(_function(tree, "Test-NodeUpgraded"))
    assert "-ge" not in upgraded and "($build -eq $TargetBuild)" in upgraded
    asserted = ps_parse.text(_function(tree, "Assert-NodeUpgraded"))
    assert "throw" in asserted and "$build" in asserted.split("throw", 1)[1]


def test_the_media_check_reads_the_build_the_media_installs(built) -> None:
    media = _function(_lib("setup"), "Get-NodeMediaProblem")
    [image] = _calls(media, "Get-WindowsImage")
    assert image.argument("Index") == "1" and "install.wim" in ps_parse.text(media)
    assert next(_ancestors(image.node, "script_block_expression"), None) is not None  # on the node, remotely
    assert "$version.Build -ne $Build" in ps_parse.text(media)
    assert cmdlets.lookup("Get-WindowsImage").module == "Dism"
    plan, tree = built["manual-media"]
    step = next(s for s in plan.steps if s.kind == "media.verify")
    function = _function(tree, "Step-" + step.id.replace(".", "-"))
    assert _calls(function, "Get-NodeMediaProblem") and "throw" in ps_parse.text(function)


# --- defect 16: what -Credential reaches -----------------------------------------------------------------------

def test_no_failover_clustering_cmdlet_is_given_a_credential(built) -> None:
    for name, (_, tree) in built.items():
        for command in ps_parse.commands(tree):
            entry = cmdlets.lookup(command.name)
            if entry is None or entry.module != "FailoverClusters":
                continue
            assert "Credential" not in command.parameters and "CredentialArgs" not in command.splats, (name, command.line)
    assert not any(e.accepts("Credential") for e in cmdlets.CATALOG.values() if e.module == "FailoverClusters")


def test_the_operator_is_told_to_run_as_a_cluster_administrator(built) -> None:
    docs = (ROOT / "docs" / "powershell.md").read_text(encoding="utf-8")
    row = next(line for line in docs.splitlines() if line.startswith("| `-Credential` |"))
    assert "no `-Credential` parameter" in row and "administrator of the cluster" in row
    _, tree = built["four-node"]
    preflight = _function(tree, "Step-p0-preflight")
    [nodes] = [c for c in _calls(preflight, "Get-ClusterNode")]
    trial = next(_ancestors(nodes.node, "try_statement"))
    catch = ps_parse.text(next(c for c in trial.children if c.type == "catch_clauses"))
    assert "Stop-Upgrade -Code 2" in catch and "administrator of the cluster" in catch and "-Credential" in catch


def test_failure_messages_name_only_what_the_operator_can_run(built) -> None:
    helpers = set(library.helpers())
    for name, (_, tree) in built.items():
        function = ps_parse.function_node(tree, "Step-p3-registry_check")
        if function is None:
            continue
        [throw] = [n for n in ps_parse.walk(function) if n.type == "flow_control_statement" and ps_parse.text(n).startswith("throw")]
        message = ps_parse.text(throw)
        assert not [h for h in helpers if h in message], name  # no helper that exists only inside the script
        assert "Set-ItemProperty" in message and "Resume-ClusterNode" in message and "rerun" in message
