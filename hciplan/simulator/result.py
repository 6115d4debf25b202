"""The simulation's summary as a record: the one definition of the `hciplan.sim/1` document.

`hciplan simulate --format json` prints `SimResult.to_document()`; the runbook
(and `hciplan emit --simulation FILE`) reads a saved one back with
`SimResult.from_document`, which validates it and says what is wrong. This
module imports nothing of the simulation engine, so readers stay light.

The 95% Monte Carlo intervals (`intervals`), the provenance of the models
(`models`), the rule on enough runs (`precision`), the exposure P90 and the
schedule by window (`schedule`) and the mixed OS mode (`mixed_mode`) were added to `hciplan.sim/1` as optional fields: a document without them still
reads, and readers that do not know them can ignore them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

SCHEMA = "hciplan.sim/1"
DURATION_KEYS = ("p50", "p80", "p90", "p95", "mean", "max")


class SimDocumentError(ValueError):
    """A document that is not a valid `hciplan.sim/1` summary; the message says which field and why."""


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
        return document

    @classmethod
    def from_document(cls, document: Any) -> "SimResult":
        """Read a `hciplan.sim/1` document; SimDocumentError naming the field when it is not a valid one.

        `runs` and `duration_minutes` with `p50` and `p90` (null when no run
        completed) are required; the other fields may be missing (older or
        hand-trimmed documents). `from_document(r.to_document()) == r`.
        """
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise SimDocumentError(f'not a simulation result: expected "schema": "{SCHEMA}"')
        runs = _count("runs", document.get("runs"), required=True, minimum=1)
        seed = _count("seed", document.get("seed"), required=False)
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
                   _read_mixed_mode(document.get("mixed_mode")))


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
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be between 0 and 1, not {value!r}')
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
    shares = sorted(((str(name), _share(f"schedule.finish_window.{name}", v)) for name, v in finish.items()),
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
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be [low, high], not {value!r}')
    low, high = (None if v is None else _number(key, v) for v in value)
    if low is not None and high is not None and low > high:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" has its low end above its high end: {value!r}')
    if share and any(v is not None and not 0 <= v <= 1 for v in (low, high)):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must lie between 0 and 1, not {value!r}')
    return low, high


def _read_bounds_table(key: str, value: Any, share: bool = False) -> tuple[tuple[str, Bounds], ...]:
    if value is None:
        return ()
    table = _object(key, value)
    return tuple((str(name), _read_bounds(f"{key}.{name}", item, share)) for name, item in sorted(table.items()))


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
                               f'not {source!r}')
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
        misses=tuple((str(name), None if width is None else _number(f"precision.misses.{name}", width))
                     for name, width in sorted(misses.items())),
    )


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a number, not {value!r}')
    return float(value)


def _minutes(key: str, value: Any) -> float | None:
    if value is None:
        return None
    minutes = _number(key, value)
    if minutes < 0:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must not be negative, not {value!r}')
    return minutes


def _count(key: str, value: Any, required: bool, minimum: int = 0) -> int | None:
    if value is None and not required:
        return None
    if value is None:
        raise SimDocumentError(f'incomplete {SCHEMA} document: "{key}" is missing')
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a whole number of at least {minimum}, '
                               f'not {value!r}')
    return value


def _text(document: dict, key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a string, not {value!r}')
    return value


def _string(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be a string, not {value!r}')
    return value


def _table(document: dict, key: str, read: Callable[[str, Any], Any]) -> tuple:
    value = document.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be an object')
    return tuple((str(name), read(f"{key}.{name}", item)) for name, item in sorted(value.items()))
