"""The simulator: dry-run a plan many times (Monte Carlo) for timing, failures and maintenance windows.

Pipeline: `Plan` -> `prepare_simulation` (failures resolved, windows in
minutes, per-plan structures) -> `montecarlo.simulate` (runs in batches, on
processes or dask) -> `report` (text or `hciplan.sim/1` JSON) and `plots`.
docs/simulation.md describes the models and the semantics.
"""

from __future__ import annotations

from hciplan.compiler.diagnostics import Collector, Diagnostic, did_you_mean
from hciplan.compiler.plan import Plan
from hciplan.compiler.quantities import DURATION_FORM, QuantityError, clip, parse_duration
from hciplan.simulator.failures import (
    DEFAULT_SLOW_FACTOR,
    FailureSpecError,
    Injection,
    RiskSpec,
    injection_from_cli,
    resolve_step,
)
from hciplan.simulator.prepared import SimPlan, prepare
from hciplan.simulator.result import SimResult


class ScenarioError(Exception):
    """A scenario block that names no step of this plan: diagnostics at the block's spans."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(f"{len(diagnostics)} error(s) in scenario blocks")
        self.diagnostics = diagnostics


MAX_WINDOW_DAYS = 365  # a window longer than a year is a typo, and would overflow the report's dates


def parse_window(text: str, written: str | None = None) -> float | None:
    """`6h`, `1h30m`, `90m` in minutes, by the file's rules for a duration literal; `none` gives None (no window).

    Raises ValueError with a message that quotes the option as the user wrote it (`written`, by default
    `--window TEXT`; `--vary window=TEXT` for a variant) and says the accepted form.
    """
    said = written if written is not None else f"--window {text}"
    if text.lower() == "none":
        return None
    try:
        seconds = parse_duration(text)
    except QuantityError as error:
        if error.code == "HCI109":  # a valid literal, too large for any attribute
            seconds = float("inf")
        else:
            hints = "".join(f"; {hint}" for hint in error.hints if hint)
            raise ValueError(f"`{clip(said)}`: {error.message}{hints}; write {DURATION_FORM}, "
                             "or `none`") from None
    if seconds < 60:
        raise ValueError(f"`{clip(said)}` is shorter than a minute")
    if seconds > MAX_WINDOW_DAYS * 86400:
        raise ValueError(f"`{clip(said)}` is longer than {MAX_WINDOW_DAYS} days: write a shorter window, "
                         "or `--window none` to simulate without windows")
    return seconds / 60


def scenario_failures(plan: Plan, name: str) -> tuple[tuple[Injection, ...], dict[str, RiskSpec]]:
    """The injections and risks of scenario `name`; a KeyError with a hint if there is no such scenario."""
    scenario = plan.model.scenario(name)
    if scenario is None:
        names = [s.name for s in plan.model.scenarios]
        hint = did_you_mean(name, names)
        listed = ", ".join(names) if names else "none (add a `scenario \"NAME\" { ... }` block)"
        raise KeyError(f"no scenario `{name}` in the file" + (f"; {hint}" if hint else "")
                       + f"; scenarios: {listed}")
    problems = Collector()
    injections = []
    for failure in scenario.failures:
        try:
            index = resolve_step(plan, failure.node, failure.step, failure.mode)
        except FailureSpecError as error:
            span = failure.spans["step"] if error.code == "HCI1005" else failure.spans["mode"]
            problems.report(error.code, span, error.message, hints=error.hints)
            continue
        factor = failure.factor if failure.mode == "slow" else 1.0
        injections.append(Injection(index, failure.mode, failure.attempts, factor,
                                    f"scenario {name}: {failure.node}:{failure.step}:{failure.mode}"))
    if problems.items:
        raise ScenarioError(problems.sorted())
    risks = {r.kind: RiskSpec(r.probability, r.mode, r.factor if r.mode == "slow" else 1.0)
             for r in scenario.risks}
    return tuple(injections), risks


def prepare_simulation(plan: Plan, scenario: str | None = None, fails: tuple[str, ...] = (),
                       window: float | None = None, ignore_windows: bool = False,
                       confidence: float | None = None) -> SimPlan:
    """Resolve the failures and windows and prepare the plan for its runs.

    Raises KeyError (unknown scenario), ScenarioError (its blocks name no step)
    or FailureSpecError (a bad `--fail`).
    """
    injections: tuple[Injection, ...] = ()
    risks: dict[str, RiskSpec] = {}
    if scenario is not None:
        injections, risks = scenario_failures(plan, scenario)
    extra = tuple(injection_from_cli(plan, text) for text in fails)
    by_step = {j.step: j for j in injections + extra}  # a --fail on the same step replaces the scenario's
    return prepare(plan, tuple(by_step.values()), risks, window, confidence, scenario, ignore_windows, fails)


def simulate_result(plan: Plan, runs: int, seed: int = 0, jobs: int | None = None) -> SimResult:
    """The summary of `runs` failure-free runs of `plan` within its windows (for the runbook)."""
    from hciplan.simulator.montecarlo import simulate
    from hciplan.simulator.provenance import model_provenance
    from hciplan.simulator.report import sim_result

    prepared = prepare_simulation(plan)
    return sim_result(prepared, simulate(prepared, runs, seed, jobs), model_provenance(plan))


__all__ = ["DEFAULT_SLOW_FACTOR", "FailureSpecError", "ScenarioError", "SimPlan", "parse_window",
           "SimResult", "prepare_simulation", "scenario_failures", "simulate_result"]
