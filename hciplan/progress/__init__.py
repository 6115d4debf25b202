"""`hciplan progress`: the night of the change, read from the script's journal and estimated from now.

Pipeline: the journal (`hciplan.journal.read_journal`) -> `state.night_state`
(each step's status, the facts and running steps, the current unit) ->
`posterior` (the night's speed from its measured steps) -> `estimate` (the rest
simulated from now, in parallel) -> `document.progress_document` (the
`hciplan.progress/1` document) -> `render` (text, and the `--watch` display).
docs/progress.md describes the command and every field.
"""

from __future__ import annotations

from hciplan.progress.document import SCHEMA, progress_document, render_json
from hciplan.progress.state import STATUSES, ProgressError, night_state

__all__ = ["SCHEMA", "STATUSES", "ProgressError", "night_state", "progress_document", "render_json"]
