"""Variants of a plan: other files, or `--vary ATTR=VALUE` overrides applied to one file's typed model.

An override names an attribute of a singleton block (`upgrade.method`, `cluster.witness`,
`pool.reserve`, `timing.run_spread`) or `window` (one window of that length from the
planned start, or `none`, as `simulate --window`). Its value is written as in a file
and converted by the lowering's own converter, so it is checked as the checker would
check the file: a wrong type, an unknown value or an out-of-range number is a
`VaryError` with the checker's message and hints. The changed model then runs the
whole checking pipeline again (lowering's cross-checks, the semantic checks, the plan
and its proofs); a variant with errors is refused with the diagnostics, at the spans of
the file the variant came from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hciplan.compiler import lower, schema, syntax
from hciplan.compiler.checks import run_checks
from hciplan.compiler.compile import CompileResult, compile_checked
from hciplan.compiler.diagnostics import Collector, Diagnostic, Severity, did_you_mean
from hciplan.compiler.model import DEFAULT_TIMING, Model, Spans
from hciplan.compiler.pipeline import CheckResult
from hciplan.compiler.source import Source

# The singleton blocks an override may name, with the model's path to them.
BLOCKS = {"cluster": schema.CLUSTER, "upgrade": schema.UPGRADE, "pool": schema.POOL, "aks": schema.AKS,
          "arc_vms": schema.ARC_VMS, "solution": schema.SOLUTION, "timing": schema.TIMING}
SPECIAL = ("window",)


class VaryError(Exception):
    """An override that cannot apply: its message says what is wrong and how to write it.

    Without `result`, the `--vary` itself is wrong (a usage error, exit code 2); with it, the variant
    does not check (exit code 1, as a file with errors).
    """

    def __init__(self, message: str, result: CompileResult | None = None):
        super().__init__(message)
        self.message = message
        self.result = result  # a variant that does not check: its diagnostics
        self.usage = result is None


@dataclass(frozen=True)
class Override:
    text: str  # as given: "upgrade.method=manual"
    block: str | None  # None for `window`
    name: str
    value: object


def attribute_paths() -> list[str]:
    return [f"{block}.{a.name}" for block, spec in BLOCKS.items() for a in spec.attrs] + list(SPECIAL)


def parse_override(text: str) -> Override:
    """`ATTR=VALUE` as an Override; a VaryError says what is wrong."""
    attr_path, equals, value_text = text.partition("=")
    attr_path, value_text = attr_path.strip(), value_text.strip()
    if not equals or not attr_path or not value_text:
        raise VaryError(f"`--vary {text}`: write ATTR=VALUE, e.g. `--vary upgrade.method=manual` or "
                        "`--vary window=10h`")
    if attr_path == "window":
        from hciplan.simulator import parse_window  # noqa: PLC0415 (the simulator's own rule for --window)

        try:
            return Override(text, None, "window", parse_window(value_text, f"--vary {text}"))
        except ValueError as error:
            raise VaryError(str(error)) from None
    block, _, name = attr_path.partition(".")
    spec = BLOCKS.get(block)
    attr = spec.attr(name) if spec else None
    if attr is None:
        hint = did_you_mean(attr_path, attribute_paths())
        raise VaryError(f"`--vary {text}`: `{attr_path}` is not an attribute hciplan can vary"
                        + (f"; {hint}" if hint else "")
                        + "; write BLOCK.ATTRIBUTE with BLOCK one of " + ", ".join(BLOCKS) + ", or `window`")
    return Override(text, block, name, _convert(text, attr, value_text))


def _convert(text: str, attr: schema.Attr, value_text: str):
    """The value as the file's converter reads it, with the converter's own diagnostic on a mistake."""
    problems = Collector()
    document = syntax.parse(Source(f"--vary {attr.name}", f"{attr.name} = {value_text}\n"), problems)
    items = document.body if document is not None else ()
    if problems.has_errors or len(items) != 1 or not isinstance(items[0], syntax.Attribute):
        first = problems.sorted()[0] if problems.items else None
        reason = f": {first.message}" if first else ""
        raise VaryError(f"`--vary {text}`: `{value_text}` is not a value{reason}; write it as in a file "
                        f"({schema.TYPE_NAMES[attr.type]})")
    try:
        return lower._convert(items[0].value, attr, problems)
    except lower._Invalid:
        first = problems.sorted()[0]
        hints = "".join(f"; {h}" for h in first.hints if h)
        raise VaryError(f"`--vary {text}`: {first.message}{hints}") from None


def apply(model: Model, overrides: list[Override]) -> Model:
    """The model with the block overrides applied (`window` is the simulation's, not the model's)."""
    for o in overrides:
        if o.block is None:
            continue
        if o.block == "timing":
            timing = model.timing or dataclasses.replace(DEFAULT_TIMING, spans=Spans(model.cluster.spans.header))
            model = dataclasses.replace(model, timing=dataclasses.replace(timing, **{o.name: o.value}))
        elif o.block == "cluster":
            model = dataclasses.replace(model, cluster=dataclasses.replace(model.cluster, **{o.name: o.value}))
        elif o.block in ("upgrade", "solution"):
            if model.upgrade is None or (o.block == "solution" and model.upgrade.solution is None):
                raise VaryError(f"`--vary {o.text}`: the file has no `{o.block}` block to vary")
            upgrade = model.upgrade
            if o.block == "solution":
                upgrade = dataclasses.replace(upgrade, solution=dataclasses.replace(upgrade.solution,
                                                                                    **{o.name: o.value}))
            else:
                upgrade = dataclasses.replace(upgrade, **{o.name: o.value})
            model = dataclasses.replace(model, upgrade=upgrade)
        else:  # pool, aks, arc_vms: children of the cluster
            child = getattr(model.cluster, o.block)
            if child is None:
                raise VaryError(f"`--vary {o.text}`: the cluster has no `{o.block}` block to vary")
            model = dataclasses.replace(model, cluster=dataclasses.replace(
                model.cluster, **{o.block: dataclasses.replace(child, **{o.name: o.value})}))
    return model


def vary(check: CheckResult, overrides: list[Override]) -> CompileResult:
    """The checked, compiled variant; a VaryError (with the diagnostics) when it has errors."""
    model = apply(check.model, overrides)
    problems = Collector()
    lower._check_simulation_inputs(model.cluster, model.timing, model.scenarios, problems)
    if not problems.has_errors:
        run_checks(model, problems)
    base = {_key(d) for d in check.diagnostics}
    fresh = tuple(d for d in problems.sorted() if _key(d) not in base or d.severity is Severity.ERROR)
    result = compile_checked(CheckResult(check.source, model, fresh), need_plan=True)
    if not result.ok:
        shown = " ".join(o.text for o in overrides)
        raise VaryError(f"the variant `{shown}` has errors: it is not a plan hciplan would run (the lines shown "
                        "are the base file's, where the variant's values replace the written ones)", result)
    return result


def _key(d: Diagnostic) -> tuple:
    return d.code, d.message
