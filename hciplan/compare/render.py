"""Text and JSON of `hciplan diff` and `hciplan compare`: the one place their records become words.

JSON is the documents as built (keys sorted, two-space indent, final newline, no NaN).
Text is for people: the diff grouped with `+`/`-`/`~` and the irreversible changes first;
the comparison as a table per variant, the paired differences with their intervals, and
the sensitivity ranking. Text from the inputs (names, ids, a JSON plan's strings) is shown
with control characters escaped, so a hostile name cannot move the terminal's cursor.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from hciplan.compiler import schema
from hciplan.compiler.quantities import format_minutes
from hciplan.percent import setting_text, share_text
from hciplan.compiler.storage import format_size

GROUP_TITLES = {"irreversible": "Irreversible", "steps": "Steps", "order": "Order", "margins": "Margins",
                "facts": "Facts", "timing": "Timing (assumptions; not in the fingerprint)", "plan": "Plan"}
SIGNS = {"added": "+", "removed": "-", "changed": "~"}
MARGIN_NAMES = {
    "memory_spare_bytes": "spare memory for the HA VMs, at its least (nodes drained or down)",
    "fault_tolerance_left": "fault domains still tolerated at the worst moment",
    "fault_domains_down": "most nodes down or resyncing at once",
    "fault_tolerance": "fault domains the weakest volume tolerates",
    "quorum_spare": "spare quorum votes, at their fewest",
    "quorum_votes": "quorum votes (nodes + witness)",
    "quorum_needed": "quorum votes needed",
    "pool_spare_bytes": "pool space beyond Infrastructure_1's need at the solution upgrade",
}
PLAN_NAMES = {"expected_minutes": "expected work (critical path of means)",
              "reboot_timeout_minutes": "reboot timeout"}
FIELD_NAMES = {"mean_minutes": "mean", "bound_minutes": "bound", "duration_model": "duration model"}


def dumps(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def clean(text: Any) -> str:
    """Text safe for a terminal: control and separator characters as \\uXXXX escapes."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                   for c in str(text))


def _attribute_types() -> dict[str, str]:
    """Attribute name -> schema type, for the names that have one type in every block (sizes, durations)."""
    types: dict[str, set[str]] = {}
    blocks = schema.ALL_BLOCKS + (schema.TIMING, schema.DURATION_MODEL, schema.FAILURE, schema.RISK)
    for block in blocks:
        for attr in block.attrs:
            types.setdefault(attr.name, set()).add(attr.type)
    return {name: kinds.pop() for name, kinds in types.items() if len(kinds) == 1}


_TYPES = _attribute_types()


def _fact(path: str, value: Any) -> str:
    """A fact's value as the file would say it: sizes and durations in their units, the rest as JSON."""
    name = path.rsplit(".", 1)[-1].split("[", 1)[0]
    kind = _TYPES.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        if kind == "size":
            return format_size(value) + ("/s" if name.endswith("_per_s") else "")
        if kind == "duration":
            return format_minutes(value / 60)
    if isinstance(value, list) and kind == "duration_list" and all(isinstance(v, (int, float)) for v in value):
        return "[" + ", ".join(format_minutes(v / 60) for v in value) + "]"
    if isinstance(value, dict):  # an item added or removed: its attributes as the file writes them
        shown = [f"{clean(k)} = {_fact(k, v)}" for k, v in sorted(value.items()) if v is not None and k != "name"]
        return "{ " + "  ".join(shown) + " }" if shown else "{ }"
    return clean(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _minutes(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_minutes(value)
    return clean(json.dumps(value))


def _pair(old: Any, new: Any, show) -> str:
    a, b = show(old), show(new)
    if a == b and isinstance(old, float) and isinstance(new, float):  # too close for whole minutes
        a, b = f"{old:.3f}m", f"{new:.3f}m"
    return f"{a} -> {b}"


def _field(name: str, change: dict) -> str:
    old, new = change["old"], change["new"]
    label = FIELD_NAMES.get(name, name)
    if name in ("mean_minutes", "bound_minutes"):
        return f"{label} {_pair(old, new, _minutes)}"
    if isinstance(old, list) or isinstance(new, list):
        gone = [x for x in (old or []) if x not in (new or [])]
        came = [x for x in (new or []) if x not in (old or [])]
        parts = [f"-{clean(x)}" for x in gone] + [f"+{clean(x)}" for x in came]
        return f"{label} " + (" ".join(parts) if parts else "reordered")
    show = lambda v: clean(json.dumps(v, ensure_ascii=False))  # noqa: E731
    return f"{label} {_pair(old, new, show)}"


def _margin(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if name.endswith("_bytes") and isinstance(value, int) and not isinstance(value, bool):
        return format_size(value)
    return clean(json.dumps(value))


def _step_line(change: dict) -> str:
    node = f" ({clean(change['node'])})" if change.get("node") else ""
    title = f": {clean(change['title'])}" if change.get("title") else ""
    mark = " [irreversible]" if change.get("irreversible") else ""
    return f"{clean(change['step'])}{node}{title}{mark}"


def change_line(change: dict) -> str:
    """One change as a line of text (without its sign)."""
    what = change.get("what")
    if "path" in change:
        if change["op"] == "added":
            return f"{clean(change['path'])}: {_fact(change['path'], change['new'])}"
        if change["op"] == "removed":
            return f"{clean(change['path'])}: {_fact(change['path'], change['old'])}"
        return f"{clean(change['path'])}: {_pair(change['old'], change['new'], lambda v: _fact(change['path'], v))}"
    if "step" in change and what is None:
        if change["op"] != "changed":
            return _step_line(change)
        fields = change["fields"]
        head = clean(change["step"])
        if "id" in fields:
            head = f"{clean(fields['id']['old'])} -> {head}"
        parts = [_field(name, c) for name, c in fields.items() if name != "id"]
        mark = " [irreversible]" if change.get("irreversible") else ""
        return head + (": " + "; ".join(parts) if parts else ": renamed") + mark
    if what == "point_of_no_return":
        return f"point of no return: {clean(change['old'] or 'none')} -> {clean(change['new'] or 'none')}"
    if what == "irreversible_moved":
        parts = []
        if change.get("now_after"):
            parts.append("now after " + ", ".join(clean(s) for s in change["now_after"]))
        if change.get("no_longer_after"):
            parts.append("no longer after " + ", ".join(clean(s) for s in change["no_longer_after"]))
        if "window" in change:
            parts.append(f"window {_window(change['window']['old'])} -> {_window(change['window']['new'])}")
        return f"{clean(change['step'])} moved: " + "; ".join(parts)
    if what == "node_order":
        return "node order: " + ", ".join(clean(n) for n in change["old"]) + " -> " + ", ".join(
            clean(n) for n in change["new"])
    if what == "unit_window":
        return (f"{clean(change['unit'])} starts in window {_window(change['old'])} -> "
                f"{_window(change['new'])} (expected schedule)")
    if change["group"] == "margins":
        return f"{MARGIN_NAMES.get(what, clean(what))}: {_margin(what, change['old'])} -> {_margin(what, change['new'])}"
    if change["group"] == "plan":
        return f"{PLAN_NAMES.get(what, clean(what))}: {_pair(change['old'], change['new'], _minutes)}"
    return clean(json.dumps(change, sort_keys=True))


def _window(name: Any) -> str:
    return clean(name) if name is not None else "(after the last window)"


def diff_text(document: dict) -> str:
    old, new = document["old"]["file"], document["new"]["file"]
    out = []
    if document["same"]:
        out.append(f"no changes: {clean(old)} and {clean(new)} plan the same upgrade")
    else:
        counts = document["counts"]
        total = len(document["changes"])
        out.append(f"{clean(old)} -> {clean(new)}: {total} change{'s' * (total != 1)} "
                   f"({counts['added']} added, {counts['removed']} removed, {counts['changed']} changed)")
        group = None
        for change in document["changes"]:
            if change["group"] != group:
                group = change["group"]
                out.append(GROUP_TITLES[group])
            out.append(f"  {SIGNS[change['op']]} {change_line(change)}")
    out.extend(f"note: {clean(n)}" for n in document.get("notes", []))
    return "\n".join(out) + "\n"


# --- compare ----------------------------------------------------------------------------------------


NO_RUN = "no run completed"  # what a duration percentile is when no run completed (said, not "n/a")
NO_WINDOW = "no window"  # what P(within window) is when the variant was simulated without windows


def _signed_minutes(value: float | None, missing: str = NO_RUN) -> str:
    if value is None:
        return missing
    shown = format_minutes(abs(value))
    return ("-" if value < 0 and shown != "0m" else "+") + shown  # a tiny negative rounds to +0m, not -0m


def _share(value: float | None) -> str:
    return share_text(value, missing=NO_WINDOW)


def _signed_points(value: float | None, missing: str = NO_WINDOW) -> str:
    """A difference of two shares in percentage points."""
    if value is None:
        return missing
    shown = f"{abs(value) * 100:.1f}"
    return ("-" if value < 0 and shown != "0.0" else "+") + shown + " pts"


def _interval(interval: list, show) -> str:
    low, high = interval
    if low is None or high is None:
        return "unbounded"
    return f"{show(low)}..{show(high)}"


def _difference(label: str, entry: dict, show) -> str:
    return (f"{label} {show(entry['estimate'])} ({_interval(entry['interval'], show)}; "
            f"independent runs: {_interval(entry['unpaired_interval'], show)})")


def _no_completed_run(variant: dict) -> str:
    """Why a variant has no P50 or P90: its runs' outcomes, and what to try."""
    outcomes = variant["outcomes"]
    total = sum(outcomes.values())
    parts = [f"{outcomes[key]} of {total} {label}" for key, label in (("stopped_at_window", "stopped at a window"),
                                                                     ("aborted", "aborted")) if outcomes[key]]
    hint = ("; try a longer --window, or --window none" if outcomes["stopped_at_window"]
            else "; see which step aborts with `hciplan simulate`")
    return (f"no run of {clean(variant['name'])} completed ({', '.join(parts)}): it has no P50 or "
            f"P90{hint}")


def _quantile_difference(label: str, entry: dict, missing: str | None) -> str:
    if missing is not None:
        return f"{label} cannot be compared: {missing}"
    return _difference(label, entry, _signed_minutes)


def compare_text(document: dict) -> str:
    runs, seed = document["runs"], document["seed"]
    count = len(document["variants"])
    out = [f"compare: {count} variant{'s' * (count != 1)}, {runs} runs each, seed {seed}, common random numbers "
           f"(keyed draws); intervals {setting_text(document['confidence'])}"
           + (f"; scenario {clean(document['scenario'])}" if document.get("scenario") else "")]
    rows = [("variant", "P50", "P90", "P(window)", "completed", "aborted", "stopped", "exposure")]
    for v in document["variants"]:
        outcomes = v["outcomes"]
        total = sum(outcomes.values()) or 1
        rows.append((clean(v["name"]), _minutes_or(v["p50"], "-"), _minutes_or(v["p90"], "-"),
                     _share(v["p_within_window"]),
                     share_text(outcomes['completed'] / total), share_text(outcomes['aborted'] / total),
                     share_text(outcomes['stopped_at_window'] / total), format_minutes(v["exposure_mean"])))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    for r in rows:
        out.append("  " + "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))))
    for v in document["variants"]:
        if v["p50"] is None:
            out.append(f"  note: {_no_completed_run(v)}")
    if document["differences"]:
        out.append("")
        out.append("Paired differences against the base (variant minus base; in brackets, the interval two "
                   "independent simulations would give)")
    by_name = {v["name"]: v for v in document["variants"]}
    for d in document["differences"]:
        out.append(f"  {clean(d['variant'])}:")
        none_done = [clean(name) for name in (d["against"], d["variant"]) if by_name[name]["p50"] is None]
        missing = (f"no run of {none_done[0]} completed" if len(none_done) == 1
                   else f"neither {none_done[0]} nor {none_done[1]} has a completed run" if none_done else None)
        out.append("    " + _quantile_difference("P90", d["p90"], missing))
        out.append("    " + _quantile_difference("P50", d["p50"], missing))
        if "p_within_window" in d:
            out.append("    " + _difference("P(within window)", d["p_within_window"], _signed_points))
        out.append("    " + _difference("completed", d["completed_share"], _signed_points))
        out.append("    " + _difference("mean exposure", d["exposure_mean"], _signed_minutes))
    sensitivity = document.get("sensitivity")
    if sensitivity:
        out.append("")
        out.append(f"Sensitivity of {clean(sensitivity['variant'])} ({sensitivity['runs']} runs per swing): each "
                   "duration model at its P10 and at its P90, everything else as drawn")
        out.append(f"  base P90 {_minutes_or(sensitivity['p90'], '-')}, P(within window) "
                   f"{_share(sensitivity['p_within_window'])}")
        rows = [("rank", "duration model", "steps", "P90 at P10 .. at P90", "P90 swing", "P(window) swing")]
        for k, m in enumerate(sensitivity["models"], 1):
            swing = (f"{_minutes_or(m['p90_low'])} .. {_minutes_or(m['p90_high'])}"
                     if m["p90_low"] is not None or m["p90_high"] is not None else NO_RUN)
            rows.append((str(k), clean(m["model"]), str(m["steps"]), swing,
                         _signed_minutes(m["p90_swing"], "-"), _signed_points(m["p_within_swing"])))
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        for r in rows:
            out.append("  " + "  ".join(c.ljust(w) if k in (1, 3) else c.rjust(w)
                                        for k, (c, w) in enumerate(zip(r, widths))))
        if not sensitivity["models"]:
            out.append("  no duration model of this plan has a spread")
        elif sensitivity["p90"] is None:
            out.append(f"  note: {NO_RUN} at the base, so the P90 swings are not measured and the models are "
                       "ranked by their P(within window) swing, then by name; try a longer --window, or --window none")
    return "\n".join(out) + "\n"


def _minutes_or(value: float | None, missing: str = NO_RUN) -> str:
    return missing if value is None else format_minutes(value)
