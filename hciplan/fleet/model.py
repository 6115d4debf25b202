"""The fleet file's schema and typed records (the same lowering as a cluster file's blocks).

The records are frozen; `load.py` fills them with `compiler.lower._lower_block`,
so unknown names, wrong types, missing and repeated attributes get the same
diagnostics (HCI101-HCI109) as in a cluster file.
"""

from __future__ import annotations

import datetime as dt

from hciplan.compiler.model import Spans, _spans
from hciplan.compiler.schema import Attr, BlockSpec, Child, enum
from hciplan.records import record

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # datetime.weekday() order


@record
class WeeklyWindow:
    """A maintenance window that recurs every week, in the local time of its site."""

    name: str
    day: str
    start: int  # minutes after local midnight
    length: int  # seconds
    spans: Spans = _spans()


@record
class Site:
    name: str
    zone: str
    windows: tuple[WeeklyWindow, ...] = ()
    spans: Spans = _spans()


@record
class Shift:
    """Operators at a console: `operators` people every week on `day` from `start` for `length`."""

    name: str
    day: str
    start: int
    length: int
    operators: int
    zone: str = "UTC"
    spans: Spans = _spans()


@record
class Blackout:
    name: str
    start: dt.date  # the first day, included
    end: dt.date  # the last day, included
    spans: Spans = _spans()


@record
class Entry:
    """One `cluster "PATH"` entry: a file, a glob or a folder, with its ring and site."""

    path: str
    ring: int
    site: str | None = None
    zone: str | None = None
    windows: tuple[WeeklyWindow, ...] = ()
    spans: Spans = _spans()


@record
class Fleet:
    name: str
    start: dt.datetime
    weeks: int
    max_in_flight: int
    wave_size: int
    gate_percent: int
    soak: int  # seconds
    sites: tuple[Site, ...] = ()
    shifts: tuple[Shift, ...] = ()
    blackouts: tuple[Blackout, ...] = ()
    entries: tuple[Entry, ...] = ()
    spans: Spans = _spans()


def _window_spec(doc: str) -> BlockSpec:
    return BlockSpec("window", WeeklyWindow, doc, label="name", attrs=(
        enum("day", " ".join(DAYS), "The day of the week the window starts on, in local time."),
        Attr("start", "clock", "Local time of day it starts: `22:00`."),
        Attr("length", "duration", "How long it lasts (it may run past midnight).", min=60, max=7 * 86400),
    ))


WINDOW = _window_spec("A weekly maintenance window in the site's (or entry's) local time.")
SITE = BlockSpec("site", Site, "A place whose clusters share a time zone and, by default, windows.", label="name", attrs=(
    Attr("zone", "string", 'IANA time zone of the site: `"Europe/Paris"`.'),
), children=(Child(WINDOW, "windows", repeated=True),))
SHIFT = BlockSpec("shift", Shift, "Operators available every week for the console and operator steps.", label="name",
                  attrs=(
    enum("day", " ".join(DAYS), "The day of the week the shift starts on."),
    Attr("start", "clock", "Time of day it starts, in `zone`."),
    Attr("length", "duration", "How long it lasts.", min=60, max=7 * 86400),
    Attr("operators", "int", "People at a console during the shift.", min=1, max=10000),
    Attr("zone", "string", "IANA time zone the shift is written in.", "UTC"),
))
BLACKOUT = BlockSpec("blackout", Blackout, "Days no cluster may be worked on (change freeze, holidays).", label="name",
                     attrs=(
    Attr("start", "date", "The first day, in each cluster's local time: `2026-12-19`."),
    Attr("end", "date", "The last day, included."),
))
ENTRY = BlockSpec("cluster", Entry, "Cluster files: a path, a glob or a folder, relative to the fleet file.",
                  label="path", attrs=(
    Attr("ring", "int", "The ring: 0 is the pilot; ring n starts after ring n-1.", min=0, max=99),
    Attr("site", "string", "The site: its zone and, unless the entry has its own, its windows.", None),
    Attr("zone", "string", "IANA time zone of the entry's own windows (default: its site's).", None),
), children=(Child(WINDOW, "windows", repeated=True),))
# The defaults of `weeks`, `max_in_flight` and `wave_size` are assumptions (no source gives a campaign's);
# gate_percent 0 (any overrun holds the next wave) and soak 0 are the strictest and plainest choices.
FLEET = BlockSpec("fleet", Fleet, "An upgrade campaign over many clusters.", label="name", attrs=(
    Attr("start", "timestamp", "When the campaign starts: no window before it is used."),
    Attr("weeks", "int", "The horizon: windows are looked for up to `start` plus this many weeks.", 26,
         min=1, max=520),
    Attr("max_in_flight", "int", "At most this many clusters between their first step and their last.", 10,
         min=1, max=100000),
    Attr("wave_size", "int", "Clusters per wave; each ring is cut into waves of this size, in order.", 10,
         min=1, max=100000),
    Attr("gate_percent", "int", "Health gate: the next wave does not start when more than this share (%) of "
         "the last wave failed or overran.", 0, min=0, max=100),
    Attr("soak", "duration", "Time after a wave's last cluster before the next wave may start.", 0,
         min=0, max=90 * 86400),
), children=(Child(SITE, "sites", repeated=True), Child(SHIFT, "shifts", repeated=True),
             Child(BLACKOUT, "blackouts", repeated=True), Child(ENTRY, "entries", repeated=True, required=True)))
