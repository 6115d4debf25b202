"""engine._result and montecarlo._tally_windows, made cheaper for the fast path, against their former code.

The fast path and simpy share `_result` and the tallies, so tests/test_fast_path.py cannot see a change in
them: here the former implementations (kept verbatim below, as the reference) score every run of every
example, with and without windows, in both draw modes and with failures (simpy's runs), and the results and
batches must be equal field by field, floats by their repr.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from hciplan.compiler.mixed import mixed_span
from hciplan.compiler.schedule import busy_minutes
from hciplan.simulator import engine, fast, montecarlo, prepare_simulation
from hciplan.simulator.engine import ABORTED, COMPLETED, STOPPED, RunResult, Segment, runtime
from hciplan.simulator.prepared import NO_STEP, keyed_draws
from sim_helpers import plan_of, without_recovery

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
WINDOWS = {"file": {}, "none": {"ignore_windows": True}, "8h": {"window": 480.0}, "40h": {"window": 2400.0}}
RISKS = ('\nscenario "r" { risk "cau.install" { probability = 0.2 } risk "node.reboot" { probability = 0.05 '
         'mode = slow factor = 3 } risk "cau.reboot" { probability = 0.03 mode = hang } }\n')


# --- the reference: the former code, verbatim --------------------------------------------------------------

def _reference_result(sp, index, st, start, end, trace):
    n = sp.size
    unfinished = end.count(-1.0)
    last = max(end)
    remaining = 0
    if last < 0:  # as the engine does since the recovery model: the run's own start
        last = engine._run_start(sp)
    if st.halted:
        outcome, step, reason = ABORTED, st.abort_step, st.abort_reason
        last = max(last, st.halt_time)
    elif st.stop_step != NO_STEP:
        outcome, step, reason = STOPPED, st.stop_step, st.stop_reason
    elif unfinished == 0:
        outcome, step, reason = COMPLETED, NO_STEP, ""
    else:
        raise AssertionError(f"run {index} ended with {unfinished} steps neither done nor stopped")
    if outcome != COMPLETED:
        skipped = {i for u in st.skipped_units for i in sp.units[u].steps if end[i] < 0}
        remaining = sum(1 for i in range(n) if start[i] < 0 and i not in skipped)
    exposure = 0.0
    for u, reboot, lead, share, tail in runtime(sp).exposed:
        since = st.down_since.get(u)
        if since is None and start[reboot] >= 0:
            since = engine.down_start(start[reboot], lead, share, start, end)
        if since is not None and since >= 0:
            exposure += (end[tail] if end[tail] >= 0 else last) - since
    within = None
    critical: tuple[int, ...] = ()
    if outcome == COMPLETED:
        critical = _reference_critical_path(sp.preds, end)
        if sp.windows:
            within = _reference_inside_windows(sp, start, end)
    elif sp.windows:
        within = False
    segments: tuple[Segment, ...] = ()
    if trace:
        final = [Segment(i, st.attempts.get(sp.unit_of[i], 1), start[i], end[i], "ok") for i in range(n) if end[i] >= 0]
        segments = tuple(sorted(st.segments + final, key=lambda s: (s.start, s.end, s.step)))
    upgraded = sum(1 for i in sp.os_upgraded if end[i] >= 0)
    span = mixed_span(end, sp.os_upgraded, None if sp.functional_level == NO_STEP else sp.functional_level)
    mixed = None if span is None or span[1] is None else span[1] - span[0]
    overrun = _reference_overrun(sp, start, end, last) if sp.windows else 0.0
    unit_windows = _reference_unit_windows(sp, start) if sp.windows else ()
    units_done = tuple(end[u.tail] >= 0 for u in sp.units) if sp.windows else ()
    work = busy_minutes([(start[i], end[i]) for i in range(n) if end[i] >= 0])
    window_work: tuple[float, ...] = ()
    if sp.windows:
        spans: list[list[tuple[float, float]]] = [[] for _ in sp.windows]
        for u, k in zip(sp.units, unit_windows):
            if k >= 0:
                spans[k].extend((start[i], end[i]) for i in u.steps if end[i] >= 0)
        window_work = tuple(busy_minutes(x) for x in spans)
    return RunResult(index, outcome, last, step, reason, remaining, tuple(st.failed), exposure, within,
                     critical, upgraded, overrun, segments, unit_windows, units_done, work, window_work, mixed,
                     span is not None and span[1] is None,
                     # the fields added after this reference was written come from the engine's own code
                     *engine._closing(sp, st, start, end, outcome, step), st.delay, sum(st.recoveries.values()))


def _reference_unit_windows(sp, start):
    starts = [w.start for w in sp.windows]
    return tuple(bisect.bisect_right(starts, start[u.steps[0]]) - 1 if start[u.steps[0]] >= 0 else -1
                 for u in sp.units)


def _reference_overrun(sp, start, end, last):
    starts = [w.start for w in sp.windows]
    total = 0.0
    for u in sp.units:
        began = start[u.steps[0]]
        if began < 0:
            continue
        k = bisect.bisect_right(starts, began) - 1
        if k < 0:
            continue
        finished = end[u.tail] if end[u.tail] >= 0 else last
        total += max(0.0, finished - max(began, sp.windows[k].end))
    return total


def _reference_inside_windows(sp, start, end):
    starts = [w.start for w in sp.windows]
    for i in range(sp.size):
        if end[i] < 0:
            continue
        k = bisect.bisect_right(starts, start[i]) - 1
        if k < 0 or end[i] > sp.windows[k].end or start[i] > sp.windows[k].end:
            return False
    return True


def _reference_critical_path(preds, end):
    i = end.index(max(end))
    path = [i]
    at = end.__getitem__
    while True:
        before = preds[i]
        if not before:
            return tuple(path)
        i = before[0] if len(before) == 1 else max(before, key=at)
        path.append(i)


def _reference_tally_windows(sp, batch, r):
    windows = len(sp.windows)
    if not batch.started:
        batch.started = [Counter() for _ in range(windows)]
        batch.done_by = [Counter() for _ in range(windows)]
        batch.spills = [0] * windows
        batch.window_works = [montecarlo.array("d") for _ in range(windows)]
    where, done = r.unit_windows, r.units_done
    planned = sp.planned if sp.given is None else ()
    for k in range(windows):
        batch.started[k][sum(1 for w in where if w == k)] += 1
        batch.done_by[k][sum(1 for w, d in zip(where, done) if d and 0 <= w <= k)] += 1
        if any(0 <= p <= k and not (d and 0 <= w <= k) for p, w, d in zip(planned, where, done)):
            batch.spills[k] += 1
        if r.window_work[k] > 0:
            batch.window_works[k].append(r.window_work[k])
    if r.outcome == COMPLETED:
        batch.finish_windows[max(where, default=-1)] += 1
        batch.windows_used[len({w for w in where if w >= 0})] += 1


# --- the tests -----------------------------------------------------------------------------------------------

def _plans():
    for path in EXAMPLES:
        text = path.read_text(encoding="utf-8")
        for risky in (False, True):
            plan = without_recovery(plan_of(text + RISKS)) if risky else plan_of(text)  # risky: the abort paths too
            for window, options in WINDOWS.items():
                for draws in ("sequential", "keyed"):
                    yield f"{path.stem}-{window}-{draws}{'-risks' * risky}", plan, options, draws, risky


CASES = list(_plans())


def _prepared(plan, options, draws, risky):
    sp = prepare_simulation(plan, scenario="r" if risky else None, **options)
    return keyed_draws(sp, plan) if draws == "keyed" else sp


def _same(a, b) -> bool:
    return a == b and repr(a) == repr(b)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_result_equals_the_former_code_on_every_run(case, monkeypatch):
    name, plan, options, draws, risky = case
    sp = _prepared(plan, options, draws, risky)
    checked = Counter()
    new = engine._result

    def both(sp_, index, st, start, end, trace):
        ours, theirs = new(sp_, index, st, start, end, trace), _reference_result(sp_, index, st, start, end, trace)
        for f in dataclasses.fields(theirs):
            a, b = getattr(ours, f.name), getattr(theirs, f.name)
            assert _same(a, b), (name, index, f.name, a, b)
        checked[ours.outcome] += 1
        return ours
    monkeypatch.setattr(engine, "_result", both)  # simpy's runs
    monkeypatch.setattr(fast, "_result", both)  # the fast path's
    run = fast.runner(sp)
    for index in range(60):
        run(3, index)
    for index in range(0, 60, 15):
        engine.run_once(sp, 3, index, trace=True)
    assert sum(checked.values()) == 60 + 4
    if risky:
        assert checked[ABORTED] + checked[STOPPED] > 0, checked


@pytest.mark.parametrize("case", [c for c in CASES if "-none-" not in c[0] and "-40h-" not in c[0]], ids=lambda c: c[0])
def test_window_tallies_equal_the_former_code(case, monkeypatch):
    _, plan, options, draws, risky = case
    sp = _prepared(plan, options, draws, risky)
    ours = montecarlo.run_batch(sp, 8, 0, 30)
    monkeypatch.setattr(montecarlo, "_tally_windows", _reference_tally_windows)
    theirs = montecarlo.run_batch(sp, 8, 0, 30)
    assert ours == theirs
    assert ours.started, "the plan has windows: the batch tallies them"


def test_one_pass_unions_equal_busy_minutes_on_overlapping_steps():
    """The examples' steps never overlap inside a window; random ones (ties, overlaps, unended) do."""
    import random

    rng = random.Random(14)
    for _ in range(400):
        n, count = rng.randint(1, 30), rng.randint(1, 4)
        start, end, window = [], [], []
        for _ in range(n):
            if rng.random() < 0.15:
                start.append(-1.0), end.append(-1.0)
            else:
                b = rng.choice([0.0, 10.0, rng.uniform(0, 50), rng.uniform(0, 50) / 3])
                start.append(b), end.append(b + rng.choice([0.0, 5.0, rng.uniform(0, 20) / 7]))
            window.append(rng.randint(-1, count - 1))
        work, by_window = engine._busy_by_window(start, end, window, count)
        ended = [(s, e) for s, e in zip(start, end) if e >= 0]
        assert repr(work) == repr(busy_minutes(ended))
        for k in range(count):
            mine = [(s, e) for s, e, w in zip(start, end, window) if e >= 0 and w == k]
            assert repr(by_window[k]) == repr(busy_minutes(mine)), (k, mine)


@pytest.mark.parametrize("draws", ["sequential", "keyed"])
def test_fast_path_with_every_distribution_equals_simpy(draws):
    """The generated sequential draws (fast._inlined_draws) call a step's own draw where it is not triangular."""
    from plan_models import Shape
    from sim_helpers import shape_text

    models = {"os.install": "distribution = lognormal  median = 30m  p90 = 2h",
              "node.drain": "distribution = uniform  low = 5m  high = 50m",
              "storage.wait": "distribution = empirical  observed = [12m, 40m, 1h10m]",
              "post.validate": "distribution = fixed  value = 20m"}
    timing = "\ntiming {\n" + "\n".join(f'  model "{k}" {{ {v} }}' for k, v in models.items()) + "\n}\n"
    plan = plan_of(shape_text(Shape(nodes=3), tail=timing))
    for options in ({}, {"ignore_windows": True}):
        sp = prepare_simulation(plan, **options)
        if draws == "keyed":
            sp = keyed_draws(sp, plan)
        taken = 0
        for index in range(80):
            quick = fast.run_fast(sp, 2, index)
            if quick is not None:
                taken += 1
                assert repr(quick) == repr(engine.run_once(sp, 2, index)), index
        assert taken > 40


def test_critical_path_through_chains_equals_the_step_by_step_walk():
    import random

    rng = random.Random(5)
    for _ in range(300):
        n = rng.randint(1, 40)
        preds = tuple(tuple(sorted(rng.sample(range(i), min(i, rng.choice([0, 1, 1, 1, 2, 3]))))) for i in range(n))
        end = [rng.choice([1.0, 2.0, rng.uniform(0, 9)]) for _ in range(n)]
        chains = engine._chains(preds)
        assert engine._critical_path(preds, end, chains) == _reference_critical_path(preds, end)
    assert engine._chains(((1,), (0,))) is None  # a cycle of single predecessors: the plain walk
