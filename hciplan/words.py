"""Number agreement for every text output: `1 run`, `2 runs`, `1,000 runs`, `1 VM`.

One helper, so no message can say "1 runs": a count and its noun are always
written through `counted`.
"""

from __future__ import annotations

IRREGULAR = {"VM": "VMs", "pass": "passes", "TODO": "TODOs", "recovery": "recoveries"}


def plural(noun: str, count: float) -> str:
    """`noun` as it agrees with `count` (1 takes the singular; 0, 2 and 1.5 the plural)."""
    if count == 1:
        return noun
    return IRREGULAR.get(noun) or (noun + "es" if noun.endswith(("s", "sh", "ch", "x")) else noun + "s")


def counted(count: float, noun: str, spec: str = "") -> str:
    """`count` formatted with `spec` (`,` for thousands, `.0f`, ...) followed by `noun` in agreement."""
    shown = format(count, spec)
    return f"{shown} {plural(noun, float(shown.replace(',', '')) if spec.endswith('f') else count)}"
