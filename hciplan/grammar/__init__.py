"""The lark grammar of the hciplan language (package data) and its parser.

Every command parses with `standalone.py`: lark's stand-alone LALR parser,
generated from `hciplan.lark` by `python -m hciplan.grammar.build`, with the
tables written in as Python literals. A process builds no tables and imports
no part of lark (its grammar compiler, `logging` of its own, interegular...),
only the run-time classes below, which have lark's behaviour because they are
lark's code (`tests/test_grammar.py` compares the two on every example and the
fuzz corpus). lark itself builds the file and is the reference in the tests.
"""

from __future__ import annotations

import functools
import os

from hciplan.grammar import standalone
from hciplan.grammar.standalone import (
    Token,
    Transformer_NonRecursive,
    Tree,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    v_args,
)

GRAMMAR_FILE = "hciplan.lark"

# Not lark's `Lark` class: the stand-alone module only loads its tables (building, saving and loading a
# parser are lark's, which a process never imports); get_parser() is the way in.
__all__ = ["GRAMMAR_FILE", "Token", "Transformer_NonRecursive", "Tree", "UnexpectedCharacters",
           "UnexpectedInput", "UnexpectedToken", "get_parser", "grammar_text", "v_args"]


def grammar_text() -> str:
    """The grammar's source, read beside this file (through importlib.resources for a zip import)."""
    try:
        with open(os.path.join(os.path.dirname(__file__), GRAMMAR_FILE), encoding="utf-8") as file:
            return file.read()
    except OSError:
        from importlib import resources

        return resources.files(__package__).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


@functools.cache
def get_parser() -> standalone.Lark:
    """The LALR parser, built once per process from the tables in `standalone.py`."""
    return standalone.Lark_StandAlone()
