"""Untrusted files in, files out (issue 18): the one writer every command shares, and bounded reading.

The writer's guarantees are tested through the commands that use it (emit,
fmt --write, discover -o, import -o, the plots) and directly; OS errors that
need a special mount (a full disk, a read-only file system) are injected.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan import files
from hciplan.cli import cli
from hciplan.compiler.pipeline import MAX_SOURCE_BYTES
from helpers import mutate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "four-node.hciplan"
SCRIPT = "Invoke-HciUpgrade.ps1"
GB3 = 3 * 10**9


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def no_temporaries(folder: Path) -> bool:
    return not [name for name in os.listdir(folder) if files.TEMP_MARK in name]


# --- symbolic links ---------------------------------------------------------------------------------------


def test_emit_refuses_a_dangling_link_in_the_output_folder_and_writes_nothing_outside(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "elsewhere" / "planted.ps1"
    out.mkdir()
    outside.parent.mkdir()
    (out / SCRIPT).symlink_to(outside)  # dangling: "exists" is false for it
    refused = invoke("emit", EXAMPLE, "-o", out)
    assert refused.exit_code == 2 and "symbolic link" in refused.output and "--force" in refused.output
    assert not outside.exists() and (out / SCRIPT).is_symlink()

    forced = invoke("emit", EXAMPLE, "-o", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert not outside.exists()  # --force replaces the link itself: never a file outside the folder
    assert not (out / SCRIPT).is_symlink() and (out / SCRIPT).read_bytes().startswith(b"\xef\xbb\xbf#Requires")


def test_emit_with_force_never_rewrites_the_file_a_link_points_to(tmp_path):
    out, kept = tmp_path / "out", tmp_path / "kept.txt"
    out.mkdir()
    kept.write_text("precious\n", encoding="utf-8")
    (out / SCRIPT).symlink_to(kept)
    assert invoke("emit", EXAMPLE, "-o", out, "--force").exit_code == 0
    assert kept.read_text(encoding="utf-8") == "precious\n"


INVENTORY = sorted((ROOT / "tests" / "fixtures" / "inventory").glob("*.json"))[0]


@pytest.mark.parametrize("command", [["discover"], ["import", INVENTORY]])
def test_single_file_outputs_refuse_a_dangling_link_without_force(tmp_path, command):
    link, outside = tmp_path / "out.txt", tmp_path / "outside.txt"
    link.symlink_to(outside)
    result = invoke(*command, "-o", link)
    assert result.exit_code == 2 and "--force" in result.output and not outside.exists()


def test_the_writer_refuses_links_unless_told_how_to_treat_them(tmp_path):
    real, link = tmp_path / "real.txt", tmp_path / "link.txt"
    real.write_text("old", encoding="utf-8")
    link.symlink_to(real)
    with pytest.raises(files.WriteError, match="symbolic link"):
        files.write_bytes(link, b"new", overwrite=True)
    files.write_bytes(link, b"followed", overwrite=True, links="follow")
    assert real.read_bytes() == b"followed" and link.is_symlink()
    files.write_bytes(link, b"replaced", overwrite=True, links="replace")
    assert not link.is_symlink() and link.read_bytes() == b"replaced" and real.read_bytes() == b"followed"


def test_a_plot_is_not_written_through_a_link(tmp_path):
    pytest.importorskip("matplotlib")
    link, outside = tmp_path / "gantt.svg", tmp_path / "outside.svg"
    link.symlink_to(outside)
    result = invoke("simulate", EXAMPLE, "--runs", "2", "--gantt", link)
    assert result.exit_code == 2 and "symbolic link" in result.output and not outside.exists()


# --- OS errors: a message with the path, exit 2 ------------------------------------------------------------


def test_emit_below_a_regular_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = invoke("emit", EXAMPLE, "-o", blocker / "out")
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and str(blocker) in result.output and "not a folder" in result.output


def test_emit_where_a_folder_sits_in_the_place_of_the_file(tmp_path):
    (tmp_path / "out" / SCRIPT).mkdir(parents=True)
    result = invoke("emit", EXAMPLE, "-o", tmp_path / "out", "--force")
    assert result.exit_code == 2 and "it is a folder" in result.output and SCRIPT in result.output


@pytest.mark.parametrize(("code", "words"), [
    (errno.ENOSPC, "no space left"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
    (errno.EPERM, "not permitted"),
])
def test_write_errors_name_the_path_and_the_reason_and_leave_the_old_file(tmp_path, monkeypatch, code, words):
    out = tmp_path / "out"
    out.mkdir()
    (out / SCRIPT).write_text("old\n", encoding="utf-8")

    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.os, "replace", fail)
    result = invoke("emit", EXAMPLE, "-o", out, "--force")
    assert result.exit_code == 2, result.output
    assert f"cannot write {out / SCRIPT}: " in result.output and words in result.output
    assert (out / SCRIPT).read_text(encoding="utf-8") == "old\n" and no_temporaries(out)


def test_a_full_disk_while_writing_the_bytes_is_reported_too(tmp_path, monkeypatch):
    def full(_fd, _data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    result = invoke("discover", "-o", tmp_path / "Get-HciPlanInventory.ps1")
    assert result.exit_code == 2 and "no space left" in result.output
    assert os.listdir(tmp_path) == []


# --- temporary files ---------------------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_stale_temporary_file_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / f".{SCRIPT}{files.TEMP_MARK}{_dead_pid()}-0123abcd"
    stale.write_text("half", encoding="utf-8")
    assert invoke("emit", EXAMPLE, "-o", tmp_path).exit_code == 0
    assert not stale.exists() and sorted(os.listdir(tmp_path)) == [SCRIPT]


def test_a_live_runs_temporary_file_is_left_alone(tmp_path):
    live = tmp_path / f".other.txt{files.TEMP_MARK}{os.getppid()}-0123abcd"
    live.write_text("being written", encoding="utf-8")
    files.write_bytes(tmp_path / "x.txt", b"x", overwrite=False)
    assert live.exists()


def test_a_killed_write_leaves_a_recognisable_temporary_file_that_the_next_write_removes(tmp_path):
    target = tmp_path / "out.txt"
    code = ("import os, sys, time; sys.path.insert(0, sys.argv[2]); from hciplan import files; "
            "os.fsync = lambda fd: time.sleep(120); files.write_bytes(sys.argv[1], b'new', overwrite=True)")
    child = subprocess.Popen([sys.executable, "-c", code, str(target), str(ROOT)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and no_temporaries(tmp_path):
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    (left,) = os.listdir(tmp_path)
    assert re.fullmatch(r"\.out\.txt\.hciplan-tmp-\d+-[0-9a-f]{8}", left)
    files.write_bytes(tmp_path / "other.txt", b"x", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["other.txt"]


# --- what a rewritten file keeps, and the mode of new files -------------------------------------------------


MESSY = 'cluster "c1" {\nversion="22H2"\n}\n'


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_fmt_write_as_root_keeps_the_owner(tmp_path):
    path = tmp_path / "c.hciplan"
    path.write_text(MESSY, encoding="utf-8")
    os.chown(path, 4321, 4322)
    result = invoke("fmt", "--write", path)
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") != MESSY
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)


def test_fmt_write_keeps_hard_links(tmp_path):
    path, other = tmp_path / "c.hciplan", tmp_path / "same.hciplan"
    path.write_text(MESSY, encoding="utf-8")
    os.link(path, other)
    path.chmod(0o640)
    assert invoke("fmt", "--write", path).exit_code == 0
    assert other.read_text(encoding="utf-8") == path.read_text(encoding="utf-8") != MESSY
    assert path.stat().st_nlink == 2 and path.stat().st_ino == other.stat().st_ino
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and no_temporaries(tmp_path)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_scripts_and_plots_get_the_same_umask_respecting_mode(tmp_path, umask_027):
    pytest.importorskip("matplotlib")
    assert invoke("emit", EXAMPLE, "-o", tmp_path / "out").exit_code == 0
    result = invoke("simulate", EXAMPLE, "--runs", "3", "--jobs", "1", "--histogram", tmp_path / "h.svg",
                    "--gantt", tmp_path / "g.png")
    assert result.exit_code == 0, result.output
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "out" / SCRIPT, tmp_path / "h.svg",
                                                               tmp_path / "g.png"]}
    assert set(modes.values()) == {0o640}, modes


# --- bounded reading -------------------------------------------------------------------------------------------


@pytest.fixture
def sparse(tmp_path):
    def make(name: str, size: int = GB3) -> Path:
        path = tmp_path / name
        with open(path, "wb") as handle:
            handle.truncate(size)  # a hole: no byte on disk, and none should be read
        return path
    return make


def test_read_at_most_judges_a_regular_file_by_its_size_before_reading(sparse, monkeypatch):
    path = sparse("big.bin")
    real_open = open

    def spying_open(*args, **kwargs):
        handle = real_open(*args, **kwargs)
        handle.read = lambda *_: pytest.fail("read a file whose size is over the limit")
        return handle

    monkeypatch.setattr("builtins.open", spying_open)
    with pytest.raises(files.TooLarge) as caught:
        files.read_at_most(path, 1024)
    assert caught.value.size == GB3 and "1,024 bytes" in str(caught.value)


def test_check_refuses_a_sparse_3_gb_file_from_its_size(sparse):
    result = invoke("check", sparse("huge.hciplan"))
    assert result.exit_code == 1 and "HCI010" in result.output
    assert "3,000,000,000 bytes" in result.output and f"{MAX_SOURCE_BYTES:,} bytes" in result.output


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_check_dev_zero_is_refused_after_a_bounded_read():
    result = invoke("check", "/dev/zero")
    assert result.exit_code == 1 and "HCI010" in result.output and "more than" in result.output


def test_a_fifo_is_read_at_most_one_byte_past_the_limit(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = subprocess.Popen([sys.executable, "-c", "import sys\nwith open(sys.argv[1], 'wb') as f:\n"
                               " try:\n  while True: f.write(b'x' * 65536)\n except BrokenPipeError: pass",
                               str(fifo)])
    try:
        with pytest.raises(files.TooLarge):
            files.read_at_most(fifo, 100_000)
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.parametrize("command", [
    ["import", "{big}"],
    ["import", "--validation", "{big}"],
    ["check", EXAMPLE, "--validation", "{big}"],
    ["emit", EXAMPLE, "--backend", "runbook", "-o", "{out}", "--simulation", "{big}"],
    ["fmt", "{big}"],
])
def test_every_json_input_is_refused_with_its_limit(tmp_path, sparse, command):
    big = sparse("big.json")
    args = [str(a).replace("{big}", str(big)).replace("{out}", str(tmp_path / "out")) for a in command]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "3,000,000,000 bytes" in result.output and "reads at most" in result.output
    assert "internal error" not in result.output


def test_journals_and_records_are_refused_with_their_limit(sparse):
    big = sparse("journal.jsonl")
    progress = invoke("progress", EXAMPLE, big, "--now", "2026-12-06T01:30Z")
    assert progress.exit_code == 1 and "larger than 64 MB" in progress.output
    calibrate = invoke("calibrate", big)
    assert calibrate.exit_code == 1 and "larger than 64 MB" in calibrate.output


# --- lone surrogates: an error naming the field -----------------------------------------------------------------


def _with_surrogate(source: Path, tmp_path: Path, old: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / source.name
    path.write_text(text.replace(old, old[:-1] + "\\ud800" + '"', 1), encoding="utf-8")
    return path


def test_import_names_the_field_holding_a_lone_surrogate(tmp_path):
    inventory = _with_surrogate(INVENTORY.parent / "two-node.json", tmp_path, '"hci-edge01"')
    result = invoke("import", inventory)
    assert result.exit_code == 1, result.output
    assert "$.cluster.Name" in result.output and "surrogate" in result.output
    assert "internal error" not in result.output


def test_validation_results_with_a_lone_surrogate_are_an_error_naming_the_field(tmp_path):
    results = tmp_path / "results.json"
    results.write_text('[{"Name": "AzStackHci_Test\\udc00", "Status": "FAILURE"}]', encoding="utf-8")
    result = invoke("import", "--validation", results)
    assert result.exit_code == 1, result.output
    assert "$[0].Name" in result.output and "surrogate" in result.output


def test_a_journal_with_a_lone_surrogate_is_an_error_naming_the_line_and_field(tmp_path):
    from hciplan.journal import JournalError, parse_journal

    line = '{"step": "p1.x", "status": "done", "message": "bad \\ud800 text"}'
    with pytest.raises(JournalError, match=r"\$\.message .*surrogate"):
        parse_journal(line + "\n" + line + "\n", "j.jsonl")


# --- diagnostics render in linear time ----------------------------------------------------------------------------


def test_rendering_many_diagnostics_indexes_each_source_once(monkeypatch):
    from hciplan.compiler import render
    from hciplan.compiler.diagnostics import Diagnostic, Severity
    from hciplan.compiler.source import LineIndex, Source, Span

    built = []

    class CountingIndex(LineIndex):
        def __init__(self, source):
            built.append(source.name)
            super().__init__(source)

    monkeypatch.setattr(render, "LineIndex", CountingIndex)
    one, two = Source("a.hciplan", "x = 1\ny = 2\n" * 50), Source("b.hciplan", "z = 3\n")
    diagnostics = [Diagnostic("HCI101", Severity.ERROR, "m", Span(one.name, 1 + k % 100, 1, 1 + k % 100, 2))
                   for k in range(500)] + [Diagnostic("HCI101", Severity.ERROR, "m", Span(two.name, 1, 1, 1, 2))]
    text = render.render_text(diagnostics, {one.name: one, two.name: two})
    assert sorted(built) == ["a.hciplan", "b.hciplan"]
    assert text.count(" | y = 2\n") == 250 and "    1 | z = 3" in text


def test_the_line_index_agrees_with_splitting_on_newlines_only():
    from hciplan.compiler.source import LineIndex, Source

    for text in ["", "a", "a\n", "a\nb", "\n\n", "a\fb\u2028c\nd\r\n", "x\n" * 3]:
        index, lines = LineIndex(Source("s", text)), text.split("\n")
        assert index.line_count == len(lines)
        assert [index.line_text(k) for k in range(0, len(lines) + 2)] == [""] + lines + [""]


# --- outputs do not depend on how the input path was typed --------------------------------------------------------


@pytest.fixture
def warned_plan(tmp_path, monkeypatch):
    """A copy of the example with a warning (its diagnostics name the file), the working directory at its folder."""
    text = EXAMPLE.read_text(encoding="utf-8")
    (tmp_path / "examples").mkdir()
    path = tmp_path / "examples" / "x.hciplan"
    path.write_text(mutate(text, ("= cau\n", '= cau\n  media_path = "C:\\\\Media"\n')), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return path


@pytest.mark.parametrize("backend", ["json", "summary", "runbook"])
def test_emitted_documents_are_the_same_bytes_for_every_spelling_of_the_path(warned_plan, backend):
    outputs = []
    for k, spelling in enumerate(["examples/x.hciplan", "./examples/x.hciplan", str(warned_plan)]):
        result = invoke("emit", spelling, "--backend", backend, "-o", f"out{k}")
        assert result.exit_code == 0, result.output
        outputs.append({p.name: p.read_bytes() for p in sorted(Path(f"out{k}").iterdir())})
    assert outputs[0] == outputs[1] == outputs[2]
    joined = b"".join(outputs[0].values())
    assert str(warned_plan.parent).encode() not in joined
    assert (b"examples/x.hciplan" in joined) == (backend != "runbook")  # the runbook quotes no diagnostics


def test_plan_json_names_a_file_outside_the_working_directory_by_its_name_only(warned_plan, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("plan", "--format", "json", warned_plan)
    assert result.exit_code == 0, result.output
    assert '"file": "x.hciplan"' in result.output and str(tmp_path) not in result.output
