"""The lark grammar of the hciplan language (package data) and its cached parser."""

from __future__ import annotations

import functools
from importlib import resources

from lark import Lark

GRAMMAR_FILE = "hciplan.lark"


def grammar_text() -> str:
    return resources.files(__package__).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


@functools.cache
def get_parser() -> Lark:
    """Build the LALR parser once per process (lark also caches the tables on disk)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )
