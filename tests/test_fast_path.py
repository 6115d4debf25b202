"""The exact fast path (simulator/fast.py) against the simpy engine, its reference: identical runs, identical bytes."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.simulator import engine, fast, prepare_simulation
from hciplan.simulator.engine import run_once
from hciplan.simulator.montecarlo import run_batch
from hciplan.simulator.prepared import keyed, keyed_draws
from sim_helpers import plan_of

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
# the file's windows, none, a window too short for most units, and one long enough to complete under the rule
WINDOWS = {"file": {}, "none": {"ignore_windows": True}, "8h": {"window": 480.0}, "40h": {"window": 2400.0}}
RUNS = 200


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    return plan_of(request.param.read_text(encoding="utf-8"))


@pytest.mark.parametrize("draws", ["sequential", "keyed"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_fast_runs_equal_simpy_runs_field_by_field(example, window, draws):
    sp = prepare_simulation(example, **WINDOWS[window])
    if draws == "keyed":
        sp = keyed_draws(sp, example)
    assert fast.fast_plan(sp).eligible
    taken = 0
    for index in range(RUNS):
        fast_run = fast.run_fast(sp, 5, index)
        if fast_run is None:  # a run only simpy gives exactly (a bound reached, a tie at the window rule)
            continue
        taken += 1
        reference = run_once(sp, 5, index)
        for f in dataclasses.fields(reference):  # field by field, floats compared exactly (==, and their repr)
            a, b = getattr(fast_run, f.name), getattr(reference, f.name)
            assert a == b and repr(a) == repr(b), (window, draws, index, f.name, a, b)
    assert taken >= RUNS * 0.9, f"the fast path took only {taken} of {RUNS} runs"


def test_batches_are_identical_with_the_fast_path_on_and_off(example, monkeypatch):
    sp = prepare_simulation(example)
    on = run_batch(sp, 9, 0, 100)
    monkeypatch.setenv(fast.FORCE_SIMPY, "1")
    off = run_batch(sp, 9, 0, 100)
    assert on == off


def test_failures_take_simpy():
    plan = plan_of((ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8"))
    node = next(s.node for s in plan.steps if s.node)
    sp = prepare_simulation(plan, fails=(f"{node}:reboot:hang",))
    assert not fast.fast_plan(sp).eligible
    assert fast.run_fast(sp, 0, 0) is None
    assert fast.runner(sp)(0, 0) == run_once(sp, 0, 0)


def test_forcing_simpy_is_honoured(monkeypatch):
    plan = plan_of((ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8"))
    sp = prepare_simulation(plan, ignore_windows=True)
    called = []
    monkeypatch.setattr(fast, "run_fast", lambda *a: called.append(a))
    fast.runner(sp)(0, 0)
    assert called  # on by default
    called.clear()
    monkeypatch.setenv(fast.FORCE_SIMPY, "1")
    fast.runner(sp)(0, 0)
    assert not called


@pytest.mark.parametrize("args", [[], ["--window", "none"], ["--window", "8h"], ["--window", "40h"]],
                         ids=["file", "none", "8h", "40h"])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_simulate_json_is_byte_identical_with_the_fast_path_on_and_off(path, args, monkeypatch):
    command = ["simulate", str(path), "--runs", "150", "--seed", "4", "--jobs", "1", "--format", "json", *args]
    on = CliRunner().invoke(cli, command, catch_exceptions=False)
    monkeypatch.setenv(fast.FORCE_SIMPY, "1")
    off = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert on.exit_code == off.exit_code == 0, on.output
    assert on.stdout_bytes == off.stdout_bytes


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_compare_json_is_byte_identical_with_the_fast_path_on_and_off(path, monkeypatch):
    """compare draws keyed (common random numbers): the fast path serves those runs too."""
    command = ["compare", str(path), "--vary", "window=10h", "--runs", "100", "--seed", "2", "--jobs", "1",
               "--format", "json"]
    on = CliRunner().invoke(cli, command, catch_exceptions=False)
    monkeypatch.setenv(fast.FORCE_SIMPY, "1")
    off = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert on.exit_code == off.exit_code == 0, on.output
    assert on.stdout_bytes == off.stdout_bytes


def test_runs_handed_back_are_simpy_runs():
    """Runs the fast path cannot follow exactly (a tie at the window rule, a bound reached) are simpy's own."""
    plan = plan_of((ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8"))
    # Reboots bounded at their mean: about half the runs reach a bound, which only simpy follows (a failure).
    tight = tuple(s.mean_minutes if s.spec.reboots else s.bound_minutes for s in plan.steps)
    sp = keyed(dataclasses.replace(prepare_simulation(plan), bound=tight))
    handed = [i for i in range(60) if fast.run_fast(sp, 1, i) is None]
    assert 10 < len(handed) < 60
    run = fast.runner(sp)
    for i in handed:
        assert run(1, i) == run_once(sp, 1, i)


def _reference_keyed_base(sp, rt, seed, index):
    """The keyed base draws one by one, as engine._keyed_streams drew them before they were batched."""
    run_key = engine.run_seed(seed, index, "/keyed")
    out = []
    for i in range(sp.size):
        s = engine._mix(run_key ^ rt.keys[i])
        main, extra = rt.quantiles[i]
        q = rt.pinned.get(i)
        a = engine._unit(engine._mix(s))
        drawn = main(a if q is None else q)
        if extra is not None:
            b = engine._unit(engine._mix((s + engine._LANE * engine._GAMMA) & engine._MASK))
            drawn += extra(b if q is None else q)
        out.append(drawn)
    return out


@pytest.mark.parametrize("pin", [False, True], ids=["keyed", "pinned"])
def test_batched_keyed_draws_are_the_one_by_one_draws(example, pin):
    """The batched keyed base (engine._keyed_base) gives the same floats as drawing each step alone, and the
    fresh draws that follow it continue each step's lanes where the base left them."""
    pinned = tuple((i, 0.9) for i in range(0, len(example.steps), 3)) if pin else ()
    sp = keyed_draws(prepare_simulation(example, ignore_windows=True), example, pinned)
    rt = engine.runtime(sp)
    for index in range(40):
        base, scale, fresh_draw, uniform = engine.run_draws(sp, rt, 7, index)
        reference = _reference_keyed_base(sp, rt, 7, index)
        if scale is not None:
            reference = [b * f for b, f in zip(reference, scale)]
        assert repr(base) == repr(reference)
        # step 0's second MAIN draw: count 1 in its lane
        s = engine._mix(engine.run_seed(7, index, "/keyed") ^ rt.keys[0])
        assert uniform(0, engine.MAIN) == engine._unit(engine._mix((s + engine._GAMMA) & engine._MASK))


@pytest.mark.parametrize("pin", [False, True], ids=["keyed", "pinned"])
def test_keyed_draws_on_numpy_arrays_are_the_pure_python_floats(example, pin):
    """engine._keyed_base_numpy (used where numpy is installed) gives the pure-Python batch's floats and seeds."""
    pinned = tuple((i, 0.25) for i in range(1, len(example.steps), 4)) if pin else ()
    sp = keyed_draws(prepare_simulation(example), example, pinned)
    rt = engine.runtime(sp)
    parts = [engine._keyed_parts(d) for d in sp.durations]
    plain = engine._keyed_base(rt.keys, rt.quantiles, parts, rt.pinned)
    arrays = engine._keyed_base_numpy(rt.keys, rt.quantiles, parts, rt.pinned)
    for index in range(60):
        run_key = engine.run_seed(3, index, "/keyed")
        assert repr(arrays(run_key)) == repr(plain(run_key))


def _python_keyed_night(sp, rt, run_key):
    """engine._keyed_streams' base draws, seeds and shared factors in pure Python (no numpy): the reference."""
    parts = [engine._keyed_parts(d) for d in sp.durations]
    base, seeds = engine._keyed_base(rt.keys, rt.quantiles, parts, rt.pinned)(run_key)
    if not rt.shared:
        return base, None, seeds
    (mu, sigma), *params = rt.factor_params
    night, *uniforms = [engine._unit(engine._mix(run_key ^ k)) for k in rt.factor_keys]
    night = math.exp(mu + sigma * NormalDist().inv_cdf(night))
    groups = [night * math.exp(m + s * NormalDist().inv_cdf(u)) for (m, s), u in zip(params, uniforms)]
    scale = [groups[g] for g in sp.factor_group]
    return [b * f for b, f in zip(base, scale)], scale, seeds


@pytest.mark.parametrize("pin", [False, True], ids=["keyed", "pinned"])
@pytest.mark.parametrize("window", ["file", "none"])
def test_keyed_night_on_numpy_is_the_pure_python_draws(example, pin, window):
    """engine._keyed_night_numpy (the base draws, seeds and shared factors in one numpy pass) gives the same
    floats and integers as drawing them in pure Python, pinned steps and extra parts included."""
    pinned = tuple((i, 0.75) for i in range(2, len(example.steps), 5)) if pin else ()
    sp = keyed_draws(prepare_simulation(example, **WINDOWS[window]), example, pinned)
    rt = engine.runtime(sp)
    assert rt.keyed_night is not None
    for index in range(60):
        run_key = engine.run_seed(4, index, "/keyed")
        assert repr(rt.keyed_night(run_key)) == repr(_python_keyed_night(sp, rt, run_key)), index


def test_keyed_night_with_every_distribution_and_no_shared_factors():
    """Steps the batch does not inline (lognormal, uniform, empirical, fixed) keep their own quantile functions,
    with and without the shared factors."""
    from plan_models import Shape
    from sim_helpers import shape_text

    models = {"os.install": "distribution = lognormal  median = 30m  p90 = 2h",
              "node.drain": "distribution = uniform  low = 5m  high = 50m",
              "storage.wait": "distribution = empirical  observed = [12m, 40m, 1h10m]",
              "post.validate": "distribution = fixed  value = 20m"}
    for spread in ("", "  run_spread = 0\n  kind_spread = 0\n"):
        timing = "\ntiming {\n" + spread + "\n".join(f'  model "{k}" {{ {v} }}' for k, v in models.items()) + "\n}\n"
        plan = plan_of(shape_text(Shape(nodes=3), tail=timing))
        sp = keyed_draws(prepare_simulation(plan), plan, ((1, 0.5),))
        rt = engine.runtime(sp)
        assert rt.shared == (spread == "")
        for index in range(40):
            run_key = engine.run_seed(2, index, "/keyed")
            assert repr(rt.keyed_night(run_key)) == repr(_python_keyed_night(sp, rt, run_key)), (spread, index)


@pytest.mark.parametrize("window", ["file", "none"])
def test_written_out_sequential_run_draws_are_run_draws(example, window):
    """fast._inlined_run (the base draws, the shared factors and their product in one generated function) gives
    engine.run_draws' scaled base durations, float for float."""
    sp = prepare_simulation(example, **WINDOWS[window])
    rt = engine.runtime(sp)
    draw_run = fast.fast_plan(sp).draw_run
    assert draw_run is not None and rt.shared
    for index in range(60):
        assert repr(draw_run(6, index)) == repr(engine.run_draws(sp, rt, 6, index)[0]), index
    draw_base = fast.fast_plan(sp).draw_base  # _inlined_draws, compiled at its first call
    for index in range(5):
        assert repr(engine.run_draws(sp, rt, 6, index, draw_base)[0]) == repr(engine.run_draws(sp, rt, 6, index)[0])


def test_written_out_run_draws_without_shared_factors():
    """With no shared spread the written-out draws are the bare base draws, as run_draws gives them."""
    from plan_models import Shape
    from sim_helpers import shape_text

    plan = plan_of(shape_text(Shape(nodes=3), tail="\ntiming {\n  run_spread = 0\n  kind_spread = 0\n}\n"))
    sp = prepare_simulation(plan)
    rt = engine.runtime(sp)
    assert not rt.shared
    for index in range(40):
        assert repr(fast.fast_plan(sp).draw_run(1, index)) == repr(engine.run_draws(sp, rt, 1, index)[0])
        quick = fast.run_fast(sp, 1, index)
        assert quick is None or repr(quick) == repr(run_once(sp, 1, index))


@pytest.mark.parametrize("draws", ["sequential", "keyed"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_written_out_evaluator_is_the_loop(example, window, draws, monkeypatch):
    """fast._evaluator (run_fast's loop written out per plan) gives the loop's runs, and hands back the same ones."""
    sp = prepare_simulation(example, **WINDOWS[window])
    if draws == "keyed":
        sp = keyed_draws(sp, example)
    fp = fast.fast_plan(sp)
    assert fp.evaluate is not None
    written = [fast.run_fast(sp, 8, index) for index in range(80)]
    monkeypatch.setitem(fast._PLANS, sp.key, dataclasses.replace(fp, evaluate=None))
    looped = [fast.run_fast(sp, 8, index) for index in range(80)]
    assert repr(written) == repr(looped)


def test_a_tie_at_the_window_rule_is_handed_to_simpy(monkeypatch):
    """Two units stopping at the window rule at the same time: which one the run names is simpy's event order,
    so the written-out evaluator, like the loop, gives the run back (None) and the runner takes simpy's."""
    plan = plan_of((ROOT / "examples" / "two-node.hciplan").read_text(encoding="utf-8"))
    sp = prepare_simulation(plan, window=1.0)  # a 1-minute window: the first unit does not fit, at time 0
    second = sp.units[1].steps[0]
    preds = list(sp.preds)
    preds[second] = ()  # the second unit's head made ready at time 0 too: it stops there as well
    tied = keyed(dataclasses.replace(sp, preds=tuple(preds)))
    fp = fast.fast_plan(tied)
    assert fp.eligible and fp.evaluate is not None
    assert [fast.run_fast(tied, 0, i) for i in range(5)] == [None] * 5
    run = fast.runner(tied)
    assert [run(0, i) for i in range(5)] == [run_once(tied, 0, i) for i in range(5)]
    monkeypatch.setitem(fast._PLANS, tied.key, dataclasses.replace(fp, evaluate=None))
    assert [fast.run_fast(tied, 0, i) for i in range(5)] == [None] * 5


@pytest.mark.parametrize("draws", ["sequential", "keyed"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_a_block_of_runs_is_the_runs_one_by_one(example, window, draws):
    """fast.run_block (what run_batch calls: the schedules by window of many runs computed together on numpy
    arrays) gives run_fast's runs field by field, floats by their repr, and hands back the same ones."""
    sp = prepare_simulation(example, **WINDOWS[window])
    if draws == "keyed":
        sp = keyed_draws(sp, example)
    block = fast.run_block(sp, 5, 3, 3 + RUNS)
    one_by_one = [fast.run_fast(sp, 5, index) for index in range(3, 3 + RUNS)]
    assert sum(r is not None for r in block) >= RUNS * 0.9
    for a, b in zip(block, one_by_one):
        assert (a is None) == (b is None)
        if a is not None:
            for f in dataclasses.fields(b):
                x, y = getattr(a, f.name), getattr(b, f.name)
                assert x == y and repr(x) == repr(y), (window, draws, a.index, f.name, x, y)


def test_block_schedules_equal_the_per_run_code_on_random_runs():
    """fast._block_schedules against engine._by_window, busy_minutes and _inside_windows on made-up starts and
    ends that the examples do not have: ties, overlaps, zero durations, steps never started, before the first
    window, past the last."""
    import random

    from hciplan.compiler.schedule import busy_minutes

    plan = plan_of((ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8"))
    rng = random.Random(6)
    for options in ({}, {"ignore_windows": True}):
        sp = prepare_simulation(plan, **options)
        rt = engine.runtime(sp)
        windows = [(w.start, w.end) for w in sp.windows] or [(0.0, 600.0)]
        starts, ends = [], []
        for _ in range(300):
            start, end = [], []
            unstarted = rng.choice([0.0, 0.1])  # none: a run in which every step ended (within is read)
            # a few starts shared by many steps (ties), some small next to their ends (so that their sums round)
            w0, w1 = rng.choice(windows)
            pool = [w0, w1, w0 - 5.0, w0 + (w1 - w0) * rng.random(), w0 + rng.uniform(0, 2), rng.uniform(0, 2)]
            for _ in range(sp.size):
                if rng.random() < unstarted:
                    start.append(-1.0), end.append(-1.0)
                    continue
                b = rng.choice(pool)
                start.append(b), end.append(b + rng.choice([0.0, 5.0, 30.0, rng.uniform(0, 90) / 7]))
            starts.append(start), ends.append(end)
        schedules = fast._block_schedules(sp, starts, ends)
        for start, end, got in zip(starts, ends, schedules):
            last = max(end) if max(end) >= 0 else 0.0
            if sp.windows:
                expected = engine._by_window(rt, start, end, last)
                if min(end) >= 0:
                    assert got[5] == engine._inside_windows(sp, start, end)
            else:
                expected = ((), (), 0.0, busy_minutes([(s, e) for s, e in zip(start, end) if e >= 0]), ())
            assert repr(got[:5]) == repr(expected)


@pytest.mark.parametrize("pin", [False, True], ids=["keyed", "pinned"])
def test_keyed_draws_of_a_block_are_each_runs_draws(example, pin):
    """keyed_night.block (the block's keyed draws in one numpy pass, fast.run_block's) gives each run's own
    base draws, float for float, pinned steps included."""
    pinned = tuple((i, 0.75) for i in range(2, len(example.steps), 5)) if pin else ()
    sp = keyed_draws(prepare_simulation(example), example, pinned)
    rt = engine.runtime(sp)
    keys = [engine.run_seed(4, index, "/keyed") for index in range(50)]
    assert repr(rt.keyed_night.block(keys)) == repr([rt.keyed_night(k)[0] for k in keys])


def test_keyed_draws_of_a_block_with_every_distribution_and_no_shared_factors():
    from plan_models import Shape
    from sim_helpers import shape_text

    models = {"os.install": "distribution = lognormal  median = 30m  p90 = 2h",
              "node.drain": "distribution = uniform  low = 5m  high = 50m",
              "storage.wait": "distribution = empirical  observed = [12m, 40m, 1h10m]",
              "post.validate": "distribution = fixed  value = 20m"}
    for spread in ("", "  run_spread = 0\n  kind_spread = 0\n"):
        timing = "\ntiming {\n" + spread + "\n".join(f'  model "{k}" {{ {v} }}' for k, v in models.items()) + "\n}\n"
        plan = plan_of(shape_text(Shape(nodes=3), tail=timing))
        for pinned in ((), ((1, 0.5),)):
            sp = keyed_draws(prepare_simulation(plan), plan, pinned)
            rt = engine.runtime(sp)
            keys = [engine.run_seed(2, index, "/keyed") for index in range(30)]
            assert repr(rt.keyed_night.block(keys)) == repr([rt.keyed_night(k)[0] for k in keys]), (spread, pinned)
