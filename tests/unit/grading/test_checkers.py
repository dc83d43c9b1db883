"""Built-in checkers: what each accepts and rejects, the messages, and hostile output."""

from __future__ import annotations

import pytest

from core.grading.checkers import (
    builtin,
    case_insensitive,
    exact,
    floats,
    ignore_trailing_whitespace,
    quote,
    tokens,
)
from core.grading.problem import CheckerKind, CheckerSpec


def test_exact() -> None:
    assert exact(b"3\n", b"3\n").accepted
    assert not exact(b"3\n", b"3").accepted
    assert exact(b"3\n", b"3").message == "the output ends at byte 1 (line 1); more was expected"
    assert exact(b"1\n2\n", b"1\n3\n").message == "byte 2 (line 2) differs: expected '2', got '3'"
    assert exact(b"1\n", b"1\n\n").message == "extra output from byte 2 (line 2): ''"


def test_ignore_trailing_whitespace() -> None:
    assert ignore_trailing_whitespace(b"1 2\n3\n", b"1 2  \r\n3\t\n\n\n").accepted
    assert ignore_trailing_whitespace(b"1 2\n3", b"1 2\n3\n").accepted
    assert ignore_trailing_whitespace(b"", b"\n \n").accepted
    # Leading and inner whitespace still matter: this checker is about lines.
    assert not ignore_trailing_whitespace(b"1 2\n", b"1  2\n").accepted
    assert not ignore_trailing_whitespace(b"1\n", b" 1\n").accepted
    assert ignore_trailing_whitespace(b"1\n2\n", b"1\n5\n").message == "line 2: expected '2', got '5'"
    ended = ignore_trailing_whitespace(b"1\n2\n", b"1\n").message
    assert ended == "the output ends after 1 lines; expected 2"
    assert ignore_trailing_whitespace(b"1\n", b"1\nmore\n").message == "extra output at line 2: 'more'"


def test_tokens() -> None:
    assert tokens(b"1 2\n3\n", b"  1\n\n2 3").accepted
    assert not tokens(b"1 2", b"12").accepted
    assert tokens(b"a b c", b"a b\nd").message == "token 3 (line 2): expected 'c', got 'd'"
    assert tokens(b"a b", b"a").message == "the output ends after 1 tokens; more were expected"
    assert tokens(b"a", b"a\n\nb").message == "extra output at token 2 (line 3): 'b'"


def test_case_insensitive() -> None:
    assert case_insensitive(b"YES\nNo", b"yes no").accepted
    assert case_insensitive("Straße".encode(), b"STRASSE").accepted  # Unicode case folding
    assert not case_insensitive(b"yes", b"ye s").accepted
    # Invalid UTF-8 neither crashes nor equals anything else.
    assert not case_insensitive(b"\xff", b"\xfe").accepted
    assert case_insensitive(b"\xff", b"\xff").accepted


def test_float_absolute_and_relative_tolerance() -> None:
    assert floats(b"3.14159265", b"3.1415930", 1e-6, 0).accepted
    assert not floats(b"3.14159265", b"3.1416", 1e-6, 0).accepted
    assert floats(b"1e12", b"1000000000100", 0, 1e-9).accepted  # relative to the expected value
    assert not floats(b"1e12", b"1000000100000", 0, 1e-9).accepted
    assert floats(b"0", b"-0.0000001", 1e-6, 0).accepted
    assert floats(b"2 words 3.5", b"2.0000000001 words 3.5", 1e-6, 0).accepted
    assert not floats(b"2 words", b"2 Words", 1e-6, 0).accepted  # non-numbers compare exactly


def test_float_messages() -> None:
    result = floats(b"1.0 2.0", b"1.0 2.5", 1e-6, 1e-9)
    assert result.message == (
        "token 2 (line 1): expected '2.0', got '2.5' (off by 0.5; allowed: 1e-06 absolute or 1e-09 relative)"
    )
    not_a_number = floats(b"1.0", b"one", 1e-6, 0).message
    assert not_a_number == "token 1 (line 1): expected '1.0', got 'one' (a number was expected)"


NOT_DECIMALS = [b"nan", b"inf", b"-inf", b"infinity", b"1_000", b"0x10", b"1e999", b"1,5", b"--1"]


@pytest.mark.parametrize("answer", NOT_DECIMALS)
def test_float_refuses_what_is_not_a_finite_decimal(answer: bytes) -> None:
    # float() would accept several of these (nan passes no comparison, but 'inf' vs 1e999 would).
    assert not floats(b"1000", answer, 1e300, 1e300).accepted


def test_builtin_picks_by_kind() -> None:
    exact_checker = builtin(CheckerSpec(kind=CheckerKind.EXACT))
    assert not exact_checker.check(input=b"", expected=b"a", actual=b"a ").accepted
    float_checker = builtin(CheckerSpec(kind=CheckerKind.FLOAT, abs_tolerance=0.5))
    assert float_checker.check(input=b"", expected=b"1", actual=b"1.4").accepted
    with pytest.raises(ValueError, match="custom"):
        builtin(CheckerSpec(kind=CheckerKind.CUSTOM))


HOSTILE = [
    b"\x00" * 100_000,
    bytes(range(256)) * 1000,
    b"\xff\xfe" * 50_000 + b"\n",
    b"9" * 4_000_000,  # one 4 MB token (the largest output limit the operator allows by default)
    b"\n" * 4_000_000,
    b"1 " * 2_000_000,
    "🙂".encode() * 100_000,
]


@pytest.mark.parametrize("kind", [k for k in CheckerKind if k is not CheckerKind.CUSTOM])
@pytest.mark.parametrize("output", HOSTILE, ids=lambda o: f"{len(o)}B-{o[:2]!r}")
def test_hostile_output_is_judged_not_crashed(kind: CheckerKind, output: bytes) -> None:
    checker = builtin(CheckerSpec(kind=kind, abs_tolerance=1e-6, rel_tolerance=1e-6))
    result = checker.check(input=b"5\n", expected=b"42\n", actual=output)
    assert not result.accepted
    # The message quotes a short, printable, NUL-free excerpt (it is stored and shown).
    assert result.message is not None and len(result.message) < 300
    assert result.message.isprintable() and "\0" not in result.message


def test_quote_is_short_printable_and_escaped() -> None:
    assert quote(b"abc") == "'abc'"
    assert quote(b"a\x00b\x1b[31m\tc") == "'a\\x00b\\x1b[31m\\tc'"
    assert quote(b"\xff\xfe") == "'\\xff\\xfe'"
    assert quote(b"x" * 1000) == "'" + "x" * 48 + "…'"
    assert quote(b"first\nsecond") == "'first'"
