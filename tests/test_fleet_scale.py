"""Fleets at scale (issue 12's compile target): the schedule's bookings and the windows cost per entry, not per pair.

bench/bench_fleet.py measures 1,000 clusters; these tests pin the two changes that keep it linear without
changing a byte of output (tests/test_fleet.py's goldens and properties check the output):

- `campaign._Intervals.peak` (a bisection over bookings sorted by start) gives what a sweep over every
  booking gives, for any intervals;
- the windows of the clusters of one entry (a folder) are computed once per entry, in check and in plan.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hciplan.fleet import campaign as fc
from hciplan.fleet import zones
from hciplan.fleet.load import check_fleet

from fleetgen import cluster_text

times = st.integers(0, 2000).map(lambda m: m / 8)  # eighths of a minute: ties, touching and nested intervals
intervals = st.lists(st.tuples(times, st.integers(0, 400).map(lambda m: m / 4)).map(lambda t: (t[0], t[0] + t[1])),
                     max_size=40)


@given(booked=intervals, probes=st.lists(st.tuples(times, times), min_size=1, max_size=10))
def test_the_sorted_bookings_give_the_peak_of_a_full_sweep(booked, probes):
    index = fc._Intervals()
    for b, e in booked:
        index.add(b, e)
    assert index.booked == booked  # booking order kept: the shift loads sum in that order
    for x, y in probes:
        begin, end = min(x, y), max(x, y)
        assert index.peak(begin, end) == fc._peak(booked, begin, end)


def test_the_windows_of_an_entry_are_computed_once_for_all_its_clusters(tmp_path, monkeypatch):
    for k in range(6):
        path = tmp_path / "c" / f"e{k}.hciplan"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cluster_text(f"edge-{k}", 2 + k % 2, k, window=False), encoding="utf-8")
    (tmp_path / "fleet.hciplan").write_text(
        'fleet "f" {\n  start = 2026-12-14T00:00Z  weeks = 8  max_in_flight = 3  wave_size = 3\n'
        '  site "p" { zone = "Europe/Paris"  window "w" { day = saturday  start = 22:00  length = 9h } }\n'
        '  cluster "c/e0.hciplan" { ring = 0  site = "p" }\n  cluster "c/" { ring = 1  site = "p" }\n}\n',
        encoding="utf-8")
    calls = []
    real = zones.cluster_windows
    monkeypatch.setattr(zones, "cluster_windows", lambda *a, **kw: calls.append(a[1].path) or real(*a, **kw))
    checked = check_fleet(str(tmp_path / "fleet.hciplan"))
    assert checked.ok, checked.diagnostics
    assert sorted(calls) == ["c/", "c/e0.hciplan"]  # once per entry, not once per cluster file
    calls.clear()
    campaign = fc.plan_campaign(checked)
    assert sorted(calls) == ["c/", "c/e0.hciplan"]
    assert [c.status for c in campaign.clusters] == ["planned"] * 6
