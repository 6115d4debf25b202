"""`hciplan fleet emit FLEET DIR`: one folder per cluster with its script and runbook, and a manifest.

Everything comes from what `hciplan fleet plan` computed: each cluster's plan
(compiled once by load.py) and its place in the campaign (campaign.py). Each
cluster folder holds exactly what `hciplan emit FILE` writes for that file
(the powershell backend's Invoke-HciUpgrade.ps1, the runbook backend's
RUNBOOK.md without simulated figures), through the same backends: the script's
window times are the cluster file's own `window` blocks, since the backends
take windows only from the plan; the campaign's windows are in the manifest,
and a pipeline passes a window's end as the script's `-WindowEnd`.

DIR/manifest.json (`hciplan.fleet-manifest/1`) lists every cluster in campaign
order, whatever its status: held, unplaced and overran clusters get their
folder too (their plan is valid; only their windows are missing) and no
window, so a pipeline runs the clusters whose status is `planned` and shows
the others with their reason. DIR/README.txt says the same in words.

The whole tree is built in memory, written to a temporary folder beside DIR,
and renamed into place: an error leaves DIR as it was. Bytes are deterministic
(no timestamps; names relative to the fleet file's folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

from hciplan import __version__
from hciplan.backends import BACKENDS, BackendUnsupported
from hciplan.files import MAX_JSON_BYTES, WriteError, make_folder, read_at_most
from hciplan.fleet import zones
from hciplan.fleet.campaign import HELD, OVERRAN, PLANNED, UNPLACED, Campaign, ClusterPlan
from hciplan.fleet.load import FleetCheck

SCHEMA = "hciplan.fleet-manifest/1"
MANIFEST, README = "manifest.json", "README.txt"
BACKEND_NAMES = ("powershell", "runbook")  # what `hciplan emit FILE` writes by default, and its runbook
STATUSES = (PLANNED, OVERRAN, UNPLACED, HELD)

# --- folder names -------------------------------------------------------------------------------------------

UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # everything else is replaced: portable on Windows, Linux and macOS
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_STEM = 40  # characters kept from the name: a short path stays under Windows' 260-character limit


class EmitError(Exception):
    """A cluster a backend cannot express: (file, message), reported as `hciplan emit` reports it."""

    def __init__(self, file: str, message: str):
        self.file, self.message = file, message
        super().__init__(f"{file}: error: {message}")


def safe_stem(name: str) -> str:
    """A folder name for a cluster: `name` when it is already portable, else a cleaned name and a hash of it.

    Portable means ASCII letters, digits, `.`, `_`, `-`, not starting with `.` or `-`, not ending with `.`,
    and no Windows device name (CON, NUL, COM1...; with any extension). A changed name gets the first 8 hex
    digits of the SHA-256 of the original, so `a/b` and `a:b` do not meet.
    """
    cleaned = UNSAFE.sub("_", unicodedata.normalize("NFC", name))[:MAX_STEM].rstrip(".")
    if cleaned.startswith((".", "-")):
        cleaned = "_" + cleaned.lstrip(".-")
    if cleaned.split(".")[0].upper() in RESERVED:
        cleaned = "_" + cleaned
    if cleaned == name and cleaned:
        return cleaned
    return (cleaned or "cluster") + "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


def folder_names(names: list[str]) -> list[str]:
    """A unique folder per cluster name, in order; unique ignoring case (Windows and macOS folders ignore it)."""
    taken = {MANIFEST.casefold(), README.casefold()}
    out = []
    for name in names:
        stem = safe_stem(name)
        candidate, n = stem, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{stem}-{n}"
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


# --- the tree -----------------------------------------------------------------------------------------------


def _utc(campaign: Campaign, minutes: float | None) -> str | None:
    """UTC to the minute, as `hciplan.fleet-plan/1` writes times."""
    if minutes is None:
        return None
    return campaign.at(round(minutes)).isoformat(timespec="minutes").replace("+00:00", "Z")


def _local(campaign: Campaign, minutes: float | None, zone) -> str | None:
    """The same moment in the cluster's zone, with its offset: what an operator on site reads."""
    if minutes is None:
        return None
    return campaign.at(round(minutes)).astimezone(zone).isoformat(timespec="minutes")


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _cluster_files(result, file: str) -> dict[str, str]:
    """What `hciplan emit FILE` writes for the plan, backend by backend (no simulation in the runbook)."""
    files: dict[str, str] = {}
    for name in BACKEND_NAMES:
        try:
            files.update(BACKENDS[name].render(result.plan, result.diagnostics))
        except BackendUnsupported as error:
            raise EmitError(file, f"the {name} backend cannot express this plan: {error}") from None
    return files


def build(checked: FleetCheck, campaign: Campaign, fleet_name: str) -> dict[str, bytes]:
    """Every file of DIR (relative POSIX path -> bytes): the cluster folders, manifest.json and README.txt."""
    base = posixpath.dirname(fleet_name) or "."
    by_name = {c.result.plan.model.cluster.name: c for c in checked.clusters}
    folders = folder_names([p.name for p in campaign.clusters])
    tree: dict[str, bytes] = {}
    entries = []
    for plan, folder in zip(campaign.clusters, folders):
        c = by_name[plan.name]
        written = {f"{folder}/{name}": text.encode("utf-8") for name, text in sorted(_cluster_files(c.result,
                                                                                                  c.name).items())}
        tree.update(written)
        entries.append(_entry(campaign, plan, folder, posixpath.relpath(c.name, base), c.digest, written))
    counts = {s: sum(e["status"] == s for e in entries) for s in STATUSES}
    manifest = {
        "schema": SCHEMA,
        "hciplan": __version__,
        "fleet": campaign.fleet,
        "fleet_file": posixpath.basename(fleet_name),
        "start": _utc(campaign, 0),
        "end": _utc(campaign, campaign.end),
        "stopped_after_wave": campaign.stopped_after,
        "counts": counts,
        "readme": README,
        "clusters": entries,
    }
    tree[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
                      + "\n").encode("utf-8")
    tree[README] = readme(manifest).encode("utf-8")
    return tree


def _entry(campaign: Campaign, c: ClusterPlan, folder: str, file: str, digest: str,
           written: dict[str, bytes]) -> dict:
    zone = zones.zone_of(c.zone) or zones.UTC
    script = next((path for path in written if path.endswith(".ps1")), None)
    return {
        "cluster": c.name, "folder": folder, "file": file, "file_sha256": digest, "fingerprint": c.fingerprint,
        "ring": c.ring, "wave": c.wave, "site": c.site, "zone": c.zone, "status": c.status,
        "reason": c.reason or None,
        "start": _utc(campaign, c.start), "end": _utc(campaign, c.end),
        "windows": [{"name": w.name, "start": _utc(campaign, w.start), "end": _utc(campaign, w.end),
                     "local_start": _local(campaign, w.start, zone), "local_end": _local(campaign, w.end, zone),
                     "safe_point": _utc(campaign, w.stops_at), "units": w.units} for w in c.windows],
        "script": script,
        "files": [{"path": path, "sha256": _sha(data)} for path, data in written.items()],
    }


def readme(manifest: dict) -> str:
    """DIR/README.txt: what the folder is and how a pipeline drives it, then one line per cluster."""
    counts = ", ".join(f"{n} {s}" for s, n in manifest["counts"].items() if n)
    lines = [
        f"Upgrade campaign {manifest['fleet']}, emitted by hciplan {manifest['hciplan']} from "
        f"{manifest['fleet_file']} (`hciplan fleet emit`). Do not edit: change the files and emit again.",
        "",
        f"{len(manifest['clusters'])} clusters: {counts}. manifest.json ({SCHEMA}) lists them in campaign order",
        "with their wave, windows, plan fingerprint and the SHA-256 of every file in their folder.",
        "",
        "To drive it: take the clusters in manifest order, wave by wave; run a cluster only when its status is",
        "`planned`, and only in its windows: in each window, from its folder, check the files' hashes, then run",
        "  .\\Invoke-HciUpgrade.ps1 -WindowEnd '<the window's end>'",
        "(the script's own default windows are the cluster file's). The script resumes from its journal in the",
        "next window. Overran, unplaced and held clusters have their folder but no window: see their reason.",
        "",
    ]
    for e in manifest["clusters"]:
        when = (", ".join(f"{w['name']} {w['start']} .. {w['end']}" for w in e["windows"])
                or (e["reason"] or "no window"))
        lines.append(f"wave {e['wave']}  ring {e['ring']}  {e['folder']}/  {e['status']}: {when}")
    return "\n".join(lines) + "\n"


# --- writing ------------------------------------------------------------------------------------------------


def _current(directory: Path) -> dict[str, bytes] | None:
    """Every file under `directory` (relative POSIX path -> bytes); None when something is not a plain file."""
    found: dict[str, bytes] = {}
    for root, dirs, files in os.walk(directory):
        for d in dirs:
            if os.path.islink(os.path.join(root, d)):
                return None
        for f in files:
            path = os.path.join(root, f)
            if os.path.islink(path) or not os.path.isfile(path):
                return None
            try:
                found[Path(os.path.relpath(path, directory)).as_posix()] = read_at_most(path, MAX_JSON_BYTES)
            except Exception:  # noqa: BLE001  (too large or unreadable: not our output)
                return None
    return found


def _is_earlier_emit(directory: Path) -> bool:
    try:
        document = json.loads(read_at_most(directory / MANIFEST, MAX_JSON_BYTES).decode("utf-8"))
    except Exception:  # noqa: BLE001  (missing, unreadable, not JSON: not an earlier emit)
        return False
    return isinstance(document, dict) and document.get("schema") == SCHEMA


def write_tree(directory: str | os.PathLike, tree: dict[str, bytes], *, force: bool) -> str:
    """Put `tree` in `directory` whole, or change nothing: "wrote" or "unchanged".

    A missing or empty DIR is written; one holding exactly these files is left alone ("unchanged"); any
    other non-empty DIR raises FileExistsError, and with `force` is replaced whole only when it is an earlier
    `hciplan fleet emit` (its manifest.json is a hciplan.fleet-manifest/1): no other folder is ever deleted.
    """
    directory = Path(directory)
    target = Path(os.path.abspath(directory))  # `.` or `out/..` have a name and a parent only once resolved
    here = Path(os.path.realpath(os.getcwd()))
    if Path(os.path.realpath(target)) in (here, *here.parents):
        raise WriteError(directory, "it is the working folder or holds it (DIR is replaced by a rename): "
                         "give a folder beside or below it")
    if os.path.islink(directory):
        raise WriteError(directory, "it is a symbolic link: give the folder it points to")
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise WriteError(directory, "it exists and is not a folder")
    existing = os.path.isdir(directory) and any(os.scandir(directory))
    if existing:
        if _current(directory) == tree:
            return "unchanged"
        if not force:
            raise FileExistsError(f"{directory} is not empty")
        if not _is_earlier_emit(directory):
            raise WriteError(directory, f"it is not empty and holds no {SCHEMA} {MANIFEST}: --force replaces "
                             "only a folder an earlier `hciplan fleet emit` wrote; choose another DIR")
    parent = target.parent
    make_folder(parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as error:
        raise WriteError(parent, error.strerror or str(error)) from None
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0700: DIR gets a folder's usual mode
        for name, data in sorted(tree.items()):
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        _swap(staging, target, existing)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise WriteError(directory, error.strerror or str(error)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return "wrote"


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _swap(staging: Path, directory: Path, existing: bool) -> None:
    """Rename the staged tree into place; the old one is moved aside first and removed only after."""
    if not existing:
        if os.path.isdir(directory):
            os.rmdir(directory)  # empty: os.rename onto a folder fails on Windows
        os.rename(staging, directory)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=staging.parent))
    os.rmdir(aside)
    os.rename(directory, aside)
    try:
        os.rename(staging, directory)
    except OSError:
        os.rename(aside, directory)  # put the old tree back: nothing changed
        raise
    shutil.rmtree(aside, ignore_errors=True)
