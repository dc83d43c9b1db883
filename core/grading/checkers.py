"""Checkers: does a program's output answer the test? Built-in comparisons and custom programs.

Built-in (pure functions of bytes; `builtin(spec)` picks one):
    exact                        byte for byte
    ignore_trailing_whitespace   line by line, ignoring spaces/tabs/CR at the end of each line
                                 and empty lines at the end (the default)
    tokens                       the same whitespace-separated tokens, however spaced
    case_insensitive             tokens, compared case-insensitively (Unicode case folding)
    float                        tokens; where the expected token is a decimal number, the answer
                                 must be one too, within abs_tolerance OR rel_tolerance x |expected|

A custom checker (`ProgramChecker`) is a program of any catalogue language, run in the sandbox
with its own limits, as `<its run command> input expected actual` with those three files in its
working directory. Exit 0: accepted; exit 1 or 2 (testlib's "wrong answer" and "presentation
error"): wrong answer; its stdout (or stderr), cut to a few lines, is the message. Anything else
(another exit code, a crash, a limit) is the problem setter's bug, not the contestant's: it raises
CheckerFailed, and the submission is not judged rather than judged wrongly.

The contestant's output is the one thing here written by an adversary. It is already capped by the
sandbox (the output limit), and every check treats it as bytes: nothing is decoded strictly,
nothing is parsed without a size bound, and what a message quotes of it is cut short and escaped.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from core import execution
from core.grading.problem import CheckerKind, CheckerSpec
from core.limits import RunLimits
from sandbox import Result, Verdict

_TOKEN = re.compile(rb"\S+")
_DECIMAL = re.compile(rb"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# A number longer than this is not compared as a number (float() of a megabyte of digits is slow).
_MAX_NUMBER_BYTES = 400
_QUOTE_CHARS = 48
_MESSAGE_CHARS = 500
CHECKER_FILES = ("input", "expected", "actual")


@dataclass(frozen=True, slots=True)
class CheckResult:
    accepted: bool
    message: str | None = None
    """Why the answer is wrong (or the custom checker's comment); one short line or a few."""


ACCEPTED = CheckResult(True)


class Checker(Protocol):
    def check(self, *, input: bytes, expected: bytes, actual: bytes) -> CheckResult: ...


class CheckerFailed(RuntimeError):
    """The custom checker itself failed (crashed, timed out, answered with an unknown code)."""


# --- Built-in checkers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltinChecker:
    spec: CheckerSpec

    def check(self, *, input: bytes, expected: bytes, actual: bytes) -> CheckResult:
        del input  # the built-in comparisons look at the two outputs only
        kind = self.spec.kind
        if kind is CheckerKind.EXACT:
            return exact(expected, actual)
        if kind is CheckerKind.IGNORE_TRAILING_WHITESPACE:
            return ignore_trailing_whitespace(expected, actual)
        if kind is CheckerKind.TOKENS:
            return tokens(expected, actual)
        if kind is CheckerKind.CASE_INSENSITIVE:
            return case_insensitive(expected, actual)
        if kind is CheckerKind.FLOAT:
            return floats(expected, actual, self.spec.abs_tolerance, self.spec.rel_tolerance)
        raise ValueError(f"{kind} is not a built-in checker")


def builtin(spec: CheckerSpec) -> BuiltinChecker:
    if spec.kind is CheckerKind.CUSTOM:
        raise ValueError("a custom checker is a program; use ProgramChecker")
    return BuiltinChecker(spec)


def exact(expected: bytes, actual: bytes) -> CheckResult:
    if expected == actual:
        return ACCEPTED
    at = next(
        (i for i, (e, a) in enumerate(zip(expected, actual, strict=False)) if e != a),
        min(len(expected), len(actual)),
    )
    line = actual.count(b"\n", 0, at) + 1
    if at == len(actual):
        return CheckResult(False, f"the output ends at byte {at} (line {line}); more was expected")
    if at == len(expected):
        return CheckResult(False, f"extra output from byte {at} (line {line}): {quote(actual[at:])}")
    return CheckResult(
        False, f"byte {at} (line {line}) differs: expected {quote(expected[at:])}, got {quote(actual[at:])}"
    )


def ignore_trailing_whitespace(expected: bytes, actual: bytes) -> CheckResult:
    want, got = _trimmed_lines(expected), _trimmed_lines(actual)
    for number, (e, a) in enumerate(itertools.zip_longest(want, got), start=1):
        if e == a:
            continue
        if a is None:
            return CheckResult(False, f"the output ends after {number - 1} lines; expected {len(want)}")
        if e is None:
            return CheckResult(False, f"extra output at line {number}: {quote(a)}")
        return CheckResult(False, f"line {number}: expected {quote(e)}, got {quote(a)}")
    return ACCEPTED


def tokens(expected: bytes, actual: bytes) -> CheckResult:
    return _compare_tokens(expected, actual, lambda e, a: None if e == a else "")


def case_insensitive(expected: bytes, actual: bytes) -> CheckResult:
    return _compare_tokens(expected, actual, lambda e, a: None if _fold(e) == _fold(a) else "")


def floats(expected: bytes, actual: bytes, abs_tolerance: float, rel_tolerance: float) -> CheckResult:
    def compare(e: bytes, a: bytes) -> str | None:
        want = _number(e)
        if want is None:
            return None if e == a else ""
        got = _number(a)
        if got is None:
            return " (a number was expected)"
        error = abs(got - want)
        if error <= abs_tolerance or error <= rel_tolerance * abs(want):
            return None
        return f" (off by {error:.3g}; allowed: {abs_tolerance:g} absolute or {rel_tolerance:g} relative)"

    return _compare_tokens(expected, actual, compare)


def _trimmed_lines(data: bytes) -> list[bytes]:
    lines = [line.rstrip(b" \t\r\f\v") for line in data.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _compare_tokens(expected: bytes, actual: bytes, differ: _Comparison) -> CheckResult:
    """Walk both token streams together; `differ` says None (same) or why they differ."""
    count = 0
    for count, (e, a) in enumerate(itertools.zip_longest(_tokens(expected), _tokens(actual)), start=1):
        if a is None:
            return CheckResult(False, f"the output ends after {count - 1} tokens; more were expected")
        if e is None:
            return CheckResult(False, f"extra output at token {count} (line {a[1]}): {quote(a[0])}")
        why = differ(e[0], a[0])
        if why is not None:
            return CheckResult(
                False, f"token {count} (line {a[1]}): expected {quote(e[0])}, got {quote(a[0])}{why}"
            )
    return ACCEPTED


class _Comparison(Protocol):
    def __call__(self, expected: bytes, actual: bytes, /) -> str | None: ...


def _tokens(data: bytes) -> Iterator[tuple[bytes, int]]:
    """Each whitespace-separated token with its line number."""
    line, position = 1, 0
    for match in _TOKEN.finditer(data):
        line += data.count(b"\n", position, match.start())
        position = match.start()
        yield match.group(), line


def _fold(token: bytes) -> str:
    # surrogateescape keeps invalid bytes distinct instead of failing or merging them.
    return token.decode("utf-8", "surrogateescape").casefold()


def _number(token: bytes) -> float | None:
    if len(token) > _MAX_NUMBER_BYTES or not _DECIMAL.fullmatch(token):
        return None
    value = float(token)
    return value if math.isfinite(value) else None


def quote(data: bytes, limit: int = _QUOTE_CHARS) -> str:
    """A short, printable, quoted excerpt of output: its first line, cut at `limit` characters."""
    line = data.partition(b"\n")[0]
    text = line[: limit * 4].decode("utf-8", "backslashreplace")
    cut = len(text) > limit or len(line) > limit * 4
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text[:limit])
    return f"'{shown}{'…' if cut else ''}'"


# --- Custom checkers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgramChecker:
    """A compiled (or interpreted) checker program, run once per test in a fresh container."""

    program: execution.Program
    limits: RunLimits

    def check(self, *, input: bytes, expected: bytes, actual: bytes) -> CheckResult:
        files = dict(zip(CHECKER_FILES, (input, expected, actual), strict=True))
        result = execution.run(self.program, args=CHECKER_FILES, files=files, limits=self.limits)
        message = _checker_message(result)
        if result.verdict is Verdict.OK:
            return CheckResult(True, message)
        if result.verdict is Verdict.RUNTIME_ERROR and result.exit_code in (1, 2):
            return CheckResult(False, message or "the checker rejected the output")
        ending = f"exit code {result.exit_code}" if result.signal is None else result.signal
        raise CheckerFailed(
            f"the checker ended with {result.verdict} ({ending}): {result.message or ''} "
            f"{message or ''}".strip()
        )


def _checker_message(result: Result) -> str | None:
    text = (result.stdout.strip() or result.stderr.strip())[: _MESSAGE_CHARS * 4]
    if not text:
        return None
    decoded = text.decode("utf-8", "replace").replace("\0", "\ufffd")
    lines = decoded.splitlines()[:5]
    message = "\n".join(lines)
    return message[:_MESSAGE_CHARS] + ("…" if len(message) > _MESSAGE_CHARS else "")
