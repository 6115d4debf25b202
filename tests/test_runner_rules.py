"""The runner's and the helpers' safety rules, read from the helpers' parse trees (each helper file alone).

Each test pins a rule a change-board review asked for: the window rule never refuses a unit that already
started or a step already in its target state; a restart needs a drained node; a CAU run that ended early is
a window stop only on the pre-update script's own word; the offline bracket's rerun is not stopped by a
preflight that cannot reach a stopped cluster.
"""

from __future__ import annotations

import re

import ps_parse
from hciplan.backends.powershell import library
from sim_helpers import plan_of, shape_text
from plan_models import Shape


def _helper(name: str):
    code = library.helpers()[name].code
    tree = ps_parse.parse(code)
    assert not ps_parse.errors(tree), name
    return code, [c.name for c in ps_parse.commands(tree)]


def test_no_method_call_starts_with_an_empty_argument():
    # `.Replace(, '')` parses in tree-sitter but is a parse error in Windows PowerShell 5.1.
    for helper in library.helpers().values():
        assert not re.search(r"\.\w+\(\s*,", helper.code), helper.name


def test_the_probe_runs_before_the_window_rule_and_a_started_unit_is_not_refused():
    code, _ = _helper("Invoke-PlanStep")
    assert code.index("if ($Probe)") < code.index("$script:StepStart.AddMinutes($FitMinutes)")
    assert "-not $script:UnitStarted.ContainsKey($Id)" in code
    # the unit record is written only once the step is confirmed, right before its action
    assert code.index("-Status 'unit'") > code.index("ShouldContinue") and code.index("-Status 'unit'") < code.index("& $Action")
    reader, _ = _helper("Read-Journal")
    assert "$script:UnitStarted[" in reader, "a unit started in an earlier run is remembered on resume"


def test_a_restart_needs_a_drained_node_first():
    _, commands = _helper("Invoke-NodeRestart")
    assert commands.index("Test-NodePaused") < commands.index("Restart-Computer")


def test_a_cau_window_stop_needs_the_pre_update_scripts_own_refusal():
    code, commands = _helper("Test-CauStoppedAtWindow")
    assert "Get-CauReport" in commands and "'hciplan: '" in code
    gate, _ = _helper("Install-CauWindowGate")
    assert "hciplan: {0} needs about" in gate, "the marker the window stop looks for is the one the gate throws"


def test_the_offline_preflight_only_checks_remoting_inside_the_bracket():
    from hciplan.backends import powershell

    plan = plan_of(shape_text(Shape(nodes=3, method="offline")))
    tree = ps_parse.parse(powershell.render(plan)[powershell.FILE_NAME])
    body = ps_parse.function_node(tree, "Step-p0-preflight")
    names = [c.name for c in ps_parse.commands_under(body)]
    assert names.index("Test-WSMan") < names.index("Get-ClusterNode")
    assert "p2.offline_stop" in ps_parse.text(body)


def test_readiness_results_are_read_by_name_under_strict_mode():
    from hciplan.backends import powershell

    plan = plan_of(shape_text(Shape(nodes=3, solution=True)))
    tree = ps_parse.parse(powershell.render(plan)[powershell.FILE_NAME])
    body = ps_parse.text(ps_parse.function_node(tree, "Step-p5-readiness_validate"))
    assert "$result.DisplayName" not in body and "$result.Severity" not in body
    assert "Get-ReadinessField" in body


def test_the_atc_switch_check_ignores_private_and_internal_switches():
    code, _ = _helper("Get-AtcSwitchProblem")
    assert "$switches -contains $switch -and $Names -notcontains $switch" in code


def test_an_earlier_passing_validation_is_not_reused_but_a_deployment_is_never_repeated():
    code, _ = _helper("Invoke-SolutionDeployment")
    assert "$state -eq 'Succeeded' -and $Mode -eq 'Deploy'" in code
    assert "($state -eq 'Succeeded' -and $Mode -eq 'Validate')" in code
