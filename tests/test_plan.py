"""The compiler: plan structure per method and intent, determinism, golden JSON plans, DAG properties."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hciplan.backends import json_plan
from hciplan.cli import cli
from hciplan.compiler.catalog import CATALOG, PHASES
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import check_text, load_source
from helpers import assert_golden
from plan_models import Shape, hciplan_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
GOLDEN = Path(__file__).parent / "golden" / "plan"
OS_KINDS = {"cau.install", "os.setup", "offline.setup"}


def compile_text(text: str):
    result = compile_checked(check_text(text, "test.hciplan"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    return result.plan


def kinds(plan) -> list[str]:
    return [s.kind for s in plan.steps]


# --- golden plans and determinism ----------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_golden_plan_json(example: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "--format", "json", str(example.relative_to(ROOT))],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert_golden(GOLDEN / f"{example.stem}.json", result.output)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_compiling_twice_gives_identical_bytes(example: Path) -> None:
    first = json_plan.dumps(json_plan.plan_document(compile_checked(load_source(example)).plan))
    second = json_plan.dumps(json_plan.plan_document(compile_checked(load_source(example)).plan))
    assert first == second


def test_plan_json_schema_fields() -> None:
    document = json.loads(json_plan.dumps(json_plan.plan_document(compile_text(hciplan_text(Shape())))))
    assert document["schema"] == "hciplan.plan/1"
    assert document["fingerprint"].startswith("sha256:")
    assert document["diagnostics"] == []
    required = {"id", "kind", "phase", "scope", "node", "after", "drains", "reboots", "irreversible",
                "downtime", "cmdlets"}
    ids = [s["id"] for s in document["steps"]]
    seen: set[str] = set()
    for step in document["steps"]:
        assert required <= step.keys()
        assert set(step["after"]) <= seen, f"{step['id']} listed before a predecessor"
        seen.add(step["id"])
    assert len(ids) == len(set(ids))


def test_fingerprint_follows_model_facts_not_layout() -> None:
    text = hciplan_text(Shape())
    relaid = "# a comment\n" + text.replace("  ", "    ")
    assert compile_text(text).fingerprint == compile_text(relaid).fingerprint
    assert compile_text(text).fingerprint != compile_text(hciplan_text(Shape(ha_memory_gb=256))).fingerprint


# --- steps appear only when the model needs them -----------------------------------------


def test_minimal_cau_plan_has_no_optional_steps() -> None:
    plan = compile_text(hciplan_text(Shape()))
    present = set(kinds(plan))
    for absent in ("aks.remove", "bitlocker.suspend", "bitlocker.resume", "atc.install", "remediate.apply",
                   "solution.deploy", "wdac.reapply", "media.verify", "post.vm_version"):
        assert absent not in present
    assert {"gate.preflight", "cau.install", "post.validate", "post.functional_level", "post.storage_pool",
            "after.verify"} <= present


def test_optional_steps_follow_the_intent() -> None:
    plan = compile_text(hciplan_text(Shape(aks=True, bitlocker=True, wdac=True, atc_configured=False,
                                           solution=True, vm_version="update")))
    order = [s.id for s in plan.steps]
    present = set(kinds(plan))
    assert {"aks.remove", "bitlocker.suspend", "bitlocker.resume", "atc.install", "atc.configure",
            "remediate.apply", "lcm.extension", "readiness.validate", "solution.validate", "solution.deploy",
            "wdac.reapply", "post.vm_version"} <= present
    first_reboot = next(i for i, s in enumerate(plan.steps) if s.spec.reboots)
    assert all(order.index(s.id) < first_reboot for s in plan.steps if s.kind == "bitlocker.suspend")
    last_reboot = max(i for i, s in enumerate(plan.steps) if s.spec.reboots)
    assert all(order.index(s.id) > order.index("p6.solution_deploy") > last_reboot
               for s in plan.steps if s.kind == "bitlocker.resume")
    assert order.index("p6.solution_validate") < order.index("p6.solution_deploy")


def test_cau_steps_form_one_run_in_node_order() -> None:
    text = hciplan_text(Shape()).replace('to = "23H2"', 'to = "23H2"\n  node_order = ["N03", "N01", "N04", "N02"]')
    plan = compile_text(text)
    run = [s for s in plan.steps if s.group == "cau_run"]
    assert run and all(s.kind.startswith("cau.") for s in run)
    nodes = list(dict.fromkeys(s.node for s in run))
    assert nodes == ["N03", "N01", "N04", "N02"]
    assert [s.id.rsplit(".", 1)[1] for s in run[:5]] == ["drain", "install", "reboot", "resume", "storage_wait"]


def test_manual_method_is_explicit_per_node_sequence() -> None:
    plan = compile_text(hciplan_text(Shape(method="manual", source="media")))
    node_steps = [s for s in plan.steps if s.phase == "P2" and s.node == "N01"]
    assert [s.kind for s in node_steps] == ["node.drain", "os.setup", "os.restart", "node.resume", "storage.wait"]
    assert "cau.prepare" not in kinds(plan)
    assert kinds(plan).count("media.verify") == 4


def test_offline_method_brackets_parallel_nodes() -> None:
    plan = compile_text(hciplan_text(Shape(method="offline")))
    stop, start = plan.step("p2.offline_stop"), plan.step("p2.offline_start")
    keys = [s for s in plan.steps if s.kind == "registry.apply"]
    assert len(keys) == 4 and all(s.after == (stop.id,) for s in keys)  # inside the bracket: no rolling pass
    setups = [s for s in plan.steps if s.kind == "offline.setup"]
    assert [s.after for s in setups] == [(k.id,) for k in keys]
    assert not [s for s in plan.steps if s.spec.drains]
    assert set(start.after) == {f"p2.offline.{s.node}.reboot" for s in setups}
    assert stop.spec.downtime and start.spec.downtime


@pytest.mark.parametrize("source", [*(p.stem for p in EXAMPLES), "offline"])
def test_steps_the_script_runs_one_at_a_time_form_one_chain(source: str) -> None:
    # The script performs the steps one after another in plan order; only the offline bracket's per-node
    # steps run at once (setup.ps1's jobs). Anything else left unordered would let the simulator overlap
    # steps the script serialises (BitLocker suspend, the media check, the LCM extension on every node).
    if source == "offline":
        plan = compile_text(hciplan_text(Shape(method="offline")))
    else:
        plan = compile_checked(load_source(ROOT / "examples" / f"{source}.hciplan")).plan
    serial = [s.id for s in plan.steps if s.group != "offline"]
    unordered = [(a, b) for a, b in zip(serial, serial[1:]) if a not in plan.ancestors(b)]
    assert unordered == []
    per_node = [s for s in plan.steps if s.kind in ("bitlocker.suspend", "media.verify", "lcm.extension",
                                                   "bitlocker.resume")]
    assert source == "offline" or per_node  # the examples do have such steps


def test_wac_is_interactive_and_with_cau_moves_functional_level_into_the_run() -> None:
    plan = compile_text(hciplan_text(Shape(method="wac", functional_level="with_cau")))
    assert plan.interactive
    level = plan.step("p2.cau_functional_level")
    assert level.group == "cau_run" and level.spec.irreversible
    # the P3 step stays as the fallback, after validation (its probe skips a level already raised)
    assert nx.has_path(plan.graph, "p2.cau_functional_level", "p3.functional_level")
    assert nx.has_path(plan.graph, "p3.validate", "p3.functional_level")


def test_cau_raises_the_level_only_on_the_media_route() -> None:
    """Defect 7: UpdateClusterFunctionalLevel is documented for the media route only [A-ps]."""
    wu = compile_text(hciplan_text(Shape(method="cau", functional_level="with_cau")))
    assert "cau.functional_level" not in kinds(wu) and "post.functional_level" in kinds(wu)
    media = compile_text(hciplan_text(Shape(method="cau", source="media", functional_level="with_cau")))
    assert "cau.functional_level" in kinds(media) and "post.functional_level" in kinds(media)


def test_functional_level_manual_leaves_no_irreversible_post_os_step() -> None:
    plan = compile_text(hciplan_text(Shape(functional_level="manual")))
    assert not [s for s in plan.steps if s.phase == "P3" and s.spec.irreversible]


def test_thin_conversion_steps_for_the_chosen_volumes() -> None:
    text = hciplan_text(Shape(solution=True, pool_free_gb=100)).replace(
        'volume "Data" { size = 1TB  resiliency = mirror_3way }',
        'volume "Data" { size = 1TB  resiliency = mirror_3way  used = 200GB }\n'
        '  volume "Logs" { size = 1TB  resiliency = mirror_3way  used = 900GB }',
    ).replace('vm_version = skip', 'vm_version = skip\n  convert_to_thin = ["Data"]')
    plan = compile_text(text)
    converts = [s for s in plan.steps if s.kind == "thin.convert"]
    assert [s.target for s in converts] == ["Data"]
    assert "p5.thin_convert.Data" in nx.ancestors(plan.graph, "p6.solution_validate")


def test_catalog_is_complete_and_sourced() -> None:
    for kind in CATALOG.values():
        assert kind.phase in PHASES
        assert kind.scope in ("cluster", "node")
        assert kind.source.startswith("["), kind.kind
        assert kind.interactive or kind.cmdlets, f"{kind.kind} maps to no cmdlet"
    docs = (ROOT / "docs" / "plan.md").read_text(encoding="utf-8")
    for kind in CATALOG:
        assert f"`{kind}`" in docs, f"{kind} is not documented in docs/plan.md"


# --- DAG properties over generated models ----------------------------------------------------

shapes = st.builds(
    Shape,
    nodes=st.integers(2, 16),
    method=st.sampled_from(["cau", "wac", "manual", "offline"]),
    aks=st.booleans(),
    bitlocker=st.booleans(),
    wdac=st.booleans(),
    atc_configured=st.booleans(),
    solution=st.booleans(),
    functional_level=st.sampled_from(["after_validation", "manual", "with_cau"]),
)


@settings(derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes)
def test_generated_plans_are_well_formed(shape: Shape) -> None:
    if (shape.functional_level == "with_cau" and shape.method not in ("cau", "wac")) or (
            shape.functional_level == "manual" and shape.solution):  # HCI606, HCI308
        shape = Shape(**{**shape.__dict__, "functional_level": "after_validation"})
    result = compile_checked(check_text(hciplan_text(shape), "gen.hciplan"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics if d.severity.value == "error"]
    plan, graph = result.plan, result.plan.graph
    assert nx.is_directed_acyclic_graph(graph)

    sources = [n for n in graph if graph.in_degree(n) == 0]
    sinks = [n for n in graph if graph.out_degree(n) == 0]
    assert sources == ["p0.preflight"] and sinks == ["p7.verify"]
    assert nx.descendants(graph, "p0.preflight") | {"p0.preflight"} == set(graph)
    assert nx.ancestors(graph, "p7.verify") | {"p7.verify"} == set(graph)

    os_steps = [s for s in plan.steps if s.kind in OS_KINDS]
    assert sorted(s.node for s in os_steps) == sorted(f"N{i:02d}" for i in range(1, shape.nodes + 1))

    for level in (s for s in plan.steps if "functional_level" in s.kind):
        assert {s.id for s in os_steps} <= nx.ancestors(graph, level.id)

    if shape.method != "offline":
        passes: dict[tuple[str, str], list[str]] = {}
        for s in plan.steps:
            if s.node and s.group:
                passes.setdefault((s.group, s.node), []).append(s.id)
        items = list(passes.items())
        for i, ((_, node_a), ids_a) in enumerate(items):
            for (_, node_b), ids_b in items[i + 1:]:
                if node_a != node_b:
                    ordered = nx.has_path(graph, ids_a[-1], ids_b[0]) or nx.has_path(graph, ids_b[-1], ids_a[0])
                    assert ordered, f"{ids_a[0]} and {ids_b[0]} could overlap"


def test_a_file_without_an_upgrade_has_nothing_to_plan(tmp_path: Path) -> None:
    text = hciplan_text(Shape())
    cluster_only = tmp_path / "cluster.hciplan"
    cluster_only.write_text(text[: text.index("upgrade ")], encoding="utf-8")
    for command in (["check"], ["plan"], ["graph"], ["plan", "--format", "json"]):
        result = CliRunner().invoke(cli, [*command, str(cluster_only)])
        assert result.exit_code == 1
        assert "HCI112" in result.output and "nothing to plan" in result.output
    document = json.loads(CliRunner().invoke(cli, ["plan", "--format", "json", str(cluster_only)]).output)
    assert [d["code"] for d in document["diagnostics"]] == ["HCI112"] and "steps" not in document
    checked = json.loads(CliRunner().invoke(cli, ["check", "--format", "json", str(cluster_only)]).output)
    assert [d["code"] for d in checked["diagnostics"]] == ["HCI112"]


def _hand_made() -> dict[str, str]:
    """Files beside the examples for check <=> plan: clean, warnings only, and errors from every stage."""
    from helpers import BASE, mutate

    return {
        "base": BASE,
        "cluster-only": BASE[: BASE.index("upgrade ")],
        "cluster-only-with-a-mistake": BASE[: BASE.index("upgrade ")].replace("witness = cloud", "witness = none"),
        "syntax-error": BASE.replace('to = "23H2"', "to = 23H2"),
        "semantic-error": mutate(BASE, ('orchestrator = "MGMT01"', 'orchestrator = "HCI02"')),
        "one-short-window": mutate(BASE, (
            '  window "second" { start = 2026-12-12T22:00+01:00  end = 2026-12-13T06:00+01:00 }\n', ""),
            ('  window "third" { start = 2026-12-19T22:00Z  end = 2026-12-20T06:00Z }\n', ""),
            ('  window "fourth" { start = 2026-12-26T22:00Z  end = 2026-12-27T06:00Z }\n', ""),
            ("end = 2026-12-06T06:00Z", "end = 2026-12-05T23:00Z")),
        "no-windows": "\n".join(line for line in BASE.split("\n") if "window " not in line),
    }


CHECK_AND_PLAN_FILES = [(p.name, p.read_text(encoding="utf-8")) for p in
                        EXAMPLES + sorted((ROOT / "examples" / "invalid").glob("*.hciplan"))] + \
                       sorted(_hand_made().items())


@pytest.mark.parametrize(("name", "text"), CHECK_AND_PLAN_FILES, ids=[n for n, _ in CHECK_AND_PLAN_FILES])
def test_a_clean_check_means_a_plan_exists(tmp_path: Path, name: str, text: str) -> None:
    """docs/plan.md: `check` exits 0 exactly when `plan` (text and JSON) succeeds."""
    path = tmp_path / "file.hciplan"
    path.write_text(text, encoding="utf-8")
    checked = CliRunner().invoke(cli, ["check", str(path)])
    planned = CliRunner().invoke(cli, ["plan", str(path)])
    as_json = CliRunner().invoke(cli, ["plan", "--format", "json", str(path)])
    assert checked.exit_code in (0, 1) and planned.exit_code in (0, 1), (checked.output, planned.output)
    assert (checked.exit_code == 0) == (planned.exit_code == 0) == (as_json.exit_code == 0), \
        (checked.output, planned.output)
    # the same errors, whichever command finds them
    errors = sorted(d["code"] for d in json.loads(as_json.output)["diagnostics"] if d["severity"] == "error")
    check_errors = sorted(d["code"] for d in json.loads(
        CliRunner().invoke(cli, ["check", "--format", "json", str(path)]).output)["diagnostics"]
        if d["severity"] == "error")
    assert errors == check_errors


def test_the_check_and_plan_files_cover_both_outcomes(tmp_path: Path) -> None:
    outcomes = set()
    for _, text in CHECK_AND_PLAN_FILES:
        path = tmp_path / "file.hciplan"
        path.write_text(text, encoding="utf-8")
        outcomes.add(CliRunner().invoke(cli, ["check", str(path)]).exit_code)
    assert outcomes == {0, 1}
