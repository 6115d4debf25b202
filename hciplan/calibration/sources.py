"""The files `hciplan calibrate` learns from: read, recognised, checked and turned into plain records.

Three kinds of source (docs/calibration.md shows a sample of each and where
every property name comes from):

- **journal**: the upgrade script's JSON-lines journal (`hciplan/journal.py`
  reads it). One journal may hold several runs: a run is one invocation of the
  script, the records between two stops (`Invocation`).
- **cau**: CAU run reports, `Get-CauReport -Detailed | ConvertTo-Json -Depth 6`
  or `| Export-Clixml -Depth 6` (read by `hciplan.calibration.clixml`).
- **lcm**: Lifecycle Manager update runs, `Get-SolutionUpdateRun |
  ConvertTo-Json -Depth 30`, or the REST API's update runs (`{"value": [...]}`).

Windows exports are accepted as they come: UTF-8 with or without a BOM, UTF-16
with a BOM (Windows PowerShell's `>` and `Export-Clixml`), PowerShell 5.1's
`"\\/Date(1718188034334)\\/"` dates, ISO dates with seven decimals, TimeSpans
as `ConvertTo-Json` writes them (`{"Ticks": ...}`) or as text (`00:16:37.97`),
enums as names or numbers, a single object where a list is expected. Anything
else is refused with the file, the JSON path (or line) and the field:
`runs.json: $[0].Progress.Steps[3]: no StartTimeUtc`. Inputs are bounded in
size, nesting depth and item count, so a wrong or hostile file is an error
message, never a hang or a traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from hciplan.calibration.clixml import ClixmlError, parse_xml_duration, parse_xml_time, read_clixml
from hciplan.files import SURROGATE_MESSAGE, TooLarge, lone_surrogate_path, read_at_most, windows_encoding
from hciplan.journal import Journal, JournalError, Record, parse_journal

MAX_SOURCE_BYTES = 64 * 1024 * 1024  # as a journal: years of nightly runs are a few MB
MAX_DEPTH = 64  # JSON nesting; an update run's step tree is about 10 deep
MAX_ITEMS = 2_000_000  # JSON values per file
MAX_STEPS = 100_000  # update-run steps per file
SOURCE_TYPES = ("journal", "cau", "lcm")
# The script stops (exits) after these records; the next record is another invocation (runner.ps1, Stop-Upgrade).
STOPS = ("window", "failed", "timeout", "paused", "declined")


class SourceError(Exception):
    """A source that cannot be used: the file, where in it, what is wrong and, where it helps, how to fix it."""

    def __init__(self, path: str, where: str | None, message: str):
        super().__init__(f"{path}: {where}: {message}" if where else f"{path}: {message}")
        self.path, self.where, self.message = path, where, message


# --- reading and recognising a file ---------------------------------------------------------------


def decode_text(data: bytes, path: str) -> str:
    """UTF-8 (a BOM allowed) or UTF-16 with a BOM, as Windows PowerShell writes `>` and `Export-Clixml`."""
    encoding = windows_encoding(data)
    if encoding != "utf-16":
        if len(data) >= 4 and data[1:4:2] == b"\x00\x00" and data[0] and data[2]:
            raise SourceError(path, None, "looks like UTF-16 without a byte-order mark; save it as UTF-8, "
                              "or as UTF-16 with a BOM (`Out-File -Encoding Unicode`)")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise SourceError(path, None, f"is not {encoding.upper().removesuffix('-SIG')} text (byte {error.start}): "
                          "export it as UTF-8 or UTF-16 with a BOM") from None


def read_bytes(path: str | Path) -> bytes:
    name = str(path)
    try:
        data = read_at_most(path, MAX_SOURCE_BYTES)
    except TooLarge:
        raise SourceError(name, None, f"is larger than {MAX_SOURCE_BYTES // 2**20} MB: export fewer runs per file") \
            from None
    except OSError as error:
        raise SourceError(name, None, f"cannot be read: {error.strerror or error}") from None
    return data


def _load_json(text: str, path: str) -> object:
    try:
        document = json.loads(text)
    except RecursionError:
        raise SourceError(path, None, f"JSON nested deeper than {MAX_DEPTH} levels: not an export of run "
                          "records") from None
    except ValueError as error:
        where = f"line {error.lineno} column {error.colno}" if hasattr(error, "lineno") else None
        raise SourceError(path, where, f"is not JSON ({getattr(error, 'msg', error)})") from None
    _check_bounds(document, path)
    where = lone_surrogate_path(document)
    if where is not None:
        raise SourceError(path, where, SURROGATE_MESSAGE)
    return document


def _check_bounds(document: object, path: str) -> None:
    """Nesting depth and item count, walked without recursion."""
    stack = [(document, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_ITEMS:
            raise SourceError(path, None, f"holds more than {MAX_ITEMS:,} JSON values: export fewer runs per file")
        if depth > MAX_DEPTH:
            raise SourceError(path, None, f"JSON nested deeper than {MAX_DEPTH} levels: not an export of run "
                              "records")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _first_line_object(text: str) -> dict | None:
    for line in text.splitlines():
        if line.strip():
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):
                return None
            return value if isinstance(value, dict) else None
    return None


def _is_journal_line(value: object) -> bool:
    return isinstance(value, dict) and "step" in value and "status" in value


def _kind_of_document(document: object, path: str) -> str:
    items = document if isinstance(document, list) else [document]
    if isinstance(document, dict) and isinstance(_get(document, "value"), list):  # the REST API's list
        items = _get(document, "value")
    if not items:
        raise SourceError(path, "$", "is an empty list: there are no runs in this export")
    first = items[0]
    where = "$[0]" if isinstance(document, list) else "$"
    if not isinstance(first, dict):
        raise SourceError(path, where, f"is {_describe(first)}, not a CAU report, an update run or a journal line")
    if _is_journal_line(first):
        return "journal"
    if _has(first, "ClusterResult"):
        return "cau"
    if _has(first, "Progress") or isinstance(_get(first, "properties"), dict):
        return "lcm"
    keys = ", ".join(sorted(first)[:6])
    raise SourceError(path, where, f"is not a CAU report (no ClusterResult), an update run (no Progress) nor a "
                      f"journal line (no step and status); it has {keys or 'no properties'}. Accepted: "
                      "Get-CauReport -Detailed, Get-SolutionUpdateRun (ConvertTo-Json or Export-Clixml) and the "
                      "upgrade script's journal")


@dataclass(frozen=True)
class SourceFile:
    """One file, read: its kind and its records (only the field for its kind is set)."""

    path: str
    kind: str
    journal: "JournalFile | None" = None
    cau: tuple["CauRun", ...] = ()
    lcm: tuple["LcmRun", ...] = ()


def read_source(path: str | Path, source_type: str = "auto") -> SourceFile:
    """Read one source file; `source_type` is `auto` (recognise it) or one of SOURCE_TYPES."""
    name = str(path)
    text = decode_text(read_bytes(path), name)
    stripped = text.lstrip()
    if not stripped:
        raise SourceError(name, None, "is empty")
    if stripped.startswith("<"):
        try:
            objects = read_clixml(stripped)
        except ClixmlError as error:
            raise SourceError(name, None, f"CLIXML: {error}") from None
        kind = _kind_of_document(objects, name) if objects else None
        if kind is None:
            raise SourceError(name, None, "CLIXML with no objects: there are no runs in this export")
        return _read_document(name, objects, kind, source_type, clixml=True)
    if source_type == "journal":
        return SourceFile(name, "journal", journal=read_journal_text(text, name))
    first = _first_line_object(text)
    try:
        document = _load_json(text, name)
    except SourceError:
        if not _is_journal_line(first):
            raise
        document = None  # JSON lines: a journal
    kind = "journal" if document is None else _kind_of_document(document, name)
    if kind == "journal":
        _check_type(name, kind, source_type)
        return SourceFile(name, "journal", journal=read_journal_text(text, name))
    return _read_document(name, document, kind, source_type)


def _check_type(name: str, kind: str, source_type: str) -> None:
    if source_type not in ("auto", kind):
        raise SourceError(name, None, f"is not a {source_type} source: it reads as {kind} records "
                          "(drop --source-type, or check the file)")


def _read_document(name: str, document: object, kind: str, source_type: str, clixml: bool = False) -> SourceFile:
    _check_type(name, kind, source_type)
    export = "Export-Clixml -Depth" if clixml else "ConvertTo-Json -Depth"
    if kind == "cau":
        return SourceFile(name, kind, cau=read_cau(document, name, export))
    if kind == "lcm":
        return SourceFile(name, kind, lcm=read_lcm(document, name, export))
    raise SourceError(name, None, "a journal is JSON lines, not an XML export")


# --- values: a cursor that knows its JSON path ------------------------------------------------------


def _has(obj: dict, name: str) -> bool:
    return any(k.lower() == name.lower() for k in obj)


def _get(obj: dict, name: str, default=None):
    """A property by name, case-insensitively (PowerShell's names are; the REST API writes camelCase)."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return default


@dataclass(frozen=True)
class At:
    """A value and where it is (`$[0].ClusterResult.NodeResults[2]`), for messages that name the field."""

    value: object
    path: str
    file: str
    export: str = "ConvertTo-Json -Depth"  # how the file was exported, for the depth hint

    def error(self, message: str) -> SourceError:
        return SourceError(self.file, self.path, message)

    def member(self, name: str, required: bool = True, why: str = "") -> "At | None":
        obj = self.object()
        if not _has(obj, name):
            if required:
                raise self.error(f"no {name}" + (f" ({why})" if why else ""))
            return None
        return At(_get(obj, name), f"{self.path}.{name}", self.file, self.export)

    def object(self) -> dict:
        if isinstance(self.value, dict):
            return self.value
        if isinstance(self.value, str):
            raise self.error(f"is the text {self.value[:60]!r}, not an object: the export was cut at its "
                             f"depth; export again with `{self.export} 30`")
        raise self.error(f"is {_describe(self.value)}, not an object")

    def items(self) -> list["At"]:
        """A list's items; a single object counts as a list of one (PowerShell unrolls one-item pipelines)."""
        if self.value is None:
            return []
        if isinstance(self.value, list):
            return [At(v, f"{self.path}[{i}]", self.file, self.export) for i, v in enumerate(self.value)]
        return [self]

    def text(self) -> str | None:
        if self.value is None:
            return None
        if isinstance(self.value, str):
            return self.value
        if isinstance(self.value, (int, float)) and not isinstance(self.value, bool):
            return str(self.value)  # an enum exported as its number
        raise self.error(f"is {_describe(self.value)}, not text")

    def integer(self) -> int | None:
        if self.value is None:
            return None
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            return self.value
        raise self.error(f"is {_describe(self.value)}, not a whole number")

    def time(self) -> dt.datetime | None:
        return as_time(self)

    def span(self) -> dt.timedelta | None:
        return as_span(self)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return {"dict": "an object", "list": "a list"}.get(type(value).__name__, type(value).__name__)


_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$")


YEARS = range(1970, 2501)  # records of runs: anything else is not a time of one


def _known(moment: dt.datetime, at: "At") -> dt.datetime | None:
    """DateTime.MinValue and MaxValue (years 1 and 9999) are .NET's 'not set': an unknown time."""
    if moment.year <= 1 or moment.year >= 9999:
        return None
    if moment.year not in YEARS:
        raise at.error(f"is {moment.isoformat()}, not a plausible time of a run (years {YEARS[0]} to {YEARS[-1]})")
    return moment.astimezone(dt.timezone.utc)


def as_time(at: At) -> dt.datetime | None:
    """A time as PowerShell exports it; None for null and unknown times. Naive times are taken as UTC.

    Accepted: PowerShell 5.1's `/Date(1718188034334)/` (milliseconds since 1970, UTC; an offset suffix is
    informational), ISO 8601 with up to seven decimals, 5.1's `{"value": ..., "DateTime": ...}` wrapper of a
    `Get-Date` value, and a CLIXML `DT`. A time without a zone is UTC: the properties read here are UTC by
    name (`StartTimeUtc`) or, for CAU, by what Microsoft's scripts show (an assumption, docs/calibration.md).
    """
    value = at.value
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return _known(value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc), at)
    if isinstance(value, dict) and _has(value, "value"):
        return as_time(At(_get(value, "value"), at.path + ".value", at.file, at.export))
    if not isinstance(value, str):
        raise at.error(f"is {_describe(value)}, not a time")
    match = _MS_DATE.match(value.strip())
    if match:
        milliseconds = int(match.group(1))
        try:
            moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=milliseconds)
        except OverflowError:
            raise at.error(f"{value[:40]!r} is out of range") from None
        return _known(moment, at)
    try:
        moment = parse_xml_time(value)
    except (ValueError, OverflowError):
        raise at.error(f"{value[:60]!r} is not a time (expected ISO 8601, such as 2024-06-12T10:27:14.3340000Z, "
                       "or PowerShell 5.1's /Date(1718188034334)/)") from None
    return _known(moment, at)


MAX_SPAN = dt.timedelta(days=366)  # no step of an upgrade takes a year: beyond it the value is not a duration


def as_span(at: At) -> dt.timedelta | None:
    """A duration: a .NET TimeSpan as `ConvertTo-Json` writes it (`Ticks`), its text (`1.02:03:04.5`), or xsd.

    Between 0 and a year: anything else is refused (a negative or absurd value is not a step's duration).
    """
    try:
        span = _span(at)
    except OverflowError:
        raise at.error("is out of range for a duration") from None
    if span is not None and not dt.timedelta(0) <= span <= MAX_SPAN:
        raise at.error(f"is {span}, not a duration between 0 and {MAX_SPAN.days} days")
    return span


def _span(at: At) -> dt.timedelta | None:
    value = at.value
    if value is None or value == "":
        return None
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, dict):
        ticks = _get(value, "Ticks")
        if isinstance(ticks, int) and not isinstance(ticks, bool):
            return dt.timedelta(microseconds=ticks / 10)
        seconds = _get(value, "TotalSeconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            return dt.timedelta(seconds=seconds)
        raise at.error("is an object without Ticks or TotalSeconds, not a TimeSpan")
    if isinstance(value, str):
        match = _TIMESPAN.match(value.strip())
        if match:
            sign, days, hours, minutes, seconds, fraction = match.groups()
            delta = dt.timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds),
                                 microseconds=int((fraction or "0").ljust(7, "0")) / 10)
            return -delta if sign else delta
        try:
            return parse_xml_duration(value)
        except ValueError:
            pass
    raise at.error(f"is {_describe(value)}, not a duration (expected a TimeSpan such as 00:16:37.9688878)")


# --- journals --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """One run of the upgrade script: the journal's records between two stops.

    The script exits after a `window`, `failed`, `timeout`, `paused` or `declined`
    record, and every run starts with the read-only preflight; a rerun appends to
    the same journal. So a new invocation starts after a stop record, or where
    `p0.preflight` starts again.
    """

    source: str
    index: int  # 1-based, in journal order
    records: tuple[Record, ...]

    @property
    def key(self) -> str:
        return f"{self.source}#{self.index}"

    @property
    def fingerprint(self) -> str:
        return self.records[0].fingerprint

    @property
    def start(self) -> dt.datetime:
        return min(r.start for r in self.records)

    @property
    def end(self) -> dt.datetime:
        return max(r.end for r in self.records)

    @functools.cached_property
    def nodes(self) -> frozenset[str]:
        """Node names, from the ids of per-node steps (`p1.registry.HCI04.drain`, `p1.bitlocker_suspend.HCI01`)."""
        from hciplan.calibration.mapping import node_of  # noqa: PLC0415 (the id scheme lives there)

        return frozenset(n.lower() for n in (node_of(r.step) for r in self.records) if n)

    @functools.cached_property
    def cau_starts(self) -> tuple[dt.datetime, ...]:
        """When this invocation started the CAU run (the `p2.cau_run` entry's start)."""
        return tuple(dict.fromkeys(r.start for r in self.records if r.step == "p2.cau_run"
                                   and r.status in ("start", "done", "failed", "timeout")))


@dataclass(frozen=True)
class JournalFile:
    path: str
    journal: Journal
    invocations: tuple[Invocation, ...]


def split_invocations(journal: Journal) -> tuple[Invocation, ...]:
    runs: list[list[Record]] = [[]]
    for record in journal.records:
        current = runs[-1]
        # the preflight starting again (its `unit` record, then `start`) is a new run of the script
        restart = record.step == "p0.preflight" and record.status in ("unit", "start") and any(
            r.step == "p0.preflight" and r.status == "start" for r in current)
        if current and (restart or current[-1].status in STOPS):
            runs.append([])
        runs[-1].append(record)
    return tuple(Invocation(journal.path, i, tuple(records)) for i, records in enumerate(runs, start=1) if records)


def read_journal_text(text: str, path: str) -> JournalFile:
    try:
        journal = parse_journal(text, path)
    except JournalError as error:
        raise SourceError(path, f"line {error.line}" if error.line else None, error.message) from None
    if not journal.records:
        raise SourceError(path, None, "is a journal without records")
    return JournalFile(path, journal, split_invocations(journal))


# --- CAU run reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CauUpdate:
    title: str
    succeeded: bool | None  # None: a result code this reader does not know
    at: dt.datetime | None  # when the update was installed (UpdateTimestamp)


@dataclass(frozen=True)
class CauNode:
    name: str
    where: str
    status: str
    succeeded: bool
    status_inferred: bool  # the status was a number (an enum value not published): success inferred
    suspended_at: dt.datetime | None
    suspended_for: dt.timedelta | None
    updates: tuple[CauUpdate, ...]
    retried: bool  # TransientInstallErrors: the node's times may span several attempts


@dataclass(frozen=True)
class CauRun:
    source: str
    where: str
    run_id: str | None
    cluster: str | None
    start: dt.datetime | None
    duration: dt.timedelta | None
    plugins: tuple[str, ...]
    status: str | None
    nodes: tuple[CauNode, ...]

    @property
    def key(self) -> str:
        return self.run_id or f"{self.cluster}@{self.start.isoformat() if self.start else self.where}"


_RESULT_CODES = {"succeeded": True, "0": True, "failed": False, "1": False, "canceled": False, "2": False}


def read_cau(document: object, path: str, export: str = "ConvertTo-Json -Depth") -> tuple[CauRun, ...]:
    """CauReport objects (Get-CauReport -Detailed). Property names: docs/calibration.md, "CAU run reports"."""
    root = At(document, "$", path, export)
    runs = []
    for report in root.items():
        runs.append(_read_cau_report(report))
    return tuple(runs)


def _read_cau_report(report: At) -> CauRun:
    report.object()
    result = report.member("ClusterResult", why="Get-CauReport -Detailed writes it")
    result.object()
    plugin = report.member("Plugin", required=False)
    plugins: tuple[str, ...] = ()
    if plugin is not None:
        plugins = tuple(p for p in (item.text() for item in plugin.items()) if p)
    run_id = None
    run = result.member("RunId", required=False)
    if run is not None and run.value is not None:
        run_id = (run.member("Guid").text() if isinstance(run.value, dict) else run.text())
    name = result.member("Name", required=False)
    start = result.member("StartTimestamp", why="when the CAU run started")
    duration = result.member("RunDuration", required=False)
    status = result.member("Status", required=False)
    nodes = result.member("NodeResults", why="the per-node results of -Detailed")
    return CauRun(report.file, report.path, run_id, name.text() if name else None, start.time(),
                  duration.span() if duration else None, plugins, status.text() if status else None,
                  tuple(_read_cau_node(item) for item in nodes.items()))


def _read_cau_node(item: At) -> CauNode:
    item.object()
    node = item.member("Node", why="the node's name")
    if isinstance(node.value, dict):
        name = node.member("NodeName").text()
    else:
        name = node.text()  # a CauNode's ToString is its name (what Format-List shows)
    if not name:
        raise node.error("has no node name")
    status_at = item.member("Status")
    status = status_at.text() or ""
    suspended_at = item.member("NodeSuspendedTimestamp", why="when CAU suspended (paused and drained) the node")
    suspended_for = item.member("NodeSuspendedDuration", why="how long the node stayed suspended")
    installs = item.member("InstallResults", why="the node's updates with their times")
    updates = []
    for install in installs.items():
        install.object()
        code = install.member("UpdateResultCode").text()
        title = install.member("UpdateTitle", required=False)
        at = install.member("UpdateTimestamp", why="when the update was installed")
        updates.append(CauUpdate((title.text() if title else None) or "", _RESULT_CODES.get((code or "").lower()),
                                 at.time()))
    transient = item.member("TransientInstallErrors", required=False)
    retried = transient is not None and bool(transient.items())
    inferred = isinstance(status_at.value, int)
    if inferred:  # the NodeResult status enum's numbers are not published: judge by the updates
        failed = item.member("NumberOfFailedUpdates", required=False)
        succeeded = (failed is None or failed.integer() in (0, None)) and bool(updates) and all(
            u.succeeded for u in updates)
    else:
        succeeded = status.lower() == "succeeded"
    return CauNode(name, item.path, status, succeeded, inferred, suspended_at.time(), suspended_for.span(),
                   tuple(updates), retried)


# --- Lifecycle Manager update runs -----------------------------------------------------------------


@dataclass(frozen=True)
class LcmStep:
    name: str
    status: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    where: str


@dataclass(frozen=True)
class LcmRun:
    source: str
    where: str
    run_id: str | None
    root: LcmStep
    stages: tuple[LcmStep, ...] = field(default=())

    @property
    def key(self) -> str:
        return self.run_id or f"{self.source}:{self.where}"


def read_lcm(document: object, path: str, export: str = "ConvertTo-Json -Depth") -> tuple[LcmRun, ...]:
    """Update runs: Get-SolutionUpdateRun objects (ResourceId, Progress, ...) or REST resources (id, properties)."""
    root = At(document, "$", path, export)
    if isinstance(document, dict) and isinstance(_get(document, "value"), list):
        root = root.member("value")
    runs = []
    counter = [0]
    for run in root.items():
        obj = run.object()
        if _has(obj, "properties"):  # the REST API: the run is a resource, its step tree is properties.progress
            progress = run.member("properties").member("progress", why="the update run's step tree")
            run_id = run.member("id", required=False) or run.member("name", required=False)
        else:
            progress = run.member("Progress", why="the update run's step tree (Get-SolutionUpdateRun)")
            run_id = run.member("ResourceId", required=False)
        root_step = _read_step(progress, counter)
        steps = progress.member("Steps", why="its stages (an empty list when it has none)")
        stages = tuple(_read_step(stage, counter) for stage in steps.items())
        for stage in steps.items():
            _check_steps(stage, counter)
        runs.append(LcmRun(path, run.path, run_id.text() if run_id else None, root_step, stages))
    return tuple(runs)


def _read_step(at: At, counter: list[int]) -> LcmStep:
    counter[0] += 1
    if counter[0] > MAX_STEPS:
        raise at.error(f"more than {MAX_STEPS:,} steps in one file: export fewer runs per file")
    at.object()
    name = at.member("Name").text() or ""
    status = at.member("Status").text()
    start = at.member("StartTimeUtc", why="null when the step has not started").time()
    end = at.member("EndTimeUtc", why="null when the step has not ended").time()
    return LcmStep(name, status, start, end, at.path)


def _check_steps(at: At, counter: list[int]) -> None:
    """Every nested step has the shape of a step (only the run and its stages are mapped to step kinds)."""
    stack = [at]
    while stack:
        children = stack.pop().member("Steps", required=False)
        if children is None:
            continue
        for child in children.items():
            _read_step(child, counter)
            stack.append(child)
