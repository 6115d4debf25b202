"""The night so far: every plan step's status from the script's journal, and what the engine takes as given.

The script journals a step's `start` when its work begins and its state when it
ends (docs/powershell.md, "The journal"); the last state line of a step wins, as
in the script. A step is *running* when its last `start` comes after its last
state line. A group entry (the CAU run, `p2.cau_run`) journals its sub-steps only
when it ends, so while it runs the journal cannot say which sub-step is running:
`attribute_group` estimates it from the elapsed time at the plan's means, or from
the node the operator names (`--cau-node`, which Get-CauRun shows).

`night_state` reads the journal against the plan: statuses per step, the facts
(done and skipped steps, with their times) and the running steps that the
engine is given (`prepared.Given`), where the script stopped, and the current
unit. It raises `ProgressError` for a request it cannot answer and
`JournalError` (with the line) for a journal that is not this plan's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hciplan.compiler.diagnostics import did_you_mean
from hciplan.compiler.plan import Plan
from hciplan.compiler.units import CAU_RUN, Unit
from hciplan.journal import Journal, JournalError, Record, entry_ids, require_plan

# A step's status in `hciplan progress` (docs/progress.md).
STATUSES = ("done", "skipped", "running", "failed", "timeout", "declined", "paused", "window", "pending")
# Where the script stops: the rerun starts the step again, so the estimate counts it as pending.
STOPS = ("failed", "timeout", "declined", "paused", "window")
FINISHED = ("done", "skipped")
CLOCK_SKEW_MINUTES = 1.0  # a journal ahead of this machine's clock by more than this is worth a warning


class ProgressError(Exception):
    """A request `hciplan progress` cannot answer (a `--now` before the journal's end, a bad `--cau-node`)."""


@dataclass(frozen=True, slots=True)
class StepStatus:
    """One plan step (or one group entry) as the journal shows it."""

    id: str
    entry: str  # the journal id of the script entry that runs it (itself, or its group's entry)
    status: str  # one of STATUSES
    start: dt.datetime | None = None  # the work's start (done), since when (running), or the record's start
    end: dt.datetime | None = None  # when the state was journalled (None while running or pending)
    message: str = ""
    line: int | None = None  # the journal line of the state shown (None: nothing journalled, or an estimate)
    measured: bool = False  # a `done` whose start is the work's own start: its duration is measured
    estimated: bool = False  # attributed from a running group's elapsed time, not journalled

    @property
    def actual_minutes(self) -> float | None:
        """The measured duration (only where the journal measures the work)."""
        if not self.measured or self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True, slots=True)
class Attribution:
    """How a running group's sub-steps were attributed (the journal shows none of them until it ends)."""

    entry: str
    since: dt.datetime
    basis: str  # "elapsed": at the plan's means; "node": the operator named the node (--cau-node)
    node: str | None
    done: tuple[str, ...]  # sub-steps counted done (at their means, or stretched to fit the elapsed time)
    running: tuple[str, ...]
    stretched: bool  # the sub-steps took longer than their means: their times were stretched to fit


@dataclass(frozen=True)
class NightState:
    """Everything the journal shows, read against the plan, at `now`."""

    plan: Plan
    journal: Journal
    now: dt.datetime
    origin: dt.datetime  # minute 0 of the estimate: the earlier of the planned start and the journal's first record
    steps: tuple[StepStatus, ...]  # in plan order
    entries: tuple[tuple[StepStatus, tuple[str, ...]], ...]  # group entries (the CAU run) and their sub-step ids
    facts: tuple[tuple[str, dt.datetime, dt.datetime], ...]  # done or skipped steps: (id, start, end)
    running: tuple[tuple[str, dt.datetime], ...]  # (id, since)
    attribution: Attribution | None
    stopped: StepStatus | None  # where the script stopped (failed, timeout, declined, paused, window)
    warnings: tuple[str, ...] = ()
    _by_id: dict[str, StepStatus] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {s.id: s for s in self.steps})

    def status(self, step_id: str) -> StepStatus:
        return self._by_id[step_id]

    def minutes(self, moment: dt.datetime) -> float:
        """`moment` in minutes from the origin."""
        return (moment - self.origin).total_seconds() / 60

    @property
    def finished(self) -> bool:
        return all(s.status in FINISHED for s in self.steps)

    def current_unit(self) -> Unit | None:
        """The unit being worked on: the running step's, else where the script stopped, else the next one."""
        plan = self.plan
        if self.running:
            first = min(self.running, key=lambda item: _position(plan, item[0]))
            return plan.unit_of(first[0])
        if self.stopped is not None:
            members = {head.id: steps for head, steps in self.entries}.get(self.stopped.id)
            if members is None:
                return plan.unit_of(self.stopped.id)
            for step_id in members:
                if self.status(step_id).status not in FINISHED:
                    return plan.unit_of(step_id)
        for s in self.steps:
            if s.status not in FINISHED:
                return plan.unit_of(s.id)
        return None


def _position(plan: Plan, step_id: str) -> int:
    return plan.steps.index(plan.step(step_id))


def check_steps(plan: Plan, journal: Journal) -> None:
    """Refuse a journal of another plan (stale) and a line whose step this plan does not have."""
    require_plan(journal, plan.fingerprint)
    known = {s.id for s in plan.steps} | set(entry_ids(plan).values())
    for r in journal.records:
        if r.step not in known:
            hint = did_you_mean(r.step, sorted(known))
            raise JournalError(journal.path, r.line, f"step `{r.step[:120]}` is not a step of this plan"
                               + (f" ({hint})" if hint else "") + ", although the fingerprint is the plan's: was "
                               "the script emitted by another hciplan version? Read the journal with that "
                               "version, or emit the script again with this one")


def night_state(plan: Plan, journal: Journal, now: dt.datetime, cau_node: str | None = None,
                clock: bool = False) -> NightState:
    """The night as the journal shows it at `now`.

    `clock`: `now` is this machine's clock (not a `--now`), so a journal ahead of it moves `now` to the
    journal's last record, with a warning, instead of being refused.
    """
    check_steps(plan, journal)
    warnings = list(journal.warnings)
    last = journal.last_time
    if last is not None and now < last:
        if not clock:
            line = max(journal.records, key=lambda r: (r.end, r.line)).line
            raise ProgressError(f"--now {now.isoformat()} is before the journal's last record "
                                f"({last.isoformat()}, line {line}): give a time after it, or leave --now out")
        if (last - now).total_seconds() / 60 > CLOCK_SKEW_MINUTES:
            warnings.append(f"the journal's last record ({last.isoformat()}) is ahead of this machine's clock "
                            f"({now.isoformat()}): check the clocks; the estimate starts from the journal's time")
        now = last
    windows = sorted(plan.model.upgrade.windows, key=lambda w: w.start)
    candidates = [now] + [r.start for r in journal.records] + [r.end for r in journal.records]
    if windows:
        candidates.append(windows[0].start)
    origin = min(candidates)

    ids = entry_ids(plan)
    states: dict[str, Record] = {}
    starts: dict[str, Record] = {}
    for r in journal.records:
        if r.status == "start":
            starts[r.step] = r
        elif not r.is_note:
            states[r.step] = r

    def own(step_id: str) -> StepStatus:
        """A script entry's status from its own lines."""
        state, begun = states.get(step_id), starts.get(step_id)
        if begun is not None and (state is None or begun.line > state.line):
            return StepStatus(step_id, ids.get(step_id, step_id), "running", begun.start, None, "", begun.line)
        if state is None:
            return StepStatus(step_id, ids.get(step_id, step_id), "pending")
        measured = state.status == "done" and state.end > state.start
        return StepStatus(step_id, ids.get(step_id, step_id), state.status, state.start, state.end, state.message,
                          state.line, measured=measured)

    members: dict[str, list[str]] = {}
    for s in plan.steps:
        if ids[s.id] != s.id:
            members.setdefault(ids[s.id], []).append(s.id)

    statuses: dict[str, StepStatus] = {}
    facts: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    running: dict[str, dt.datetime] = {}
    entries: list[tuple[StepStatus, tuple[str, ...]]] = []
    attribution = None
    for s in plan.steps:
        if ids[s.id] == s.id:
            status = own(s.id)
            statuses[s.id] = status
            if status.status in FINISHED:
                facts[s.id] = (status.start, max(status.start, status.end))
            elif status.status == "running":
                running[s.id] = status.start
    for entry, group in members.items():
        head = own(entry)
        entries.append((head, tuple(group)))
        subs, sub_facts = _group_sub_steps(plan, entry, group, head, states)
        statuses.update(subs)
        facts.update(sub_facts)
        if head.status == "running":
            attribution, est, est_facts, est_running = attribute_group(plan, entry, group, head.start, now,
                                                                       subs, cau_node)
            statuses.update(est)
            facts.update(est_facts)
            running.update(est_running)
    if cau_node is not None and attribution is None:
        raise ProgressError(f"--cau-node {cau_node}: no CAU run is running in the journal (`p2.cau_run` has no "
                            "`start` after its last state); leave --cau-node out")

    stopped = None
    if not running:
        latest = max(states.values(), key=lambda r: r.line, default=None)
        if latest is not None and latest.status in STOPS:
            stopped = statuses.get(latest.step) or next(h for h, _ in entries if h.id == latest.step)
    steps = tuple(statuses[s.id] for s in plan.steps)
    return NightState(plan, journal, now, origin, steps, tuple(entries),
                      tuple((i, *facts[i]) for i in (s.id for s in plan.steps) if i in facts),
                      tuple((i, running[i]) for i in (s.id for s in plan.steps) if i in running),
                      attribution, stopped, tuple(warnings))


def _schedule(plan: Plan, steps: list[str], scale: float = 1.0) -> dict[str, tuple[float, float]]:
    """Minutes from the group's start at which each step starts and ends at its plan mean (times `scale`)."""
    times: dict[str, tuple[float, float]] = {}
    for step_id in steps:  # plan order is a topological order
        step = plan.step(step_id)
        begin = max((times[p][1] for p in step.after if p in times), default=0.0)
        times[step_id] = (begin, begin + step.mean_minutes * scale)
    return times


def _at(since: dt.datetime, minutes: float) -> dt.datetime:
    return since + dt.timedelta(minutes=minutes)


def _group_sub_steps(plan: Plan, entry: str, group: list[str], head: StepStatus,
                     states: dict[str, Record]) -> tuple[dict[str, StepStatus], dict]:
    """The sub-steps of a group entry from their own lines (written when a run of the group ended).

    A sub-step's `done` carries the group run's start, not its own, so it is never measured; its
    times for the engine are an attribution: the sub-steps one run finished, laid out from the run's
    start at their plan means, stretched to the run's end when that run finished the group, and
    compressed when they do not fit in it.
    """
    statuses: dict[str, StepStatus] = {}
    sessions: dict[dt.datetime, list[str]] = {}
    for step_id in group:
        state = states.get(step_id)
        if state is not None and state.status in FINISHED:
            statuses[step_id] = StepStatus(step_id, entry, state.status, state.start, state.end, state.message,
                                           state.line)
            sessions.setdefault(state.start, []).append(step_id)
        elif head.status in FINISHED:  # the entry finished without a line for it: done (or skipped) by the entry
            statuses[step_id] = StepStatus(step_id, entry, head.status, head.start, head.end,
                                           f"{head.status} by {entry}", head.line)
            sessions.setdefault(head.start, []).append(step_id)
        else:
            message = state.message if state is not None else ""
            statuses[step_id] = StepStatus(step_id, entry, "pending", None, None, message,
                                           state.line if state is not None else None)
    facts = {}
    for since, steps in sessions.items():
        ends = [statuses[i].end for i in steps]
        span = (max(ends) - since).total_seconds() / 60
        times = _schedule(plan, steps)
        makespan = max(end for _, end in times.values())
        completes = len(steps) == len(group) or (head.status in FINISHED and head.start == since)
        scale = (span / makespan if completes else min(1.0, span / makespan)) if makespan > 0 else 0.0
        for step_id, (begin, end) in _schedule(plan, steps, scale).items():
            facts[step_id] = (_at(since, begin), _at(since, end))
    return statuses, facts


def _greedy(plan: Plan, steps: list[str], elapsed: float) -> tuple[list[str], list[str], dict, bool]:
    """Attribute `elapsed` minutes to `steps` (plan order) at their means: (done, running, times, stretched).

    The steps count as done while they end within the elapsed time; the next one runs since then.
    If all of them would have ended, they are stretched to fit it and the last ones still run (the
    entry has not ended).
    """
    times = _schedule(plan, steps)
    makespan = max((end for _, end in times.values()), default=0.0)
    if not steps or makespan > elapsed:
        done = [i for i in steps if times[i][1] <= elapsed]
        running = [i for i in steps if times[i][0] <= elapsed < times[i][1]]
        return done, running, times, False
    times = _schedule(plan, steps, elapsed / makespan if makespan > 0 else 1.0)
    followed = {p for i in steps for p in plan.step(i).after}  # the steps another one waits for
    return ([i for i in steps if i in followed], [i for i in steps if i not in followed], times,
            0 < makespan < elapsed)


def attribute_group(plan: Plan, entry: str, group: list[str], since: dt.datetime, now: dt.datetime,
                    subs: dict[str, StepStatus], cau_node: str | None):
    """Which sub-steps of a running group are done and which one runs: an estimate (the journal shows none).

    Greedy, at the plan's means (`_greedy`), over the sub-steps left from the run's start. With
    `cau_node` (the node CAU is updating, as Get-CauRun shows it) the earlier nodes' sub-steps are
    done at their means (compressed when they do not fit in the elapsed time) and that node's pass
    takes the rest of the elapsed time, greedily from its drain: its drain runs since the earlier
    nodes ended, unless that is longer ago than the drain takes.
    """
    left = [i for i in group if subs[i].status not in FINISHED]
    elapsed = max(0.0, (now - since).total_seconds() / 60)
    if cau_node is None:
        basis = "elapsed"
        done, running, times, stretched = _greedy(plan, left, elapsed)
    else:
        basis = "node"
        nodes = [u.node for u in plan.units if u.cau and u.node is not None]
        if entry != f"p2.{CAU_RUN}" or not nodes:
            raise ProgressError(f"--cau-node applies to a CAU run; {entry} is not one")
        if cau_node not in nodes:
            hint = did_you_mean(cau_node, nodes)
            raise ProgressError(f"--cau-node {cau_node}: not a node of the CAU run"
                                + (f"; {hint}" if hint else "") + f" (nodes in CAU order: {', '.join(nodes)})")
        unit = next(u for u in plan.units if u.cau and u.node == cau_node)
        mine = [i for i in unit.steps if i in left]
        if not mine:
            raise ProgressError(f"--cau-node {cau_node}: the journal shows {cau_node}'s sub-steps done in an "
                                "earlier CAU run; name the node CAU is updating now")
        head = plan.steps.index(plan.step(unit.head))
        before = [i for i in left if plan.steps.index(plan.step(i)) < head]
        times = _schedule(plan, before)
        makespan = max((end for _, end in times.values()), default=0.0)
        stretched = makespan > elapsed
        if stretched:
            times = _schedule(plan, before, elapsed / makespan)
            makespan = elapsed
        done, running, own, late = _greedy(plan, mine, elapsed - makespan)
        times.update({i: (makespan + a, makespan + b) for i, (a, b) in own.items()})
        done = before + done
        stretched = stretched or late
    statuses, facts, running_at = {}, {}, {}
    for step_id in done:
        begin, end = _at(since, times[step_id][0]), _at(since, times[step_id][1])
        statuses[step_id] = StepStatus(step_id, entry, "done", begin, end, f"estimated: {entry} is running",
                                       estimated=True)
        facts[step_id] = (begin, end)
    for step_id in running:
        begin = min(now, _at(since, times[step_id][0]))
        statuses[step_id] = StepStatus(step_id, entry, "running", begin, None, f"estimated: {entry} is running",
                                       estimated=True)
        running_at[step_id] = begin
    attribution = Attribution(entry, since, basis, cau_node, tuple(done), tuple(running), stretched)
    return attribution, statuses, facts, running_at
