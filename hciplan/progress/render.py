"""The `hciplan progress` report for people, drawn from the `hciplan.progress/1` document, and `--watch`.

Everything shown comes from the document (`document.py`), so the text and the
JSON never disagree. The report opens with where the night stands and the
estimate, then lists every step by phase and unit, so a `--watch` display cut
at the terminal's height keeps what matters at the top.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any, Callable

from hciplan.compiler.quantities import format_minutes
from hciplan.percent import setting_text, share_text
from hciplan.words import counted

STATUS_TEXT = {"window": "stopped for the window", "started": "started"}


def _parse(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _minute(text: str | None) -> dt.datetime | None:
    """To the nearest minute, as `hciplan simulate` rounds its clock times (and durations)."""
    moment = _parse(text)
    return None if moment is None else (moment + dt.timedelta(seconds=30)).replace(second=0, microsecond=0)


def _clock(text: str | None) -> str:
    """`2026-12-06T01:30Z`, as `hciplan simulate` prints clock times."""
    moment = _minute(text)
    if moment is None:
        return "-"
    return moment.isoformat(timespec="minutes").replace("+00:00", "Z")


def _short(text: str | None, today: dt.date) -> str:
    """`01:30`, or `12-12 01:30` on another day than now's."""
    moment = _minute(text)
    if moment is None:
        return "-"
    return f"{moment:%H:%M}" if moment.date() == today else f"{moment:%m-%d %H:%M}"


def duration(minutes: float | None) -> str:
    """`3m15s` below ten minutes, else as every report prints durations (`1h05m`, `1d 2h03m`)."""
    if minutes is None:
        return "-"
    if minutes < 10:
        seconds = int(round(minutes * 60))
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return format_minutes(minutes)


def _share(value: float | None) -> str:
    return share_text(value)


def _since(doc: dict[str, Any], text: str | None) -> str:
    now, moment = _parse(doc["now"]), _parse(text)
    if now is None or moment is None:
        return ""
    return duration((now - moment).total_seconds() / 60)


def render_text(doc: dict[str, Any]) -> str:
    """The report of one `hciplan.progress/1` document."""
    today = _parse(doc["now"]).date()
    journal = doc["journal"]
    out = [f"Progress of {doc['cluster']} at {_clock(doc['now'])}"]
    span = f", {_clock(journal['first'])} .. {_clock(journal['last'])}" if journal["records"] else ""
    out.append(f"  journal       {journal['path']}: {journal['records']} records{span}")
    out.append(f"  plan          fingerprint {doc['fingerprint']}")
    counts = doc["counts"]
    shown = ", ".join(f"{n} {STATUS_TEXT.get(status, status)}" for status, n in counts.items() if n)
    out.append(f"  steps         {shown}")
    window = doc["estimate"]["window"]
    if window is not None:
        if window["contains_now"]:
            left = (_parse(window["end"]) - _parse(doc["now"])).total_seconds() / 60
            where = f"now inside it, {duration(left)} left"
        else:
            where = "the next window (now is outside every window)"
        out.append(f"  window        {window['name']} {_clock(window['start'])} .. {_clock(window['end'])}: {where}")
    else:
        out.append("  window        none")
    out.append("")
    out.extend(_now(doc, today))
    out.append("")
    out.extend(_speed(doc))
    out.append("")
    out.extend(_estimate(doc, today))
    if doc["notes"] or journal["warnings"]:
        out.append("")
        out.extend(f"Note: {note}" for note in doc["notes"])
        out.extend(f"Warning: {warning}" for warning in journal["warnings"])
    out.append("")
    out.extend(_steps(doc, today))
    return "\n".join(out) + "\n"


def _now(doc: dict[str, Any], today: dt.date) -> list[str]:
    out = []
    stopped = doc["stopped"]
    entries = {e["id"]: e for e in doc["entries"]}
    running = [s for p in doc["phases"] for u in p["units"] for s in u["steps"] if s["status"] == "running"]
    running_entries = [e for e in doc["entries"] if e["status"] == "running"]
    for e in running_entries:
        out.append(f"Now           {e['id']} running since {_clock(e['start'])} ({_since(doc, e['start'])})")
    for s in running:
        estimate = " (estimated)" if s["estimated"] else ""
        out.append(f"{'Now' if not out else '':<14}{s['id']} running since {_clock(s['start'])} "
                   f"({_since(doc, s['start'])}; plan mean {duration(s['planned_minutes'])}){estimate}")
    if stopped is not None:
        what = STATUS_TEXT.get(stopped["status"], stopped["status"])
        out.append(f"Stopped       {stopped['step']} {what} at {_clock(stopped['at'])}: {stopped['message']}")
        out.append(f"              {stopped['rerun']}")
    if not out:
        out.append("Now           every step is done" if doc["finished"] else "Now           nothing is running")
    estimate = doc["cau_estimate"]
    if estimate is not None:
        head = entries[estimate["entry"]]
        nodes = ", ".join(estimate["running"]) or "none"
        basis = ("from the elapsed time at the plan's means" if estimate["basis"] == "elapsed"
                 else f"from --cau-node {estimate['node']}")
        done = len(estimate["done"])
        out.append(f"              {head['id']}: {done} sub-step{'s' * (done != 1)} counted done, running {nodes} "
                   f"(estimated {basis}{'; slower than the means, stretched' if estimate['stretched'] else ''})")
    current = doc["current"]
    if current is not None:
        what = f"{current['unit']}" + (f" (pass of {current['node']})" if current["kind"] == "pass" else "")
        at = current["safe_point_at"]
        when = (f"P50 {_clock(at['p50'])}, P90 {_clock(at['p90'])}" if at["p50"] is not None
                else "not reached in the simulated runs")
        reached = f" (reached in {_share(at['share'])} of runs)" if at["share"] is not None and at["share"] < 1 else ""
        out.append(f"Current unit  {what}: safe point after {current['safe_point']}, {when}{reached}")
    return out


def _speed(doc: dict[str, Any]) -> list[str]:
    speed = doc["speed"]
    n = speed["measured_steps"]
    run = speed["run_factor"]
    if n == 0:
        return ["Speed so far  no measured step yet: the plan's durations as they are"]
    if run["prior"]["sigma"] == 0 and not speed["models"]:
        return [f"Speed so far  {n} measured steps, but the timing block sets run_spread = 0 and kind_spread = 0: "
                "the night's speed so far does not change the estimate"]
    out = [f"Speed so far  the night runs {run['mean']:.2f}x the plan's durations so far ({n} step{'s' * (n != 1)}; "
           f"they took {speed['observed_ratio']:.2f}x their medians)"]
    models = sorted(speed["models"], key=lambda m: (-m["steps"], m["name"]))
    shown = ", ".join(f"{m['name']} {m['factor']:.2f}x ({m['steps']})" for m in models[:8])
    more = f", {len(models) - 8} more" if len(models) > 8 else ""
    out.append(f"  by model    {shown}{more}")
    return out


def _estimate(doc: dict[str, Any], today: dt.date) -> list[str]:
    est = doc["estimate"]
    runs = est["runs"]
    outcomes = est["outcomes"]
    out = [f"Estimate      from now, {counted(runs, 'run', ',')}, seed {est['seed']}: completed {_share(outcomes['completed'] / runs)}, "
           f"stopped at a window {_share(outcomes['stopped_at_window'] / runs)}, "
           f"aborted {_share(outcomes['aborted'] / runs)}"]
    finish = est["finish"]
    if doc["finished"]:
        out.append(f"  finished at   {_clock(doc['journal']['last'])}: every step is done")
    elif finish is None:
        out.append("  finishes at   no run completes within the file's windows")
    else:
        completed = outcomes["completed"]
        which = f" (of the {_share(completed / runs)} of runs that complete)" if completed < runs else ""
        out.append(f"  finishes at   P50 {_clock(finish['p50'])} (in {duration(finish['p50_minutes'])}), "
                   f"P90 {_clock(finish['p90'])} (in {duration(finish['p90_minutes'])}){which}")
    window = est["window"]
    if window is None:
        return out
    out.append(f"  done by the end of {window['name']} ({_clock(window['end'])})   {_share(est['p_done_by_window_end'])}")
    last = est["last_safe_point"]
    if last is None:
        out.append(f"  last safe point tonight   none is reached in {setting_text(_confidence(doc))} of runs")
    else:
        out.append(f"  last safe point tonight   after {last['step']} (unit {last['unit']}), P50 "
                   f"{_short(last['p50'], today)}, reached in {_share(last['share'])} of runs "
                   f"(the plan's confidence {setting_text(last['confidence'])})")
    closing = est["if_window_closes"]
    if closing["share"]:
        then = closing["next_window"]
        later = f"; the run goes on in {then['name']} from {_clock(then['start'])}" if then else ""
        out.append(f"  if {window['name']} closes first ({_share(closing['share'])} of runs{later}):")
        for stop in closing["stops"][:5]:
            out.append(f"    stops before {stop['step']:<34} {_share(stop['share']):>6}")
        for abort in closing["aborted"][:3]:
            out.append(f"    aborted at {abort['step']:<36} {_share(abort['share']):>6}  {abort['reason']}")
        for unit in closing["runs_on"][:3]:
            out.append(f"    a started unit runs on to its safe point: {unit['unit']} in {_share(unit['share'])} "
                       f"of runs (P90 {duration(unit['p90_late_minutes'])} late)")
    return out


def _confidence(doc: dict[str, Any]) -> float:
    last = doc["estimate"]["last_safe_point"]
    return last["confidence"] if last else 0.9


def _steps(doc: dict[str, Any], today: dt.date) -> list[str]:
    entries = {e["id"]: e for e in doc["entries"]}
    out = []
    shown_entry = None
    for phase in doc["phases"]:
        out.append(f"{phase['phase']} {phase['title']}")
        for unit in phase["units"]:
            indent = "  "
            if unit["kind"] != "step":
                what = f"pass of {unit['node']}" if unit["kind"] == "pass" else "bracket"
                steps = unit["steps"]
                if steps[0]["entry"] in entries and steps[0]["entry"] != shown_entry:
                    shown_entry = steps[0]["entry"]
                    out.append(_entry_line(entries[shown_entry], doc, today))
                out.append(f"  unit {unit['id']} ({what}): {STATUS_TEXT.get(unit['status'], unit['status'])}")
                indent = "    "
            for step in unit["steps"]:
                if step["entry"] in entries and step["entry"] != shown_entry:
                    shown_entry = step["entry"]
                    out.append(_entry_line(entries[shown_entry], doc, today))
                out.append(_step_line(step, doc, today, indent))
    return out


def _entry_line(entry: dict[str, Any], doc: dict[str, Any], today: dt.date) -> str:
    text = f"  {entry['id']} (one entry for {len(entry['steps'])} sub-steps)"
    return f"{text:<48} {_state(entry, doc, today)}"


def _step_line(step: dict[str, Any], doc: dict[str, Any], today: dt.date, indent: str) -> str:
    return f"{indent + step['id']:<48} {_state(step, doc, today)}"


def _state(item: dict[str, Any], doc: dict[str, Any], today: dt.date) -> str:
    status = item["status"]
    estimated = " (estimated)" if item.get("estimated") else ""
    if status == "running":
        return (f"running since {_short(item['start'], today)} ({_since(doc, item['start'])}, "
                f"plan {duration(item['planned_minutes'])}){estimated}")
    if status in ("done", "skipped"):
        span = f"{_short(item['start'], today)} .. {_short(item['end'], today)}"
        if item["actual_minutes"] is not None:
            ratio = f"{item['ratio']:.2f}x" if item["ratio"] is not None else "-"
            return (f"{status:<8} {span:<24} {duration(item['actual_minutes']):>7}  plan "
                    f"{duration(item['planned_minutes']):>7}  {ratio}")
        if estimated:
            return f"{status}{estimated}"
        if status == "done" and item.get("message", "").startswith("done by "):
            return f"done     {item['message']}"
        return f"{status:<8} {span}"
    if status in ("failed", "timeout", "declined", "paused", "window"):
        return f"{STATUS_TEXT.get(status, status)} at {_short(item['end'], today)}: {item['message']}"
    return f"pending  plan {duration(item['planned_minutes'])}"


# --- --watch ---------------------------------------------------------------------------------------

_sleep = time.sleep  # the watch loop's (tests replace it)
RECOMPUTE_SECONDS = 300.0  # the clock moves even when the journal does not (a CAU run writes nothing for hours)


def signature(path: str) -> tuple:
    """What tells a grown journal: its size and mtime (or why it cannot be read)."""
    try:
        stat = os.stat(path)
    except OSError as error:
        return ("unreadable", error.strerror or str(error))
    return (stat.st_size, stat.st_mtime_ns)


def watch(path: str, compute: Callable[[bool], str], show: Callable[[str], None], interval: float,
          seen: tuple | None = None, sleep: Callable[[float], None] | None = None,
          clock: Callable[[], float] | None = None) -> None:
    """Show `compute(changed)` again whenever the journal's `signature` changes, and every RECOMPUTE_SECONDS.

    `changed` says whether the journal changed (only then is it worth reading again); `seen` is the
    signature of what is shown already. Runs until interrupted (Ctrl+C is the caller's to catch);
    `compute` turns its own errors into text, so a journal that turns bad while watched is shown,
    not fatal.
    """
    sleep, clock = sleep or _sleep, clock or time.monotonic
    last = clock()
    while True:
        sleep(interval)
        now = signature(path)
        if now != seen or clock() - last >= RECOMPUTE_SECONDS:
            show(compute(now != seen))
            seen, last = now, clock()
