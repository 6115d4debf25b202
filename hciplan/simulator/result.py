"""The simulation's summary as a record: the one definition of the `hciplan.sim/1` document.

`hciplan simulate --format json` prints `SimResult.to_document()`; the runbook
(and `hciplan emit --simulation FILE`) reads a saved one back with
`SimResult.from_document`, which validates it and says what is wrong. This
module imports nothing of the simulation engine, so readers stay light.
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

    def to_document(self) -> dict[str, Any]:
        """The `hciplan.sim/1` JSON document (dump it with sorted keys)."""
        return {
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
                   overran)


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


def _table(document: dict, key: str, read: Callable[[str, Any], Any]) -> tuple:
    value = document.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise SimDocumentError(f'{SCHEMA} document: "{key}" must be an object')
    return tuple((str(name), read(f"{key}.{name}", item)) for name, item in sorted(value.items()))
