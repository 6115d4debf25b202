"""The PowerShell backend's structure: an emitter and runbook text for every step kind, helper files that parse
alone, helpers found by scanning calls (none declared by hand), and the Azure Local facts the script shares with
the runbook."""

from __future__ import annotations

import re
from pathlib import Path

import ps_parse
import pytest

from hciplan.backends import BackendUnsupported, azurelocal, powershell, runbook
from hciplan.backends.powershell import library, operator, steps
from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import load_source
from helpers import EXAMPLES, GOLDEN

# Kinds no single-step emitter handles, and the group emitter that performs them.
GROUPED = {
    "cau.drain": CAU_RUN, "cau.install": CAU_RUN, "cau.reboot": CAU_RUN, "cau.resume": CAU_RUN,
    "cau.storage_wait": CAU_RUN, "cau.functional_level": CAU_RUN,  # one Invoke-CauRun does all of them
    "offline.setup": "offline", "offline.reboot": "offline",  # every node at once, inside the stopped cluster
}


def _plan(name: str):
    return compile_checked(load_source(EXAMPLES / name)).plan


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_every_catalog_kind_has_an_emitter(kind) -> None:
    if kind in GROUPED:
        assert kind in steps.GROUP_COVERS[GROUPED[kind]], kind
        assert kind not in steps.EMITTERS, f"{kind} is emitted by the {GROUPED[kind]} group, not on its own"
    else:
        assert kind in steps.EMITTERS, f"no emitter for {kind}: add one with @emits({kind!r}) in steps.py"


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_every_catalog_kind_has_operator_text(kind) -> None:
    assert kind in operator.OPERATOR_TEXTS, f"no runbook text for {kind}: register one in powershell/operator.py"


def test_operator_texts_are_only_for_catalog_kinds() -> None:
    assert set(operator.OPERATOR_TEXTS) <= set(CATALOG)


def test_registry_apply_has_both_an_emitter_and_a_place_in_the_offline_group() -> None:
    # The rolling registry pass emits it step by step; the offline method sets the keys inside its bracket.
    assert "registry.apply" in steps.EMITTERS and "registry.apply" in steps.GROUP_COVERS["offline"]


def test_group_emitters_cover_only_catalog_kinds() -> None:
    for group, kinds in steps.GROUP_COVERS.items():
        assert set(kinds) <= set(CATALOG), group


def test_a_kind_without_an_emitter_is_unsupported_at_emit_time(monkeypatch) -> None:
    plan = _plan("four-node.hciplan")
    monkeypatch.delitem(steps.EMITTERS, "node.drain")
    with pytest.raises(BackendUnsupported, match="no PowerShell for step kind 'node.drain'"):
        powershell.render(plan)


@pytest.mark.parametrize("file", library.FILES)
def test_each_helper_file_parses_alone(file) -> None:
    assert ps_parse.syntax_problems(library.read_file(file)) == []


@pytest.mark.parametrize("file", library.FILES)
def test_each_helper_file_is_only_functions_and_all_of_them_are_loaded(file) -> None:
    text = library.read_file(file)
    defined = ps_parse.defined_functions(text)
    loaded = {h.name for h in library.helpers().values() if h.file == file}
    assert defined == loaded and loaded
    for helper in library.helpers().values():
        if helper.file == file:
            assert ps_parse.syntax_problems(helper.code) == [], helper.name


def test_needed_follows_calls_through_helper_bodies() -> None:
    names = [h.name for h in library.needed("Start-HciRun")]
    # Start-HciRun -> Resolve-WindowEnd, Read-Journal -> Stop-Upgrade -> Stop-HciTranscript
    assert {"Start-HciRun", "Resolve-WindowEnd", "Read-Journal", "Stop-Upgrade", "Stop-HciTranscript"} <= set(names)
    assert "Invoke-PlanStep" not in names
    assert names == [n for n in library.helpers() if n in names]  # script order: file order, then definition order


def test_needed_ignores_comments_and_longer_names() -> None:
    assert library.calls("# Wait-Until is not called here\nTest-NodeUpgraded -Node $n") == {"Test-NodeUpgraded"}


@pytest.mark.parametrize("example", ["four-node.hciplan", "sixteen-node.hciplan", "two-node.hciplan", "aks.hciplan"])
def test_the_script_defines_exactly_the_helpers_it_calls(example) -> None:
    tree = ps_parse.parse(powershell.render(_plan(example))[powershell.FILE_NAME])
    defined = {n.lower() for n in ps_parse.function_names(tree)}
    helpers = {n.lower() for n in library.helpers()}
    called = {c.name.lower() for c in ps_parse.commands(tree)}
    # Every helper the script defines is called somewhere (a step, the run or another helper), and back.
    assert (defined & helpers) - called == set()
    assert (called & helpers) - defined == set()


# --- the Azure Local facts -------------------------------------------------------------------------


def test_the_registry_keys_in_the_facts_are_the_ones_the_helpers_set() -> None:
    node = library.read_file("node")
    for key, value in ((azurelocal.REFS_KEY, azurelocal.REFS_VALUE), (azurelocal.VID_KEY, azurelocal.VID_VALUE)):
        assert f"'{key}'" in node and f"'{value}'" in node


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.hciplan")))
def test_script_and_runbook_pass_the_same_plug_in_arguments(example) -> None:
    plan = _plan(example)
    if not any(s.kind == "cau.scan" for s in plan.steps):
        pytest.skip("no CAU scan in this plan")
    expected = azurelocal.plugin_arguments_literal(plan.model.upgrade)
    document = runbook.render(plan)[runbook.FILE_NAME]
    assert f"-CauPluginArguments {expected} " in document
    if not plan.interactive:
        script = powershell.render(plan)[powershell.FILE_NAME]
        assert re.search(r"^\$CauPluginArguments = " + re.escape(expected) + "  #", script, re.M)


def test_the_runbook_names_the_target_build_from_the_facts() -> None:
    source = Path(runbook.__file__).read_text(encoding="utf-8")
    assert str(azurelocal.TARGET_BUILD) not in source and "TARGET_BUILD" in source
    assert f"build {azurelocal.TARGET_BUILD} or later" in (GOLDEN / "runbook" / "offline-media.md").read_text(encoding="utf-8")
