"""The plan builder: from a checked model and its upgrade intent to the step DAG.

Phases follow domain.md section 1 (P0 gates ... P7 after). Steps are chained
in the order the script performs them: the script runs one step at a time, so
a per-node step that needs no drain (BitLocker suspend and resume, the media
check, the LCM extension) still runs node after node, in the upgrade order,
and the simulator must not overlap them. The only parallel work is what the
script really runs at once: the offline bracket's per-node setup. Node passes
that drain or reboot (registry keys, OS upgrade, Network ATC, remediation)
are strictly serial, one node at a time, in the upgrade order.
"""

from __future__ import annotations

import dataclasses
import re

from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.durations import mean_minutes, offline_share
from hciplan.compiler.model import Model
from hciplan.compiler.plan import Plan, Step, order_steps
from hciplan.compiler.recovery import recovery_of
from hciplan.compiler.schedule import plan_schedule
from hciplan.compiler.units import CAU_RUN, OFFLINE, plan_bounds

# The per-node passes: (verb in the step id, catalog kind) in execution order.
REGISTRY_PASS = (("drain", "node.drain"), ("apply", "registry.apply"), ("reboot", "node.reboot"),
                 ("resume", "node.resume"), ("storage_wait", "storage.wait"))
CAU_PASS = (("drain", "cau.drain"), ("install", "cau.install"), ("reboot", "cau.reboot"),
            ("resume", "cau.resume"), ("storage_wait", "cau.storage_wait"))
# The manual procedure. [A-other] lists the storage wait before the resume, but resync starts when the node
# resumes [H-maint], so waiting for healthy storage first would wait forever: resume, then wait.
MANUAL_PASS = (("drain", "node.drain"), ("setup", "os.setup"), ("reboot", "os.restart"),
               ("resume", "node.resume"), ("storage_wait", "storage.wait"))
ATC_PASS = (("drain", "node.drain"), ("configure", "atc.configure"), ("resume", "node.resume"),
            ("storage_wait", "storage.wait"))
REMEDIATE_PASS = (("drain", "node.drain"), ("apply", "remediate.apply"), ("reboot", "node.reboot"),
                  ("resume", "node.resume"), ("storage_wait", "storage.wait"))



def _id_part(name: str) -> str:
    """A free-text name (a volume's) made safe for step ids, which backends turn into identifiers."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _unique(step_id: str, used: set[str]) -> str:
    """`step_id`, numbered (`-2`, ...) when `_id_part` made it equal to one taken, ignoring case as Windows does."""
    candidate, n = step_id, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{step_id}-{n}"
    used.add(candidate.lower())
    return candidate


class _Builder:
    def __init__(self, model: Model):
        self.model = model
        self.steps: list[Step] = []
        self.tail: tuple[str, ...] = ()
        self.down_minutes: dict[tuple[str | None, str | None], float] = {}
        self.offline_minutes: dict[tuple[str | None, str | None], float] = {}  # a pass's setup, its offline part

    def _add(self, step_id: str, kind: str, phase: str, after: tuple[str, ...], node: str | None = None,
             group: str | None = None, target: str | None = None) -> str:
        spec = CATALOG[kind]
        share = round(offline_share(self.model, kind), 6)
        if spec.effect == "repair_wait":
            down = self.down_minutes.get((group, node), 0.0)
            minutes = mean_minutes("storage.wait", self.model, down, step_kind=kind)
        else:
            minutes = mean_minutes(spec.duration_model, self.model, step_kind=kind)
            if share:
                self.offline_minutes[(group, node)] = share * minutes
            if spec.takes_node_down:  # down from the offline part of the setup before it (if any) to its end
                self.down_minutes[(group, node)] = self.offline_minutes.pop((group, node), 0.0) + minutes
        self.steps.append(Step(step_id, kind, phase, node, tuple(sorted(after)), group, target, round(minutes, 3),
                               offline_share=share))
        return step_id

    def then(self, step_id: str, kind: str, phase: str, **extra) -> str:
        """A step after everything currently at the tail."""
        added = self._add(step_id, kind, phase, self.tail, **extra)
        self.tail = (added,)
        return added

    def each_node(self, phase: str, kind: str, verb: str) -> None:
        """The same step on every node, one after another in the upgrade order, as the script runs them."""
        for n in self.model.ordered_nodes():
            self.then(f"{phase.lower()}.{verb}.{n.name}", kind, phase, node=n.name)

    def rolling(self, phase: str, name: str, actions: tuple[tuple[str, str], ...], group: str | None = None) -> None:
        """One node at a time, in upgrade order; the next node starts after the previous one's last step."""
        for node in self.model.ordered_nodes():
            for verb, kind in actions:
                self.then(f"{phase.lower()}.{name}.{node.name}.{verb}", kind, phase, node=node.name,
                          group=group or name)


def build_plan(model: Model) -> Plan:
    """Build the plan for a model whose checks passed (it must have an upgrade block)."""
    cluster, upgrade = model.cluster, model.upgrade
    assert upgrade is not None, "build_plan needs an upgrade block"
    b = _Builder(model)
    solution = upgrade.solution is not None
    bitlocker_suspended = cluster.bitlocker == "on" and upgrade.bitlocker == "suspend"
    # The RollingUpgradePlugin's UpdateClusterFunctionalLevel is documented for the media route only [A-ps];
    # WAC has its checkbox [A-wac]. Over Windows Update the level is raised in P3 instead (HCI610).
    fl_by_cau = upgrade.functional_level == "with_cau" and (
        upgrade.method == "wac" or (upgrade.method == "cau" and upgrade.source == "media"))

    # P0: read-only gates
    b.then("p0.preflight", "gate.preflight", "P0")
    if solution:  # needs an Azure sign-in, which only solution plans have; OS-only plans: a preflight warning
        b.then("p0.registration_repair", "registration.repair", "P0")
    b.then("p0.test_cluster", "gate.test_cluster", "P0")

    # P1: pre-OS
    if cluster.aks.installed and upgrade.aks == "remove":
        b.then("p1.aks_remove", "aks.remove", "P1")
    if bitlocker_suspended:
        b.each_node("P1", "bitlocker.suspend", "bitlocker_suspend")  # before the first reboot
    if upgrade.method != "offline":  # offline sets the keys inside its bracket, where the setup reboot applies them
        b.rolling("P1", "registry", REGISTRY_PASS)
    if upgrade.source == "media" and upgrade.method != "wac":
        b.each_node("P1", "media.verify", "media_verify")
    if upgrade.method == "cau":
        b.then("p1.cau_prepare", "cau.prepare", "P1")
        b.then("p1.cau_scan", "cau.scan", "P1")

    # P2: the OS upgrade
    if upgrade.method in ("cau", "wac"):
        b.rolling("P2", "cau", CAU_PASS, group=CAU_RUN)  # one Invoke-CauRun performs all of these
        if fl_by_cau:
            b.then("p2.cau_functional_level", "cau.functional_level", "P2", group=CAU_RUN)
    elif upgrade.method == "manual":
        b.rolling("P2", "os", MANUAL_PASS)
    else:  # offline: every node at once inside a stop/start bracket
        b.then("p2.offline_stop", "offline.stop", "P2")
        stop = b.tail
        ends = []
        for node in cluster.nodes:
            keys = b._add(f"p2.offline.{node.name}.registry", "registry.apply", "P2", stop, node=node.name,
                          group=OFFLINE)
            setup = b._add(f"p2.offline.{node.name}.setup", "offline.setup", "P2", (keys,), node=node.name,
                           group=OFFLINE)
            ends.append(b._add(f"p2.offline.{node.name}.reboot", "offline.reboot", "P2", (setup,), node=node.name,
                               group=OFFLINE))
        b.tail = tuple(ends)
        b.then("p2.offline_start", "offline.start", "P2")

    # P3: post-OS
    b.then("p3.validate", "post.validate", "P3")
    b.then("p3.migration_test", "post.migration_test", "P3")  # the last point where the cluster can go back
    b.then("p3.registry_check", "post.registry_check", "P3")
    # After validation; with CAU raising it, the same step is the fallback: its probe skips a raised level, so a
    # plug-in that ignored the argument does not leave the cluster at the old level (or a rerun failing forever).
    level_raised = upgrade.functional_level != "manual"
    if level_raised:
        b.then("p3.functional_level", "post.functional_level", "P3")
    if level_raised and upgrade.storage_pool == "update":
        b.then("p3.storage_pool", "post.storage_pool", "P3")
    if level_raised and upgrade.vm_version == "update":
        b.then("p3.vm_version", "post.vm_version", "P3")
    b.then("p3.oem_drivers", "post.oem_drivers", "P3")  # drivers may have reverted to inbox versions
    b.then("p3.sync", "post.sync", "P3")

    # P4: Network ATC, only when it is not configured yet
    if upgrade.network_atc == "configure" and not cluster.network_atc:
        b.then("p4.atc_install", "atc.install", "P4")
        # The first node's pass creates the intent and renames its vSwitch; before the next drain the other
        # nodes' vSwitch takes the same name and their VM NICs are reconnected, or live migration fails [A-atc].
        ordered = model.ordered_nodes()
        for index, node in enumerate(ordered):
            for verb, kind in ATC_PASS:
                b.then(f"p4.atc.{node.name}.{verb}", kind, "P4", node=node.name, group="atc")
            if index == 0 and len(ordered) > 1:
                b.then("p4.atc_rename_switch", "atc.rename_switch", "P4")
        b.then("p4.atc_verify", "atc.verify", "P4")

    # P5 and P6: readiness and the solution upgrade
    if solution:
        b.rolling("P5", "remediate", REMEDIATE_PASS)
        volumes = {v.name.lower(): v.name for v in cluster.volumes}
        used_ids: set[str] = set()
        for name in upgrade.convert_to_thin or ():
            volume = volumes[name.lower()]  # the checker (HCI307) guarantees it exists
            b.then(_unique(f"p5.thin_convert.{_id_part(volume)}", used_ids), "thin.convert", "P5", target=volume)
        b.each_node("P5", "lcm.extension", "lcm_extension")
        if upgrade.solution.adou_path:
            b.then("p5.ad_prepare", "ad.prepare", "P5")
        b.then("p5.readiness_validate", "readiness.validate", "P5")
        b.then("p6.solution_validate", "solution.validate", "P6")
        b.then("p6.solution_deploy", "solution.deploy", "P6")

    # P7: after
    if bitlocker_suspended:
        b.each_node("P7", "bitlocker.resume", "bitlocker_resume")
    if solution and upgrade.wdac == "disable" and cluster.wdac == "enforced":
        b.then("p7.wdac_reapply", "wdac.reapply", "P7")
    if solution:
        b.then("p7.after_configure", "after.configure", "P7")
    b.then("p7.verify", "after.verify", "P7")

    return finish(model, b.steps)


def finish(model: Model, steps: list[Step]) -> Plan:
    """Order the steps and compute their bounds and units once, for every consumer."""
    ordered = order_steps(steps)
    index = {s.id: i for i, s in enumerate(ordered)}
    bounds = plan_bounds(model, [s.id for s in ordered], [s.kind for s in ordered], [s.node for s in ordered],
                         [s.group for s in ordered], [tuple(index[p] for p in s.after) for s in ordered],
                         [s.offline_share for s in ordered])
    ordered = tuple(dataclasses.replace(s, bound_minutes=b, p90_minutes=q)
                    for s, b, q in zip(ordered, bounds.bound_minutes, bounds.p90_minutes))
    plan = Plan(model, ordered, bounds.units, bounds.reboot_timeout, bounds.confidence,
                recovery=recovery_of(model))
    return dataclasses.replace(plan, schedule=plan_schedule(plan))  # needs the ordered steps and units above
