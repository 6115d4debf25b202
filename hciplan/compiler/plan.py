"""The Plan: frozen step records plus their dependency DAG, the single truth for every consumer.

The simulator and every backend read the same `Plan`, so what is simulated is
what the script does. Steps are kept in one deterministic topological order
(the lexicographical topological order keyed by step id). The DAG is kept as
each step's `after` tuple: the compiler walks it itself, and `Plan.graph`
builds a `networkx.DiGraph` only for a caller that asks for one, so `check`
and `--help` never import networkx (bench/bench_startup.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import ipaddress
from dataclasses import field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hciplan.compiler.catalog import CATALOG, PHASES, StepKind
from hciplan.compiler.model import Model
from hciplan.compiler.recovery import Recovery
from hciplan.compiler.schedule import Schedule
from hciplan.compiler.units import Unit
from hciplan.records import record

if TYPE_CHECKING:
    import networkx as nx


@record
class Step:
    id: str
    kind: str
    phase: str
    node: str | None = None
    after: tuple[str, ...] = ()
    group: str | None = None  # the per-node pass or run the step belongs to ("cau_run", "registry", ...)
    target: str | None = None  # what a cluster step acts on, e.g. a volume name for thin.convert
    mean_minutes: float = 0.0
    bound_minutes: float = 0.0  # the script's wait and the simulator's give-up time (compiler/units.py)
    p90_minutes: float = 0.0  # the P90 the derived bounds and the HCI920 warning start from
    offline_share: float = 0.0  # the share of its duration with its node down: setup's offline part (durations.py)

    @property
    def spec(self) -> StepKind:
        return CATALOG[self.kind]

    @property
    def scope(self) -> str:
        return self.spec.scope

    @property
    def title(self) -> str:
        title = self.spec.title
        return f"{title}: {self.target}" if self.target else title


@record(slots=False)  # slots=False: the cached properties `fingerprint` and `graph` need the instance __dict__
class Plan:
    model: Model
    steps: tuple[Step, ...]
    units: tuple[Unit, ...] = ()  # in plan order of their heads; every step is in exactly one
    reboot_timeout: int = 0  # minutes: CAU's -RebootTimeoutMinutes and the bound of every reboot
    confidence: float = 0.9  # the window rule's confidence (timing.window_confidence)
    schedule: Schedule | None = None  # the expected schedule by window (compiler/schedule.py); None without windows
    recovery: Recovery | None = None  # how long recovering a failure takes (compiler/recovery.py); None: the defaults
    _by_id: dict[str, Step] = field(init=False, compare=False, repr=False)
    _unit_of: dict[str, Unit] = field(init=False, compare=False, repr=False)
    _successors: dict[str, list[str]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {s.id: s for s in self.steps})
        object.__setattr__(self, "_unit_of", {step: u for u in self.units for step in u.steps})
        successors: dict[str, list[str]] = {s.id: [] for s in self.steps}
        for s in self.steps:
            for p in s.after:
                successors[p].append(s.id)
        object.__setattr__(self, "_successors", successors)

    @cached_property
    def fingerprint(self) -> str:
        """The model's fingerprint (`fingerprint`), on first use: `check` never shows it, and hashlib
        (OpenSSL's library, 2 ms) stays out of its start-up."""
        return fingerprint(self.model)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The dependency DAG as a networkx graph (imported here, on first use: the compiler does not need it)."""
        import networkx as nx

        graph = nx.DiGraph()
        for s in self.steps:
            graph.add_node(s.id)
            for p in s.after:
                graph.add_edge(p, s.id)
        return graph

    def successors(self, step_id: str) -> list[str]:
        """The steps that list `step_id` in their `after`, in plan order."""
        return self._successors[step_id]

    def ancestors(self, step_id: str) -> set[str]:
        """Every step some path leads from to `step_id` (itself excluded), as `networkx.ancestors`."""
        seen: set[str] = set()
        pending = list(self._by_id[step_id].after)
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(self._by_id[current].after)
        return seen

    @property
    def method(self) -> str:
        return self.model.upgrade.method

    @property
    def interactive(self) -> bool:
        """WAC runs are driven from its GUI: backends give a runbook, not a script."""
        return self.method == "wac"

    def needs_operator(self, step: Step) -> bool:
        """Whether a person at a console (BMC) or a GUI runs this step: the catalog's interactive steps, and
        the CAU steps of a WAC plan. The plan JSON's `interactive` and the fleet's operator load read it."""
        return step.spec.interactive or (self.interactive and step.group == "cau_run")

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    def unit_of(self, step_id: str) -> Unit:
        return self._unit_of[step_id]

    def unit_head(self, step_id: str) -> bool:
        """Whether the window rule applies before this step (it starts a unit)."""
        return self._unit_of[step_id].head == step_id

    def phases(self) -> list[tuple[str, list[Step]]]:
        """Steps grouped by phase, phases in order, steps in plan order."""
        grouped = {phase: [] for phase in PHASES}
        for s in self.steps:
            grouped[s.phase].append(s)
        return [(phase, steps) for phase, steps in grouped.items() if steps]

    def critical_path(self) -> tuple[float, list[str]]:
        """The longest path through the DAG by mean durations: (minutes, step ids)."""
        best: dict[str, tuple[float, str | None]] = {}
        for s in self.steps:
            start, via = max(((best[p][0], p) for p in s.after), default=(0.0, None))
            best[s.id] = (start + s.mean_minutes, via)
        end = max(best, key=lambda k: (best[k][0], k))
        path, cursor = [], end
        while cursor is not None:
            path.append(cursor)
            cursor = best[cursor][1]
        return best[end][0], path[::-1]


def order_steps(steps: list[Step]) -> tuple[Step, ...]:
    """The steps in lexicographical topological order: of the steps whose `after` have all run, the smallest id.

    Kahn's algorithm with a heap, the order `networkx.lexicographical_topological_sort(key=id)` gives
    (unique: at each point the smallest ready id is taken). A cycle raises ValueError.
    """
    index = {s.id: s for s in steps}
    waiting = {s.id: len(set(s.after)) for s in steps}
    successors: dict[str, list[str]] = {s.id: [] for s in steps}
    for s in steps:
        for p in set(s.after):
            successors[p].append(s.id)
    ready = [step_id for step_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        step_id = heapq.heappop(ready)
        order.append(index[step_id])
        for successor in successors[step_id]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                heapq.heappush(ready, successor)
    if len(order) != len(steps):
        raise ValueError("the steps' dependencies form a cycle")
    return tuple(order)


def model_facts(value: Any) -> Any:
    """A JSON-ready view of the model's facts (spans excluded), for the fingerprint."""
    if dataclasses.is_dataclass(value):
        return {f.name: model_facts(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name != "spans" and f.metadata.get("fingerprint", True)}
    if isinstance(value, (tuple, list)):
        return [model_facts(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv4Interface, ipaddress.IPv4Network)):
        return str(value)
    return value


def fingerprint(model: Model) -> str:
    """`sha256:` and the digest of the model's facts: the plan's identity in scripts, journals and results."""
    import hashlib
    import json

    facts = json.dumps(model_facts(model), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(facts.encode("utf-8")).hexdigest()
