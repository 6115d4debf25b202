"""Where the simulated models come from: hciplan's defaults, the file's timing block, or a calibration.

The simulation header says it before any number, because every number rests
on it: with the defaults, the durations are assumptions (docs/simulation.md,
"Defaults and their provenance"); a timing block replaces some of them; a
timing block written by `hciplan calibrate` carries how many runs it was
fitted to and when they were (`calibrated_runs`, `calibrated_from`,
`calibrated_to`).

Counting convention: a step draws from the timing block's `model` named after
its kind if there is one, else from its duration model (the default, or the
timing block's `model` of that name), exactly as `durations.resolve` does;
the download of a Windows Update install is one more model. A physics model
(drain, failback, repair wait, download) counts as the timing block's only
when a `model` block replaces it: its parameters alone leave its spread an
assumption, so those are listed separately. In a timing block with
calibration provenance, whatever it sets is taken as calibrated (hciplan
cannot tell a hand edit from `hciplan calibrate`'s output).
"""

from __future__ import annotations

import datetime as dt

from hciplan.compiler.model import DEFAULT_TIMING, Timing
from hciplan.compiler.plan import Plan
from hciplan.simulator.result import Models, Spread

PHYSICS_PARAMETERS = ("live_migration_per_s", "per_vm_migration", "write_per_s", "resync_per_s",
                      "repair_overhead", "media_size", "download_per_s", "offline_share")


def _written(timing: Timing, name: str) -> bool:
    """Whether the timing block sets `name` (by its spans; a block built in code: by a value off the default)."""
    if timing.spans is not None:
        return timing.spans.written(name)
    return getattr(timing, name) != getattr(DEFAULT_TIMING, name)


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def model_provenance(plan: Plan) -> Models:
    """The provenance of the models `plan`'s simulation draws from."""
    timing = plan.model.timing
    t = timing or DEFAULT_TIMING
    drawn: dict[str, bool] = {}  # model name -> its distribution is the timing block's
    for step in plan.steps:
        name = step.kind if timing is not None and timing.model(step.kind) else step.spec.duration_model
        drawn[name] = timing is not None and timing.model(name) is not None
    upgrade = plan.model.upgrade
    if (upgrade is not None and upgrade.source == "windows_update"
            and any(s.spec.duration_model == "os.install" for s in plan.steps)):
        drawn["os.download"] = timing is not None and timing.model("os.download") is not None
    calibrated = t.calibrated_runs is not None or t.calibrated_from is not None or t.calibrated_to is not None
    written = "calibrated" if calibrated else "timing"

    def spread(name: str) -> Spread:
        source = written if timing is not None and _written(timing, name) else "default"
        return Spread(float(getattr(t, name)), source)

    return Models(
        drawn=len(drawn), from_timing=sum(drawn.values()),
        physics_from_timing=tuple(sorted(n for n in PHYSICS_PARAMETERS if timing is not None and _written(timing, n))),
        calibrated_runs=t.calibrated_runs, calibrated_from=_iso(t.calibrated_from), calibrated_to=_iso(t.calibrated_to),
        run_spread=spread("run_spread"), kind_spread=spread("kind_spread"),
    )
