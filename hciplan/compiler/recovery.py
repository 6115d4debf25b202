"""The recovery model: how long a person takes to bring a failed run back, per failure mode.

When the generated script stops (a step failed, a node did not come back, CAU
gave up), the night does not end there: someone recovers what failed and
reruns the script, which resumes from its journal at the failed step. How
long that takes is a duration distribution per kind of recovery:

- `recovery.hang`: a node (or a step) that does not answer: a person notices,
  power-cycles or repairs it through its BMC and waits for it to boot
  (`hang`, and a `resync_stall`: the storage repair that never ends);
- `recovery.error`: a step that failed: the operator reads the journal and the
  log, fixes the cause and reruns the script from the failed step (`error`,
  `drain_failure`: a live migration that never completes [S-lm]);
- `recovery.locked`: a CAU run that stopped leaves the cluster Locked; it is
  cleared with `Invoke-CauRun -ForceRecovery -Force` before a new run starts
  [A-verify], on top of the node's own recovery.

No source publishes these times: every default is an assumption, labelled as
such, and a timing block overrides any of them with a `model "recovery.hang"
{ ... }` block (any of the five distributions), and the number of recoveries
a run allows per step with `max_recoveries` (default 1). The compiler resolves
them once (`recovery_of`) and the plan carries them (`Plan.recovery`): the
simulator draws from them, the docs and the report quote them.
"""

from __future__ import annotations

from hciplan.compiler.durations import Distribution, Triangular, from_timing_model
from hciplan.compiler.model import DEFAULT_TIMING, Model
from hciplan.records import record

HANG, ERROR, LOCKED = "recovery.hang", "recovery.error", "recovery.locked"
RECOVERY_NAMES = (ERROR, HANG, LOCKED)  # sorted: the timing block's `model` names for them

# Which recovery each failure mode needs (`slow` is no failure: nothing to recover).
RECOVERY_OF_MODE = {"hang": HANG, "resync_stall": HANG, "error": ERROR, "drain_failure": ERROR}

DEFAULT_RECOVERY: dict[str, Triangular] = {
    HANG: Triangular(20, 45, 180, "assumption: a person notices the node is down, power-cycles it through its BMC "
                     "and waits for it to boot; not published"),
    ERROR: Triangular(10, 30, 120, "assumption: the operator reads the journal and the log, fixes the cause and "
                      "reruns the script from the failed step; not published"),
    LOCKED: Triangular(5, 10, 30, "assumption: `Invoke-CauRun -ForceRecovery -Force` clears the Locked cluster "
                       "[A-verify] before a new CAU run; its time is not published"),
}
DEFAULT_MAX_RECOVERIES = 1  # assumption: one recovery per step and night; a step that fails again ends the night


@record
class Recovery:
    """The resolved recovery model: a distribution (minutes) per kind of recovery, and the recoveries allowed."""

    hang: Distribution
    error: Distribution
    locked: Distribution
    max_recoveries: int = DEFAULT_MAX_RECOVERIES  # per step and run; 0: a failure ends the run (aborted)

    def of(self, name: str) -> Distribution:
        return {HANG: self.hang, ERROR: self.error, LOCKED: self.locked}[name]


def recovery_of(model: Model) -> Recovery:
    """The file's recovery model: the timing block's `model "recovery.*"` blocks over the defaults."""
    timing = model.timing or DEFAULT_TIMING

    def one(name: str) -> Distribution:
        override = timing.model(name)
        return from_timing_model(override) if override is not None else DEFAULT_RECOVERY[name]
    return Recovery(one(HANG), one(ERROR), one(LOCKED), timing.max_recoveries)


DEFAULT = Recovery(DEFAULT_RECOVERY[HANG], DEFAULT_RECOVERY[ERROR], DEFAULT_RECOVERY[LOCKED])
