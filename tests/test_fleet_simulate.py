"""`hciplan fleet simulate FLEET` (hciplan/fleet/simulate.py, simrender.py): the campaign Monte Carlo.

- the gate and the delay on synthetic cluster runs (a stand-in kernel): a wave whose clusters overran
  beyond gate_percent stops the later waves, at exactly the threshold it does not; a late wave moves the
  next wave's clusters to later offered occurrences;
- operators' contention: overlapping steps in a one-operator shift, touching ones, a step outside every shift;
- a hypothesis property on generated fleets (the real kernel): no cluster run starts before its wave's
  release or outside its offered windows, rings in order, the gate stops after the threshold;
- the example fleet's golden text and JSON; the same bytes for --jobs 1 and 2 and through dask;
- memory: 2 ranges or 20, the aggregate holds the same fixed-size arrays and the same figures;
- CLI errors (a bad fleet, a bad scheduler address, no dask) are messages, not tracebacks.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from hciplan.cli import cli
from hciplan.fleet import runs as fr
from hciplan.fleet import simulate as fs
from hciplan.fleet.campaign import PLANNED, Campaign, ClusterPlan, ShiftLoad, Wave, plan_campaign
from hciplan.fleet.load import check_fleet
from hciplan.fleet.simrender import document, dumps, render_text

from helpers import GOLDEN, ROOT, assert_golden
from test_fleet import FLEET_NAMES, fleet_st, fleet_text, pool  # noqa: F401 (pool: the fixture)

EXAMPLE = "examples/fleet/retail.hciplan"
DAY = 24 * 60
WEEK = 7 * DAY


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# --- synthetic campaigns: the replay's rules without the kernel ----------------------------------------------


def _cluster(name: str, wave: int, starts: list[float], length: float = 600.0) -> ClusterPlan:
    offered = tuple((f"w{k}", float(b), float(b + length)) for k, b in enumerate(starts))
    return ClusterPlan(name, f"{name}.hciplan", "fp", wave - 1, wave, None, "UTC", PLANNED, offered=offered,
                       start=float(starts[0]), end=float(starts[0] + length))


def _campaign(waves: list[list[ClusterPlan]], releases: list[float], gate: int, soak: float = 0.0,
              shifts=()) -> Campaign:
    clusters = tuple(c for members in waves for c in members)
    ws = tuple(Wave(k + 1, k, tuple(c.name for c in members), releases[k], None, 0, None)
               for k, members in enumerate(waves))
    return Campaign("synthetic", dt.datetime(2027, 1, 4, tzinfo=dt.timezone.utc), 8, 10, gate, soak, clusters,
                    ws, tuple(shifts), bool(shifts), None, None)


def _kernel(outcomes):
    """A stand-in kernel: outcomes[name](run) -> (status, duration, operator intervals relative to the start)."""
    calls = []

    def kernel(c, skip, idx):
        calls.append((c.name, skip, idx.tolist()))
        origin = c.offered[skip][1]
        rows = [outcomes[c.name](int(r)) for r in idx]
        status = np.array([r[0] for r in rows], dtype=np.uint8)
        end = np.array([origin + r[1] for r in rows])
        ops = max((len(r[2]) for r in rows), default=0)
        op_start = np.full((ops, idx.size), -1.0)
        op_end = np.full((ops, idx.size), -1.0)
        for k, r in enumerate(rows):
            for row, (b, e) in enumerate(r[2]):
                op_start[row, k], op_end[row, k] = origin + b, origin + e
        minutes = np.where(op_end >= 0, op_end - op_start, 0.0).sum(axis=0)
        return fr.ClusterRuns(idx, np.full(idx.size, origin), end, status, minutes, tuple(range(ops)),
                              op_start, op_end)

    kernel.calls = calls
    return kernel


def _model(campaign: Campaign) -> fs.Model:
    return fs.Model(campaign, {})


def test_a_wave_over_the_gate_stops_the_later_waves_and_at_the_threshold_it_does_not():
    # wave 1: a and b; run 0: both done, run 1: a overran (1 of 2 = 50%), run 2: both overran (100%)
    a, b = _cluster("a", 1, [0, WEEK]), _cluster("b", 1, [0, WEEK])
    late = _cluster("c", 2, [2 * WEEK, 3 * WEEK])
    outcomes = {"a": lambda r: (fr.OVERRAN if r >= 1 else fr.DONE, 300.0, ()),
                "b": lambda r: (fr.OVERRAN if r >= 2 else fr.DONE, 300.0, ()),
                "c": lambda r: (fr.DONE, 300.0, ())}
    runs = np.arange(3, dtype=np.int64)
    for gate, stopped in ((40, [0, 1, 1]), (50, [0, 0, 1]), (100, [0, 0, 0])):
        campaign = _campaign([[a, b], [late]], [0.0, WEEK + 600.0], gate)
        wr = fs.replay(_model(campaign), 0, runs, _kernel(outcomes))
        assert wr.stopped_after.tolist() == stopped, gate  # 50% against gate_percent 50: `<=` passes
        c_status = wr.status[2].tolist()
        assert c_status == [fr.DONE if s == 0 else fs.NOT_RUN for s in stopped]
        agg = fs.fold(_model(campaign), 0, 0, 3, _kernel(outcomes))
        assert agg.gate_stops.tolist() == [sum(stopped), 0]
        assert agg.finished == 1 and agg.bad.tolist() == [2, 1, 0]


def test_a_late_wave_moves_the_next_waves_clusters_to_later_occurrences():
    # wave 1 ends at 0 + its duration; wave 2 is planned from 1000 with occurrences at 1000, 2000, 3000 (+ soak 100)
    first = _cluster("a", 1, [0, 5000])
    second = _cluster("b", 2, [1000, 2000, 3000], length=500)
    durations = {0: 400.0, 1: 950.0, 2: 2500.0, 3: 3200.0}  # run -> a's duration: on time, late, later, too late
    outcomes = {"a": lambda r: (fr.DONE, durations[r], ()), "b": lambda r: (fr.DONE, 100.0, ())}
    campaign = _campaign([[first], [second]], [0.0, 1000.0], 100, soak=100.0)
    kernel = _kernel(outcomes)
    wr = fs.replay(_model(campaign), 7, np.arange(4, dtype=np.int64), kernel)
    # release = max(1000, end + 100): 1000, 1050 (-> 2000), 2600 (-> 3000), 3300 (no occurrence left)
    assert wr.release[1].tolist() == [1000.0, 1050.0, 2600.0, 3300.0]
    assert wr.skip[1].tolist() == [0, 1, 2, -1]
    assert wr.status[1].tolist() == [fr.DONE, fr.DONE, fr.DONE, fr.OVERRAN]
    assert wr.end[1, :3].tolist() == [1100.0, 2100.0, 3100.0]
    # one kernel call per skip, each with its runs, the same run indices whatever the skip
    assert [call for call in kernel.calls if call[0] == "b"] == [("b", 0, [0]), ("b", 1, [1]), ("b", 2, [2])]


def test_operators_contention_overlap_touching_and_outside_every_shift():
    shift = ShiftLoad("night", 0.0, 600.0, 1, 0, 0.0, 0)
    a, b = _cluster("a", 1, [0]), _cluster("b", 1, [0])
    cases = {  # run -> (a's steps, b's steps)
        0: (((0, 100),), ((100, 200),)),  # touching: one operator is enough
        1: (((0, 150),), ((100, 200),)),  # overlapping: two at once
        2: (((0, 100),), ((550, 650),)),  # b's step runs past the shift's end
        3: (((0, 100),), ()),
    }
    outcomes = {"a": lambda r: (fr.DONE, 700.0, cases[r][0]), "b": lambda r: (fr.DONE, 700.0, cases[r][1])}
    campaign = _campaign([[a, b]], [0.0], 100, shifts=[shift])
    wr = fs.replay(_model(campaign), 0, np.arange(4, dtype=np.int64), _kernel(outcomes))
    over, where = fs.contention(campaign, wr.intervals, 4)
    assert over.tolist() == [False, True, True, False]
    assert where.tolist() == [-1, 0, 1, -1]  # run 2's peak is after the shift: outside every shift
    assert wr.operator_minutes.tolist() == [200.0, 250.0, 200.0, 100.0]
    agg = fs.fold(_model(campaign), 0, 0, 4, _kernel(outcomes))
    assert agg.overbooked == 2 and agg.busiest.tolist() == [1, 1]
    assert agg.hours.quantile(100) == pytest.approx(250 / 60, rel=1e-3)


# --- the real kernel: properties on generated fleets --------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(spec=fleet_st)
def test_generated_campaigns_keep_release_windows_rings_and_gate(pool, spec):  # noqa: F811
    path = pool / f"fleet-sim-{next(FLEET_NAMES)}.hciplan"
    path.write_text(fleet_text(spec, pool), encoding="utf-8")
    checked = check_fleet(str(path))
    if not checked.ok:
        return  # a cluster whose every window is in a blackout (test_fleet covers the diagnostics)
    campaign = plan_campaign(checked)
    model = fs.Model(campaign, {c.name: c.result.plan for c in checked.clusters})
    runs = np.arange(12, dtype=np.int64)
    wr = fs.replay(model, 5, runs)
    waves = {w.index: k for k, w in enumerate(campaign.waves)}
    wave_end = {}
    for k, c in enumerate(campaign.clusters):
        ran = wr.status[k] != fs.NOT_RUN
        ran &= wr.skip[k] >= 0
        if not c.offered:
            assert not ran.any()
            continue
        release = wr.release[waves[c.wave]]
        for j in np.flatnonzero(ran).tolist():
            begin = wr.start[k, j]
            assert begin >= round(release[j], 3) - 1e-6, (c.name, j)
            assert any(b <= begin < e for _, b, e in c.offered[wr.skip[k, j]:]), (c.name, begin)
        ends = wave_end.setdefault(c.wave, np.full(runs.size, -np.inf))
        np.fmax(ends, np.where(ran, wr.end[k], -np.inf), out=ends)
    # rings in order: a wave starts after the previous wave's simulated end plus soak
    for w in campaign.waves[1:]:
        before = wave_end.get(w.index - 1)
        release = wr.release[waves[w.index]]
        if before is None:
            continue
        started = np.isfinite(release) & np.isfinite(before)
        assert (release[started] >= before[started] + campaign.soak_minutes - 1e-6).all()
    # the gate: in a run whose wave k had more than gate_percent % not done, no later wave's cluster ran
    for w in campaign.waves[:-1]:
        members = [k for k, c in enumerate(campaign.clusters) if c.wave == w.index]
        bad = (wr.status[members] != fr.DONE).sum(axis=0)
        over = np.isfinite(wr.release[waves[w.index]]) & (bad * 100 > campaign.gate_percent * len(members))
        later = [k for k, c in enumerate(campaign.clusters) if c.wave > w.index]
        if later:
            assert (wr.status[later][:, over] == fs.NOT_RUN).all()
        assert (wr.stopped_after[over] == w.index).all()


# --- the example fleet ---------------------------------------------------------------------------------------------


def test_the_example_simulation_is_the_golden_text_and_json(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = invoke("fleet", "simulate", EXAMPLE, "--runs", "60", "--seed", "3", "--jobs", "1")
    assert text.exit_code == 0, text.output
    assert_golden(GOLDEN / "fleet" / "retail-simulate.txt", text.stdout)
    as_json = invoke("fleet", "simulate", EXAMPLE, "--runs", "60", "--seed", "3", "--jobs", "1", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert_golden(GOLDEN / "fleet" / "retail-simulate.json", as_json.stdout)
    doc = json.loads(as_json.stdout)
    assert doc["schema"] == "hciplan.fleet-simulation/1" and doc["runs"] == 60
    assert doc["done_by_week"][-1]["mean"] <= doc["clusters"]


def test_the_same_bytes_for_one_job_and_two(monkeypatch):
    monkeypatch.chdir(ROOT)
    one = invoke("fleet", "simulate", EXAMPLE, "--runs", "90", "--seed", "11", "--jobs", "1", "--json")
    two = invoke("fleet", "simulate", EXAMPLE, "--runs", "90", "--seed", "11", "--jobs", "2", "--json")
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert one.stdout == two.stdout


def test_the_same_bytes_through_dask(monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.chdir(ROOT)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc:
        remote = invoke("fleet", "simulate", EXAMPLE, "--runs", "40", "--seed", "2", "--json",
                        "--scheduler", lc.scheduler_address)
    local = invoke("fleet", "simulate", EXAMPLE, "--runs", "40", "--seed", "2", "--json", "--jobs", "1")
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout


def _example_model():
    checked = check_fleet(str(ROOT / EXAMPLE), "retail.hciplan")
    campaign = plan_campaign(checked)
    return fs.Model(campaign, {c.name: c.result.plan for c in checked.clusters})


def test_two_ranges_or_twenty_leave_the_aggregate_the_same_size_and_figures():
    model = _example_model()
    parts = {}
    for pieces in (2, 20):
        agg = fs.Aggregate.empty(model.campaign)
        bounds = np.linspace(0, 40, pieces + 1).astype(int).tolist()
        for a, b in zip(bounds, bounds[1:]):
            agg.merge(fs.fold(model, 9, a, b))
        parts[pieces] = agg
    assert parts[2].size() == parts[20].size()
    assert not [name for name, value in vars(parts[20]).items() if isinstance(value, list)]  # no per-run lists
    assert dumps(document(model, parts[2], 9)) == dumps(document(model, parts[20], 9))
    assert parts[2].runs == parts[20].runs == 40


# --- CLI errors ------------------------------------------------------------------------------------------------------


def test_a_bad_fleet_is_its_diagnostics_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("fleet.hciplan").write_text('fleet "f" {\n  start = 2026-12-14T00:00Z\n  weeks = zero\n}\n')
    result = invoke("fleet", "simulate", "fleet.hciplan", "--runs", "5")
    assert result.exit_code == 1
    assert "fleet.hciplan:3:" in result.stderr and "no simulation" in result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    as_json = invoke("fleet", "simulate", "fleet.hciplan", "--runs", "5", "--json")
    doc = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and doc["schema"] == "hciplan.fleet-simulation/1"
    assert 3 in [d["line"] for d in doc["diagnostics"]]  # weeks = zero (and line 1: a fleet with no cluster)


def test_bad_options_and_an_unreachable_scheduler_are_messages(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke("fleet", "simulate", EXAMPLE, "--runs", "0")
    assert result.exit_code == 2 and "--runs" in result.stderr
    result = invoke("fleet", "simulate", "missing.hciplan")
    assert result.exit_code == 2 and "cannot read missing.hciplan" in result.stderr
    pytest.importorskip("distributed")
    # an address without a port fails at once (an unreachable one takes montecarlo's 10 s connect timeout)
    result = invoke("fleet", "simulate", EXAMPLE, "--runs", "5", "--scheduler", "127.0.0.1")
    assert result.exit_code == 2 and "cannot reach the dask scheduler at 127.0.0.1: missing port" in result.stderr
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output


def test_the_scheduler_needs_the_dask_extra(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    result = invoke("fleet", "simulate", EXAMPLE, "--runs", "5", "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2 and "pip install 'hciplan[dask]'" in result.stderr


def test_the_text_names_what_the_model_leaves_out():
    model = _example_model()
    text = render_text(model, fs.fold(model, 1, 0, 5), 1)
    assert "a step does not wait for an operator" in text


def test_the_doc_sample_is_the_golden():
    doc = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    golden = (GOLDEN / "fleet" / "retail-simulate.txt").read_text(encoding="utf-8").splitlines()
    sample = doc[doc.index("$ hciplan fleet simulate examples/fleet/retail.hciplan --runs 60 --seed 3"):
                 doc.index("$ hciplan fleet simulate --json")]
    lines = [line for line in sample.splitlines()[1:] if line and line != "..."]
    assert len(lines) > 10 and all(line in golden for line in lines)
    assert "--runs 60 --seed 3" in sample  # the golden's own command line


def test_a_held_wave_is_never_done_and_the_overrunning_cluster_is_named(tmp_path, monkeypatch):
    """fleetgen's gated fleet: edge-big cannot finish in its one 7-hour window (it overran in the plan), so with
    gate_percent = 0 the plan holds edge-next: every run stops after wave 1 and none finishes."""
    monkeypatch.chdir(tmp_path)
    from fleetgen import gated_fleet

    gated_fleet(tmp_path)
    result = invoke("fleet", "simulate", "fleet.hciplan", "--runs", "20", "--jobs", "1", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["clusters"] == 3 and doc["clusters_planned"] == 2
    assert doc["finished_runs"] == 0 and doc["not_finished_share"] == 1.0 and doc["campaign_end"]["p50"] is None
    worst = doc["most_likely_to_overrun"][0]
    assert (worst["cluster"], worst["wave"], worst["share"]) == ("edge-big", 1, 1.0)
    assert [w["gate_stops_share"] for w in doc["waves"]] == [1.0, 0.0]
    text = invoke("fleet", "simulate", "fleet.hciplan", "--runs", "20", "--jobs", "1").stdout
    assert "none: no run finished the campaign" in text
    assert any(line.split() == ["edge-big", "wave", "1", "100.0%"] for line in text.splitlines())


def test_progress_counts_every_run_once(monkeypatch):
    model = _example_model()
    for jobs in (1, 2):
        seen = []
        fs.simulate(model, 30, 4, jobs, None, seen.append)
        assert sum(seen) == 30, jobs


def test_no_gate_is_counted_after_a_wave_the_plan_held():
    # the plan's gate held waves 2 and 3: in the runs where wave 1 passes, wave 2 is not "stopping" anything
    a = _cluster("a", 1, [0])
    held = [ClusterPlan(n, f"{n}.hciplan", "fp", 1, wave, None, "UTC", "held") for n, wave in (("b", 2), ("c", 3))]
    campaign = _campaign([[a], [held[0]], [held[1]]], [0.0, None, None], 0)
    outcomes = {"a": lambda r: (fr.OVERRAN if r == 0 else fr.DONE, 100.0, ())}
    agg = fs.fold(_model(campaign), 0, 0, 4, _kernel(outcomes))
    assert agg.gate_stops.tolist() == [1, 0, 0]
    assert agg.finished == 0 and agg.bad.tolist() == [1, 0, 0]
