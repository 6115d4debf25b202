"""The simulation's summary as a record: the one definition of the `hciplan.sim/1` document.

`hciplan simulate --format json` prints `SimResult.to_document()`; the runbook
(and `hciplan emit --simulation FILE`) reads a saved one back with
`SimResult.from_document`, which validates it and says what is wrong. This
module imports nothing of the simulation engine, so readers stay light.

The 95% Monte Carlo intervals (`intervals`), the provenance of the models
(`models`), the rule on enough runs (`precision`), the exposure P90 and the
schedule by window (`schedule`) and the mixed OS mode (`mixed_mode`) were added to `hciplan.sim/1` as optional fields: a document without them still
reads, and readers that do not know them can ignore them.

`inputs` records what the simulation was run with (the windows in force and
any `--window`, the failures injected, the confidence, the timing block's
digest, the draw mode, hciplan's version), so a reader can tell a simulation
of the file from a what-if (hciplan/simulator/inputs.py compares them with a
plan). `stops`, `left` and `finish_at` carry the rest of what the text
report shows. All are optional on reading, like the fields above.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from hciplan.percent import share_text

SCHEMA = "hciplan.sim/1"
DURATION_KEYS = ("p50", "p80", "p90", "p95", "mean", "max")


MAX_SEED = 2**63 - 1  # simulate's --seed bound


class SimDocumentError(ValueError):
    """A document that is not a valid `hciplan.sim/1` summary; the message says which field and why."""


def no_json_constant(name: str) -> float:
    """json.loads' parse_constant: NaN and Infinity are refused (hciplan never writes them; compare/diff.py too)."""
    raise SimDocumentError(f"{name} is not a number JSON allows (hciplan never writes it)")


def finite_json_float(text: str) -> float:
    """json.loads' parse_float: a number too large for a float (`1e999`) is refused, so no figure is infinite."""
    value = float(text)
    if not math.isfinite(value):
        raise SimDocumentError(f"{text[:SHOWN_CHARS]} is too large for a number")
    return value


def parse(text: str) -> "SimResult":
    """The `hciplan.sim/1` document in `text` (JSON) as a record; SimDocumentError saying where it is wrong.

    Strict JSON: `NaN`, `Infinity` and numbers too large for a float (`1e999`) are refused as they are
    parsed, so no non-finite figure reaches a reader.
    """
    try:
        document = json.loads(text, parse_constant=no_json_constant, parse_float=finite_json_float)
    except SimDocumentError as error:
        raise SimDocumentError(f"not valid JSON for {SCHEMA}: {error}") from None
    except json.JSONDecodeError as error:
        raise SimDocumentError(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except (RecursionError, ValueError) as error:  # nesting too deep; an integer with too many digits
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise SimDocumentError(f"not a usable JSON document: {reason[:200]}") from None
    return SimResult.from_document(document)


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Duration statistics of the completed runs, in minutes (all None when no run completed)."""

    p50: float | None = None
    p80: float | None = None
    p90: float | None = None
    p95: float | None = None
    mean: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Overrun:
    """Units that started in a window and ran past its end to their safe point: how often, how late (minutes)."""

    share: float | None = None  # of all runs; None: simulated without windows
    p90_minutes: float | None = None  # over the runs that overran
    max_minutes: float | None = None


Bounds = tuple[float | None, float | None]  # a 95% interval: (low, high); None: a side the runs cannot bound


@dataclass(frozen=True, slots=True)
class MixedMode:
    """Mixed OS mode (compiler/mixed.py): its minutes over the runs in which it began and ended [W-rolling]."""

    runs: int  # runs in which mixed mode began and ended
    still_mixed_runs: int  # runs that ended with the cluster still in mixed mode
    p50_minutes: float | None = None  # None when it ended in no run
    p90_minutes: float | None = None
    max_minutes: float | None = None
    p50_interval: Bounds | None = None
    p90_interval: Bounds | None = None
    limit_minutes: float = 28 * 24 * 60.0  # Microsoft expects mixed mode to end within 4 weeks [W-rolling]
SPREAD_SOURCES = ("default", "timing", "calibrated")


@dataclass(frozen=True, slots=True)
class Intervals:
    """The 95% Monte Carlo interval of each figure of the document (the same names; None: not estimated)."""

    durations: tuple[tuple[str, Bounds], ...] = ()  # (key of DURATION_KEYS but max, bounds), in DURATION_KEYS order
    p_within_window: Bounds | None = None
    outcomes: tuple[tuple[str, Bounds], ...] = ()  # shares of all runs, sorted by outcome
    exposure_minutes: Bounds | None = None  # the mean
    exposure_p90_minutes: Bounds | None = None
    overrun_share: Bounds | None = None
    overrun_p90_minutes: Bounds | None = None
    criticality: tuple[tuple[str, Bounds], ...] = ()  # sorted by step id


@dataclass(frozen=True, slots=True)
class Spread:
    """A shared speed factor's log-sd and where it came from: default (an assumption), timing or calibrated."""

    value: float
    source: str = "default"


@dataclass(frozen=True, slots=True)
class Models:
    """The provenance of the simulated models (the header's `models` and `shared speed` lines)."""

    drawn: int  # the distinct duration models the plan's steps draw from
    from_timing: int = 0  # of which a timing block `model` gives the distribution
    physics_from_timing: tuple[str, ...] = ()  # physics parameters the timing block sets, sorted
    calibrated_runs: int | None = None  # the timing block's calibration provenance
    calibrated_from: str | None = None  # ISO 8601, as written in the timing block
    calibrated_to: str | None = None
    run_spread: Spread = Spread(0.1)
    kind_spread: Spread = Spread(0.1)

    @property
    def calibrated(self) -> bool:
        return any(v is not None for v in (self.calibrated_runs, self.calibrated_from, self.calibrated_to))


@dataclass(frozen=True, slots=True)
class Precision:
    """The rule on enough runs (docs/simulation.md, "Monte Carlo uncertainty"): the targets and what misses them."""

    share_target: float  # the largest half-width a share may have (0.005: half a percentage point)
    duration_target: float  # the largest half-width of P50 and P90, relative to the value (0.01: 1%)
    runs_needed: int  # runs for every checked figure to meet its target (the runs simulated when all do)
    misses: tuple[tuple[str, float | None], ...] = ()  # (figure, half-width; None: unbounded), sorted by figure

    @property
    def met(self) -> bool:
        return not self.misses


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One window of the simulated schedule (docs/simulation.md, "Schedule by window").

    Counts of units: `p50` the median over all runs, `p90` the count reached in 9 runs out of 10 (the
    10th percentile: the pessimistic figure, as a duration's P90 is). Work minutes: over the runs that
    worked in the window, P90 the 90th percentile.
    """

    name: str
    planned_units: int  # the units the plan's expected schedule puts in this window
    started_p50: float
    started_p90: float
    done_p50: float  # units done (at their safe point) by the window's end, this window's and earlier ones
    done_p90: float
    spill: float | None  # share of runs in which work planned for this window or earlier is not done by its end
    work_p50_minutes: float | None = None
    work_p90_minutes: float | None = None
    spill_interval: Bounds | None = None  # its 95% Wilson interval


@dataclass(frozen=True, slots=True)
class ScheduleStats:
    """The simulated schedule by window, and the work time of the completed runs."""

    windows: tuple[WindowStats, ...] = ()
    finish_window: tuple[tuple[str, float], ...] = ()  # (window, share of completed runs), in window order
    work_p50_minutes: float | None = None  # minutes with some step running (completed runs)
    work_p90_minutes: float | None = None
    work_mean_minutes: float | None = None
    windows_used_p50: int | None = None  # windows some unit started in (completed runs); P90: the 90th percentile
    windows_used_p90: int | None = None


@dataclass(frozen=True, slots=True)
class InputWindow:
    """A window in force during the runs: its name, and its ends in minutes from the planned start."""

    name: str
    start_minutes: float
    end_minutes: float
    start: str | None = None  # ISO 8601, when the file gives the planned start
    end: str | None = None


@dataclass(frozen=True, slots=True)
class InjectedFailure:
    """A failure injected into every run (`--fail` or a scenario's `fail` block), resolved to its step."""

    origin: str  # as the header shows it: `--fail HCI02:install:error=2`, `scenario NAME: ...`
    step: str
    mode: str
    attempts: int = 1
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class InjectedRisk:
    """A scenario's `risk` block: every attempt of a step of `kind` fails with `probability` in `mode`."""

    kind: str
    mode: str
    probability: float
    factor: float = 1.0


DRAW_MODES = ("sequential", "keyed")


@dataclass(frozen=True, slots=True)
class SimInputs:
    """What the runs were simulated with: enough to tell the file's simulation from a what-if."""

    windows: tuple[InputWindow, ...]  # the windows in force (empty: simulated without windows)
    confidence: float  # the window rule's confidence in force
    timing_digest: str  # of the file's timing block (hciplan's defaults when it has none)
    timing_block: bool  # whether the file has a timing block
    version: str  # of the hciplan that simulated
    window_override: str | None = None  # `--window`: "26h", "none"; None: the file's windows
    fails: tuple[str, ...] = ()  # the `--fail` texts, as given
    scenario: str | None = None
    failures: tuple[InjectedFailure, ...] = ()  # every failure injected (scenario and --fail), by step
    risks: tuple[InjectedRisk, ...] = ()
    draws: str = "sequential"
    jobs_independent: bool = True  # run i depends only on (seed, i): any --jobs gives the same figures


@dataclass(frozen=True, slots=True)
class Stop:
    """Runs that ended early at one step: aborted at it, or stopped before it at a window's end."""

    outcome: str  # "aborted" or "stopped_at_window"
    step: str
    reason: str
    runs: int


@dataclass(frozen=True, slots=True)
class Left:
    """What the runs of one early outcome left: steps not started and nodes on 23H2 (medians, 95% intervals)."""

    outcome: str
    steps_median: float
    nodes_upgraded_median: float
    nodes: int  # the plan's nodes
    steps_interval: Bounds | None = None
    nodes_upgraded_interval: Bounds | None = None
    nodes_upgraded_runs: tuple[tuple[int, int], ...] = ()  # the distribution: (nodes on 23H2, runs), ascending


@dataclass(frozen=True, slots=True)
class Crossed:
    """An irreversible step that early runs had started: in how many, cut short in how many, what it leaves."""

    step: str
    runs: int
    interrupted: int  # of them, runs that stopped at this step while it ran (its change may be half made)
    state: str  # the state it leaves the cluster in, with its source (the step catalog's `no_return`)


@dataclass(frozen=True, slots=True)
class PastReturn:
    """The runs of one early outcome that ended past a point of no return (an irreversible step had started)."""

    outcome: str  # "aborted" or "stopped_at_window"
    runs: int
    steps: tuple[Crossed, ...] = ()  # in plan order


NODE_STATES = ("safe_point", "resyncing", "drained")  # engine.NODE_STATES (not imported: readers stay light)


@dataclass(frozen=True, slots=True)
class WindowClose:
    """The cluster's state when one window ends, over all runs (a run that ended earlier: its final state)."""

    name: str
    nodes_upgraded_runs: tuple[tuple[int, int], ...] = ()  # (nodes on 23H2, runs), ascending
    node_state_runs: tuple[tuple[str, int], ...] = ()  # (NODE_STATES name, runs), in NODE_STATES order
    mixed_days_runs: tuple[tuple[float, int], ...] = ()  # (days in mixed OS mode so far, to a tenth, floored; runs)


def count_percentile(counts: dict[int, int], p: float) -> int:
    """Nearest-rank percentile of the values a {value: runs} table counts (as the percentile of the list)."""
    total = sum(counts.values())
    rank = min(total, max(1, math.ceil(p / 100 * total)))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise ValueError("no runs counted")


_CLOSE_STATE_TEXT = {"safe_point": "none", "resyncing": "resyncing", "drained": "drained or down"}
SHOWN_VALUES = 3  # nodes-on-23H2 values per window in the text, the likeliest first; the JSON has them all


def window_close_cells(w: WindowClose) -> tuple[str, str, str]:
    """One window's close as text: nodes on 23H2 (likeliest values), node passes under way, mixed OS days P50 / P90.

    The simulate report, the runbook and the HTML report print these same cells.
    """


    runs = sum(n for _, n in w.nodes_upgraded_runs)
    ranked = sorted(w.nodes_upgraded_runs, key=lambda item: (-item[1], item[0]))
    nodes = ", ".join(f"{value}: {share_text(n / runs)}" for value, n in ranked[:SHOWN_VALUES])
    if len(ranked) > SHOWN_VALUES:
        nodes += f", +{len(ranked) - SHOWN_VALUES} more"
    states = ", ".join(f"{_CLOSE_STATE_TEXT[name]} {share_text(n / runs)}" for name, n in w.node_state_runs if n)
    tenths = {round(days * 10): n for days, n in w.mixed_days_runs}
    mixed = f"{count_percentile(tenths, 50) / 10:.1f} / {count_percentile(tenths, 90) / 10:.1f}"
    return nodes, states, mixed


@dataclass(frozen=True, slots=True)
class FinishAt:
    """The clock time of the completed runs' P50 and P90 (ISO 8601, minutes), with their 95% intervals."""

    p50: str
    p90: str
    p50_interval: tuple[str | None, str | None] | None = None
    p90_interval: tuple[str | None, str | None] | None = None


ALL_RUNS_KEYS = ("p50", "p80", "p90", "p95")


@dataclass(frozen=True, slots=True)
class RecoveryModel:
    """One kind of recovery (compiler/recovery.py): its mean and where its distribution comes from."""

    name: str  # recovery.hang, recovery.error, recovery.locked
    mean_minutes: float
    provenance: str
    assumption: bool = True


@dataclass(frozen=True, slots=True)
class DoneBy:
    """The share of ALL runs completed by a window's end, with its 95% Wilson interval."""

    window: str
    share: float
    interval: Bounds | None = None


@dataclass(frozen=True, slots=True)
class FailureCost:
    """What failures cost, over all runs (docs/simulation.md, "Recovery"), written when failures were simulated.

    `all_runs`: the finish time's percentiles over every run, a run that did not complete counting as
    never done (None: fewer runs completed than the percentile needs). The delay: minutes in failed
    attempts and recoveries, over the runs a failure delayed.
    """

    all_runs: tuple[tuple[str, float | None], ...]  # (key of ALL_RUNS_KEYS, minutes), in that order
    delayed_runs: int
    delay_share: float
    delay_p50_minutes: float | None = None
    delay_p90_minutes: float | None = None
    delay_max_minutes: float | None = None
    recovered_runs: int = 0  # completed runs that needed at least one recovery
    recoveries: tuple[tuple[int, int], ...] = ()  # (recoveries made, runs), ascending
    done_by_window: tuple[DoneBy, ...] = ()
    max_recoveries: int = 0
    models: tuple[RecoveryModel, ...] = ()  # sorted by name


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """The simulated plan as the header names it (its fingerprint is the document's `fingerprint`)."""

    cluster: str
    steps: int
    method: str
    nodes: int


@dataclass(frozen=True, slots=True)
class SimResult:
    """What a Monte Carlo simulation of a plan found, as `hciplan.sim/1` stores it."""

    runs: int
    seed: int | None
    durations: DurationStats
    p_within_window: float | None  # None: simulated without windows
    outcomes: tuple[tuple[str, int], ...] = ()  # (outcome, runs), sorted by outcome
    criticality: tuple[tuple[str, float], ...] = ()  # (step id, share of completed runs), sorted by step id
    exposure_minutes: float | None = None  # mean time with reduced storage resiliency
    fingerprint: str | None = None  # of the plan that was simulated
    overrun: Overrun = Overrun()
    exposure_p90_minutes: float | None = None
    intervals: Intervals | None = None
    models: Models | None = None
    precision: Precision | None = None
    schedule: ScheduleStats | None = None
    mixed_mode: MixedMode | None = None
    inputs: SimInputs | None = None
    stops: tuple[Stop, ...] = ()  # by outcome, then most runs first, then step
    left: tuple[Left, ...] = ()  # by outcome
    finish_at: FinishAt | None = None
    plan: PlanFacts | None = None
    # None: every percentile is exact. A number: the runs were more than simulate keeps exactly
    # (montecarlo.EXACT_RUNS), so every percentile and percentile interval is within this relative error.
    percentile_error: float | None = None
    # Issue 15: the early runs past a point of no return (by outcome), and the state at each window's close.
    past_return: tuple[PastReturn, ...] = ()
    window_close: tuple[WindowClose, ...] = ()
    failure_cost: FailureCost | None = None  # written when the runs had failures (injected or risks)

    def to_document(self) -> dict[str, Any]:
        """The `hciplan.sim/1` JSON document (dump it with sorted keys)."""
        document = {
            "schema": SCHEMA,
            "runs": self.runs,
            "seed": self.seed,
            "duration_minutes": {key: getattr(self.durations, key) for key in DURATION_KEYS},
            "p_within_window": self.p_within_window,
            "outcomes": dict(self.outcomes),
            "criticality": dict(self.criticality),
            "exposure_minutes": self.exposure_minutes,
            "fingerprint": self.fingerprint,
            "overrun": {"share": self.overrun.share, "p90_minutes": self.overrun.p90_minutes,
                        "max_minutes": self.overrun.max_minutes},
        }
        # The additive fields: absent from a record read from an older document, so it writes back unchanged.
        if self.exposure_p90_minutes is not None:
            document["exposure_p90_minutes"] = self.exposure_p90_minutes
        if self.intervals is not None:
            document["intervals"] = _intervals_document(self.intervals)
        if self.models is not None:
            document["models"] = _models_document(self.models)
        if self.precision is not None:
            p = self.precision
            document["precision"] = {"share_target": p.share_target, "duration_target": p.duration_target,
                                     "met": p.met, "runs_needed": p.runs_needed, "misses": dict(p.misses)}
        if self.schedule is not None:
            document["schedule"] = _schedule_document(self.schedule)
        if self.mixed_mode is not None:
            m = self.mixed_mode
            document["mixed_mode"] = {
                "runs": m.runs, "still_mixed_runs": m.still_mixed_runs, "limit_minutes": m.limit_minutes,
                "minutes": {"p50": m.p50_minutes, "p90": m.p90_minutes, "max": m.max_minutes},
                "intervals": {"p50": _bounds_document(m.p50_interval), "p90": _bounds_document(m.p90_interval)}}
        # The fields of issue 17: a record with inputs (this hciplan's) writes them all, empty ones included.
        current = self.inputs is not None
        if self.inputs is not None:
            document["inputs"] = _inputs_document(self.inputs)
        if self.stops or current:
            document["stops"] = [{"outcome": s.outcome, "step": s.step, "reason": s.reason, "runs": s.runs}
                                 for s in self.stops]
        if self.left or current:
            document["left"] = {item.outcome: {
                "steps_median": item.steps_median, "steps_interval": _bounds_document(item.steps_interval),
                "nodes_upgraded_median": item.nodes_upgraded_median,
                "nodes_upgraded_interval": _bounds_document(item.nodes_upgraded_interval), "nodes": item.nodes,
                "nodes_upgraded_runs": {str(n): runs for n, runs in item.nodes_upgraded_runs}}
                for item in self.left}
        if self.finish_at is not None:
            f = self.finish_at
            document["finish_at"] = {"p50": f.p50, "p90": f.p90, "p50_interval": _bounds_document(f.p50_interval),
                                     "p90_interval": _bounds_document(f.p90_interval)}
        elif current:
            document["finish_at"] = None
        if self.plan is not None:
            document["plan"] = {"cluster": self.plan.cluster, "steps": self.plan.steps, "method": self.plan.method,
                                "nodes": self.plan.nodes}
        if self.percentile_error is not None:  # written only when sketched: exact documents are unchanged
            document["percentiles"] = {"exact": False, "relative_error": self.percentile_error}
        if self.past_return or current:
            document["past_return"] = _past_return_document(self.past_return)
        if self.window_close or current:
            document["window_close"] = [_window_close_document(w) for w in self.window_close]
        if self.failure_cost is not None:
            document["failure_cost"] = _failure_cost_document(self.failure_cost)
        return document

    @classmethod
    def from_document(cls, document: Any) -> "SimResult":
        """Read a `hciplan.sim/1` document; SimDocumentError naming the field when it is not a valid one.

        `runs` and `duration_minutes` with `p50` and `p90` (null when no run
        completed) are required; the other fields may be missing (older or
        hand-trimmed documents). `from_document(r.to_document()) == r`.
        """
        if not isinstance(document, dict):
            kind = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(type(document),
                                                                                               "a number")
            raise SimDocumentError(f'not a simulation result: the document must be a JSON object with '
                                   f'"schema": "{SCHEMA}", not {kind}')
        if document.get("schema") != SCHEMA:
            found = document.get("schema")
            raise SimDocumentError(f'not a simulation result: expected "schema": "{SCHEMA}"'
                                   + ("" if found is None else f', not {_shown(found)}'))
        runs = _count("runs", document.get("runs"), required=True, minimum=1)
        seed = _count("seed", document.get("seed"), required=False)
        if seed is not None and seed > MAX_SEED:
            raise SimDocumentError(f'{SCHEMA} document: "seed" must be at most {MAX_SEED} (simulate\'s --seed), '
                                   f'not {_shown(seed)}')
        durations = document.get("duration_minutes")
        if not isinstance(durations, dict):
            raise SimDocumentError(f'incomplete {SCHEMA} document: "duration_minutes" must be an object '
                                   'with "p50" and "p90"')
        stats = {key: _minutes(f"duration_minutes.{key}", durations.get(key)) for key in DURATION_KEYS}
        for key in ("p50", "p90"):
            if key not in durations:
                raise SimDocumentError(f'incomplete {SCHEMA} document: "duration_minutes.{key}" is missing')
        within = document.get("p_within_window")
        if within is not None:
            within = _number("p_within_window", within)
            if not 0 <= within <= 1:
                raise SimDocumentError(f'{SCHEMA} document: "p_within_window" must be between 0 and 1, not {within}')
        outcomes = _table(document, "outcomes", lambda key, value: _count(key, value, required=True))
        criticality = _table(document, "criticality", _number)
        overrun = document.get("overrun", {})
        if not isinstance(overrun, dict):
            raise SimDocumentError(f'{SCHEMA} document: "overrun" must be an object')
        share = overrun.get("share")
        if share is not None and not 0 <= _number("overrun.share", share) <= 1:
            raise SimDocumentError(f'{SCHEMA} document: "overrun.share" must be between 0 and 1, not {share}')
        overran = Overrun(None if share is None else float(share), _minutes("overrun.p90_minutes", overrun.get("p90_minutes")),
                          _minutes("overrun.max_minutes", overrun.get("max_minutes")))
        return cls(runs, seed, DurationStats(**stats), within, outcomes, criticality,
                   _minutes("exposure_minutes", document.get("exposure_minutes")), _text(document, "fingerprint"),
                   overran, _minutes("exposure_p90_minutes", document.get("exposure_p90_minutes")),
                   _read_intervals(document.get("intervals")), _read_models(document.get("models")),
                   _read_precision(document.get("precision")), _read_schedule(document.get("schedule")),
                   _read_mixed_mode(document.get("mixed_mode")),
                   _read_inputs(document.get("inputs")), _read_stops(document.get("stops")),
                   _read_left(document.get("left")), _read_finish_at(document.get("finish_at")),
                   _read_plan(document.get("plan")), _read_percentile_error(document.get("percentiles")),
                   _read_past_return(document.get("past_return")), _read_window_close(document.get("window_close")),
                   _read_failure_cost(document.get("failure_cost")))


def _past_return_document(items: tuple[PastReturn, ...]) -> dict[str, Any]:
    return {p.outcome: {"runs": p.runs, "steps": [{"step": c.step, "runs": c.runs, "interrupted": c.interrupted,
                                                    "state": c.state} for c in p.steps]} for p in items}


def _read_past_return(value: Any) -> tuple[PastReturn, ...]:
    if value is None:
        return ()
    read = []
    for outcome, item in sorted(_object("past_return", value).items()):
        key = _path("past_return", outcome)
        entry = _object(key, item)
        steps = []
        for k, step in enumerate(_list(f"{key}.steps", entry.get("steps", []))):
            at = f"{key}.steps[{k}]"
            c = _object(at, step)
            runs = _count(f"{at}.runs", c.get("runs"), required=True, minimum=1)
            interrupted = _count(f"{at}.interrupted", c.get("interrupted", 0), required=True)
            if interrupted > runs:
                raise SimDocumentError(f'{SCHEMA} document: "{at}.interrupted" must not exceed its runs ({runs})')
            steps.append(Crossed(_required_string(f"{at}.step", c.get("step")), runs, interrupted,
                                 _required_string(f"{at}.state", c.get("state"))))
        read.append(PastReturn(_outcome(key, outcome), _count(f"{key}.runs", entry.get("runs"), required=True,
                                                              minimum=1), tuple(steps)))
    return tuple(read)


def _window_close_document(w: WindowClose) -> dict[str, Any]:
    return {"name": w.name, "nodes_upgraded_runs": {str(n): runs for n, runs in w.nodes_upgraded_runs},
            "node_state_runs": dict(w.node_state_runs),
            "mixed_days_runs": {f"{days:.1f}": runs for days, runs in w.mixed_days_runs}}


def _read_window_close(value: Any) -> tuple[WindowClose, ...]:
    if value is None:
        return ()
    read = []
    for k, item in enumerate(_list("window_close", value)):
        key = f"window_close[{k}]"
        w = _object(key, item)
        states = _object(f"{key}.node_state_runs", w.get("node_state_runs", {}))
        unknown = sorted(set(states) - set(NODE_STATES))
        if unknown:
            raise SimDocumentError(f'{SCHEMA} document: "{key}.node_state_runs" has {_shown(unknown[0])}; '
                                   f'the states are {", ".join(NODE_STATES)}')
        days = []
        for name, runs in _object(f"{key}.mixed_days_runs", w.get("mixed_days_runs", {})).items():
            whole, dot, tenth = str(name).partition(".")
            if not (dot and whole.isascii() and whole.isdigit() and len(whole) <= 6 and tenth in tuple("0123456789")):
                raise SimDocumentError(f'{SCHEMA} document: "{key}.mixed_days_runs" must map days to a tenth '
                                       f'("2.5") to runs, not {_shown(name)}')
            days.append((float(name), _count(_path(f"{key}.mixed_days_runs", name), runs,
                                                              required=True, minimum=1)))
        read.append(WindowClose(
            _required_string(f"{key}.name", w.get("name")),
            _read_distribution(f"{key}.nodes_upgraded_runs", w.get("nodes_upgraded_runs", {})),
            tuple((name, _count(_path(f"{key}.node_state_runs", name), states[name], required=True))
                  for name in NODE_STATES if name in states),
            tuple(sorted(days))))
    return tuple(read)


def _failure_cost_document(f: FailureCost) -> dict[str, Any]:
    return {
        "all_runs_minutes": dict(f.all_runs),
        "delay": {"runs": f.delayed_runs, "share": f.delay_share, "p50_minutes": f.delay_p50_minutes,
                  "p90_minutes": f.delay_p90_minutes, "max_minutes": f.delay_max_minutes},
        "recovered_runs": f.recovered_runs,
        "recoveries": {str(n): runs for n, runs in f.recoveries},
        "done_by_window": [{"window": d.window, "share": d.share, "interval": _bounds_document(d.interval)}
                           for d in f.done_by_window],
        "recovery": {"max_recoveries": f.max_recoveries,
                     "models": {m.name: {"mean_minutes": m.mean_minutes, "provenance": m.provenance,
                                         "assumption": m.assumption} for m in f.models}},
    }


def _read_failure_cost(value: Any) -> FailureCost | None:
    """`failure_cost` (added with the recovery model): absent from older documents and failure-free ones."""
    if value is None:
        return None
    f = _object("failure_cost", value)
    table = _object("failure_cost.all_runs_minutes", f.get("all_runs_minutes", {}))
    unknown = sorted(set(table) - set(ALL_RUNS_KEYS))
    if unknown:
        raise SimDocumentError(f'{SCHEMA} document: "failure_cost.all_runs_minutes" has no figure '
                               f'{_shown(unknown[0])} (p50, p80, p90, p95)')
    all_runs = tuple((key, _minutes(f"failure_cost.all_runs_minutes.{key}", table.get(key)))
                     for key in ALL_RUNS_KEYS if key in table)
    delay = _object("failure_cost.delay", f.get("delay", {}))
    share = _share("failure_cost.delay.share", delay.get("share"))
    done = []
    for k, item in enumerate(_list("failure_cost.done_by_window", f.get("done_by_window", []))):
        key = f"failure_cost.done_by_window[{k}]"
        d = _object(key, item)
        done_share = _share(f"{key}.share", d.get("share"))
        if done_share is None:
            raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}.share" is missing')
        done.append(DoneBy(_required_string(f"{key}.window", d.get("window")), done_share,
                           _read_bounds(f"{key}.interval", d.get("interval"), share=True)))
    recovery = _object("failure_cost.recovery", f.get("recovery", {}))
    models = []
    for name, item in sorted(_object("failure_cost.recovery.models", recovery.get("models", {})).items()):
        key = _path("failure_cost.recovery.models", name)
        m = _object(key, item)
        models.append(RecoveryModel(str(name), _required_minutes(f"{key}.mean_minutes", m.get("mean_minutes")),
                                    _required_string(f"{key}.provenance", m.get("provenance")),
                                    _flag(f"{key}.assumption", m.get("assumption", True))))
    return FailureCost(
        all_runs=all_runs,
        delayed_runs=_count("failure_cost.delay.runs", delay.get("runs"), required=True),
        delay_share=0.0 if share is None else share,
        delay_p50_minutes=_minutes("failure_cost.delay.p50_minutes", delay.get("p50_minutes")),
        delay_p90_minutes=_minutes("failure_cost.delay.p90_minutes", delay.get("p90_minutes")),
        delay_max_minutes=_minutes("failure_cost.delay.max_minutes", delay.get("max_minutes")),
        recovered_runs=_count("failure_cost.recovered_runs", f.get("recovered_runs", 0), required=True),
        recoveries=_read_distribution("failure_cost.recoveries", f.get("recoveries", {})),
        done_by_window=tuple(done),
        max_recoveries=_count("failure_cost.recovery.max_recoveries", recovery.get("max_recoveries", 0),
                              required=True),
        models=tuple(models))


def _read_percentile_error(value: Any) -> float | None:
    """`percentiles`: absent, or {"exact": false, "relative_error": eps} for sketched percentiles."""
    if value is None:
        return None
    p = _object("percentiles", value)
    if p.get("exact") is True:
        return None
    error = _number("percentiles.relative_error", p.get("relative_error"))
    if not 0 < error < 1:
        raise SimDocumentError(f'{SCHEMA} document: "percentiles.relative_error" must be between 0 and 1, '
                               f'not {_shown(error)}')
    return error


def _read_mixed_mode(value: Any) -> MixedMode | None:
    if value is None:
        return None
    table = _object("mixed_mode", value)
    minutes = _object("mixed_mode.minutes", table.get("minutes", {}))
    bounds = _object("mixed_mode.intervals", table.get("intervals", {}))
    limit = _minutes("mixed_mode.limit_minutes", table.get("limit_minutes"))
    return MixedMode(
        _count("mixed_mode.runs", table.get("runs"), required=True),
        _count("mixed_mode.still_mixed_runs", table.get("still_mixed_runs"), required=True),
        *(_minutes(f"mixed_mode.minutes.{k}", minutes.get(k)) for k in ("p50", "p90", "max")),
        *(_read_bounds(f"mixed_mode.intervals.{k}", bounds.get(k)) for k in ("p50", "p90")),
        **({} if limit is None else {"limit_minutes": limit}))


def _inputs_document(i: SimInputs) -> dict[str, Any]:
    return {
        "windows": [{"name": w.name, "start": w.start, "end": w.end, "start_minutes": w.start_minutes,
                     "end_minutes": w.end_minutes} for w in i.windows],
        "window_override": i.window_override, "fails": list(i.fails), "scenario": i.scenario,
        "failures": [{"origin": f.origin, "step": f.step, "mode": f.mode, "attempts": f.attempts, "factor": f.factor}
                     for f in i.failures],
        "risks": [{"kind": r.kind, "mode": r.mode, "probability": r.probability, "factor": r.factor} for r in i.risks],
        "confidence": i.confidence,
        "timing": {"digest": i.timing_digest, "block": i.timing_block},
        "draws": i.draws, "jobs_independent": i.jobs_independent, "hciplan_version": i.version,
    }


def _list(key: str, value: Any) -> list:
    if not isinstance(value, list):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a list')
    return value


def _required_string(key: str, value: Any) -> str:
    if value is None:
        raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}" is missing')
    return _string(key, value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be true or false, not {_shown(value)}')
    return value


def _read_inputs(value: Any) -> SimInputs | None:
    if value is None:
        return None
    i = _object("inputs", value)
    windows = []
    for k, item in enumerate(_list("inputs.windows", i.get("windows"))):
        key = f"inputs.windows[{k}]"
        w = _object(key, item)
        start = _required_minutes(f"{key}.start_minutes", w.get("start_minutes"))
        end = _required_minutes(f"{key}.end_minutes", w.get("end_minutes"))
        if end < start:
            raise SimDocumentError(f'{SCHEMA} document: "{key}" ends before it starts')
        windows.append(InputWindow(_required_string(f"{key}.name", w.get("name")), start, end,
                                   _string(f"{key}.start", w.get("start")), _string(f"{key}.end", w.get("end"))))
    fails = _list("inputs.fails", i.get("fails", []))
    failures = []
    for k, item in enumerate(_list("inputs.failures", i.get("failures", []))):
        key = f"inputs.failures[{k}]"
        f = _object(key, item)
        failures.append(InjectedFailure(
            _required_string(f"{key}.origin", f.get("origin")), _required_string(f"{key}.step", f.get("step")),
            _required_string(f"{key}.mode", f.get("mode")), _count(f"{key}.attempts", f.get("attempts", 1),
                                                                   required=True, minimum=1),
            _required_minutes(f"{key}.factor", f.get("factor", 1.0))))
    risks = []
    for k, item in enumerate(_list("inputs.risks", i.get("risks", []))):
        key = f"inputs.risks[{k}]"
        r = _object(key, item)
        probability = _share(f"{key}.probability", r.get("probability"))
        if probability is None:
            raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}.probability" is missing')
        risks.append(InjectedRisk(_required_string(f"{key}.kind", r.get("kind")),
                                  _required_string(f"{key}.mode", r.get("mode")), probability,
                                  _required_minutes(f"{key}.factor", r.get("factor", 1.0))))
    confidence = _share("inputs.confidence", i.get("confidence"))
    if confidence is None or not 0 < confidence < 1:
        raise SimDocumentError(f'{SCHEMA} document: "inputs.confidence" must be a number between 0 and 1 '
                               f'(exclusive), not {_shown(i.get("confidence"))}')
    timing = _object("inputs.timing", i.get("timing"))
    draws = i.get("draws", "sequential")
    if draws not in DRAW_MODES:
        raise SimDocumentError(f'{SCHEMA} document: "inputs.draws" must be one of {", ".join(DRAW_MODES)}, '
                               f'not {_shown(draws)}')
    return SimInputs(
        windows=tuple(windows), confidence=confidence,
        timing_digest=_required_string("inputs.timing.digest", timing.get("digest")),
        timing_block=_flag("inputs.timing.block", timing.get("block")),
        version=_required_string("inputs.hciplan_version", i.get("hciplan_version")),
        window_override=_string("inputs.window_override", i.get("window_override")),
        fails=tuple(_required_string(f"inputs.fails[{k}]", text) for k, text in enumerate(fails)),
        scenario=_string("inputs.scenario", i.get("scenario")), failures=tuple(failures), risks=tuple(risks),
        draws=draws, jobs_independent=_flag("inputs.jobs_independent", i.get("jobs_independent", True)))


STOP_OUTCOMES = ("aborted", "stopped_at_window")  # engine.ABORTED, engine.STOPPED (not imported: readers stay light)


def _outcome(key: str, value: Any) -> str:
    if value not in STOP_OUTCOMES:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be one of {", ".join(STOP_OUTCOMES)}, '
                               f'not {_shown(value)}')
    return value


def _read_stops(value: Any) -> tuple[Stop, ...]:
    if value is None:
        return ()
    stops = []
    for k, item in enumerate(_list("stops", value)):
        key = f"stops[{k}]"
        s = _object(key, item)
        stops.append(Stop(_outcome(f"{key}.outcome", s.get("outcome")), _required_string(f"{key}.step", s.get("step")),
                          _required_string(f"{key}.reason", s.get("reason")),
                          _count(f"{key}.runs", s.get("runs"), required=True, minimum=1)))
    return tuple(stops)


def _read_left(value: Any) -> tuple[Left, ...]:
    if value is None:
        return ()
    read = []
    for outcome, item in sorted(_object("left", value).items()):
        key = _path("left", outcome)
        entry = _object(key, item)
        read.append(Left(_outcome(key, outcome), _required_minutes(f"{key}.steps_median", entry.get("steps_median")),
                         _required_minutes(f"{key}.nodes_upgraded_median", entry.get("nodes_upgraded_median")),
                         _count(f"{key}.nodes", entry.get("nodes"), required=True),
                         _read_bounds(f"{key}.steps_interval", entry.get("steps_interval")),
                         _read_bounds(f"{key}.nodes_upgraded_interval", entry.get("nodes_upgraded_interval")),
                         _read_distribution(f"{key}.nodes_upgraded_runs", entry.get("nodes_upgraded_runs", {}))))
    return tuple(read)


def _read_distribution(key: str, value: Any) -> tuple[tuple[int, int], ...]:
    """{"3": 12, "4": 5}: runs by a whole number (nodes), keys written as decimal strings."""
    read = []
    for name, runs in _object(key, value).items():
        if not (isinstance(name, str) and name.isascii() and name.isdigit() and len(name) <= 6):
            raise SimDocumentError(f'{SCHEMA} document: "{key}" must map whole numbers to runs, not {_shown(name)}')
        read.append((int(name), _count(_path(key, name), runs, required=True, minimum=1)))
    return tuple(sorted(read))


def _read_clock_bounds(key: str, value: Any) -> tuple[str | None, str | None] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be [low, high], not {_shown(value)}')
    return _string(f"{key}[0]", value[0]), _string(f"{key}[1]", value[1])


def _read_plan(value: Any) -> PlanFacts | None:
    if value is None:
        return None
    p = _object("plan", value)
    return PlanFacts(_required_string("plan.cluster", p.get("cluster")),
                     _count("plan.steps", p.get("steps"), required=True, minimum=1),
                     _required_string("plan.method", p.get("method")),
                     _count("plan.nodes", p.get("nodes"), required=True))


def _read_finish_at(value: Any) -> FinishAt | None:
    if value is None:
        return None
    f = _object("finish_at", value)
    return FinishAt(_required_string("finish_at.p50", f.get("p50")), _required_string("finish_at.p90", f.get("p90")),
                    _read_clock_bounds("finish_at.p50_interval", f.get("p50_interval")),
                    _read_clock_bounds("finish_at.p90_interval", f.get("p90_interval")))


def _schedule_document(s: ScheduleStats) -> dict[str, Any]:
    return {
        "work_minutes": {"p50": s.work_p50_minutes, "p90": s.work_p90_minutes, "mean": s.work_mean_minutes},
        "finish_window": dict(s.finish_window),
        "windows_used": {"p50": s.windows_used_p50, "p90": s.windows_used_p90},
        "windows": [
            {"name": w.name, "planned_units": w.planned_units,
             "units_started": {"p50": w.started_p50, "p90": w.started_p90},
             "units_done_by_end": {"p50": w.done_p50, "p90": w.done_p90},
             "spill": w.spill, "spill_interval": _bounds_document(w.spill_interval),
             "work_minutes": {"p50": w.work_p50_minutes, "p90": w.work_p90_minutes}}
            for w in s.windows
        ],
    }


def _pair(key: str, value: Any, read) -> tuple:
    table = _object(key, value)
    return read(f"{key}.p50", table.get("p50")), read(f"{key}.p90", table.get("p90"))


def _share(key: str, value: Any) -> float | None:
    if value is None:
        return None
    share = _number(key, value)
    if not 0 <= share <= 1:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be between 0 and 1, not {_shown(value)}')
    return share


def _read_schedule(value: Any) -> ScheduleStats | None:
    if value is None:
        return None
    s = _object("schedule", value)
    work = _object("schedule.work_minutes", s.get("work_minutes", {}))
    finish = _object("schedule.finish_window", s.get("finish_window", {}))
    windows = s.get("windows", [])
    if not isinstance(windows, list):
        raise SimDocumentError(f'{SCHEMA} document: "schedule.windows" must be a list')
    read = []
    for k, item in enumerate(windows):
        key = f"schedule.windows[{k}]"
        w = _object(key, item)
        name = _string(f"{key}.name", w.get("name"))
        if name is None:
            raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}.name" is missing')
        started = _pair(f"{key}.units_started", w.get("units_started", {}), _minutes)
        done = _pair(f"{key}.units_done_by_end", w.get("units_done_by_end", {}), _minutes)
        worked = _pair(f"{key}.work_minutes", w.get("work_minutes", {}), _minutes)
        if None in started + done:
            raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}" needs units_started and '
                                   'units_done_by_end with p50 and p90')
        read.append(WindowStats(name, _count(f"{key}.planned_units", w.get("planned_units"), required=True),
                                *started, *done, _share(f"{key}.spill", w.get("spill")), *worked,
                                _read_bounds(f"{key}.spill_interval", w.get("spill_interval"), share=True)))
    used = _pair("schedule.windows_used", s.get("windows_used", {}),
                 lambda key, v: _count(key, v, required=False))
    order = {w.name: k for k, w in enumerate(read)}
    shares = sorted(((str(name), _share(_path("schedule.finish_window", name), v)) for name, v in finish.items()),
                    key=lambda item: (order.get(item[0], len(order)), item[0]))
    return ScheduleStats(tuple(read), tuple(shares), _minutes("schedule.work_minutes.p50", work.get("p50")),
                         _minutes("schedule.work_minutes.p90", work.get("p90")),
                         _minutes("schedule.work_minutes.mean", work.get("mean")), *used)


def _bounds_document(bounds: Bounds | None) -> list | None:
    return None if bounds is None else list(bounds)


def _intervals_document(i: Intervals) -> dict[str, Any]:
    return {
        "confidence": 0.95,
        "duration_minutes": {key: list(bounds) for key, bounds in i.durations},
        "p_within_window": _bounds_document(i.p_within_window),
        "outcomes": {key: list(bounds) for key, bounds in i.outcomes},
        "exposure_minutes": _bounds_document(i.exposure_minutes),
        "exposure_p90_minutes": _bounds_document(i.exposure_p90_minutes),
        "overrun": {"share": _bounds_document(i.overrun_share),
                    "p90_minutes": _bounds_document(i.overrun_p90_minutes)},
        "criticality": {key: list(bounds) for key, bounds in i.criticality},
    }


def _models_document(m: Models) -> dict[str, Any]:
    calibration = None
    if m.calibrated:
        calibration = {"runs": m.calibrated_runs, "from": m.calibrated_from, "to": m.calibrated_to}
    return {
        "drawn": m.drawn, "from_timing": m.from_timing, "physics_from_timing": list(m.physics_from_timing),
        "calibration": calibration,
        "run_spread": {"value": m.run_spread.value, "source": m.run_spread.source},
        "kind_spread": {"value": m.kind_spread.value, "source": m.kind_spread.source},
    }


def _object(key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be an object')
    return value


def _read_bounds(key: str, value: Any, share: bool = False) -> Bounds | None:
    """[low, high]: numbers or null (an unbounded side), low not above high; shares within [0, 1]."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be [low, high], not {_shown(value)}')
    low, high = (None if v is None else _number(key, v) for v in value)
    if low is not None and high is not None and low > high:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" has its low end above its high end: {_shown(value)}')
    if share and any(v is not None and not 0 <= v <= 1 for v in (low, high)):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must lie between 0 and 1, not {_shown(value)}')
    return low, high


def _read_bounds_table(key: str, value: Any, share: bool = False) -> tuple[tuple[str, Bounds], ...]:
    if value is None:
        return ()
    table = _object(key, value)
    return tuple((str(name), _read_bounds(_path(key, name), item, share)) for name, item in sorted(table.items()))


def _read_intervals(value: Any) -> Intervals | None:
    if value is None:
        return None
    i = _object("intervals", value)
    durations = dict(_read_bounds_table("intervals.duration_minutes", i.get("duration_minutes")))
    unknown = sorted(set(durations) - set(DURATION_KEYS) | ({"max"} & set(durations)))
    if unknown:
        raise SimDocumentError(f'{SCHEMA} document: "intervals.duration_minutes.{unknown[0]}" is not an interval '
                               'the document has (p50, p80, p90, p95, mean)')
    overrun = _object("intervals.overrun", i.get("overrun", {}))
    return Intervals(
        durations=tuple((key, durations[key]) for key in DURATION_KEYS if key in durations),
        p_within_window=_read_bounds("intervals.p_within_window", i.get("p_within_window"), share=True),
        outcomes=_read_bounds_table("intervals.outcomes", i.get("outcomes"), share=True),
        exposure_minutes=_read_bounds("intervals.exposure_minutes", i.get("exposure_minutes")),
        exposure_p90_minutes=_read_bounds("intervals.exposure_p90_minutes", i.get("exposure_p90_minutes")),
        overrun_share=_read_bounds("intervals.overrun.share", overrun.get("share"), share=True),
        overrun_p90_minutes=_read_bounds("intervals.overrun.p90_minutes", overrun.get("p90_minutes")),
        criticality=_read_bounds_table("intervals.criticality", i.get("criticality"), share=True),
    )


def _read_spread(key: str, value: Any) -> Spread:
    spread = _object(key, value)
    source = spread.get("source")
    if source not in SPREAD_SOURCES:
        raise SimDocumentError(f'{SCHEMA} document: "{key}.source" must be one of {", ".join(SPREAD_SOURCES)}, '
                               f'not {_shown(source)}')
    return Spread(_number(f"{key}.value", spread.get("value")), source)


def _read_models(value: Any) -> Models | None:
    if value is None:
        return None
    m = _object("models", value)
    physics = m.get("physics_from_timing", [])
    if not isinstance(physics, list) or not all(isinstance(name, str) for name in physics):
        raise SimDocumentError(f'{SCHEMA} document: "models.physics_from_timing" must be a list of names')
    calibration = m.get("calibration")
    runs = start = end = None
    if calibration is not None:
        c = _object("models.calibration", calibration)
        runs = _count("models.calibration.runs", c.get("runs"), required=False, minimum=1)
        start, end = (_string(f"models.calibration.{key}", c.get(key)) for key in ("from", "to"))
    return Models(
        drawn=_count("models.drawn", m.get("drawn"), required=True),
        from_timing=_count("models.from_timing", m.get("from_timing", 0), required=True),
        physics_from_timing=tuple(sorted(physics)), calibrated_runs=runs, calibrated_from=start, calibrated_to=end,
        run_spread=_read_spread("models.run_spread", m.get("run_spread")),
        kind_spread=_read_spread("models.kind_spread", m.get("kind_spread")),
    )


def _read_precision(value: Any) -> Precision | None:
    if value is None:
        return None
    p = _object("precision", value)
    misses = _object("precision.misses", p.get("misses", {}))
    return Precision(
        share_target=_number("precision.share_target", p.get("share_target")),
        duration_target=_number("precision.duration_target", p.get("duration_target")),
        runs_needed=_count("precision.runs_needed", p.get("runs_needed"), required=True, minimum=1),
        misses=tuple((str(name), None if width is None else _number(_path("precision.misses", name), width))
                     for name, width in sorted(misses.items())),
    )


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a number, not {_shown(value)}')
    return float(value)


def _minutes(key: str, value: Any) -> float | None:
    if value is None:
        return None
    minutes = _number(key, value)
    if minutes < 0:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must not be negative, not {_shown(value)}')
    return minutes


SHOWN_CHARS = 60  # of a bad value, in a message: enough to recognise it, never the whole of a hostile document


def _shown(value: Any) -> str:
    """A bad value as a message shows it: its JSON-like repr (controls escaped), clipped."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _path(key: str, name: Any) -> str:
    """The JSON path of member `name` of `key`: `key.name`, or `key["na.me"]` when the name is not a plain word."""
    name = str(name)
    if name.replace("_", "").replace("-", "").isalnum() and name.isascii() and len(name) <= SHOWN_CHARS:
        return f"{key}.{name}"
    return f"{key}[{_shown(name)}]"


def _required_minutes(key: str, value: Any) -> float:
    if value is None:
        raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}" is missing')
    return _minutes(key, value)


def _count(key: str, value: Any, required: bool, minimum: int = 0) -> int | None:
    if value is None and not required:
        return None
    if value is None:
        raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}" is missing')
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a whole number of at least {minimum}, '
                               f'not {_shown(value)}')
    return value


def _text(document: dict, key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a string, not {_shown(value)}')
    return value


def _string(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a string, not {_shown(value)}')
    return value


def _table(document: dict, key: str, read: Callable[[str, Any], Any]) -> tuple:
    value = document.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be an object')
    return tuple((str(name), read(_path(key, name), item)) for name, item in sorted(value.items()))
