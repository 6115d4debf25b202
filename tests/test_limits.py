"""Values at the edges of what Python can hold become diagnostics, and lexical errors stop the checks."""

from __future__ import annotations

from hciplan.compiler.pipeline import check_text

CLUSTER = 'cluster "clu-a" {{ version = "22H2" registered = true witness = cloud {body} }}'


def codes(text: str) -> list[str]:
    return [d.code for d in check_text(text).diagnostics]


def test_a_number_with_thousands_of_digits_is_out_of_range() -> None:
    result = check_text("a = " + "9" * 5000)
    assert [d.code for d in result.diagnostics] == ["HCI109"]
    assert "5000 digits" in result.diagnostics[0].message


def test_a_huge_size_is_out_of_range_and_the_message_stays_short() -> None:
    text = CLUSTER.format(body='node "N1" { memory = ' + "9" * 400 + "GB  ip = 10.0.0.1 }")
    result = check_text(text)
    assert [d.code for d in result.diagnostics] == ["HCI109"]
    assert len(result.diagnostics[0].message) < 80


def test_a_bad_escape_stops_before_the_semantic_checks() -> None:
    # "\q" is a lexical error; the cluster name would otherwise also be judged (HCI403).
    assert codes(CLUSTER.format(body="").replace('"clu-a"', '"x\\q"')) == ["HCI008"]
