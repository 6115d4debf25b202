"""The plan DAG as a Mermaid flowchart, grouped by phase; labels are quoted by `escape.mermaid_label`."""

from __future__ import annotations

from typing import Iterable

from hciplan.backends.escape import mermaid_label
from hciplan.backends.graphview import graph_view, phase_title
from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.plan import Plan

NAME = "mermaid"
FILE_NAME = "plan.mmd"


def to_mermaid(plan: Plan, detail: bool = False) -> str:
    boxes, edges = graph_view(plan, detail)
    ids = {box.id: f"s{i}" for i, box in enumerate(boxes)}  # Mermaid ids cannot hold dots or spaces
    lines = ["flowchart TD"]
    phases: dict[str, list] = {}
    for box in boxes:
        phases.setdefault(box.phase, []).append(box)
    for phase, members in phases.items():
        lines.append(f"  subgraph {phase}[{mermaid_label(phase_title(phase))}]")
        for box in members:
            shape = ("{{", "}}") if box.irreversible else ("{", "}") if box.gate else ("(", ")")
            lines.append(f"    {ids[box.id]}{shape[0]}{mermaid_label(box.lines)}{shape[1]}")
        lines.append("  end")
    for a, b in edges:
        lines.append(f"  {ids[a]} --> {ids[b]}")
    irreversible = [ids[b.id] for b in boxes if b.irreversible]
    downtime = [ids[b.id] for b in boxes if b.downtime and not b.irreversible]
    lines.append("  classDef irreversible fill:#f8d0d0,stroke:#b00,stroke-width:2px")
    lines.append("  classDef downtime fill:#fde8c8,stroke:#c60")
    if irreversible:
        lines.append(f"  class {','.join(irreversible)} irreversible")
    if downtime:
        lines.append(f"  class {','.join(downtime)} downtime")
    return "\n".join(lines) + "\n"


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = ()) -> dict[str, str]:
    return {FILE_NAME: to_mermaid(plan)}
