"""The job lifecycle, one transaction per transition: queued -> running -> done | failed.

    create_runs       the API inserts queued rows and commits, then sends their ids to the queue
    claim_run         queued -> running, only if still queued: a redelivered message claims nothing;
                      returns what the worker needs to run it (one statement reads and claims)
    finish_run        running -> done, only by the claim that holds the current attempt number;
                      returns what it stored (its worker announces that to waiting requests)
    fail_run          running -> failed (the sandbox itself failed), same fencing and return
    release_run       running -> queued again by its own worker (a transient failure), same fencing
    cancel_run        queued -> cancelled (a run already running is never cut short)
    requeue_abandoned running past its lease -> queued again (its worker died), or failed when it
                      has used up its attempts
    resend_stale      queued runs whose message is older than a timeout get a fresh message
    get_record(s)     runs as clients see them (RunRecord); record_of builds the same from the
                      request and what finish_run or fail_run returned

`attempts` is the fencing token: each claim increments it, and a finish must name the attempt it
claimed. A worker presumed dead that wakes up later can therefore never overwrite a newer claim's
result, and a run ends done (or failed) exactly once. Every transition is one conditional UPDATE
(the claim then sets its lease on the row it won, in the same transaction), so the database, not
the queue, decides who owns a run.

Writes are SQLAlchemy Core statements on the session's connection: they are on every run's path
(a few per run), and the ORM's unit of work would more than double their cost for nothing here.
The statements of a run's path (claim, finish) are built once, at import, with their values bound
at execution: building one per call and computing its cache key cost more than running it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from core.limits import RunLimits
from core.models import LeasedJob, Run, Status

RUNS = cast(Table, Run.__table__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """A validated submission, ready to be stored (the API builds it from the request body)."""

    language: str
    files: dict[str, bytes]
    main_file: str
    stdin: bytes | None
    args: list[str]
    compiler_options: list[str]
    limits: RunLimits
    encoding: str = "utf-8"
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    """Chosen before storing, so that a caller can wait for the run before it exists."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """What a finished run stores: the contract's result fields."""

    verdict: str
    exit_code: int | None
    signal: str | None
    cpu_time_ms: int
    wall_time_ms: int
    memory_peak_bytes: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    compile_output: bytes | None
    message: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedRun:
    """A run's final state as finish_run or fail_run stored it: its status, lifecycle and result.

    Its worker announces it (core.queue), so that a client waiting for the run can be answered
    without reading the row back. It is a copy of the row's values as that UPDATE left them,
    which no later transition changes (a final run stays as it is); the row stays the truth."""

    id: uuid.UUID
    status: str
    """done or failed"""
    queued_at: datetime
    started_at: datetime
    finished_at: datetime
    verdict: str | None = None
    exit_code: int | None = None
    signal: str | None = None
    cpu_time_ms: int | None = None
    wall_time_ms: int | None = None
    memory_peak_bytes: int | None = None
    stdout: bytes | None = None
    stderr: bytes | None = None
    stdout_truncated: bool | None = None
    stderr_truncated: bool | None = None
    compile_output: bytes | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """A run as its clients see it: request, lifecycle and result (every column but the workers'
    bookkeeping: enqueued_at, lease_expires_at, worker, attempts)."""

    id: uuid.UUID
    status: str
    language: str
    files: dict[str, str]
    """File name -> content, base64 (as stored)."""
    main_file: str
    stdin: bytes | None
    args: list[str]
    compiler_options: list[str]
    encoding: str
    limits: RunLimits
    verdict: str | None
    exit_code: int | None
    signal: str | None
    cpu_time_ms: int | None
    wall_time_ms: int | None
    memory_peak_bytes: int | None
    stdout: bytes | None
    stderr: bytes | None
    stdout_truncated: bool | None
    stderr_truncated: bool | None
    compile_output: bytes | None
    message: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedRun:
    """What a worker needs to carry out the run it claimed (claim_run returns it)."""

    id: uuid.UUID
    attempt: int
    """The claim's fencing token: finish_run, fail_run and release_run must name it."""
    language: str
    files: dict[str, str]
    """File name -> content, base64 (as stored)."""
    main_file: str
    stdin: bytes | None
    args: list[str]
    compiler_options: list[str]
    limits: RunLimits


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_runs(*, session: Session, requests: Sequence[RunRequest]) -> list[uuid.UUID]:
    """Insert queued runs and commit; the caller sends their ids to the queue afterwards."""
    now = utcnow()
    session.connection().execute(insert(RUNS), [_new_row(request, now) for request in requests])
    session.commit()
    return [request.id for request in requests]


def _new_row(request: RunRequest, now: datetime) -> dict[str, object]:
    limits = request.limits
    return {
        "id": request.id,
        "status": Status.QUEUED,
        "language": request.language,
        "files": _stored_files(request),
        "main_file": request.main_file,
        "stdin": request.stdin,
        "args": list(request.args),
        "compiler_options": list(request.compiler_options),
        "encoding": request.encoding,
        "cpu_time_limit_s": limits.cpu_time_limit_s,
        "wall_time_limit_s": limits.wall_time_limit_s,
        "memory_limit_mb": limits.memory_limit_mb,
        "pids_limit": limits.pids_limit,
        "output_limit_kb": limits.output_limit_kb,
        "file_size_limit_kb": limits.file_size_limit_kb,
        "network": limits.network,
        "queued_at": now,
        # The message is sent right after the commit; should that fail, the reconciler resends.
        "enqueued_at": now,
        "attempts": 0,
    }  # fmt: skip


def _stored_files(request: RunRequest) -> dict[str, str]:
    return {name: base64.b64encode(data).decode() for name, data in request.files.items()}


def get_run(*, session: Session, run_id: uuid.UUID) -> Run | None:
    """The whole row, every column (for tools and tests; the API reads records)."""
    return session.get(Run, run_id)


_LIMIT_COLUMNS = tuple(RUNS.c[limit.name] for limit in fields(RunLimits))
_RECORD_COLUMNS = (*(RUNS.c[f.name] for f in fields(RunRecord) if f.name != "limits"), *_LIMIT_COLUMNS)
_GET_RECORD = select(*_RECORD_COLUMNS).where(RUNS.c.id == bindparam("run_id"))
_GET_RECORDS = select(*_RECORD_COLUMNS).where(RUNS.c.id.in_(bindparam("run_ids", expanding=True)))


def get_record(*, session: Session, run_id: uuid.UUID) -> RunRecord | None:
    row = session.connection().execute(_GET_RECORD, {"run_id": run_id}).one_or_none()
    return None if row is None else _record(row._mapping)


def get_records(*, session: Session, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RunRecord]:
    """The records of the runs that exist among `run_ids`, by id."""
    rows = session.connection().execute(_GET_RECORDS, {"run_ids": list(run_ids)})
    records = (_record(row._mapping) for row in rows)
    return {record.id: record for record in records}


def _record(row: Mapping[Any, Any]) -> RunRecord:
    values = {column.name: row[column] for column in _RECORD_COLUMNS}
    limits = RunLimits(**{column.name: values.pop(column.name) for column in _LIMIT_COLUMNS})
    return RunRecord(limits=limits, **values)


def record_of(request: RunRequest, finished: FinishedRun) -> RunRecord:
    """The record of a finished run, from what was stored of its request (create_runs) and of
    its end (finish_run or fail_run): the values get_record would read back."""
    assert finished.id == request.id
    end = {f.name: getattr(finished, f.name) for f in fields(FinishedRun)}  # all RunRecord fields
    return RunRecord(
        language=request.language,
        files=_stored_files(request),
        main_file=request.main_file,
        stdin=request.stdin,
        args=list(request.args),
        compiler_options=list(request.compiler_options),
        encoding=request.encoding,
        limits=request.limits,
        **end,
    )


def count_queued(*, session: Session) -> int:
    count = session.connection().execute(select(func.count()).where(RUNS.c.status == Status.QUEUED))
    return count.scalar_one()


# The request columns a claimed run carries (ClaimedRun's fields but its id, attempt and limits).
_CLAIMED_NON_COLUMNS = ("id", "attempt", "limits")
_CLAIMED_COLUMNS = tuple(RUNS.c[f.name] for f in fields(ClaimedRun) if f.name not in _CLAIMED_NON_COLUMNS)
_CLAIM = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"), RUNS.c.status == Status.QUEUED)
    .values(attempts=RUNS.c.attempts + 1)  # the other columns set are the execution's parameters
    .returning(RUNS.c.attempts, *_CLAIMED_COLUMNS, *_LIMIT_COLUMNS)
)
_SET_LEASE = update(RUNS).where(RUNS.c.id == bindparam("run_id"))
_UPDATE_CLAIMED = (
    update(RUNS)
    .where(
        RUNS.c.id == bindparam("run_id"),
        RUNS.c.status == Status.RUNNING,
        RUNS.c.attempts == bindparam("attempt"),
    )
    .returning(RUNS.c.queued_at, RUNS.c.started_at)
)


def claim_run(
    *, session: Session, run_id: uuid.UUID, worker: str, lease_s: Callable[[ClaimedRun], float]
) -> ClaimedRun | None:
    """Mark a queued run running for this worker and return what it needs to carry it out, or
    None when the run is not queued (already claimed, finished, cancelled, or unknown): the
    message is then a duplicate. `lease_s(claimed)` says how long the claim may last (it depends
    on the run's limits); the lease is set in the same transaction as the claim."""
    now = utcnow()
    connection = session.connection()
    row = connection.execute(
        _CLAIM, {"run_id": run_id, "status": Status.RUNNING, "started_at": now, "worker": worker}
    ).one_or_none()
    if row is None:
        session.commit()
        return None
    values = row._mapping
    claimed = ClaimedRun(
        id=run_id,
        attempt=row.attempts,
        limits=RunLimits(**{column.name: values[column] for column in _LIMIT_COLUMNS}),
        **{column.name: values[column] for column in _CLAIMED_COLUMNS},
    )
    lease_expires_at = now + timedelta(seconds=lease_s(claimed))
    connection.execute(_SET_LEASE, {"run_id": run_id, "lease_expires_at": lease_expires_at})
    session.commit()
    return claimed


def finish_run(
    *, session: Session, run_id: uuid.UUID, attempt: int, outcome: RunOutcome
) -> FinishedRun | None:
    """Store the result and mark the run done; return what was stored, or None when this claim
    no longer owns the run."""
    values = {
        "verdict": outcome.verdict,
        "exit_code": outcome.exit_code,
        "signal": outcome.signal,
        "cpu_time_ms": outcome.cpu_time_ms,
        "wall_time_ms": outcome.wall_time_ms,
        "memory_peak_bytes": outcome.memory_peak_bytes,
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "stdout_truncated": outcome.stdout_truncated,
        "stderr_truncated": outcome.stderr_truncated,
        "compile_output": outcome.compile_output,
        "message": outcome.message,
    }
    return _end_run(session=session, run_id=run_id, attempt=attempt, status=Status.DONE, values=values)


def fail_run(*, session: Session, run_id: uuid.UUID, attempt: int, message: str) -> FinishedRun | None:
    """Mark the run failed (the sandbox could not run it); return what was stored, or None when
    this claim lost the run."""
    values = {"message": message}
    return _end_run(session=session, run_id=run_id, attempt=attempt, status=Status.FAILED, values=values)


def release_run(*, session: Session, run_id: uuid.UUID, attempt: int) -> bool:
    """Give a claimed run back to the queue (its worker hit a transient failure); the caller
    sends its id again. False when this claim no longer owns the run."""
    values = {"status": Status.QUEUED, "enqueued_at": utcnow(), "lease_expires_at": None}
    return _update_claimed(session, run_id, attempt, values) is not None


def cancel_run(*, session: Session, run_id: uuid.UUID) -> bool:
    """Cancel a run that no worker has claimed yet; False when it is not (or no longer) queued.
    A message still in the broker for it then claims nothing."""
    result = session.connection().execute(
        update(RUNS)
        .where(RUNS.c.id == run_id, RUNS.c.status == Status.QUEUED)
        .values(status=Status.CANCELLED, finished_at=utcnow(), message="Cancelled before it ran.")
    )
    session.commit()
    return result.rowcount == 1


def _end_run(
    *, session: Session, run_id: uuid.UUID, attempt: int, status: Status, values: dict[str, Any]
) -> FinishedRun | None:
    finished_at = utcnow()
    changes = {"status": status, "finished_at": finished_at, "lease_expires_at": None, **values}
    lifecycle = _update_claimed(session, run_id, attempt, changes)
    if lifecycle is None:
        return None
    return FinishedRun(
        id=run_id,
        status=status,
        queued_at=lifecycle.queued_at,
        started_at=lifecycle.started_at,
        finished_at=finished_at,
        **values,
    )


def _update_claimed(
    session: Session, run_id: uuid.UUID, attempt: int, values: dict[str, object]
) -> Row[Any] | None:
    """Apply `values` only if this attempt still holds the run and commit; the run's queued_at
    and started_at when it did, None when it did not."""
    parameters: dict[str, Any] = {"run_id": run_id, "attempt": attempt, **values}
    row = session.connection().execute(_UPDATE_CLAIMED, parameters).one_or_none()
    session.commit()
    return row


def requeue_abandoned(
    *, session: Session, max_attempts: int, now: datetime | None = None, table: type[LeasedJob] = Run
) -> list[uuid.UUID]:
    """Jobs still running past their lease lost their worker: queue them again, or fail those that
    already had `max_attempts` claims (a job that keeps killing workers must not loop forever).
    Returns the ids to send to the queue. `table`: runs, or grading submissions."""
    now = now or utcnow()
    expired = (table.status == Status.RUNNING, table.lease_expires_at < now)
    session.execute(
        update(table)
        .where(*expired, table.attempts >= max_attempts)
        .values(
            status=Status.FAILED,
            finished_at=now,
            lease_expires_at=None,
            message=f"The worker that claimed it died {max_attempts} times; it was not retried.",
        )
    )
    requeued = session.scalars(
        update(table)
        .where(*expired)
        .values(status=Status.QUEUED, enqueued_at=now, lease_expires_at=None)
        .returning(table.id)
    ).all()
    session.commit()
    return list(requeued)


def resend_stale(
    *,
    session: Session,
    older_than_s: float,
    limit: int = 1000,
    now: datetime | None = None,
    table: type[LeasedJob] = Run,
) -> list[uuid.UUID]:
    """Queued jobs whose last message is older than `older_than_s` may have lost it (a broker
    restart without persistence): stamp them as sent now and return their ids to send again.
    A duplicate message is harmless (the claim is conditional)."""
    now = now or utcnow()
    stale = (
        select(table.id)
        .where(table.status == Status.QUEUED, table.enqueued_at < now - timedelta(seconds=older_than_s))
        .order_by(table.enqueued_at)
        .limit(limit)
        .scalar_subquery()
    )
    resent = session.scalars(
        update(table)
        .where(table.id.in_(stale), table.status == Status.QUEUED)
        .values(enqueued_at=now)
        .returning(table.id)
    ).all()
    session.commit()
    return list(resent)
