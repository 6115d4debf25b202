"""Test helper: parse PowerShell with tree-sitter-powershell and walk what matters to the backend tests.

tree-sitter-powershell rejects PowerShell 7-only syntax, so a script without
ERROR or MISSING nodes also keeps to Windows PowerShell 5.1. The helpers here
list commands with their parameters, splatted variables, function
definitions and string literals, and decode single-quoted literals with
PowerShell's own rules (which tree-sitter does not model for the typographic
quote characters).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import tree_sitter
import tree_sitter_powershell

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
    name: str | None  # None for `& $scriptblock`
    parameters: tuple[str, ...]
    splats: tuple[str, ...]
    line: int
    node: object


def commands(tree: tree_sitter.Tree) -> list[Command]:
    found = []
    for node in walk(tree.root_node):
        if node.type != "command":
            continue
        name_node = node.child_by_field_name("command_name")
        name = text(name_node) if name_node is not None else None
        params, splats = [], []
        elements = node.child_by_field_name("command_elements")
        if elements is not None:
            for element in elements.children:
                if element.type == "command_parameter":
                    params.append(text(element).lstrip("-").rstrip(":").split(":")[0])
                for inner in _own(element):
                    if inner.type == "variable" and text(inner).startswith("@"):
                        splats.append(text(inner)[1:])
        found.append(Command(name, tuple(params), tuple(splats), node.start_point[0] + 1, node))
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
