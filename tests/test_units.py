"""Units of work, safe points and bounds: computed once by the compiler, read by the simulator.

The property: wherever the simulator stops a run at a window, it stops at a unit's
head with every earlier unit finished to its safe point, and a unit once started
runs to its end (past the window's end if it must).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hciplan.backends import json_plan
from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.units import HANG_P90_FACTOR, MIN_BOUND, MIN_REBOOT_TIMEOUT, TIMEOUT_P90_FACTOR, step_durations
from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import STOPPED, run_once
from hciplan.simulator.montecarlo import simulate
from plan_models import Shape
from sim_helpers import plan_of, shape_text

SHAPES = st.builds(Shape, nodes=st.integers(2, 6), method=st.sampled_from(["cau", "manual", "offline"]),
                   source=st.sampled_from(["windows_update", "media"]), bitlocker=st.booleans(),
                   atc_configured=st.booleans(), solution=st.booleans())


def _plan(shape: Shape):
    return plan_of(shape_text(shape))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(shape=SHAPES)
def test_units_partition_the_plan_and_start_at_their_head(shape):
    plan = _plan(shape)
    seen = [step for unit in plan.units for step in unit.steps]
    assert sorted(seen) == sorted(s.id for s in plan.steps), "every step is in exactly one unit"
    order = {s.id: i for i, s in enumerate(plan.steps)}
    for unit in plan.units:
        inside = set(unit.steps)
        assert [order[s] for s in unit.steps] == sorted(order[s] for s in unit.steps)
        entries = [s for s in unit.steps if not inside & set(plan.step(s).after)]
        assert entries == [unit.head], f"{unit.id}: only the head is entered from outside"
        assert unit.fit_minutes > 0 and unit.bound_minutes >= unit.fit_minutes
        assert plan.unit_head(unit.head) and not any(plan.unit_head(s) for s in unit.steps[1:])
        nodes = {plan.step(s).node for s in unit.steps}
        if unit.kind == "pass":
            assert nodes == {unit.node}
            assert plan.step(unit.tail).spec.effect == "repair_wait", "a node pass ends with its storage wait"
        if any(plan.step(s).spec.takes_node_down for s in unit.steps):
            assert unit.down is not None and unit.kind in ("pass", "bracket")


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(shape=SHAPES, window_hours=st.integers(1, 30), index=st.integers(0, 3))
def test_the_simulator_stops_only_at_unit_boundaries(shape, window_hours, index):
    plan = _plan(shape)
    sp = prepare_simulation(plan, window=window_hours * 60)
    run = run_once(sp, 7, index)
    # the heads the simulator gates are the plan's unit heads
    assert {u.steps[0] for u in sp.units} == {sp.ids.index(u.head) for u in plan.units}
    if run.outcome != STOPPED:
        return
    assert plan.unit_head(sp.ids[run.step])
    result = run_once(sp, 7, index, trace=True)
    started = {s.step for s in result.segments}
    done = {s.step for s in result.segments if s.status == "ok"}
    for unit in plan.units:
        members = {sp.ids.index(s) for s in unit.steps}
        if members & started:
            assert members <= done, f"{unit.id} started and must have run to its safe point"
    assert run.end <= sp.windows[0].end or run.overrun > 0, "a run ends past the window only by an overrun"


def test_a_unit_that_started_runs_past_the_window_and_counts_as_overrun():
    # one window that holds the first node's pass at 50% confidence but not the real (slower) draws of some runs
    plan = plan_of(shape_text(Shape(nodes=3), tail="\ntiming { window_confidence = 0.5 }\n"))
    p2 = next(u for u in plan.units if u.cau)
    start = sum(u.fit_minutes for u in plan.units[: plan.units.index(p2)])
    window = start + p2.fit_minutes + 1
    summary = simulate(prepare_simulation(plan, window=window), 300, 3, jobs=1)
    assert 0 < summary.overrun_share < 1
    assert 0 < summary.overrun_p90 <= summary.overrun_max


def test_bounds_come_from_the_resolved_models_and_the_timing_block():
    plan = plan_of(shape_text(Shape(nodes=4)))
    durations = dict(zip((s.id for s in plan.steps), step_durations(plan.model, [s.kind for s in plan.steps])))
    for s in plan.steps:
        if s.spec.reboots:
            assert s.bound_minutes == plan.reboot_timeout
        elif s.spec.effect not in ("drain", "repair_wait"):
            assert s.bound_minutes >= max(MIN_BOUND, HANG_P90_FACTOR * durations[s.id].quantile(0.9)) - 1e-9
    reboots = [durations[s.id].quantile(0.9) for s in plan.steps if s.spec.reboots]
    assert plan.reboot_timeout >= max(MIN_REBOOT_TIMEOUT, TIMEOUT_P90_FACTOR * max(reboots)) - 1
    # the timing block's timeouts are the bounds, in the plan and hence in the simulation and the script
    timed = plan_of(shape_text(Shape(nodes=4), upgrade_extra="  reboot_timeout = 40m",
                               tail="\ntiming { drain_timeout = 25m  repair_timeout = 3h }\n"))
    assert timed.reboot_timeout == 40
    kinds = {s.spec.effect: s.bound_minutes for s in timed.steps if s.spec.effect in ("drain", "repair_wait")}
    assert kinds == {"drain": 25.0, "repair_wait": 180.0}
    sp = prepare_simulation(timed)
    assert sp.bound == tuple(s.bound_minutes for s in timed.steps)


def test_a_slower_reboot_model_raises_the_derived_reboot_timeout():
    slow = '\ntiming { model "os.reboot" { distribution = triangular  low = 30m  mode = 45m  high = 80m } }\n'
    fast, slowed = plan_of(shape_text(Shape(nodes=3))), plan_of(shape_text(Shape(nodes=3), tail=slow))
    assert slowed.reboot_timeout > fast.reboot_timeout
    assert slowed.step("p2.cau.N01.reboot").bound_minutes == slowed.reboot_timeout


def test_a_draw_past_its_bound_is_given_up_there():
    # the drain always takes 60 min but the file gives it 20: every attempt times out, CAU retries, the node fails
    text = shape_text(Shape(nodes=3), tail='\ntiming { drain_timeout = 20m  model "node.drain" { distribution = '
                                           'fixed  value = 60m } }\n')
    sp = prepare_simulation(plan_of(text), ignore_windows=True)
    run = run_once(sp, 0, 0, trace=True)
    failed = [s for s in run.segments if s.status == "drain_failure"]
    assert failed and all(s.end - s.start == pytest.approx(20.0) for s in failed)
    assert run.outcome == "aborted" and "drain timeout 20 min" in run.reason


def test_the_plan_json_carries_units_and_bounds():
    plan = plan_of(shape_text(Shape(nodes=2)))
    doc = json.loads(json_plan.dumps(json_plan.plan_document(plan)))
    assert [u["id"] for u in doc["units"]] == [u.id for u in plan.units]
    assert doc["reboot_timeout_minutes"] == plan.reboot_timeout and doc["window_confidence"] == plan.confidence
    by_id = {s["id"]: s for s in doc["steps"]}
    for unit in doc["units"]:
        assert all(by_id[s]["unit"] == unit["id"] for s in unit["steps"])
    assert all(by_id[s.id]["bound_minutes"] == s.bound_minutes for s in plan.steps)
    assert set(CATALOG) >= {s["kind"] for s in doc["steps"]}


def test_a_reboot_timeout_below_the_feature_update_reboot_is_a_warning_at_the_attribute():
    from hciplan.compiler.compile import compile_checked
    from hciplan.compiler.pipeline import check_text

    text = shape_text(Shape(nodes=3), upgrade_extra="  reboot_timeout = 15m")
    result = compile_checked(check_text(text, "t.hciplan"))
    (warning,) = [d for d in result.diagnostics if d.code == "HCI920"]
    line = text[: text.index("reboot_timeout = 15m")].count("\n") + 1
    assert warning.span.line == line and "p2.cau." in warning.message and "15 min" in warning.message
    assert result.ok, "a warning: the plan still compiles"
    fine = compile_checked(check_text(shape_text(Shape(nodes=3), upgrade_extra="  reboot_timeout = 60m"), "t.hciplan"))
    assert "HCI920" not in [d.code for d in fine.diagnostics]
    drain = compile_checked(check_text(shape_text(Shape(nodes=3), tail="\ntiming { drain_timeout = 1m }\n"), "t.hciplan"))
    assert [d.code for d in drain.diagnostics if d.code == "HCI920"] == ["HCI920"]


SCRIPT_SHAPES = st.builds(Shape, nodes=st.integers(2, 5), method=st.sampled_from(["cau", "manual", "offline"]),
                          source=st.sampled_from(["windows_update", "media"]), bitlocker=st.booleans(),
                          atc_configured=st.booleans(), solution=st.booleans())


def _script_gates(plan) -> dict[str, float]:
    """Where the emitted script applies the window rule: unit id -> fit minutes, read from its parse tree."""
    import ps_parse
    from hciplan.backends import powershell

    tree = ps_parse.parse(powershell.render(plan)[powershell.FILE_NAME])
    gates: dict[str, float] = {}
    for command in ps_parse.commands(tree):
        if command.name == "Invoke-PlanStep" and command.argument("Unit") is not None:
            gates[ps_parse.evaluate_literal(command.argument("Unit"))] = float(command.argument("FitMinutes"))
    # inside the CAU run, the pre-update script gates each node with the fit the run hands it
    for table in ps_parse.assigned_expressions(tree, "CauUnitFit"):
        for entry in table.strip("@{} ").split("; "):
            node, minutes = entry.split(" = ")
            unit = next(u for u in plan.units if u.cau and u.node == ps_parse.evaluate_literal(node))
            gates[unit.id] = float(minutes)
    return gates


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(shape=SCRIPT_SHAPES, window_hours=st.integers(2, 30))
def test_the_script_and_the_simulator_stop_at_the_same_unit_boundaries(shape, window_hours):
    plan = _plan(shape)
    gates = _script_gates(plan)
    # every unit the simulator gates is gated by the script, with the same fit (rounded as the script prints it)
    assert set(gates) == {u.id for u in plan.units}
    for unit in plan.units:
        assert gates[unit.id] == pytest.approx(unit.fit_minutes, abs=0.05), unit.id
    sp = prepare_simulation(plan, window=window_hours * 60)
    assert [u.need for u in sp.units] == [u.fit_minutes for u in plan.units]
    run = run_once(sp, 11, 0)
    if run.outcome == STOPPED:
        assert plan.unit_of(sp.ids[run.step]).id in gates, "the simulator stopped where the script may stop"


def test_the_script_waits_as_long_as_the_simulator_gives_a_step():
    import ps_parse
    from hciplan.backends import powershell

    plan = plan_of(shape_text(Shape(nodes=3, method="manual", source="media"),
                              tail="\ntiming { drain_timeout = 37m  repair_timeout = 3h }\n"))
    tree = ps_parse.parse(powershell.render(plan)[powershell.FILE_NAME])
    sp = prepare_simulation(plan)
    waits = {"Invoke-NodeDrain": "drain", "Wait-StorageHealthy": "repair_wait"}
    seen = set()
    for step in plan.steps:
        if step.spec.effect not in waits.values():
            continue
        body = ps_parse.function_node(tree, f"Step-{step.id.replace('.', '-')}")
        for command in ps_parse.commands_under(body):
            if waits.get(command.name) == step.spec.effect:
                assert int(command.argument("TimeoutMinutes")) == sp.bound[sp.ids.index(step.id)] == step.bound_minutes
                seen.add(step.spec.effect)
    assert seen == {"drain", "repair_wait"}
