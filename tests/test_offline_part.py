"""The offline part of setup counts as down time (issue 15): the resync, the exposure and the compiler's quantiles.

A feature update's setup runs its last phases after its first restart, with the node's drives serving no
writes; `timing.offline_share` (default 0.5, an assumption) is that share of the setup step. The node is down
from there to the end of its first reboot: the repair wait resyncs that time, the exposure starts there.
"""

from __future__ import annotations

import dataclasses

import pytest

from hciplan.compiler.durations import SPREAD, factor_quantile, resolve, shared_factor_sigma
from hciplan.simulator import fast, prepare_simulation
from hciplan.simulator.engine import run_once
from hciplan.simulator.montecarlo import trace_run
from plan_models import Shape
from sim_helpers import final_segments, plan_of, shape_text


MEDIA = shape_text(Shape(nodes=3, source="media"))
MANUAL = shape_text(Shape(nodes=3, method="manual", source="media"))
# the repair is exactly the drawn spread x the down time: no overhead, resync as fast as writes, no shared factors
EXACT = ("\ntiming {{\n  write_per_s = 200MB  resync_per_s = 200MB  repair_overhead = 0m  run_spread = 0  "
         "kind_spread = 0{extra}\n  model \"os.install\" {{ distribution = fixed  value = 40m }}\n"
         "  model \"os.reboot\" {{ distribution = fixed  value = 10m }}\n}}\n")


def _pass(plan, node="N02", group="cau_run"):
    return {s.id.rsplit(".", 1)[1]: s for s in plan.steps if s.node == node and s.group == group}


@pytest.mark.parametrize("text, setup, reboot, group", [
    (MEDIA, "install", "reboot", "cau_run"), (MANUAL, "setup", "reboot", "os")])
def test_the_repair_wait_resyncs_the_offline_part_of_setup_and_the_reboot(text, setup, reboot, group):
    plan = plan_of(text + EXACT.format(extra=""))
    steps = _pass(plan, group=group)
    assert steps[setup].offline_share == 0.5, "media: no download, the default share of the setup"
    unit = plan.unit_of(steps[reboot].id)
    assert unit.down == steps[reboot].id and unit.down_from == steps[setup].id
    sp = prepare_simulation(plan, ignore_windows=True)
    idx = {sid: i for i, sid in enumerate(sp.ids)}
    for index in range(5):
        done = final_segments(trace_run(sp, 3, index))
        wait = done[idx[steps["storage_wait"].id]]
        # down: half of the 40 min setup, then the 10 min reboot; the spread is a triangular (0.8, 0.9, 1.3)
        spread = (wait[1] - wait[0]) / (0.5 * 40 + 10)
        assert SPREAD.low <= spread <= SPREAD.high, (index, spread)
    # the plan's mean says the same: the spread's mean is 1
    assert steps["storage_wait"].mean_minutes == pytest.approx(0.5 * 40 + 10)


def test_the_repair_wait_grows_with_the_offline_share_and_zero_gives_the_reboot_alone():
    shares = (0, 0.5, 1)
    plans = [plan_of(MEDIA + EXACT.format(extra=f"  offline_share = {share}")) for share in shares]
    waits = []
    for plan in plans:
        sp = prepare_simulation(plan, ignore_windows=True)
        wait = sp.ids.index(_pass(plan)["storage_wait"].id)
        done = final_segments(trace_run(sp, 7, 0))
        waits.append(done[wait][1] - done[wait][0])
    # the same draws (the share changes no draw): the waits scale with the down time, 10, 30 and 50 min
    assert waits[1] / waits[0] == pytest.approx(3.0) and waits[2] / waits[0] == pytest.approx(5.0)
    zero = _pass(plans[0])
    assert zero["install"].offline_share == 0 and plans[0].unit_of(zero["reboot"].id).down_from is None


def test_exposure_starts_at_the_offline_part_of_setup():
    plan = plan_of(MEDIA + EXACT.format(extra=""))
    alone = plan_of(MEDIA + EXACT.format(extra="  offline_share = 0"))
    sp, sp0 = prepare_simulation(plan, ignore_windows=True), prepare_simulation(alone, ignore_windows=True)
    run, run0 = trace_run(sp, 2, 0), trace_run(sp0, 2, 0)
    done, done0 = final_segments(run), final_segments(run0)
    expected = 0.0
    for unit in sp.units:
        if unit.reboot < 0:
            continue
        offline = unit.offline * (done[unit.down_from][1] - done[unit.down_from][0]) if unit.down_from >= 0 else 0.0
        expected += done[unit.tail][1] - (done[unit.reboot][0] - offline)
    assert run.exposure == pytest.approx(expected)
    # three CAU passes start 20 min earlier and resync 20 min more each (spread x 20: at least 16 min);
    # the registry passes' plain restarts have no setup before them
    registry = [u for u in sp.units if u.reboot >= 0 and sp.kinds[u.reboot] == "node.reboot"]
    assert registry and all(u.down_from < 0 for u in registry)
    assert run.exposure - run0.exposure >= 3 * (20 + 0.8 * 20) - 1e-9
    assert run.exposure - run0.exposure <= 3 * (20 + 1.3 * 20) + 1e-9
    assert {i: d for i, d in done0.items() if i < sp.units[1].steps[0]} == \
        {i: d for i, d in done.items() if i < sp.units[1].steps[0]}


def test_a_windows_update_install_downloads_online():
    plan = plan_of(shape_text(Shape(nodes=3)))  # source = windows_update: the install step downloads first
    install = _pass(plan)["install"]
    d = resolve(plan.model, "cau.install", "os.install")
    assert d.extra is not None
    # the step's share is scaled so that its mean offline part is half of the setup alone, not of the download
    assert install.offline_share * install.mean_minutes == pytest.approx(0.5 * d.main.mean, abs=1e-4)
    assert install.offline_share < 0.5


def test_the_compiler_quantiles_count_the_offline_part():
    plan = plan_of(MEDIA)
    steps = _pass(plan)
    model = plan.model
    setup = resolve(model, "cau.install", "os.install")
    reboot = resolve(model, "cau.reboot", "os.reboot")
    wait = resolve(model, "cau.storage_wait", "storage.wait")
    down90 = reboot.quantile(0.9) + 0.5 * setup.quantile(0.9)
    assert steps["storage_wait"].p90_minutes == pytest.approx(wait.quantile(0.9, down90), abs=1e-3)
    sigma = shared_factor_sigma(model.timing)
    resync90 = (wait.repair_overhead + wait.repair_ratio * down90) * SPREAD.quantile(0.9) * factor_quantile(sigma, 0.9)
    assert steps["storage_wait"].p90_minutes == pytest.approx(resync90, abs=1e-3)
    down = reboot.mean() + 0.5 * setup.mean()
    mean = wait.repair_overhead + wait.repair_ratio * down
    assert steps["storage_wait"].mean_minutes == pytest.approx(mean, abs=1e-3)
    # the unit's fit covers the repair at the same down time (at the plan's confidence)
    unit = plan.unit_of(steps["reboot"].id)
    alone = plan_of(MEDIA + "\ntiming { offline_share = 0 }\n").unit_of(steps["reboot"].id)
    assert unit.fit_minutes > alone.fit_minutes


@pytest.mark.parametrize("text", [MANUAL, shape_text(Shape(nodes=4, method="manual"))], ids=["media", "wu"])
@pytest.mark.parametrize("window", [{"ignore_windows": True}, {"window": 480.0}], ids=["none", "8h"])
def test_fast_path_equals_simpy_with_the_offline_part(text, window):
    plan = plan_of(text + "\ntiming { offline_share = 0.3 }\n")
    sp = prepare_simulation(plan, **window)
    assert fast.fast_plan(sp).eligible and any(u.down_from >= 0 for u in sp.units)
    taken = 0
    for index in range(60):
        mine = fast.run_fast(sp, 4, index)
        if mine is None:
            continue
        taken += 1
        reference = run_once(sp, 4, index)
        for f in dataclasses.fields(reference):
            a, b = getattr(mine, f.name), getattr(reference, f.name)
            assert a == b and repr(a) == repr(b), (index, f.name, a, b)
    assert taken >= 50


@pytest.mark.parametrize("value, code", [("1.5", "HCI109"), ("-0.1", "HCI109"), ("half", "HCI103")])
def test_offline_share_is_a_share(value, code):
    from test_simulator_language import diagnostics, line_of

    text = MEDIA + f"\ntiming {{\n  offline_share = {value}\n}}\n"
    assert (code, line_of(text, "offline_share")) in diagnostics(text)
