"""The semantic diff of two plans (`hciplan diff OLD NEW`): what changed, in the plan's own terms.

Both sides become a `hciplan.plan/1` document (a `.hciplan` file is compiled; a JSON
plan is read and checked for the fields the diff needs), so one comparison serves
both. The diff is noise-free by construction: steps are matched by id (ids are
stable: they come from phases, passes and node names, never from file layout), then
the ones left over by kind, node and target; facts are compared by name, not by
position, so a renamed file or reordered blocks give no change. Changes are records
(`hciplan.diff/1`, docs/compare.md), grouped with the irreversible ones first;
render.py prints them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hciplan.backends import json_plan
from hciplan.compiler.compile import CompileResult, compile_checked
from hciplan.compiler.pipeline import check_bytes
from hciplan.files import TooLarge, read_at_most, windows_encoding
from hciplan.simulator.result import finite_json_float, no_json_constant

SCHEMA = "hciplan.diff/1"
MAX_PLAN_BYTES = 64 * 1024 * 1024  # a 16-node plan's JSON is well under 1 MiB
GROUPS = ("irreversible", "steps", "order", "margins", "facts", "timing", "plan")
# The step fields compared (the plan's own words; `after` is left to the order records, `unit` follows the ids).
STEP_FIELDS = ("title", "kind", "phase", "node", "target", "group", "cmdlets", "drains", "reboots", "irreversible",
               "downtime", "storage_offline", "gate", "interactive", "duration_model", "mean_minutes",
               "bound_minutes")
MARGINS = ("memory_spare_bytes", "fault_tolerance_left", "fault_domains_down", "quorum_spare", "quorum_votes",
           "quorum_needed", "pool_spare_bytes", "fault_tolerance")
PLAN_FIGURES = ("expected_minutes", "reboot_timeout_minutes")


class PlanInputError(Exception):
    """A side that is not a plan: unreadable, not JSON, not `hciplan.plan/1`, or a file with errors."""

    def __init__(self, message: str, result: CompileResult | None = None):
        super().__init__(message)
        self.message = message
        self.result = result  # a .hciplan file with errors: its diagnostics, for the renderer


@dataclass(frozen=True)
class Side:
    label: str  # the path as given
    document: dict


def load_side(path: str) -> Side:
    """A plan document from a `.hciplan` file or a `hciplan.plan/1` JSON file (sniffed by content)."""
    try:
        data = read_at_most(path, MAX_PLAN_BYTES)
    except TooLarge:
        raise PlanInputError(f"{path} is larger than {MAX_PLAN_BYTES // 1024**2} MiB: not a plan") from None
    except OSError as error:
        raise PlanInputError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        text = data.decode(windows_encoding(data))
    except UnicodeDecodeError:
        text = None
    if text is not None and text.lstrip().startswith("{"):
        return Side(path, _plan_json(path, text))
    result = compile_checked(check_bytes(path, data), need_plan=True)
    if not result.ok:
        raise PlanInputError(f"{path} has errors: no plan to compare; fix them (`hciplan check {path}`)", result)
    return Side(path, json.loads(json_plan.dumps(json_plan.plan_document(result.plan, result.diagnostics))))


def _plan_json(path: str, text: str) -> dict:
    try:
        document = json.loads(text, parse_constant=no_json_constant, parse_float=finite_json_float)
    except ValueError as error:
        raise PlanInputError(f"{path} is not valid JSON: {error}") from None
    except RecursionError:  # json's C decoder recurses per nesting level: 100,000 `[` exhaust the stack
        raise PlanInputError(f"{path} is not a plan document: the JSON is nested too deeply") from None
    if not isinstance(document, dict) or document.get("schema") != json_plan.SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else None
        raise PlanInputError(f"{path}: expected a plan document (\"schema\": \"{json_plan.SCHEMA}\", from "
                             f"`hciplan plan --format json`), found {json.dumps(found)[:60]}")
    if "steps" not in document:
        raise PlanInputError(f"{path}: the plan document has no steps (it was written for a file with errors)")
    problem = _shape_problem(document)
    if problem:
        raise PlanInputError(f"{path}: {problem}")
    return document


def _shape_problem(document: dict) -> str | None:
    """The first field the diff needs that is missing or of the wrong type, as `path: what is wrong`."""
    steps = document.get("steps")
    if not isinstance(steps, list):
        return "`steps` must be a list"
    seen = set()
    for k, step in enumerate(steps):
        if not isinstance(step, dict):
            return f"`steps[{k}]` must be an object"
        for key in ("id", "kind"):
            if not isinstance(step.get(key), str):
                return f"`steps[{k}].{key}` must be a string"
        if step["id"] in seen:
            return f"`steps[{k}].id` {step['id']!r} appears twice"
        seen.add(step["id"])
        after = step.get("after", [])
        if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
            return f"`steps[{k}].after` must be a list of step ids"
        if step.get("node") is not None and not isinstance(step.get("node"), str):
            return f"`steps[{k}].node` must be a string or null"
    for key in ("node_order",):
        value = document.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"`{key}` must be a list of strings"
    units = document.get("units", [])
    if not isinstance(units, list) or not all(isinstance(u, dict) and isinstance(u.get("id"), str)
                                              and isinstance(u.get("steps", []), list) for u in units):
        return "`units` must be a list of objects with an `id` and `steps`"
    for k, unit in enumerate(units):
        if not all(isinstance(step, str) for step in unit.get("steps", [])):
            return f"`units[{k}].steps` must be a list of step ids"
        if unit.get("window") is not None and not isinstance(unit["window"], str):
            return f"`units[{k}].window` must be a window name or null"
    for key in ("margins", "facts", "timing"):
        if key in document and document[key] is not None and not isinstance(document[key], dict):
            return f"`{key}` must be an object"
    return None


# --- the comparison ---------------------------------------------------------------------------------


def match_steps(old: list[dict], new: list[dict]) -> dict[str, str]:
    """old id -> new id: the same id, else the same (kind, node, target) in plan order."""
    new_ids = {s["id"] for s in new}
    matched = {s["id"]: s["id"] for s in old if s["id"] in new_ids}
    spare_new: dict[tuple, list[str]] = {}
    for s in new:
        if s["id"] not in matched:
            spare_new.setdefault(_identity(s), []).append(s["id"])
    for s in old:
        if s["id"] in matched:
            continue
        left = spare_new.get(_identity(s))
        if left:
            matched[s["id"]] = left.pop(0)
    return matched


def _identity(step: dict) -> tuple:
    return step["kind"], step.get("node"), step.get("target")


def _graph(steps: list[dict]) -> dict[str, tuple[str, ...]]:
    """Each step's predecessors among the document's steps (a walk needs no graph library: `diff` starts fast)."""
    ids = {s["id"] for s in steps}
    return {s["id"]: tuple(p for p in s.get("after", []) if p in ids) for s in steps}


def _ancestors(graph: dict[str, tuple[str, ...]], step: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(step, ()))
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(graph.get(x, ()))
    return seen


def _unit_windows(document: dict) -> dict[str, Any]:
    """step id -> the window its unit starts in, when the document says (older documents may not)."""
    placed = {}
    for unit in document.get("units", []):
        if "window" in unit:
            for step in unit.get("steps", []):
                placed[step] = unit["window"]
    return placed


def diff_documents(old: Side, new: Side) -> dict:
    """The `hciplan.diff/1` document of OLD -> NEW."""
    a, b = old.document, new.document
    old_steps, new_steps = a["steps"], b["steps"]
    old_by = {s["id"]: s for s in old_steps}
    matched = match_steps(old_steps, new_steps)
    reverse = {v: k for k, v in matched.items()}
    changes: list[dict] = []

    removed = [s for s in old_steps if s["id"] not in matched]
    added = [s for s in new_steps if s["id"] not in reverse]
    for s in removed:
        changes.append(_step_record("removed", s))
    for s in added:
        changes.append(_step_record("added", s))
    for s in new_steps:
        if s["id"] not in reverse:
            continue
        before = old_by[reverse[s["id"]]]
        fields = {f: {"old": before.get(f), "new": s.get(f)} for f in STEP_FIELDS if before.get(f) != s.get(f)}
        if before["id"] != s["id"]:
            fields = {"id": {"old": before["id"], "new": s["id"]}, **fields}
        if fields:
            record = _step_record("changed", s, fields)
            record["irreversible"] = bool(before.get("irreversible") or s.get("irreversible"))
            record["group"] = "irreversible" if record["irreversible"] else "steps"
            changes.append(record)

    changes.extend(_irreversible_moves(a, b, matched, reverse))
    changes.extend(_order_changes(a, b, matched))
    changes.extend(_value_changes("margins", a.get("margins"), b.get("margins"), MARGINS))
    notes = []
    if isinstance(a.get("facts"), dict) and isinstance(b.get("facts"), dict):
        facts: list[dict] = []
        _diff_facts(a["facts"], b["facts"], "", facts)
        changes.extend(facts)
    elif a.get("fingerprint") != b.get("fingerprint"):
        missing = [side.label for side in (old, new) if not isinstance(side.document.get("facts"), dict)]
        notes.append(f"the fingerprints differ, but {' and '.join(missing)} carries no `facts` "
                     "(a plan document from before hciplan diff): the facts were not compared")
    if "timing" in a and "timing" in b:  # the assumptions behind the means (older documents lack them)
        timing: list[dict] = []
        _diff_facts({"timing": a["timing"]}, {"timing": b["timing"]}, "", timing)
        changes.extend(dict(c, group="timing") for c in timing)
    changes.extend(_value_changes("plan", a, b, PLAN_FIGURES))

    changes.sort(key=lambda c: GROUPS.index(c["group"]))  # stable: each group keeps its own order
    counts = {op: sum(1 for c in changes if c["op"] == op) for op in ("added", "removed", "changed")}
    return {
        "schema": SCHEMA,
        "old": _header(old),
        "new": _header(new),
        "same": not changes,
        "counts": counts,
        "changes": changes,
        "notes": notes,
    }


def _header(side: Side) -> dict:
    d = side.document
    return {"file": side.label, "fingerprint": d.get("fingerprint"), "cluster": d.get("cluster"),
            "method": d.get("method"), "steps": len(d["steps"])}


def _step_record(op: str, step: dict, fields: dict | None = None) -> dict:
    irreversible = bool(step.get("irreversible"))
    record = {"group": "irreversible" if irreversible else "steps", "op": op, "step": step["id"],
              "kind": step["kind"], "node": step.get("node"), "title": step.get("title"),
              "irreversible": irreversible}
    if fields is not None:
        record["fields"] = fields
    return record


def _irreversible_moves(a: dict, b: dict, matched: dict[str, str], reverse: dict[str, str]) -> list[dict]:
    """The point of no return, and irreversible steps now after other steps, or in another window."""
    out = []
    first_old = next((s["id"] for s in a["steps"] if s.get("irreversible")), None)
    first_new = next((s["id"] for s in b["steps"] if s.get("irreversible")), None)
    if (matched.get(first_old) if first_old else None) != first_new:
        out.append({"group": "irreversible", "op": "changed", "what": "point_of_no_return",
                    "old": first_old, "new": first_new})
    old_graph, new_graph = _graph(a["steps"]), _graph(b["steps"])
    old_windows, new_windows = _unit_windows(a), _unit_windows(b)
    common = set(reverse)
    for s in b["steps"]:
        if not s.get("irreversible") or s["id"] not in reverse:
            continue
        before = reverse[s["id"]]
        was = {matched[x] for x in _ancestors(old_graph, before) if x in matched}
        now = {x for x in _ancestors(new_graph, s["id"]) if x in common}
        record = {"group": "irreversible", "op": "changed", "what": "irreversible_moved", "step": s["id"]}
        order = {x["id"]: k for k, x in enumerate(b["steps"])}
        if was != now:
            record["now_after"] = sorted(now - was, key=order.__getitem__)
            record["no_longer_after"] = sorted(was - now, key=order.__getitem__)
        if before in old_windows and s["id"] in new_windows and old_windows[before] != new_windows[s["id"]]:
            record["window"] = {"old": old_windows[before], "new": new_windows[s["id"]]}
        if len(record) > 4:  # something beyond group, op, what and step: it moved
            out.append(record)
    return out


def _order_changes(a: dict, b: dict, matched: dict[str, str]) -> list[dict]:
    out = []
    if a.get("node_order", []) != b.get("node_order", []):
        out.append({"group": "order", "op": "changed", "what": "node_order",
                    "old": a.get("node_order", []), "new": b.get("node_order", [])})
    old_units = {u["steps"][0]: u for u in a.get("units", []) if u.get("steps")}
    new_by_step = {step: u for u in b.get("units", []) for step in u.get("steps", [])}
    for head, unit in old_units.items():
        other = new_by_step.get(matched.get(head))
        if other is None or "window" not in unit or "window" not in other:
            continue
        if unit["window"] != other["window"]:
            out.append({"group": "order", "op": "changed", "what": "unit_window", "unit": other["id"],
                        "old": unit["window"], "new": other["window"]})
    return out


def _value_changes(group: str, a: dict | None, b: dict | None, keys: tuple[str, ...]) -> list[dict]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    return [{"group": group, "op": "changed", "what": k, "old": a.get(k), "new": b.get(k)}
            for k in keys if k in a and k in b and a[k] != b[k]]


def _item_key(item: Any) -> str | None:
    """What names an item of a list of facts: its name (nodes, volumes, windows, models), kind (risks), node:step."""
    if not isinstance(item, dict):
        return None
    for key in ("name", "kind"):
        if isinstance(item.get(key), str):
            return item[key]
    if isinstance(item.get("node"), str) and isinstance(item.get("step"), str):
        return f"{item['node']}:{item['step']}"
    return None


def _named(items: list) -> dict[str, Any] | None:
    keys = [_item_key(i) for i in items]
    if not items or None in keys or len(set(keys)) != len(keys):
        return None
    return dict(zip(keys, items))


def _diff_facts(old: Any, new: Any, path: str, out: list[dict]) -> None:
    """Fact changes by path (`upgrade.method`, `cluster.nodes[HCI05]`); named lists compare by name, not position."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            where = f"{path}.{key}" if path else key
            if key not in old:
                out.append({"group": "facts", "op": "added", "path": where, "new": new[key]})
            elif key not in new:
                out.append({"group": "facts", "op": "removed", "path": where, "old": old[key]})
            else:
                _diff_facts(old[key], new[key], where, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        a, b = _named(old), _named(new)
        if a is not None and b is not None or (a is not None and not new) or (b is not None and not old):
            a, b = a or {}, b or {}
            for key in list(a) + [k for k in b if k not in a]:
                where = f"{path}[{key}]"
                if key not in b:
                    out.append({"group": "facts", "op": "removed", "path": where, "old": a[key]})
                elif key not in a:
                    out.append({"group": "facts", "op": "added", "path": where, "new": b[key]})
                else:
                    _diff_facts(a[key], b[key], where, out)
            return
    if old is None and new is not None:  # a block written only on one side (`timing`, `solution`)
        out.append({"group": "facts", "op": "added", "path": path, "new": new})
    elif new is None and old is not None:
        out.append({"group": "facts", "op": "removed", "path": path, "old": old})
    elif old != new:
        out.append({"group": "facts", "op": "changed", "path": path, "old": old, "new": new})
