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
