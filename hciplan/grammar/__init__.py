"""The lark grammar of the hciplan language (package data) and its cached parser.

The LALR tables are built once per grammar and kept in the user cache folder
(hciplan/cache.py) as a `Lark.save` entry named by the hash of the grammar,
the options, lark's and Python's versions: a process loads them instead of
analysing the grammar. Not lark's own `cache=True`, which keeps the pickle in
the shared temporary folder under a name any local user can predict.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import sys

import lark
from lark import Lark

from hciplan import cache

GRAMMAR_FILE = "hciplan.lark"
OPTIONS = {"parser": "lalr", "lexer": "basic", "propagate_positions": True, "maybe_placeholders": False}


def grammar_text() -> str:
    """The grammar, read beside this file (importlib.resources, with zipfile, would add to every start-up);
    through importlib.resources only when the package is not a folder (a zip import)."""
    try:
        with open(os.path.join(os.path.dirname(__file__), GRAMMAR_FILE), encoding="utf-8") as file:
            return file.read()
    except OSError:
        from importlib import resources

        return resources.files(__package__).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


def cache_entry(text: str) -> str:
    """The cache entry's name: everything the built tables depend on is in its hash."""
    key = "\n".join([text, repr(sorted(OPTIONS.items())), lark.__version__, sys.version])
    return f"parser-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.lark"


@functools.cache
def get_parser() -> Lark:
    """The LALR parser, built once per process: loaded from the cache, else built and cached."""
    text = grammar_text()
    entry = cache_entry(text)
    data = cache.load(entry)
    if data is not None:
        try:
            return Lark.load(io.BytesIO(data))
        except Exception:  # noqa: BLE001 -- a damaged or foreign entry: build the parser as if there were none
            pass
    parser = Lark(text, **OPTIONS)
    saved = io.BytesIO()
    parser.save(saved)
    cache.store(entry, saved.getvalue())
    return parser
