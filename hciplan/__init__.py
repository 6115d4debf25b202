"""hciplan: plan, check, simulate and script an Azure Stack HCI 22H2 -> 23H2 upgrade.

The public API follows the pipeline: `load_source` reads a file,
`check_source` parses and checks it, returning the typed model and the
diagnostics.
"""

from hciplan.compiler.pipeline import CheckResult, check_source, check_text, load_source

__version__ = "0.1.0"

__all__ = ["CheckResult", "check_source", "check_text", "load_source", "__version__"]
