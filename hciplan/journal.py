"""The upgrade script's journal, read back (and written from a simulated run, for tests and rehearsals).

The script appends one JSON object per line (docs/powershell.md, "The journal"):
`step`, `status`, `start`, `end`, `message`, `fingerprint`. A line is written
when its event happens, so `end` is the line's time: a `start` record (the step
begins) has `end` equal to its `start`, a `done` record ends the step.
`hciplan progress` and `hciplan calibrate` read journals through `read_journal`,
which tolerates what the script tolerates (a half-written last line, an empty
line) and refuses the rest with the line number and the field.

`simulated_journal` writes the lines the script would have written for a
simulated run (`engine.trace_run`): the same ids (a CAU run is one entry,
`p2.cau_run`, whose sub-steps are journalled when it ends), statuses and
timestamp format. Tests of `progress` and `calibrate` use it, and a cut of it
(`lines_until`) is the journal of a night still running.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from hciplan.compiler.plan import Plan
from hciplan.files import SURROGATE_MESSAGE, TooLarge, lone_surrogate_path, read_at_most, windows_encoding

STEP_STATUSES = ("done", "skipped", "failed", "timeout", "paused", "window", "declined", "pending")
# Records for the operator and for hciplan, never a step's state (the script's $JournalNotes).
NOTE_STATUSES = ("unit", "overrun", "note", "start")
FIELDS = ("step", "status", "start", "end", "message", "fingerprint")
MAX_JOURNAL_BYTES = 64 * 1024 * 1024  # a year of nightly runs is a few MB; beyond this it is not a journal
MAX_FIELD_CHARS = 100_000


class JournalError(Exception):
    """A journal that cannot be read: where, what, and how to fix it."""

    def __init__(self, path: str, line: int | None, message: str):
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    step: str
    status: str
    start: dt.datetime
    end: dt.datetime  # when the line was written
    message: str
    fingerprint: str

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    @property
    def is_note(self) -> bool:
        return self.status in NOTE_STATUSES


@dataclass(frozen=True)
class Journal:
    path: str
    records: tuple[Record, ...]
    warnings: tuple[str, ...] = ()

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.fingerprint for r in self.records))

    def states(self) -> dict[str, Record]:
        """The last state record of every step (the last line for a step wins, as in the script)."""
        last: dict[str, Record] = {}
        for r in self.records:
            if not r.is_note:
                last[r.step] = r
        return last

    def notes(self, status: str) -> dict[str, Record]:
        """The last note of `status` per step (`start`, `unit`, `overrun`, `note`)."""
        return {r.step: r for r in self.records if r.status == status}

    @property
    def last_time(self) -> dt.datetime | None:
        return max((r.end for r in self.records), default=None)


def parse_time(text: object, path: str, line: int, name: str) -> dt.datetime:
    """A timestamp as the script writes it (`[datetimeoffset]::ToString('o')`: seven decimals and an offset)."""
    if not isinstance(text, str):
        raise JournalError(path, line, f"`{name}` is {type(text).__name__}, not a timestamp string")
    value = text.strip()
    head, dot, rest = value.partition(".")
    if dot:  # Python reads at most six decimals: cut the seventh (100 ns) before the offset
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}" if digits else head + rest
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise JournalError(path, line, f"`{name}` is not a timestamp: {text[:60]!r} (expected the form "
                           "2026-12-05T22:14:03.5000000+00:00)") from None
    if moment.tzinfo is None:
        raise JournalError(path, line, f"`{name}` has no UTC offset: {text[:60]!r}")
    try:  # year 1 at +14:00 or year 9999 at -14:00 has no UTC time: every later step compares in UTC
        moment.astimezone(dt.timezone.utc)
    except OverflowError:
        raise JournalError(path, line, f"`{name}` is outside the years 1 to 9999 once in UTC: {text[:60]!r}") from None
    return moment


def decode(data: bytes, path: str) -> str:
    """The script writes UTF-8 without a BOM; a copy re-saved by an editor may have a UTF-8 or UTF-16 BOM."""
    try:
        return data.decode(windows_encoding(data))
    except UnicodeDecodeError as error:
        raise JournalError(path, None, f"is not UTF-8 text (byte {error.start}): is this the journal "
                           "(`Invoke-HciUpgrade.journal.jsonl`)?") from None


def parse_journal(text: str, path: str = "<journal>") -> Journal:
    """Records in file order. A half-written last line is ignored with a warning; any other bad line is an error."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[Record] = []
    warnings: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            if number == len(lines):
                warnings.append(f"{path}:{number}: ignoring the unfinished last line (an interrupted write)")
                continue
            raise JournalError(path, number, "is not JSON; only the last line may be unfinished "
                               "(the script stops on this journal too): repair or remove the line") from None
        where = lone_surrogate_path(entry)
        if where is not None:
            raise JournalError(path, number, f"{where} {SURROGATE_MESSAGE}")
        if not isinstance(entry, dict):
            raise JournalError(path, number, f"is a JSON {type(entry).__name__}, not an object with "
                               + ", ".join(f"`{f}`" for f in FIELDS))
        missing = [f for f in FIELDS if f not in entry and f != "message"]
        if missing:
            raise JournalError(path, number, f"has no `{missing[0]}` field: a journal line holds "
                               + ", ".join(f"`{f}`" for f in FIELDS))
        for name in ("step", "status", "fingerprint"):
            if not isinstance(entry[name], str) or not entry[name] or len(entry[name]) > MAX_FIELD_CHARS:
                raise JournalError(path, number, f"`{name}` must be a non-empty string")
        message = entry.get("message")
        if message is None:
            message = ""
        if not isinstance(message, str):
            raise JournalError(path, number, "`message` must be a string")
        status = entry["status"]
        if status not in STEP_STATUSES + NOTE_STATUSES:
            raise JournalError(path, number, f"`status` {status[:40]!r} is none of "
                               + ", ".join(STEP_STATUSES + NOTE_STATUSES))
        start = parse_time(entry["start"], path, number, "start")
        end = parse_time(entry["end"], path, number, "end")
        records.append(Record(number, entry["step"], status, start, end, message[:MAX_FIELD_CHARS],
                              entry["fingerprint"]))
    return Journal(path, tuple(records), tuple(warnings))


def read_journal(path: str | Path) -> Journal:
    """Read and parse a journal file; JournalError for a missing, huge, undecodable or malformed one."""
    name = str(path)
    try:
        data = read_at_most(path, MAX_JOURNAL_BYTES)
    except TooLarge:
        raise JournalError(name, None, f"is larger than {MAX_JOURNAL_BYTES // 2**20} MB: not a journal of one plan") \
            from None
    except OSError as error:
        raise JournalError(name, None, f"cannot be read: {error.strerror or error}") from None
    return parse_journal(decode(data, name), name)


def require_plan(journal: Journal, fingerprint: str) -> None:
    """Refuse a journal written by another plan, as the script does (stale plan)."""
    for r in journal.records:
        if r.fingerprint != fingerprint:
            raise JournalError(journal.path, r.line, f"was written by plan {r.fingerprint[:80]}, but the file "
                               f"compiles to plan {fingerprint}: the plan changed since the script ran. "
                               "Compare the two (`hciplan plan`), and read this journal with the file the "
                               "script was emitted from")


# --- entries: which journal id performs which plan step --------------------------------------


def entry_ids(plan: Plan) -> dict[str, str]:
    """Plan step id -> the journal id of the script entry that runs it (a group's sub-steps -> the group)."""
    from hciplan.backends.powershell.steps import is_group  # the script decides its entries

    return {s.id: (f"{s.phase.lower()}.{s.group}" if is_group(s.group) else s.id) for s in plan.steps}


# --- writing: the journal of a simulated run ---------------------------------------------------


def format_time(moment: dt.datetime) -> str:
    """As `[datetimeoffset]::ToString('o')`: seven decimals and the offset (`+00:00`, never `Z`)."""
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0{offset[:3]}:{offset[3:]}"


def _line(step: str, status: str, start: dt.datetime, end: dt.datetime, message: str, fingerprint: str) -> str:
    entry = {"step": step, "status": status, "start": format_time(start), "end": format_time(end),
             "message": message, "fingerprint": fingerprint}
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def simulated_journal(plan: Plan, sp, run, origin: dt.datetime) -> list[tuple[dt.datetime, str]]:
    """The journal lines the script would write for the traced run `run` (`engine.trace_run`), with their times.

    `origin` is the run's minute 0 (the planned start). Entries run in plan order, as in the script;
    a head of a unit writes its `unit` record, every entry `start` then `done`; a group entry (the
    CAU run) journals its sub-steps `done` when it ends. A failure writes `failed` (`timeout` for a
    step past its bound), with a group's sub-steps `done` or `pending`, and the journal ends. Where
    the run waited for the next window, the script stopped with `window` and was run again; a CAU
    run that stopped between nodes for the window journals its sub-steps (`done` or `pending`)
    before its `window`, and starts again (a new `start`) in the next window.
    """
    def at(minutes: float) -> dt.datetime:
        return origin + dt.timedelta(minutes=minutes)

    ok: dict[int, tuple[float, float]] = {}
    failed: dict[int, tuple[float, float, str]] = {}
    for segment in run.segments:
        if segment.status == "ok":
            ok[segment.step] = (segment.start, segment.end)
        elif segment.status != "skipped":
            failed.setdefault(segment.step, (segment.start, segment.end, segment.status))
    ids = entry_ids(plan)
    index = {step_id: i for i, step_id in enumerate(sp.ids)}
    groups: dict[str, list[int]] = {}
    for step in plan.steps:
        groups.setdefault(ids[step.id], []).append(index[step.id])
    heads = {unit.steps[0] for unit in sp.units}
    lines: list[tuple[float, int, str]] = []

    def add(when: float, step: str, status: str, began: float, message: str) -> None:
        lines.append((when, len(lines), _line(step, status, at(began), at(when), message, plan.fingerprint)))

    def sub_steps(when: float, members: list[int], began: float) -> None:  # Write-CauSubSteps: from node state
        for j in members:
            status = "done" if j in ok and ok[j][1] <= when else "pending"
            add(when, sp.ids[j], status, began, "from the node state after the CAU run")

    previous_end = None
    for entry, members in groups.items():
        begun = [ok[i][0] for i in members if i in ok] + [failed[i][0] for i in members if i in failed]
        if not begun:
            break  # the run ended before this entry: so does the journal
        first = min(begun)
        if previous_end is not None and first - previous_end > 1.0:  # waited for the next window
            add(previous_end, entry, "window", previous_end, "the window ends too soon for this unit")
        if len(members) == 1 and members[0] in heads:
            add(first, entry, "unit", first, f"unit {sp.units[sp.unit_of[members[0]]].id} starts")
        add(first, entry, "start", first, "started")
        session, last_end = first, None  # a group entry: this script run's start, and its last sub-step's end
        for j in members:
            began = ok[j][0] if j in ok else failed[j][0] if j in failed else None
            if began is None:
                continue
            if last_end is not None and sp.head_of(j) and began - last_end > 1.0:
                # CAU stopped between nodes for the window (its pre-update script refused the next node): the
                # script journals the sub-steps and `window`; the rerun in the next window starts the run again
                sub_steps(last_end, members, session)
                add(last_end, entry, "window", session, "the CAU run stopped between nodes: the next node's "
                    "unit does not fit before the window ends")
                session = began
                add(began, entry, "start", began, "started")
            last_end = ok[j][1] if j in ok else failed[j][1]
        broken = [i for i in members if i in failed and i not in ok]
        if broken:
            _, end, cause = failed[broken[0]]
            if len(members) > 1:
                sub_steps(end, members, session)
            add(end, entry, "failed" if cause == "error" else "timeout", session,
                f"{sp.ids[broken[0]]}: simulated {cause}")
            break
        if not all(i in ok for i in members):
            if (len(members) > 1 and run.outcome == "stopped_at_window" and run.step in members
                    and last_end is not None):  # stopped between nodes at the last window's end
                sub_steps(last_end, members, session)
                add(last_end, entry, "window", session, run.reason)
                previous_end = None  # the stop is journalled
            break  # else cut short by a stop elsewhere (a skipped node)
        end = max(ok[i][1] for i in members)
        add(end, entry, "done", session, "ok")
        if len(members) > 1:
            for j in members:
                add(end, sp.ids[j], "done", session, f"done by {entry}")
        previous_end = end
    else:
        previous_end = None
    if previous_end is not None and run.step >= 0 and run.outcome == "stopped_at_window":
        add(previous_end, ids[sp.ids[run.step]], "window", previous_end, run.reason)
    lines.sort(key=lambda item: (item[0], item[1]))
    return [(at(when), text) for when, _, text in lines]


def lines_until(lines: list[tuple[dt.datetime, str]], moment: dt.datetime) -> str:
    """The journal as it stood at `moment` (every line written by then), as file text."""
    return "".join(text + "\n" for when, text in lines if when <= moment)
