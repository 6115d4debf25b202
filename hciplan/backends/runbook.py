"""The runbook backend: a Markdown change-board document for the upgrade, for every method including WAC.

Sections: the summary (cluster, method, windows, expected duration, and the
simulated P50/P90 and chance to finish in the window when a simulation's
summary, a `SimResult`, is given), risks and the point of no return, what to prepare, then per phase a
checklist: each step (per-node passes folded into one checklist per pass)
with the commands an operator would run, its expected duration, how to verify
it and how to back out while that is still possible. The commands are the
same operations the PowerShell backend scripts; for `method = wac` the OS
upgrade is the Windows Admin Center procedure [A-wac]. Each step kind's
commands, verify and back-out texts are registered in
`hciplan.backends.powershell.operator`, beside its emitter; this module lays them out.

Every value from the `.hciplan` file is shown through `escape` (code spans,
`md_cell_code` inside the summary table, fenced blocks, PowerShell
literals), so names cannot break the Markdown or its table.
Output is deterministic: no timestamps; the plan fingerprint identifies it.
"""

from __future__ import annotations

from typing import Iterable

from hciplan import __version__
from hciplan.backends.azurelocal import TARGET_BUILD
from hciplan.backends.powershell.operator import backout_for, commands_for, verify_for
from hciplan.backends.escape import literal, md_block, md_cell_code, md_code, md_text
from hciplan.backends.summary import format_time
from hciplan.compiler.builder import CAU_RUN
from hciplan.compiler.catalog import PHASES
from hciplan.compiler.diagnostics import Diagnostic, Severity
from hciplan.compiler.plan import Plan, Step
from hciplan.compiler.quantities import format_minutes
from hciplan.percent import setting_text, share_text
from hciplan.simulator.result import SimResult, window_close_cells
from hciplan.words import counted

NAME = "runbook"
FILE_NAME = "RUNBOOK.md"


def _title(step: Step) -> str:
    """A step's title for Markdown: the catalog text, and its target (a user's volume name) as code."""
    return md_text(step.spec.title) + (f": {md_code(step.target)}" if step.target else "")


# --- document --------------------------------------------------------------------------------------


def _wac_section(plan: Plan, steps: list[Step]) -> list[str]:
    upgrade = plan.model.upgrade
    nodes = list(dict.fromkeys(s.node for s in steps if s.node))
    minutes = sum(s.mean_minutes for s in steps)
    level = upgrade.functional_level == "with_cau"
    lines = [
        f"### OS upgrade in Windows Admin Center (~{format_minutes(minutes)}) [A-wac]",
        "",
        "Windows Admin Center runs CAU underneath and restarts one node at a time. It cannot be scripted: "
        "follow these steps in its GUI. Do not switch tools in the middle of the run.",
        "",
        "- [ ] Enable CredSSP for the WAC connection (turn it off again afterwards).",
        "- [ ] Turn Kernel Soft Reboot off for this run.",
        "- [ ] Cluster Manager > Updates > check for updates; choose the Azure Stack HCI 23H2 feature update "
        "(Windows Update only: WAC has no ISO option).",
        f"- [ ] Readiness checks pass; start the install. Expected node order: {', '.join(md_code(n) for n in nodes)}.",
        ("- [ ] Tick **Update the cluster functional level to enable new features** (IRREVERSIBLE at the end of the run)."
         if level else "- [ ] Leave **Update the cluster functional level** unticked: it is raised later, after validation."),
        f"- [ ] Watch progress in WAC or with `Get-CauRun -ClusterName {literal(plan.model.cluster.name)}`.",
        "",
        "Per node, CAU drains, installs, restarts, resumes and waits for storage:",
        "",
    ]
    for node in nodes:
        per = sum(s.mean_minutes for s in steps if s.node == node)
        lines.append(f"- [ ] {md_code(node)} upgraded (build {TARGET_BUILD}) and Up, storage jobs done (~{format_minutes(per)})")
    lines += ["", "- Back out: " + backout_for(steps[0]), ""]
    return lines


def _step_section(plan: Plan, heading: str, steps: list[Step], nodes: list[str]) -> list[str]:
    first = steps[0]
    parallel = bool(nodes) and (not first.group or first.group == "offline")  # offline: every node at once
    if parallel:
        minutes = max(sum(s.mean_minutes for s in steps if s.node == node) for node in nodes)
    else:
        minutes = sum(s.mean_minutes for s in steps)
    marks = []
    if any(s.spec.irreversible for s in steps):
        marks.append("**IRREVERSIBLE**")
    if any(s.spec.downtime for s in steps):
        marks.append("**VM downtime**")
    if any(s.spec.interactive for s in steps):
        marks.append("operator at the console")
    lines = [f"### {heading} (~{format_minutes(minutes)}){' — ' + ', '.join(marks) if marks else ''}", ""]
    kinds = list(dict.fromkeys(s.kind for s in steps))
    if nodes:
        if first.group == "offline":
            lines.append("Every node at once, while the cluster is stopped:")
        elif first.group:
            lines.append("One node at a time, in this order; each node's pass ends with healthy storage:")
        else:
            lines.append("On each node (they are independent):")
        lines.append("")
        for node in nodes:
            per = [s for s in steps if s.node == node]
            verbs = ": " + md_text(" > ".join(s.id.rsplit(".", 1)[-1] for s in per)) if first.group else ""
            lines.append(f"- [ ] {md_code(node)}{verbs} (~{format_minutes(sum(s.mean_minutes for s in per))})")
        lines.append("")
    else:
        lines += [f"- [ ] {md_code(first.id)}: {_title(first)}", ""]
    for kind in kinds:
        step = next(s for s in steps if s.kind == kind)
        lines += [f"**{md_text(step.spec.title)}** ({md_text(step.spec.source)})", "",
                  md_block(commands_for(plan, step)), "",
                  f"- Verify: {verify_for(step)}",
                  f"- Back out: {backout_for(step)}", ""]
    return lines


def _phase_sections(plan: Plan, phase: str, steps: list[Step]) -> list[str]:
    lines = [f"## {phase} {PHASES[phase]}", ""]
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            continue
        if plan.interactive and step.group == CAU_RUN:
            run = [s for s in steps if s.group == CAU_RUN]
            seen.update(s.id for s in run)
            lines += _wac_section(plan, run)
            continue
        if step.node and step.group:  # a node pass: every step of the pass, one checklist
            members = [s for s in steps if s.group == step.group]
            heading = md_text("CAU run (one Invoke-CauRun, RollingUpgradePlugin)" if step.group == CAU_RUN
                              else f"{step.group} pass")
        elif step.node:  # the same independent step on every node
            members = [s for s in steps if s.kind == step.kind and s.node and not s.group]
            heading = _title(step)
        else:
            members = [step]
            heading = f"{md_code(step.id)}: {_title(step)}"
        seen.update(s.id for s in members)
        nodes = list(dict.fromkeys(s.node for s in members if s.node))
        lines += _step_section(plan, heading, members, nodes)
        if step.group == CAU_RUN:
            lines.insert(len(lines) - 1, "- Monitor: `Get-CauRun`; on failure `Get-CauReport -Last -Detailed`")
    return lines


def _inputs_cell(simulation: SimResult) -> str:
    """The simulation's inputs for the summary table, every value from the document escaped."""
    inputs = simulation.inputs
    if inputs is None:
        return "not recorded (an older hciplan)"
    windows = ("none" if not inputs.windows
               else ", ".join(md_cell_code(w.name) for w in inputs.windows[:6])
               + (f" and {len(inputs.windows) - 6} more" if len(inputs.windows) > 6 else ""))
    parts = [f"windows {windows}", f"confidence {setting_text(inputs.confidence)}"]
    if inputs.failures or inputs.risks:
        parts.append(f"{len(inputs.failures)} failures and {len(inputs.risks)} risks injected")
    else:
        parts.append("no failures injected")
    parts.append(("the file's timing block" if inputs.timing_block else "default timing")
                 + f" {md_cell_code(inputs.timing_digest[:19])}")
    parts.append(f"hciplan {md_text(inputs.version)}")
    return ", ".join(parts)


_EARLY = {"aborted": "aborted", "stopped_at_window": "stopped at a window"}


def _past_return_bullets(simulation: SimResult, label: str) -> list[str]:
    """The simulated runs that ended early after an irreversible step had started, and the state it leaves."""
    totals = dict(simulation.outcomes)
    out = []
    for p in simulation.past_return:
        total = totals.get(p.outcome, p.runs)
        out.append(f"- {label}Simulated: {p.runs:,} of the {counted(total, 'run')} that {_EARLY[p.outcome]} had "
                   "started an irreversible step, so backing out is no longer possible there:")
        for c in p.steps:
            cut = f", cut short in {c.interrupted:,} (its change may be half made)" if c.interrupted else ""
            leaves = f"; leaves: {md_text(c.state)}" if c.state else ""
            out.append(f"  - {md_code(c.step)}: {counted(c.runs, 'run')}{cut}{leaves}")
    return out


def _window_close_section(simulation: SimResult, label: str) -> list[str]:
    """What the cluster looks like when each window ends, over the simulated runs (the change board's "if we stop now")."""
    if not simulation.window_close:
        return []
    out = [f"### {label}State at each window's close (simulated)", "",
           "Over all runs; a run that ended before a window's end counts with its final state.", "",
           "| Window | Nodes on 23H2 (share of runs) | Node pass under way | Mixed OS mode so far, days P50 / P90 |",
           "|---|---|---|---|"]
    for w in simulation.window_close:
        nodes, states, mixed = window_close_cells(w)
        out.append(f"| {md_cell_code(w.name)} | {md_text(nodes)} | {md_text(states)} | {md_text(mixed)} |")
    return out + [""]


def render_runbook(plan: Plan, diagnostics: Iterable[Diagnostic] = (), simulation: SimResult | None = None,
                   what_if: tuple[str, ...] = ()) -> str:
    """The runbook; `what_if`: how the simulation's inputs differ from the file's, shown as a labelled what-if."""
    model, upgrade = plan.model, plan.model.upgrade
    cluster = model.cluster
    minutes, _ = plan.critical_path()
    order = [n.name for n in model.ordered_nodes()]
    source = ("Windows Update" if upgrade.source == "windows_update"
              else f"the extracted ISO at {md_cell_code(upgrade.media_path or '')}")
    method = {"cau": "Cluster-Aware Updating with the RollingUpgradePlugin, scripted",
              "wac": "Windows Admin Center (interactive; no script)",
              "manual": "manual, node by node, scripted",
              "offline": "offline: every node at once, full outage"}[upgrade.method]
    out = [
        f"# Upgrade runbook: cluster {md_code(cluster.name)}, {md_text(cluster.version)} to {md_text(upgrade.to)}",
        "",
        f"Generated by hciplan {__version__} from plan `{plan.fingerprint}`. Do not edit: change the `.hciplan` "
        "file and emit again.",
        "",
        "## Summary",
        "",
    ]
    if simulation is not None and what_if:  # the figures answer another question: say so before them
        out += ["> **WHAT-IF: " + md_text("; ".join(what_if)) + ".** The simulated figures below are not "
                "those of the file's plan: simulate the file without overrides for them.", ""]
    out += [
        "| | |",
        "|---|---|",
        f"| Cluster | {md_cell_code(cluster.name)}: {counted(len(cluster.nodes), 'node')}, {counted(cluster.vm_count, 'VM')} |",
        f"| Method | {method}, from {source} |",
        f"| Node order | {' → '.join(md_cell_code(n) for n in order)} |",
    ]
    if upgrade.orchestrator:
        out.append(f"| Orchestrator | {md_cell_code(upgrade.orchestrator)} (outside the cluster) |")
    for window in upgrade.windows:
        length = (window.end - window.start).total_seconds() / 60
        out.append(f"| Window {md_cell_code(window.name)} | {format_time(window.start)} to {format_time(window.end)} "
                   f"({format_minutes(length)}) |")
    if not upgrade.windows:
        out.append("| Windows | none planned |")
    out.append(f"| Expected duration | {format_minutes(minutes)} (critical path of mean step durations) |")
    if simulation is None:
        out.append("| Simulated duration | not simulated: emit with `--simulate N` (or `--simulation FILE`) for P50/P90 |")
    else:
        durations = simulation.durations
        shown = ("no run completed" if durations.p50 is None or durations.p90 is None
                 else f"P50 {format_minutes(durations.p50)}, P90 {format_minutes(durations.p90)}")
        label = "**WHAT-IF** " if what_if else ""
        out.append(f"| Simulated duration | {label}{shown} ({counted(simulation.runs, 'run')}"
                   + (f", seed {simulation.seed}" if simulation.seed is not None else "") + ") |")
        if simulation.p_within_window is not None:
            where = "the simulated windows" if what_if else "the windows"
            out.append(f"| Chance to finish in {where} | {label}{share_text(simulation.p_within_window)} |")
        out.append(f"| Simulation inputs | {label}{_inputs_cell(simulation)} |")
    out += [f"| Steps | {len(plan.steps)} in {counted(len(plan.phases()), 'phase')} |", ""]
    if simulation is not None:
        out += _window_close_section(simulation, "**WHAT-IF** " if what_if else "")

    irreversible = [s for s in plan.steps if s.spec.irreversible]
    downtime = [s for s in plan.steps if s.spec.downtime]
    interactive = [s for s in plan.steps if s.spec.interactive or (plan.interactive and s.group == CAU_RUN)]
    out += ["## Risks and the point of no return", ""]
    if irreversible:
        first = irreversible[0]
        out.append(f"- **Point of no return: {md_code(first.id)}** ({_title(first)}). Until it runs, the "
                   "cluster can stay in (or go back to) a supported state: mixed-OS mode is reversible until the "
                   "functional level is raised and should end within 4 weeks [W-rolling].")
        out += [f"- Irreversible: {md_code(s.id)}: {_title(s)}" for s in irreversible]
    else:
        out.append("- No irreversible step: every step can be backed out.")
    if simulation is not None:
        out += _past_return_bullets(simulation, "**WHAT-IF** " if what_if else "")
    if downtime:
        out += [f"- VM downtime: {md_code(s.id)}: {_title(s)}" for s in downtime]
    else:
        out.append("- VM downtime: none; HA VMs live-migrate off each node before it goes down (the docs still advise "
                   "shutting VMs down [A-ps]).")
    out.append("- Storage: only one node (fault domain) is down at a time; each node waits for the repair jobs before "
               "the next one goes down [H-maint], [W-resync].")
    if interactive:
        out.append(f"- {counted(len(interactive), 'step')} {'needs' if len(interactive) == 1 else 'need'} an operator at a console or GUI: "
                   + ", ".join(md_code(s.id) for s in interactive[:6]) + (" ..." if len(interactive) > 6 else ""))
    # whether the work fits the windows is warning HCI804, listed with the other warnings below
    warnings = [d for d in diagnostics if d.severity is Severity.WARNING]
    out += [f"- Check warning {d.code}: {md_code(d.message)}" for d in warnings]
    out += ["", "## Before the change", ""]
    if plan.interactive:
        out += ["- [ ] Review this runbook with the change board; the OS upgrade runs from Windows Admin Center.",
                "- [ ] Every other step is run by hand with the commands below."]
    else:
        out += ["- [ ] `hciplan emit FILE --backend powershell -o DIR` and review `Invoke-HciUpgrade.ps1` (its fingerprint "
                f"is `{plan.fingerprint}`).",
                "- [ ] Rehearse: `.\\Invoke-HciUpgrade.ps1 -WhatIf` on the orchestrator (read-only preflight, lists every step).",
                "- [ ] Run it in each window; rerun the same command to resume. Irreversible steps need "
                "`-ConfirmIrreversible` or a Yes."]
    out += ["- [ ] Backups of the VMs and of anything AKS Arc runs are current.", ""]
    for phase, steps in plan.phases():
        out += _phase_sections(plan, phase, steps)
    return "\n".join(line.rstrip() for line in out).rstrip("\n") + "\n"


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = (), simulation: SimResult | None = None,
           what_if: tuple[str, ...] = ()) -> dict[str, str]:
    return {FILE_NAME: render_runbook(plan, diagnostics, simulation, what_if)}
