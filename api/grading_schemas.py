"""Request and response bodies of batch grading (/v1/gradings) and the problem library
(/v1/problems). Same conventions as api.schemas: `<Thing>Create` in, `<Thing>Public` out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from api.schemas import ENCODING_DOC, Encoding, Schema, Status, Strict
from core.config import LIST_HARD_MAX

TestVerdict = Literal[
    "accepted",
    "wrong_answer",
    "time_limit",
    "memory_limit",
    "runtime_error",
    "output_limit",
    "compile_error",
    "skipped",
]
Checker = Literal["exact", "ignore_trailing_whitespace", "tokens", "float", "case_insensitive", "custom"]


class ProblemCreate(Strict):
    """A stored problem by `name` (see GET /v1/problems), or an uploaded `archive`."""

    name: Annotated[str | None, Field(max_length=64, examples=["aplusb"])] = None
    """The name of a problem this server offers."""
    archive: str | None = None
    """A problem directory as a zip or tar (.tar, .tar.gz, .tar.xz, .tar.bz2) file,
    base64-encoded: problem.toml, tests/NAME.in and NAME.out, and the files problem.toml names
    (docs/grading.md). A single top-level directory in it is taken to be the problem."""

    @model_validator(mode="after")
    def _one_source(self) -> ProblemCreate:
        if (self.name is None) == (self.archive is None):
            raise ValueError("give exactly one of `name` (a stored problem) or `archive` (an upload)")
        return self


class GradingSubmissionCreate(Strict):
    language: Annotated[str, Field(min_length=1, max_length=64, examples=["python"])]
    """A language name or alias from GET /v1/languages."""
    source: str
    """The program, in the request's `encoding`."""
    label: Annotated[str | None, Field(min_length=1, max_length=255, examples=["alice"])] = None
    """Who or what this is (a student, a file name); default: `submission N`."""
    compiler_options: list[str] = []
    """Extra compiler options, each from the language's allowed list."""


class GradingCreate(Strict):
    """One problem, many submissions: each is compiled once and run on every test."""

    problem: ProblemCreate
    submissions: Annotated[list[GradingSubmissionCreate], Field(min_length=1, max_length=LIST_HARD_MAX)]
    stop_on_first_failure: bool = False
    """Stop grading a submission at its first test that is not accepted (the rest are
    `skipped`): quicker, but the score counts only the tests before it."""
    encoding: Annotated[Encoding, Field(description=ENCODING_DOC)] = "utf-8"


class GradingSubmissionAccepted(Schema):
    id: uuid.UUID
    label: str


class GradingAccepted(Schema):
    """The grading was stored and its submissions queued; follow it with GET /v1/gradings/{id}."""

    id: uuid.UUID
    status: Status
    submissions: list[GradingSubmissionAccepted]


class SubtaskPublic(Schema):
    name: str
    points: float
    tests: list[str]
    mode: Literal["all_or_nothing", "proportional"]


class GradingProblemPublic(Schema):
    name: str
    title: str
    digest: str
    """SHA-256 of the problem's canonical archive: the same content always has the same digest."""
    checker: Checker
    tests: list[str]
    """Test names, in the order they run."""
    subtasks: list[SubtaskPublic]
    """Without declared subtasks: one, `all`, proportional over every test."""
    max_score: float


class GradingProgressPublic(Schema):
    submissions: int
    submissions_finished: int
    """done, failed or cancelled."""
    tests: int
    """submissions x tests."""
    tests_finished: int
    """Tests with a result so far (skipped ones included)."""


class GradingTestPublic(Schema):
    name: str
    verdict: TestVerdict | None = None
    """null: not run (yet)."""
    cpu_time_ms: int | None = None
    wall_time_ms: int | None = None
    memory_peak_bytes: int | None = None
    exit_code: int | None = None
    signal: str | None = None
    message: str | None = None
    """Why: the checker's comment on a wrong answer, the sandbox's sentence on a limit."""
    stderr: str | None = None
    """The last KB the program wrote on stderr."""


class SubtaskScorePublic(Schema):
    name: str
    score: float
    max_score: float


class GradingSubmissionPublic(Schema):
    id: uuid.UUID
    label: str
    language: str
    status: Status
    """queued -> running -> done | failed | cancelled. `failed`: the submission could not be
    graded (the sandbox, an image or the problem's checker failed; see `message`)."""
    verdict: TestVerdict | None = None
    """accepted when every test is; otherwise the first failing test's verdict."""
    score: float | None = None
    """So far while running; null when it could not be graded."""
    max_score: float
    subtasks: list[SubtaskScorePublic]
    tests: list[GradingTestPublic]
    """Every test of the problem, in order; verdict null for those not run."""
    compile_output: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class GradingPublic(Schema):
    id: uuid.UUID
    status: Status
    """queued, running, done (every submission finished), failed (every one failed) or
    cancelled."""
    problem: GradingProblemPublic
    stop_on_first_failure: bool
    progress: GradingProgressPublic
    created_at: datetime
    cancelled_at: datetime | None = None
    submissions: list[GradingSubmissionPublic]


class ProblemSummaryPublic(Schema):
    name: str
    title: str
    checker: Checker
    tests: int
    subtasks: list[SubtaskPublic]
    max_score: float


class ProblemsPublic(Schema):
    problems: list[ProblemSummaryPublic]


class ProblemPublic(ProblemSummaryPublic):
    statement: str | None = None
    """The problem's statement (Markdown), if it has one."""
