"""The call-site scan (issue 16): in the text backends, every value put into output text goes through an
escaper of `hciplan.backends.escape` (`ESCAPERS`), or is on a short allow-list of values that cannot carry
user text.

The scan reads each backend's source with `ast` and finds every place that builds text from values:
f-strings, `str.format`, `%` and `+` with a string literal. Each interpolated value must be *safe*: a
literal, a call of an escaper or of an allow-listed formatter (numbers, times, sizes), a name or attribute
on the allow-list below (each with why it cannot hold user text), text built only from safe values, or a
local variable every assignment of which is safe. A new f-string that interpolates a raw name fails here
(test_the_scan_finds_a_raw_name_in_an_f_string shows it on a snippet).

Scope: summary, runbook, dot and mermaid build text by hand. The PowerShell backend is held to the same rule
by its parse tree (tests/test_hostile_outputs.py: user text only inside string literals), the report by
Jinja2's autoescape (check_html there), the JSON backend by `json.dumps`.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from hciplan.backends import dot, mermaid, runbook, summary
from hciplan.backends.escape import ESCAPERS

SCANNED = (summary, runbook, dot, mermaid)

ESCAPER_NAMES = frozenset(f.__name__ for functions in ESCAPERS.values() for f in functions)

# Calls whose result cannot carry user text, or is escaped inside: why, for each.
SAFE_CALLS = {
    "format_minutes": "a duration, from a number",
    "format_time": "a datetime, as the language writes it",
    "format_size": "a size, from a number",
    "len": "a number",
    "verify_for": "operator.verify_for: fixed operator text of the step kind, no user value",
    "backout_for": "operator.backout_for: fixed operator text of the step kind, no user value",
    "counted": "words.counted: a number and the literal noun every call site writes",
    "share_text": "percent.share_text: a probability, from a number",
    "setting_text": "percent.setting_text: a probability the user set, from a number",
}

# Names and attributes (as written) that cannot carry user text: why, for each.
SAFE_VALUES = {
    "plan.fingerprint": "a SHA-256 hex digest",
    "__version__": "hciplan's version",
    "TARGET_BUILD": "a constant",
    "d.code": "a registered HCIxxx code",
    "d.span.line": "a number", "d.span.column": "a number",
    "phase": "a phase id of the catalog (P0..P6)",
    "PHASES[phase]": "the catalog's phase title",
    "step.phase": "a phase id of the catalog",
    "step.group": "a pass name of the catalog (drain, cau_run, ...)",
    "first.group": "a pass name of the catalog",
    "upgrade.method": "an enum keyword checked by the grammar (cau, manual, ...)",
    "cluster.vm_count": "a number",
    "simulation.seed": "a number",
    "width": "a number (the longest window name's length)", "used": "a number",
    "p.runs": "a number of runs (SimResult checks it is a whole number)",
    "c.interrupted": "a number of runs (SimResult checks it is a whole number)",
}


def _is_str_constant(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


# Calls that only pass text on (a copy, a list, a style): safe when what they are given is safe.
PASSING_CALLS = frozenset({"list", "tuple", "sorted", "reversed", "fromkeys", "style", "strip", "rstrip", "lstrip"})


def _chain(node) -> list:
    """The operands of a chain of `+`."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _chain(node.left) + _chain(node.right)
    return [node]


class _Scan:
    """Finds the unsafe interpolations of one module's source.

    A local name is safe when every value it is given in its function is safe: assignments, and for a list,
    what `append`, `extend` and `insert` add. A parameter is safe when every call of its function in the
    module passes a safe value (`heading` in runbook: each caller escapes it)."""

    def __init__(self, source: str, safe_values=SAFE_VALUES, safe_calls=SAFE_CALLS):
        self.tree = ast.parse(source)
        self.safe_values, self.safe_calls = safe_values, safe_calls
        self.assigned: dict[tuple[int, str], list[tuple[ast.AST, int]]] = {}  # (function, name) -> values
        self.function_of: dict[int, int] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        for function in ast.walk(self.tree):
            if isinstance(function, ast.FunctionDef):
                self.functions[function.name] = function
            if isinstance(function, (ast.FunctionDef, ast.Lambda)):
                for node in ast.walk(function):
                    if node is not function:
                        self.function_of[id(node)] = id(function)  # the innermost function: walked last
        for node in ast.walk(self.tree):
            where = self.function_of.get(id(node), 0)
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self._give(where, target.id, node.value)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name) and node.value:
                self._give(where, node.target.id, node.value)
            elif isinstance(node, ast.comprehension) and isinstance(node.target, ast.Name):
                self._give(where, node.target.id, node.iter)  # `for line in out`: as safe as `out`
            elif isinstance(node, (ast.comprehension, ast.For)) and isinstance(node.target, ast.Tuple) and \
                    isinstance(node.iter, ast.Call) and getattr(node.iter.func, "id", None) == "enumerate" and \
                    isinstance(node.target.elts[0], ast.Name):
                self._give(where, node.target.elts[0].id, ast.Constant(0))  # `for i, x in enumerate(...)`: a number
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                self._give(where, node.target.id, node.iter)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name) and node.func.attr in ("append", "extend", "insert")
                  and node.args):
                self._give(where, node.func.value.id, node.args[-1])

    def _give(self, function: int, name: str, value) -> None:
        self.assigned.setdefault((function, name), []).append((value, function))

    def _parameter_safe(self, function: int, name: str, seen) -> bool | None:
        """Whether every call in the module passes a safe value for parameter `name`, or None if not a parameter."""
        definition = next((f for f in self.functions.values() if id(f) == function), None)
        if definition is None:
            return None
        params = [a.arg for a in definition.args.args]
        if name not in params:
            return None
        index, calls = params.index(name), []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == definition.name:
                given = [k.value for k in node.keywords if k.arg == name] or node.args[index:index + 1]
                calls += [(value, self.function_of.get(id(node), 0)) for value in given]
        return bool(calls) and all(self.safe(value, where, seen) for value, where in calls)

    def safe(self, node, function: int, seen=frozenset()) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.FormattedValue):
            return self.safe(node.value, function, seen)
        if isinstance(node, ast.JoinedStr):
            return all(self.safe(v, function, seen) for v in node.values)
        if isinstance(node, ast.IfExp):
            return self.safe(node.body, function, seen) and self.safe(node.orelse, function, seen)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mult) and (_is_str_constant(node.left) or _is_str_constant(node.right)):
                return True  # a literal repeated ('s' * (n != 1))
            return self.safe(node.left, function, seen) and self.safe(node.right, function, seen)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return all(self.safe(e, function, seen) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(self.safe(v, function, seen) for v in node.values)
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
            return self.safe(node.elt, function, seen)
        if isinstance(node, ast.DictComp):
            return self.safe(node.value, function, seen)
        if ast.unparse(node) in self.safe_values:
            return True
        if isinstance(node, ast.Subscript):  # an item of safe text (a dict of our words, a tuple of literals)
            return self.safe(node.value, function, seen)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in ESCAPER_NAMES or name in self.safe_calls:
                return True
            if isinstance(func, ast.Name) and name in self.functions:  # this module's function: what it returns
                definition, key = self.functions[name], ("returns", name)
                if key in seen:
                    return True  # recursion: decided by its other returns
                returns = [r.value for r in ast.walk(definition) if isinstance(r, ast.Return) and r.value is not None]
                return bool(returns) and all(self.safe(r, id(definition), seen | {key}) for r in returns)
            if name == "join" or name in PASSING_CALLS:
                receiver = [func.value] if isinstance(func, ast.Attribute) and name not in ("fromkeys", "style") else []
                return all(self.safe(a, function, seen) for a in [*receiver, *node.args])
            return False
        if isinstance(node, ast.Name):
            key = (function, node.id)
            if key in seen:
                return True  # a cycle (`out += ...out...`): decided by the other values
            values = self.assigned.get(key) or self.assigned.get((0, node.id))
            if values:
                return all(self.safe(v, where, seen | {key}) for v, where in values)
            parameter = self._parameter_safe(function, node.id, seen | {key})
            return bool(parameter)
        return False

    def problems(self) -> list[str]:
        found = []

        def check(node, where):
            function = self.function_of.get(id(where), 0)
            if not self.safe(node, function):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")

        escaped = set()  # text built inside an escaper's argument is escaped as a whole (dot_id("a " + name))
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in ESCAPER_NAMES:
                escaped.update(id(inner) for arg in node.args for inner in ast.walk(arg))
        for node in ast.walk(self.tree):
            if id(node) in escaped:
                continue
            if isinstance(node, ast.JoinedStr):
                for value in node.values:
                    if isinstance(value, ast.FormattedValue):
                        check(value.value, node)
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                operands = _chain(node)  # a + b + c: text if any operand is a string literal or an f-string
                if any(_is_str_constant(n) or isinstance(n, ast.JoinedStr) for n in operands):
                    for operand in operands:  # an f-string or a `"..." % x` is checked on its own
                        if not isinstance(operand, (ast.JoinedStr, ast.Constant)) and not (
                                isinstance(operand, ast.BinOp) and isinstance(operand.op, ast.Mod)
                                and _is_str_constant(operand.left)):
                            check(operand, node)
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_str_constant(node.left):
                check(node.right, node)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
                  and _is_str_constant(node.func.value)):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    check(arg, node)
        return sorted(set(found))


@pytest.mark.parametrize("module", SCANNED, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_value_in_output_text_passes_through_an_escaper(module):
    source = Path(inspect.getsourcefile(module)).read_text(encoding="utf-8")
    problems = _Scan(source).problems()
    assert problems == [], f"{module.__name__}: values built into output text without an escaper:\n" + "\n".join(problems)


def test_the_scan_finds_a_raw_name_in_an_f_string():
    snippet = '''
def render(plan):
    name = plan.model.cluster.name
    shown = plain(name)
    line = f"cluster {shown}, {len(plan.steps)} steps"
    return line + f" ({name})" + "; volume " + plan.model.cluster.volumes[0].name + "%s" % name
'''
    problems = _Scan(snippet).problems()
    assert problems == ["line 6: name", "line 6: plan.model.cluster.volumes[0].name"], problems
    # and the same module with the raw values escaped is clean
    fixed = snippet.replace('f" ({name})"', 'f" ({plain(name)})"').replace(
        "plan.model.cluster.volumes[0].name +", "plain(plan.model.cluster.volumes[0].name) +").replace(
        '"%s" % name', '"%s" % md_text(name)')
    assert _Scan(fixed).problems() == [], _Scan(fixed).problems()


def test_the_scan_follows_assignments_and_refuses_a_local_with_one_raw_assignment():
    snippet = '''
def render(value, flag):
    text = md_text(value)
    if flag:
        text = value
    return "{}".format(text)
'''
    assert _Scan(snippet).problems() == ["line 6: text"]


def test_the_allow_lists_hold_no_user_text_field():
    # the model's user-text attributes (names, paths, titles) may never be allow-listed
    user_text = ("name", "title", "media_path", "orchestrator", "message", "version", "to", "key_vault", "adou_path")
    for value in SAFE_VALUES:
        assert value.rsplit(".", 1)[-1] not in user_text, value


def _debug(module, name):  # pragma: no cover - a helper for reading a failure: which value of `name` is unsafe
    scan = _Scan(Path(inspect.getsourcefile(module)).read_text(encoding="utf-8"))
    return [(v.lineno if hasattr(v, "lineno") else 0, ast.unparse(v)) for (f, n), vs in scan.assigned.items()
            if n == name for v, where in vs if not scan.safe(v, where)]


def test_every_allow_listed_value_and_call_is_needed():
    """The allow-lists stay short: an entry the scanned code no longer needs is removed."""
    sources = [Path(inspect.getsourcefile(m)).read_text(encoding="utf-8") for m in SCANNED]
    for table, keyword in ((SAFE_VALUES, "safe_values"), (SAFE_CALLS, "safe_calls")):
        for entry in table:
            reduced = {k: v for k, v in table.items() if k != entry}
            assert any(_Scan(src, **{keyword: reduced}).problems() for src in sources), f"{entry} is not needed"
