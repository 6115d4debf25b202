"""Output backends: one module per output format, registered in `BACKENDS` below.

Every backend reads the same `Plan` and exposes:
- `NAME`;
- `render(plan, diagnostics) -> dict[str, str]`: file name -> file content.
A backend that cannot express a plan reports it with `BackendUnsupported`
(the CLI turns it into a clear error), never with a crash.
"""

from __future__ import annotations

from hciplan.backends import dot, json_plan, mermaid, powershell, report, runbook, summary
from hciplan.backends.errors import BackendUnsupported

__all__ = ["BACKENDS", "BackendUnsupported"]


BACKENDS = {module.NAME: module for module in (summary, json_plan, dot, mermaid, powershell, runbook, report)}
