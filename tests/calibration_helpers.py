"""Synthetic calibration sources from simulated runs: journals (hciplan.journal) and CAU reports (written here).

`cau_report` writes what `Get-CauReport -Detailed | ConvertTo-Json -Depth 6` gives for the CAU run of a traced
simulated run, in the shape docs/calibration.md documents: per node, `NodeSuspendedTimestamp` at the end of its
drain, the feature update's `UpdateTimestamp` at the end of its install and `NodeSuspendedDuration` until the end
of its reboot. `style` picks Windows PowerShell 5.1's forms (`/Date(ms)/`, TimeSpans as objects, enums as
numbers) or PowerShell 7's with `-EnumsAsStrings` (ISO times with seven decimals, names).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from hciplan.journal import format_time, simulated_journal

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def ms_date(moment: dt.datetime) -> str:
    return f"/Date({round((moment - EPOCH).total_seconds() * 1000)})/"


def timespan(delta: dt.timedelta) -> dict:
    ticks = round(delta.total_seconds() * 10_000_000)
    seconds = ticks / 10_000_000
    return {"Ticks": ticks, "Days": int(seconds // 86400), "Hours": int(seconds % 86400 // 3600),
            "Milliseconds": int(ticks // 10_000 % 1000), "Minutes": int(seconds % 3600 // 60),
            "Seconds": int(seconds % 60), "TotalDays": seconds / 86400, "TotalHours": seconds / 3600,
            "TotalMilliseconds": seconds * 1000, "TotalMinutes": seconds / 60, "TotalSeconds": seconds}


def timespan_text(delta: dt.timedelta) -> str:
    """A TimeSpan's invariant text (`[d.]hh:mm:ss[.fffffff]`), as PowerShell prints it."""
    ticks = round(delta.total_seconds() * 10_000_000)
    days, rest = divmod(ticks, 864_000_000_000)
    hours, rest = divmod(rest, 36_000_000_000)
    minutes, rest = divmod(rest, 600_000_000)
    seconds, fraction = divmod(rest, 10_000_000)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}" + (f".{fraction:07d}" if fraction else "")
    return f"{days}.{text}" if days else text


def _segments(run) -> dict[int, tuple[float, float]]:
    done = {}
    for s in run.segments:
        if s.status == "ok":
            done[s.step] = (s.start, s.end)
    return done


def cau_report(plan, sp, run, origin: dt.datetime, style: str = "ps51", index: int = 0) -> dict | None:
    """The CauReport of the run's CAU run (None when the run never reached it)."""
    def at(minutes: float) -> dt.datetime:
        return origin + dt.timedelta(minutes=minutes)

    def when(minutes: float | None):
        if minutes is None:
            return None
        return ms_date(at(minutes)) if style == "ps51" else format_time(at(minutes))

    done = _segments(run)
    steps = {sid: i for i, sid in enumerate(sp.ids)}
    cau = [s for s in plan.steps if s.group == "cau_run" and s.node]
    if not any(steps[s.id] in done for s in cau):
        return None
    begin = min(done[steps[s.id]][0] for s in cau if steps[s.id] in done)
    finish = max(done[steps[s.id]][1] for s in cau if steps[s.id] in done)
    nodes = []
    for node in dict.fromkeys(s.node for s in cau):
        verbs = {s.id.split(".")[3]: done.get(steps[s.id]) for s in cau if s.node == node}
        ok = all(verbs.get(v) for v in ("drain", "install", "reboot"))
        suspended = verbs["drain"][1] if ok else None
        installed = verbs["install"][1] if ok else None
        resumed = verbs["reboot"][1] if ok else None
        status = ("Succeeded" if ok else "Failed") if style != "ps51" else (0 if ok else 2)
        nodes.append({
            "Node": {"NodeName": node, "Domain": "contoso.local"} if style == "ps51" else node,
            "Status": status,
            "ErrorRecordData": None,
            "NumberOfSucceededUpdates": 1 if ok else 0,
            "NumberOfFailedUpdates": 0 if ok else 1,
            "InstallResults": [{
                "UpdateTitle": "Azure Stack HCI, version 23H2",
                "UpdateId": "00000000-0000-0000-0000-000000002311",
                "UpdateResultCode": (0 if ok else 1) if style == "ps51" else ("Succeeded" if ok else "Failed"),
                "ErrorCode": 0,
                "RebootRequired": True,
                "UpdateTimestamp": when(installed),
            }],
            "TransientInstallErrors": [],
            "NodeSuspendedTimestamp": when(suspended),
            "NodeSuspendedDuration": (timespan(dt.timedelta(minutes=resumed - suspended)) if style == "ps51"
                                      else timespan_text(dt.timedelta(minutes=resumed - suspended))) if ok else None,
        })
    complete = len(nodes) == sum(1 for n in nodes if n["NumberOfFailedUpdates"] == 0)
    run_id = str(uuid.UUID(int=(index + 1) * 7919 + 2**100))
    return {
        "ClusterResult": {
            "Name": plan.model.cluster.name,
            "RunId": run_id,
            "StartTimestamp": when(begin),
            "Status": ("Succeeded" if complete else "Failed") if style != "ps51" else (0 if complete else 2),
            "RunDuration": timespan(dt.timedelta(minutes=finish - begin)) if style == "ps51" else
            timespan_text(dt.timedelta(minutes=finish - begin)),
            "ErrorRecordData": None,
            "NodeResults": nodes,
        },
        "Plugin": ["Microsoft.RollingUpgradePlugin"] if style == "ps51" else "Microsoft.RollingUpgradePlugin",
        "OrchestratorMachine": "MGMT01",
        "OrchestratorUser": "CONTOSO\\admin",
        "OrchestratorUpdateAccount": None,
    }


def journal_text(plan, sp, run, origin: dt.datetime) -> str:
    return "".join(text + "\n" for _, text in simulated_journal(plan, sp, run, origin))


def write_sources(directory, plan, sp, runs, origin: dt.datetime, every=dt.timedelta(days=7)):
    """One journal and one CAU report file per simulated run; returns (journals, reports) paths."""
    journals, reports = [], []
    for index, run in enumerate(runs):
        start = origin + every * index
        path = directory / f"night-{index:03d}.jsonl"
        path.write_text(journal_text(plan, sp, run, start), encoding="utf-8")
        journals.append(path)
        report = cau_report(plan, sp, run, start, "ps51" if index % 2 else "ps7", index)
        if report is not None:
            path = directory / f"cau-{index:03d}.json"
            data = json.dumps([report], indent=2).replace("/", "\\/") if index % 2 else json.dumps(report, indent=2)
            path.write_bytes(data.encode("utf-16") if index % 3 == 0 else data.encode("utf-8"))
            reports.append(path)
    return journals, reports
