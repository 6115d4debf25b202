"""Compile a checked model into a Plan, prove it safe and check that it fits its windows."""

from __future__ import annotations

from hciplan.compiler.builder import build_plan
from hciplan.compiler.diagnostics import Collector, Diagnostic, Severity
from hciplan.compiler.mixed import check_mixed_mode
from hciplan.compiler.pipeline import CheckResult
from hciplan.compiler.plan import Plan
from hciplan.compiler.safety import prove
from hciplan.compiler.units import check_bounds
from hciplan.compiler.windows import check_windows
from hciplan.records import record


@record(slots=False)
class CompileResult:
    """The check result, the plan when one could be built, and all diagnostics (checks and proofs)."""

    check: CheckResult
    plan: Plan | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """True when the plan exists and nothing is an error: only then may it be emitted."""
        return self.plan is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


def compile_checked(check: CheckResult, *, need_plan: bool = False) -> CompileResult:
    """Build and prove the plan of a file whose checks passed; otherwise return the check's diagnostics.

    A file without an `upgrade` block is a valid description with nothing to plan; with `need_plan`
    (the commands that show or emit a plan) that is an error, HCI112.
    """
    if check.ok and check.model.upgrade is None and need_plan:
        missing = Collector()
        missing.report("HCI112", check.model.cluster.spans.header,
                       f"the file describes cluster `{check.model.cluster.name}` but no upgrade: nothing to plan",
                       hints=[f'add `upgrade "{check.model.cluster.name}" {{ to = "23H2" ... }}` '
                              "(see docs/language.md)"])
        return CompileResult(check, None, tuple(sorted(check.diagnostics + tuple(missing.items),
                                                       key=Diagnostic.sort_key)))
    if not check.ok or check.model.upgrade is None:
        return CompileResult(check, None, check.diagnostics)
    plan = build_plan(check.model)
    proofs = Collector()
    prove(plan, proofs)
    check_bounds(plan, proofs)
    check_windows(plan, proofs)
    check_mixed_mode(plan, proofs)
    diagnostics = tuple(sorted(check.diagnostics + tuple(proofs.items), key=Diagnostic.sort_key))
    return CompileResult(check, plan, diagnostics)
