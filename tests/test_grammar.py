"""The stand-alone parser (hciplan/grammar/standalone.py) is the grammar's, and parses as lark's own parser does.

Every command parses with the generated module, never with lark (bench/bench_startup.py: lark's import was
a third of `check`'s start-up); lark builds the module and is the reference here. Compared on every
example, every file of the fuzz corpus and generated documents: the trees (rule names, tokens with their
types, values and positions, every node's span), the errors (class, position, token, expected set), the
lexer's token stream with ignored tokens kept (`hciplan fmt` reads it), and the terminals the compiler
reads patterns from.
"""

from __future__ import annotations

from pathlib import Path

import lark
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark
from lark import Token as LarkToken

from hciplan import grammar
from hciplan.grammar import build, standalone

from fuzz.harness import CORPUS, edited_example, schema_document
from helpers import ALL_EXAMPLES

SOURCES = [*ALL_EXAMPLES, *sorted(p for p in CORPUS.rglob("*.hciplan") if p.stat().st_size < 100_000)]


@pytest.fixture(scope="module")
def reference() -> Lark:
    """lark's own parser, built from the grammar with the options the stand-alone one was generated with."""
    return Lark(build.grammar_text(), **build.OPTIONS)


def shape(node) -> tuple:
    """A tree as plain data: what a consumer of either parser can observe (not the classes)."""
    if isinstance(node, str):  # a Token (both parsers' Token derive from str)
        return ("token", node.type, str(node), node.start_pos, node.end_pos, node.line, node.column,
                node.end_line, node.end_column)
    meta = node.meta
    span = (None if getattr(meta, "empty", True) else
            (meta.start_pos, meta.end_pos, meta.line, meta.column, meta.end_line, meta.end_column))
    return ("tree", str(node.data), span, tuple(shape(child) for child in node.children))


def failure(error: Exception) -> tuple:
    """What hciplan reads of a parse or lex error (compiler/syntax.py), as plain data."""
    token = getattr(error, "token", None)
    return ("error", type(error).__name__, getattr(error, "line", None), getattr(error, "column", None),
            getattr(error, "pos_in_stream", None), None if token is None else shape(token),
            sorted(getattr(error, "expected", None) or ()), sorted(getattr(error, "allowed", None) or ()))


def outcome(parser, text: str) -> tuple:
    """The parse, and what error recovery asks (compiler/syntax.py: `_between_statements`): the terminals
    the parser accepts once the whole text is fed to it."""
    try:
        parsed = ("parsed", shape(parser.parse(text)))
    except Exception as error:  # noqa: BLE001 -- both parsers must fail alike
        parsed = failure(error)
    try:
        interactive = parser.parse_interactive(text)
        interactive.exhaust_lexer()
        accepted = ("accepts", sorted(interactive.accepts()))
    except Exception as error:  # noqa: BLE001
        accepted = failure(error)
    return parsed, accepted


def tokens(parser, text: str) -> tuple:
    """The token stream with ignored tokens kept (`hciplan fmt`) and without (the error recovery's)."""
    streams = []
    for keep in (True, False):
        try:
            streams.append(("lexed", tuple(shape(t) for t in parser.lex(text, dont_ignore=keep))))
        except Exception as error:  # noqa: BLE001
            streams.append(failure(error))
    return tuple(streams)


def test_the_module_is_the_grammars() -> None:
    """Editing hciplan.lark without `python -m hciplan.grammar.build` leaves a stale parser: caught here."""
    assert build.is_current(), "run `python -m hciplan.grammar.build`"
    assert build.main(["--check"]) == 0


def test_a_stale_module_is_reported(tmp_path, monkeypatch, capsys) -> None:
    grammar_copy = tmp_path / "hciplan.lark"
    grammar_copy.write_text(build.grammar_text() + "\n// an edit\n", encoding="utf-8")
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
        assert tokens(grammar.get_parser(), candidate) == tokens(reference, candidate)


def test_the_terminals_are_larks(reference) -> None:
    """The compiler reads the QUANTITY pattern from the parser (compiler/quantities.py)."""
    mine = {t.name: (t.pattern.to_regexp(), t.priority) for t in grammar.get_parser().terminals}
    assert mine == {t.name: (t.pattern.to_regexp(), t.priority) for t in reference.terminals}


def test_the_tokens_are_the_modules_own_classes() -> None:
    """What the compiler imports from hciplan.grammar is the stand-alone module's, never lark's."""
    token = next(iter(grammar.get_parser().lex("cluster")))
    assert isinstance(token, grammar.Token) and not isinstance(token, LarkToken)


@pytest.mark.skipif(lark.__version__ != standalone.__version__,
                    reason=f"standalone.py is lark {standalone.__version__}'s, the installed lark {lark.__version__}: "
                           "its template may differ (regenerate standalone.py with it, then this runs)")
def test_the_build_regenerates_a_working_parser(tmp_path, reference) -> None:
    """The installed lark rebuilds the module, its cuts included (a new lark whose code moved stops the build,
    with the pattern that no longer matches), the build checks what it wrote, and the parser agrees with lark."""
    path = tmp_path / "rebuilt.py"
    assert build.main(["--output", str(path)]) == 0 and build.is_current(path)
    assert "import logging" not in path.read_text(encoding="utf-8")
    rebuilt = build.load(path).Lark_StandAlone()
    for source in ALL_EXAMPLES:
        text = source.read_text(encoding="utf-8")
        assert outcome(rebuilt, text) == outcome(reference, text), source.name


def test_a_parser_that_does_not_work_is_not_written(tmp_path, monkeypatch) -> None:
    """As lark 1.2's template does (it leaves `suppress` undefined): the build stops and writes nothing."""
    path = tmp_path / "standalone.py"
    path.write_text("previous\n", encoding="utf-8")
    monkeypatch.setattr(build, "generate", lambda text: "def Lark_StandAlone():\n    return suppress\n")
    with pytest.raises(SystemExit, match="does not work .NameError"):
        build.main(["--output", str(path)])
    assert path.read_text(encoding="utf-8") == "previous\n" and sorted(tmp_path.iterdir()) == [path]


def test_an_installed_package_is_not_rewritten(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(build, "HERE", tmp_path / "site-packages" / "hciplan" / "grammar")
    assert build.main([]) == 2 and "not a source checkout" in capsys.readouterr().err


# Names the generated module reads but never defines, all on paths hciplan does not take: building a
# parser from a grammar (Lark.__init__: load_grammar, Grammar, the cache's os, tempfile, getpass,
# sha256_digest, verify_used_files, pickle; LALR_Analyzer; FromPackageLoader, FS,
# _construct_parsing_frontend), saving one (Enumerator, _serialize, pickle), strict mode (interegular) and
# the `regex` module option. A new lark, or a new cut, that adds one is reviewed here. (The two on hciplan's
# paths, cast and warnings, build.py imports.)
UNDEFINED_ALLOWED = {"Enumerator", "FS", "FromPackageLoader", "Grammar", "LALR_Analyzer",
                     "_construct_parsing_frontend", "_serialize", "getpass", "interegular", "load_grammar", "os",
                     "pickle", "regex", "sha256_digest", "tempfile", "verify_used_files"}


def undefined_globals(module) -> set[str]:
    """The global names the module's code reads that neither it nor builtins define (a static list, like
    pyflakes' 'undefined name', from the bytecode of every function and class body)."""
    import builtins
    import dis

    code = compile(Path(module.__file__).read_text(encoding="utf-8"), module.__file__, "exec")
    pending, read = [code], set()
    while pending:
        current = pending.pop()
        instructions = list(dis.get_instructions(current))
        local = {i.argval for i in instructions if i.opname == "STORE_NAME"}  # a class body's own names
        read |= {i.argval for i in instructions
                 if i.opname == "LOAD_GLOBAL" or (i.opname == "LOAD_NAME" and i.argval not in local)}
        pending.extend(c for c in current.co_consts if hasattr(c, "co_code"))
    return read - set(vars(module)) - set(dir(builtins))


def test_the_module_defines_every_name_hciplan_can_reach() -> None:
    assert undefined_globals(standalone) == UNDEFINED_ALLOWED


def test_a_cut_that_no_longer_matches_stops_the_build() -> None:
    with pytest.raises(SystemExit, match="matched 0 times"):
        build.cut("lark's code, changed\n")
