"""From records to observations: which step kind (and so which duration model) each measured time belongs to.

- **Journals.** A step id names its plan step by the builder's id scheme
  (hciplan/compiler/builder.py): fixed ids (`p0.preflight`), per-node fans
  (`p1.bitlocker_suspend.HCI01`), node passes (`p1.registry.HCI04.drain`:
  phase, pass, node, verb) and targets (`p5.thin_convert.Data`). A `done`
  record's `start` is when the step's work began (the script journals it after
  the probe and the prompts), so `end - start` is the step's duration. Not
  measurements: the sub-steps of a group entry (the CAU run journals
  `done by p2.cau_run` with the whole run's start; the offline bracket
  likewise), operator steps (the journal times the script's check of what the
  operator did), a step retried after a failure or an interrupted run (a
  partial attempt), and every record that is not `done`.
- **CAU reports.** Per node: the install from the node's suspension
  (`NodeSuspendedTimestamp`) to its last update's `UpdateTimestamp` is
  `cau.install`; from there to the end of the suspension
  (`NodeSuspendedTimestamp + NodeSuspendedDuration`) is the reboot(s) and
  service start, `cau.reboot`. Only `Microsoft.RollingUpgradePlugin` runs are
  the feature update. The report times neither the drain nor the resume nor
  the storage wait. Both readings are inferences from the property names
  (docs/calibration.md).
- **Update runs (LCM).** A whole successful run is `solution.deploy`; a stage
  whose name says validation or health check is `solution.validate` (an
  assumption: a run names its stages, not hciplan's kinds). Only the run and
  its top-level stages are read.

Whatever is not used is counted per source file, with the reason, for the
command's report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from hciplan.calibration.sources import CauRun, Invocation, JournalFile, LcmRun
from hciplan.compiler.builder import ATC_PASS, CAU_PASS, MANUAL_PASS, REGISTRY_PASS, REMEDIATE_PASS
from hciplan.compiler.catalog import CATALOG

# --- the builder's id scheme ------------------------------------------------------------------------

FIXED_IDS = {
    "p0.preflight": "gate.preflight", "p0.registration_repair": "registration.repair",
    "p0.test_cluster": "gate.test_cluster",
    "p1.aks_remove": "aks.remove", "p1.cau_prepare": "cau.prepare", "p1.cau_scan": "cau.scan",
    "p2.cau_functional_level": "cau.functional_level", "p2.offline_stop": "offline.stop",
    "p2.offline_start": "offline.start",
    "p3.validate": "post.validate", "p3.migration_test": "post.migration_test",
    "p3.registry_check": "post.registry_check", "p3.functional_level": "post.functional_level",
    "p3.storage_pool": "post.storage_pool", "p3.vm_version": "post.vm_version", "p3.oem_drivers": "post.oem_drivers",
    "p3.sync": "post.sync",
    "p4.atc_install": "atc.install", "p4.atc_rename_switch": "atc.rename_switch", "p4.atc_verify": "atc.verify",
    "p5.ad_prepare": "ad.prepare", "p5.readiness_validate": "readiness.validate",
    "p6.solution_validate": "solution.validate", "p6.solution_deploy": "solution.deploy",
    "p7.wdac_reapply": "wdac.reapply", "p7.after_configure": "after.configure", "p7.verify": "after.verify",
}
FANS = {  # `phase.verb.NODE`: the same step on every node
    "p1.bitlocker_suspend": "bitlocker.suspend", "p1.media_verify": "media.verify",
    "p5.lcm_extension": "lcm.extension", "p7.bitlocker_resume": "bitlocker.resume",
}
TARGETED = {"p5.thin_convert": "thin.convert"}  # `phase.verb.TARGET`
PASSES = {  # `phase.pass.NODE.verb`
    "p1.registry": dict(REGISTRY_PASS), "p2.cau": dict(CAU_PASS), "p2.os": dict(MANUAL_PASS),
    "p4.atc": dict(ATC_PASS), "p5.remediate": dict(REMEDIATE_PASS),
    "p2.offline": {"registry": "registry.apply", "setup": "offline.setup", "reboot": "offline.reboot"},
}
GROUP_ENTRIES = {"p2.cau_run": "the whole CAU run", "p2.offline": "the whole offline bracket"}
GROUP_PASSES = ("p2.cau", "p2.offline")  # passes whose steps one group entry performs (steps.py emits_group)


def kind_of(step_id: str) -> str | None:
    """The catalog kind of a journal step id, or None for an id outside the scheme (or a group entry)."""
    if step_id in FIXED_IDS:
        return FIXED_IDS[step_id]
    parts = step_id.split(".")
    head = ".".join(parts[:2])
    if len(parts) == 3 and head in FANS:
        return FANS[head]
    if len(parts) == 3 and head in TARGETED:
        return TARGETED[head]
    if len(parts) == 4 and head in PASSES:
        return PASSES[head].get(parts[3])
    return None


def node_of(step_id: str) -> str | None:
    """The node a per-node step id names (`p1.registry.HCI04.drain` -> HCI04), else None."""
    parts = step_id.split(".")
    head = ".".join(parts[:2])
    if (len(parts) == 3 and head in FANS) or (len(parts) == 4 and head in PASSES):
        return parts[2]
    return None


def in_group(step_id: str) -> bool:
    parts = step_id.split(".")
    return step_id == "p2.cau_functional_level" or (len(parts) == 4 and ".".join(parts[:2]) in GROUP_PASSES)


# --- observations and what was left out -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observation:
    """One measured duration of one step."""

    model: str  # the duration model (what the timing block's `model` names and the shared factor groups)
    kind: str  # the step kind
    run: str  # the run it belongs to (its steps share the run's speed factors)
    minutes: float
    start: dt.datetime
    end: dt.datetime
    source: str  # the file


@dataclass
class Ledger:
    """Per source file: how many records were used, and why the others were not."""

    used: Counter = field(default_factory=Counter)
    left: dict[str, Counter] = field(default_factory=dict)

    def skip(self, source: str, reason: str, count: int = 1) -> None:
        self.left.setdefault(source, Counter())[reason] += count

    def take(self, source: str, count: int = 1) -> None:
        self.used[source] += count

    def sources(self) -> list[str]:
        return sorted(set(self.used) | set(self.left))


def observation(kind: str, run: str, start: dt.datetime, end: dt.datetime, source: str) -> Observation:
    return Observation(CATALOG[kind].duration_model, kind, run, (end - start).total_seconds() / 60, start, end,
                       source)


# --- journals ---------------------------------------------------------------------------------------

_GROUP_MESSAGES = ("done by ", "from the node state after the CAU run")  # runner.ps1, cau_run.ps1


def journal_observations(journal: JournalFile, invocations: list[Invocation], ledger: Ledger) -> list[Observation]:
    """The measured steps of `invocations` (of `journal`); every other step record goes to the ledger."""
    out: list[Observation] = []
    history: dict[str, list[str]] = {}  # step -> statuses so far, across invocations
    open_start: dict[str, int] = {}  # step -> the invocation whose `start` no state record has closed yet
    chosen = {inv.index for inv in invocations}
    path = journal.path
    for inv in journal.invocations:
        for record in inv.records:
            step, status = record.step, record.status
            earlier = history.setdefault(step, [])
            if status == "start":
                if open_start.get(step, inv.index) != inv.index:  # begun before, and that run died inside it
                    earlier.append("interrupted")
                open_start[step] = inv.index
                continue
            if record.is_note:
                continue
            open_start.pop(step, None)
            if inv.index in chosen:
                reason = _journal_reason(record, earlier)
                if reason is None:
                    out.append(observation(kind_of(step), inv.key, record.start, record.end, path))
                    ledger.take(path)
                else:
                    ledger.skip(path, reason)
            earlier.append(status)
    return out


def _journal_reason(record, earlier: list[str]) -> str | None:
    """Why a state record is not a measurement, or None when it is one."""
    step, status = record.step, record.status
    if status == "skipped":
        return "skipped by its probe: no work to time"
    if status in ("failed", "timeout"):
        return "failed or timed out: no complete duration"
    if status != "done":
        return f"not run ({status})"
    if step in GROUP_ENTRIES:
        return f"{GROUP_ENTRIES[step]}: its parts are timed per node elsewhere (the CAU report)"
    if in_group(step) or record.message.startswith(_GROUP_MESSAGES):
        return "part of a group entry: journalled with the group's start, not timed on its own"
    kind = kind_of(step)
    if kind is None:
        return "a step id outside hciplan's id scheme"
    if CATALOG[kind].interactive or "paused" in earlier:
        return "operator step: the journal times the script's check, not the operator's work"
    if "failed" in earlier or "timeout" in earlier:
        return "rerun after a failure: a partial attempt"
    if "interrupted" in earlier:
        return "restarted after an interrupted run: a partial attempt"
    if record.end <= record.start:
        return "no positive duration"
    return None


# --- CAU run reports --------------------------------------------------------------------------------

FEATURE_UPDATE_PLUGIN = "microsoft.rollingupgradeplugin"


def cau_observations(run: CauRun, run_key: str, ledger: Ledger) -> list[Observation]:
    out: list[Observation] = []
    path = run.source
    feature = any(p.lower().endswith(FEATURE_UPDATE_PLUGIN) for p in run.plugins)
    for node in run.nodes:
        reason = None
        if not run.plugins:
            reason = "no Plugin in the report: a feature update cannot be told from monthly updates"
        elif not feature:
            reason = f"a CAU run of {', '.join(run.plugins)}, not the feature update (Microsoft.RollingUpgradePlugin)"
        elif not node.succeeded:
            reason = f"node status {node.status or 'unknown'}, not Succeeded"
        elif node.retried:
            reason = "node retried (TransientInstallErrors): its times may span several attempts"
        elif node.suspended_at is None or node.suspended_for is None:
            reason = "no suspension time or duration (null)"
        else:
            installed = [u.at for u in node.updates if u.at is not None]
            resumed = node.suspended_at + node.suspended_for
            if not installed:
                reason = "no update installed with a time: install and reboot cannot be told apart"
            elif not (node.suspended_at < max(installed) < resumed):
                reason = "the update's time lies outside the node's suspension"
            else:
                last = max(installed)
                out.append(observation("cau.install", run_key, node.suspended_at, last, path))
                out.append(observation("cau.reboot", run_key, last, resumed, path))
                ledger.take(path)
                continue
        ledger.skip(path, reason)
    return out


# --- Lifecycle Manager update runs ------------------------------------------------------------------

# Stage names that mean a kind hciplan has (an assumption: the portal's "Validate that the system is
# ready" stage and the update's health check are the solution's validation).
LCM_STAGE_KINDS = ((re.compile(r"validat|health", re.I), "solution.validate"),)
SUCCESS = ("success", "succeeded")


def lcm_observations(run: LcmRun, run_key: str, ledger: Ledger) -> list[Observation]:
    out: list[Observation] = []
    path = run.source
    root = run.root
    if (root.status or "").lower() not in SUCCESS:
        ledger.skip(path, f"update run with status {root.status or 'unknown'}, not Success")
    elif root.start is None or root.end is None or root.end <= root.start:
        ledger.skip(path, "update run without both times (null)")
    else:
        out.append(observation("solution.deploy", run_key, root.start, root.end, path))
        ledger.take(path)
    for stage in run.stages:
        kind = next((k for pattern, k in LCM_STAGE_KINDS if pattern.search(stage.name)), None)
        if kind is None:
            ledger.skip(path, f"stage {stage.name[:60]!r}: no hciplan step kind")
        elif (stage.status or "").lower() not in SUCCESS:
            ledger.skip(path, f"stage with status {stage.status or 'unknown'}, not Success")
        elif stage.start is None or stage.end is None or stage.end <= stage.start:
            ledger.skip(path, "stage without both times (null)")
        else:
            out.append(observation(kind, run_key, stage.start, stage.end, path))
            ledger.take(path)
    return out
