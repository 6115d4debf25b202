"""A per-user cache of what every process would otherwise rebuild at start-up.

One thing is cached, derived from hciplan's own code, never from user input:
the compiled methods of the `@record` classes (hciplan/records.py). (The LALR
parser's tables were too until they moved into hciplan/grammar/standalone.py,
which needs no cache.) Each entry's name carries what it depends on (the
Python version, the generated source), so a stale entry is never read, only
left behind.

Where: `HCIPLAN_CACHE_DIR` when set (empty: no cache at all), else the
platform's user cache folder: `%LOCALAPPDATA%\\hciplan\\Cache` on Windows,
`~/Library/Caches/hciplan` on macOS, `$XDG_CACHE_HOME/hciplan` or
`~/.cache/hciplan` elsewhere. Not the shared temporary folder (lark's own
`cache=True` writes a pickle there under a name any local user can predict
and plant first).

Loading a cache entry runs code (marshal), so on POSIX an entry is
read only when the current user owns it and nobody else may write it. Every
failure (no home, read-only file system, a damaged or foreign file) means
"no cache": the caller rebuilds, and the output never depends on the cache.
Writes go to a temporary file in the same folder, then `os.replace`, so a
concurrent reader sees the old entry or the new one, never half of one.
"""

from __future__ import annotations

import os
import sys

ENVIRONMENT = "HCIPLAN_CACHE_DIR"


def directory() -> str | None:
    """The cache folder (not necessarily existing yet), or None when the cache is off or has no home."""
    configured = os.environ.get(ENVIRONMENT)
    if configured is not None:
        return configured or None
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return os.path.join(base, "hciplan", "Cache") if base else None
    home = os.path.expanduser("~")
    if home == "~":  # no HOME and no password entry
        return None
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "hciplan")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return os.path.join(xdg if os.path.isabs(xdg) else os.path.join(home, ".cache"), "hciplan")


def _trusted(descriptor: int) -> bool:
    """Owned by this user and writable by no one else (POSIX); on Windows the per-user folder is the guard."""
    if not hasattr(os, "getuid"):
        return True
    status = os.fstat(descriptor)
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


def load(name: str) -> bytes | None:
    """The bytes of entry `name`, or None when there is none that may be trusted."""
    folder = directory()
    if folder is None:
        return None
    try:
        with open(os.path.join(folder, name), "rb") as file:
            return file.read() if _trusted(file.fileno()) else None
    except OSError:
        return None


def store(name: str, data: bytes) -> bool:
    """Write entry `name` atomically; False (and nothing written) when the folder cannot be used."""
    folder = directory()
    if folder is None:
        return False
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.path.lexists(temporary):  # left by a killed process with this pid
            os.unlink(temporary)
        # O_EXCL: never follow a link planted under the temporary name
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, os.path.join(folder, name))
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
