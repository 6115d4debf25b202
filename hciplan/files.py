"""Reading input files within bounds, and writing output files safely: the one reader and the one writer.

Every input (a `.hciplan` file, an inventory, validator results, journals, CAU
and update-run records, saved simulations, plan documents) is read through
`read_at_most`: a regular file larger than the limit is refused from its size
(`os.stat`) before a byte is read, anything else (a pipe, `/dev/zero`) is read
at most one byte past the limit. Windows exports are decoded with
`windows_encoding`.

Every command that writes a file (`emit`, `fmt --write`, `import -o`, `import
--into`, `discover -o`, `report -o`, `calibrate -o/--into`, the plots of
`simulate` and `compare`) goes through `write_bytes` (or `write_text`, or
`write_folder` for emit's directory). The guarantees (docs/robustness.md):

- all or nothing: the bytes go to a temporary file beside the target, named
  `.NAME.hciplan-tmp-PID-XXXXXXXX`, which is renamed over the target; a reader
  or a crash sees the old file or the new one. A temporary file left by a
  killed run (its process is gone) is removed by the next write to that folder.
- symbolic links: an output path that is a link (dangling included) is refused
  unless the caller allows it (`--force`): `links="follow"` rewrites the file
  it points to, `links="replace"` replaces the link itself (emit: nothing is
  ever written outside the output folder).
- a rewritten file keeps its mode and its owner (chown, which works as root);
  a file with several hard links is rewritten in place (after the temporary
  copy proved the bytes can be written), so every link sees the new content.
- a new file gets 0666 less the umask, as any tool's output.
- every OS error becomes a `WriteError` naming the path and the reason in
  words (a file where a folder should be, a folder where the file goes, a full
  disk, a read-only file system, no permission); the commands exit 2 with it.

Also at the boundary: `lone_surrogate_path` finds invalid Unicode in a JSON
input (an error naming the field), and `shared_name` names an input file in
documents the same way however its path was typed.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from pathlib import Path

TEMP_MARK = ".hciplan-tmp-"
_TEMP_NAME = re.compile(r"^\..*" + re.escape(TEMP_MARK) + r"(\d+)-[0-9a-f]{8}$")
STALE_AFTER_S = 24 * 3600  # a temporary file this old is stale even if its pid was reused (or is on another host)


class TooLarge(Exception):
    """An input larger than its limit, refused before it was read past the limit."""

    def __init__(self, path: str | os.PathLike, limit: int, size: int | None):
        self.path, self.limit, self.size = str(path), limit, size
        shown = f"{size:,} bytes" if size is not None else "more than that"
        super().__init__(f"{path} is {shown}; hciplan reads at most {limit:,} bytes ({_mib(limit)}) from it")


def _mib(size: int) -> str:
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size:,} bytes"


MAX_JSON_BYTES = 64 * 1024 * 1024  # inventories, validator exports, records and saved simulations (a few MB at most)


def read_at_most(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the file, at most `limit` of them, else TooLarge (other OSErrors as they are).

    A regular file is judged by its size before it is read; anything else
    (a device, a pipe) by a read of `limit + 1` bytes, never more.
    """
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise TooLarge(path, limit, info.st_size)
        chunks, size = [], 0
        while size <= limit:  # a pipe returns short reads: loop until the limit is passed or the input ends
            chunk = handle.read(limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    if size > limit:
        raise TooLarge(path, limit, None)
    return b"".join(chunks)


def windows_encoding(data: bytes) -> str:
    """UTF-16 when the bytes start with its BOM (`Out-File -Encoding Unicode`), else UTF-8 with an optional BOM."""
    return "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"


# --- writing ------------------------------------------------------------------------------------------------


class WriteError(Exception):
    """A file that could not be written: the path and the reason in words (nothing was changed)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot write {path}: {reason}")


_REASONS = {
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENOENT: "its folder does not exist",
    errno.ENOSPC: "no space left on the device (the disk is full)",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted (an immutable or append-only file or folder?)",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many symbolic links in the path",
    errno.EXDEV: "the temporary file and the target are on different file systems",
}


def _failed(path: str | os.PathLike, error: OSError) -> WriteError:
    return WriteError(path, _REASONS.get(error.errno, error.strerror or str(error)))


def _status(path: Path, how, reported: Path) -> os.stat_result | None:
    """`how(path)` (os.stat or os.lstat); None when nothing is there; other OS errors as a WriteError for `reported`."""
    try:
        return how(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _failed(reported, error) from None


def default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary files of killed runs in `folder` (best effort); the names removed."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None:
            continue
        pid = int(match.group(1))
        path = os.path.join(folder, name)
        try:
            info = os.lstat(path)
            if pid == os.getpid() or not stat.S_ISREG(info.st_mode):
                continue
            if _alive(pid) and now - info.st_mtime < STALE_AFTER_S:
                continue
            os.unlink(path)
            removed.append(name)
        except OSError:
            continue
    return removed


def _temporary(folder: Path, name: str) -> tuple[int, Path]:
    import secrets  # here: only a write needs it, and check writes nothing

    for _ in range(100):
        path = folder / f".{name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool, links: str = "refuse") -> None:
    """Write `data` to `path` atomically, with the guarantees of this module's docstring.

    `overwrite=False`: an existing `path` (a dangling link included) raises
    FileExistsError and is left untouched. `links`: "refuse" (WriteError for
    a symbolic link), "follow" (rewrite the file it points to) or "replace"
    (replace the link itself with the new file). Other failures: WriteError.
    """
    if links not in ("refuse", "follow", "replace"):
        raise ValueError(f"links={links!r}")
    given = Path(path)
    info = _status(given, os.lstat, given)
    target = given
    if info is not None and stat.S_ISLNK(info.st_mode):
        if links == "refuse":
            raise WriteError(given, "it is a symbolic link (to " + repr(os.readlink(given)) + "); hciplan does "
                             "not write through links unless told to: remove it, or pass --force")
        if not overwrite:
            raise FileExistsError(str(given))
        if links == "follow":
            target = Path(os.path.realpath(given))
            info = _status(target, os.stat, given)
        else:
            info = None  # the link itself is replaced: a new file
    elif info is not None and not overwrite:
        raise FileExistsError(str(given))
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise WriteError(given, _REASONS[errno.EISDIR])
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise WriteError(given, "it is not a regular file (a device, a pipe or a socket)")
    folder = target.parent
    remove_stale_temporaries(folder)
    temporary = None
    try:
        fd, temporary = _temporary(folder, target.name)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temporary, stat.S_IMODE(info.st_mode) if info is not None else default_mode())
        if info is not None:
            _keep_owner(temporary, info)
        if info is not None and info.st_nlink > 1:
            _rewrite_in_place(target, data)  # every hard link keeps seeing the file
        elif overwrite:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails, atomically, if the target appeared meanwhile
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                if os.path.lexists(target):
                    raise FileExistsError(str(target)) from None
                os.replace(temporary, target)
    except FileExistsError:
        raise
    except OSError as error:
        raise _failed(given, error) from None
    finally:
        if temporary is not None and os.path.lexists(temporary):
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _keep_owner(temporary: Path, info: os.stat_result) -> None:
    mine = os.stat(temporary)
    if (mine.st_uid, mine.st_gid) != (info.st_uid, info.st_gid):
        try:
            os.chown(temporary, info.st_uid, info.st_gid)
        except PermissionError:  # not root: the new file is the writer's, as with any editor
            pass


def _rewrite_in_place(target: Path, data: bytes) -> None:
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        _write_all(fd, data)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool, links: str = "refuse") -> None:
    """`write_bytes` of the text as UTF-8 (line ends as they are)."""
    write_bytes(path, text.encode("utf-8"), overwrite=overwrite, links=links)


def make_folder(folder: str | os.PathLike) -> None:
    """Create the output folder (and its parents) when missing; WriteError when it cannot be."""
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError:  # a file, or a dangling link, where the folder should be
        raise WriteError(folder, "it exists and is not a folder") from None
    except OSError as error:
        raise _failed(folder, error) from None


def folder_conflicts(folder: Path, files: dict[str, bytes]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Before writing `files` into `folder`: (the files that differ and need --force with why, those unchanged).

    A name with a folder part, or a folder where a file goes, is a WriteError
    even with --force; a symbolic link is a conflict (--force replaces the link
    itself, never the file it points to).
    """
    conflicts, unchanged = [], []
    for name, data in sorted(files.items()):
        if name in ("", ".", "..") or os.path.basename(name) != name or "\\" in name:
            raise WriteError(folder / name, "the name leaves the output folder")
        path = folder / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            raise WriteError(folder, "it exists and is not a folder") from None
        except OSError as error:
            raise _failed(path, error) from None
        if stat.S_ISLNK(info.st_mode):
            conflicts.append((path, "is a symbolic link"))
        elif stat.S_ISDIR(info.st_mode):
            raise WriteError(path, _REASONS[errno.EISDIR])
        elif not stat.S_ISREG(info.st_mode):
            raise WriteError(path, "it is not a regular file (a device, a pipe or a socket)")
        elif info.st_size != len(data) or _read_or_none(path, len(data)) != data:
            conflicts.append((path, "already exists with different content"))
        else:
            unchanged.append(path)
    return conflicts, unchanged


def _read_or_none(path: Path, limit: int) -> bytes | None:
    try:
        return read_at_most(path, limit)
    except (OSError, TooLarge):
        return None


def write_folder(folder: str | os.PathLike, files: dict[str, bytes], *, force: bool) -> list[tuple[Path, str]]:
    """Write every file into `folder` or none: (path, "wrote" | "unchanged") in name order.

    Without `force`, any conflict (`folder_conflicts`) raises FileExistsError
    listing them, before anything is written; with it, differing files are
    replaced and links are replaced by files (nothing is written outside).
    """
    folder = Path(folder)
    if os.path.isdir(folder):
        conflicts, unchanged = folder_conflicts(folder, files)
    else:
        conflicts, unchanged = [], []
    if conflicts and not force:
        raise FileExistsError("; ".join(f"{path} {why}" for path, why in conflicts))
    make_folder(folder)
    outcome = []
    for name, data in sorted(files.items()):
        path = folder / name
        if path in unchanged:
            outcome.append((path, "unchanged"))
            continue
        write_bytes(path, data, overwrite=True, links="replace")
        outcome.append((path, "wrote"))
    return outcome


# --- text at the input boundary ---------------------------------------------------------------------------


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def lone_surrogate_path(document: object, root: str = "$") -> str | None:
    """The JSON path of the first string (key or value) holding a lone surrogate (JSON `"\\ud800"`), else None.

    Python's json decodes such an escape into a str that cannot be encoded as
    UTF-8 again, so every JSON input is checked here before its text is used.
    Walked without recursion, in document order.
    """
    stack: list[tuple[object, str]] = [(document, root)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return path
        elif isinstance(value, dict):
            for key in value:
                if isinstance(key, str) and _has_surrogate(key):
                    return f"{path} (a key)"
            stack.extend(reversed([(v, f"{path}.{k}") for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(v, f"{path}[{i}]") for i, v in enumerate(value)]))
    return None


SURROGATE_MESSAGE = ("holds an invalid Unicode escape (a lone surrogate such as \\ud800, half of a character): "
                     "export the file again, or fix the text there")


def shared_name(path: str | os.PathLike) -> str:
    """How an input file is named in what hciplan writes for others (plan JSON, summaries, runbooks, reports).

    The same whatever way the path was typed (`x.hciplan`, `./x.hciplan`, its
    absolute path): relative to the working directory when the file is inside
    it, else only its file name, so no absolute local path leaks into a
    shared document. Always with `/` separators.
    """
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, os.getcwd())
    except ValueError:  # another drive (Windows)
        relative = os.pardir
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return os.path.basename(absolute)
    return Path(relative).as_posix()
