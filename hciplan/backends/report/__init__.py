"""The report backend: one self-contained HTML page for the change board (`hciplan report FILE -o report.html`).

The page gathers what `plan`, `simulate` and the runbook say, for a board that
decides from a page: the cluster and the intent, Microsoft's supported
configurations with this cluster's status [A-about], every diagnostic, the
plan by phase and by window, the points of no return and the VM downtime,
the simulation (with its 95% intervals), the file's what-if scenarios, the
charts (Gantt by window, finish window, work time per window, criticality),
the operator's steps, the fingerprint and the hciplan version.

Rendered by Jinja2 (report.html.j2 beside this module) with autoescape on:
every value from the file is text, never markup. Nothing leaves the page:
styles and charts (SVG built in charts.py, no plotting library) are inline,
and a Content-Security-Policy forbids every fetch. The same file, runs and
seed give the same bytes (no clock, no random ids).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Iterable

import jinja2
from markupsafe import Markup, escape

from hciplan import __version__
from hciplan.backends import summary
from hciplan.backends.powershell.operator import backout_for, commands_for, verify_for
from hciplan.backends.report import charts
from hciplan.compiler.catalog import PHASES
from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.plan import Plan
from hciplan.compiler.quantities import format_minutes
from hciplan.percent import setting_text, share_text
from hciplan.compiler.storage import format_size
from hciplan.words import counted

NAME = "report"
FILE_NAME = "report.html"
TEMPLATE = "report.html.j2"
DEFAULT_RUNS = 1000  # as `hciplan simulate`
TOP_CRITICAL = 10


def _ticks(text: str) -> Markup:
    """Escape `text`, then show its `code spans` (the operator texts' Markdown) as <code>: escaped first, so safe."""
    return Markup(re.sub(r"`([^`]*)`", r"<code>\1</code>", str(escape(text))))


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The page's Jinja2 environment, made once: it keeps the compiled template (compiling it is most of a
    small report's time)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["ticks"] = _ticks
    env.filters["minutes"] = lambda m: "-" if m is None else format_minutes(m)
    env.filters["percent"] = share_text
    env.filters["setting"] = setting_text
    return env


# --- Microsoft's supported configurations [A-about], with this cluster's status -----------------------

def configurations(plan: Plan) -> list[dict]:
    """The rows of the supported-configuration table: what the article says, and what this file says of the cluster.

    The compiler refuses a plan for a configuration the article rules out (HCI202 .. HCI207), so a
    report, which needs a plan, shows those rows as "not used" or as handled by the plan.
    """
    model = plan.model
    cluster, upgrade = model.cluster, model.upgrade
    aks = cluster.aks
    rows = []
    if aks.installed:
        moc = ", and Uninstall-Moc (a preview build was used)" if aks.preview else ""
        rows.append(("AKS on Azure Local (AKS Arc)", "must be removed first: its Kubernetes versions are incompatible",
                     f"installed; the plan removes it (aks = {upgrade.aks}: Uninstall-AksHci{moc}); irreversible "
                     "for AKS workloads", "handled by the plan", "HCI207"))
    else:
        rows.append(("AKS on Azure Local (AKS Arc)", "must be removed first: its Kubernetes versions are incompatible",
                     "not installed", "not used", "HCI207"))
    rows.append(("Arc VMs", "preview Arc VMs cannot be upgraded",
                 "preview Arc VMs in use" if cluster.arc_vms.preview else "no preview Arc VMs",
                 "blocks the upgrade" if cluster.arc_vms.preview else "supported", "HCI206"))
    if cluster.stretched:
        rows.append(("Stretched clusters", "OS upgrade only, by a dedicated procedure with the 2509 ISO; no solution "
                     "upgrade; Storage Replica partnerships removed and recreated [A-stretch]",
                     f"stretched; OS upgrade from {upgrade.source}", "OS upgrade only", "HCI203, HCI204"))
    else:
        rows.append(("Stretched clusters", "OS upgrade only, by a dedicated procedure with the 2509 ISO; no solution "
                     "upgrade [A-stretch]", "not stretched", "not used", "HCI203, HCI204"))
    managed = {"none": ("not managed by SCVMM", "not used"), "scvmm_2025": ("managed by SCVMM 2025", "supported"),
               "scvmm_2022": ("managed by SCVMM 2022", "blocks the OS upgrade")}[cluster.managed_by]
    rows.append(("SCVMM-managed clusters", "OS upgrade supported only with SCVMM 2025", *managed, "HCI205"))
    rows.append(("22H2 Supplemental Package", "not supported",
                 "installed" if cluster.supplemental_package else "not installed",
                 "blocks the upgrade" if cluster.supplemental_package else "not used", "HCI202"))
    return [dict(zip(("configuration", "article", "cluster", "status", "codes"), row)) for row in rows]


# --- the plan ----------------------------------------------------------------------------------------

def _marks(steps) -> list[str]:
    marks = []
    if any(s.spec.irreversible for s in steps):
        marks.append("IRREVERSIBLE")
    if any(s.spec.downtime for s in steps):
        marks.append("VM downtime")
    if any(s.spec.gate for s in steps):
        marks.append("gate")
    if any(s.spec.interactive for s in steps):
        marks.append("operator at console")
    return marks


def phases(plan: Plan) -> list[dict]:
    """The plan by phase, per-node passes folded into one row as `hciplan plan` folds them."""
    out = []
    for phase, steps in plan.phases():
        rows = []
        for key, single, members in summary._rows(plan, steps):
            first = members[0]
            nodes = list(dict.fromkeys(s.node for s in members if s.node))
            if single is not None:
                rows.append({"name": single.id, "what": single.title, "minutes": single.mean_minutes,
                             "marks": _marks([single]), "steps": [single]})
            elif first.group:
                name = "CAU run (one Invoke-CauRun)" if first.group == "cau_run" else f"{first.group} pass"
                verbs = " > ".join(dict.fromkeys(s.id.rsplit(".", 1)[-1] for s in members))
                rows.append({"name": name, "what": f"one node at a time: {' → '.join(nodes)}; each node: {verbs}",
                             "minutes": sum(s.mean_minutes for s in members) / len(nodes), "per_node": True,
                             "marks": _marks(members), "steps": members})
            else:
                rows.append({"name": key, "what": f"{first.title}, on each node in parallel",
                             "minutes": first.mean_minutes, "marks": _marks(members), "steps": members})
        out.append({"phase": phase, "title": PHASES[phase], "rows": rows})
    return out


def operator_steps(plan: Plan, plan_phases: list[dict]) -> list[dict]:
    """The runbook's operator texts: per row of the plan, each step kind's commands, verify and back-out."""
    out = []
    for phase in plan_phases:
        entries = []
        for row in phase["rows"]:
            kinds = []
            for kind in dict.fromkeys(s.kind for s in row["steps"]):
                step = next(s for s in row["steps"] if s.kind == kind)
                kinds.append({"title": step.spec.title, "source": step.spec.source,
                              "commands": commands_for(plan, step), "verify": verify_for(step),
                              "backout": backout_for(step)})
            entries.append({"name": row["name"], "what": row["what"], "kinds": kinds})
        out.append({"phase": phase["phase"], "title": phase["title"], "entries": entries})
    return out


def diagnostics_rows(diagnostics: Iterable[Diagnostic]) -> list[dict]:
    return [{"severity": d.severity.value, "code": d.code, "where": f"{d.span.file}:{d.span.line}:{d.span.column}",
             "message": d.message, "hints": list(d.hints),
             "related": [f"{r.span.file}:{r.span.line}:{r.span.column}: {r.message}" for r in d.related]}
            for d in sorted(diagnostics, key=lambda d: d.sort_key())]


def cluster_facts(plan: Plan) -> dict:
    model = plan.model
    cluster, upgrade = model.cluster, model.upgrade
    source = "Windows Update" if upgrade.source == "windows_update" else f"media at {upgrade.media_path}"
    facts = [
        ("Cluster", f"{cluster.name}, {counted(len(cluster.nodes), 'node')}, {cluster.version}"),
        ("Nodes", ", ".join(f"{n.name} ({format_size(n.memory)})" for n in cluster.nodes)),
        ("Witness", cluster.witness),
        ("VMs", f"{cluster.vm_count} ({format_size(cluster.ha_vm_memory)} HA memory): "
         + ", ".join(f"{g.name} ({g.count})" for g in cluster.vm_groups) if cluster.vm_groups else "none"),
        ("Storage", "; ".join([f"pool {cluster.pool.name}" if cluster.pool else "no pool"]
                              + [f"volume {v.name} ({format_size(v.size)}, {v.resiliency})" for v in cluster.volumes])),
        ("Security", f"BitLocker {cluster.bitlocker}, WDAC {cluster.wdac}, Network ATC "
         + ("configured" if cluster.network_atc else "not configured")),
    ]
    intent = [
        ("Upgrade", f"{cluster.version} → {upgrade.to}"),
        ("Method", f"{upgrade.method} ({source})" + ("; interactive: follow the runbook" if plan.interactive else "")),
        ("Node order", " → ".join(n.name for n in model.ordered_nodes())),
        ("Failure policy", f"max_failed_nodes {upgrade.max_failed_nodes}, max_retries_per_node "
         f"{upgrade.max_retries_per_node}, reboot timeout {plan.reboot_timeout} min"),
        ("Steps", f"{len(plan.steps)} in {counted(len(plan.phases()), 'phase')}, {counted(len(plan.units), 'unit')} of work"),
        ("Expected work", f"{format_minutes(plan.critical_path()[0])} (critical path of mean step durations)"),
    ]
    if upgrade.orchestrator:
        intent.insert(2, ("Orchestrator", f"{upgrade.orchestrator} (outside the cluster)"))
    windows = [{"name": w.name, "start": summary.format_time(w.start), "end": summary.format_time(w.end),
                "length": format_minutes((w.end - w.start).total_seconds() / 60)}
               for w in sorted(upgrade.windows, key=lambda w: w.start)]
    return {"facts": facts, "intent": intent, "windows": windows}


# --- the simulation -----------------------------------------------------------------------------------

def _bounds(bounds, show) -> str:
    if bounds is None:
        return ""
    low, high = bounds
    if low is None and high is None:
        return "too few runs"
    if high is None:
        return f"{show(low)} or more"
    if low is None:
        return f"{show(high)} or less"
    return f"{show(low)} – {show(high)}"


_EARLY = {"aborted": "aborted", "stopped_at_window": "stopped at a window"}


def simulation(plan: Plan, runs: int, seed: int, jobs: int | None) -> dict:
    """Simulate the plan (failure-free, the file's windows) and gather the figures and charts of the page."""
    from hciplan.simulator import prepare_simulation
    from hciplan.simulator.engine import COMPLETED
    from hciplan.simulator.montecarlo import simulate, trace_run
    from hciplan.simulator.provenance import model_provenance
    from hciplan.simulator.report import finish_text, most_critical, sim_result
    from hciplan.simulator.result import window_close_cells

    sp = prepare_simulation(plan)
    summary_ = simulate(sp, runs, seed, jobs)
    record = sim_result(sp, summary_, model_provenance(plan))
    intervals = dict(record.intervals.durations)
    durations = [{"name": key.upper() if key != "mean" else "mean", "value": getattr(record.durations, key),
                  "interval": _bounds(intervals.get(key), format_minutes)}
                 for key in ("p50", "p80", "p90", "p95", "max", "mean")]
    outcome_bounds = dict(record.intervals.outcomes)
    outcomes = [{"name": name.replace("_", " "), "runs": count, "share": count / runs,
                 "interval": _bounds(outcome_bounds.get(name), share_text)}
                for name, count in sorted(record.outcomes, key=lambda item: ["completed", "aborted",
                                                                              "stopped_at_window"].index(item[0]))]
    stops = [{"outcome": o.replace("_", " "), "step": sp.ids[step], "runs": n, "reason": reason}
             for (o, step, reason), n in sorted(summary_.stops.items(), key=lambda item: (-item[1], item[0]))[:8]]
    crit_bounds = dict(record.intervals.criticality)
    critical = [{"step": sp.ids[i], "share": share, "interval": _bounds(crit_bounds.get(sp.ids[i]), share_text),
                 "mean": sp.mean_minutes[i]} for i, share in most_critical(sp, summary_, TOP_CRITICAL)]
    schedule = record.schedule
    median = summary_.median_run()
    run = trace_run(sp, seed, median) if median is not None else None
    shown = []
    if run is not None:
        shown.append(charts.gantt(sp, run, f"The median run (#{run.index}) by window"))
    if schedule is not None and schedule.finish_window:
        shares = dict(schedule.finish_window)
        rows = [(w.name, shares.get(w.name, 0.0), share_text(shares.get(w.name, 0.0))) for w in sp.windows]
        shown.append(charts.share_bars("finish", "Which window the completed runs finish in", rows,
                                       "Share of the completed runs that finish in each window: " + finish_text(schedule)))
    if schedule is not None and any(summary_.window_works):
        curves = [(w.name, summary_.window_works[k], w.end - w.start) for k, w in enumerate(sp.windows)]
        text = "; ".join(f"{w.name}: P50 {format_minutes(s.work_p50_minutes)}, P90 {format_minutes(s.work_p90_minutes)}"
                         for w, s in zip(sp.windows, schedule.windows) if s.work_p50_minutes is not None)
        shown.append(charts.s_curves("work", "Work time per window (share of the runs that worked in it, done by then)",
                                     curves, "Work time per window: " + text))
    notes = []
    if summary_.outcomes[COMPLETED] == 0:
        notes.append("No run completed, so there is no finish-window or criticality chart: the work does not fit "
                     "the windows (see the plan by window and warning HCI804).")
    if critical:
        rows = [(c["step"], c["share"], f"{share_text(c['share'])} (mean {format_minutes(c['mean'])})") for c in critical]
        shown.append(charts.share_bars("criticality", "Most critical steps (share of completed runs on the critical path)",
                                       rows, "Criticality: " + "; ".join(f"{c['step']} {share_text(c['share'])}" for c in critical)))
    return {
        "runs": runs, "seed": seed, "record": record, "durations": durations, "outcomes": outcomes, "stops": stops,
        "critical": critical, "completed": summary_.outcomes[COMPLETED],
        "within": record.p_within_window, "within_interval": _bounds(record.intervals.p_within_window, share_text),
        "exposure": record.exposure_minutes, "exposure_interval": _bounds(record.intervals.exposure_minutes, format_minutes),
        "exposure_p90": record.exposure_p90_minutes,
        "overrun": record.overrun, "schedule": schedule, "finish": finish_text(schedule) if schedule and
        schedule.finish_window else None, "charts": shown, "chart_notes": notes, "precision": record.precision,
        "window_close": [dict(zip(("name", "nodes", "states", "mixed"), (w.name, *window_close_cells(w))))
                         for w in record.window_close],
        "past_return": [{"label": _EARLY[p.outcome], "runs": p.runs, "total": dict(record.outcomes)[p.outcome],
                         "steps": p.steps} for p in record.past_return],
    }


def scenarios(plan: Plan, runs: int, seed: int, jobs: int | None) -> list[dict]:
    """The file's what-if scenarios, each simulated as `simulate --scenario NAME` would, same runs and seed."""
    from hciplan.simulator import ScenarioError, prepare_simulation
    from hciplan.simulator.montecarlo import simulate
    from hciplan.simulator.report import finish_text, sim_result

    out = []
    for scenario in plan.model.scenarios:
        entry = {"name": scenario.name,
                 "failures": [f"{f.node}: {f.step} {f.mode}" for f in scenario.failures]
                 + [f"{r.kind}: {r.mode} with probability {r.probability:g}" for r in scenario.risks]}
        try:
            sp = prepare_simulation(plan, scenario=scenario.name)
        except (KeyError, ScenarioError) as error:  # the checker reports these; say so rather than fail the page
            entry["error"] = str(error)
            out.append(entry)
            continue
        record = sim_result(sp, simulate(sp, runs, seed, jobs))
        entry.update({"p50": record.durations.p50, "p90": record.durations.p90, "within": record.p_within_window,
                      "outcomes": {o: n / runs for o, n in record.outcomes},
                      "finish": finish_text(record.schedule) if record.schedule and record.schedule.finish_window
                      else None})
        out.append(entry)
    return out


def schedule_rows(plan: Plan, sim: dict | None) -> list[dict]:
    """The plan's expected schedule by window beside the simulated one."""
    schedule = plan.schedule
    if schedule is None:
        return []
    simulated = {w.name: w for w in sim["schedule"].windows} if sim and sim["schedule"] else {}
    rows = []
    for w in schedule.windows:
        s = simulated.get(w.name)
        rows.append({
            "name": w.name, "start": summary.clock(plan, w.start), "end": summary.clock(plan, w.end),
            "units": w.units, "safe_point": w.safe_point,
            "stops_at": summary.clock(plan, w.stops_at) if w.stops_at is not None else None,
            "work": w.work_minutes, "sim": s,
        })
    return rows


def build(plan: Plan, diagnostics: Iterable[Diagnostic] = (), runs: int = DEFAULT_RUNS, seed: int = 0,
          jobs: int | None = None) -> str:
    """The report page of `plan` with `runs` simulated runs of master seed `seed`."""
    diagnostics = list(diagnostics)
    plan_phases = phases(plan)
    sim = simulation(plan, runs, seed, jobs)
    context = {
        "version": __version__, "plan": plan, "cluster": cluster_facts(plan), "configurations": configurations(plan),
        "diagnostics": diagnostics_rows(diagnostics), "phases": plan_phases,
        "schedule": plan.schedule, "schedule_rows": schedule_rows(plan, sim),
        "irreversible": [s for s in plan.steps if s.spec.irreversible],
        "downtime": [s for s in plan.steps if s.spec.downtime],
        "sim": sim, "scenarios": scenarios(plan, runs, seed, jobs),
        "operator": operator_steps(plan, plan_phases), "phase_fills": charts.PHASE_FILLS,
    }
    return environment().get_template(TEMPLATE).render(**context)


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = ()) -> dict[str, str]:
    return {FILE_NAME: build(plan, diagnostics)}
