"""The grading tables: problems (stored once per content), gradings, and their submissions.

    grading_problems     a problem's canonical archive, keyed by its SHA-256 (many gradings of the
                         same problem share one row; workers unpack it into a local cache)
    gradings             one POST /v1/gradings: which problem (with its test names and subtasks
                         copied, so that reading progress never needs the archive), options
    grading_submissions  one row per submission: the job a worker claims, with the same life cycle
                         and fencing as a run (core.jobs): queued -> running -> done | failed |
                         cancelled, `attempts` as the fencing token, a lease renewed after each test

A submission's per-test results are one JSON column, rewritten after each test by a single
conditional UPDATE: progress is visible as it happens, and a stale claim can never write.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, LeasedJob


class GradingProblem(Base):
    __tablename__ = "grading_problems"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of `archive`, hex."""
    name: Mapped[str] = mapped_column(String(64))
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    """The problem as core.grading.archive.pack() makes it (a canonical .tar.gz)."""
    archive_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class Grading(Base):
    __tablename__ = "gradings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    problem_digest: Mapped[str] = mapped_column(ForeignKey("grading_problems.digest"))
    problem_name: Mapped[str] = mapped_column(String(64))
    problem_title: Mapped[str] = mapped_column(String(200))
    checker: Mapped[str] = mapped_column(String(32))
    test_names: Mapped[list[str]] = mapped_column(JSON)
    """In the order they run."""
    subtasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """[{name, points, tests, mode}], as core.grading.problem.Subtask."""
    declares_subtasks: Mapped[bool] = mapped_column(Boolean)
    stop_on_first_failure: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class GradingSubmission(LeasedJob, Base):
    """One submission of a grading: the job a worker claims, with a run's status, life cycle
    and fencing (core.models.LeasedJob)."""

    __tablename__ = "grading_submissions"

    grading_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gradings.id"))
    position: Mapped[int] = mapped_column(Integer)
    """0-based order within the grading."""
    label: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(64))
    source: Mapped[bytes] = mapped_column(LargeBinary)
    compiler_options: Mapped[list[str]] = mapped_column(JSON, default=list)

    # Results.
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """One core.grading.results.TestResult per test run so far, in order."""
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str | None] = mapped_column(String(32))
    """accepted, or the first failing test's verdict (summary_verdict)."""
    compile_output: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(None, "grading_id", "position", unique=True),
        Index(None, "status", "enqueued_at"),
        Index(None, "status", "lease_expires_at"),
    )
