"""The plan DAG as Graphviz dot, grouped by phase; names and labels are quoted by `escape.dot_id`/`dot_label`."""

from __future__ import annotations

from typing import Iterable

from hciplan.backends.escape import dot_id, dot_label
from hciplan.backends.graphview import graph_view, phase_title
from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.plan import Plan

NAME = "dot"
FILE_NAME = "plan.dot"


def to_dot(plan: Plan, detail: bool = False) -> str:
    boxes, edges = graph_view(plan, detail)
    lines = [f"digraph {dot_id('hciplan ' + plan.model.cluster.name)} {{",
             "  rankdir=TB;", '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];']
    phases: dict[str, list] = {}
    for box in boxes:
        phases.setdefault(box.phase, []).append(box)
    for phase, members in phases.items():
        lines.append(f"  subgraph {dot_id('cluster_' + phase)} {{")
        lines.append(f"    label={dot_label(phase_title(phase))};")
        for box in members:
            attrs = [f"label={dot_label(box.lines)}"]
            if box.irreversible:
                attrs += ["shape=octagon", "fillcolor=\"#f8d0d0\"", "penwidth=2"]
            elif box.downtime:
                attrs.append("fillcolor=\"#fde8c8\"")
            elif box.gate:
                attrs.append("shape=diamond")
            lines.append(f"    {dot_id(box.id)} [{', '.join(attrs)}];")
        lines.append("  }")
    for a, b in edges:
        lines.append(f"  {dot_id(a)} -> {dot_id(b)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = ()) -> dict[str, str]:
    return {FILE_NAME: to_dot(plan)}
