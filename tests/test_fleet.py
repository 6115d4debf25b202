"""Fleets (issue 12 items 1-2a): the fleet file, `hciplan check FLEET` and `hciplan fleet plan FLEET`.

- the example fleet (examples/fleet/) checks clean, and its campaign is a
  golden, text and JSON (tests/golden/fleet/, HCIPLAN_REGEN=1 rewrites it);
- every fleet rule has a diagnostics case at its file:line:col, through the
  CLI, with no traceback; a broken cluster file does not hide the others;
- each cluster file is compiled once per content;
- hypothesis properties on generated fleets (zones with and without
  daylight saving, blackouts, shifts, limits): no cluster works in a
  blackout or outside its weekly windows (checked from the local calendar,
  not with the code under test), rings and waves in order, never more than
  N in flight, operators never over-booked, the health gate holds every wave
  after one that failed it, and the same fleet gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hciplan.cli import cli
from hciplan.fleet import campaign as fc
from hciplan.fleet import load as fl
from hciplan.fleet.load import check_fleet
from hciplan.fleet.model import DAYS
from hciplan.fleet.render import document, dumps, render_text

from fleetgen import cluster_text, gated_fleet, make_fleet
from helpers import GOLDEN, ROOT, assert_golden

EXAMPLE = ROOT / "examples" / "fleet" / "retail.hciplan"
UTC = dt.timezone.utc


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# --- the example fleet -------------------------------------------------------------------------------


def test_the_example_fleet_and_every_cluster_file_check_clean(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke("check", "examples/fleet/retail.hciplan")
    assert result.exit_code == 0, result.output
    assert result.output == "7 files checked: 0 errors, 0 warnings\n"


def test_the_example_campaign_is_the_golden_text_and_json(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = invoke("fleet", "plan", "examples/fleet/retail.hciplan")
    assert text.exit_code == 0, text.stderr
    assert_golden(GOLDEN / "fleet" / "retail.txt", text.stdout)
    as_json = invoke("fleet", "plan", "--json", "examples/fleet/retail.hciplan")
    assert as_json.exit_code == 0
    assert_golden(GOLDEN / "fleet" / "retail.json", as_json.stdout)
    doc = json.loads(as_json.stdout)
    assert doc["schema"] == "hciplan.fleet-plan/1" and doc["diagnostics"] == []


def test_the_example_campaign_reads_each_clusters_own_plan(monkeypatch):
    """The schedule is the plan's: its operator steps are the plan's needs_operator steps, their minutes the
    plan's mean minutes, and a 4-week year-end blackout and the zones place the pilot on 9 January 22:00 Paris."""
    monkeypatch.chdir(ROOT)
    checked = check_fleet("examples/fleet/retail.hciplan")
    campaign = fc.plan_campaign(checked)
    by_name = {c.result.plan.model.cluster.name: c.result.plan for c in checked.clusters}
    for c in campaign.clusters:
        plan = by_name[c.name]
        wanted = [s for s in plan.steps if plan.needs_operator(s)]
        assert [o.step for o in c.operator] == [s.id for s in wanted]
        assert [round(o.end - o.start, 3) for o in c.operator] == [round(s.mean_minutes, 3) for s in wanted]
    pilot = campaign.clusters[0]
    assert (pilot.name, pilot.ring, pilot.wave) == ("edge-par1", 0, 1)
    assert campaign.at(pilot.windows[0].start) == dt.datetime(2027, 1, 9, 22, 0, tzinfo=ZoneInfo("Europe/Paris"))
    # Montreal's Saturday 21:00 is 02:00Z on Sunday (EST, UTC-5)
    mtl = next(c for c in campaign.clusters if c.name == "edge-mtl2")
    assert campaign.at(mtl.windows[0].start).isoformat() == "2027-01-24T02:00:00+00:00"


def test_the_campaign_is_the_same_bytes_every_time(monkeypatch):
    monkeypatch.chdir(ROOT)
    first = dumps(document(fc.plan_campaign(check_fleet("examples/fleet/retail.hciplan"))))
    second = dumps(document(fc.plan_campaign(check_fleet("examples/fleet/retail.hciplan"))))
    assert first == second


# --- diagnostics, one case per rule ----------------------------------------------------------------------

def make(tmp_path: Path, body: str, clusters: dict[str, str] | None = None) -> str:
    """The fleet file (fleetgen.HEAD + body) with its cluster files; by default one 2-node cluster."""
    default = {"c/one.hciplan": cluster_text("edge-one", 2, 1, window=False)}
    return str(make_fleet(tmp_path, body, clusters if clusters is not None else default))


CASES = [
    # (code, body, line, column, text in message)
    ("HCI1201", '  cluster "nothere/*.hciplan" { ring = 0  site = "p" }\n', 5, 3, "matches no .hciplan file"),
    ("HCI1201", '  cluster "c/two.hciplan" { ring = 0  site = "p" }\n', 5, 3, "no file `c/two.hciplan`"),
    ("HCI1201", '  cluster "empty/" { ring = 0  site = "p" }\n', 5, 3, "holds no .hciplan file"),
    ("HCI1202", '  cluster "c/one.hciplan" { ring = 1  site = "p" }\n', 5, 36, "without ring 0"),
    ("HCI1202", '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n'
                '  cluster "d/" { ring = 2  site = "p" }\n', 6, 25, "ring 2 without ring 1"),
    ("HCI1203", '  site "q" { zone = "Europe/Pariss" }\n  cluster "c/one.hciplan" { ring = 0  site = "p" }\n',
     5, 21, "not a time zone"),
    ("HCI1203", '  shift "s" { day = sunday  start = 08:00  length = 8h  operators = 1  zone = "CET+1" }\n'
                '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n', 5, 79, "not a time zone"),
    ("HCI1204", '  blackout "b" { start = 2027-01-03  end = 2026-12-19 }\n'
                '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n', 5, 44, "ends on 2026-12-19 before"),
    ("HCI1205", '  site "q" { zone = "UTC"  window "xmas" { day = friday  start = 20:00  length = 4h } }\n'
                '  blackout "b" { start = 2026-12-14  end = 2027-03-01 }\n'
                '  cluster "c/one.hciplan" { ring = 0  site = "q" }\n', 5, 28, "falls in a blackout all 8 times"),
    ("HCI1206", '  blackout "b" { start = 2026-12-14  end = 2027-03-01 }\n'
                '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n', 6, 3, "has no window in the horizon"),
    ("HCI1206", '  cluster "c/one.hciplan" { ring = 0 }\n', 5, 3, "(no window)"),
    ("HCI1207", '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n'
                '  cluster "c/one.hciplan" { ring = 1  site = "p" }\n', 6, 3, "is listed twice"),
    ("HCI1207", '  cluster "d/*.hciplan" { ring = 0  site = "p" }\n', 5, 3, "describes cluster `edge-same`"),
    ("HCI1208", '  cluster "fleet.hciplan" { ring = 0 }\n', 5, 3, "the fleet file itself"),
    ("HCI1208", '  cluster "inner.hciplan" { ring = 0 }\n', 5, 3, "is a fleet file"),
    ("HCI1209", '  cluster "c/one.hciplan" { ring = 0  site = "P" }\n', 5, 46, "no site `P`"),
    ("HCI1210", '}\ncluster "x" { version = "22H2" }\nfleet "g" {\n', 6, 1, "holds no `cluster` block"),
    ("HCI109", '  site "q" { zone = "UTC"  window "w" { day = friday  start = 24:00  length = 4h } }\n'
               '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n', 5, 63, "not a time of day"),
    ("HCI103", '  blackout "b" { start = 2026-12-24T00:00Z  end = 2026-12-26 }\n'
               '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n', 5, 26, "takes a date"),
    ("HCI104", '  shift "s" { day = satday  start = 08:00  length = 8h  operators = 1 }\n'
               '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n', 5, 21, "not a valid `day`"),
    ("HCI111", '', 1, 1, "needs at least one `cluster` block"),
]


def case_files(code: str, tmp_path: Path) -> dict[str, str]:
    files = {"c/one.hciplan": cluster_text("edge-one", 2, 1, window=False),
             "d/x.hciplan": cluster_text("edge-x", 3, 2, window=False)}
    if code == "HCI1201":
        (tmp_path / "empty").mkdir()
    if code == "HCI1207":
        files["d/x.hciplan"] = cluster_text("edge-same", 2, 3, window=False)
        files["d/y.hciplan"] = cluster_text("edge-same", 3, 4, window=False)
    if code == "HCI1208":
        files["inner.hciplan"] = 'fleet "inner" { start = 2026-12-14T00:00Z  cluster "c/" { ring = 0 } }\n'
    return files


@pytest.mark.parametrize("code, body, line, column, words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_fleet_rule_is_a_diagnostic_at_its_place(tmp_path, monkeypatch, code, body, line, column, words):
    monkeypatch.chdir(tmp_path)
    make(tmp_path, body, case_files(code, tmp_path))
    result = invoke("check", "fleet.hciplan")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    matching = [d for d in check_fleet("fleet.hciplan").diagnostics if d.code == code]
    assert matching, result.output
    d = matching[0]
    assert (d.span.file, d.span.line, d.span.column) == ("fleet.hciplan", line, column), result.output
    assert words in d.message
    assert f"fleet.hciplan:{line}:{column}: " in result.output and f"[{code}]" in result.output
    as_json = json.loads(invoke("check", "--format", "json", "fleet.hciplan").stdout)
    assert any(x["code"] == code and x["line"] == line for x in as_json["diagnostics"])
    if d.severity.value == "error":
        assert result.exit_code == 1
        plan = invoke("fleet", "plan", "fleet.hciplan")
        assert plan.exit_code == 1 and "no campaign" in plan.stderr and f"[{code}]" in plan.stderr
        plan = invoke("fleet", "plan", "--json", "fleet.hciplan")
        doc = json.loads(plan.stdout)
        assert plan.exit_code == 1 and set(doc) == {"schema", "diagnostics"}
        assert any(x["code"] == code for x in doc["diagnostics"])


def test_a_broken_cluster_file_does_not_hide_the_others(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {"c/a.hciplan": cluster_text("edge-a", 2, 1, window=False).replace("witness = cloud", "witness = clod"),
             "c/b.hciplan": cluster_text("edge-b", 2, 2, window=False),
             "c/c.hciplan": cluster_text("edge-c", 3, 3, window=False).replace('to = "23H2"', 'to = "24H2"')}
    make(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n  cluster "none.hciplan" { ring = 1 }\n', files)
    result = invoke("check", "fleet.hciplan")
    assert result.exit_code == 1
    heads = [line for line in result.output.splitlines() if ": error[" in line or "checked" in line]
    assert heads == ["c/a.hciplan:3:50: error[HCI104]: `clod` is not a valid `witness`",
                     "c/c.hciplan:14:8: error[HCI201]: upgrading from 22H2 to 24H2 is not supported",
                     "fleet.hciplan:6:3: error[HCI1201]: no file `none.hciplan`",
                     "4 files checked: 3 errors, 0 warnings"]  # the fleet file and the three cluster files


def test_fleet_and_cluster_files_check_together(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make(tmp_path, '  cluster "c/one.hciplan" { ring = 0  site = "p" }\n')
    (tmp_path / "alone.hciplan").write_text(cluster_text("edge-alone", 2, 9, window=False))
    result = invoke("check", "fleet.hciplan", "alone.hciplan")
    assert result.exit_code == 0 and result.output == "3 files checked: 0 errors, 0 warnings\n"


def test_unreadable_and_binary_fleet_files_are_diagnostics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bin.hciplan").write_bytes(b'fleet "x" {\x00}')
    result = invoke("fleet", "plan", "bin.hciplan")
    assert result.exit_code == 1 and "[HCI009]" in result.stderr
    result = invoke("fleet", "plan", "missing.hciplan")  # as `hciplan plan`: a FILE that cannot be read
    assert result.exit_code == 2 and "cannot read missing.hciplan" in result.stderr
    assert [d.code for d in check_fleet("missing.hciplan").diagnostics] == ["HCI1201"]  # the library's answer


def test_a_glob_or_folder_leaves_out_what_an_earlier_ring_listed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {f"c/{n}.hciplan": cluster_text(f"edge-{n}", 2, k, window=False) for k, n in enumerate("abc")}
    make(tmp_path, '  cluster "c/b.hciplan" { ring = 0  site = "p" }\n  cluster "c/" { ring = 1  site = "p" }\n',
         files)
    checked = check_fleet("fleet.hciplan")
    assert checked.ok, checked.diagnostics
    assert [(c.name, checked.fleet.entries[c.entry].ring) for c in checked.clusters] == [
        ("c/b.hciplan", 0), ("c/a.hciplan", 1), ("c/c.hciplan", 1)]


def test_each_cluster_file_is_compiled_once_per_content(tmp_path, monkeypatch):
    calls = []
    real = fl.compile_checked
    monkeypatch.setattr(fl, "compile_checked", lambda check, **kw: calls.append(check.source.name) or real(check, **kw))
    monkeypatch.chdir(tmp_path)
    same = cluster_text("edge-same", 2, 1, window=False)
    files = {"c/a.hciplan": same, "c/b.hciplan": same, "c/c.hciplan": cluster_text("edge-c", 3, 2, window=False)}
    make(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n', files)
    checked = check_fleet("fleet.hciplan")
    assert sorted(calls) == ["c/a.hciplan", "c/c.hciplan"]  # b has a's bytes: compiled once
    hci1207 = [d for d in checked.diagnostics if d.code == "HCI1207"]
    assert len(hci1207) == 1 and "c/b.hciplan" in hci1207[0].message  # and then it is the same cluster twice


def test_the_in_flight_limit_and_one_operator_serialise_clusters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {f"c/{n}.hciplan": cluster_text(f"edge-{n}", 2, k, operator=True, window=False) for k, n in enumerate("abcd")}
    body = ('  max_in_flight = 1\n  wave_size = 4\n'
            '  cluster "c/" { ring = 0  site = "p" }\n')
    make(tmp_path, body, files)
    campaign = fc.plan_campaign(check_fleet("fleet.hciplan"))
    starts = [c.windows[0].start for c in campaign.clusters]
    assert [c.status for c in campaign.clusters] == ["planned"] * 4
    assert starts == sorted(starts) and len(set(starts)) == 4  # one a week: never two at once
    make(tmp_path, body.replace("max_in_flight = 1", "max_in_flight = 4") +
         '  shift "night" { day = saturday  start = 20:00  length = 12h  operators = 1 }\n', files)
    campaign = fc.plan_campaign(check_fleet("fleet.hciplan"))
    assert all(c.status == "planned" for c in campaign.clusters)
    for s in campaign.shifts:
        assert s.peak <= 1
    # without shifts nothing limits them: all four in the first window
    make(tmp_path, body.replace("max_in_flight = 1", "max_in_flight = 4"), files)
    campaign = fc.plan_campaign(check_fleet("fleet.hciplan"))
    assert len({c.windows[0].start for c in campaign.clusters}) == 1


def test_the_health_gate_holds_the_waves_after_an_overrun(tmp_path, monkeypatch):
    """In a one-week horizon, a 3-node cluster with operator steps (about 11h of work) cannot finish in its one
    7-hour window: it overran, so with gate_percent = 0 ring 1 is held; with 50% (1 of 2) the gate passes."""
    monkeypatch.chdir(tmp_path)
    fleet = gated_fleet(tmp_path)
    campaign = fc.plan_campaign(check_fleet("fleet.hciplan"))
    status = {c.name: c.status for c in campaign.clusters}
    assert status == {"edge-big": "overran", "edge-small": "planned", "edge-next": "held"}
    assert campaign.waves[0].gate_passed is False and campaign.stopped_after == 1
    assert "STOPS the campaign" in render_text(campaign)
    fleet.write_text(fleet.read_text().replace("weeks = 1", "weeks = 1  gate_percent = 50"))
    campaign = fc.plan_campaign(check_fleet("fleet.hciplan"))
    assert {c.name: c.status for c in campaign.clusters}["edge-next"] == "planned"
    assert campaign.waves[0].gate_passed is True and campaign.stopped_after is None


def test_a_window_across_a_daylight_saving_change_keeps_its_local_start():
    """Paris leaves summer time on 2027-10-31: Saturday 22:00 is 20:00Z before it and 21:00Z after it."""
    from hciplan.fleet import zones

    paris = ZoneInfo("Europe/Paris")
    times = zones.weekly("saturday", 22 * 60, 9 * 3600, paris, dt.datetime(2027, 10, 18, tzinfo=UTC),
                         dt.datetime(2027, 11, 8, tzinfo=UTC))
    assert [b.isoformat() for b, _ in times] == ["2027-10-23T20:00:00+00:00", "2027-10-30T20:00:00+00:00",
                                                 "2027-11-06T21:00:00+00:00"]
    assert all(e - b == dt.timedelta(hours=9) for b, e in times)  # real time: the long night is still 9h


def test_a_window_starting_in_a_spring_forward_gap_starts_an_hour_later_by_the_clock():
    """Paris skips 02:00-03:00 on 2027-03-28: a Sunday 02:30 window is read with the winter offset (PEP 495,
    fold 0), so it starts at 01:30Z, 03:30 by the clock; the Sundays around it start at 02:30."""
    from hciplan.fleet import zones

    paris = ZoneInfo("Europe/Paris")
    times = zones.weekly("sunday", 150, 4 * 3600, paris, dt.datetime(2027, 3, 15, tzinfo=UTC),
                         dt.datetime(2027, 4, 8, tzinfo=UTC))
    assert [b.isoformat() for b, _ in times] == ["2027-03-21T01:30:00+00:00", "2027-03-28T01:30:00+00:00",
                                                 "2027-04-04T00:30:00+00:00"]


# --- properties on generated fleets -------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Paris", "America/Toronto", "Australia/Sydney", "Asia/Kolkata"]
POOL_SIZE = 10


@pytest.fixture(scope="module")
def pool():
    """Ten cluster files of the examples' shapes (2 and 3 nodes, some with operator steps), written once."""
    folder = Path(tempfile.mkdtemp(prefix="hciplan-fleet-"))
    for k in range(POOL_SIZE):
        (folder / f"c{k}.hciplan").write_text(cluster_text(f"edge-{k:02d}", 2 + k % 2, 10 + k, operator=k % 3 == 0,
                                                           window=False))
    yield folder
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


window_st = st.tuples(st.sampled_from(DAYS), st.integers(0, 23), st.sampled_from([0, 30]),
                      st.sampled_from([4, 6, 9, 12, 30]))
fleet_st = st.fixed_dictionaries({
    "start": st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)),  # horizons across daylight-saving changes
    "weeks": st.integers(2, 12),
    "in_flight": st.integers(1, 4),
    "wave_size": st.integers(1, 4),
    "gate": st.sampled_from([0, 50, 100]),
    "soak_h": st.sampled_from([0, 12, 48]),
    "sites": st.lists(st.tuples(st.sampled_from(ZONES), st.lists(window_st, min_size=1, max_size=2)),
                      min_size=1, max_size=3),
    "shifts": st.lists(st.tuples(st.sampled_from(DAYS), st.integers(0, 23), st.sampled_from([8, 12, 24]),
                                 st.integers(1, 2), st.sampled_from(ZONES)), max_size=3),
    "blackouts": st.lists(st.tuples(st.integers(0, 80), st.integers(0, 20)), max_size=2),
    "clusters": st.lists(st.tuples(st.integers(0, POOL_SIZE - 1), st.integers(0, 2)), min_size=1, max_size=8,
                         unique_by=lambda c: c[0]),
})


FLEET_NAMES = itertools.count()


def fleet_text(spec: dict, pool: Path) -> str:
    lines = ['fleet "gen" {', f"  start = {spec['start'].isoformat()}T00:00Z  weeks = {spec['weeks']}",
             f"  max_in_flight = {spec['in_flight']}  wave_size = {spec['wave_size']}",
             f"  gate_percent = {spec['gate']}  soak = {spec['soak_h']}h"]
    for k, (zone, windows) in enumerate(spec["sites"]):
        lines.append(f'  site "s{k}" {{ zone = "{zone}"')
        for j, (day, hour, minute, length) in enumerate(windows):
            lines.append(f'    window "w{j}" {{ day = {day}  start = {hour:02d}:{minute:02d}  length = {length}h }}')
        lines.append("  }")
    for k, (day, hour, length, operators, zone) in enumerate(spec["shifts"]):
        lines.append(f'  shift "op{k}" {{ day = {day}  start = {hour:02d}:00  length = {length}h  '
                     f'operators = {operators}  zone = "{zone}" }}')
    for k, (offset, days) in enumerate(spec["blackouts"]):
        first = spec["start"] + dt.timedelta(days=offset)
        lines.append(f'  blackout "b{k}" {{ start = {first.isoformat()}  end = {(first + dt.timedelta(days=days)).isoformat()} }}')
    rings = sorted({r for _, r in spec["clusters"]})
    renumber = {r: k for k, r in enumerate(rings)}  # no gaps: the properties are about valid fleets
    for index, ring in spec["clusters"]:
        site = index % len(spec["sites"])
        lines.append(f'  cluster "c{index}.hciplan" {{ ring = {renumber[ring]}  site = "s{site}" }}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def sweep_peak(intervals) -> int:
    events = sorted([(b, 1) for b, e in intervals if e > b] + [(e, -1) for b, e in intervals if e > b])
    now = top = 0
    for _, d in events:
        now += d
        top = max(top, now)
    return top


@settings(max_examples=40)
@given(spec=fleet_st)
def test_generated_fleets_keep_every_campaign_rule(pool, spec):
    # beside the pool: entries stay inside the fleet file's folder (HCI1211); a fresh name for each example
    path = pool / f"fleet-{next(FLEET_NAMES)}.hciplan"
    path.write_text(fleet_text(spec, pool), encoding="utf-8")
    checked = check_fleet(str(path))
    errors = [d for d in checked.diagnostics if d.severity.value == "error"]
    if errors:  # only HCI1206 may stop a generated fleet: a cluster whose every window is in a blackout
        assert {d.code for d in errors} == {"HCI1206"}, errors
        return
    campaign = fc.plan_campaign(checked)
    assert dumps(document(campaign)) == dumps(document(fc.plan_campaign(check_fleet(str(path)))))
    assert_campaign_rules(checked, campaign, spec)


def assert_campaign_rules(checked, campaign, spec: dict) -> None:
    """Every rule of the campaign, checked from the output and the local calendar (not with zones.py)."""
    fleet = checked.fleet
    start = dt.datetime.combine(spec["start"], dt.time(0), tzinfo=UTC)
    end_of_horizon = start + dt.timedelta(weeks=spec["weeks"])
    sites = {s.name: s for s in fleet.sites}
    plans = {c.result.plan.model.cluster.name: c.result.plan for c in checked.clusters}

    for c in campaign.clusters:
        if c.status != fc.PLANNED:
            continue
        site = sites[c.site]
        zone = ZoneInfo(site.zone) if site.zone != "UTC" else UTC
        assert c.windows and c.start >= c.windows[0].start and c.start < c.windows[0].end
        for w in c.windows:
            begin, finish = campaign.at(w.start), campaign.at(w.end)
            assert start <= begin and finish <= end_of_horizon
            local = begin.astimezone(zone)
            declared = next(x for x in site.windows if x.name == w.name)
            # outside its windows never: the local weekday and time of day are the declared ones, except on the
            # day the declared time does not exist (a spring-forward gap): then it is read with the offset before
            wall = (DAYS[local.weekday()], local.hour * 60 + local.minute)
            if wall != (declared.day, declared.start):
                naive = dt.datetime.combine(local.date(), dt.time(declared.start // 60, declared.start % 60))
                assert naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive
                assert DAYS[local.weekday()] == declared.day and wall[1] - declared.start == 60
            assert round((finish - begin).total_seconds()) == declared.length
            # the expected work stops inside the window: a unit starts only if its P90 fit ends before it does
            assert w.start <= w.stops_at <= w.end
            # never in a blackout: no local calendar day the window touches is a blackout day
            last_local = (finish - dt.timedelta(microseconds=1)).astimezone(zone).date()
            day = local.date()
            while day <= last_local:
                assert not any(b.start <= day <= b.end for b in fleet.blackouts), (c.name, w, day)
                day += dt.timedelta(days=1)
        plan = plans[c.name]
        wanted = [s.id for s in plan.steps if plan.needs_operator(s)]
        assert [o.step for o in c.operator] == wanted  # every operator step is booked

    # rings and waves in order: a wave starts after the one before it has ended, plus the soak
    planned_waves = [w for w in campaign.waves if w.released is not None]
    for before, after in zip(planned_waves, planned_waves[1:]):
        assert before.ring <= after.ring
        if before.end is not None:
            assert after.released >= before.end + spec["soak_h"] * 60 - 0.01
    for c in campaign.clusters:
        if c.status == fc.PLANNED:
            wave = campaign.waves[c.wave - 1]
            assert c.start >= wave.released
    by_ring: dict[int, list] = {}
    for c in campaign.clusters:
        if c.status == fc.PLANNED:
            by_ring.setdefault(c.ring, []).append(c)
    for ring in by_ring:
        if ring + 1 in by_ring:
            assert max(c.end for c in by_ring[ring]) <= min(c.start for c in by_ring[ring + 1])

    # never more than N in flight
    assert sweep_peak([(c.start, c.end) for c in campaign.clusters if c.status == fc.PLANNED]) <= spec["in_flight"]

    # operators never over-booked: each operator step inside its shift, never more at once than its operators
    if fleet.shifts:
        booked: dict[int, list] = {}
        for c in campaign.clusters:
            for o in c.operator:
                assert o.shift is not None
                shift = campaign.shifts[o.shift]
                assert shift.start <= o.start and o.end <= shift.end
                booked.setdefault(o.shift, []).append((o.start, o.end))
        for k, intervals in booked.items():
            assert sweep_peak(intervals) <= campaign.shifts[k].operators

    # the health gate: a failed gate holds every later wave
    for w in campaign.waves:
        if w.gate_passed is not None:
            assert w.gate_passed == (w.overran * 100 <= spec["gate"] * len(w.clusters))
    if campaign.stopped_after is not None:
        assert all(w.released is None for w in campaign.waves[campaign.stopped_after:])
        assert all(c.status == fc.HELD for c in campaign.clusters if c.wave > campaign.stopped_after)


# --- docs/fleet.md ------------------------------------------------------------------------------------------

FLEET_DOC = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")


def doc_rows(heading: str) -> list[list[str]]:
    import re

    start = FLEET_DOC.index(f"### {heading}")
    rest = FLEET_DOC[start + 4:]
    text = rest[: rest.index("\n#")] if "\n#" in rest else rest
    rows = [[cell.strip() for cell in line.strip().strip("|").split(" | ")]
            for line in text.splitlines() if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line)]
    return rows[1:]


@pytest.mark.parametrize("heading, spec", [
    ("`fleet`", "FLEET"), ("`site`", "SITE"), ("`window` (weekly)", "WINDOW"), ("`shift`", "SHIFT"),
    ("`blackout`", "BLACKOUT"), ("`cluster` (entry)", "ENTRY")])
def test_the_doc_tables_are_the_fleet_schema(heading, spec):
    from hciplan.fleet import model as fm

    block = getattr(fm, spec)
    rows = doc_rows(heading)
    assert [r[0] for r in rows] == [f"`{a.name}`" for a in block.attrs]
    for attr, (name, kind, default, meaning, example) in zip(block.attrs, rows):
        if attr.type == "enum":
            assert kind == "one of " + ", ".join(f"`{c}`" for c in attr.choices), name
        else:
            assert kind == attr.type, name
        shown = ("required" if attr.required else "unset" if attr.default is None else
                 f'`"{attr.default}"`' if attr.type == "string" else
                 f"`{attr.default // 60}m`" if attr.type == "duration" else f"`{attr.default}`")
        assert default == shown, name
        assert meaning == attr.doc, name
        assert example.startswith(f"`{attr.name} = "), name


def test_the_doc_sample_is_the_golden_and_its_hcl_checks(tmp_path):
    golden = (GOLDEN / "fleet" / "retail.txt").read_text(encoding="utf-8").splitlines()
    sample = FLEET_DOC[FLEET_DOC.index("$ hciplan fleet plan examples"):FLEET_DOC.index("$ hciplan fleet plan --json")]
    lines = [line for line in sample.splitlines()[1:] if line and line != "..."]
    assert len(lines) > 10 and all(line in golden for line in lines)
    hcl = FLEET_DOC[FLEET_DOC.index("```hcl\n") + 7:]
    hcl = hcl[: hcl.index("```")]
    (tmp_path / "paris").mkdir()
    (tmp_path / "montreal").mkdir()
    (tmp_path / "paris" / "edge-par1.hciplan").write_text(cluster_text("edge-par1", 2, 1, window=False))
    (tmp_path / "paris" / "edge-par2.hciplan").write_text(cluster_text("edge-par2", 2, 2, window=False))
    (tmp_path / "montreal" / "m.hciplan").write_text(cluster_text("edge-m", 3, 3, window=False))
    (tmp_path / "f.hciplan").write_text(hcl.replace('site = "montreal"', 'site = "paris"'))
    checked = check_fleet(str(tmp_path / "f.hciplan"))
    assert checked.ok, checked.diagnostics


def test_hciplan_fmt_keeps_a_fleet_file_the_same_campaign(tmp_path, monkeypatch):
    """The formatter knows the time-of-day value: a formatted fleet file plans the same campaign."""
    import shutil

    shutil.copytree(ROOT / "examples" / "fleet", tmp_path / "fleet")
    monkeypatch.chdir(tmp_path)
    before = invoke("fleet", "plan", "--json", "fleet/retail.hciplan").stdout
    result = invoke("fmt", "--write", "fleet/retail.hciplan")
    assert result.exit_code == 0, result.output
    assert "22:00" in (tmp_path / "fleet" / "retail.hciplan").read_text()
    assert invoke("fleet", "plan", "--json", "fleet/retail.hciplan").stdout == before


def test_hundreds_of_generated_clusters_check_and_plan_within_every_rule(tmp_path):
    """240 clusters of the examples' shapes in three zones, two rings, one operator per weekend shift."""
    zones_of = ["Europe/Paris", "America/Toronto", "Asia/Kolkata"]
    for k in range(240):
        folder = tmp_path / f"site{k % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"edge-{k:03d}.hciplan").write_text(
            cluster_text(f"edge-{k:03d}", 2 + k % 2, k, operator=k % 5 == 0, window=False))
    spec = {"start": dt.date(2027, 2, 1), "weeks": 26, "in_flight": 40, "gate": 10, "soak_h": 24}
    lines = ['fleet "big" {', "  start = 2027-02-01T00:00Z  weeks = 26  max_in_flight = 40  wave_size = 60",
             "  gate_percent = 10  soak = 24h",
             '  blackout "easter" { start = 2027-03-26  end = 2027-03-29 }',
             '  shift "weekend" { day = saturday  start = 12:00  length = 36h  operators = 3 }']
    for k, zone in enumerate(zones_of):
        lines.append(f'  site "s{k}" {{ zone = "{zone}"  window "sat" {{ day = saturday  start = 22:00  length = 10h }} '
                     f'window "sun" {{ day = sunday  start = 09:00  length = 9h }} }}')
    lines.append('  cluster "site0/edge-000.hciplan" { ring = 0  site = "s0" }')
    lines.append('  cluster "site1/edge-001.hciplan" { ring = 0  site = "s1" }')
    for k in range(3):
        lines.append(f'  cluster "site{k}/" {{ ring = 1  site = "s{k}" }}')
    (tmp_path / "big.hciplan").write_text("\n".join(lines) + "\n}\n")
    checked = check_fleet(str(tmp_path / "big.hciplan"))
    assert checked.ok and len(checked.clusters) == 240, checked.diagnostics[:3]
    campaign = fc.plan_campaign(checked)
    assert_campaign_rules(checked, campaign, spec)
    statuses = [c.status for c in campaign.clusters]
    assert statuses.count(fc.PLANNED) > 100  # most of the campaign fits the half year
    assert [c.ring for c in campaign.clusters[:2]] == [0, 0] and len(campaign.waves) == 1 + 4

    # the same generated fleet simulates (issue 12's "done when": checks, plans, simulates and emits)
    from hciplan.fleet import emit as fe
    from hciplan.fleet import simulate as fs

    model = fs.Model(campaign, {c.name: c.result.plan for c in checked.clusters})
    runs = 20
    agg = fs.simulate(model, runs, seed=5, jobs=1)
    never = [k for k, c in enumerate(campaign.clusters) if c.status in (fc.UNPLACED, fc.HELD)]
    assert agg.runs == runs and 0 <= agg.finished <= runs
    assert not never and set(statuses) <= {fc.PLANNED, fc.OVERRAN}  # every cluster was given windows
    final = agg.done_by_week[-1]  # runs by the number of clusters done by the horizon's last week
    # a finished run is one with all 240 done, all inside the horizon's weeks: the two counts are the same runs
    assert final.sum() == runs and final[240] == agg.finished
    assert agg.finished > runs // 2 and agg.hours.count == runs  # most runs finish; engineer-hours for every run
    tree = fe.build(checked, campaign, "big")
    manifest = json.loads(tree["manifest.json"])
    assert len(manifest["clusters"]) == 240 and len({e["folder"] for e in manifest["clusters"]}) == 240


@pytest.mark.parametrize("first_try", [1, 2, 1000])
def test_the_first_try_over_a_few_occurrences_changes_nothing(monkeypatch, first_try):
    """campaign.FIRST_TRY is only a shortcut: the window rule is causal, so any prefix gives the same campaign."""
    monkeypatch.chdir(ROOT)
    expected = dumps(document(fc.plan_campaign(check_fleet("examples/fleet/retail.hciplan"))))
    monkeypatch.setattr(fc, "FIRST_TRY", first_try)
    assert dumps(document(fc.plan_campaign(check_fleet("examples/fleet/retail.hciplan")))) == expected


def test_an_entry_without_a_site_uses_its_own_windows_else_the_files(tmp_path, monkeypatch):
    """Windows come from the entry, else its site, else the cluster file's own (absolute) windows."""
    monkeypatch.chdir(tmp_path)
    files = {"own/a.hciplan": cluster_text("edge-a", 2, 1, window=True),  # own window 2027-01-09T22:00Z, 8h
             "mine/b.hciplan": cluster_text("edge-b", 2, 2, window=True)}
    body = ('  cluster "own/" { ring = 0 }\n'
            '  cluster "mine/" { ring = 0  zone = "Asia/Kolkata"\n'
            '    window "night" { day = friday  start = 23:30  length = 8h }\n  }\n')
    make(tmp_path, body, files)
    checked = check_fleet("fleet.hciplan")
    campaign = fc.plan_campaign(checked)
    a, b = campaign.clusters
    assert (a.name, a.zone, a.windows[0].name) == ("edge-a", "UTC", "own")
    assert campaign.at(a.windows[0].start).isoformat() == "2027-01-09T22:00:00+00:00"
    local = campaign.at(b.windows[0].start).astimezone(ZoneInfo("Asia/Kolkata"))
    assert (b.zone, local.strftime("%A %H:%M")) == ("Asia/Kolkata", "Friday 23:30")
    assert campaign.at(b.windows[0].start).isoformat() == "2026-12-18T18:00:00+00:00"  # +05:30
