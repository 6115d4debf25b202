"""hciplan: plan, check, simulate and script an Azure Stack HCI 22H2 -> 23H2 upgrade.

The public API follows the pipeline: `load_source` reads a file,
`check_source` parses and checks it, returning the typed model and the
diagnostics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hciplan.compiler.pipeline import CheckResult, check_source, check_text, load_source


def __getattr__(name: str):
    """The pipeline's names, imported on first use (PEP 562): `hciplan --help` never loads the compiler."""
    if name in ("CheckResult", "check_source", "check_text", "load_source"):
        from hciplan.compiler import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'hciplan' has no attribute {name!r}")

__all__ = ["CheckResult", "check_source", "check_text", "load_source", "__version__"]
