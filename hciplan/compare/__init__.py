"""Comparing plans: the semantic diff for the change board (`hciplan diff`) and the paired what-if
for the planner (`hciplan compare`, `hciplan simulate --vary`).

- `diff`: two plans (a `.hciplan` file or a `hciplan.plan/1` document) -> the `hciplan.diff/1` changes.
- `variants`: `--vary ATTR=VALUE` applied to the typed model and checked as the checker would.
- `paired`: variants simulated with common random numbers; paired differences and their intervals.
- `sensitivity`: each duration model swung between its P10 and P90, ranked by what it moves.
- `render`: the text and JSON of both commands; `tornado`: the sensitivity chart (plot extra).

docs/compare.md documents both commands and their JSON.
"""
