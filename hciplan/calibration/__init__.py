"""`hciplan calibrate`: learn duration models and shared speed factors from past runs.

The pipeline, one module per stage:

- `sources`: read each file (journal, CAU report, update run), recognise it,
  check its shape and bounds, and turn it into plain records;
- `mapping`: records -> observations (a step kind, its duration model, a run,
  minutes), with what was not used counted per file and reason;
- `fitting`: lognormal (or empirical) models and the run and model spreads,
  with bootstrap intervals;
- `writing`: the `timing` block, printed through hciplan.fmt, and the merge
  into an existing file (`--into`).

`calibrate(paths)` runs the first three; docs/calibration.md describes every
rule and which of them are assumptions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hciplan.calibration.fitting import BOOTSTRAP, EMPIRICAL_FROM, PRIOR_WEIGHT, Fit, fit
from hciplan.calibration.mapping import (Ledger, Observation, cau_observations, journal_observations,
                                         lcm_observations)
from hciplan.calibration.sources import CauRun, Invocation, SourceError, SourceFile, read_source

# A CAU report belongs to the journal's run that started `p2.cau_run` this close to the report's
# StartTimestamp, on the same nodes (an assumption: the script calls Invoke-CauRun right after its start record).
MATCH_SECONDS = 15 * 60
MAX_OBSERVATIONS = 1_000_000


class CalibrationError(Exception):
    """Sources that cannot be used; `errors` holds one message per problem (file: where: what)."""

    def __init__(self, errors: list[str], ledger: Ledger | None = None, kinds: dict[str, str] | None = None):
        super().__init__("\n".join(errors))
        self.errors = errors
        self.ledger = ledger  # what was read and left out, when the files could be read
        self.kinds = kinds or {}


@dataclass(frozen=True)
class Calibration:
    fit: Fit
    ledger: Ledger
    observations: tuple[Observation, ...]
    kinds: dict[str, str]  # source file -> journal | cau | lcm
    warnings: tuple[str, ...] = ()  # read anyway, but worth saying (a journal's unfinished last line)

    @property
    def runs(self) -> int:
        return len({o.run for o in self.observations})

    @property
    def first(self) -> dt.datetime:
        return min(o.start for o in self.observations)

    @property
    def last(self) -> dt.datetime:
        return max(o.end for o in self.observations)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({o.source for o in self.observations}))


def read_sources(paths, source_type: str = "auto") -> list[SourceFile]:
    """Every file read; CalibrationError listing every file that cannot be used (then nothing is used)."""
    files, errors = [], []
    for path in paths:
        try:
            files.append(read_source(path, source_type))
        except SourceError as error:
            errors.append(str(error))
    if errors:
        raise CalibrationError(errors)
    return files


def _unique_invocations(files: list[SourceFile], ledger: Ledger) -> dict[str, list[Invocation]]:
    """Per journal, its invocations that no other file holds too (a journal copied twice, or mid-night)."""
    best: dict[tuple, Invocation] = {}
    for source in files:
        if source.journal is None:
            continue
        for inv in source.journal.invocations:
            key = (inv.fingerprint, inv.records[0].end, inv.records[0].step)
            if key not in best or len(inv.records) > len(best[key].records):
                best[key] = inv
    kept = {id(inv) for inv in best.values()}
    chosen: dict[str, list[Invocation]] = {}
    for source in files:
        if source.journal is None:
            continue
        chosen[source.path] = []
        for inv in source.journal.invocations:
            if id(inv) in kept:
                chosen[source.path].append(inv)
            else:
                other = best[(inv.fingerprint, inv.records[0].end, inv.records[0].step)]
                states = sum(not r.is_note for r in inv.records)
                ledger.skip(source.path, f"a run that {other.source} also holds (a copy): counted once", states)
    return chosen


def _cau_run_key(run: CauRun, invocations: list[Invocation]) -> str:
    """The journal run this CAU report belongs to (its steps then share that run's factors), else its own."""
    if run.start is not None:
        names = {n.name.lower() for n in run.nodes}
        best: tuple[float, str] | None = None
        for inv in invocations:
            if names and inv.nodes and not (names & inv.nodes):
                continue
            for started in inv.cau_starts:
                gap = abs((started - run.start).total_seconds())
                if gap <= MATCH_SECONDS and (best is None or gap < best[0]):
                    best = (gap, inv.key)
        if best is not None:
            return best[1]
    return f"cau:{run.key}"


def collect(files: list[SourceFile]) -> tuple[list[Observation], Ledger]:
    """Observations from every source, each once, CAU reports joined to their journal's run."""
    ledger = Ledger()
    observations: list[Observation] = []
    chosen = _unique_invocations(files, ledger)
    invocations = [inv for group in chosen.values() for inv in group]
    for source in files:
        if source.journal is not None:
            observations += journal_observations(source.journal, chosen[source.path], ledger)
    seen: dict[str, str] = {}
    for source in files:
        for run in source.cau:
            if run.key in seen:
                ledger.skip(source.path, f"a CAU run that {seen[run.key]} also holds (a copy): counted once",
                            len(run.nodes))
                continue
            seen[run.key] = source.path
            observations += cau_observations(run, _cau_run_key(run, invocations), ledger)
    seen_lcm: dict[str, str] = {}
    for source in files:
        for update in source.lcm:
            if update.key in seen_lcm:
                ledger.skip(source.path, f"an update run that {seen_lcm[update.key]} also holds (a copy): counted "
                            "once", 1 + len(update.stages))
                continue
            seen_lcm[update.key] = source.path
            observations += lcm_observations(update, f"lcm:{update.key}", ledger)
    return observations, ledger


def calibrate(paths, *, source_type: str = "auto", prior_weight: float = PRIOR_WEIGHT,
              empirical_from: int = EMPIRICAL_FROM, confidence: float = 0.95,
              bootstrap: int = BOOTSTRAP) -> Calibration:
    """Read `paths`, map their records and fit the timing; CalibrationError when nothing can be learnt."""
    files = read_sources(paths, source_type)
    observations, ledger = collect(files)
    if not observations:
        raise CalibrationError(["no measured durations in " + ", ".join(str(p) for p in paths)
                                + ": nothing to calibrate from (what was left out, and why, is listed per file)"],
                               ledger, {f.path: f.kind for f in files})
    if len(observations) > MAX_OBSERVATIONS:
        raise CalibrationError([f"more than {MAX_OBSERVATIONS:,} observations: calibrate from fewer runs"])
    observations.sort(key=lambda o: (o.model, o.run, o.start, o.kind, o.source))
    result = fit(observations, prior_weight=prior_weight, empirical_from=empirical_from, confidence=confidence,
                 bootstrap=bootstrap)
    warnings = tuple(w for f in files if f.journal is not None for w in f.journal.journal.warnings)
    return Calibration(result, ledger, tuple(observations), {f.path: f.kind for f in files}, warnings)


__all__ = ["Calibration", "CalibrationError", "calibrate", "collect", "read_sources"]
