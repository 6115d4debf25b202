"""Reading input files within bounds, and writing output files safely: all or nothing, never over a kept file.

Inputs exported on Windows (journals, inventories, validator results, CAU and
update-run records) are read through `read_at_most` and `windows_encoding`.

Every command that writes a file (`fmt --write`, `import -o`, `discover -o`)
goes through `write_text`: the text goes to a temporary file in the target's
folder, which is then renamed over the target, so a reader (or a crash) sees
the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def read_at_most(path: str | os.PathLike, limit: int) -> bytes:
    """Up to `limit + 1` bytes of the file: a result longer than `limit` means the file is too large (OSError as is)."""
    with open(path, "rb") as handle:
        return handle.read(limit + 1)


def windows_encoding(data: bytes) -> str:
    """UTF-16 when the bytes start with its BOM (`Out-File -Encoding Unicode`), else UTF-8 with an optional BOM."""
    return "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"


def default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool) -> None:
    """Write `text` as UTF-8 to `path` atomically.

    With `overwrite=False` an existing `path` raises FileExistsError and is left
    untouched. An existing file keeps its permission bits. A symbolic link stays
    a link: the file it points to is rewritten (renaming over the link itself
    would replace it with a regular file). OS errors propagate; the temporary
    file is removed whatever happens.
    """
    given = Path(path)
    if not overwrite and (given.exists() or given.is_symlink()):  # a dangling link counts as there
        raise FileExistsError(str(given))
    target = Path(os.path.realpath(given))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = default_mode()
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        if overwrite:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails, atomically, if the target appeared meanwhile
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                if target.exists():
                    raise FileExistsError(str(target)) from None
                os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
