"""`hciplan diff`: exactly the expected changes for hand-made variants, none for layout, JSON and text, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from helpers import GOLDEN, assert_golden, mutate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan"))
FOUR = (ROOT / "examples" / "four-node.hciplan").read_text(encoding="utf-8")
NODE_ORDER = 'node_order           = ["HCI04", "HCI03", "HCI02", "HCI01"]'
METHOD, VM_VERSION = "method               = cau", "vm_version           = skip"


def node_block(k: int) -> str:
    """Node HCI0k of the four-node example, as the formatter writes it."""
    return f'  node "HCI0{k}" {{\n    memory = 768GB\n    ip     = 10.0.10.1{k}\n  }}\n'


SAT_2 = '  window "sat-2" {\n    start = 2026-12-12T22:00Z\n    end   = 2026-12-13T06:00Z\n  }'


def run(*args: str):
    return CliRunner().invoke(cli, ["diff", *args], catch_exceptions=False)


def diff_json(old: str, new: str) -> dict:
    result = run(old, new, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture()
def folder(tmp_path, monkeypatch) -> Path:
    """A folder with the four-node example as `base.hciplan`, the working directory (so paths are short)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.hciplan").write_text(FOUR, encoding="utf-8")
    return tmp_path


def variant(folder: Path, name: str, *replacements: tuple[str, str]) -> str:
    (folder / name).write_text(mutate(FOUR, *replacements), encoding="utf-8")
    return name


def what(document: dict) -> list[tuple]:
    """Every change as (group, op, subject): the step, the path or the figure."""
    return [(c["group"], c["op"], c.get("step") or c.get("path") or c.get("unit") or c.get("what"))
            for c in document["changes"]]


# --- no change where nothing changed -------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_a_plan_against_itself_and_its_own_json_has_no_changes(example: Path, tmp_path):
    plan_json = tmp_path / "plan.json"
    shown = CliRunner().invoke(cli, ["plan", "--format", "json", str(example)], catch_exceptions=False)
    plan_json.write_text(shown.stdout, encoding="utf-8")
    for other in (str(example), str(plan_json)):
        result = run(str(example), other, "--exit-code")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("no changes:")
        assert json.loads(run(other, str(example), "--format", "json").stdout)["same"] is True


def test_a_renamed_file_with_its_blocks_reordered_has_no_changes(folder):
    nodes = [node_block(k) for k in range(1, 5)]
    reordered = mutate(FOUR, ("\n".join(nodes), "\n".join(reversed(nodes))))  # node_order is given: no plan change
    cluster_start, upgrade_start = reordered.index('cluster "'), reordered.index('upgrade "')
    swapped = reordered[:cluster_start] + reordered[upgrade_start:] + "\n" + reordered[cluster_start:upgrade_start]
    assert swapped != FOUR
    (folder / "renamed.hciplan").write_text(swapped, encoding="utf-8")
    result = run("base.hciplan", "renamed.hciplan", "--exit-code")
    assert result.exit_code == 0, result.output
    assert "no changes" in result.stdout


# --- hand-made variants: exactly the expected changes ------------------------------------------------------


def test_node_order_changed(folder):
    name = variant(folder, "order.hciplan", (NODE_ORDER, 'node_order = ["HCI03", "HCI04", "HCI02", "HCI01"]'))
    document = diff_json("base.hciplan", name)
    kept = dict(document, changes=[c for c in document["changes"] if c.get("what") != "unit_window"])
    assert what(kept) == [("order", "changed", "node_order"), ("facts", "changed", "upgrade.node_order")]
    moved = {c["unit"]: (c["old"], c["new"]) for c in document["changes"] if c.get("what") == "unit_window"}
    # HCI03's ATC pass now comes first: it fits the second window, HCI04's moves to the third
    assert moved == {"p4.atc.HCI04": ("sat-2", "sat-3"), "p4.atc.HCI03": ("sat-3", "sat-2")}
    order = document["changes"][0]
    assert order["old"] == ["HCI04", "HCI03", "HCI02", "HCI01"] and order["new"][:2] == ["HCI03", "HCI04"]


def test_node_added(folder):
    name = variant(folder, "added.hciplan",
                   (node_block(4), node_block(4) + '  node "HCI05" { memory = 768GB  ip = 10.0.10.15 }\n'),
                   (NODE_ORDER, 'node_order = ["HCI04", "HCI03", "HCI02", "HCI01", "HCI05"]'))
    document = diff_json("base.hciplan", name)
    changes = document["changes"]
    added = [c for c in changes if c["op"] == "added" and c["group"] == "steps"]
    assert not [c for c in changes if c["op"] == "removed"]
    # every pass gains HCI05's steps, and the per-node fans gain theirs
    assert {c["node"] for c in added} == {"HCI05"}
    assert {c["step"].split(".")[1] for c in added} == {"bitlocker_suspend", "registry", "cau", "atc", "remediate",
                                                         "lcm_extension", "bitlocker_resume"}
    assert len(added) == 5 + 5 + 4 + 5 + 3  # registry, cau, atc and remediate passes, then three fans
    # the other nodes' drains and failbacks move less memory each, and each node holds a smaller share of the
    # writes to resync (3 copies over 5 nodes, not 4): only their means and bounds change
    changed = [c for c in changes if c["op"] == "changed" and c["group"] == "steps"]
    assert changed and {c["kind"] for c in changed} <= {"node.drain", "node.resume", "cau.drain", "cau.resume",
                                                        "storage.wait", "cau.storage_wait"}
    assert all(set(c["fields"]) <= {"mean_minutes", "bound_minutes"} for c in changed)
    assert all(c["fields"]["mean_minutes"]["new"] < c["fields"]["mean_minutes"]["old"] for c in changed)
    facts = [(c["op"], c["path"]) for c in changes if c["group"] == "facts"]
    assert facts == [("added", "cluster.nodes[HCI05]"), ("changed", "upgrade.node_order")]
    margins = {c["what"]: (c["old"], c["new"]) for c in changes if c["group"] == "margins"}
    assert margins["quorum_votes"] == (5, 6) and margins["quorum_needed"] == (3, 4)
    old_spare, new_spare = margins["memory_spare_bytes"]
    assert new_spare - old_spare == 768 * 1024**3  # one more host for the HA VMs while a node is drained
    assert ("order", "changed", "node_order") in what(document)


def test_method_changed(folder):
    name = variant(folder, "manual.hciplan", (METHOD, "method = manual"),
                   ('  orchestrator         = "MGMT01"\n', ""))
    document = diff_json("base.hciplan", name)
    removed = [c["step"] for c in document["changes"] if c["op"] == "removed" and "step" in c]
    added = [c["step"] for c in document["changes"] if c["op"] == "added" and "step" in c]
    assert sorted(removed) == sorted(["p1.cau_prepare", "p1.cau_scan"] + [
        f"p2.cau.HCI0{n}.{verb}" for n in range(1, 5) for verb in ("drain", "install", "reboot", "resume",
                                                                    "storage_wait")])
    assert sorted(added) == sorted(f"p2.os.HCI0{n}.{verb}" for n in range(1, 5)
                                   for verb in ("drain", "setup", "reboot", "resume", "storage_wait"))
    facts = [(c["op"], c["path"]) for c in document["changes"] if c["group"] == "facts"]
    assert facts == [("changed", "upgrade.method"), ("removed", "upgrade.orchestrator")]  # unset: null
    assert not [c for c in document["changes"] if c["group"] in ("irreversible", "margins")]


def test_window_moved(folder):
    name = variant(folder, "moved.hciplan",
                   (SAT_2, 'window "sat-2" { start = 2026-12-13T22:00Z  end = 2026-12-14T06:00Z }'))
    assert what(diff_json("base.hciplan", name)) == [
        ("facts", "changed", "upgrade.windows[sat-2].end"), ("facts", "changed", "upgrade.windows[sat-2].start")]


def test_a_shorter_window_moves_units_and_the_point_of_no_return_window(folder):
    name = variant(folder, "short.hciplan",
                   (SAT_2, 'window "sat-2" { start = 2026-12-12T22:00Z  end = 2026-12-13T01:00Z }'))
    document = diff_json("base.hciplan", name)
    assert document["changes"][0]["group"] == "irreversible"  # the irreversible changes come first
    moved = {c["step"]: c["window"] for c in document["changes"] if c.get("what") == "irreversible_moved"}
    assert moved["p3.functional_level"] == {"old": "sat-2", "new": "sat-3"}
    assert not [c for c in document["changes"] if c["group"] == "steps"]


def test_timing_block_added(folder):
    name = variant(folder, "timed.hciplan",
                   ('\nupgrade "hci-cluster1"',
                    '\ntiming {\n  model "os.install" { distribution = triangular  low = 60m  mode = 90m  high = 3h }\n'
                    '}\n\nupgrade "hci-cluster1"'))
    document = diff_json("base.hciplan", name)
    steps = [c for c in document["changes"] if c["group"] == "steps"]
    # the install, and the repair wait after it: the offline part of the setup is down time to resync
    assert [c["step"] for c in steps] == [f"p2.cau.HCI0{n}.{s}" for n in (4, 3, 2, 1) for s in ("install", "storage_wait")]
    assert all(set(c["fields"]) == {"mean_minutes", "bound_minutes"} for c in steps if c["step"].endswith("install"))
    assert all(set(c["fields"]) == {"mean_minutes"} for c in steps if c["step"].endswith("storage_wait"))
    # the file's facts (and so the fingerprint) are the same; the assumption is shown apart
    assert document["old"]["fingerprint"] == document["new"]["fingerprint"]
    assert not [c for c in document["changes"] if c["group"] == "facts"]
    assert [(c["op"], c["path"]) for c in document["changes"] if c["group"] == "timing"] == [
        ("added", "timing.models[os.install]")]
    assert ("plan", "changed", "expected_minutes") in what(document)


def test_an_irreversible_step_added_comes_first(folder):
    name = variant(folder, "vmversion.hciplan", (VM_VERSION, "vm_version = update"))
    document = diff_json("base.hciplan", name)
    first = document["changes"][0]
    assert (first["group"], first["op"], first["step"], first["irreversible"]) == (
        "irreversible", "added", "p3.vm_version", True)
    lines = run("base.hciplan", name).stdout.splitlines()
    assert lines[1] == "Irreversible"
    assert lines[2].startswith("  + p3.vm_version: ") and lines[2].endswith(" [irreversible]")


def test_steps_whose_id_changed_are_matched_by_kind_and_node(folder):
    base = json.loads(CliRunner().invoke(cli, ["plan", "--format", "json", "base.hciplan"]).stdout)
    renamed = json.loads(json.dumps(base))
    for step in renamed["steps"]:
        step["id"] = step["id"].replace("p0.test_cluster", "p0.cluster_test")
        step["after"] = [a.replace("p0.test_cluster", "p0.cluster_test") for a in step["after"]]
    Path("renamed.json").write_text(json.dumps(renamed), encoding="utf-8")
    Path("base.json").write_text(json.dumps(base), encoding="utf-8")
    document = diff_json("base.json", "renamed.json")
    assert what(document) == [("steps", "changed", "p0.cluster_test")]
    assert document["changes"][0]["fields"] == {"id": {"old": "p0.test_cluster", "new": "p0.cluster_test"}}


# --- the JSON, the text, exit codes and bad input ---------------------------------------------------------


def test_golden_diff_json_and_text(folder):
    name = variant(folder, "next.hciplan", (NODE_ORDER, 'node_order = ["HCI03", "HCI04", "HCI02", "HCI01"]'),
                   (VM_VERSION, "vm_version = update"),
                   ("max_retries_per_node = 3", "max_retries_per_node = 2"))
    assert_golden(GOLDEN / "diff" / "four-node-next.json", run("base.hciplan", name, "--format", "json").stdout)
    assert_golden(GOLDEN / "diff" / "four-node-next.txt", run("base.hciplan", name).stdout)


def test_exit_codes(folder):
    name = variant(folder, "other.hciplan", (VM_VERSION, "vm_version = update"))
    assert run("base.hciplan", "base.hciplan", "--exit-code").exit_code == 0
    assert run("base.hciplan", name, "--exit-code").exit_code == 2
    assert run("base.hciplan", name).exit_code == 0  # like git diff: different is not an error without it
    assert run("base.hciplan", "missing.hciplan", "--exit-code").exit_code == 1
    assert run("base.hciplan", "--exit-code").exit_code == 1  # even a bad command line is 1, never 2
    assert run("base.hciplan", name, "--bogus").exit_code == 1


@pytest.mark.parametrize("content, message", [
    ("{", "is not valid JSON"),
    ('{"schema": "hciplan.sim/1"}', 'expected a plan document'),
    ('{"schema": "hciplan.plan/1", "diagnostics": []}', "has no steps"),
    ('{"schema": "hciplan.plan/1", "steps": {}}', "`steps` must be a list"),
    ('{"schema": "hciplan.plan/1", "steps": [{"id": 1, "kind": "x"}]}', "`steps[0].id` must be a string"),
    ('{"schema": "hciplan.plan/1", "steps": [{"id": "a", "kind": "x"}, {"id": "a", "kind": "x"}]}', "appears twice"),
    ('{"schema": "hciplan.plan/1", "steps": [], "units": [1]}', "`units` must be a list of objects"),
    ('{"schema": "hciplan.plan/1", "steps": [], "margins": 3}', "`margins` must be an object"),
])
def test_a_bad_json_plan_is_an_error_with_what_is_wrong(folder, content, message):
    Path("bad.json").write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["diff", "base.hciplan", "bad.json"])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.stderr and "Traceback" not in result.output


def test_a_file_with_errors_shows_its_diagnostics(folder):
    name = variant(folder, "broken.hciplan", (METHOD, "method = sideways"))
    result = run("base.hciplan", name, "--exit-code")
    assert result.exit_code == 1
    assert "HCI104" in result.stderr and "no plan to compare" in result.stderr


def test_an_older_plan_document_without_facts_still_diffs(folder):
    name = variant(folder, "other.hciplan", ("max_retries_per_node = 3", "max_retries_per_node = 2"))
    for source, target in (("base.hciplan", "old.json"), (name, "new.json")):
        document = json.loads(CliRunner().invoke(cli, ["plan", "--format", "json", source]).stdout)
        for key in ("facts", "margins", "windows", "timing"):
            document.pop(key)
        for unit in document["units"]:
            unit.pop("window")
        Path(target).write_text(json.dumps(document), encoding="utf-8")
    document = diff_json("old.json", "new.json")
    assert document["same"] is True  # nothing the documents carry changed ...
    assert "the facts were not compared" in document["notes"][0]  # ... and the reader is told what was not seen
    assert "note: the fingerprints differ" in run("old.json", "new.json").stdout


def test_hostile_text_in_a_json_plan_is_escaped(folder):
    base = json.loads(CliRunner().invoke(cli, ["plan", "--format", "json", "base.hciplan"]).stdout)
    base["steps"][0]["title"] = "evil \x1b[2J\u202e title"
    Path("evil.json").write_text(json.dumps(base), encoding="utf-8")
    text = run("base.hciplan", "evil.json").stdout
    assert "\x1b" not in text and "\u202e" not in text and "\\u001b[2J\\u202e" in text
