"""What a fleet file's cluster entries may reach (hciplan/fleet/load.py, codes HCI1211 and HCI1212).

- an entry that leaves the fleet file's folder tree (an absolute path, a
  drive or UNC name, a `..` climbing above it) is HCI1211 at the entry's
  file:line:col, through the CLI, with no traceback, before anything is read;
  a `..` that stays inside is still accepted;
- a glob stops after MAX_WALK_ENTRIES directory entries with HCI1212 (the
  bound is set low here, the tree is a few thousand empty folders), quickly;
- `**` does not descend into symlinked folders: a symlink loop does not hang;
- our glob walker matches what `glob.glob(recursive=True)` matches on the
  ordinary cases (hidden names, `**` at any place, character classes).
"""

from __future__ import annotations

import glob
import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.fleet import load as fl
from hciplan.fleet.load import check_fleet

from fleetgen import cluster_text, make_fleet


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_cluster(tmp_path: Path, label: str) -> Path:
    """fleet.hciplan (line 5 is the entry `label`, column 3) beside c/one.hciplan."""
    return make_fleet(tmp_path, f'  cluster "{label}" {{ ring = 0  site = "p" }}\n',
                      {"c/one.hciplan": cluster_text("edge-one", 2, 1, window=False)})


ESCAPES = ["/etc/passwd", "/**/*.hciplan", "../../**/*", "..", "../", "../c/one.hciplan", "c/../../x.hciplan",
           "C:\\\\fleet\\\\x.hciplan", "\\\\\\\\server\\\\share\\\\*.hciplan", "..\\\\x.hciplan"]


@pytest.mark.parametrize("label", ESCAPES)
def test_an_entry_leaving_the_fleet_folder_is_refused_at_its_place(tmp_path, monkeypatch, label):
    monkeypatch.chdir(tmp_path)
    one_cluster(tmp_path, label)
    result = invoke("check", "fleet.hciplan")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "fleet.hciplan:5:3: error[HCI1211]" in result.output, result.output
    assert "stays inside the fleet file's folder" in result.output
    checked = check_fleet("fleet.hciplan")
    assert [d.code for d in checked.diagnostics] == ["HCI1211"] and not checked.clusters
    d = checked.diagnostics[0]
    assert (d.span.line, d.span.column) == (5, 3) and d.hints
    doc = json.loads(invoke("check", "--format", "json", "fleet.hciplan").stdout)
    assert [(x["code"], x["line"]) for x in doc["diagnostics"]] == [("HCI1211", 5)]


def test_the_escape_is_refused_before_anything_is_walked(tmp_path, monkeypatch):
    """`/**/*.hciplan` would walk the whole disk: it is refused without listing one folder."""
    monkeypatch.chdir(tmp_path)
    one_cluster(tmp_path, "/**/*.hciplan")

    def no_walk(*args, **kwargs):
        raise AssertionError("the escaping glob was walked")

    monkeypatch.setattr(fl, "_glob", no_walk)
    assert [d.code for d in check_fleet("fleet.hciplan").diagnostics] == ["HCI1211"]


@pytest.mark.parametrize("label", ["c/../c/one.hciplan", "./c/one.hciplan", "c/./*.hciplan", "x/../c/",
                                   "**/one.hciplan", "c/**", "*/one.hciplan", "c/one.hciplan"])
def test_paths_that_stay_inside_are_accepted(tmp_path, monkeypatch, label):
    monkeypatch.chdir(tmp_path)
    one_cluster(tmp_path, label)
    (tmp_path / "x").mkdir()
    checked = check_fleet("fleet.hciplan")
    assert checked.diagnostics == () and [c.name for c in checked.clusters] == ["c/one.hciplan"]


def test_a_huge_tree_stops_at_the_bound_quickly(tmp_path, monkeypatch):
    """3,000 empty folders and a bound of 1,000: HCI1212 at the entry, the bound named, in well under a second
    of work (measured loosely: the machine is shared)."""
    monkeypatch.chdir(tmp_path)
    one_cluster(tmp_path, "**/*.hciplan")
    for a in range(30):
        for b in range(100):
            (tmp_path / "tree" / f"a{a}" / f"b{b}").mkdir(parents=True)
    monkeypatch.setattr(fl, "MAX_WALK_ENTRIES", 1_000)
    listed = []
    real_scandir = os.scandir

    def counting(path):
        listed.append(path)
        return real_scandir(path)

    monkeypatch.setattr(fl.os, "scandir", counting)
    began = time.perf_counter()
    checked = check_fleet("fleet.hciplan")
    elapsed = time.perf_counter() - began
    assert [d.code for d in checked.diagnostics] == ["HCI1212"] and not checked.clusters
    d = checked.diagnostics[0]
    assert (d.span.line, d.span.column) == (5, 3) and "more than 1,000 directory entries" in d.message and d.hints
    assert len(listed) < 1_100  # it stopped at the bound: the tree has 3,033 folders
    assert elapsed < 10, elapsed
    result = invoke("check", "fleet.hciplan")
    assert result.exit_code == 1 and "fleet.hciplan:5:3: error[HCI1212]" in result.output
    assert "Traceback" not in result.output
    # with the bound at its default the same tree is walked and the cluster found
    monkeypatch.setattr(fl, "MAX_WALK_ENTRIES", 100_000)
    assert [c.name for c in check_fleet("fleet.hciplan").clusters] == ["c/one.hciplan"]


def test_the_bound_counts_one_wide_folder_too(tmp_path, monkeypatch):
    """A single folder of many entries (a `*` glob, not `**`) is bounded as well."""
    monkeypatch.chdir(tmp_path)
    one_cluster(tmp_path, "wide/*.hciplan")
    (tmp_path / "wide").mkdir()
    for k in range(500):
        (tmp_path / "wide" / f"f{k}.txt").touch()
    monkeypatch.setattr(fl, "MAX_WALK_ENTRIES", 100)
    assert [d.code for d in check_fleet("fleet.hciplan").diagnostics] == ["HCI1212"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_symlink_loop_does_not_hang(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_cluster(tmp_path, "**/*.hciplan")
    try:
        os.symlink(tmp_path, tmp_path / "c" / "loop", target_is_directory=True)  # c/loop -> the fleet folder
        os.symlink("..", tmp_path / "c" / "up", target_is_directory=True)
    except OSError:
        pytest.skip("cannot make symlinks here")
    began = time.perf_counter()
    checked = check_fleet("fleet.hciplan")
    assert time.perf_counter() - began < 10
    assert checked.diagnostics == () and [c.name for c in checked.clusters] == ["c/one.hciplan"]
    # a named symlinked folder is still followed (the repository's owner made the link)
    one_cluster(tmp_path, "c/loop/c/*.hciplan")
    assert [c.name for c in check_fleet("fleet.hciplan").clusters] == ["c/loop/c/one.hciplan"]


TREE = ["a.hciplan", ".hidden.hciplan", "b.txt", "s/c.hciplan", "s/.h/d.hciplan", ".s/e.hciplan", "s/t/u/f.hciplan",
        "s/t/g.hciplan", "x1.hciplan", "x2.hciplan", "dir.hciplan/h.hciplan"]
PATTERNS = ["*", "*.hciplan", "**", "**/*", "**/*.hciplan", "s/**", "s/**/*.hciplan", "**/t/*.hciplan",
            "x?.hciplan", "x[12].hciplan", "x[!1].hciplan", "[", ".*", ".*/*", "s/.*/*", "**/**/*.hciplan",
            "s/*/*.hciplan", "*.hciplan/*", "s/*/", "nothing/**/*.hciplan", "a*b*", "**/u/**"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_walker_matches_what_glob_matches(tmp_path, pattern):
    for name in TREE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    wanted = sorted({Path(p) for p in glob.glob(str(tmp_path / pattern), recursive=True)
                    if p.endswith(".hciplan") and os.path.isfile(p)})  # `**/**` repeats a file
    assert fl._glob(tmp_path, pattern) == wanted
