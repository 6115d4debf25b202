"""Issue 15: runs that end early past a point of no return, and the cluster's state at each window's close.

An error in `p3.functional_level` (the four-node plan's `Update-ClusterFunctionalLevel`) aborts every
run while the irreversible step runs: the report must say the point of no return was crossed, and what
the step leaves, in text and JSON; a failure before it must not. The window-close state is checked on
fixed durations (every run the same), against the traced run's own timeline.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.compiler.catalog import CATALOG
from hciplan.simulator import prepare_simulation
from hciplan.simulator.engine import ABORTED, COMPLETED, NODE_STATES, TENTH_DAY, _closing, _State, Segment, run_once
from hciplan.simulator.montecarlo import simulate
from hciplan.simulator.prepared import NO_STEP
from hciplan.simulator.report import sim_result
from hciplan.simulator.result import SimDocumentError, SimResult
from helpers import ROOT
from sim_helpers import fixed_timing, plan_of

# max_recoveries = 0: a failure ends the run where the script stops, before a person recovers it (recoveries:
# tests/test_recovery.py), so these runs abort at the failed step as the past-return report needs
EXAMPLE = (ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8")
FOUR_NODE = EXAMPLE + "\ntiming { max_recoveries = 0 }\n"
FIXED = EXAMPLE + fixed_timing(2).replace("timing {\n", "timing {\n  max_recoveries = 0\n", 1)  # every duration
# fixed, no shared spread: every run is the same
RUNS = 30


def simulate_cli(tmp_path, text: str, *args: str) -> tuple[str, dict]:
    path = tmp_path / "plan.hciplan"
    path.write_text(text, encoding="utf-8")
    runner = CliRunner()
    common = ["simulate", str(path), "--runs", str(RUNS), "--jobs", "1", *args]
    shown = runner.invoke(cli, common)
    assert shown.exit_code == 0, shown.output
    document = runner.invoke(cli, common + ["--format", "json"])
    assert document.exit_code == 0, document.output
    return shown.output, json.loads(document.stdout)


def test_every_irreversible_kind_says_what_it_leaves_with_its_source() -> None:
    for kind in CATALOG.values():
        assert kind.irreversible == bool(kind.no_return), kind.kind
        if kind.irreversible:
            assert "[" in kind.no_return and kind.no_return.rstrip().endswith(("]", ")")), kind.kind


def test_an_error_in_the_functional_level_is_reported_past_the_point_of_no_return(tmp_path) -> None:
    text, document = simulate_cli(tmp_path, FOUR_NODE, "--fail", "cluster:p3.functional_level:error")
    assert document["outcomes"][ABORTED] == RUNS
    state = CATALOG["post.functional_level"].no_return
    assert "[A-post], [W-rolling]" in state
    assert f"aborted past the point of no return: {RUNS} of {RUNS} aborted runs had started an irreversible step" in text
    line = next(line for line in text.splitlines() if line.strip().startswith("p3.functional_level") and "cut short" in line)
    assert f"cut short in {RUNS}" in line
    assert "leaves: cluster functional level raised" in text
    assert document["past_return"] == {ABORTED: {"runs": RUNS, "steps": [
        {"step": "p3.functional_level", "runs": RUNS, "interrupted": RUNS, "state": state}]}}
    assert SimResult.from_document(document).to_document() == document


def test_a_failure_before_the_point_of_no_return_is_not_reported_past_it(tmp_path) -> None:
    text, document = simulate_cli(tmp_path, FOUR_NODE, "--fail", "HCI03:reboot:hang")
    assert document["outcomes"][ABORTED] == RUNS
    assert "point of no return" not in text
    assert document["past_return"] == {}


def test_a_failure_after_it_lists_every_irreversible_step_crossed(tmp_path) -> None:
    _, document = simulate_cli(tmp_path, FOUR_NODE, "--fail", "cluster:p6.solution_deploy:error", "--window", "none")
    assert document["outcomes"][ABORTED] == RUNS
    steps = document["past_return"][ABORTED]["steps"]
    assert [(s["step"], s["runs"], s["interrupted"]) for s in steps] == [
        ("p3.functional_level", RUNS, 0), ("p3.storage_pool", RUNS, 0), ("p6.solution_deploy", RUNS, RUNS)]
    assert steps[-1]["state"] == CATALOG["solution.deploy"].no_return


def test_an_abort_before_the_irreversible_step_started_crosses_nothing() -> None:
    """The step a run is aborted at may never have started (after a CAU run with failed nodes): no crossing."""
    sp = prepare_simulation(plan_of(FOUR_NODE))
    level = sp.functional_level
    start, end = [-1.0] * sp.size, [-1.0] * sp.size
    assert _closing(sp, _State(), start, end, ABORTED, level)[0] == ()
    st = _State()
    st.segments.append(Segment(level, 1, 10.0, 11.0, "error"))  # it had started: a failed attempt
    assert _closing(sp, st, start, end, ABORTED, level)[0] == ((level, False),)
    assert _closing(sp, st, start, end, COMPLETED, NO_STEP)[0] == ()  # a completed run reports nothing


def expected_close(sp, run) -> list[tuple[int, str, float]]:
    """The window-close state read off the traced run's segments: nodes on 23H2, node state, mixed days so far."""
    ok = {}
    began: dict[int, float] = {}
    for s in run.segments:
        began[s.step] = min(began.get(s.step, s.start), s.start)
        if s.status == "ok":
            ok[s.step] = (s.start, s.end)
    rows = []
    upgraded = [ok[i][1] for i in sp.os_upgraded if i in ok]
    level = ok.get(sp.functional_level, (None, None))[1]
    for w in sp.windows:
        t = w.end
        state = "safe_point"
        for u in sp.units:
            if len(u.steps) == 1 and u.reboot < 0:
                continue
            head = min((began[i] for i in u.steps if i in began), default=None)
            tail = ok.get(u.tail, (None, None))[1]
            if head is None or head > t or (tail is not None and tail <= t):
                continue
            reboot = ok.get(u.reboot, (None, None))[1] if u.reboot >= 0 else None
            here = "resyncing" if reboot is not None and reboot <= t else "drained"
            state = max(state, here, key=NODE_STATES.index)
        done = [e for e in upgraded if e <= t]
        if not done:
            mixed = 0.0
        else:
            ended = level if len(upgraded) == len(sp.os_upgraded) and level is not None and level <= t else t
            mixed = ended - min(done)
        rows.append((len(done), state, (mixed // TENTH_DAY) / 10))
    return rows


@pytest.mark.parametrize("fail", [None, "HCI03:reboot:hang", "HCI03:storage_wait:resync_stall"],
                         ids=["no-failure", "hang", "resync-stall"])
def test_the_state_at_each_window_close_on_fixed_durations(tmp_path, fail) -> None:
    args = ("--fail", fail) if fail else ()
    text, document = simulate_cli(tmp_path, FIXED, *args)
    plan = plan_of(FIXED)
    sp = prepare_simulation(plan, fails=tuple(args[1:]))
    expected = expected_close(sp, run_once(sp, 0, 0, trace=True))
    closes = document["window_close"]
    assert [w["name"] for w in closes] == [w.name for w in sp.windows]
    for w, (nodes, state, days) in zip(closes, expected):  # every run the same: one value each, all the runs
        assert w["nodes_upgraded_runs"] == {str(nodes): RUNS}, w
        assert w["node_state_runs"] == {state: RUNS}, w
        assert w["mixed_days_runs"] == {f"{days:.1f}": RUNS}, w
    assert "State at each window's close" in text
    if fail and "resync" in fail:  # HCI03 is back on 23H2 but its repair never ends: resyncing from then on
        assert [e[:2] for e in expected] == [(0, "safe_point"), (1, "safe_point"), (2, "resyncing"),
                                             (2, "resyncing")]
        assert "resyncing 100%" in text.splitlines()[-1]
    elif fail:  # HCI03 never comes back: the closes after its reboot find it down, one node on 23H2
        assert [e[:2] for e in expected] == [(0, "safe_point"), (1, "safe_point"), (1, "drained"), (1, "drained")]
        assert "drained or down 100%" in text.splitlines()[-1]
    else:  # all four nodes upgrade by sat-3; the level is raised in sat-4, which ends mixed mode there
        assert [e[:2] for e in expected] == [(0, "safe_point"), (1, "safe_point"), (4, "safe_point"),
                                             (4, "safe_point")]
        ended = document["mixed_mode"]["minutes"]["max"]  # the run's own mixed-mode figure (engine._result)
        assert expected[-1][2] == (ended // TENTH_DAY) / 10 and expected[-1][2] < 28
        # the runs stop at the last window after the P3 irreversible steps: stopped past the point of no return
        crossed = document["past_return"]["stopped_at_window"]
        assert crossed["runs"] == RUNS and [(c["step"], c["interrupted"]) for c in crossed["steps"]] == [
            ("p3.functional_level", 0), ("p3.storage_pool", 0)]
        assert f"stopped at a window past the point of no return: {RUNS} of {RUNS} stopped runs" in text
    assert SimResult.from_document(document).to_document() == document


def test_the_counts_are_the_same_folded_and_kept_and_for_any_batching() -> None:
    plan = plan_of(FOUR_NODE)
    sp = prepare_simulation(plan, fails=("cluster:p3.functional_level:error=1",))
    kept = simulate(sp, 120, 3, jobs=1)
    folded = simulate(sp, 120, 3, jobs=1, exact_runs=50)
    for name in ("past_return", "crossed", "close_nodes", "close_states", "close_mixed"):
        assert getattr(kept, name) == getattr(folded, name), name
    assert sum(kept.close_nodes[0].values()) == 120
    assert kept.past_return == {} or set(kept.past_return) <= {ABORTED, "stopped_at_window"}


def test_a_document_with_a_bad_window_close_or_past_return_is_refused() -> None:
    plan = plan_of(FOUR_NODE)
    sp = prepare_simulation(plan, fails=("cluster:p3.functional_level:error",))
    document = sim_result(sp, simulate(sp, 20, 0, jobs=1)).to_document()
    assert SimResult.from_document(document).to_document() == document
    old = {k: v for k, v in document.items() if k not in ("past_return", "window_close", "inputs")}
    assert SimResult.from_document(old).past_return == ()  # an older document reads without them
    bad = json.loads(json.dumps(document))
    bad["window_close"][0]["node_state_runs"] = {"asleep": 3}
    with pytest.raises(SimDocumentError, match="node_state_runs"):
        SimResult.from_document(bad)
    bad = json.loads(json.dumps(document))
    bad["window_close"][0]["mixed_days_runs"] = {"1.25": 3}
    with pytest.raises(SimDocumentError, match="mixed_days_runs"):
        SimResult.from_document(bad)
    bad = json.loads(json.dumps(document))
    bad["past_return"][ABORTED]["steps"][0]["interrupted"] = 999
    with pytest.raises(SimDocumentError, match="interrupted"):
        SimResult.from_document(bad)


def test_the_documented_past_return_sample_is_what_the_command_prints() -> None:
    doc = (ROOT / "docs" / "simulation.md").read_text(encoding="utf-8")
    block = doc.split("aborts every run inside `Update-ClusterFunctionalLevel`:\n\n```text\n")[1].split("```")[0]
    out = CliRunner().invoke(cli, ["simulate", str(ROOT / "examples" / "four-node.hciplan"), "--jobs", "1",
                                   "--fail", "cluster:p3.functional_level:error=2"]).stdout
    assert block in out


def test_the_runbook_and_the_html_report_show_the_past_return_and_each_window_close(tmp_path) -> None:
    """The change board reads the runbook and the report, not the terminal: both carry what `simulate` prints."""
    from html import unescape

    from hciplan.backends import report, runbook
    from hciplan.simulator.result import window_close_cells

    text, document = simulate_cli(tmp_path, FIXED)
    simulation = SimResult.from_document(document)
    assert simulation.window_close and simulation.past_return  # the fixed plan stops past the irreversible steps
    plan = plan_of(FIXED)
    book = runbook.render(plan, (), simulation)[runbook.FILE_NAME]
    page = unescape(report.build(plan, (), runs=RUNS, seed=0, jobs=1))  # the report simulates the same plan itself
    assert "### State at each window's close (simulated)" in book and "State at each window's close, over all" in page
    for w in simulation.window_close:
        nodes, states, mixed = window_close_cells(w)
        assert f"{nodes}  " in text and mixed in text  # the terminal's cells are the same text
        assert f"| `{w.name}` | {nodes} | {states} | {mixed} |" in book
        assert f"<td><code>{w.name}</code></td><td>{nodes}</td><td>{states}</td><td class=\"num\">{mixed}</td>" in page
    crossed = simulation.past_return[0]
    head = f"{RUNS} of the {RUNS} runs that stopped at a window had started an irreversible step"
    assert head in book and head in page
    for c in crossed.steps:
        assert f"  - `{c.step}`: {c.runs} runs; leaves: " in book
        assert f"<li><code>{c.step}</code>: {c.runs} runs; leaves: {c.state}</li>" in page
    bare = runbook.render(plan, (), None)[runbook.FILE_NAME]  # without a simulation: neither appears
    assert "window's close" not in bare and "had started an irreversible step" not in bare
