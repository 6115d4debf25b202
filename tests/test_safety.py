"""Safety proofs: each property has a model or a mutated plan that violates it, and the counterexample says so."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pytest

from hciplan.compiler.builder import build_plan
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import Collector
from hciplan.compiler.lower import lower
from hciplan.compiler.pipeline import check_text
from hciplan.compiler.plan import Plan, order_steps
from hciplan.compiler.safety import _reachability, prove
from hciplan.compiler.source import Source
from hciplan.compiler.syntax import parse
from plan_models import Shape, hciplan_text


def model_of(text: str):
    """The model of `text` without the static checks (to reach the proofs with an unsafe model)."""
    diagnostics = Collector()
    document = parse(Source("unsafe.hciplan", text), diagnostics)
    model = lower(document, diagnostics)
    assert model is not None, diagnostics.items
    return model


def proofs(plan: Plan) -> list:
    collector = Collector()
    prove(plan, collector)
    return collector.items


def mutate(plan: Plan, after: dict[str, tuple[str, ...]]) -> Plan:
    """The same plan with some steps' predecessors replaced."""
    steps = [dataclasses.replace(s, after=after.get(s.id, s.after)) for s in plan.steps]
    return Plan(plan.model, order_steps(steps))


def valid_plan(**shape) -> Plan:
    result = compile_checked(check_text(hciplan_text(Shape(**shape)), "ok.hciplan"))
    assert result.ok
    return result.plan


@pytest.mark.parametrize("shape", [Shape(), Shape(nodes=2), Shape(method="manual", source="media"),
                                   Shape(method="offline"), Shape(nodes=16, solution=True, bitlocker=True,
                                                                  atc_configured=False, aks=True)])
def test_valid_plans_prove_safe(shape: Shape) -> None:
    assert proofs(valid_plan(**shape.__dict__)) == []


@pytest.mark.parametrize("shape", [Shape(), Shape(method="offline"), Shape(nodes=16, solution=True)])
def test_the_reachability_bitsets_are_the_graphs_descendants(shape: Shape) -> None:
    plan = valid_plan(**shape.__dict__)
    position = {s.id: i for i, s in enumerate(plan.steps)}
    reach = _reachability(plan, position)
    for step in plan.steps:
        expected = sum(1 << position[d] for d in nx.descendants(plan.graph, step.id))
        assert reach[step.id] == expected, step.id
    # and on a plan whose passes may overlap (the case the bitsets decide)
    unsafe = mutate(plan, {"p2.cau.N02.drain": plan.step("p2.cau.N01.drain").after} if shape.method == "cau" else {})
    position = {s.id: i for i, s in enumerate(unsafe.steps)}
    reach = _reachability(unsafe, position)
    assert all(reach[s.id] == sum(1 << position[d] for d in nx.descendants(unsafe.graph, s.id)) for s in unsafe.steps)


def test_storage_next_node_before_repair_finishes() -> None:
    plan = valid_plan()
    # N02 starts as soon as N01 resumes; N01's repair wait only ends after N02's reboot.
    unsafe = mutate(plan, {"p2.cau.N02.drain": ("p2.cau.N01.resume",),
                           "p2.cau.N01.storage_wait": ("p2.cau.N02.reboot",)})
    walk = next(d for d in proofs(unsafe) if d.code == "HCI901" and "repair" in d.message)
    assert "N02 can go down while the storage repair after N01 is still pending" in walk.message
    assert "p2.cau.N01.resume -> p2.cau.N02.drain -> p2.cau.N02.install -> p2.cau.N02.reboot starts" in walk.hints[0]
    assert "2 fault domains are degraded" in walk.hints[1]


def test_storage_repair_wait_skipped_in_the_dag() -> None:
    plan = valid_plan()
    unsafe = mutate(plan, {"p2.cau.N02.drain": ("p2.cau.N01.resume",)})
    overlap = next(d for d in proofs(unsafe) if d.code == "HCI901")
    assert "N01 and N02 can be down at the same time" in overlap.message
    assert "p2.cau.N01.storage_wait" in overlap.message


def test_storage_passes_that_may_overlap() -> None:
    plan = valid_plan(nodes=3)
    # N02's pass no longer waits for N01's: the DAG allows both down at once.
    unsafe = mutate(plan, {"p2.cau.N02.drain": plan.step("p2.cau.N01.drain").after})
    overlap = next(d for d in proofs(unsafe) if d.code == "HCI901" and "same time" in d.message)
    assert "N01 and N02 can be down at the same time" in overlap.message
    assert "tolerates 2" in overlap.hints[1]


def test_quorum_two_nodes_without_witness() -> None:
    text = hciplan_text(Shape(nodes=2, witness="none"))
    assert any(d.code == "HCI501" for d in check_text(text).diagnostics)  # the checker sees it too
    found = [d for d in proofs(build_plan(model_of(text))) if d.code == "HCI902"]
    assert len(found) == 1
    assert "2 of 2 votes needed, 1 present" in found[0].hints[1]
    assert "p1.registry.N01.reboot starts" in found[0].hints[0]


def test_quorum_two_nodes_down_in_a_three_node_cluster() -> None:
    plan = build_plan(model_of(hciplan_text(Shape(nodes=3, witness="none"))))
    unsafe = mutate(plan, {"p1.registry.N02.drain": ("p1.registry.N01.reboot",),
                           "p1.registry.N02.reboot": ("p1.registry.N02.apply", "p1.registry.N01.drain")})
    found = next(d for d in proofs(unsafe) if d.code == "HCI902")
    assert "2 of 3 votes needed, 1 present" in found.hints[1]


def test_capacity_ha_memory_exceeds_remaining_nodes() -> None:
    text = hciplan_text(Shape(nodes=3, node_memory_gb=256, ha_memory_gb=600))
    found = [d for d in proofs(build_plan(model_of(text))) if d.code == "HCI903"]
    assert len(found) == 1
    assert "HA VMs need 600GB" in found[0].hints[1] and "have 512GB" in found[0].hints[1]
    assert "p1.registry.N01.drain starts" in found[0].hints[0]


def test_irreversible_without_validation_gate() -> None:
    plan = valid_plan()
    unsafe = mutate(plan, {"p3.functional_level": ("p2.cau.N04.storage_wait",)})
    found = next(d for d in proofs(unsafe) if d.code == "HCI904")
    assert "no validation gate" in found.message
    assert "p2.cau.N04.storage_wait -> p3.functional_level starts" in found.hints[0]


def test_irreversible_before_the_last_os_step() -> None:
    plan = valid_plan()
    unsafe = mutate(plan, {"p3.validate": ("p2.cau.N03.storage_wait",),
                           "p2.cau.N04.drain": ("p3.storage_pool",)})
    found = next(d for d in proofs(unsafe) if d.code == "HCI904")
    assert "p3.functional_level is irreversible but can start before p2.cau.N04.install" in found.message


def test_space_for_the_infrastructure_volume() -> None:
    text = hciplan_text(Shape(solution=True, pool_free_gb=100))
    assert any(d.code == "HCI305" for d in check_text(text).diagnostics)
    found = [d for d in proofs(build_plan(model_of(text))) if d.code == "HCI905"]
    assert len(found) == 1
    assert "the pool has 100GB free" in found[0].message


@pytest.mark.parametrize("nodes, free_gb, fits", [(2, 400, False), (2, 500, True), (4, 600, False), (4, 750, True)])
def test_space_is_the_mirror_footprint_not_the_raw_volume_size(nodes, free_gb, fits) -> None:
    # 400GB and 600GB free held the raw 250GB (the old rule); as a 2-way / 3-way mirror it takes 500GB / 750GB.
    text = hciplan_text(Shape(nodes=nodes, solution=True, pool_free_gb=free_gb)).replace(
        "allocated = 2048GB", "allocated = 2048GB  reserve = 0GB")
    found = [d for d in proofs(build_plan(model_of(text))) if d.code == "HCI905"]
    assert bool(found) is not fits
    if found:
        assert f"{250 * nodes if nodes == 2 else 750}GB" in found[0].message
        assert "mirror" in found[0].hints[1]


def test_space_keeps_the_repair_reserve() -> None:
    # 2048 + 1024 = 3072GB pool on 4 nodes: the assumed reserve is a quarter, 768GB; 750 + 768 > 1024.
    text = hciplan_text(Shape(solution=True, pool_free_gb=1024))
    found = [d for d in proofs(build_plan(model_of(text))) if d.code == "HCI905"]
    assert len(found) == 1
    assert "needs 1518GB (494GB short)" in found[0].message
    assert "repair reserve 768GB (assumed" in found[0].hints[1]


def test_space_counts_only_conversions_ordered_before_the_solution() -> None:
    text = hciplan_text(Shape(solution=True, pool_free_gb=100)).replace(
        'volume "Data" { size = 1TB  resiliency = mirror_3way }',
        'volume "Data" { size = 1TB  resiliency = mirror_3way  used = 200GB }',
    ).replace("vm_version = skip", 'vm_version = skip\n  convert_to_thin = ["Data"]')
    plan = valid_plan_text(text)
    assert proofs(plan) == []
    unsafe = mutate(plan, {"p5.thin_convert.Data": ("p6.solution_deploy",),
                           "p5.lcm_extension.N01": ("p5.remediate.N04.storage_wait",),
                           "p5.lcm_extension.N02": ("p5.remediate.N04.storage_wait",),
                           "p5.lcm_extension.N03": ("p5.remediate.N04.storage_wait",),
                           "p5.lcm_extension.N04": ("p5.remediate.N04.storage_wait",)})
    found = next(d for d in proofs(unsafe) if d.code == "HCI905")
    assert "thin conversions ordered before it: none" in found.hints[0]


def valid_plan_text(text: str) -> Plan:
    result = compile_checked(check_text(text, "ok.hciplan"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    return result.plan
