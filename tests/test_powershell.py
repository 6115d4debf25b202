"""The PowerShell backend: every script parses as Windows PowerShell 5.1, uses only catalog cmdlets with
real parameters, calls its steps in plan order, quotes every user value, and matches its reviewed golden file.

Golden scripts live in tests/golden/powershell/; regenerate them with HCIPLAN_REGEN=1 and review the diff.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ps_parse
from hciplan.backends import BackendUnsupported, cmdlets, powershell
from hciplan.backends.pstext import function_name, literal
from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import check_text, load_source
from hciplan.fmt import quote  # the language's string escaping, in one place
from helpers import assert_golden
from plan_models import Shape, hciplan_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
GOLDEN = Path(__file__).parent / "golden" / "powershell"
SCRIPTBLOCK_PARAMETERS = {"$Probe", "$Action", "$Verify", "$Condition"}  # the runner's own `& $x` calls


def _with_order(text: str, order: list[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in order)
    return text.replace('to = "23H2"', f'to = "23H2"\n  node_order = [{quoted}]')


# Variants beyond the examples: every method that has a script, both sources, 2 to 16 nodes, AKS, solution or not.
VARIANTS = {
    "cau-wu-4": hciplan_text(Shape()),
    "cau-media-with-cau-3": hciplan_text(Shape(nodes=3, source="media", functional_level="with_cau")),
    "cau-2-node-bitlocker": hciplan_text(Shape(nodes=2, bitlocker=True)),
    "cau-16-node-solution": _with_order(hciplan_text(Shape(nodes=16, solution=True, atc_configured=False, wdac=True,
                                                           aks=True, bitlocker=True, vm_version="update")),
                                        [f"N{i:02d}" for i in range(16, 0, -1)]),
    "manual-media": hciplan_text(Shape(method="manual", source="media", solution=True)),
    "manual-wu": hciplan_text(Shape(method="manual", aks=True)),
    "offline-media": hciplan_text(Shape(method="offline", source="media", nodes=3)),
    "offline-wu": hciplan_text(Shape(method="offline", functional_level="manual")),
}
GOLDEN_VARIANTS = ("manual-media", "offline-wu", "cau-media-with-cau-3")


def plan_of_text(text: str):
    result = compile_checked(check_text(text, "variant.hciplan"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics if d.severity.value == "error"]
    return result.plan


def plan_of_example(path: Path):
    result = compile_checked(load_source(path))
    assert result.ok
    return result.plan


def script_of(plan) -> str:
    return powershell.render(plan)[powershell.FILE_NAME]


CASES = [pytest.param(lambda p=p: plan_of_example(p), id=p.stem) for p in EXAMPLES] + [
    pytest.param(lambda t=t: plan_of_text(t), id=name) for name, t in VARIANTS.items()]


@pytest.fixture(scope="module")
def scripts() -> dict[str, tuple[object, str, object]]:
    """Every case's plan, script and parse tree, built once."""
    built = {}
    for case in CASES:
        plan = case.values[0]()
        script = script_of(plan)
        built[case.id] = (plan, script, ps_parse.parse(script))
    return built


IDS = [c.id for c in CASES]


@pytest.mark.parametrize("case", IDS)
def test_script_parses_without_error_nodes(scripts, case) -> None:
    _, script, tree = scripts[case]
    assert script.startswith("\ufeff#Requires -Version 5.1\n#Requires -RunAsAdministrator\n")
    assert ps_parse.errors(tree) == []


@pytest.mark.parametrize("case", IDS)
def test_every_command_is_a_script_function_or_a_catalog_cmdlet_with_catalog_parameters(scripts, case) -> None:
    _, _, tree = scripts[case]
    defined = ps_parse.function_names(tree)
    splats = ps_parse.splat_keys(tree)
    problems = []
    for command in ps_parse.commands(tree):
        if command.name in SCRIPTBLOCK_PARAMETERS:
            continue
        assert not command.dynamic, f"line {command.line}: {command.name} is invoked by expression, not by name"
        if command.name.lower() in defined:
            continue
        entry = cmdlets.lookup(command.name)
        if entry is None:
            problems.append(f"line {command.line}: {command.name} is neither defined nor in the catalog")
            continue
        for parameter in command.parameters:
            if not entry.accepts(parameter):
                problems.append(f"line {command.line}: {command.name} has no parameter -{parameter}")
        for splat in command.splats:
            assert splat in splats, f"line {command.line}: @{splat} is never assigned a hashtable"
            for key in splats[splat]:
                if not entry.accepts(key):
                    problems.append(f"line {command.line}: {command.name} has no parameter -{key} (via @{splat})")
    assert problems == []


@pytest.mark.parametrize("case", IDS)
def test_no_expandable_strings_so_nothing_is_interpolated(scripts, case) -> None:
    _, _, tree = scripts[case]
    kinds = {n.type for n in ps_parse.walk(tree.root_node)}
    assert not kinds & {"expandable_string_literal", "expandable_here_string_literal"}


def _runner_calls(tree) -> list[tuple[str, str, list[str], bool]]:
    """(id, action function, covered ids, irreversible flag) of each Invoke-PlanStep call, in order."""
    calls = []
    for command in ps_parse.commands(tree):
        if command.name != "Invoke-PlanStep":
            continue
        source = ps_parse.text(command.node)
        step_id = ps_parse.evaluate_literal(re.search(r"-Id ('[^']*')", source).group(1))
        action = re.search(r"-Action \{ (Step-[A-Za-z0-9_-]+) \}", source).group(1)
        covers = re.search(r"-Covers @\(([^)]*)\)", source)
        covered = [ps_parse.evaluate_literal(x) for x in covers.group(1).split(", ")] if covers else []
        calls.append((step_id, action, covered, "-Irreversible" in source))
    return calls


def _probe_and_verify_commands(tree) -> dict[str, set[str]]:
    """The commands each Invoke-PlanStep call runs in its -Probe and -Verify blocks, by step id."""
    found = {}
    for command in ps_parse.commands(tree):
        if command.name == "Invoke-PlanStep":
            source = ps_parse.text(command.node)
            step_id = ps_parse.evaluate_literal(re.search(r"-Id ('[^']*')", source).group(1))
            found[step_id] = {ps_parse.text(n.child_by_field_name("command_name")).lower()
                              for n in ps_parse.walk(command.node)
                              if n.type == "command" and n is not command.node and n.child_by_field_name("command_name")}
    return found


@pytest.mark.parametrize("case", IDS)
def test_step_calls_follow_the_plan_order_once_each(scripts, case) -> None:
    plan, _, tree = scripts[case]
    calls = _runner_calls(tree)
    expected: list[str] = []
    for step in plan.steps:
        key = f"{step.phase.lower()}.{step.group}" if step.group in (CAU_RUN, "offline") else step.id
        if key not in expected:
            expected.append(key)
    assert [c[0] for c in calls] == expected
    covered = [i for c in calls for i in (c[2] or [c[0]])]
    assert sorted(covered) == sorted(s.id for s in plan.steps)  # every plan step exactly once
    defined = ps_parse.function_names(tree)
    for step_id, action, _, _ in calls:
        assert action == function_name("Step", step_id) and action.lower() in defined


@pytest.mark.parametrize("case", IDS)
def test_irreversible_steps_and_only_they_are_flagged(scripts, case) -> None:
    plan, _, tree = scripts[case]
    for step_id, _, covered, flagged in _runner_calls(tree):
        steps = [plan.step(i) for i in (covered or [step_id])]
        assert flagged == any(s.spec.irreversible for s in steps), step_id


@pytest.mark.parametrize("case", IDS)
def test_requires_lists_exactly_the_modules_used_on_the_orchestrator(scripts, case) -> None:
    _, script, tree = scripts[case]
    declared = re.search(r"^#Requires -Modules (.*)$", script.removeprefix("\ufeff"), re.M)
    declared_modules = set(declared.group(1).split(", ")) if declared else set()
    used = set()
    for command in ps_parse.commands(tree):
        entry = cmdlets.lookup(command.name)
        remote = any(ps_parse.text(a).startswith(("Invoke-Command", "Invoke-OnNode", "Start-Job"))
                     for a in _ancestors(command.node, "command"))
        if entry and not remote and not entry.module.startswith(("Microsoft.", "CimCmdlets", "(")):
            used.add(entry.module)
    assert declared_modules == used


def _ancestors(node, kind):
    node = node.parent
    while node is not None:
        if node.type == kind:
            yield node
        node = node.parent


def _cau_case(scripts):
    return [c for c in IDS if scripts[c][0].method == "cau"]


def test_cau_run_is_one_invoke_cauRun_with_the_plan_values(scripts) -> None:
    for case in _cau_case(scripts):
        plan, script, tree = scripts[case]
        upgrade = plan.model.upgrade
        runs = [c for c in ps_parse.commands(tree) if c.name == "Invoke-CauRun"]
        assert len(runs) == 1 and runs[0].splats == ("CauRunArgs",), case
        keys = ps_parse.splat_keys(tree)["CauRunArgs"]
        assert {"ClusterName", "CauPluginName", "CauPluginArguments", "MaxFailedNodes", "MaxRetriesPerNode",
                "RequireAllNodesOnline", "NodeOrder", "RebootTimeoutMinutes", "StopAfter", "EnableFirewallRules"} <= keys
        assert f"MaxFailedNodes = {upgrade.max_failed_nodes}\n" in script
        assert f"MaxRetriesPerNode = {upgrade.max_retries_per_node}\n" in script
        assert f"RebootTimeoutMinutes = {plan.reboot_timeout}\n" in script
        assert "CauPluginName = 'Microsoft.RollingUpgradePlugin'" in script
        order = [n.name for n in plan.model.ordered_nodes()]
        assert f"$PlanNodes = {'@(' + ', '.join(literal(n) for n in order) + ')'}" in script
        wu = "'true'" if upgrade.source == "windows_update" else "'false'"
        assert f"WuConnected = {wu}" in script
        # defect 7: the functional-level argument only on the media route, where the docs show it [A-ps]
        level = upgrade.source == "media" and upgrade.functional_level == "with_cau"
        assert ("UpdateClusterFunctionalLevel = 'true'" in script) == level
        assert "UpdateClusterFunctionalLevel = 'false'" not in script
        assert "ForceSelfUpdate" not in script, "-ForceSelfUpdate belongs to the 24H2 route, not 23H2's"
        assert "PreUpdateScript" in keys
        assert ("PathToSetupMedia = " in script) == (upgrade.source == "media")
        assert "Get-CauRun -ClusterName" in script and "Get-CauReport -ClusterName $ClusterName -Last -Detailed" in script
        assert "-ForceRecovery -Force" in script


def test_functional_level_is_raised_after_the_cau_run(scripts) -> None:
    for case in _cau_case(scripts):
        plan, _, tree = scripts[case]
        ids = [c[0] for c in _runner_calls(tree)]
        run = ids.index(f"p2.{CAU_RUN}")
        if plan.model.upgrade.functional_level != "manual":  # with_cau too: P3 is the fallback
            assert ids.index("p3.functional_level") > ids.index("p3.validate") > run
        else:
            assert "p3.functional_level" not in ids
        commands = [c for c in ps_parse.commands(tree) if c.name == "Update-ClusterFunctionalLevel"]
        assert len(commands) == (1 if "p3.functional_level" in ids else 0)


def test_manual_and_offline_methods_have_their_own_shape(scripts) -> None:
    manual = scripts["manual-media"]
    ids = [c[0] for c in _runner_calls(manual[2])]
    assert "p2.os.N01.setup" in ids and not any(CAU_RUN in i for i in ids)
    assert [c.name for c in ps_parse.commands(manual[2])].count("Invoke-CauRun") == 0
    offline = scripts["offline-media"]
    ids = [c[0] for c in _runner_calls(offline[2])]
    assert ids.index("p2.offline_stop") < ids.index("p2.offline") < ids.index("p2.offline_start")
    names = {c.name for c in ps_parse.commands(offline[2])}
    assert {"Stop-Cluster", "Start-Service", "Restart-Computer"} <= names and "Start-Cluster" not in names  # needs CredSSP remotely


def test_interactive_steps_pause_for_the_operator(scripts) -> None:
    plan, _, tree = scripts["cau-16-node-solution"]
    for step in plan.steps:
        if step.spec.interactive:
            body = ps_parse.text(ps_parse.function_node(tree, function_name("Step", step.id)))
            assert "Request-OperatorAction -Instructions" in body, step.id
    # the windows-update manual method has no script for SConfig: the operator does it, the build verifies it
    _, _, manual = scripts["manual-wu"]
    body = ps_parse.text(ps_parse.function_node(manual, "Step-p2-os-N01-setup"))
    assert "Request-OperatorAction" in body and "SConfig" in body


def test_catalog_cmdlets_of_each_step_kind_are_what_its_function_runs(scripts) -> None:
    """The plan JSON says which cmdlets a step maps to: the script's function for it must use them."""
    plan, _, tree = scripts["cau-16-node-solution"]
    calls = _function_calls(tree)
    checks = _probe_and_verify_commands(tree)
    for step_id, action, covered, _ in _runner_calls(tree):
        reachable = _reachable(action, calls)
        for name in checks[step_id] - {action.lower()}:
            reachable |= _reachable(name, calls) if name in calls else {name}
        for sid in covered or [step_id]:
            step = plan.step(sid)
            if step.spec.interactive:
                continue
            missing = {c for c in step.spec.cmdlets if c.lower() not in reachable}
            if "request-operatoraction" in reachable:  # the operator runs them: the instructions must name them
                body = _function_text(tree, action)
                missing = {c for c in missing if c not in body}
            assert not missing, f"{sid} ({step.kind}) never calls {sorted(missing)}"


def _function_calls(tree) -> dict[str, set[str]]:
    calls: dict[str, set[str]] = {}
    for node in ps_parse.walk(tree.root_node):
        if node.type == "function_statement":
            name = next(ps_parse.text(c) for c in node.children if c.type == "function_name").lower()
            calls[name] = {ps_parse.text(n.child_by_field_name("command_name")).lower()
                           for n in ps_parse.walk(node) if n.type == "command" and n.child_by_field_name("command_name")}
    return calls


def _reachable(function: str, calls: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [function.lower()]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [c for c in calls.get(name, ()) if c in calls]
    return {c for f in seen for c in calls.get(f, ())} | seen


def test_plan_fingerprint_and_windows_are_embedded(scripts) -> None:
    plan, script, _ = scripts["four-node"] if "four-node" in scripts else scripts[IDS[0]]
    assert f"$PlanFingerprint = '{plan.fingerprint}'" in script
    for window in plan.model.upgrade.windows:
        assert f"End = [datetimeoffset]'{window.end.isoformat()}'" in script


def test_wac_plans_are_refused_with_a_pointer_to_the_runbook() -> None:
    plan = plan_of_text(hciplan_text(Shape(method="wac")))
    with pytest.raises(BackendUnsupported, match="runbook"):
        powershell.render(plan)


@pytest.mark.parametrize("case", IDS[:2])
def test_rendering_twice_gives_identical_bytes(case) -> None:
    plan = next(c for c in CASES if c.id == case).values[0]()
    assert script_of(plan).encode("utf-8") == script_of(plan).encode("utf-8")


GOLDEN_CASES = [c.id for c in CASES if c.id in {p.stem for p in EXAMPLES} or c.id in GOLDEN_VARIANTS]


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_script(scripts, case) -> None:
    _, script, _ = scripts[case]
    assert_golden(GOLDEN / f"{case}.ps1", script)


# --- hostile text in every free-text field the checker accepts ----------------------------------------

FRAGMENTS = ["'", "''", "\u2018", "\u2019", "\u201a", "\u201b", '"', "$(Stop-Computer -Force)", "`", "`n", "; ",
             "Remove-Item C:\\ -Recurse", "\n", "\r\n", "\t", "#>", "<#", "|", "&", "@(", "${env:PATH}", "\u202e",
             "\u0000", "x", " ", "é"]
MARK = "QZX"


def _hostile(field: str, value: str) -> tuple[str, str]:
    """A valid model text with `value` in `field`, and the PowerShell variable/expression that carries it."""
    base = hciplan_text(Shape(solution=True, source="media" if field == "media_path" else "windows_update"))
    if field == "media_path":
        return base.replace('media_path = "C:\\\\Media\\\\23H2"', f"media_path = {quote(value)}"), "$PlanMediaPath"
    if field == "pool":
        return base.replace('pool "S2D"', f"pool {quote(value)}"), "$PlanPoolName"
    if field == "window":
        return base.replace('window "w1"', f"window {quote(value)}"), "Name"
    if field == "volume":
        text = base.replace('volume "Data" {', f"volume {quote(value)} {{ used = 100GB ").replace(
            "vm_version = skip", f"vm_version = skip\n  convert_to_thin = [{quote(value)}]")
        return text, "$volume"
    if field == "adou_path":
        return base.replace('deployment_user = "hcilcm"', f'deployment_user = "hcilcm"  adou_path = {quote(value)}'), "$PlanAdouPath"
    raise AssertionError(field)


def _value(field: str, core: str) -> str:
    value = MARK + core + MARK
    if field == "media_path":
        return "C:\\" + value
    if field == "adou_path":
        return "OU=" + value + ",DC=contoso,DC=com"
    return value


@functools.lru_cache(maxsize=None)
def baseline_commands(field: str) -> frozenset[str]:
    """The commands of the same plan with a harmless value in `field`."""
    plan = plan_of_text(_hostile(field, _value(field, "plain"))[0])
    return frozenset(c.name for c in ps_parse.commands(ps_parse.parse(script_of(plan))))


@settings(derandomize=True, max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(field=st.sampled_from(["media_path", "pool", "window", "volume", "adou_path"]),
       core=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join))
def test_hostile_text_only_ever_appears_inside_string_literals(field, core) -> None:
    value = _value(field, core)
    text, carrier = _hostile(field, value)
    result = compile_checked(check_text(text, "hostile.hciplan"))
    assume(result.ok)  # the checker rejects some values for some fields (e.g. quotes in adou_path): that is safe too
    script = script_of(result.plan)
    tree = ps_parse.parse(script)
    assert ps_parse.errors(tree) == []
    # 1. the value is never code: every token holding the marker is inside a string literal or a comment
    for node in ps_parse.walk(tree.root_node):
        if node.child_count == 0 and MARK.encode() in node.text:
            if re.fullmatch(r"Step-[A-Za-z0-9_-]+", ps_parse.text(node)):
                continue  # a step function named after a step id: the builder keeps ids to [A-Za-z0-9_-]
            assert ps_parse.inside(node, {"string_literal", "comment"}), (node.type, ps_parse.text(node)[:60])
    # 2. no new command appears whatever the value holds
    def catalog_commands(names):  # step functions carry the sanitized volume name; compare everything else
        return {n for n in names if not n.startswith("Step-p5-thin_convert-")}

    assert catalog_commands(c.name for c in ps_parse.commands(tree)) == catalog_commands(baseline_commands(field))
    # 3. PowerShell's own quoting rules give back exactly the value (typographic quotes included)
    expressions = ps_parse.assigned_expressions(tree, carrier)
    assert any(_evaluates_to(e, value) for e in expressions), (carrier, expressions[:2])


def _evaluates_to(expression: str, value: str) -> bool:
    try:
        return ps_parse.evaluate_literal(expression) == value
    except ValueError:
        return False


def test_docs_list_every_catalog_cmdlet_with_its_module_and_source() -> None:
    docs = (ROOT / "docs" / "powershell.md").read_text(encoding="utf-8")
    for entry in cmdlets.CATALOG.values():
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{entry.name}` |")), None)
        assert row is not None, f"{entry.name} is not in docs/powershell.md"
        assert f"| {entry.module} |" in row and entry.source in row and f"| {entry.confirmed} |" in row


# --- the runner's control flow (review findings; static checks on the parse tree) ------------------------------


def _function_text(tree, name: str) -> str:
    node = ps_parse.function_node(tree, name)
    assert node is not None, f"{name} is not defined"
    return ps_parse.text(node)


def _branch(tree, function: str, clause: str, condition: str):
    """The statement block of the first `clause` (if_statement / elseif_clause) in `function` whose condition
    contains `condition`."""
    for node in ps_parse.walk(ps_parse.function_node(tree, function)):
        if node.type == clause:
            head = next(c for c in node.children if c.type == "pipeline")
            if condition in ps_parse.text(head):
                return next(c for c in node.children if c.type == "statement_block")
    raise AssertionError(f"no {clause} on {condition!r} in {function}")


def _returns(block) -> list:
    return [n for n in ps_parse.walk(block) if n.type == "flow_control_statement" and ps_parse.text(n).startswith("return")]


def test_a_no_at_the_confirmation_prompt_stops_the_run_and_only_the_rehearsal_carries_on(scripts) -> None:
    _, _, tree = scripts[IDS[0]]
    declined = _branch(tree, "Invoke-PlanStep", "elseif_clause", "ShouldProcess")
    body = ps_parse.text(declined)
    assert "Write-Journal -Step $Id -Status 'declined'" in body
    assert re.search(r"Stop-Upgrade -Code [1-9]", body)
    for ret in _returns(declined):  # the only way on is the rehearsal's
        guard = next(_ancestors(ret, "if_statement"))
        assert ps_parse.text(guard).startswith("if ($script:Rehearsal)")


def test_read_only_gates_are_never_skipped_from_the_journal(scripts) -> None:
    _, script, tree = scripts[IDS[0]]
    skip = _branch(tree, "Invoke-PlanStep", "if_statement", "$journalled")
    assert _returns(skip) and "-not $ReadOnly" in ps_parse.text(skip.parent.children[2])
    phase = _branch(tree, "Invoke-PlanStep", "if_statement", "SelectedPhases -notcontains")
    assert "-not $journalled" in ps_parse.text(phase.parent.children[2])
    assert re.search(r"-Id 'p0\.preflight'[^\n]*`\n(\s+-[^\n]*\n)*?\s+-ReadOnly", script)
    # a resumed run may stand mid node pass: health findings warn, the stale-plan rule still stops the run
    preflight = _function_text(tree, "Step-p0-preflight")
    assert "$rerun" in preflight and "Stop-Upgrade -Code 2" in preflight


def _commands_in(node, name: str) -> list:
    return [c for c in ps_parse.commands_under(node) if c.name == name]


def test_the_cau_coordinator_job_is_never_killed_and_transient_errors_do_not_end_the_watch(scripts) -> None:
    for case in _cau_case(scripts):
        _, _, tree = scripts[case]
        function = ps_parse.function_node(tree, function_name("Step", f"p2.{CAU_RUN}"))
        for remove in _commands_in(function, "Remove-Job"):  # only a job that has ended is removed, never forced
            assert "Force" not in remove.parameters, case
            guard = ps_parse.text(next(_ancestors(remove.node, "if_statement")))
            assert "-notin @('NotStarted', 'Running')" in guard, case
        for name in ("Get-CauRun", "Get-CauReport", "Stop-CauRun"):  # each look has its own try/catch
            found = _commands_in(function, name)
            assert found, (case, name)
            for command in found:
                assert any(c.type == "catch_clauses" for t in _ancestors(command.node, "try_statement")
                           for c in t.children), (case, name)
        loop = next(n for n in ps_parse.walk(function) if n.type == "while_statement")
        assert "throw" not in ps_parse.text(loop), case  # the watch's deadline only warns: the run is left going
        finally_clause = next(n for n in ps_parse.walk(function) if n.type == "finally_clause")
        assert _commands_in(finally_clause, "Stop-CauRun"), case  # a deliberate cancel, not a killed job


def test_cau_sub_steps_and_the_run_check_come_from_node_state_not_the_build_alone(scripts) -> None:
    for case in _cau_case(scripts):
        plan, script, tree = scripts[case]
        checks = _probe_and_verify_commands(tree)[f"p2.{CAU_RUN}"]
        assert {"test-allnodesupgraded", "test-allnodesup", "get-storageproblem"} <= checks, case
        for step in plan.steps:
            if step.group == CAU_RUN and step.node:
                evidence = powershell.CAU_SUBSTEP_EVIDENCE[step.kind]
                assert f"{literal(step.id)} = '{evidence}'" in script, (case, step.id)
        assert powershell.CAU_SUBSTEP_EVIDENCE["cau.resume"] == "up"
        assert powershell.CAU_SUBSTEP_EVIDENCE["cau.storage_wait"] == "healthy"
        writer = _function_text(tree, "Write-CauSubSteps")
        assert "Test-NodeUp" in writer and "Get-StorageProblem" in writer and "Test-NodeUpgraded" in writer


def _solution_case(scripts):
    return [c for c in IDS if scripts[c][0].model.upgrade.solution is not None]


def test_the_solution_deployment_passes_the_parameter_file_and_reads_key_vault_references_safely(scripts) -> None:
    cases = _solution_case(scripts)
    assert cases
    for case in cases:
        _, _, tree = scripts[case]
        function = ps_parse.function_node(tree, "Invoke-SolutionDeployment")
        text = ps_parse.text(function)
        assert ".Value.value" not in text  # a {"reference": ...} parameter has no value: StrictMode would throw
        assert "PSObject.Properties['value']" in text and "PSObject.Properties['parameters']" in text
        [deploy] = _commands_in(function, "New-AzResourceGroupDeployment")
        assert {"TemplateParameterFile", "deploymentMode", "Name"} <= set(deploy.parameters), case
        assert "TemplateParameterObject" not in deploy.parameters


def test_a_rerun_follows_the_deployment_already_in_azure_instead_of_starting_a_second_one(scripts) -> None:
    for case in _solution_case(scripts):
        _, _, tree = scripts[case]
        function = ps_parse.function_node(tree, "Invoke-SolutionDeployment")
        [deploy] = _commands_in(function, "New-AzResourceGroupDeployment")
        probes = [c for c in _commands_in(function, "Get-AzResourceGroupDeployment") if "Name" in c.parameters]
        assert probes and probes[0].node.start_byte < deploy.node.start_byte, case
        guard = ps_parse.text(next(_ancestors(deploy.node, "if_statement")))
        # never while Running; after Succeeded only for Validate (an old validation may predate remediation)
        assert guard.startswith("if ($state -in @('', 'Failed', 'Canceled') -or ($state -eq 'Succeeded' -and "
                                "$Mode -eq 'Validate'))"), case
        succeeded = _branch(tree, "Invoke-SolutionDeployment", "if_statement", "$state -eq 'Succeeded' -and $Mode -eq 'Deploy'")
        assert _returns(succeeded), case


def _offsets(function, names: list[str]) -> list[int]:
    """Where the first call of each command starts in `function` (its byte offset)."""
    found = []
    for name in names:
        calls = _commands_in(function, name)
        assert calls, f"{name} is never called"
        found.append(calls[0].node.start_byte)
    return found


def test_offline_stop_shuts_the_vms_down_and_records_them_before_the_volumes_go_offline(scripts) -> None:
    for case in ("offline-media", "offline-wu"):
        _, _, tree = scripts[case]
        stop = ps_parse.function_node(tree, "Step-p2-offline_stop")
        text = ps_parse.text(stop)
        assert ".running-vms.json" in text and "WriteAllText($record" in text
        order = _offsets(stop, ["Stop-VM", "Wait-Until", "Stop-ClusterGroup", "Stop-ClusterResource", "Stop-Cluster"])
        assert order == sorted(order), case
        start = ps_parse.function_node(tree, "Step-p2-offline_start")
        assert ".running-vms.json" in ps_parse.text(start) and _commands_in(start, "Start-ClusterGroup")


def test_offline_start_starts_every_node_and_brings_storage_back_in_order(scripts) -> None:
    for case in ("offline-media", "offline-wu"):
        _, _, tree = scripts[case]
        start = ps_parse.function_node(tree, "Step-p2-offline_start")
        assert not _commands_in(start, "Start-Cluster"), case  # needs CredSSP from the orchestrator (issue 9, defect 2)
        assert _commands_in(start, "Start-Service"), case  # ClusSvc on each node, through Invoke-OnNode
        waits = _commands_in(start, "Wait-Until")
        texts = [ps_parse.text(w.node) for w in waits]
        assert "answer" in texts[0] and "New-CimSession" in texts[0] and "catch" in texts[0]  # retried
        assert "storage pool" in texts[1] and "Get-StorageJob" in texts[1]
        online = _commands_in(start, "Start-ClusterResource")[0].node.start_byte
        healthy = _commands_in(start, "Wait-StorageHealthy")[0].node.start_byte
        assert waits[0].node.start_byte < waits[1].node.start_byte < online < healthy, case


@pytest.mark.parametrize("case", IDS)
def test_every_plan_variable_the_script_reads_is_defined(scripts, case) -> None:
    _, script, tree = scripts[case]
    for name in ("$PlanMediaPath", "$PlanPoolName", "$CauSubSteps", "$PlanSolutionDeployStep", "$CauPluginArguments"):
        used = re.search(re.escape(name) + r"\b(?!\s*=[^=])", script.split("#region Helpers")[1])
        if used:
            assert ps_parse.assigned_expressions(tree, name), f"{name} is read but never assigned"


def test_a_failed_or_concurrent_setup_fails_the_step(scripts) -> None:
    for case in ("manual-media", "offline-media", "cau-media-with-cau-3"):
        _, _, tree = scripts[case]
        function = ps_parse.function_node(tree, "Start-NodeSetup")
        if case == "cau-media-with-cau-3":
            assert function is None  # CAU runs setup itself
            continue
        text = ps_parse.text(function)
        busy, start = _offsets(function, ["Get-CimInstance", "Start-Process"])
        assert busy < start and "setup.exe" in text and "SetupHost.exe" in text
        check = _branch(tree, "Start-NodeSetup", "if_statement", "$code -notin @(0, 3010)")
        assert "$failures +=" in ps_parse.text(check)
        final = _branch(tree, "Start-NodeSetup", "if_statement", "$failures.Count -gt 0")
        assert ps_parse.text(final).lstrip("{ \n").startswith("throw")


def test_the_test_cluster_gate_matches_failures_not_failover(scripts) -> None:
    _, _, tree = scripts[IDS[0]]
    text = _function_text(tree, "Step-p0-test_cluster")
    pattern = ps_parse.evaluate_literal(re.search(r"-match ('[^']*')", text).group(1))
    def matches(warning):  # PowerShell's -match is case-insensitive; .NET and Python agree on \b here
        return re.search(pattern, warning, re.I) is not None
    assert not matches("Failover Cluster Validation Report: Validate Failover Cluster configuration")
    assert not matches("Network - Validate Network Communication: the test reported some warnings")
    assert matches("Storage - Validate Disk Failover: The test failed.")
    assert matches("Inventory: Validation found failures") and matches("the test reported a failure")


def test_a_node_without_any_network_atc_intent_is_a_problem(scripts) -> None:
    _, _, tree = scripts["cau-16-node-solution"]
    none = _branch(tree, "Get-NetIntentProblem", "if_statement", "$mine.Count -eq 0")
    assert "no Network ATC intent" in ps_parse.text(none)  # emitted as a problem, not skipped
    text = _function_text(tree, "Get-NetIntentProblem")
    assert "$hosts = @($PlanNodes)" in text  # the all-node check covers every node of the plan


def test_bounded_waits_survive_transient_poll_errors(scripts) -> None:
    _, _, tree = scripts[IDS[0]]
    wait = ps_parse.function_node(tree, "Wait-Until")
    poll = next(n for n in ps_parse.walk(wait) if n.type == "command" and ps_parse.text(n).startswith("& $Condition"))
    tries = list(_ancestors(poll, "try_statement"))
    assert tries and any(c.type == "catch_clauses" for c in tries[0].children)
    catch = ps_parse.text(next(c for c in tries[0].children if c.type == "catch_clauses"))
    assert "$failedPolls++" in catch and "$failedPolls -ge $MaxPollErrors" in catch
    assert "[int] $MaxPollErrors = 3" in ps_parse.text(wait)


def test_aks_removal_leaves_the_cluster_wide_uninstall_to_the_console_and_is_idempotent(scripts) -> None:
    for case in ("cau-16-node-solution", "manual-wu"):
        _, _, tree = scripts[case]
        function = ps_parse.function_node(tree, "Step-p1-aks_remove")
        assert not _commands_in(function, "Uninstall-AksHci")  # a second hop from Invoke-Command: no CredSSP
        assert "Uninstall-AksHci" in ps_parse.text(function) and _commands_in(function, "Request-OperatorAction")
        [remove] = _commands_in(function, "Uninstall-Module")
        guard = ps_parse.text(next(_ancestors(remove.node, "if_statement")))
        assert "Get-Module -ListAvailable -Name 'AksHci'" in guard, case  # already gone = done
        checks = _probe_and_verify_commands(tree)["p1.aks_remove"]
        assert "get-module" in checks


ASKS_AGAIN = {"Suspend-ClusterNode", "Restart-Computer", "Stop-ClusterResource", "Stop-Cluster", "Update-StoragePool",
              "New-AzResourceGroupDeployment", "Remove-Job", "Remove-CimSession"}


@pytest.mark.parametrize("case", IDS)
def test_inner_cmdlets_do_not_inherit_the_scripts_confirm_and_whatif(scripts, case) -> None:
    _, _, tree = scripts[case]
    for command in ps_parse.commands(tree):
        if command.name not in ASKS_AGAIN:
            continue
        remote = any(ps_parse.text(a).startswith(("Invoke-Command", "Invoke-OnNode", "Start-Job"))
                     for a in _ancestors(command.node, "command"))
        if remote:
            continue  # preferences do not cross into a remote or job session
        source = ps_parse.text(command.node)
        assert "-Confirm:$false" in source, f"line {command.line}: {source[:80]}"
        if command.name == "Remove-CimSession":
            assert "-WhatIf:$false" in source, f"line {command.line}: {source[:80]}"


# --- issue 9, section 3: the documented steps that were missing ------------------------------------------------


def test_the_cau_preflight_stops_on_an_orchestrator_that_is_not_windows_server_2022(scripts) -> None:
    for case in IDS:
        plan, _, tree = scripts[case]
        preflight = _function_text(tree, "Step-p0-preflight")
        assert ("Assert-Orchestrator" in preflight) == (plan.method == "cau"), case
    _, _, tree = scripts["cau-wu-4"]
    check = _branch(tree, "Assert-Orchestrator", "if_statement", "20348")
    assert "Win32_OperatingSystem" in _function_text(tree, "Assert-Orchestrator")
    assert re.search(r"Stop-Upgrade -Code 2\b", ps_parse.text(check))  # a real run stops; the rehearsal warns
    assert "Get-CimInstance" in {c.name for c in ps_parse.commands_under(ps_parse.function_node(tree, "Assert-Orchestrator"))}


def test_registration_repair_runs_only_when_both_documented_conditions_hold(scripts) -> None:
    plan, _, tree = scripts["cau-16-node-solution"]
    ids = [c[0] for c in _runner_calls(tree)]
    assert ids.index("p0.preflight") < ids.index("p0.registration_repair") < ids.index("p0.test_cluster")
    checks = _probe_and_verify_commands(tree)["p0.registration_repair"]
    assert "test-registrationrepairneeded" in checks
    needed = ps_parse.function_node(tree, "Test-RegistrationRepairNeeded")
    names = [c.name for c in ps_parse.commands_under(needed)]
    # the group first: a healthy cluster is skipped without Azure; then the identity
    assert names.index("Test-CloudManagementGroup") < names.index("Assert-AzureSignIn") < names.index("Get-RegistrationResource")
    assert "SystemAssigned" in _function_text(tree, "Test-RegistrationRepairNeeded")
    repair = ps_parse.function_node(tree, "Invoke-RegistrationRepair")
    order = [c.name for c in ps_parse.commands_under(repair)]
    assert order.index("Test-RegistrationRepairNeeded") < order.index("Register-AzStackHCI") < order.index("Wait-Until")
    register = next(c for c in ps_parse.commands_under(repair) if c.name == "Register-AzStackHCI")
    source = ps_parse.text(register.node)
    for parameter in ("-TenantId", "-SubscriptionId", "-ComputerName", "-RepairRegistration", "-Confirm:$false"):
        assert parameter in source
    step = plan.step("p0.registration_repair")
    assert f"Invoke-RegistrationRepair -TimeoutMinutes {powershell.steps.bound(step)}" in _function_text(
        tree, "Step-p0-registration_repair")
    # without a solution block there is no Azure sign-in: the preflight only warns
    _, _, os_only = scripts["cau-wu-4"]
    assert "Step-p0-registration_repair" not in ps_parse.function_names(os_only)
    warn = _branch(os_only, "Step-p0-preflight", "if_statement", "Test-CloudManagementGroup")
    assert ps_parse.text(warn).lstrip("{ \n").startswith("Write-Warning")


def test_the_preflight_checks_the_arc_machines_before_the_readiness_validation(scripts) -> None:
    for case in IDS:
        plan, _, tree = scripts[case]
        solution = any(s.kind == "readiness.validate" for s in plan.steps)
        assert ("Get-ArcMachineProblem" in _function_text(tree, "Step-p0-preflight")) == solution, case
    _, _, tree = scripts["cau-16-node-solution"]
    arc = _function_text(tree, "Get-ArcMachineProblem")
    assert "Get-AzConnectedMachine -ResourceGroupName $ResourceGroupName -Name $node" in arc
    assert "[string]$machine.Status -ne 'Connected'" in arc
    found = _branch(tree, "Step-p0-preflight", "if_statement", "$arc.Count -gt 0")
    assert "Stop-Upgrade -Code 1" in ps_parse.text(found)  # not journalled: a failed preflight would change resuming


def test_the_migration_test_moves_one_vm_to_every_node_from_a_node_and_checks_partitions(scripts) -> None:
    for case in IDS:
        plan, _, tree = scripts[case]
        ids = [c[0] for c in _runner_calls(tree)]
        assert ids.index("p3.validate") < ids.index("p3.migration_test") < ids.index("p3.sync"), case
        if "p3.functional_level" in ids:
            assert ids.index("p3.migration_test") < ids.index("p3.functional_level")
        assert plan.step("p3.migration_test").spec.gate
    _, _, tree = scripts["cau-wu-4"]
    function = ps_parse.function_node(tree, "Step-p3-migration_test")
    move = next(c for c in ps_parse.commands_under(function) if c.name == "Move-ClusterVirtualMachineRole")
    assert any(ps_parse.text(a).startswith("Invoke-OnNode") for a in _ancestors(move.node, "command"))  # no CredSSP
    assert "-MigrationType Live" in ps_parse.text(move.node)
    none = _branch(tree, "Step-p3-migration_test", "if_statement", "$vms.Count -eq 0")
    assert "Request-OperatorAction" in ps_parse.text(none)
    text = ps_parse.text(function)
    assert "Write-Journal" in text and "-Status 'note'" in text  # the VM used is journalled as a note, not a state
    assert "-TimeoutMinutes $left" in text and "$deadline" in text  # every wait shares the step's bound
    partition = _branch(tree, "Step-p3-migration_test", "if_statement", "$partitioned.Count -gt 0")
    assert ps_parse.text(partition).lstrip("{ \n").startswith("throw")
    names = [c.name for c in ps_parse.commands_under(function)]
    assert names.index("Wait-Until") < names.index("Get-ClusterNetwork")


def test_oem_drivers_and_the_after_configuration_are_operator_steps(scripts) -> None:
    plan, _, tree = scripts["cau-16-node-solution"]
    ids = [c[0] for c in _runner_calls(tree)]
    assert ids.index("p3.vm_version") < ids.index("p3.oem_drivers") < ids.index("p3.sync")
    assert ids.index("p7.wdac_reapply") < ids.index("p7.after_configure") < ids.index("p7.verify")
    assert "one node at a time" in _function_text(tree, "Step-p3-oem_drivers")
    checks = _probe_and_verify_commands(tree)["p3.oem_drivers"]
    assert {"test-allnodesup", "get-storageproblem"} <= checks
    for text in ("security posture", "storage paths", "Cluster-Aware Updating"):
        assert text in _function_text(tree, "Step-p7-after_configure")
    _, _, os_only = scripts["cau-wu-4"]
    assert "Step-p7-after_configure" not in ps_parse.function_names(os_only)
