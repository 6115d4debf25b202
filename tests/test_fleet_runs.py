"""The per-cluster run kernel of `fleet simulate` (hciplan/fleet/runs.py) against the simpy engine.

- cluster_runs equals the engine's own runs (`run_once` on the same prepared plan), field by field: the
  run's end, status and first step's start, every operator step's start and end, the operator minutes;
  with the campaign's windows (some runs overran: a cluster given one window only), with runs past a
  bound (the vector path hands them to the engine) and with a plan the vector path declines (a risk:
  every run on the engine);
- index arrays: the same arrays as a contiguous call, permuted with the indices;
- skip > 0 draws what skip = 0 draws (only the windows move);
- cluster_seed: stable when other clusters come and go, different between clusters.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hciplan.fleet import runs as fr
from hciplan.fleet.campaign import PLANNED, ClusterPlan, plan_campaign
from hciplan.fleet.load import check_fleet
from hciplan.simulator import vector
from hciplan.simulator.engine import ABORTED, COMPLETED, STOPPED, run_once
from hciplan.simulator.failures import RiskSpec
from hciplan.simulator.prepared import keyed

from fleetgen import cluster_text, make_fleet

SEED = 20261214
STATUS = {COMPLETED: fr.DONE, STOPPED: fr.OVERRAN, ABORTED: fr.FAILED}


def _fleet(tmp_path, count: int, skip_one: int | None = None):
    """A small generated fleet: 2- and 3-node clusters, half with operator steps; `skip_one` leaves one out."""
    files = {f"a/c{k}.hciplan": cluster_text(f"edge-{k}", 2 + k % 2, k + 1, operator=k % 2 == 0, window=False)
             for k in range(count) if k != skip_one}
    fleet = make_fleet(tmp_path, '  cluster "a/" { ring = 0  site = "p" }\n', files)
    checked = check_fleet(str(fleet), "fleet.hciplan")
    assert checked.ok
    campaign = plan_campaign(checked)
    plans = {c.name: c.result.plan for c in checked.clusters}
    return campaign, plans


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    return _fleet(tmp_path_factory.mktemp("fleet"), 4)


def _operator_cluster(fleet):
    campaign, plans = fleet
    c = next(c for c in campaign.clusters if c.status == PLANNED and c.operator)
    return c, plans[c.file]


def _engine_figures(sp, seed: int, index: int, operator):
    """What the engine's own run says: status, end, first start, each operator step's (start, end), its minutes."""
    r = run_once(sp, seed, index, trace=True)
    final = {}
    for s in r.segments:  # an ended step's last attempt: its start and end
        if s.status == "ok":
            final[s.step] = max(final.get(s.step, (s.start, s.end)), (s.start, s.end))
    work = [s for s in r.segments if s.status not in ("skipped", "recovery")]
    minutes = sum(s.end - s.start for i in operator for s in work if s.step == i)
    first = min((s.start for s in work), default=sp.given.now)
    return (STATUS[r.outcome], r.end, first, tuple(final.get(i, (-1.0, -1.0)) for i in operator), minutes)


def _kernel_figures(cr: fr.ClusterRuns, k: int):
    ops = tuple((float(cr.operator_start[row, k]), float(cr.operator_end[row, k]))
                for row in range(len(cr.operator_steps)))
    return (int(cr.status[k]), float(cr.end[k]), float(cr.start[k]), ops, float(cr.operator_minutes[k]))


def _assert_engine_equal(sp, seed, indices):
    cr = fr.cluster_runs(sp, seed, np.array(indices, dtype=np.int64))
    assert cr.runs.tolist() == list(indices)
    for k, index in enumerate(indices):
        assert _kernel_figures(cr, k) == _engine_figures(sp, seed, index, cr.operator_steps), index  # bit for bit
    return cr


def test_runs_are_the_engines_runs(fleet):
    c, plan = _operator_cluster(fleet)
    sp = fr.cluster_sim(plan, c)
    assert sp.operator_steps and sp.windows[0].start == c.offered[0][1] == sp.given.now
    cr = _assert_engine_equal(sp, fr.cluster_seed(SEED, c), list(range(60)))
    assert not cr.engine.any()  # all on the vector path: the engine only confirms them
    assert (cr.start >= c.offered[0][1]).all() and (cr.end > cr.start).all()
    assert (cr.status == fr.DONE).all()


def test_windowed_runs_that_overran_are_the_engines(fleet):
    """Given its first window only, the cluster's runs that need a second one stop at the window rule."""
    c, plan = _operator_cluster(fleet)
    short = dataclasses.replace(c, offered=c.offered[:1])
    sp = fr.cluster_sim(plan, short)
    cr = _assert_engine_equal(sp, fr.cluster_seed(SEED, c), list(range(80)))
    overran = int((cr.status == fr.OVERRAN).sum())
    assert 5 < overran < 75, overran
    assert (cr.end[cr.status == fr.DONE] <= c.offered[0][2] + 600).all()
    # an overran run's operator steps after the stop never started
    assert (cr.operator_start[:, cr.status == fr.OVERRAN] == -1).any()


def test_runs_past_a_bound_take_the_engine(fleet):
    """Reboots bounded at their mean: about half the runs fail there, the vector path flags them, and the
    engine's figures (its failure path: CAU's retries, the run failed or done late) replace them."""
    c, plan = _operator_cluster(fleet)
    sp = fr.cluster_sim(plan, c)
    tight = tuple(s.mean_minutes if s.spec.reboots else s.bound_minutes for s in plan.steps)
    sp = keyed(dataclasses.replace(sp, bound=tight, key=""))
    cr = _assert_engine_equal(sp, fr.cluster_seed(SEED, c), list(range(40)))
    assert 5 < int(cr.engine.sum()) < 40
    assert (cr.status == fr.FAILED).any()


def test_a_plan_the_vector_path_declines_runs_on_the_engine(fleet):
    c, plan = _operator_cluster(fleet)
    sp = fr.cluster_sim(plan, c)
    install = next(i for i, kind in enumerate(sp.kinds) if "install" in kind)
    risky = keyed(dataclasses.replace(sp, risks=((install, RiskSpec(0.3, "error")),), key=""))
    assert not vector.vector_plan(risky).eligible
    cr = _assert_engine_equal(risky, fr.cluster_seed(SEED, c), [3, 0, 17, 9])
    assert cr.engine.all()


def test_index_arrays_give_the_contiguous_arrays_permuted(fleet):
    c, plan = _operator_cluster(fleet)
    sp = fr.cluster_sim(plan, dataclasses.replace(c, offered=c.offered[:1]))  # with overran runs
    seed = fr.cluster_seed(SEED, c)
    whole = vector.run_vector(sp, seed, 30, 50, steps=True)
    by_index = vector.run_vector(sp, seed, np.arange(30, 80), None, steps=True)
    for name in ("end", "exposure", "ok", "stop_step", "starts", "ends"):
        assert np.array_equal(getattr(whole, name), getattr(by_index, name)), name
    assert vector.run_keys(seed, 30, 50).tolist() == vector.run_keys(seed, np.arange(30, 80)).tolist()
    order = np.random.default_rng(1).permutation(np.arange(30, 80))
    plain = fr.cluster_runs(sp, seed, np.arange(30, 80))
    shuffled = fr.cluster_runs(sp, seed, order)
    where = order - 30
    for name in ("start", "end", "status", "operator_minutes"):
        assert np.array_equal(getattr(shuffled, name), getattr(plain, name)[where]), name
    assert np.array_equal(shuffled.operator_start, plain.operator_start[:, where])
    assert np.array_equal(shuffled.operator_end, plain.operator_end[:, where])


def test_a_later_skip_draws_the_same_durations(fleet):
    c, plan = _operator_cluster(fleet)
    seed = fr.cluster_seed(SEED, c)
    first, later = fr.cluster_sim(plan, c, 0), fr.cluster_sim(plan, c, 3)
    assert later.given.now == c.offered[3][1] and later.windows[0].start == c.offered[3][1]
    assert len(later.windows) == len(c.offered) - 3
    a, b = vector.draw_batch(first, seed, np.arange(20))[0], vector.draw_batch(later, seed, np.arange(20))[0]
    assert np.array_equal(a, b)  # the same draws, bit for bit
    ra, rb = fr.cluster_runs(first, seed, np.arange(20)), fr.cluster_runs(later, seed, np.arange(20))
    shift = c.offered[3][1] - c.offered[0][1]
    assert ((rb.start - ra.start) >= shift).all()
    # the operator steps' durations are the draws' (up to the rounding of later times); the runs' ends moved
    done = (ra.operator_end >= 0) & (rb.operator_end >= 0)
    assert done.any()
    assert np.allclose((ra.operator_end - ra.operator_start)[done], (rb.operator_end - rb.operator_start)[done],
                       rtol=1e-9, atol=1e-6)
    assert (rb.end > ra.end).all()


def test_not_planned_clusters_and_skips_past_the_windows_are_refused(fleet):
    c, plan = _operator_cluster(fleet)
    with pytest.raises(ValueError, match="no offered windows"):
        fr.cluster_sim(plan, dataclasses.replace(c, offered=(), status="unplaced"))
    with pytest.raises(ValueError, match="skip"):
        fr.cluster_sim(plan, c, len(c.offered))


def test_cluster_seed_is_the_clusters_own(tmp_path):
    full, _ = _fleet(tmp_path / "full", 4)
    fewer, _ = _fleet(tmp_path / "fewer", 4, skip_one=1)
    seeds = {c.file: fr.cluster_seed(SEED, c) for c in full.clusters}
    assert len(set(seeds.values())) == len(seeds)  # different clusters, different seeds
    for c in fewer.clusters:
        assert fr.cluster_seed(SEED, c) == seeds[c.file]  # removing one leaves the others' seeds
    assert fr.cluster_seed(SEED + 1, full.clusters[0]) != seeds[full.clusters[0].file]


def test_cluster_seed_is_pinned():
    """The hash is part of the results: a change of its text would change every campaign's numbers."""
    c = ClusterPlan("x", "a/x.hciplan", "sha256:00", 0, 1, None, "UTC", PLANNED)
    assert fr.cluster_seed(7, c) == 1055760515212685234
    assert fr.cluster_seed(7, dataclasses.replace(c, ring=2, wave=5, name="other")) == 1055760515212685234



def test_a_pickled_plan_gives_the_same_runs_and_an_empty_batch_is_empty(fleet):
    """Workers get the prepared plan pickled: the same runs there (its key and operator steps travel with it)."""
    import pickle

    c, plan = _operator_cluster(fleet)
    sp = fr.cluster_sim(plan, c)
    again = pickle.loads(pickle.dumps(sp))
    assert again.key == sp.key and again.operator_steps == sp.operator_steps
    seed, runs = fr.cluster_seed(SEED, c), np.array([5, 2, 5, 40], dtype=np.int64)
    a, b = fr.cluster_runs(sp, seed, runs), fr.cluster_runs(again, seed, runs)
    assert a.end.tolist() == b.end.tolist() and a.operator_end.tolist() == b.operator_end.tolist()
    assert a.end[0] == a.end[2]  # a repeated index is the same run
    empty = fr.cluster_runs(sp, seed, np.array([], dtype=np.int64))
    assert empty.end.shape == (0,) and empty.operator_start.shape == (len(sp.operator_steps), 0)
    with pytest.raises(ValueError, match=">= 0"):
        fr.cluster_runs(sp, seed, np.array([3, -1]))
