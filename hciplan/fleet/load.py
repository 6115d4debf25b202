"""Checking a fleet file: its own rules, then every cluster file it lists, each compiled once.

`check_fleet(path)` never raises for the user's input: an unreadable or
broken fleet file, a missing cluster file, a glob matching nothing, an
unknown zone are diagnostics (compiler/diagnostics.py, codes HCI12xx in
compiler/codes.py) rendered by the compiler's one renderer. A broken cluster
file adds its own diagnostics and the other clusters are still checked.

Cluster files are read in campaign order (ring, then entry) and compiled once
per content (SHA-256 of the bytes). A glob or folder leaves out the files an
earlier entry listed (the pilot ring names its clusters, a later ring takes
"the rest of the folder"); a file named explicitly twice, or two files
describing the same cluster, is HCI1207.

Entries stay inside the fleet file's folder tree (HCI1211): no absolute path,
drive or UNC name, and no `..` that climbs above it, so `hciplan check` in a
fleet repository's CI reads that repository only. Globs are matched by a
walker of our own, not `glob.glob`: it lists at most MAX_WALK_ENTRIES
directory entries per glob (HCI1212 past that, instead of walking a whole
disk for minutes) and its `**` does not descend into symlinked folders, so a
symlink loop cannot make it spin.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import re
from dataclasses import replace
from pathlib import Path, PurePosixPath, PureWindowsPath

from hciplan.compiler import codes  # noqa: F401  (registers every diagnostic code)
from hciplan.compiler import syntax
from hciplan.compiler.compile import CompileResult, compile_checked
from hciplan.compiler.diagnostics import Collector, Diagnostic, Related, Severity, did_you_mean
from hciplan.compiler.lower import _lower_block
from hciplan.compiler.pipeline import MAX_SOURCE_BYTES, _too_large, check_bytes, decode
from hciplan.compiler.source import Source, Span
from hciplan.files import TooLarge, read_at_most
from hciplan.fleet import model as fm
from hciplan.fleet import zones
from hciplan.records import record

GLOB_CHARS = re.compile(r"[*?\[]")
# Directory entries one glob may list before HCI1212 stops it (assumption: a fleet repository of a
# few thousand clusters lists well under this; a walk of 100,000 entries takes about a second).
MAX_WALK_ENTRIES = 100_000
FLEET_BLOCK = re.compile(r'^[ \t]*fleet[ \t]+"', re.M)  # how a cluster entry that is itself a fleet file is told


@record(slots=False)
class ClusterFile:
    """One cluster file the fleet reaches, in campaign order, with its compiled plan."""

    entry: int  # index of its `cluster` entry in the fleet
    name: str  # the file as diagnostics and reports name it
    digest: str  # "sha256:" + the hash of its bytes
    result: CompileResult | None  # None: it could not be read (HCI1201 says why)

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok


@record(slots=False)
class FleetCheck:
    """A checked fleet: the model when it could be built, its cluster files, every diagnostic."""

    name: str
    fleet: fm.Fleet | None
    clusters: tuple[ClusterFile, ...]
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, Source]  # every file a diagnostic may quote, by its name

    @property
    def ok(self) -> bool:
        """No error anywhere: in the fleet's rules or in any cluster file."""
        return self.fleet is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


def is_fleet_text(text: str) -> bool:
    """Whether a `.hciplan` text is a fleet file (a top-level `fleet "..."` block): cheap, for `hciplan check`."""
    return FLEET_BLOCK.search(text) is not None


def is_fleet_file(path: str) -> bool:
    """Whether the file at `path` is a fleet file; False when it cannot be read (the caller reports that)."""
    try:
        data = read_at_most(Path(path), MAX_SOURCE_BYTES)
    except (OSError, TooLarge):
        return False
    return is_fleet_text(data.decode("utf-8", errors="replace"))


def check_fleet(path: str, name: str | None = None) -> FleetCheck:
    """Read and check the fleet file at `path` and every cluster file it lists (named relative to it)."""
    name = str(path) if name is None else name
    diagnostics = Collector()
    sources: dict[str, Source] = {}
    try:
        data = read_at_most(Path(path), MAX_SOURCE_BYTES)
    except TooLarge as error:
        _too_large(name, error.size, diagnostics)
        return FleetCheck(name, None, (), tuple(diagnostics.sorted()), sources)
    except OSError as error:
        diagnostics.report("HCI1201", Span(name, 1, 1, 1, 1), f"cannot read the fleet file: "
                           f"{error.strerror or error}")
        return FleetCheck(name, None, (), tuple(diagnostics.sorted()), sources)
    source = decode(name, data, diagnostics)
    if source is None:
        return FleetCheck(name, None, (), tuple(diagnostics.sorted()), sources)
    sources[name] = source
    fleet = _lower_fleet(source, diagnostics)
    clusters: list[ClusterFile] = []
    if fleet is not None:
        _check_rules(fleet, diagnostics)
        clusters = _load_clusters(fleet, Path(path), name, diagnostics, sources)
        if not diagnostics.has_errors:
            zones.check_windows(fleet, clusters, diagnostics)
    found = list(diagnostics.items)
    for c in clusters:
        if c.result is not None:
            found.extend(c.result.diagnostics)
    unique = sorted(set(found), key=Diagnostic.sort_key)  # a file listed twice reports its diagnostics once
    return FleetCheck(name, fleet, tuple(clusters), tuple(unique), sources)


def _lower_fleet(source: Source, diagnostics: Collector) -> fm.Fleet | None:
    document = syntax.parse(source, diagnostics)
    if document is None or diagnostics.has_errors:
        return None
    blocks = []
    for item in document.body:
        if isinstance(item, syntax.Attribute):
            diagnostics.report("HCI102", item.name_span, f"attribute `{item.name}` outside any block",
                               hints=["attributes of the campaign belong inside the `fleet` block"])
        elif item.type == "fleet":
            blocks.append(item)
        else:
            diagnostics.report("HCI1210", item.type_span, f"a fleet file holds no `{item.type}` block",
                               hints=[did_you_mean(item.type, ["fleet"]),
                                      "cluster and upgrade blocks belong in the cluster files the fleet lists"])
    if not blocks:
        diagnostics.report("HCI1210", Span(source.name, 1, 1, 1, 1), "the file has no `fleet` block",
                           hints=['write `fleet "name" { ... }` (see docs/fleet.md)'])
        return None
    for extra in blocks[1:]:
        diagnostics.report("HCI1210", extra.header_span, "a second `fleet` block: one file describes one campaign",
                           related=[Related(blocks[0].header_span, "the first one is here")])
    fleet = _lower_block(blocks[0], fm.FLEET, diagnostics)
    return None if diagnostics.has_errors else fleet


def _check_rules(fleet: fm.Fleet, diagnostics: Collector) -> None:
    """The fleet's own rules: zones, sites, blackouts, ring numbering."""
    for site in fleet.sites:
        zones.check_zone(site.zone, site.spans["zone"], diagnostics)
    for shift in fleet.shifts:
        zones.check_zone(shift.zone, shift.spans["zone"], diagnostics)
    seen_sites: dict[str, fm.Site] = {}
    for site in fleet.sites:
        if site.name in seen_sites:
            diagnostics.report("HCI106", site.spans.header, f"site `{site.name}` is defined twice",
                               related=[Related(seen_sites[site.name].spans.header, "first defined here")])
        seen_sites.setdefault(site.name, site)
    for blackout in fleet.blackouts:
        if blackout.end < blackout.start:
            diagnostics.report("HCI1204", blackout.spans["end"],
                               f"blackout `{blackout.name}` ends on {blackout.end} before it starts on "
                               f"{blackout.start}", related=[Related(blackout.spans["start"], "it starts here")],
                               hints=["`end` is the last day of the blackout, included"])
    for entry in fleet.entries:
        if entry.zone is not None:
            zones.check_zone(entry.zone, entry.spans["zone"], diagnostics)
        if entry.site is not None and entry.site not in seen_sites:
            diagnostics.report("HCI1209", entry.spans["site"], f"no site `{entry.site}` in this fleet",
                               hints=[did_you_mean(entry.site, seen_sites),
                                      "sites: " + (", ".join(seen_sites) or "none")])
    rings = sorted({e.ring for e in fleet.entries})
    first_of = {}
    for entry in fleet.entries:
        first_of.setdefault(entry.ring, entry)
    expected = 0
    for ring in rings:
        if ring != expected:
            missing = "ring 0 (the pilot)" if expected == 0 else (
                f"ring {expected}" if ring == expected + 1 else f"rings {expected} to {ring - 1}")
            diagnostics.report("HCI1202", first_of[ring].spans["ring"],
                               f"ring {ring} without {missing}: rings are numbered 0, 1, 2, ... with no gap",
                               hints=[f"number this ring {expected}, or add the clusters of {missing}"])
        expected = ring + 1


class _TooMany(Exception):
    """A glob listed more than MAX_WALK_ENTRIES directory entries."""


def _escapes(label: str) -> str | None:
    """Why an entry label reaches outside the fleet file's folder tree, or None when it stays inside.

    Read on both path flavours: a fleet repository checked on Linux is also checked on Windows.
    """
    if PurePosixPath(label).is_absolute() or PureWindowsPath(label).anchor:
        return f"`{label}` is an absolute path"
    normal = posixpath.normpath(label.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        return f"`{label}` climbs above the fleet file's folder"
    return None


def _glob(base: Path, label: str) -> list[Path]:
    """The `.hciplan` files a glob label matches under `base`, as `glob.glob(recursive=True)` would.

    Same rules as glob: `*`, `?`, `[...]` within one name, `**` alone for any depth, names starting
    with a dot only matched by a pattern starting with one, a trailing `/` dropped (as `base / label`
    always did). Two differences, on purpose: at most
    MAX_WALK_ENTRIES directory entries are listed (_TooMany past that) and `**` does not enter
    symlinked folders (a loop would otherwise spin).
    """
    normal = posixpath.normpath(label.replace("\\", "/") if os.sep == "\\" else label)
    parts = [] if normal == "." else normal.split("/")
    if parts and parts[-1] == "**":
        parts.append("*")  # a trailing `**` matches every file below; only files count here
    budget = [MAX_WALK_ENTRIES]

    def listing(folder: Path) -> list[os.DirEntry]:
        entries = []
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    budget[0] -= 1
                    if budget[0] < 0:
                        raise _TooMany
                    entries.append(entry)
        except OSError:
            return []  # unreadable or not a folder: glob.glob skips it too
        return entries

    found: set[Path] = set()
    stack: list[tuple[Path, int]] = [(base, 0)]
    visited: set[tuple[Path, int]] = set()
    while stack:  # an explicit stack: a deep tree does not hit Python's recursion limit
        folder, i = stack.pop()
        if (folder, i) in visited:
            continue  # `**/**` reaches a folder twice
        visited.add((folder, i))
        part, last = parts[i], i == len(parts) - 1
        if part == "**":
            stack.append((folder, i + 1))
            for entry in listing(folder):
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                    stack.append((folder / entry.name, i))
        elif not GLOB_CHARS.search(part):
            child = folder / part
            if last:
                found.add(child)
            elif child.is_dir():
                stack.append((child, i + 1))
        else:
            hidden = part.startswith(".")
            for entry in listing(folder):
                if (hidden or not entry.name.startswith(".")) and fnmatch.fnmatch(entry.name, part):
                    if last:
                        found.add(folder / entry.name)
                    elif entry.is_dir():
                        stack.append((folder / entry.name, i + 1))
    return sorted(p for p in found if p.name.endswith(".hciplan") and p.is_file())


def _matches(base: Path, label: str) -> tuple[list[Path], str | None]:
    """The files an entry label reaches, sorted, and why there are none (None when there are some).

    Raises _TooMany for a glob that lists too much.
    """
    target = base / label
    if GLOB_CHARS.search(label):
        found = _glob(base, label)
        return found, None if found else f"the glob `{label}` matches no .hciplan file"
    if target.is_dir():
        found = sorted(p for p in target.iterdir() if p.suffix == ".hciplan" and p.is_file())
        return found, None if found else f"the folder `{label}` holds no .hciplan file"
    if target.is_file():
        return [target], None
    return [], f"no file `{label}`" + ("" if target.parent.is_dir() else f" (no folder `{Path(label).parent}`)")


def _display(fleet_name: str, base: Path, path: Path) -> str:
    """A cluster file's name in diagnostics: beside the fleet file's name as the user wrote it."""
    try:
        relative = path.relative_to(base)
    except ValueError:
        return path.as_posix()
    return Path(os.path.normpath(Path(fleet_name).parent / relative)).as_posix()


def _load_clusters(fleet: fm.Fleet, fleet_path: Path, fleet_name: str, diagnostics: Collector,
                   sources: dict[str, Source]) -> list[ClusterFile]:
    """Every cluster file in campaign order (ring, then entry, then path), each compiled once per content."""
    base = fleet_path.parent
    compiled: dict[str, CompileResult] = {}  # content hash -> compile result
    seen_files: dict[str, tuple[int, fm.Entry]] = {}  # resolved path -> the entry that listed it first
    seen_names: dict[str, tuple[str, fm.Entry]] = {}  # cluster name (case-insensitive) -> file, entry
    fleet_file = os.path.realpath(fleet_path)
    out: list[ClusterFile] = []
    order = sorted(range(len(fleet.entries)), key=lambda i: (fleet.entries[i].ring, i))
    for index in order:
        entry = fleet.entries[index]
        label_span = entry.spans.header
        escape = _escapes(entry.path)
        if escape is not None:
            diagnostics.report("HCI1211", label_span, f"{escape}: a cluster entry stays inside the fleet file's folder",
                               hints=["move the fleet file up to the folder that holds its clusters, "
                                      "and write the paths relative to it"])
            continue
        try:
            files, missing = _matches(base, entry.path)
        except _TooMany:
            diagnostics.report("HCI1212", label_span,
                               f"the glob `{entry.path}` lists more than {MAX_WALK_ENTRIES:,} directory entries",
                               hints=["start the glob in the clusters' folder (`stores/**/*.hciplan`, not "
                                      "`**/*.hciplan`), or list the folders one by one"])
            continue
        if missing is not None:
            diagnostics.report("HCI1201", label_span, missing,
                               hints=["paths, globs and folders are relative to the fleet file's folder"])
            continue
        for path in files:
            real = os.path.realpath(path)
            shown = _display(fleet_name, base, path)
            if real == fleet_file:
                if GLOB_CHARS.search(entry.path) or path != base / entry.path:
                    continue  # a glob or folder that also matches the fleet file: not a cluster, skipped
                diagnostics.report("HCI1208", label_span, "the entry names the fleet file itself")
                continue
            if real in seen_files:
                if GLOB_CHARS.search(entry.path) or path != base / entry.path:
                    continue  # a glob or folder leaves out what an earlier entry (a pilot ring) listed
                diagnostics.report("HCI1207", label_span, f"`{shown}` is listed twice",
                                   related=[Related(seen_files[real][1].spans.header, "listed first here")],
                                   hints=["a cluster is upgraded once, in one ring: list it once"])
                continue
            seen_files[real] = (index, entry)
            try:
                data = read_at_most(path, MAX_SOURCE_BYTES)
            except TooLarge as error:
                local = Collector()
                _too_large(shown, error.size, local)
                out.append(ClusterFile(index, shown, "", None))
                diagnostics.items.extend(local.items)
                continue
            except OSError as error:
                diagnostics.report("HCI1201", label_span, f"cannot read `{shown}`: {error.strerror or error}")
                continue
            if is_fleet_text(data.decode("utf-8", errors="replace")):
                diagnostics.report("HCI1208", label_span, f"`{shown}` is a fleet file, not a cluster file",
                                   hints=["fleets do not nest: list its cluster files instead"])
                continue
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            result = compiled.get(digest)
            if result is None or result.check.source is None or result.check.source.name != shown:
                if result is None:
                    result = compiled[digest] = compile_checked(check_bytes(shown, data), need_plan=True)
                else:  # the same bytes in another file: its own name in its diagnostics, the same plan
                    result = _renamed(result, shown)
            if result.check.source is not None:
                sources[shown] = result.check.source
            cluster = result.check.model.cluster if result.check.model is not None else None
            if cluster is not None:
                key = cluster.name.lower()
                if key in seen_names:
                    first_file, first_entry = seen_names[key]
                    diagnostics.report("HCI1207", label_span,
                                       f"`{shown}` describes cluster `{cluster.name}`, as `{first_file}` does",
                                       related=[Related(first_entry.spans.header, "listed first here")],
                                       hints=["each cluster is upgraded once: list one file per cluster"])
                    continue
                seen_names[key] = (shown, entry)
            out.append(ClusterFile(index, shown, digest, result))
    return out


def _renamed(result: CompileResult, name: str) -> CompileResult:
    """A compile result whose diagnostics and source name another file with the same bytes."""
    def move(d: Diagnostic) -> Diagnostic:
        related = tuple(replace(r, span=replace(r.span, file=name)) for r in d.related)
        return replace(d, span=replace(d.span, file=name), related=related)

    source = replace(result.check.source, name=name) if result.check.source is not None else None
    check = replace(result.check, source=source, diagnostics=tuple(move(d) for d in result.check.diagnostics))
    return replace(result, check=check, diagnostics=tuple(move(d) for d in result.diagnostics))
