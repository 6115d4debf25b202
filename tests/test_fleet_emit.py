"""`hciplan fleet emit FLEET DIR` (issue 12 item 2): per cluster a folder with its script and runbook, a manifest.

- the example fleet emits; its manifest.json and README.txt are goldens
  (tests/golden/fleet/, HCIPLAN_REGEN=1 rewrites them);
- each cluster folder holds exactly what `hciplan emit FILE` (script) and
  `hciplan emit --backend runbook FILE` write for its file, byte for byte;
- the manifest's hashes are the files' (checked with hashlib, not the code
  under test), every script parses (tree-sitter, tests/ps_parse.py);
- the same fleet gives the same bytes, however its path is typed;
- errors (a broken cluster file, a backend that cannot express a plan, a
  failed write) leave DIR as it was and no temporary folder beside it; a
  non-empty DIR needs --force, and --force replaces only an earlier emit;
- held and overran clusters get their folder, their status and reason, no window;
- folder names are portable and unique (Windows device names, odd names).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import ps_parse
from hciplan.cli import cli
from hciplan.fleet import emit as fe

from fleetgen import cluster_text, gated_fleet, make_fleet
from helpers import GOLDEN, ROOT, assert_golden

EXAMPLE = "examples/fleet/retail.hciplan"
ONE = {"c/a.hciplan": cluster_text("edge-a", 2, 1, window=False)}


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def tree_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("emit") / "campaign"
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        result = invoke("fleet", "emit", EXAMPLE, str(out))
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {out}: 6 cluster folders, manifest.json, README.txt\n"
    return out


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


# --- the example fleet --------------------------------------------------------------------------------------


def test_the_example_fleet_emits_its_manifest_and_readme_goldens(emitted):
    assert_golden(GOLDEN / "fleet" / "retail-manifest.json", (emitted / "manifest.json").read_text(encoding="utf-8"))
    assert_golden(GOLDEN / "fleet" / "retail-README.txt", (emitted / "README.txt").read_text(encoding="utf-8"))
    manifest = manifest_of(emitted)
    assert manifest["schema"] == "hciplan.fleet-manifest/1"
    assert [c["cluster"] for c in manifest["clusters"]] == ["edge-par1", "edge-par2", "edge-par3",
                                                           "edge-mtl1", "edge-mtl2", "edge-mtl3"]  # campaign order


def test_the_manifest_carries_the_fleet_plan_of_each_cluster(emitted, monkeypatch):
    """Wave, ring, status, fingerprint and windows are the `fleet plan --json` document's, not computed again."""
    monkeypatch.chdir(ROOT)
    plan = json.loads(invoke("fleet", "plan", "--json", EXAMPLE).stdout)
    manifest = manifest_of(emitted)
    for mine, theirs in zip(manifest["clusters"], plan["clusters"], strict=True):
        assert mine["cluster"] == theirs["cluster"]
        for key in ("wave", "ring", "status", "fingerprint", "start", "end", "site", "zone"):
            assert mine[key] == theirs[key], key
        assert [(w["name"], w["start"], w["end"], w["safe_point"]) for w in mine["windows"]] == \
               [(w["name"], w["start"], w["end"], w["safe_point"]) for w in theirs["windows"]]
        assert "examples/fleet/" + mine["file"] == theirs["file"]  # relative to the fleet file's folder
        source = (ROOT / "examples" / "fleet" / mine["file"]).read_bytes()
        assert mine["file_sha256"] == "sha256:" + hashlib.sha256(source).hexdigest()
    assert manifest["start"] == plan["start"] and manifest["end"] == plan["end"]
    paris = manifest["clusters"][0]["windows"][0]  # Saturday 22:00 in Paris is 21:00Z in winter
    assert (paris["start"], paris["local_start"]) == ("2027-01-09T21:00Z", "2027-01-09T22:00+01:00")


def test_each_cluster_folder_is_what_hciplan_emit_writes(emitted, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for entry in manifest_of(emitted)["clusters"]:
        source = f"examples/fleet/{entry['file']}"
        alone = tmp_path / entry["folder"]
        for backend in ("powershell", "runbook"):
            result = invoke("emit", source, "--backend", backend, "-o", str(alone))
            assert result.exit_code == 0, result.output
        assert tree_of(emitted / entry["folder"]) == tree_of(alone), entry["cluster"]
        assert sorted(tree_of(alone)) == ["Invoke-HciUpgrade.ps1", "RUNBOOK.md"]


def test_the_manifest_hashes_every_file_and_every_script_parses(emitted):
    manifest = manifest_of(emitted)
    listed = {}
    for entry in manifest["clusters"]:
        for f in entry["files"]:
            listed[f["path"]] = f["sha256"]
        assert entry["script"] == f"{entry['folder']}/Invoke-HciUpgrade.ps1"
    written = tree_of(emitted)
    assert sorted(listed) == sorted(set(written) - {"manifest.json", "README.txt"})
    for path, digest in listed.items():
        assert digest == "sha256:" + hashlib.sha256(written[path]).hexdigest(), path
    for entry in manifest["clusters"]:
        script = written[entry["script"]].decode("utf-8")
        assert ps_parse.errors(ps_parse.parse(script)) == [], entry["cluster"]


def test_the_same_fleet_gives_the_same_bytes_however_it_is_named(emitted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # another working directory, the fleet by its absolute path
    result = invoke("fleet", "emit", str(ROOT / EXAMPLE), "again")
    assert result.exit_code == 0, result.output
    assert tree_of(tmp_path / "again") == tree_of(emitted)
    again = invoke("fleet", "emit", str(ROOT / EXAMPLE), "again")  # the same tree: left alone, no --force needed
    assert again.exit_code == 0 and again.stdout.startswith("unchanged again:")


# --- nothing half-written -----------------------------------------------------------------------------------


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_a_broken_cluster_file_fails_with_diagnostics_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_fleet(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n',
         {"c/a.hciplan": cluster_text("edge-a", 2, 1, window=False),
          "c/b.hciplan": cluster_text("edge-b", 2, 2, window=False).replace("witness = cloud", "witness = clod")})
    result = invoke("fleet", "emit", "fleet.hciplan", "out")
    assert result.exit_code == 1
    assert "c/b.hciplan:3:50: error[HCI104]: `clod` is not a valid `witness`" in result.stderr
    assert "Traceback" not in result.output and result.stderr.endswith("nothing written: fix the errors above\n")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_a_backend_that_cannot_express_a_plan_writes_nothing(tmp_path, monkeypatch):
    from hciplan.backends import BackendUnsupported

    monkeypatch.chdir(tmp_path)
    make_fleet(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n',
         {"c/a.hciplan": cluster_text("edge-a", 2, 1, window=False),
          "c/b.hciplan": cluster_text("edge-b", 2, 2, window=False)})
    real = fe._cluster_files

    def second_fails(result, file):
        if file.endswith("b.hciplan"):
            raise fe.EmitError(file, f"the powershell backend cannot express this plan: {BackendUnsupported('x')}")
        return real(result, file)

    monkeypatch.setattr(fe, "_cluster_files", second_fails)
    result = invoke("fleet", "emit", "fleet.hciplan", "out")
    assert result.exit_code == 1
    assert result.stderr == ("c/b.hciplan: error: the powershell backend cannot express this plan: x\n"
                             "nothing written\n")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_write_leaves_dir_as_it_was(tmp_path, existing, monkeypatch):
    tree = {"a/x.txt": b"new\n", "manifest.json": b'{"schema": "hciplan.fleet-manifest/1"}\n'}
    out = tmp_path / "out"
    if existing:
        fe.write_tree(out, {"a/x.txt": b"old\n", "manifest.json": tree["manifest.json"]}, force=False)
    before = tree_of(out) if existing else None

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fe, "_swap", full)
    with pytest.raises(fe.WriteError, match="No space left"):
        fe.write_tree(out, tree, force=True)
    assert (tree_of(out) if existing else out.exists()) == (before if existing else False)
    assert leftovers(tmp_path) == []


def test_a_non_empty_dir_needs_force_and_force_replaces_only_an_earlier_emit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_fleet(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n', ONE)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    for force in ([], ["--force"]):
        result = invoke("fleet", "emit", "fleet.hciplan", "mine", *force)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert tree_of(tmp_path / "mine") == {"notes.txt": b"keep me"}
    assert "mine is not empty: review it, then rerun with --force" in invoke("fleet", "emit", "fleet.hciplan",
                                                                           "mine").stderr
    assert "holds no hciplan.fleet-manifest/1 manifest.json" in invoke("fleet", "emit", "fleet.hciplan", "mine",
                                                                      "--force").stderr
    assert invoke("fleet", "emit", "fleet.hciplan", "out").exit_code == 0
    (tmp_path / "out" / "stale").mkdir()
    (tmp_path / "out" / "stale" / "old.ps1").write_text("# a cluster no longer in the fleet")
    assert invoke("fleet", "emit", "fleet.hciplan", "out").exit_code == 2  # differs: refused
    assert invoke("fleet", "emit", "fleet.hciplan", "out", "--force").exit_code == 0
    assert sorted(tree_of(tmp_path / "out")) == ["README.txt", "edge-a/Invoke-HciUpgrade.ps1", "edge-a/RUNBOOK.md",
                                                 "manifest.json"]  # replaced whole: the stale folder is gone
    (tmp_path / "empty").mkdir()
    assert invoke("fleet", "emit", "fleet.hciplan", "empty").exit_code == 0  # an empty DIR is written
    assert tree_of(tmp_path / "empty") == tree_of(tmp_path / "out")
    (tmp_path / "file").write_text("x")
    result = invoke("fleet", "emit", "fleet.hciplan", "file", "--force")
    assert result.exit_code == 2 and "is a file" in result.stderr  # click says so, as for `emit -o`
    assert leftovers(tmp_path) == []


# --- statuses and names -------------------------------------------------------------------------------------


def test_held_and_overran_clusters_have_a_folder_their_reason_and_no_window(tmp_path, monkeypatch):
    """As tests/test_fleet.py's health gate: the big cluster overruns its one-week horizon, the next ring is held."""
    monkeypatch.chdir(tmp_path)
    gated_fleet(tmp_path)
    result = invoke("fleet", "emit", "fleet.hciplan", "out")
    assert result.exit_code == 0, result.output
    manifest = manifest_of(tmp_path / "out")
    by = {c["cluster"]: c for c in manifest["clusters"]}
    assert {n: c["status"] for n, c in by.items()} == {"edge-big": "overran", "edge-small": "planned",
                                                       "edge-next": "held"}
    assert manifest["counts"] == {"held": 1, "overran": 1, "planned": 1, "unplaced": 0}
    assert manifest["stopped_after_wave"] == 1
    for name in ("edge-big", "edge-next"):
        assert by[name]["windows"] == [] and by[name]["start"] is None and by[name]["reason"]
        assert (tmp_path / "out" / by[name]["script"]).is_file()
    assert by["edge-next"]["reason"] == "held: the health gate after wave 1 stopped the campaign"
    assert by["edge-small"]["windows"] and by["edge-small"]["reason"] is None
    readme = (tmp_path / "out" / "README.txt").read_text()
    assert "edge-next/  held: held: the health gate after wave 1" in readme


WINDOWS_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def portable(name: str) -> bool:
    """Checked from the Windows naming rules themselves, not with the code under test."""
    device = name.split(".")[0].upper()
    return (bool(name) and not WINDOWS_BAD.search(name) and not name.endswith((".", " ")) and name.isascii()
            and device not in {"CON", "PRN", "AUX", "NUL"} and not re.fullmatch(r"(COM|LPT)[1-9]", device)
            and not name.startswith((".", "-")) and len(name) <= 60)


def test_folder_names_are_portable_and_unique():
    names = ["edge-1", "CON", "nul.txt", "COM1", "lpt9", "a/b", "a:b", "a?b", "..", ".", "", "-x", "x.",
             "Édge 1", "edge-1-2", "EDGE-1", "manifest.json", "README.txt", "x" * 200, "x" * 201, "a\x00b"]
    folders = fe.folder_names(names)
    assert all(portable(f) for f in folders), [f for f in folders if not portable(f)]
    taken = [f.casefold() for f in folders] + ["manifest.json", "readme.txt"]
    assert len(set(taken)) == len(taken)  # unique, ignoring case as Windows and macOS do
    assert folders[0] == "edge-1" and folders[14] == "edge-1-2"  # portable names are kept as they are
    assert folders[15] == "EDGE-1-3"  # the same name but for case: numbered
    assert fe.folder_names(names) == folders  # deterministic


def test_a_cluster_named_like_a_windows_device_gets_a_safe_folder(tmp_path, monkeypatch):
    """`CON` and `COM1` are valid cluster names (3-15 letters, digits, hyphens) but not folder names on Windows."""
    monkeypatch.chdir(tmp_path)
    make_fleet(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n',
         {"c/a.hciplan": cluster_text("CON", 2, 1, window=False),
          "c/b.hciplan": cluster_text("COM1", 2, 2, window=False)})
    result = invoke("fleet", "emit", "fleet.hciplan", "out")
    assert result.exit_code == 0, result.output
    folders = [c["folder"] for c in manifest_of(tmp_path / "out")["clusters"]]
    assert all(portable(f) for f in folders) and folders[0].startswith("_CON-") and folders[1].startswith("_COM1-")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(folders + ["README.txt", "manifest.json"])


def test_the_docs_show_what_the_command_prints(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    block = "$ hciplan fleet emit examples/fleet/retail.hciplan campaign\n"
    assert block in text
    shown = text.split(block)[1].split("\n")[0]
    for name in ("examples", "docs"):  # run from a copy of the repository's layout, into ./campaign
        os.symlink(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    result = invoke("fleet", "emit", "examples/fleet/retail.hciplan", "campaign")
    assert result.exit_code == 0 and result.stdout == shown + "\n"


def test_a_symbolic_link_as_dir_is_refused_and_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_fleet(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n', ONE)
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    result = invoke("fleet", "emit", "fleet.hciplan", "link", "--force")
    assert result.exit_code == 2 and "it is a symbolic link" in result.stderr
    assert list((tmp_path / "real").iterdir()) == [] and (tmp_path / "link").is_symlink()
    assert leftovers(tmp_path) == []


def test_the_working_folder_as_dir_is_refused(tmp_path, monkeypatch):
    make_fleet(tmp_path, '  cluster "c/" { ring = 0  site = "p" }\n', ONE)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    for target in (".", "..", str(tmp_path / "here")):
        result = invoke("fleet", "emit", "../fleet.hciplan", target, "--force")
        assert result.exit_code == 2 and "it is the working folder or holds it" in result.stderr, target
    assert list((tmp_path / "here").iterdir()) == [] and leftovers(tmp_path) == []
