"""Weekly windows and shifts in a site's time zone, turned into the campaign's UTC intervals.

Zones are IANA names read by the standard library's `zoneinfo` (system tz
database; Windows has none, so there zoneinfo needs the `tzdata` package:
HCI1203 says so when no zone is known at all). A weekly window starts at its local time of day on its weekday,
as `zoneinfo` resolves that local time (PEP 495, fold 0: a start inside a
spring-forward gap is read with the offset before the change) and lasts its
`length` of real time, so a night that crosses a daylight-saving change is as
long as written. A blackout covers whole local days, from midnight of its
first day to midnight after its last, in the cluster's zone.

Every interval is in the campaign's horizon: from the fleet's `start` to
`start` plus `weeks` weeks.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hciplan.compiler.diagnostics import Collector, did_you_mean
from hciplan.compiler.source import Span
from hciplan.fleet import model as fm
from hciplan.records import record

UTC = dt.timezone.utc


@record
class Occurrence:
    """One occurrence of a window (or a cluster file's own window), in UTC."""

    name: str
    start: dt.datetime
    end: dt.datetime


@functools.lru_cache(maxsize=None)
def zone_of(key: str) -> dt.tzinfo | None:
    """The zone named `key`, or None when zoneinfo does not know it (or it is not a valid key)."""
    if key == "UTC":
        return UTC
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError: "../x" and other keys that are not names
        return None


def check_zone(key: str, span: Span, diagnostics: Collector) -> None:
    if zone_of(key) is not None:
        return
    from zoneinfo import available_timezones  # reads the whole database: only on an error

    known = sorted(available_timezones())
    hints = [did_you_mean(key, known), 'write an IANA name such as "Europe/Paris", "America/Toronto" or "UTC"']
    if not known:  # Windows has no system tz database: zoneinfo then needs the tzdata package
        hints = ["this Python has no time zone database: `pip install tzdata` (docs/fleet.md)"]
    diagnostics.report("HCI1203", span, f"`{key}` is not a time zone zoneinfo knows", hints=hints)


def horizon(fleet: fm.Fleet) -> tuple[dt.datetime, dt.datetime]:
    start = fleet.start.astimezone(UTC)
    return start, start + dt.timedelta(weeks=fleet.weeks)


def weekly(day: str, start: int, length: int, zone: dt.tzinfo, first: dt.datetime,
           last: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every occurrence of a weekly interval that lies wholly in [first, last], in UTC, in order."""
    weekday = fm.DAYS.index(day)
    local = first.astimezone(zone).date() - dt.timedelta(days=7)
    end_day = last.astimezone(zone).date() + dt.timedelta(days=1)
    local += dt.timedelta(days=(weekday - local.weekday()) % 7)
    out = []
    while local <= end_day:
        begin = dt.datetime.combine(local, dt.time(start // 60, start % 60), tzinfo=zone).astimezone(UTC)
        finish = begin + dt.timedelta(seconds=length)
        if begin >= first and finish <= last:
            out.append((begin, finish))
        local += dt.timedelta(days=7)
    return out


def blackouts(fleet: fm.Fleet, zone: dt.tzinfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """The fleet's blackouts as UTC intervals of whole local days in `zone`."""
    out = []
    for b in fleet.blackouts:
        begin = dt.datetime.combine(b.start, dt.time(0), tzinfo=zone).astimezone(UTC)
        finish = dt.datetime.combine(b.end + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(UTC)
        out.append((begin, finish))
    return sorted(out)


def in_blackout(begin: dt.datetime, end: dt.datetime, dark: list[tuple[dt.datetime, dt.datetime]]) -> bool:
    return any(b < end and begin < e for b, e in dark)


@record
class ClusterWindows:
    """Where a cluster's windows come from and their occurrences in the horizon, blackouts left out."""

    zone: str
    origin: str  # "entry", "site" or "file": whose windows these are
    occurrences: tuple[Occurrence, ...]
    dropped: tuple[tuple[str, int, int], ...]  # per window: name, occurrences in the horizon, of them in a blackout


def cluster_windows(fleet: fm.Fleet, entry: fm.Entry, file_windows=()) -> ClusterWindows:
    """The occurrences a cluster may be planned in: its entry's windows, else its site's, else its file's own."""
    site = next((s for s in fleet.sites if s.name == entry.site), None)
    key = entry.zone or (site.zone if site is not None else "UTC")
    zone = zone_of(key) or UTC
    first, last = horizon(fleet)
    dark = blackouts(fleet, zone)
    weekly_windows = entry.windows or (site.windows if site is not None else ())
    origin = "entry" if entry.windows else "site" if weekly_windows else "file"
    found: list[Occurrence] = []
    dropped = []
    if weekly_windows:
        for w in weekly_windows:
            times = weekly(w.day, w.start, w.length, zone, first, last)
            kept = [(b, e) for b, e in times if not in_blackout(b, e, dark)]
            dropped.append((w.name, len(times), len(times) - len(kept)))
            found.extend(Occurrence(w.name, b, e) for b, e in kept)
    else:
        for w in file_windows:
            b, e = w.start.astimezone(UTC), w.end.astimezone(UTC)
            if b >= first and e <= last:
                if in_blackout(b, e, dark):
                    dropped.append((w.name, 1, 1))
                else:
                    found.append(Occurrence(w.name, b, e))
    found.sort(key=lambda o: (o.start, o.end, o.name))
    # Overlapping occurrences (two weekly windows that meet) would let the window rule count one night twice:
    # keep the first of any that overlap the one before.
    merged: list[Occurrence] = []
    for o in found:
        if merged and o.start < merged[-1].end:
            continue
        merged.append(o)
    return ClusterWindows(key, origin, tuple(merged), tuple(dropped))


def windows_of_clusters(fleet: fm.Fleet, clusters) -> dict[int, ClusterWindows]:
    """`cluster_windows` of every cluster file that compiled, by `id()` of the cluster file.

    The clusters of one entry (a folder or a glob) that take the entry's or its site's weekly windows
    share them: they are computed once per entry, not once per cluster (a fleet of 1,000 clusters
    has a handful of entries). Only a cluster on its file's own windows gets its own.
    """
    by_entry: dict[int, ClusterWindows] = {}
    out: dict[int, ClusterWindows] = {}
    for c in clusters:
        if not c.ok:
            continue
        entry = fleet.entries[c.entry]
        site = next((s for s in fleet.sites if s.name == entry.site), None)
        if entry.windows or (site is not None and site.windows):  # weekly windows: the file's are not read
            if c.entry not in by_entry:
                by_entry[c.entry] = cluster_windows(fleet, entry)
            out[id(c)] = by_entry[c.entry]
        else:
            out[id(c)] = cluster_windows(fleet, entry, c.result.plan.model.upgrade.windows)
    return out


def check_windows(fleet: fm.Fleet, clusters, diagnostics: Collector) -> None:
    """HCI1205 (a weekly window always in a blackout) and HCI1206 (a cluster with no window at all)."""
    warned: set[tuple[int, str]] = set()
    windows_of = windows_of_clusters(fleet, clusters)
    for c in clusters:
        if not c.ok:
            continue
        entry = fleet.entries[c.entry]
        plan = c.result.plan
        windows = windows_of[id(c)]
        site = next((s for s in fleet.sites if s.name == entry.site), None)
        blocks = entry.windows or (site.windows if site is not None else ())
        for name, total, dark in windows.dropped:
            block = next((w for w in blocks if w.name == name), None)
            if block is not None and total and dark == total and (id(block), name) not in warned:
                warned.add((id(block), name))
                diagnostics.report("HCI1205", block.spans.header,
                                   f"window `{name}` falls in a blackout all {total} times in the horizon",
                                   hints=["move the window, shorten the blackout, or lengthen `weeks`"])
        if not windows.occurrences:
            where = {"entry": "its entry's windows", "site": f"site `{entry.site}`'s windows",
                     "file": "the file's own windows" if plan.model.upgrade.windows else "no window"}[windows.origin]
            diagnostics.report("HCI1206", entry.spans.header,
                               f"cluster `{plan.model.cluster.name}` ({c.name}) has no window in the horizon "
                               f"outside blackouts ({where})",
                               hints=["give the entry or its site a `window`, or lengthen `weeks`"])
