"""PowerShell parse trees for tests, through tree-sitter-powershell.

Tests use this to check generated or shipped PowerShell without running it:

- `syntax_problems(text)` lists the ERROR and MISSING nodes of the parse tree,
  with 1-based line and column: an empty list means the script parses. The
  grammar follows Windows PowerShell 5.1 closely enough that PowerShell-7-only
  syntax (`??`, `?:`, `&&`) shows up here.
- `commands(text)` lists every command invocation, nested ones included (inside
  script blocks, pipelines, sub-expressions), with its name, the parameter names
  used and the text of each parameter's argument.
- `method_calls(text)` lists every .NET method call (`$list.Add(1)`,
  `(Get-VM).Stop()`, `[System.IO.File]::Delete($p)`), which `commands` cannot
  see: the receiver, whether it is static, and the method's name (or, for a
  computed name such as `$o.$name()`, its text, marked `dynamic`).
- `defined_functions(text)` names the functions the script defines.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser, Tree


@functools.cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_powershell.language()))


def parse(text: str) -> Tree:
    return _parser().parse(text.encode("utf-8"))


@dataclass(frozen=True)
class Problem:
    line: int
    column: int
    kind: str  # "ERROR" (text the grammar could not place) or "MISSING" (a token the parser had to invent)
    text: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.kind} near {self.text!r}"


@dataclass(frozen=True)
class Command:
    """One command invocation: `Get-VM -ComputerName $n` or `& $reader`."""

    name: str  # as written: `Get-VM`, or the invoked expression (`$reader`) when `dynamic`
    dynamic: bool  # invoked through `&` or `.` rather than by name
    parameters: tuple[str, ...]  # names without the dash or a trailing colon, in order
    arguments: tuple[tuple[str, str | None], ...]  # (parameter, text of its argument or None for a switch)
    line: int

    def argument(self, parameter: str) -> str | None:
        for name, value in self.arguments:
            if name.lower() == parameter.lower():
                return value
        return None


def _walk(node: Node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(node: Node) -> str:
    return node.text.decode("utf-8", errors="replace")


def syntax_problems(text: str) -> list[Problem]:
    problems = []
    for node in _walk(parse(text).root_node):
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            problems.append(Problem(row + 1, column + 1, "MISSING" if node.is_missing else "ERROR", _text(node)[:60]))
    return problems


def _command(node: Node) -> Command:
    name_node = next(c for c in node.children if c.type in ("command_name", "command_name_expr"))
    dynamic = any(c.type == "command_invokation_operator" for c in node.children)
    elements = next((c for c in node.children if c.type == "command_elements"), None)
    parameters: list[str] = []
    arguments: list[tuple[str, str | None]] = []
    if elements is not None:
        items = [c for c in elements.children if c.type != "command_argument_sep"]
        for index, item in enumerate(items):
            if item.type != "command_parameter":
                continue
            name = _text(item).lstrip("-").rstrip(":")
            following = items[index + 1] if index + 1 < len(items) else None
            value = _text(following) if following is not None and following.type != "command_parameter" else None
            parameters.append(name)
            arguments.append((name, value))
    return Command(_text(name_node), dynamic, tuple(parameters), tuple(arguments), node.start_point[0] + 1)


def commands(text: str) -> list[Command]:
    """Every command invocation in source order."""
    return [_command(node) for node in _walk(parse(text).root_node) if node.type == "command"]


def defined_functions(text: str) -> set[str]:
    names = set()
    for node in _walk(parse(text).root_node):
        if node.type == "function_statement":
            name = next((c for c in node.children if c.type == "function_name"), None)
            if name is not None:
                names.add(_text(name))
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
        name, dynamic = _text(name_node), False
    elif name_node.type == "string_literal" and name_node.children and \
            name_node.children[0].type == "verbatim_string_characters":
        name, dynamic = _text(name_node)[1:-1], False  # `$o.'Stop'()` is still Stop
    else:
        name, dynamic = _text(member), True
    static = _text(operator) == "::"
    shown = _text(receiver)
    if static and receiver.type == "type_literal":
        shown = shown.strip("[]").strip()
    return MethodCall(shown, static, name, dynamic, line)


def _last_member_access(node: Node) -> Node | None:
    """The member access a command argument ends with (`$o.Stop` in `Write-Host $o.Stop()`), if any."""
    while node is not None and node.type != "member_access":
        node = node.children[-1] if node.children else None
    return node


def method_calls(text: str) -> list[MethodCall]:
    """Every .NET method call in source order, in expressions and in command arguments."""
    calls = []
    for node in _walk(parse(text).root_node):
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
