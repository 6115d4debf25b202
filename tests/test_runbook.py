"""The runbook backend: content per method (WAC fully covered), the simulation slot, safe Markdown, goldens.

Golden runbooks live in tests/golden/runbook/; regenerate with HCIPLAN_REGEN=1 and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from hciplan.backends import runbook
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import check_text, load_source
from hciplan.simulator.result import SimResult
from helpers import assert_golden
from plan_models import Shape, hciplan_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
GOLDEN = Path(__file__).parent / "golden" / "runbook"
VARIANTS = {
    "wac-with-cau": hciplan_text(Shape(method="wac", functional_level="with_cau", bitlocker=True)),
    "offline-media": hciplan_text(Shape(method="offline", source="media", nodes=3)),
}


def compiled_text(text: str):
    result = compile_checked(check_text(text, "variant.hciplan"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics if d.severity.value == "error"]
    return result


def doc(result, simulation=None) -> str:
    return runbook.render(result.plan, result.diagnostics, simulation)[runbook.FILE_NAME]


def test_wac_runbook_covers_the_gui_procedure_and_every_step() -> None:
    result = compiled_text(VARIANTS["wac-with-cau"])
    text = doc(result)
    assert "Windows Admin Center (interactive; no script)" in text
    for must in ("CredSSP", "Kernel Soft Reboot", "Update the cluster functional level", "IRREVERSIBLE",
                 "Do not switch tools"):
        assert must in text, must
    for node in ("N01", "N02", "N03", "N04"):
        assert f"`{node}` upgraded (build 25398)" in text
    # every step outside the WAC run has its own checklist entry or belongs to a listed pass
    for step in result.plan.steps:
        if step.group == "cau_run":
            continue
        assert step.id in text or (step.node and f"`{step.node}`" in text), step.id


def test_summary_risks_and_point_of_no_return() -> None:
    result = compile_checked(load_source(ROOT / "examples" / "four-node.hciplan"))
    text = doc(result)
    first_irreversible = next(s for s in result.plan.steps if s.spec.irreversible)
    assert f"**Point of no return: `{first_irreversible.id}`**" in text
    assert result.plan.fingerprint in text
    assert "| Simulated duration | not simulated" in text
    for phase, _ in result.plan.phases():
        assert f"\n## {phase} " in text
    assert text.count("- Verify: ") >= len(result.plan.phases())
    assert text.count("- Back out: ") == text.count("- Verify: ")


def test_simulation_fills_the_summary() -> None:
    result = compiled_text(hciplan_text(Shape()))
    simulation = SimResult.from_document({
        "schema": "hciplan.sim/1", "runs": 500, "seed": 7, "fingerprint": result.plan.fingerprint,
        "duration_minutes": {"p50": 400.0, "p80": 430.0, "p90": 455.5, "p95": 470.0, "mean": 405.0, "max": 520.0},
        "p_within_window": 0.83})
    text = doc(result, simulation)
    assert "| Simulated duration | P50 6h40m, P90 7h36m (500 runs, seed 7) |" in text
    assert "| Chance to finish in the windows | 83.0% |" in text


@pytest.mark.parametrize("document", [{}, {"schema": "hciplan.sim/1"}, {"schema": "other"},
                                      {"schema": "hciplan.sim/1", "runs": 1, "duration_minutes": {"p50": "x"}}])
def test_bad_simulation_documents_are_rejected_with_a_message(document) -> None:
    with pytest.raises(ValueError, match="hciplan.sim/1|simulation"):
        SimResult.from_document(document)


CASES = {**{p.stem: p for p in EXAMPLES}, **VARIANTS}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_runbook(case) -> None:
    source = CASES[case]
    result = compile_checked(load_source(source)) if isinstance(source, Path) else compiled_text(source)
    text = doc(result)
    assert text == doc(result)  # deterministic
    assert_golden(GOLDEN / f"{case}.md", text)


MARK = "QZX"
FRAGMENTS = ["`", "```", "\n", "\n```\n", "<script>", "|", "*", "_", "#", "[x](y)", "'", "\u2019", "$(a)", "x", " "]


@settings(derandomize=True, max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(field=st.sampled_from(["media_path", "pool", "window", "volume"]),
       core=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=5).map("".join))
def test_user_text_stays_inside_code_in_the_markdown(field, core) -> None:
    value = MARK + core + MARK
    base = hciplan_text(Shape(solution=True, source="media" if field == "media_path" else "windows_update"))
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if field == "media_path":
        quoted = '"C:\\\\' + quoted[1:]
        text = base.replace('media_path = "C:\\\\Media\\\\23H2"', f"media_path = {quoted}")
    elif field == "pool":
        text = base.replace('pool "S2D"', f"pool {quoted}")
    elif field == "window":
        text = base.replace('window "w1"', f"window {quoted}")
    else:
        text = base.replace('volume "Data" {', f"volume {quoted} {{ used = 100GB ").replace(
            "vm_version = skip", f"vm_version = skip\n  convert_to_thin = [{quoted}]")
    result = compile_checked(check_text(text, "hostile.hciplan"))
    assume(result.ok)
    markdown = doc(result)
    tokens = MarkdownIt("commonmark").parse(markdown)
    seen = False
    for token in tokens:
        for piece in [token, *(token.children or [])]:
            if MARK in piece.content and not piece.children:
                assert piece.type in ("code_inline", "fence", "code_block"), (piece.type, piece.content[:80])
                seen = True
    assert seen or field == "pool"  # the pool name appears only inside PowerShell blocks when it is used


def test_offline_node_work_is_shown_in_parallel_with_its_parallel_duration() -> None:
    result = compiled_text(VARIANTS["offline-media"])
    text = doc(result)
    per_node = max(sum(s.mean_minutes for s in result.plan.steps if s.group == "offline" and s.node == n)
                   for n in ("N01", "N02", "N03"))
    from hciplan.compiler.quantities import format_minutes

    assert f"### offline pass (~{format_minutes(per_node)})" in text
    assert "Every node at once, while the cluster is stopped:" in text
