"""From a live cluster to a `.hciplan` file.

`Get-HciPlanInventory.ps1` (package data, written out by `hciplan discover`)
reads a cluster and writes a JSON inventory ("schema": "hciplan.inventory/1");
`hciplan.discovery.inventory` reads and validates that JSON;
`hciplan.discovery.importer` decides what the `.hciplan` file says and hands a
layout tree to `hciplan.fmt`, which prints it. docs/discovery.md documents the
inventory schema and the workflow.
"""

from __future__ import annotations

from importlib import resources

SCRIPT_NAME = "Get-HciPlanInventory.ps1"


def script_text() -> str:
    """The read-only discovery script, exactly as shipped."""
    return resources.files(__package__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")
