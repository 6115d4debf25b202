"""Failure injection: `--fail NODE:STEP[:MODE]` specs and scenario blocks, resolved to plan steps.

Both forms name a node (or `cluster` for a cluster-wide step) and a step of
that node in the plan. A step is written as a verb (`reboot`: the OS-upgrade
pass's step when the node has several), `pass.verb` (`registry.reboot`), a step
kind (`cau.install`) or a full step id (`p2.cau.HCI03.reboot`). Errors carry a
message and hints; the CLI turns them into a usage error (exit 2) for `--fail`
and into diagnostics at the block's span for scenarios.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hciplan.compiler.diagnostics import did_you_mean
from hciplan.compiler.plan import Plan, Step
from hciplan.compiler.schema import FAILURE_MODES

DEFAULT_SLOW_FACTOR = 2.0
STEP_ID_RE = re.compile(r"^p\d\.")


class FailureSpecError(ValueError):
    """A failure that cannot be resolved: what is wrong, and hints to fix it."""

    def __init__(self, message: str, hints: tuple[str, ...] = (), code: str = "HCI1005"):
        super().__init__(message)
        self.message = message
        self.hints = tuple(h for h in hints if h)
        self.code = code


@dataclass(frozen=True, slots=True)
class Injection:
    """A failure resolved to one step: `error` fails the first `attempts` attempts; the others every attempt."""

    step: int  # index in plan order
    mode: str
    attempts: int = 1
    factor: float = 1.0
    origin: str = ""


@dataclass(frozen=True, slots=True)
class RiskSpec:
    """Every attempt of a step fails with `probability` in `mode` (from a scenario's `risk` block)."""

    probability: float
    mode: str
    factor: float = 1.0


def parse_fail(text: str) -> tuple[str, str, str, str | None]:
    """Split `NODE:STEP[:MODE[=PARAM]]` into (node, step, mode, param)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise FailureSpecError(f"`--fail {text}`: write NODE:STEP or NODE:STEP:MODE",
                               ("for example `--fail HCI03:reboot:hang` or `--fail HCI02:install:error=2`",
                                "modes: " + ", ".join(FAILURE_MODES)))
    node, step = parts[0].strip(), parts[1].strip()
    mode_text = parts[2].strip() if len(parts) == 3 else "error"
    mode, separator, param = mode_text.partition("=")
    if mode not in FAILURE_MODES:
        raise FailureSpecError(f"`--fail {text}`: unknown failure mode `{mode}`",
                               (did_you_mean(mode, FAILURE_MODES), "modes: " + ", ".join(FAILURE_MODES)))
    return node, step, mode, (param if separator else None)


def injection_from_cli(plan: Plan, text: str) -> Injection:
    node, step, mode, param = parse_fail(text)
    attempts, factor = 1, 1.0
    if param is not None:
        if mode == "error":
            if not param.isdigit() or not 1 <= int(param) <= 65:
                raise FailureSpecError(f"`--fail {text}`: `error={param}` needs a number of failing attempts (1-65)",
                                       ("`error=2` fails the first two attempts; "
                                        "CAU retries the node's whole attempt",))
            attempts = int(param)
        elif mode == "slow":
            try:
                factor = float(param.rstrip("x"))
            except ValueError:
                factor = -1.0
            if not 0.01 <= factor <= 1000:
                raise FailureSpecError(f"`--fail {text}`: `slow={param}` needs a factor such as `slow=3`",
                                       ("the factor multiplies the step's drawn duration",))
        else:
            raise FailureSpecError(f"`--fail {text}`: mode `{mode}` takes no parameter",
                                   ("only `error=N` (failing attempts) and `slow=F` (a factor) take one",))
    elif mode == "slow":
        factor = DEFAULT_SLOW_FACTOR
    index = resolve_step(plan, node, step, mode)
    return Injection(index, mode, attempts, factor, f"--fail {text}")


def _verb_forms(step: Step) -> set[str]:
    """The short names a node step answers to: `verb`, `pass.verb`, its kind, its id."""
    parts = step.id.split(".")
    forms = {step.id.lower(), step.kind.lower()}
    if step.node is not None:
        rest = [p for p in parts[1:] if p.lower() != step.node.lower()]
        if rest:
            forms.add(rest[-1].lower())
            forms.add(".".join(rest).lower())
    else:
        forms.add(".".join(parts[1:]).lower())
    return forms


def _shown_forms(step: Step) -> set[str]:
    """The forms of a step worth listing: not its id, and a kind (`bitlocker.resume`) without the
    same name spelt from the id (`bitlocker_resume`), which names the same step."""
    forms = {f for f in _verb_forms(step) if not STEP_ID_RE.match(f)}
    kind = step.kind.lower()
    same = kind.replace("_", ".")
    return {f for f in forms if f == kind or f.replace("_", ".") != same}


def step_names(plan: Plan, node: str) -> list[str]:
    """The names `--fail NODE:STEP` lists for a node's steps (`cluster`: the cluster-wide ones), sorted."""
    cluster = plan.model.cluster
    real = cluster.node(node)
    if real is None and node.lower() not in ("cluster", cluster.name.lower()):
        return []
    owner = real.name if real is not None else None
    candidates = [(i, s) for i, s in enumerate(plan.steps) if s.node == owner]
    forms = {f for _, s in candidates for f in _shown_forms(s)}
    return sorted(f for f in forms if len(_matches(candidates, f)) == 1)  # only what --fail accepts


def _matches(candidates: list[tuple[int, Step]], wanted: str) -> list[tuple[int, Step]]:
    """The steps a name means; a name of several steps means the OS upgrade's (P2) one when there is one."""
    matches = [(i, s) for i, s in candidates if wanted in _verb_forms(s)]
    if len(matches) > 1:
        preferred = [(i, s) for i, s in matches if s.phase == "P2"]  # the OS upgrade is what a verb means first
        matches = preferred if len(preferred) == 1 else matches
    return matches


def resolve_step(plan: Plan, node: str, step: str, mode: str) -> int:
    """The index (plan order) of the step `node`:`step` names, or a FailureSpecError."""
    cluster = plan.model.cluster
    cluster_wide = node.lower() in ("cluster", cluster.name.lower())
    real = cluster.node(node)
    if real is None and not cluster_wide:
        names = [n.name for n in cluster.nodes]
        raise FailureSpecError(f"`{node}` is not a node of the cluster",
                               (did_you_mean(node, names + ["cluster"]),
                                "nodes: " + ", ".join(names) + "; `cluster` names a cluster-wide step"))
    owner = None if cluster_wide else real.name
    candidates = [(i, s) for i, s in enumerate(plan.steps) if s.node == owner]
    wanted = step.lower()
    matches = _matches(candidates, wanted)
    where = "cluster-wide" if cluster_wide else f"on {owner}"
    if not matches:
        forms = step_names(plan, node)
        raise FailureSpecError(f"no step `{step}` {where} in this plan",
                               (did_you_mean(step, forms), "steps here: " + ", ".join(forms[:24])
                                + (f" and {len(forms) - 24} more" if len(forms) > 24 else "")))
    if len(matches) > 1:
        raise FailureSpecError(f"`{step}` {where} names {len(matches)} steps",
                               ("name one: " + ", ".join(s.id for _, s in matches),))
    index, found = matches[0]
    effect = found.spec.effect
    if mode == "drain_failure" and effect != "drain":
        raise FailureSpecError(f"`drain_failure` needs a drain step; `{found.id}` does not drain",
                               ("write the node's drain step, for example `drain`",), code="HCI1006")
    if mode == "resync_stall" and effect != "repair_wait":
        raise FailureSpecError(f"`resync_stall` needs a storage repair wait; `{found.id}` is not one",
                               ("write the node's repair wait, for example `storage_wait`",), code="HCI1006")
    return index
