"""The runner entries of the script: what one `Invoke-PlanStep` call runs, in plan order.

An entry is one plan step, or a group of steps that one step function performs (the sub-steps of a CAU run
are one `Invoke-CauRun`; the per-node steps of the offline method run at once inside the stopped cluster).
`build_entries` only decides which steps form an entry; where the window rule applies, and with what fit
time, comes from the plan's units (compiler/units.py); what each entry's function does is `steps.py`'s
business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hciplan.backends.powershell import steps as emitters
from hciplan.backends.powershell.steps import Unsupported
from hciplan.backends.pstext import function_names
from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.plan import Plan, Step


@dataclass
class Entry:
    """One runner entry: a step, or a group of steps one function performs (a CAU run, the offline upgrade)."""

    id: str
    steps: list[Step]
    body: list[str] = field(default_factory=list)
    probe: str | None = None
    verify: str | None = None
    target: str | None = None
    read_only: bool = False
    unit: str | None = None  # the plan unit this entry starts: the window rule applies before it, and only here
    fit_minutes: float = 0.0  # that unit's fit (the plan's fit_minutes)
    ends_unit: str | None = None  # the plan unit whose safe point holds after this entry
    function: str = ""  # the PowerShell function that performs it, unique in the script (build_entries)

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def title(self) -> str:
        if len(self.steps) == 1:
            return self.first.title
        if self.first.group == CAU_RUN:
            return "One CAU run with the RollingUpgradePlugin: " + ", ".join(dict.fromkeys(s.node for s in self.steps if s.node))
        return "Upgrade every node at once inside the stopped cluster"

    @property
    def irreversible(self) -> bool:
        return any(s.spec.irreversible for s in self.steps)

    @property
    def covers(self) -> list[str]:
        return [s.id for s in self.steps] if len(self.steps) > 1 else []


def build_entries(plan: Plan) -> list[Entry]:
    """The runner entries in plan order; a group of steps takes the place of its first step."""
    if plan.interactive:
        raise Unsupported(
            f"method = {plan.method} runs the OS upgrade from the Windows Admin Center GUI, which a script cannot "
            "drive: emit the runbook instead (hciplan emit FILE --backend runbook)")
    members: dict[str, list[Step]] = {}
    for step in plan.steps:
        if emitters.is_group(step.group):
            members.setdefault(step.group, []).append(step)
    entries: list[Entry] = []
    for step in plan.steps:
        if emitters.is_group(step.group):
            if step is members[step.group][0]:
                entry = Entry(f"{step.phase.lower()}.{step.group}", members[step.group])
                emitters.emit_group(plan, entry)
                entries.append(entry)
            continue
        entry = Entry(step.id, [step])
        emitters.emit(plan, entry)
        entries.append(entry)
    for entry in entries:  # the plan's units decide where the window rule applies: no entry works it out
        head, last = plan.unit_of(entry.first.id), plan.unit_of(entry.steps[-1].id)
        if head.head == entry.first.id:
            entry.unit, entry.fit_minutes = head.id, head.fit_minutes
        if last.tail == entry.steps[-1].id:
            entry.ends_unit = last.id
    for entry, name in zip(entries, function_names("Step", [e.id for e in entries])):
        entry.function = name
    return entries
