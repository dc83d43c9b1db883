"""What grading produces: one result per test, and per submission; stored as JSON by the service.

A test's verdict is the sandbox's (time_limit, memory_limit, runtime_error, output_limit) or, when
the program ran to completion, the checker's (accepted, wrong_answer). Two more are grading's own:
`compile_error` for every test of a submission that did not compile, and `skipped` for the tests
after the first failure when a grading stops there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.grading.scoring import ACCEPTED, Score

COMPILE_ERROR = "compile_error"
SKIPPED = "skipped"
VERDICTS = (
    ACCEPTED,
    "wrong_answer",
    "time_limit",
    "memory_limit",
    "runtime_error",
    "output_limit",
    COMPILE_ERROR,
    SKIPPED,
)
STDERR_TAIL_BYTES = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class TestResult:
    name: str
    verdict: str
    cpu_time_ms: int | None = None
    wall_time_ms: int | None = None
    memory_peak_bytes: int | None = None
    exit_code: int | None = None
    signal: str | None = None
    message: str | None = None
    """Why: the checker's comment on a wrong answer, or the sandbox's sentence on a limit."""
    stderr: str | None = None
    """The last KB of what the program wrote on stderr (a traceback ends there)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestResult:
        return cls(**data)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionResult:
    tests: tuple[TestResult, ...]
    score: Score
    compile_output: str | None
    compile_elapsed_ms: int
    """Host time spent compiling (0 for interpreted languages)."""
    tests_elapsed_ms: int
    """Host time spent running and checking every test, containers included."""

    @property
    def verdict(self) -> str | None:
        return summary_verdict(self.tests)


def summary_verdict(tests: Sequence[TestResult]) -> str | None:
    """accepted when every test is; otherwise the first test's verdict that is not (None if no
    test has run yet)."""
    ran = [test.verdict for test in tests if test.verdict != SKIPPED]
    if not ran:
        return None
    return next((verdict for verdict in ran if verdict != ACCEPTED), ACCEPTED)


def text_excerpt(data: bytes, tail_bytes: int = STDERR_TAIL_BYTES) -> str | None:
    """The end of some program output as text that any database stores (no NUL)."""
    if not data:
        return None
    cut = data[-tail_bytes:]
    text = cut.decode("utf-8", "replace").replace("\0", "\ufffd")
    return ("…" + text) if len(data) > tail_bytes else text
