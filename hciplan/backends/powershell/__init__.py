"""The PowerShell backend: `Invoke-HciUpgrade.ps1`, a reviewable, resumable Windows PowerShell 5.1 upgrade script.

Where to look:
- `steps.py`: one emitter per step kind (`@emits("node.drain")`), and the CAU run and offline group emitters;
- `operator.py`: the runbook's texts per step kind (commands, verify, back out), beside the emitters;
- `lib/*.ps1`: the fixed helper functions (runner, journal, waits, node, storage, ...); `library.py` loads
  them and picks the ones a script calls;
- `units.py`: the runner entries (a step, or a group one function performs), in plan order;
- `script.py`: help, parameters, data region and run, put together by `render_script`;
- `hciplan.backends.azurelocal`: the Azure Local facts the script shares with the runbook.

A plan whose OS upgrade runs in Windows Admin Center (`method = wac`) is interactive: this backend refuses it
with `BackendUnsupported` and points to the runbook.
"""

from __future__ import annotations

from typing import Iterable

from hciplan.backends.errors import BackendUnsupported
from hciplan.backends.powershell.script import render_script, required_modules
from hciplan.backends.powershell.steps import CAU_SUBSTEP_EVIDENCE, Unsupported
from hciplan.backends.powershell.units import Entry, build_entries
from hciplan.compiler.diagnostics import Diagnostic
from hciplan.compiler.plan import Plan

NAME = "powershell"
FILE_NAME = "Invoke-HciUpgrade.ps1"

__all__ = ["CAU_SUBSTEP_EVIDENCE", "FILE_NAME", "NAME", "Entry", "Unsupported", "build_entries", "render",
           "render_script", "required_modules"]


def render(plan: Plan, diagnostics: Iterable[Diagnostic] = ()) -> dict[str, str]:
    try:
        return {FILE_NAME: render_script(plan)}
    except Unsupported as error:
        raise BackendUnsupported(str(error)) from None
