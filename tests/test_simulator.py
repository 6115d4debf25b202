"""The simulator: determinism, timeline invariants, failure semantics, windows, and agreement with the plan."""

from __future__ import annotations

import json
import math
import random
import re
import statistics
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hciplan.backends.json_plan import plan_document
from hciplan.compiler.durations import (
    SPREAD,
    Empirical,
    Fixed,
    LogNormal,
    Triangular,
    Uniform,
    resolve,
)
from hciplan.compiler.units import MIN_BOUND
from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import ABORTED, COMPLETED, STOPPED, run_once
from hciplan.simulator.montecarlo import batches, simulate, trace_run
from hciplan.simulator.prepared import NO_STEP
from hciplan.simulator.report import render_json
from plan_models import Shape
from sim_helpers import down_intervals, final_segments, fixed_timing, plan_of, shape_text, without_recovery

# Explicitly derandomized (whatever profile is loaded): these properties must never flake.
PROPERTY = settings(derandomize=True, deadline=None, max_examples=25,
                    suppress_health_check=[HealthCheck.too_slow], database=None)

ROOT = Path(__file__).resolve().parent.parent
FOUR = shape_text(Shape(nodes=4))
SOLUTION = shape_text(Shape(nodes=3, bitlocker=True, wdac=True, solution=True, atc_configured=False))


@pytest.fixture(scope="module")
def four_plan():
    return plan_of(FOUR)


# --- determinism --------------------------------------------------------------------------


def test_same_seed_same_numbers_whatever_the_number_of_jobs():
    text = FOUR + ('\nscenario "flaky" { risk "cau.install" { probability = 0.3 }\n'
                   '  risk "node.reboot" { probability = 0.05 mode = slow factor = 3 } }\n')
    sp = prepare_simulation(plan_of(text), scenario="flaky", window=10 * 60)
    one = simulate(sp, 48, seed=11, jobs=1)
    two = simulate(sp, 48, seed=11, jobs=2)
    assert one == two
    assert render_json(sp, one) == render_json(sp, two)
    assert one.outcomes[ABORTED] + one.outcomes[STOPPED] > 0, "the scenario must exercise the failure paths"
    other = simulate(sp, 48, seed=12, jobs=1)
    assert other.ends != one.ends, "another seed gives other numbers"


def test_a_run_depends_only_on_seed_and_index(four_plan):
    sp = prepare_simulation(four_plan, ignore_windows=True)
    alone = run_once(sp, 3, 17)
    in_series = [run_once(sp, 3, i) for i in range(15, 19)][2]
    assert alone == in_series
    assert sum(b - a for a, b in batches(1000, 3)) == 1000


# --- distributions ------------------------------------------------------------------------


@pytest.mark.parametrize("dist", [
    Fixed(12.0, "t"), Uniform(10.0, 20.0, "t"), Triangular(5.0, 8.0, 20.0, "t"),
    LogNormal(45.0, 80.0, "t"), Empirical((30.0, 41.0, 52.0, 75.0), "t"),
], ids=lambda d: type(d).__name__)
def test_sampled_mean_and_quantiles_match_the_distribution(dist):
    rng = random.Random(5)
    draws = sorted(dist.draw(rng) for _ in range(20000))
    spread = statistics.pstdev(draws)
    assert abs(statistics.fmean(draws) - dist.mean) <= 4 * spread / math.sqrt(len(draws)) + 1e-9
    for q in (0.1, 0.4, 0.9):  # away from the empirical atoms (0.25, 0.5, 0.75)
        empirical = draws[int(q * len(draws))]
        assert abs(empirical - dist.quantile(q)) <= max(0.05 * dist.quantile(q), 1.01 * (draws[-1] - draws[0]) / 200)


def test_lognormal_is_given_by_its_median_and_p90():
    d = LogNormal(45.0, 80.0, "t")
    assert d.quantile(0.5) == pytest.approx(45.0)
    assert d.quantile(0.9) == pytest.approx(80.0)
    assert d.mean > d.median


def test_the_physics_spread_has_mean_one():
    assert SPREAD.mean == pytest.approx(1.0)


def test_plan_means_come_from_the_same_resolver_as_the_draws(four_plan):
    for step in four_plan.steps:
        duration = resolve(four_plan.model, step.kind, step.spec.duration_model)
        if not duration.repair:
            assert step.mean_minutes == pytest.approx(duration.mean(), abs=1e-3)


# --- invariants on simulated timelines -------------------------------------------------------

SHAPES = st.builds(
    Shape,
    nodes=st.integers(2, 5),
    method=st.sampled_from(["cau", "manual", "offline"]),
    solution=st.booleans(),
    bitlocker=st.booleans(),
    atc_configured=st.booleans(),
)
DISTRIBUTIONS = st.sampled_from([
    "distribution = fixed  value = 20m",
    "distribution = uniform  low = 5m  high = 50m",
    "distribution = triangular  low = 10m  mode = 15m  high = 90m",
    "distribution = lognormal  median = 30m  p90 = 2h",
    "distribution = empirical  observed = [12m, 40m, 1h10m]",
])
OVERRIDES = st.dictionaries(st.sampled_from(["os.install", "os.reboot", "node.drain", "storage.wait",
                                             "cau.install", "post.validate", "node.reboot"]),
                            DISTRIBUTIONS, max_size=3)


def _timing(overrides: dict[str, str]) -> str:
    if not overrides:
        return ""
    return "\ntiming {\n" + "\n".join(f'  model "{k}" {{ {v} }}' for k, v in sorted(overrides.items())) + "\n}\n"


@PROPERTY
@given(shape=SHAPES, overrides=OVERRIDES, seed=st.integers(0, 2**32), window_hours=st.integers(3, 40),
       risky=st.booleans(), max_failed=st.integers(0, 2))
def test_timeline_invariants(shape, overrides, seed, window_hours, risky, max_failed):
    # errors before and after the reboot (resume, repair wait), so CAU retries and gives up nodes on both sides
    risk = ("\nscenario \"r\" { risk \"cau.install\" { probability = 0.4 } risk \"node.reboot\" { probability = 0.2 }\n"
            "  risk \"cau.reboot\" { probability = 0.1  mode = hang }\n"
            "  risk \"cau.resume\" { probability = 0.3 } risk \"cau.storage_wait\" { probability = 0.6 } }\n")
    extra = f"  max_failed_nodes = {min(max_failed, shape.nodes - 1)}"
    plan = plan_of(shape_text(shape, upgrade_extra=extra, tail=_timing(overrides) + risk))
    sp = prepare_simulation(plan, scenario="r" if risky else None, window=window_hours * 60.0)
    window_end = sp.windows[0].end
    run = trace_run(sp, seed, 0)
    ends: dict[int, list[float]] = {}
    for seg in run.segments:
        ends.setdefault(seg.step, []).append(seg.end)

    # a step starts only after its predecessors end
    for seg in run.segments:
        for p in sp.preds[seg.step]:
            assert any(e <= seg.start + 1e-9 for e in ends.get(p, [])), (sp.ids[seg.step], sp.ids[p])

    # in rolling methods, no two nodes are down (rebooting or resyncing) at once
    if shape.method != "offline":
        intervals = sorted(down_intervals(sp, run), key=lambda x: x[1])
        for (n1, a1, b1), (n2, a2, b2) in zip(intervals, intervals[1:]):
            assert b1 <= a2 + 1e-9 or n1 == n2, (n1, a1, b1, n2, a2, b2)

    # irreversible steps never start after the window's end, and no unit starts unless it fits
    for seg in run.segments:
        if sp.irreversible[seg.step]:
            assert seg.start < window_end
        if sp.head_of(seg.step) and seg.status != "skipped" and seg.attempt == 1:  # CAU retries are not new units
            assert seg.start + sp.units[sp.unit_of[seg.step]].need <= window_end + 1e-9

    if run.outcome == COMPLETED:
        assert run.within_window == (run.end <= window_end + 1e-9)
        assert len(final_segments(run)) == sp.size


@PROPERTY
@given(shape=SHAPES, seed=st.integers(0, 2**32))
def test_zero_variance_gives_exactly_the_critical_path_duration(shape, seed):
    plan = plan_of(shape_text(shape, tail=fixed_timing()))
    sp = prepare_simulation(plan, ignore_windows=True)
    run = run_once(sp, seed, 0)
    assert run.outcome == COMPLETED
    assert run.end == pytest.approx(plan.critical_path()[0], abs=1e-6)
    critical = plan.critical_path()[1]
    assert {sp.ids[i] for i in run.critical} >= set(critical[-1:])


def _successors(plan) -> dict[str, int]:
    counts = {s.id: 0 for s in plan.steps}
    for s in plan.steps:
        for p in set(s.after):
            counts[p] += 1
    return counts


def _mean_and_standard_error(summary) -> tuple[float, float]:
    durations = summary.durations
    return statistics.fmean(durations), statistics.pstdev(durations) / math.sqrt(len(durations))


def test_failure_free_mean_matches_the_analytical_expectation():
    # A straight chain (no step waits for two, none is waited for by two): a run's duration is a sum of step
    # draws times shared factors of mean 1, so its mean is the sum of the step means, which is what
    # `hciplan plan` reports (drains, repairs and downloads included). docs/simulation.md, "Expected duration
    # and simulated mean".
    plan = plan_of(shape_text(Shape(nodes=4)))
    assert all(len(s.after) <= 1 for s in plan.steps)
    assert max(_successors(plan).values()) == 1
    expected = plan.critical_path()[0]
    sp = prepare_simulation(plan, ignore_windows=True)
    summary = simulate(sp, 1500, seed=2, jobs=1)
    mean, standard_error = _mean_and_standard_error(summary)
    assert abs(mean - expected) < 4 * standard_error
    assert summary.outcomes[COMPLETED] == 1500


def test_with_parallel_steps_the_expected_duration_is_a_lower_bound_of_the_mean():
    # The offline bracket runs every node's registry keys, setup and reboot at once: the run waits for the
    # slowest node, and the mean of a maximum is above the maximum of the means (Jensen). `expected_minutes`
    # (the longest path of step means) is then a lower bound, not the mean; this test fails if the two are
    # made equal again (docs/simulation.md, "Expected duration and simulated mean").
    plan = plan_of(shape_text(Shape(nodes=4, method="offline")))
    joins = [s.id for s in plan.steps if len(set(s.after)) > 1]
    assert joins == ["p2.offline_start"], "the bracket's four per-node branches join there"
    assert _successors(plan)["p2.offline_stop"] == 4
    expected = plan.critical_path()[0]
    sp = prepare_simulation(plan, ignore_windows=True)
    summary = simulate(sp, 4000, seed=2, jobs=1)
    assert summary.outcomes[COMPLETED] == 4000
    mean, standard_error = _mean_and_standard_error(summary)
    assert mean - expected > -4 * standard_error, "a lower bound, within sampling error"
    assert mean - expected > 4 * standard_error, (mean, expected, standard_error)


def _with_method(text: str, method: str) -> str:
    """An example's text with `method = METHOD` in its upgrade block (replacing its method, or after `to`)."""
    if re.search(r"^\s*method\s*=", text, re.MULTILINE):
        return re.sub(r"^(\s*method\s*=\s*)\w+", rf"\g<1>{method}", text, count=1, flags=re.MULTILINE)
    return re.sub(r'^(\s*)(to\s*=\s*"23H2"\n)', rf"\1\2\1method = {method}\n", text, count=1, flags=re.MULTILINE)


def _documented_expected_versus_mean() -> dict[tuple[str, str], str]:
    text = (ROOT / "docs" / "simulation.md").read_text(encoding="utf-8")
    table = text.split("### Expected duration and simulated mean")[1].split("\n\n| example |")[1].split("\n\n")[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[(cells[0].strip("`"), cells[1].split()[0])] = line
    return rows


EXAMPLE_METHODS = [(example, method) for example in ("two-node.hciplan", "four-node.hciplan", "aks.hciplan",
                                                     "sixteen-node.hciplan") for method in ("cau", "offline")]


def test_the_expected_versus_mean_table_lists_every_example_in_both_methods():
    assert sorted(_documented_expected_versus_mean()) == sorted(EXAMPLE_METHODS)
    assert sorted(p.name for p in (ROOT / "examples").glob("*.hciplan")) == sorted({e for e, _ in EXAMPLE_METHODS})


@pytest.mark.parametrize("example, method", EXAMPLE_METHODS)
def test_the_documented_expected_versus_mean_figures_are_what_plan_and_simulate_give(example, method):
    """The row is `hciplan plan FILE --format json`'s expected_minutes against `hciplan simulate FILE --window none
    --runs 4000 --seed 1 --format json`'s mean and its 95% interval; as shipped every example uses cau."""
    text = (ROOT / "examples" / example).read_text(encoding="utf-8")
    plan = plan_of(text if method == "cau" else _with_method(text, method))
    assert plan.model.upgrade.method == method
    chain = all(len(set(s.after)) <= 1 for s in plan.steps) and max(_successors(plan).values()) == 1
    assert chain == (method == "cau"), "the doc says the shipped plans are chains and the offline ones are not"
    expected = plan_document(plan)["expected_minutes"]
    sp = prepare_simulation(plan, ignore_windows=True)
    sim = json.loads(render_json(sp, simulate(sp, 4000, seed=1, jobs=1)))
    assert sim["outcomes"][COMPLETED] == 4000
    mean = sim["duration_minutes"]["mean"]
    low, high = sim["intervals"]["duration_minutes"]["mean"]
    shown = "cau (as shipped)" if method == "cau" else method
    row = (f"| `{example}` | {shown} | {expected:.1f} | {mean:.1f} ({low:.1f} .. {high:.1f}) "
           f"| {mean - expected:+.1f} |")
    assert _documented_expected_versus_mean()[(example, method)] == row
    if method == "offline":  # parallel branches: the mean is above the expected duration, outside its interval
        assert low > expected
    else:  # a chain: equal within sampling error (the 95% interval's half-width is about 2 standard errors)
        assert abs(mean - expected) < high - low  # two half-widths: about four standard errors


# --- failures -----------------------------------------------------------------------------------


def test_hang_on_the_second_node_with_no_failed_node_allowed_aborts_and_leaves_the_rest_untouched(four_plan):
    assert four_plan.model.upgrade.max_failed_nodes == 0
    sp = prepare_simulation(without_recovery(four_plan), fails=("N02:reboot:hang",), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    assert run.outcome == ABORTED
    assert sp.ids[run.step] == "p2.cau.N02.reboot"
    assert f"reboot timeout ({four_plan.reboot_timeout} min)" in run.reason and "mixed mode" in run.reason
    started = {sp.ids[s.step] for s in run.segments}
    assert "p2.cau.N01.storage_wait" in started
    assert not any(i.startswith(("p2.cau.N03", "p2.cau.N04", "p3.")) for i in started)
    hung = [s for s in run.segments if s.status == "hang"]
    assert len(hung) == 1 and hung[0].end - hung[0].start == pytest.approx(four_plan.reboot_timeout)
    assert four_plan.step("p2.cau.N02.reboot").bound_minutes == four_plan.reboot_timeout
    assert run.failed_nodes == ("N02",)
    assert run.upgraded == 1, "N01 runs 23H2, N02 hung, N03 and N04 were never touched: mixed mode"


@pytest.mark.parametrize("fail, kind", [("cluster:validate:hang", "post.validate"),
                                        ("N02:install:hang", "cau.install")])
def test_a_hung_step_that_is_not_a_reboot_is_given_up_after_four_times_its_p90(four_plan, fail, kind):
    sp = prepare_simulation(without_recovery(four_plan), fails=(fail,), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    (hung,) = [s for s in run.segments if s.status == "hang"]
    assert sp.kinds[hung.step] == kind
    bound = math.ceil(max(MIN_BOUND, 4 * sp.durations[hung.step].quantile(0.9)))
    assert bound != pytest.approx(sp.reboot_timeout)
    assert four_plan.step(sp.ids[hung.step]).bound_minutes == bound == sp.bound[hung.step]
    assert hung.end - hung.start == pytest.approx(bound)
    assert run.outcome == ABORTED and "reboot timeout" not in run.reason
    assert f"did not answer within its bound ({bound:.0f} min)" in run.reason


def test_a_node_failed_while_up_lets_cau_go_on_within_max_failed_nodes():
    plan = plan_of(shape_text(Shape(nodes=4), upgrade_extra="  max_failed_nodes = 1"))
    sp = prepare_simulation(plan, fails=("N02:install:error=9",), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    started = {sp.ids[s.step] for s in run.segments if s.status == "ok"}
    assert {"p2.cau.N03.storage_wait", "p2.cau.N04.storage_wait"} <= started, "CAU moves on to the next nodes"
    assert run.outcome == ABORTED and sp.ids[run.step] == "p3.validate"
    assert "mixed mode" in run.reason and "N02" in run.reason
    assert len([s for s in run.segments if s.status == "error"]) == 4  # 1 attempt + max_retries_per_node 3
    # a hang during the reboot leaves the node down: no other node may go down, whatever max_failed_nodes says
    sp = prepare_simulation(without_recovery(plan), fails=("N02:reboot:hang",), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    assert run.outcome == ABORTED and sp.ids[run.step] == "p2.cau.N02.reboot" and "is down" in run.reason


def test_an_error_is_retried_from_the_drain_with_fresh_durations(four_plan):
    sp = prepare_simulation(four_plan, fails=("N03:reboot:error=2",), ignore_windows=True)
    run = trace_run(sp, 4, 0)
    assert run.outcome == COMPLETED
    drains = [s for s in run.segments if sp.ids[s.step] == "p2.cau.N03.drain"]
    assert [s.attempt for s in drains] == [1, 2, 3]
    assert len({round(s.end - s.start, 9) for s in drains}) == 3
    errors = [s for s in run.segments if s.status == "error"]
    assert [s.attempt for s in errors] == [1, 2]
    clean = run_once(prepare_simulation(four_plan, ignore_windows=True), 4, 0)
    assert run.end > clean.end


def test_slow_multiplies_the_step_and_its_resync(four_plan):
    base = trace_run(prepare_simulation(four_plan, ignore_windows=True), 1, 0)
    slow = trace_run(prepare_simulation(four_plan, fails=("N01:reboot:slow=3",), ignore_windows=True), 1, 0)
    b, s = final_segments(base), final_segments(slow)
    idx = {sid: i for i, sid in enumerate(prepare_simulation(four_plan).ids)}
    reboot, repair = idx["p2.cau.N01.reboot"], idx["p2.cau.N01.storage_wait"]
    assert s[reboot][1] - s[reboot][0] == pytest.approx(3 * (b[reboot][1] - b[reboot][0]))
    assert s[repair][1] - s[repair][0] > b[repair][1] - b[repair][0], "a longer down time means more to resync"


def test_drain_failure_uses_every_attempt_then_fails_the_node(four_plan):
    sp = prepare_simulation(without_recovery(four_plan), fails=("N01:drain:drain_failure",), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    failures = [s for s in run.segments if s.status == "drain_failure"]
    bound = four_plan.step("p2.cau.N01.drain").bound_minutes
    assert bound >= 30.0, "a derived drain timeout is at least the old fixed 30 min"
    assert len(failures) == 4 and all(s.end - s.start == pytest.approx(bound) for s in failures)
    assert run.outcome == ABORTED and f"drain timeout {bound:.0f} min" in run.reason


def test_resync_stall_is_bounded_by_the_repair_timeout(four_plan):
    text = FOUR + "\ntiming { repair_timeout = 45m  max_recoveries = 0 }\n"
    sp = prepare_simulation(plan_of(text), fails=("N01:storage_wait:resync_stall",), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    stalled = [s for s in run.segments if s.status == "resync_stall"]
    assert len(stalled) == 1 and stalled[0].end - stalled[0].start == pytest.approx(45.0)
    assert run.outcome == ABORTED and run.end == pytest.approx(stalled[0].end)
    assert run.exposure > 45.0, "the node stays exposed while its repair stalls"


def test_failures_outside_the_cau_run_stop_the_script(four_plan):
    sp = prepare_simulation(without_recovery(four_plan), fails=("N02:registry.reboot:error",), ignore_windows=True)
    run = run_once(sp, 0, 0)
    assert run.outcome == ABORTED and sp.ids[run.step] == "p1.registry.N02.reboot"
    assert "script stops" in run.reason


# --- windows ---------------------------------------------------------------------------------


RISKY = ('\nscenario "r" { risk "cau.install" { probability = 0.2 } risk "cau.storage_wait" { probability = 0.1 }\n'
         '  risk "post.validate" { probability = 0.05  mode = slow  factor = 3 } }\n')


@pytest.mark.parametrize("scenario", [None, "r"])
def test_runs_within_the_window_stay_within_when_the_window_grows(scenario):
    # Per run (same seed, same index): a run inside a window is inside every longer window. The grid is
    # minute-grained where the share climbs, coarse elsewhere, so the check sees the transition.
    plan = plan_of(SOLUTION + RISKY)
    runs = 200
    free = [run_once(prepare_simulation(plan, scenario=scenario, ignore_windows=True), 5, k) for k in range(runs)]
    ends = sorted(r.end for r in free if r.outcome == COMPLETED)
    low, mid = int(ends[len(ends) // 4]), int(ends[len(ends) // 2])
    grid = sorted(set(range(int(ends[0]) - 30, int(ends[-1]) + 60, 30)) | set(range(low, mid + 1)))
    assert mid - low >= 20, "the minute-grained part must span the transition"
    previous: set[int] = set()
    shares = []
    for minutes in grid:
        sp = prepare_simulation(plan, scenario=scenario, window=float(minutes))
        inside = {k for k in range(runs) if run_once(sp, 5, k).within_window}
        assert previous <= inside, f"runs {sorted(previous - inside)} fell out of a {minutes} min window"
        previous = inside
        shares.append(len(inside) / runs)
    assert shares[0] == 0.0 and shares[-1] == sum(r.outcome == COMPLETED for r in free) / runs
    assert len(set(shares)) > 20, "the grid must see the share climb step by step"
    if scenario:
        assert any(r.outcome == ABORTED or r.recoveries for r in free), "the scenario must make some runs fail"


def test_the_run_stops_at_a_safe_point_and_says_what_is_left():
    plan = plan_of(SOLUTION)
    sp = prepare_simulation(plan, window=6 * 60.0)
    run = trace_run(sp, 0, 0)
    assert run.outcome == STOPPED and run.remaining > 0
    assert sp.head_of(run.step), "a run stops before a unit of work, never inside one"
    for unit in sp.units:  # every unit that started also ended: all nodes up, storage healthy
        started = any(s.step == unit.steps[0] for s in run.segments)
        ended = any(s.step == unit.tail and s.status == "ok" for s in run.segments)
        assert started == ended, sp.ids[unit.steps[0]]


def test_work_continues_in_the_next_window():
    two_windows = ('  window "w1" { start = 2026-12-05T22:00Z  end = 2026-12-06T04:00Z }\n'
                   '  window "w2" { start = 2026-12-12T22:00Z  end = 2026-12-13T20:00Z }')
    plan = plan_of(shape_text(Shape(nodes=3, solution=True), windows=two_windows))
    sp = prepare_simulation(plan)
    (w1, w2) = sp.windows
    run = trace_run(sp, 0, 0)
    starts = [s.start for s in run.segments]
    assert any(t >= w2.start for t in starts) and any(t < w1.end for t in starts)
    assert not any(w1.end < t < w2.start for t in starts), "nothing starts between the windows"
    assert run.outcome == COMPLETED and run.within_window


def test_exposure_counts_the_time_nodes_are_down_or_resyncing(four_plan):
    sp = prepare_simulation(four_plan, ignore_windows=True)
    run = trace_run(sp, 0, 0)
    assert run.exposure == pytest.approx(sum(b - a for _, a, b in down_intervals(sp, run)))
    assert run.exposure > 0
    offline = prepare_simulation(plan_of(shape_text(Shape(nodes=2, method="offline"))), ignore_windows=True)
    bracket = next(u for u in offline.units if offline.kinds[u.steps[0]] == "offline.stop")
    assert bracket.reboot == NO_STEP, "with the cluster stopped nothing is written, so nothing goes stale"
    assert offline.kinds[bracket.tail] == "offline.start"


def test_the_window_confidence_sets_how_much_time_a_unit_needs():
    text = shape_text(Shape(nodes=3))
    low = prepare_simulation(plan_of(text), confidence=0.5)
    high = prepare_simulation(plan_of(text + "\ntiming { window_confidence = 0.99 }\n"))
    assert high.confidence == 0.99 and low.confidence == 0.5
    for a, b in zip(low.units, high.units):
        assert a.steps == b.steps and a.need <= b.need
    assert sum(u.need for u in high.units) > sum(u.need for u in low.units)


ONE_FAILED_ALLOWED = shape_text(Shape(nodes=4), upgrade_extra="  max_failed_nodes = 1")


def test_a_retry_after_the_reboot_does_not_reinstall_and_resyncs_from_the_reboot():
    # repair = drawn spread x down time exactly (no overhead, resync as fast as writes, no shared speed factors),
    # to read the down time back
    # a repair timeout long enough for the resync of three retries (else the repair is given up: another test)
    text = ONE_FAILED_ALLOWED + ("\ntiming { write_per_s = 200MB  resync_per_s = 200MB  repair_overhead = 0m "
                                 "run_spread = 0  kind_spread = 0  repair_timeout = 24h }\n")
    plan = plan_of(text)
    clean = trace_run(prepare_simulation(plan, ignore_windows=True), 1, 0)
    sp = prepare_simulation(plan, fails=("N02:resume:error=3",), ignore_windows=True)
    run = trace_run(sp, 1, 0)
    assert run.outcome == COMPLETED
    idx = {sid: i for i, sid in enumerate(sp.ids)}

    def segments(verb):
        return [s for s in run.segments if s.step == idx[f"p2.cau.N02.{verb}"]]

    # the node runs the new build once its reboot has ended: the retries resume it again, nothing is reinstalled
    assert [len(segments(verb)) for verb in ("drain", "install", "reboot")] == [1, 1, 1]
    assert len(segments("resume")) == 4 and [s.status for s in segments("resume")] == ["error"] * 3 + ["ok"]
    (setup,), (reboot,) = segments("install"), segments("reboot")
    wait_from, wait_to = final_segments(run)[idx["p2.cau.N02.storage_wait"]]
    down_from = reboot.start - plan.step("p2.cau.N02.install").offline_share * (setup.end - setup.start)
    spread = (wait_to - wait_from) / (segments("resume")[-1].start - down_from)
    assert SPREAD.low <= spread <= SPREAD.high, \
        "the resync covers the setup's offline part, the reboot and the failed resumes after it"
    assert run.exposure == pytest.approx(sum(b - a for _, a, b in down_intervals(sp, run)))
    assert run.exposure > clean.exposure, "retries after the reboot keep the node's copies stale longer"


@pytest.mark.parametrize("fail", ["N02:resume:error=9", "N02:storage_wait:error=9", "N02:storage_wait:resync_stall"])
def test_a_node_given_up_after_its_reboot_stops_cau_before_the_next_node_goes_down(fail):
    sp = prepare_simulation(without_recovery(plan_of(ONE_FAILED_ALLOWED)), fails=(fail,), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    assert run.outcome == ABORTED and sp.ids[run.step].startswith("p2.cau.N02.")
    assert "storage is repaired" in run.reason and "mixed mode" in run.reason
    assert run.failed_nodes == ("N02",)
    assert not any(sp.ids[s.step].startswith("p2.cau.N03.") for s in run.segments), "N03 must not go down"
    assert down_intervals(sp, run)[-1][::2] == ("N02", run.end), "N02 stays exposed until the run ends"
    assert run.exposure == pytest.approx(sum(b - a for _, a, b in down_intervals(sp, run)))
    assert run.upgraded == 2, "N01 and N02 run 23H2 (N02's reboot finished); N03 and N04 stay on 22H2"


@pytest.mark.parametrize("fail, words", [
    ("N02:reboot:slow=5", "N02 did not answer within the reboot timeout"),
    ("N02:drain:slow=10", "live migration off N02 did not complete"),
    ("N02:storage_wait:slow=100", "storage repair after N02 did not finish"),
])
def test_a_slowed_step_past_its_bound_fails_as_the_script_gives_up(four_plan, fail, words):
    # the bound the plan carries is where CAU and the script stop waiting; a slow step reaching it fails there
    sp = prepare_simulation(without_recovery(four_plan), fails=(fail,), ignore_windows=True)
    run = trace_run(sp, 0, 0)
    assert run.outcome == ABORTED and words in run.reason
    step = sp.ids.index(f"p2.cau.{fail.split(':')[0]}.{fail.split(':')[1]}")
    given_up = [s for s in run.segments if s.step == step and s.status != "ok"]
    assert given_up and all(s.end - s.start == pytest.approx(sp.bound[step]) for s in given_up)
