"""Compile a checked model into a Plan and prove it safe."""

from __future__ import annotations

from dataclasses import dataclass

from hciplan.compiler.builder import build_plan
from hciplan.compiler.diagnostics import Collector, Diagnostic, Severity
from hciplan.compiler.pipeline import CheckResult
from hciplan.compiler.plan import Plan
from hciplan.compiler.safety import prove


@dataclass(frozen=True)
class CompileResult:
    """The check result, the plan when one could be built, and all diagnostics (checks and proofs)."""

    check: CheckResult
    plan: Plan | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """True when the plan exists and nothing is an error: only then may it be emitted."""
        return self.plan is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


def compile_checked(check: CheckResult) -> CompileResult:
    """Build and prove the plan of a file whose checks passed; otherwise return the check's diagnostics."""
    if not check.ok or check.model.upgrade is None:
        return CompileResult(check, None, check.diagnostics)
    plan = build_plan(check.model)
    proofs = Collector()
    prove(plan, proofs)
    diagnostics = tuple(sorted(check.diagnostics + tuple(proofs.items), key=Diagnostic.sort_key))
    return CompileResult(check, plan, diagnostics)
