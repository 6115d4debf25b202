"""The graph view shared by the dot and mermaid backends.

For readability on a 16-node cluster, each per-node pass of a node (drain,
action, reboot, resume, storage wait) is collapsed into one box unless
`detail` is asked for; boxes are grouped by phase.
"""

from __future__ import annotations

from dataclasses import dataclass

from hciplan.compiler.catalog import PHASES
from hciplan.compiler.plan import Plan


@dataclass(frozen=True)
class Box:
    id: str
    lines: tuple[str, ...]  # the label, one entry per line
    phase: str
    irreversible: bool
    downtime: bool
    gate: bool


def graph_view(plan: Plan, detail: bool = False) -> tuple[list[Box], list[tuple[str, str]]]:
    """Boxes in plan order and the edges between them (deduplicated, in a stable order)."""
    owner: dict[str, str] = {}
    members: dict[str, list] = {}
    for step in plan.steps:
        if detail or not step.node:
            key = step.id
        elif step.group:  # a node's pass: one box per node
            key = f"{step.phase.lower()}.{step.group}.{step.node}"
        else:  # the same step on every node in parallel: one box
            key = step.id.rsplit(".", 1)[0]
        owner[step.id] = key
        members.setdefault(key, []).append(step)
    boxes = []
    for key, steps in members.items():
        first = steps[0]
        if len(steps) == 1:
            lines = (first.id, first.title)
        elif not first.group:
            lines = (f"{key} (each node, in parallel)", first.title)
        else:
            verbs = " > ".join(s.id.rsplit(".", 1)[-1] for s in steps)
            lines = (f"{first.node} ({first.group})", verbs)
        boxes.append(Box(key, lines, first.phase, any(s.spec.irreversible for s in steps),
                         any(s.spec.downtime for s in steps), any(s.spec.gate for s in steps)))
    edges: dict[tuple[str, str], None] = {}
    for step in plan.steps:
        for parent in step.after:
            a, b = owner[parent], owner[step.id]
            if a != b:
                edges[(a, b)] = None
    return boxes, list(edges)


def phase_title(phase: str) -> str:
    return f"{phase} {PHASES[phase]}"
