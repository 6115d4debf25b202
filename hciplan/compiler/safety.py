"""Safety proofs: walk every state a plan can reach and check the five properties.

1. storage: nodes down never exceed what the volumes tolerate, and no node
   goes down while a storage repair from another is pending;
2. quorum: the votes of the nodes that are up, plus the witness, stay a majority;
3. capacity: the HA VM memory fits on the nodes that are up and not drained;
4. irreversible steps come after everything they depend on and after a
   validation gate; no OS step can come after the point of no return;
5. space: the pool has room for Infrastructure_1 (its mirror footprint plus the repair
   reserve) when the solution upgrade runs.

States are walked along the plan's order (every prefix). Steps the DAG leaves
unordered could also overlap: every pair of node-down intervals that no path
orders is reported as a reachable state with two nodes down. A violation is a
diagnostic whose hints give the counterexample (the steps that reach the state
and the numbers).
"""

from __future__ import annotations

from dataclasses import field


from hciplan.compiler.diagnostics import Collector
from hciplan.compiler.plan import Plan, Step
from hciplan.compiler.storage import RESILIENCY, format_size, infrastructure_space, thin_conversion_frees
from hciplan.records import record

OS_KINDS = {"cau.install", "os.setup", "offline.setup"}
COUNTEREXAMPLE_STEPS = 6  # how many of the steps before the bad state a counterexample shows


@record(frozen=False, slots=False)
class _State:
    drained: set[str] = field(default_factory=set)
    down: set[str] = field(default_factory=set)  # rebooting: no vote, storage copies stale
    repairing: set[str] = field(default_factory=set)  # back up, resync pending
    stopped: bool = False  # inside an offline stop/start bracket: the outage is the plan

    def finish(self, step: Step) -> None:
        """The effects that take hold when `step` ends."""
        effect, node = step.spec.effect, step.node
        if step.spec.takes_node_down and node:
            self.down.discard(node)
            if not self.stopped:
                self.repairing.add(node)
        elif effect == "repair_wait" and node:
            self.repairing.discard(node)
        elif effect == "resume" and node:
            self.drained.discard(node)
        elif effect == "start_cluster":
            self.stopped = False
            self.down.clear()
            self.repairing.clear()


def prove(plan: Plan, report: Collector) -> None:
    """Report every safety violation of `plan` (at most one per property)."""
    _walk_states(plan, report)
    _check_overlaps(plan, report)
    _check_irreversible(plan, report)
    _check_space(plan, report)


def _tolerance(plan: Plan) -> tuple[int, str]:
    volumes = plan.model.cluster.volumes
    if not volumes:
        return 1, "the pool"
    weakest = min(volumes, key=lambda v: (RESILIENCY[v.resiliency].failures_tolerated, v.name))
    return RESILIENCY[weakest.resiliency].failures_tolerated, f"`{weakest.name}` ({weakest.resiliency})"


def _sequence(history: list[Step], last: str) -> str:
    shown = [s.id for s in history[-COUNTEREXAMPLE_STEPS:]]
    prefix = "... -> " if len(history) > COUNTEREXAMPLE_STEPS else ""
    return "counterexample: " + prefix + " -> ".join(shown + [last])


class _Invariants:
    """Quorum and capacity in one state of the cluster (storage is judged where nodes go down)."""

    def __init__(self, plan: Plan):
        cluster = plan.model.cluster
        self.cluster = cluster
        self.nodes = {n.name: n for n in cluster.nodes}
        self.witness = 1 if cluster.witness != "none" else 0
        self.total_votes = len(self.nodes) + self.witness
        self.needed = self.total_votes // 2 + 1
        self.ha_memory = cluster.ha_vm_memory
        self.tolerance, self.weakest = _tolerance(plan)

    def violations(self, state: _State, moment: str):
        """(code, span, message, numbers) for each property broken in `state`."""
        if state.stopped:
            return
        cluster = self.cluster
        up_votes = len(self.nodes) - len(state.down) + self.witness
        if up_votes < self.needed:
            yield ("HCI902", cluster.spans["witness"], f"quorum is lost when {moment}",
                   f"with {', '.join(sorted(state.down))} down: {self.needed} of {self.total_votes} votes "
                   f"needed, {up_votes} present")
        hosting = [n for name, n in self.nodes.items() if name not in state.drained and name not in state.down]
        room = sum(n.memory for n in hosting)
        if self.ha_memory > room:
            groups = [g for g in cluster.vm_groups if g.ha]
            yield ("HCI903", groups[0].spans.header if groups else cluster.spans.header,
                   f"the HA VMs do not fit when {moment}",
                   f"HA VMs need {format_size(self.ha_memory)}; nodes hosting VMs "
                   f"({', '.join(sorted(n.name for n in hosting)) or 'none'}) have {format_size(room)}")


def _walk_states(plan: Plan, report: Collector) -> None:
    invariants = _Invariants(plan)
    cluster = plan.model.cluster
    state = _State()
    history: list[Step] = []
    reported: set[str] = set()

    for step in plan.steps:
        effect = step.spec.effect
        node = step.node
        found = []
        # effects that take hold when the step starts
        if effect == "stop_cluster":
            state.stopped = True
        elif effect == "drain" and node:
            state.drained.add(node)
        elif step.spec.takes_node_down and node:
            others = (state.down | state.repairing) - {node}
            if not state.stopped and others:
                pending = sorted(state.repairing - {node})
                what = (f"the storage repair after {', '.join(pending)} is still pending" if pending
                        else f"{', '.join(sorted(state.down - {node}))} is down")
                found.append(("HCI901", cluster.spans.header, f"{node} can go down while {what} [H-maint]",
                              f"then {len(others) + 1} fault domains are degraded; {invariants.weakest} tolerates "
                              f"{invariants.tolerance}, and only one may be down at a time"))
            state.down.add(node)
            state.repairing.discard(node)
        found.extend(invariants.violations(state, f"{step.id} starts"))
        for code, span, message, numbers in found:
            if code not in reported:
                reported.add(code)
                report.report(code, span, message, hints=[_sequence(history, f"{step.id} starts"), numbers])
        history.append(step)
        state.finish(step)


def _down_intervals(plan: Plan) -> list[tuple[str, str, str]]:
    """(node, first step, last step) of every per-node pass that reboots or drains the node."""
    passes: dict[tuple[str, str], list[Step]] = {}
    for step in plan.steps:
        if step.node and step.group and step.group != "offline" and step.spec.effect:
            passes.setdefault((step.group, step.node), []).append(step)
    return [(node, steps[0].id, steps[-1].id) for (_, node), steps in passes.items()]


def _reachability(plan: Plan, position: dict[str, int]) -> dict[str, int]:
    """Each step's descendants as a bitset over plan positions, in one reverse-topological pass.

    `plan.steps` is a topological order, so walking it backwards sees every
    successor before its predecessors: O(steps + edges) big-integer ORs instead
    of one graph search per node pass (quadratic in the number of nodes).
    """
    reach: dict[str, int] = {}
    for step in reversed(plan.steps):
        bits = 0
        for successor in plan.successors(step.id):
            bits |= reach[successor] | (1 << position[successor])
        reach[step.id] = bits
    return reach


def _check_overlaps(plan: Plan, report: Collector) -> None:
    """Any two node passes that no path orders can run at the same time: judge that state too."""
    position = {s.id: i for i, s in enumerate(plan.steps)}
    intervals = _down_intervals(plan)
    reach = _reachability(plan, position)
    invariants = _Invariants(plan)
    for i, (node_a, start_a, end_a) in enumerate(intervals):
        for node_b, start_b, end_b in intervals[i + 1:]:
            if (node_a == node_b or reach[end_a] >> position[start_b] & 1
                    or reach[end_b] >> position[start_a] & 1):
                continue
            trail = sorted((plan.ancestors(start_a) | plan.ancestors(start_b) | {start_a, start_b}),
                           key=position.__getitem__)
            first, second = (start_a, start_b) if position[start_a] < position[start_b] else (start_b, start_a)
            last_of_first = end_a if first == start_a else end_b
            shown = trail[-COUNTEREXAMPLE_STEPS:]
            sequence = ("counterexample: " + ("... -> " if len(trail) > len(shown) else "")
                        + " -> ".join(shown) + f", then {second} runs before {last_of_first} ends")
            report.report("HCI901", plan.model.cluster.spans.header,
                          f"{node_a} and {node_b} can be down at the same time: nothing orders "
                          f"{start_a} .. {end_a} and {start_b} .. {end_b} [H-maint]",
                          hints=[sequence, f"then 2 nodes are down; {invariants.weakest} tolerates "
                                 f"{invariants.tolerance}, and only one may be down at a time"])
            both_down = _State(drained={node_a, node_b}, down={node_a, node_b})
            for code, span, message, numbers in invariants.violations(both_down, f"{first} and {second} overlap"):
                report.report(code, span, message, hints=[sequence, numbers])
            return


CHANGING_EFFECTS = {"drain", "reboot", "resume", "repair_wait", "stop_cluster", "start_cluster"}


def _changes_nodes(step: Step) -> bool:
    """Steps that take nodes down or change their OS: a gate must see their result."""
    return step.spec.effect in CHANGING_EFFECTS or step.kind in OS_KINDS


def _check_irreversible(plan: Plan, report: Collector) -> None:
    upgrade = plan.model.upgrade
    position = {s.id: i for i, s in enumerate(plan.steps)}
    os_steps = [s.id for s in plan.steps if s.kind in OS_KINDS]
    for step in plan.steps:
        if not step.spec.irreversible:
            continue
        ancestors = plan.ancestors(step.id)
        before = sorted(ancestors, key=position.__getitem__)[-COUNTEREXAMPLE_STEPS:]
        trail = ("... -> " if len(ancestors) > len(before) else "") + " -> ".join(before + [f"{step.id} starts"])
        span = upgrade.spans["functional_level"] if step.phase in ("P2", "P3") else upgrade.spans.header
        if step.phase >= "P2":  # past the OS upgrade: every node's OS step must come first
            missing = [s for s in os_steps if s not in ancestors]
            if missing:
                report.report("HCI904", span,
                              f"{step.id} is irreversible but can start before {missing[0]} [W-rolling]",
                              hints=[f"counterexample: {trail}, while {missing[0]} has not run",
                                     f"{len(missing)} OS step(s) could come after the point of no return, "
                                     "when the cluster can no longer go back to 22H2"])
                return
        if step.kind == "cau.functional_level":
            continue  # CAU raises the level itself at the end of its run; the checker warns (HCI608)
        changes = [a for a in ancestors if _changes_nodes(plan.step(a))]
        gated = any(plan.step(g).spec.gate and set(changes) <= plan.ancestors(g) for g in ancestors)
        if not gated:
            report.report("HCI904", span,
                          f"{step.id} is irreversible but no validation gate checks the state it acts on",
                          hints=[f"counterexample: {trail}",
                                 "a gate (Test-Cluster, the readiness validation or the ARM validation) must "
                                 "come after the last step that changed the nodes"])
            return


def _space_at_deploy(plan: Plan):
    """(first deploy step, thin conversions before it, bytes they free, InfrastructureSpace), or None."""
    model = plan.model
    pool = model.cluster.pool
    deploy = [s for s in plan.steps if s.kind in ("solution.validate", "solution.deploy")]
    if pool is None or not deploy:
        return None
    first = deploy[0]
    ancestors = plan.ancestors(first.id)
    nodes = len(model.cluster.nodes)
    freed = 0
    converted = []
    for step in plan.steps:
        if step.kind == "thin.convert" and step.id in ancestors:
            volume = next(v for v in model.cluster.volumes if v.name == step.target)
            freed += thin_conversion_frees(volume, nodes) or 0
            converted.append(step.target)
    return first, converted, freed, infrastructure_space(pool, nodes, freed)


def _check_space(plan: Plan, report: Collector) -> None:
    found = _space_at_deploy(plan)
    if found is None:
        return
    first, converted, freed, space = found
    pool = plan.model.cluster.pool
    if not space.fits:
        report.report("HCI905", pool.spans.header,
                      f"when {first.id} starts the pool has {format_size(max(space.free, 0))} free; "
                      f"Infrastructure_1 needs {format_size(space.needed)} ({format_size(space.shortfall)} short) "
                      "[A-val]",
                      hints=[f"counterexample: thin conversions ordered before it: {', '.join(converted) or 'none'}; "
                             f"pool free {format_size(max(pool.free, 0))} + {format_size(freed)} freed",
                             space.figures()])


@record(slots=False)
class Margins:
    """How far the plan stays from each safety limit, over the states the proofs walk (plan order).

    The figures the change board reads beside a diff (`hciplan diff`, the plan JSON's `margins`):
    the least memory left for the HA VMs with nodes drained or down, the fault domains the weakest
    volume still tolerates at the worst moment, the fewest spare quorum votes, and the pool space
    left over Infrastructure_1's need when the solution upgrade starts (None without one).
    """

    memory_spare: int  # bytes: hosting nodes' memory minus the HA VMs' memory, at its least
    memory_spare_at: str  # the step at whose start it is least ("" when no step drains a node)
    fault_tolerance: int  # fault domains the weakest volume tolerates
    fault_domains_down: int  # the most nodes down or resyncing at once
    quorum_votes: int  # nodes plus witness
    quorum_needed: int
    quorum_spare: int  # the fewest votes above the majority, at its least
    pool_spare: int | None  # bytes free beyond Infrastructure_1's footprint and reserve (negative: short)

    @property
    def fault_tolerance_left(self) -> int:
        return self.fault_tolerance - self.fault_domains_down


def margins(plan: Plan) -> Margins:
    """The plan's margins, from the same state walk and figures as the proofs (a plan that proves has none < 0)."""
    invariants = _Invariants(plan)
    state = _State()
    nodes = invariants.nodes
    room_all = sum(n.memory for n in nodes.values())
    spare, spare_at = room_all - invariants.ha_memory, ""
    worst_down, fewest_votes = 0, len(nodes) + invariants.witness - invariants.needed
    for step in plan.steps:
        effect, node = step.spec.effect, step.node
        if effect == "stop_cluster":
            state.stopped = True
        elif effect == "drain" and node:
            state.drained.add(node)
        elif step.spec.takes_node_down and node:
            state.down.add(node)
            state.repairing.discard(node)
        if not state.stopped:
            room = sum(n.memory for name, n in nodes.items() if name not in state.drained and name not in state.down)
            if room - invariants.ha_memory < spare:
                spare, spare_at = room - invariants.ha_memory, step.id
            worst_down = max(worst_down, len(state.down | state.repairing))
            fewest_votes = min(fewest_votes, len(nodes) - len(state.down) + invariants.witness - invariants.needed)
        state.finish(step)
    return Margins(spare, spare_at, invariants.tolerance, worst_down, invariants.total_votes, invariants.needed,
                   fewest_votes, _pool_spare(plan))


def _pool_spare(plan: Plan) -> int | None:
    """Free pool space beyond Infrastructure_1's need when the solution upgrade starts (as `_check_space` counts)."""
    found = _space_at_deploy(plan)
    if found is None:
        return None
    space = found[3]
    return space.free - space.needed
