"""What a simulation was run with (`hciplan.sim/1`'s `inputs`), and whether a saved one simulated a plan as filed.

`simulate --window 26h --format json` is a what-if: its figures answer "what if
the window were 26 hours?", not "will the file's windows hold?". A reader of a
saved simulation (`emit --backend runbook --simulation FILE`) compares the
document's inputs with the plan's own (`differences`) and refuses a what-if
unless asked to show it as one (`--what-if`), labelled. The plan fingerprint
covers the cluster and the upgrade (the windows included) but not the timing
block, so the inputs carry the timing block's digest.
"""

from __future__ import annotations

import datetime as dt

from hciplan import __version__
from hciplan.compiler.plan import Plan
from hciplan.simulator.prepared import SimPlan, timing_digest, window_minutes
from hciplan.simulator.result import InjectedFailure, InjectedRisk, InputWindow, SimInputs, SimResult


def _window_records(windows, planned_start) -> tuple[InputWindow, ...]:
    return tuple(InputWindow(w.name, round(w.start, 2), round(w.end, 2), clock_text(planned_start, w.start),
                             clock_text(planned_start, w.end)) for w in windows)


def clock_text(planned_start, minutes: float) -> str | None:
    """The moment `minutes` after the planned start, as the header shows it (ISO 8601, minutes); None without one."""
    if planned_start is None:
        return None
    try:
        moment = planned_start + dt.timedelta(minutes=round(minutes))
    except OverflowError:
        return None
    return moment.isoformat(timespec="minutes").replace("+00:00", "Z")


def inputs_of(sp: SimPlan) -> SimInputs:
    """The inputs of a prepared simulation, as `hciplan.sim/1` records them."""
    return SimInputs(
        windows=_window_records(sp.windows, sp.planned_start), confidence=sp.confidence,
        timing_digest=sp.timing_digest, timing_block=sp.timing_block, version=__version__,
        window_override=sp.window_override, fails=sp.fails, scenario=sp.scenario,
        failures=tuple(InjectedFailure(j.origin, sp.ids[j.step], j.mode, j.attempts, j.factor) for j in sp.injections),
        risks=tuple(sorted((InjectedRisk(sp.kinds[i], r.mode, r.probability, r.factor) for i, r in sp.risks),
                           key=lambda r: (r.kind, r.mode))),
        draws=sp.draws)


def file_inputs(plan: Plan) -> SimInputs:
    """The inputs of a simulation of `plan` as filed: its windows and confidence, its timing block, no failures."""
    windows, start = window_minutes(plan, None)
    model = plan.model
    return SimInputs(windows=_window_records(windows, start), confidence=plan.confidence,
                     timing_digest=timing_digest(model.timing), timing_block=model.timing is not None,
                     version=__version__)


SHOWN = 60  # characters of a name or option from a document, in a phrase; the phrase is escaped where shown


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN - 3] + "..."


def _names(windows: tuple[InputWindow, ...]) -> str:
    if not windows:
        return "none"
    names = [_clip(w.name) for w in windows[:6]] + ([f"{len(windows) - 6} more"] if len(windows) > 6 else [])
    return ", ".join(names)


def differences(plan: Plan, simulation: SimResult) -> list[str]:
    """How the simulation's inputs differ from the plan's as filed, one phrase each (empty: the same).

    Runs, seed, draw mode and hciplan's version are not differences: any of them simulates the same
    question. A document that records no inputs (an older hciplan) cannot be checked: that is one
    difference too.
    """
    given = simulation.inputs
    if given is None:
        return ["the simulation does not record its inputs (written by an older hciplan)"]
    filed = file_inputs(plan)
    found = []
    if given.window_override == "none":
        found.append(f"simulated with --window none (no windows), not the file's windows ({_names(filed.windows)})")
    elif given.window_override is not None:
        found.append(f"simulated with --window {_clip(given.window_override)}, not the file's windows "
                     f"({_names(filed.windows)})")
    elif [(w.name, w.start_minutes, w.end_minutes) for w in given.windows] != \
            [(w.name, w.start_minutes, w.end_minutes) for w in filed.windows]:
        found.append(f"simulated with the windows {_names(given.windows)}, not the file's ({_names(filed.windows)})")
    if given.scenario is not None:
        found.append(f"simulated with --scenario {_clip(given.scenario)}")
    if given.fails:
        shown = [f"--fail {_clip(text)}" for text in given.fails[:4]]
        found.append("simulated with " + ", ".join(shown + ([f"{len(given.fails) - 4} more"]
                                                            if len(given.fails) > 4 else [])))
    elif given.failures and given.scenario is None:
        found.append(f"simulated with {len(given.failures)} injected failure{'s' * (len(given.failures) != 1)}")
    if given.risks and given.scenario is None:
        found.append("simulated with failure risks")
    if given.confidence != filed.confidence:
        found.append(f"simulated with --confidence {given.confidence:g}, not the file's {filed.confidence:g}")
    if given.timing_digest != filed.timing_digest:
        found.append("simulated with another timing block (digest " + given.timing_digest[:19]
                     + f"..., the file's is {filed.timing_digest[:19]}...)")
    return found
