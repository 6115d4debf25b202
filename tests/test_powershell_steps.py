"""Issue 9, section 2, defects 2, 3, 8, 9, 12 and 13: the offline start, the readiness gate, the LCM extension,
the solution deployment's authority, the Network ATC pass and the pinned ARM template.

Each test reads the emitted script through its parse tree (tests/ps_parse.py): which commands a step function
calls, with which parameters, inside which script block; never a substring where structure matters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ps_parse
from hciplan.backends import azurelocal, powershell
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


def _plan(path: Path):
    result = compile_checked(load_source(path))
    assert result.ok
    return result.plan


@pytest.fixture(scope="module")
def sixteen():
    """The 16-node example: solution upgrade with an AD OU path."""
    plan = _plan(ROOT / "examples" / "sixteen-node.hciplan")
    script = powershell.render(plan)[powershell.FILE_NAME]
    return plan, script, ps_parse.parse(script)


def _function(tree, name: str):
    node = ps_parse.function_node(tree, name)
    assert node is not None, f"{name} is not defined"
    return node


# --- 13: the ARM template is pinned, and the plan passes no parameter the template lacks -------------------------

def test_template_parameters_match_the_fixture_of_the_pinned_template() -> None:
    fixture = json.loads((FIXTURES / "upgrade-cluster-parameters.json").read_text(encoding="utf-8"))
    assert azurelocal.TEMPLATE_COMMIT in fixture["source"]
    assert set(fixture["parameters"]) == azurelocal.TEMPLATE_PARAMETERS
    assert "adouPath" not in azurelocal.TEMPLATE_PARAMETERS


def test_template_uri_is_pinned_to_a_commit_and_overridable(sixteen) -> None:
    _, _, tree = sixteen
    assert "/master/" not in azurelocal.TEMPLATE_URI
    assert f"/{azurelocal.TEMPLATE_COMMIT}/" in azurelocal.TEMPLATE_URI
    defaults = [n for n in ps_parse.walk(tree.root_node) if n.type == "script_parameter"
                and "$TemplateUri" in ps_parse.text(n)]
    assert len(defaults) == 1, "-TemplateUri is a script parameter"
    default = ps_parse.text(defaults[0]).split("=", 1)[1].strip()
    assert ps_parse.evaluate_literal(default) == azurelocal.TEMPLATE_URI


def test_plan_template_values_are_parameters_of_the_template(sixteen) -> None:
    plan, _, tree = sixteen
    assert plan.model.upgrade.solution.adou_path, "the example must carry an OU path for this test to mean anything"
    keys = ps_parse.splat_keys(tree)["PlanTemplateValues"]
    assert keys and keys <= azurelocal.TEMPLATE_PARAMETERS, keys - azurelocal.TEMPLATE_PARAMETERS


# --- 3: the readiness gate blocks on every failed test except the documented TPM warnings -------------------------

def _string_values(node) -> list[str]:
    return [ps_parse.evaluate_literal(ps_parse.text(n)) for n in ps_parse.walk(node)
            if n.type == "string_literal" and ps_parse.text(n).startswith("'")]


def _checker_records():
    fixture = json.loads((FIXTURES / "envchecker-results.json").read_text(encoding="utf-8"))
    return fixture["checker_results"] + fixture["article_sample"]


def test_readiness_gate_keys_on_status_never_on_severity(sixteen) -> None:
    _, _, tree = sixteen
    gate = _function(tree, "Step-p5-readiness_validate")
    failed = _function(tree, "Test-ReadinessFailed")
    names = [c.name for c in ps_parse.commands_under(gate)]
    assert "Invoke-AzStackHciUpgradeValidation" in names and "Test-ReadinessFailed" in names
    validation = next(c for c in ps_parse.commands_under(gate) if c.name == "Invoke-AzStackHciUpgradeValidation")
    assert "PassThru" in validation.parameters
    # No literal of the gate or of its failure test names a Severity: Critical and Warning failures block alike.
    for node in (gate, failed):
        assert not {v.upper() for v in _string_values(node)} & {"CRITICAL", "WARNING", "2"}
    # Every failed Status the checker writes (the enum's name, or its value in JSON) counts as failed.
    statuses = {str(r["Status"]).upper() for r in _checker_records()} | {
        str(r["AdditionalData"]["Status"]).upper() for r in _checker_records() if "AdditionalData" in r}
    failed_literals = {v.upper() for v in _string_values(failed)}
    assert {"FAILURE", "1"} <= failed_literals and statuses - {"0", "SUCCESS"} <= failed_literals
    # The fields the gate reads are the checker's own.
    read = {ps_parse.evaluate_literal(ps_parse.text(n.children[2])) for n in ps_parse.walk(failed)
            if n.type == "element_access" and ps_parse.text(n.children[2]).startswith("'")}
    fields = set().union(*(r.keys() for r in _checker_records()))
    assert read and read <= fields, read - fields


def test_readiness_tpm_warnings_come_from_one_python_constant(sixteen) -> None:
    _, _, tree = sixteen
    gate = _function(tree, "Step-p5-readiness_validate")
    lists = [n for n in ps_parse.walk(gate) if n.type == "assignment_expression"
             and ps_parse.text(n.children[0]).strip() == "$tpmWarnings"]
    assert len(lists) == 1
    assert tuple(_string_values(lists[0])) == azurelocal.READINESS_TPM_WARNINGS
    assert len(azurelocal.READINESS_TPM_WARNINGS) == 9  # domain.md section 3, [A-val]'s warning table
    warning = next(c for c in ps_parse.commands_under(gate) if c.name == "Test-TpmReadinessWarning")
    assert warning.argument("Properties") == "$tpmWarnings"
    # A warning is listed (Write-Warning), a blocking failure is listed and then thrown.
    names = [c.name for c in ps_parse.commands_under(gate)]
    assert names.count("Write-Warning") >= 2
    assert any(n.type == "flow_control_statement" and ps_parse.text(n).startswith("throw") for n in ps_parse.walk(gate))
    # The TPM test that blocks (TPM version 2.0, Critical) names none of the warning properties.
    version = next(r for r in _checker_records() if r.get("Name") == "AzStackHci_Hardware_Test_Tpm_Version")
    text = " ".join(str(version.get(k, "")) for k in ("Name", "Title", "DisplayName")).lower()
    assert not any(p.lower() in text for p in azurelocal.READINESS_TPM_WARNINGS)


# --- 2: the offline method starts the cluster service on each node, never Start-Cluster from the orchestrator ------

@pytest.fixture(scope="module")
def offline():
    from test_powershell import VARIANTS, plan_of_text
    plan = plan_of_text(VARIANTS["offline-media"])
    script = powershell.render(plan)[powershell.FILE_NAME]
    return plan, script, ps_parse.parse(script)


def _script_block_of(command):
    """The script block given to a command (`Invoke-OnNode -ScriptBlock { ... }`)."""
    return next(n for n in ps_parse.walk(command.node) if n.type == "script_block_expression")


def test_offline_start_starts_clussvc_on_every_node_through_remoting(offline) -> None:
    plan, _, tree = offline
    start = _function(tree, "Step-p2-offline_start")
    commands = ps_parse.commands_under(start)
    assert "Start-Cluster" not in {c.name for c in commands}, "Start-Cluster needs CredSSP when run remotely"
    # The loop over the plan's nodes runs Set-Service Automatic and Start-Service ClusSvc inside Invoke-OnNode.
    remote = [c for c in commands if c.name == "Invoke-OnNode" and c.argument("Node") == "$node"]
    starts = []
    for call in remote:
        inner = ps_parse.commands_under(_script_block_of(call))
        names = {c.name: c for c in inner}
        if "Start-Service" in names:
            assert ps_parse.evaluate_literal(names["Start-Service"].argument("Name")) == "ClusSvc"
            assert (names["Set-Service"].argument("StartupType") or "").strip("'") == "Automatic"
            starts.append(call)
    assert len(starts) == 1
    loop = starts[0].node
    while loop.type != "foreach_statement":
        loop = loop.parent
    assert "$PlanNodes" in ps_parse.text(loop).split("{", 1)[0]


def test_offline_start_waits_bounded_for_every_node_up_before_the_storage(offline) -> None:
    _, _, tree = offline
    start = _function(tree, "Step-p2-offline_start")
    commands = ps_parse.commands_under(start)
    waits = [c for c in commands if c.name == "Wait-Until"]
    first = waits[0]
    assert first.argument("TimeoutMinutes").isdigit()
    inside = {c.name for c in ps_parse.commands_under(_script_block_of(first))}
    assert "Get-ClusterNode" in inside
    starts = [c.line for c in commands if c.name == "Start-Service"]
    storage = [c.line for c in commands if c.name in ("Get-StoragePool", "Start-ClusterResource")]
    assert max(starts) < first.line < min(storage)


# --- 9: Azure's provisioning states, not Get-StampInformation, say the solution upgrade is done -------------------

def _runner_call(tree, step_id: str):
    for command in ps_parse.commands(tree):
        if command.name == "Invoke-PlanStep" and ps_parse.evaluate_literal(command.argument("Id")) == step_id:
            return command
    raise AssertionError(f"no Invoke-PlanStep for {step_id}")


def test_solution_deploy_probe_and_verify_read_the_deployment_and_deployment_settings(sixteen) -> None:
    _, _, tree = sixteen
    call = _runner_call(tree, "p6.solution_deploy")
    for parameter in ("Probe", "Verify"):
        block = call.argument(parameter)
        assert block and "Test-SolutionDeployed" in block and "Test-SolutionInstalled" not in block, parameter
    deployed = _function(tree, "Test-SolutionDeployed")
    commands = {c.name: c for c in ps_parse.commands_under(deployed)}
    assert "Get-StampInformation" not in commands and "Test-SolutionInstalled" not in commands
    deployment = commands["Get-AzResourceGroupDeployment"]
    assert ps_parse.evaluate_literal(deployment.argument("Name")) == "hciplan-upgrade-deploy"
    resource = commands["Get-AzResource"]
    assert "ExpandProperties" in resource.parameters
    text = ps_parse.text(deployed)
    assert "Microsoft.AzureStackHCI/clusters/{2}/deploymentSettings/default" in text  # the template's resource [Q-tpl]
    states = {ps_parse.evaluate_literal(ps_parse.text(n)) for n in ps_parse.walk(deployed) if n.type == "string_literal"
              and ps_parse.text(n).startswith("'")}
    assert {"provisioningState", "Succeeded"} <= states and "ProvisioningState" in text


def test_after_verify_asks_azure_not_get_stamp_information(sixteen) -> None:
    _, _, tree = sixteen
    verify = _function(tree, "Step-p7-verify")
    names = {c.name for c in ps_parse.commands_under(verify)}
    assert "Test-SolutionDeployed" in names and "Test-SolutionInstalled" not in names


# --- 8: the LCM extension is updated when an update is offered, and waited for before the solution validation ------

def test_lcm_extension_installs_updates_and_waits_within_the_step_bound(sixteen) -> None:
    plan, _, tree = sixteen
    step = next(s for s in plan.steps if s.kind == "lcm.extension")
    function = _function(tree, "Step-" + step.id.replace(".", "-"))
    commands = ps_parse.commands_under(function)
    names = [c.name for c in commands]
    for cmdlet in ("New-AzConnectedMachineExtension", "Get-AzConnectedExtensionMetadata", "Update-AzConnectedExtension",
                   "Wait-Until"):
        assert cmdlet in names, cmdlet
    update = next(c for c in commands if c.name == "Update-AzConnectedExtension")
    assert "'Microsoft.AzureStack.Orchestration.LcmController'" in update.argument("ExtensionTarget")
    assert "targetVersion" in update.argument("ExtensionTarget")
    # The update sits in the branch where the extension exists and a newer version is offered.
    branch = update.node
    while branch.type != "if_statement":
        branch = branch.parent
    assert "$offered[0] -gt $current" in ps_parse.text(branch).split("{", 1)[0]
    wait = next(c for c in commands if c.name == "Wait-Until")
    assert int(wait.argument("TimeoutMinutes")) == round(step.bound_minutes)
    condition = ps_parse.text(_script_block_of(wait))
    assert "ProvisioningState" in condition and "'Succeeded'" in condition
    assert step.mean_minutes >= 15  # the step's duration includes LCM initialisation [S-lcm]


def test_solution_validate_checks_every_node_lcm_extension_first(sixteen) -> None:
    _, _, tree = sixteen
    validate = _function(tree, "Step-p6-solution_validate")
    commands = ps_parse.commands_under(validate)
    ready = [c for c in commands if c.name == "Test-LcmExtensionReady"]
    deploy = [c for c in commands if c.name == "Invoke-SolutionDeployment"]
    assert ready and deploy and ready[0].line < deploy[0].line
    assert ready[0].argument("Node") == "$_"
    assert any("$PlanNodes" in ps_parse.text(n) for n in ps_parse.walk(validate) if n.type == "pipeline"
               and "Test-LcmExtensionReady" in ps_parse.text(n))


# --- 12: the Network ATC pass: operator text by node position, and the other nodes' vSwitch before the next drain ---

def _instructions(function) -> str:
    call = next(c for c in ps_parse.commands_under(function) if c.name == "Request-OperatorAction")
    return ps_parse.evaluate_literal(call.argument("Instructions"))


def test_atc_operator_text_depends_on_the_node_position(sixteen) -> None:
    plan, _, tree = sixteen
    order = [n.name for n in plan.model.ordered_nodes()]
    first = _instructions(_function(tree, f"Step-p4-atc-{order[0]}-configure"))
    assert "Add-NetIntent" in first and "Rename-VMSwitch" in first
    # The first node's text ends with the rename on the remaining nodes and the VM NIC reconnection.
    tail = first.split("Then,", 1)[1]
    assert all(name in tail for name in order[1:]) and "Connect-VMNetworkAdapter" in tail
    for node in order[1:]:
        later = _instructions(_function(tree, f"Step-p4-atc-{node}-configure"))
        assert later != first
        # Later nodes are told not to run them: the intent is cluster-wide, the vSwitch already renamed.
        assert "Do not run Add-NetIntent or Rename-VMSwitch" in later
        assert later.count("Add-NetIntent") == 1 and later.count("Rename-VMSwitch") == 1


def test_a_rename_switch_step_checks_every_node_before_the_second_drain(sixteen) -> None:
    plan, _, tree = sixteen
    order = [n.name for n in plan.model.ordered_nodes()]
    ids = [s.id for s in plan.steps]
    rename = ids.index("p4.atc_rename_switch")
    assert ids.index(f"p4.atc.{order[0]}.storage_wait") < rename < ids.index(f"p4.atc.{order[1]}.drain")
    step = plan.step("p4.atc_rename_switch")
    assert step.spec.interactive and step.spec.downtime and step.spec.scope == "cluster" and step.spec.source == "[A-atc]"
    call = _runner_call(tree, "p4.atc_rename_switch")
    for parameter in ("Probe", "Verify"):
        assert "Get-AtcSwitchProblem" in call.argument(parameter), parameter
    # Every later node's configure step checks the switches again, so every later drain is preceded by a check.
    for node in order[1:]:
        names = [c.name for c in ps_parse.commands_under(_function(tree, f"Step-p4-atc-{node}-configure"))]
        assert "Get-AtcSwitchProblem" in names, node


def test_the_switch_check_reads_every_node_vswitch_and_vm_nics(sixteen) -> None:
    _, _, tree = sixteen
    check = _function(tree, "Get-AtcSwitchProblem")
    names = [c.name for c in ps_parse.commands_under(check)]
    assert {"Get-VMSwitch", "Get-VMNetworkAdapter", "Invoke-OnNode"} <= set(names)
    loops = [n for n in ps_parse.walk(check) if n.type == "foreach_statement"
             and "$PlanNodes" in ps_parse.text(n).split("{", 1)[0]]
    assert loops, "the check runs on every node of the plan"
    assert "SwitchName" in ps_parse.text(check)


def test_a_two_node_pass_has_one_rename_step() -> None:
    from test_powershell import plan_of_text
    from plan_models import Shape, hciplan_text
    plan = plan_of_text(hciplan_text(Shape(nodes=2, atc_configured=False)))
    if not any(s.kind == "atc.configure" for s in plan.steps):
        pytest.skip("the shape has no Network ATC pass")
    assert sum(s.kind == "atc.rename_switch" for s in plan.steps) == 1
