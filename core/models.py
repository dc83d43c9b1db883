"""The tables. One row per run: the request, its lifecycle and its result.

A run's columns mirror the public contract (DESIGN.md): limits in contract units, every result
field, and the lifecycle timestamps. Outputs are stored as bytes, exactly as the program wrote
them; the API decides how to encode them for JSON.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED})


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores no zone; give it naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Stable constraint names, so that migrations can refer to them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class LeasedJob:
    """The columns of a job that workers claim, shared by runs and grading submissions: its
    status, its life cycle and its fencing (core.jobs). The reconciler's statements
    (core.jobs.requeue_abandoned, resend_stale) are written once against these columns."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED)
    message: Mapped[str | None] = mapped_column(Text)
    """Explains the outcome, or says why the job failed (status failed)."""

    queued_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    """When the last queue message for this job was sent (the reconciler resends stale ones)."""
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    """A running job not finished by then is presumed abandoned by a dead worker."""
    worker: Mapped[str | None] = mapped_column(String(255))
    """host:pid of the worker that ran (or is running) it."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Claims so far; also the fencing token: only the current claim may finish the job."""


class Run(LeasedJob, Base):
    """One program run: queued by the API, claimed and finished by a worker."""

    __tablename__ = "runs"

    # The request.
    language: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    """File name -> content, base64 (sources may be binary when sent base64-encoded)."""
    main_file: Mapped[str] = mapped_column(String(255))
    stdin: Mapped[bytes | None] = mapped_column(LargeBinary)
    args: Mapped[list[str]] = mapped_column(JSON, default=list)
    compiler_options: Mapped[list[str]] = mapped_column(JSON, default=list)
    encoding: Mapped[str] = mapped_column(String(16), default="utf-8")
    """How the client sent its text and wants outputs back: utf-8 or base64."""

    # Limits, in the contract's units, after defaults and caps were applied.
    cpu_time_limit_s: Mapped[float]
    wall_time_limit_s: Mapped[float]
    memory_limit_mb: Mapped[int]
    pids_limit: Mapped[int]
    output_limit_kb: Mapped[int]
    file_size_limit_kb: Mapped[int]
    network: Mapped[bool]

    # The result (None until the run is done).
    verdict: Mapped[str | None] = mapped_column(String(32))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[str | None] = mapped_column(String(16))
    cpu_time_ms: Mapped[int | None] = mapped_column(Integer)
    wall_time_ms: Mapped[int | None] = mapped_column(Integer)
    memory_peak_bytes: Mapped[int | None] = mapped_column(BigInteger)
    stdout: Mapped[bytes | None] = mapped_column(LargeBinary)
    stderr: Mapped[bytes | None] = mapped_column(LargeBinary)
    stdout_truncated: Mapped[bool | None]
    stderr_truncated: Mapped[bool | None]
    compile_output: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        # The reconciler's two scans, and the queue-depth count of backpressure.
        Index(None, "status", "enqueued_at"),
        Index(None, "status", "lease_expires_at"),
    )
