"""Test helper, the one for every PowerShell test: parse trees through tree-sitter-powershell.

Tests use it to check generated or shipped PowerShell without running it.
tree-sitter-powershell rejects PowerShell 7-only syntax (`??`, `?:`, `&&`), so a
script without ERROR or MISSING nodes also keeps to Windows PowerShell 5.1.

- `errors(tree)` / `syntax_problems(text)`: the ERROR and MISSING nodes, with
  their line (and column): an empty list means the code parses;
- `commands(tree or text)`: every command invocation, nested ones included
  (inside script blocks, pipelines, sub-expressions), with its name (or, for
  `& $x`, the invoked expression, marked `dynamic`), the parameter names, the
  text of each parameter's argument and the variables it splats;
- `method_calls(text)`: every .NET method call (`$list.Add(1)`,
  `[System.IO.File]::Delete($p)`), which `commands` cannot see;
- function definitions, splat keys, assigned expressions and string literals,
  and `evaluate_literal`, which decodes single-quoted literals with
  PowerShell's own rules (tree-sitter does not model the typographic quotes).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import tree_sitter
import tree_sitter_powershell
from tree_sitter import Node

BOM = "\ufeff"


@functools.lru_cache(maxsize=1)
def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def parse(text: str) -> tree_sitter.Tree:
    """Parse a script (a leading byte-order mark is the file's encoding marker, not code)."""
    return parser().parse(text.removeprefix(BOM).encode("utf-8"))


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


def errors(tree: tree_sitter.Tree) -> list[str]:
    """Every ERROR or MISSING node, with its line, for an assertion message."""
    found = []
    for node in walk(tree.root_node):
        if node.type == "ERROR" or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {node.type} {node.text.decode('utf-8', 'replace')[:80]!r}")
    return found


def text(node) -> str:
    return node.text.decode("utf-8")


@dataclass(frozen=True)
class Command:
    """One command invocation: `Get-VM -ComputerName $n` or `& $reader`."""

    name: str  # as written: `Get-VM`, or the invoked expression (`$reader`) when `dynamic`
    dynamic: bool  # invoked through `&` or `.` rather than by name
    parameters: tuple[str, ...]  # names without the dash or a `:value` suffix, in order
    arguments: tuple[tuple[str, str | None], ...]  # (parameter, text of its argument or None for a switch)
    splats: tuple[str, ...]  # variables splatted with @name
    line: int
    node: object

    def argument(self, parameter: str) -> str | None:
        for name, value in self.arguments:
            if name.lower() == parameter.lower():
                return value
        return None


def _tree(source):
    """A parse tree (or anything with a root_node) from a tree, a node holder or source text."""
    return parse(source) if isinstance(source, str) else source


def commands(source) -> list[Command]:
    """Every command invocation in source order; `source` is a parse tree or PowerShell text."""
    found = []
    for node in walk(_tree(source).root_node):
        if node.type != "command":
            continue
        name_node = node.child_by_field_name("command_name") or next(
            c for c in node.children if c.type in ("command_name", "command_name_expr"))
        dynamic = any(c.type == "command_invokation_operator" for c in node.children)
        params, arguments, splats = [], [], []
        elements = node.child_by_field_name("command_elements")
        if elements is not None:
            items = [c for c in elements.children if c.type != "command_argument_sep"]
            for index, element in enumerate(items):
                if element.type == "command_parameter":
                    name = text(element).lstrip("-").rstrip(":").split(":")[0]
                    following = items[index + 1] if index + 1 < len(items) else None
                    value = text(following) if following is not None and following.type != "command_parameter" else None
                    params.append(name)
                    arguments.append((name, value))
                for inner in _own(element):
                    if inner.type == "variable" and text(inner).startswith("@"):
                        splats.append(text(inner)[1:])
        found.append(Command(text(name_node), dynamic, tuple(params), tuple(arguments), tuple(splats),
                             node.start_point[0] + 1, node))
    return found


def _own(node):
    """The node and its descendants, not entering nested commands or script blocks (they are checked on their own)."""
    yield node
    for child in node.children:
        if child.type in ("command", "script_block", "script_block_expression", "pipeline"):
            continue
        yield from _own(child)


def function_names(tree: tree_sitter.Tree) -> set[str]:
    return {text(n.child_by_field_name("function_name") or n.children[1]).lower()
            for n in walk(tree.root_node) if n.type == "function_statement"}


def function_node(tree: tree_sitter.Tree, name: str):
    for node in walk(tree.root_node):
        if node.type == "function_statement":
            for child in node.children:
                if child.type == "function_name" and text(child).lower() == name.lower():
                    return node
    return None


def splat_keys(tree: tree_sitter.Tree) -> dict[str, set[str]]:
    """Keys ever given to each variable: `$x = @{ Key = ... }` and `$x.Key = ...` assignments."""
    keys: dict[str, set[str]] = {}
    for node in walk(tree.root_node):
        if node.type != "assignment_expression":
            continue
        left = text(node.children[0]).strip()
        right = node.children[-1]
        plain = re.fullmatch(r"\$(?:script:)?(\w+)", left)
        member = re.fullmatch(r"\$(?:script:)?(\w+)\.(\w+)", left)
        if plain:
            entry = keys.setdefault(plain.group(1), set())
            for inner in walk(right):
                if inner.type == "hash_literal_expression":
                    for entry_node in walk(inner):
                        if entry_node.type == "hash_entry":
                            entry.add(text(entry_node.children[0]).strip())
                    break
        elif member:
            keys.setdefault(member.group(1), set()).add(member.group(2))
    return keys


def assigned_expressions(tree: tree_sitter.Tree, name: str) -> list[str]:
    """Source text of every value given to `name`: `$name = <expr>` statements and `name = <expr>` hash entries."""
    found = []
    for node in walk(tree.root_node):
        if node.type == "assignment_expression" and text(node.children[0]).strip() in (name, "$" + name.lstrip("$")):
            found.append(text(node.children[-1]).strip())
        elif node.type == "hash_entry" and text(node.children[0]).strip() == name:
            found += [text(c).strip() for c in node.children if c.type == "pipeline"]
    return found


def string_literals(tree: tree_sitter.Tree) -> list:
    return [n for n in walk(tree.root_node) if n.type == "string_literal"]


def inside(node, types: set[str]) -> bool:
    while node is not None:
        if node.type in types:
            return True
        node = node.parent
    return False


# --- PowerShell's single-quoted strings ---------------------------------------------------------

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def read_single_quoted(source: str, start: int) -> tuple[str, int]:
    """Decode the single-quoted literal at `source[start]` as PowerShell does; returns (value, end index)."""
    assert source[start] in SINGLE_QUOTES, source[start:start + 10]
    value, i = [], start + 1
    while True:
        if i >= len(source):
            raise ValueError("unterminated single-quoted string")
        char = source[i]
        if char in SINGLE_QUOTES:
            if i + 1 < len(source) and source[i + 1] in SINGLE_QUOTES:
                value.append(source[i + 1])
                i += 2
                continue
            return "".join(value), i + 1
        value.append(char)
        i += 1


def evaluate_literal(expression: str) -> str:
    """Evaluate what `pstext.literal` emits: 'a' or ('a' + [char]0x000A + 'b'), with PowerShell's quote rules."""
    source = expression.strip()
    if source.startswith("(") and source.endswith(")"):
        source = source[1:-1]
    out, i = [], 0
    while i < len(source):
        if source[i] in SINGLE_QUOTES:
            value, i = read_single_quoted(source, i)
            out.append(value)
        elif source.startswith("[char]0x", i):
            out.append(chr(int(source[i + 8:i + 12], 16)))
            i += 12
        elif source.startswith(" + ", i):
            i += 3
        else:
            raise ValueError(f"unexpected {source[i:i + 10]!r} in a literal expression")
    return "".join(out)


@dataclass(frozen=True)
class _Subtree:
    root_node: object


def commands_under(node) -> list[Command]:
    """The commands inside one node of a parse tree (a function, a block), nested ones included."""
    return commands(_Subtree(node))


# --- syntax problems, defined functions and .NET method calls, from source text -------------------


@dataclass(frozen=True)
class Problem:
    line: int
    column: int
    kind: str  # "ERROR" (text the grammar could not place) or "MISSING" (a token the parser had to invent)
    text: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.kind} near {self.text!r}"


def syntax_problems(source: str) -> list[Problem]:
    """The ERROR and MISSING nodes of `source`'s parse tree, with 1-based line and column."""
    problems = []
    for node in walk(parse(source).root_node):
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            problems.append(Problem(row + 1, column + 1, "MISSING" if node.is_missing else "ERROR",
                                    node.text.decode("utf-8", "replace")[:60]))
    return problems


def defined_functions(source: str) -> set[str]:
    """The names of the functions `source` defines, as written."""
    names = set()
    for node in walk(parse(source).root_node):
        if node.type == "function_statement":
            name = next((c for c in node.children if c.type == "function_name"), None)
            if name is not None:
                names.add(text(name))
    return names


@dataclass(frozen=True)
class MethodCall:
    """One .NET method call: `$problems.Add(...)` or `[System.IO.File]::Delete(...)`."""

    receiver: str  # the object expression (`$problems`, `(Get-VM)`) or, when static, the type (`System.IO.File`)
    static: bool  # `[Type]::Method(...)`
    name: str  # the method's name; for a computed one, the expression as written
    dynamic: bool  # the name is computed (`$o.$name()`, `$o."$name"()`): no allow-list can judge it
    line: int


def _member_call(access: Node, line: int) -> MethodCall:
    """The call of the member named by `access`: (receiver, `.` or `::`, member_name) children."""
    receiver, operator, member = access.children[0], access.children[1], access.children[2]
    name_node = member.children[0] if member.children else member
    if name_node.type == "simple_name":
        name, dynamic = text(name_node), False
    elif name_node.type == "string_literal" and name_node.children and \
            name_node.children[0].type == "verbatim_string_characters":
        name, dynamic = text(name_node)[1:-1], False  # `$o.'Stop'()` is still Stop
    else:
        name, dynamic = text(member), True
    static = text(operator) == "::"
    shown = text(receiver)
    if static and receiver.type == "type_literal":
        shown = shown.strip("[]").strip()
    return MethodCall(shown, static, name, dynamic, line)


def _last_member_access(node: Node) -> Node | None:
    """The member access a command argument ends with (`$o.Stop` in `Write-Host $o.Stop()`), if any."""
    while node is not None and node.type != "member_access":
        node = node.children[-1] if node.children else None
    return node


def method_calls(source: str) -> list[MethodCall]:
    """Every .NET method call in source order, in expressions and in command arguments."""
    calls = []
    for node in walk(parse(source).root_node):
        if node.type == "invokation_expression":
            calls.append(_member_call(node, node.start_point[0] + 1))
        elif node.type == "argument_list" and node.parent is not None and node.parent.type == "command_elements":
            # In a command's arguments the grammar splits `$o.Stop()` into a member access and a
            # following argument list; PowerShell calls the method all the same.
            previous = node.prev_sibling
            access = _last_member_access(previous) if previous is not None else None
            if access is not None:
                calls.append(_member_call(access, access.start_point[0] + 1))
    return calls
