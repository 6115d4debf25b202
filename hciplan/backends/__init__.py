"""Output backends: one module per output format, registered in `BACKENDS` below.

Every backend reads the same `Plan` and exposes:
- `NAME`;
- `render(plan, diagnostics) -> dict[str, str]`: file name -> file content.
A backend that cannot express a plan reports it with `BackendUnsupported`
(the CLI turns it into a clear error), never with a crash.

The registry names each backend's module rather than importing it: a module
is imported when its backend is first looked up, so `hciplan --help` (which
lists the names) and `check` do not pay for Jinja2, simpy or the plots that
only the report and the script backends use.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

from hciplan.backends.errors import BackendUnsupported

__all__ = ["BACKENDS", "BackendUnsupported"]

# Backend NAME -> its module; each module's NAME equals its key (tests/test_startup.py holds it).
MODULES = {
    "summary": "hciplan.backends.summary",
    "json": "hciplan.backends.json_plan",
    "dot": "hciplan.backends.dot",
    "mermaid": "hciplan.backends.mermaid",
    "powershell": "hciplan.backends.powershell",
    "runbook": "hciplan.backends.runbook",
    "report": "hciplan.backends.report",
}


class Registry(Mapping[str, ModuleType]):
    """A read-only mapping of backend name -> module that imports each module on first lookup."""

    def __init__(self, modules: dict[str, str]) -> None:
        self._modules = modules

    def __getitem__(self, name: str) -> ModuleType:
        return importlib.import_module(self._modules[name])  # KeyError for an unknown name, as a dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


BACKENDS: Mapping[str, ModuleType] = Registry(MODULES)
