"""The plan as JSON (`"schema": "hciplan.plan/1"`), documented in docs/plan.md."""

from __future__ import annotations

import json
from typing import Iterable

from hciplan.backends import summary
from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.model import DEFAULT_TIMING
from hciplan.compiler.plan import Plan, model_facts
from hciplan.compiler.recovery import DEFAULT as DEFAULT_RECOVERY, RECOVERY_NAMES, Recovery
from hciplan.compiler.render import diagnostics_json
from hciplan.compiler.safety import margins
from hciplan.compiler.units import SAFE_POINT
from hciplan.compiler.windows import unit_windows

NAME = "json"
SCHEMA = "hciplan.plan/1"
FILE_NAME = "plan.json"


def plan_document(plan: Plan | None, diagnostics: Iterable[Diagnostic] = ()) -> dict:
    document: dict = {"schema": SCHEMA, **diagnostics_json(diagnostics)}
    if plan is None:
        return document
    model = plan.model
    upgrade = model.upgrade
    minutes, critical = plan.critical_path()
    placed = unit_windows(plan)
    margin = margins(plan)
    document.update({
        "fingerprint": plan.fingerprint,
        "cluster": model.cluster.name,
        "from": model.cluster.version,
        "to": upgrade.to,
        "method": upgrade.method,
        "source": upgrade.source,
        "interactive": plan.interactive,
        "node_order": [n.name for n in model.ordered_nodes()],
        "expected_minutes": round(minutes, 1),
        "critical_path": critical,
        "steps": [
            {
                "id": s.id,
                "kind": s.kind,
                "title": s.title,
                "phase": s.phase,
                "scope": s.scope,
                "node": s.node,
                "target": s.target,
                "group": s.group,
                "after": list(s.after),
                "drains": s.spec.drains,
                "reboots": s.spec.reboots,
                "irreversible": s.spec.irreversible,
                "downtime": s.spec.downtime,
                "storage_offline": s.spec.storage_offline,
                "gate": s.spec.gate,
                "interactive": plan.needs_operator(s),
                "cmdlets": list(s.spec.cmdlets),
                "duration_model": s.spec.duration_model,
                "mean_minutes": s.mean_minutes,
                "bound_minutes": s.bound_minutes,
                "offline_share": s.offline_share,
                # an irreversible step: the state it leaves the cluster in once it ran (or was cut short)
                "no_return": s.spec.no_return or None,
                "unit": plan.unit_of(s.id).id,
                "source": s.spec.source,
            }
            for s in plan.steps
        ],
        "reboot_timeout_minutes": plan.reboot_timeout,
        "window_confidence": plan.confidence,
        "safe_point": list(SAFE_POINT),
        "units": [
            {
                "id": u.id,
                "kind": u.kind,
                "node": u.node,
                "steps": list(u.steps),
                "cau": u.cau,
                "down": u.down,
                "down_from": u.down_from,
                "tail": u.tail,
                "fit_minutes": u.fit_minutes,
                "bound_minutes": u.bound_minutes,
                "window": placed.get(u.id),
            }
            for u in plan.units
        ],
        # Added for `hciplan diff` (optional: a reader must accept documents without them).
        "windows": [{"name": w.name, "start": w.start.isoformat(), "end": w.end.isoformat()}
                    for w in sorted(upgrade.windows, key=lambda w: w.start)],
        "margins": {
            "memory_spare_bytes": margin.memory_spare,
            "memory_spare_at": margin.memory_spare_at or None,
            "fault_tolerance": margin.fault_tolerance,
            "fault_domains_down": margin.fault_domains_down,
            "fault_tolerance_left": margin.fault_tolerance_left,
            "quorum_votes": margin.quorum_votes,
            "quorum_needed": margin.quorum_needed,
            "quorum_spare": margin.quorum_spare,
            "pool_spare_bytes": margin.pool_spare,
        },
        "facts": model_facts(model),
        # The timing in effect (the file's block, else the defaults): assumptions the fingerprint leaves out,
        # though they set the means and bounds.
        "timing": model_facts(model.timing or DEFAULT_TIMING),
        "schedule": schedule_document(plan),
        "recovery": recovery_document(plan.recovery or DEFAULT_RECOVERY),
    })
    return document


def recovery_document(recovery: Recovery) -> dict:
    """How long recovering a failure takes (compiler/recovery.py): the shape of simulate's `failure_cost.recovery`."""
    return {"max_recoveries": recovery.max_recoveries,
            "models": {name: {"mean_minutes": round(recovery.of(name).mean, 2),
                              "provenance": recovery.of(name).provenance,
                              "assumption": recovery.of(name).assumption} for name in RECOVERY_NAMES}}


def schedule_document(plan: Plan) -> dict | None:
    """The expected schedule by window (compiler/schedule.py), times as ISO 8601; None without windows."""
    schedule = plan.schedule
    if schedule is None:
        return None
    return {
        "work_minutes": round(schedule.work_minutes, 1),
        "windows_used": schedule.used,
        "finish_window": schedule.finish_window,
        "unplaced": list(schedule.unplaced),
        "windows": [
            {
                "name": w.name,
                "start": summary.clock(plan, w.start),
                "end": summary.clock(plan, w.end),
                "units": list(w.units),
                "safe_point": w.safe_point,
                "stops_at": None if w.stops_at is None else summary.clock(plan, w.stops_at),
                "work_minutes": round(w.work_minutes, 1),
            }
            for w in schedule.windows
        ],
    }


def dumps(document: dict) -> str:
    # allow_nan=False: a non-finite figure is a bug to surface, never invalid JSON to print.
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = ()) -> dict[str, str]:
    return {FILE_NAME: dumps(plan_document(plan, diagnostics))}
