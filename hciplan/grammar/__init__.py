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

from hciplan.grammar import standalone
from hciplan.grammar.standalone import (
    Token,
    Transformer_NonRecursive,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    v_args,
)

# Not lark's `Lark` class: the stand-alone module only loads its tables (building, saving and loading a
# parser are lark's, which a process never imports); get_parser() is the way in. The grammar's source is
# read by the build alone (hciplan/grammar/build.py).
__all__ = ["Token", "Transformer_NonRecursive", "UnexpectedCharacters", "UnexpectedInput", "UnexpectedToken",
           "get_parser", "v_args"]


@functools.cache
def get_parser() -> standalone.Lark:
    """The LALR parser, built once per process from the tables in `standalone.py`."""
    return standalone.Lark_StandAlone()
