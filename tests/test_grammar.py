"""The stand-alone parser (hciplan/grammar/standalone.py) is the grammar's, and parses as lark's own parser does.

Every command parses with the generated module, never with lark (bench/bench_startup.py: lark's import was
a third of `check`'s start-up); lark builds the module and is the reference here. Compared on every
example, every file of the fuzz corpus and generated documents: the trees (rule names, tokens with their
types, values and positions, every node's span), the errors (class, position, token, expected set), the
lexer's token stream with ignored tokens kept (`hciplan fmt` reads it), and the terminals the compiler
reads patterns from.
"""

from __future__ import annotations

import importlib.util

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark
from lark import Token as LarkToken

from hciplan import grammar
from hciplan.grammar import build

from fuzz.harness import CORPUS, edited_example, schema_document
from helpers import ALL_EXAMPLES

SOURCES = [*ALL_EXAMPLES, *sorted(p for p in CORPUS.rglob("*.hciplan") if p.stat().st_size < 100_000)]


@pytest.fixture(scope="module")
def reference() -> Lark:
    """lark's own parser, built from the grammar with the options the stand-alone one was generated with."""
    return Lark(grammar.grammar_text(), **build.OPTIONS)


def shape(node) -> tuple:
    """A tree as plain data: what a consumer of either parser can observe (not the classes)."""
    if isinstance(node, str):  # a Token (both parsers' Token derive from str)
        return ("token", node.type, str(node), node.start_pos, node.end_pos, node.line, node.column,
                node.end_line, node.end_column)
    meta = node.meta
    span = (None if getattr(meta, "empty", True) else
            (meta.start_pos, meta.end_pos, meta.line, meta.column, meta.end_line, meta.end_column))
    return ("tree", str(node.data), span, tuple(shape(child) for child in node.children))


def outcome(parser, text: str) -> tuple:
    try:
        return ("parsed", shape(parser.parse(text)))
    except Exception as error:  # noqa: BLE001 -- both parsers must fail alike
        token = getattr(error, "token", None)
        return ("error", type(error).__name__, getattr(error, "line", None), getattr(error, "column", None),
                getattr(error, "pos_in_stream", None), None if token is None else shape(token),
                sorted(getattr(error, "expected", None) or ()), sorted(getattr(error, "allowed", None) or ()))


def tokens(parser, text: str) -> tuple:
    try:
        return ("lexed", tuple(shape(t) for t in parser.lex(text, dont_ignore=True)))
    except Exception as error:  # noqa: BLE001
        return ("error", type(error).__name__, getattr(error, "line", None), getattr(error, "column", None))


def test_the_module_is_the_grammars() -> None:
    """Editing hciplan.lark without `python -m hciplan.grammar.build` leaves a stale parser: caught here."""
    assert build.is_current(), "run `python -m hciplan.grammar.build`"
    assert build.main(["--check"]) == 0


def test_a_stale_module_is_reported(tmp_path, monkeypatch, capsys) -> None:
    grammar_copy = tmp_path / "hciplan.lark"
    grammar_copy.write_text(grammar.grammar_text() + "\n// an edit\n", encoding="utf-8")
    monkeypatch.setattr(build, "GRAMMAR", grammar_copy)
    assert not build.is_current() and build.main(["--check"]) == 1
    assert "is stale" in capsys.readouterr().err


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_it_parses_and_lexes_every_file_as_lark_does(reference, path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    assert outcome(grammar.get_parser(), text) == outcome(reference, text)
    assert tokens(grammar.get_parser(), text) == tokens(reference, text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(schema_document(), edited_example()), st.data())
def test_it_parses_generated_documents_as_lark_does(reference, text, data) -> None:
    # also cut short at any character: the errors of an unfinished file must agree too
    cut = data.draw(st.integers(0, len(text)))
    for candidate in (text, text[:cut]):
        assert outcome(grammar.get_parser(), candidate) == outcome(reference, candidate)


def test_the_terminals_are_larks(reference) -> None:
    """The compiler reads the QUANTITY pattern from the parser (compiler/quantities.py)."""
    mine = {t.name: (t.pattern.to_regexp(), t.priority) for t in grammar.get_parser().terminals}
    assert mine == {t.name: (t.pattern.to_regexp(), t.priority) for t in reference.terminals}


def test_the_tokens_are_the_modules_own_classes() -> None:
    """What the compiler imports from hciplan.grammar is the stand-alone module's, never lark's."""
    token = next(iter(grammar.get_parser().lex("cluster")))
    assert isinstance(token, grammar.Token) and not isinstance(token, LarkToken)


def test_the_build_regenerates_a_working_parser(tmp_path, reference) -> None:
    """The installed lark can rebuild the module, its cuts included (a new lark whose code moved stops the
    build, with the pattern that no longer matches), and the rebuilt parser agrees with lark."""
    path = tmp_path / "rebuilt.py"
    path.write_text(build.generate(grammar.grammar_text()), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("rebuilt_parser", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = module.Lark_StandAlone()
    assert "import logging" not in path.read_text(encoding="utf-8")
    for source in ALL_EXAMPLES:
        text = source.read_text(encoding="utf-8")
        assert outcome(rebuilt, text) == outcome(reference, text), source.name


def test_a_cut_that_no_longer_matches_stops_the_build() -> None:
    with pytest.raises(SystemExit, match="matched 0 times"):
        build.cut("lark's code, changed\n")
