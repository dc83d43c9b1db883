"""The grading life cycle, one transaction per transition, with the same discipline as runs.

    create_grading      the API stores the problem (once per content), the grading and its queued
                        submissions, and commits; then it sends the submissions' ids
    claim_submission    queued -> running, only if still queued (a duplicate message claims nothing)
    record_progress     the results so far, and a renewed lease, only by the current claim; False
                        tells the worker to stop (the grading was cancelled, or the claim was lost)
    finish_submission   running -> done with the results and the score, same fencing
    fail_submission     running -> failed (the sandbox, an image or the checker failed), same fencing
    release_submission  running -> queued by its own worker after a transient failure
    cancel_grading      queued and running submissions -> cancelled; what already ran stays
    requeue_abandoned   running past its lease -> queued again (its worker died), or failed after
                        `max_attempts` claims
    resend_stale        queued submissions whose message is older than a timeout get a new one

As in core.jobs, `attempts` is the fencing token and every write is one conditional UPDATE that
starts its transaction (SQLite then takes its write lock at once; see core.db). A requeued
submission starts over: it is compiled again and every test runs again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, defer

from core import jobs
from core.grading.archive import digest
from core.grading.models import Grading, GradingProblem, GradingSubmission
from core.grading.problem import Problem
from core.jobs import utcnow
from core.models import FINAL_STATUSES, Status


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionRequest:
    label: str
    language: str
    """The catalogue name."""
    source: bytes
    compiler_options: Sequence[str] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GradingRequest:
    problem: Problem
    archive: bytes
    """The problem's canonical archive (core.grading.archive.pack)."""
    submissions: Sequence[SubmissionRequest]
    stop_on_first_failure: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionOutcome:
    results: list[dict[str, Any]]
    score: float
    verdict: str | None
    compile_output: str | None


def create_grading(*, session: Session, request: GradingRequest) -> tuple[Grading, list[GradingSubmission]]:
    """Insert the grading and its queued submissions (and the problem if new), and commit."""
    now = utcnow()
    problem = request.problem
    problem_digest = digest(request.archive)
    _insert_problem(session, problem_digest, problem.name, request.archive, now)
    grading = Grading(
        id=uuid.uuid4(),
        problem_digest=problem_digest,
        problem_name=problem.name,
        problem_title=problem.title,
        checker=str(problem.checker.kind),
        test_names=[test.name for test in problem.tests],
        subtasks=[
            {"name": s.name, "points": s.points, "tests": list(s.tests), "mode": str(s.mode)}
            for s in problem.subtasks
        ],
        declares_subtasks=problem.declares_subtasks,
        stop_on_first_failure=request.stop_on_first_failure,
        created_at=now,
    )
    submissions = [
        GradingSubmission(
            id=uuid.uuid4(),
            grading_id=grading.id,
            position=position,
            label=submission.label,
            language=submission.language,
            source=submission.source,
            compiler_options=list(submission.compiler_options),
            status=Status.QUEUED,
            results=[],
            max_score=problem.max_score,
            queued_at=now,
            # The message is sent right after the commit; should that fail, the reconciler resends.
            enqueued_at=now,
            attempts=0,
        )
        for position, submission in enumerate(request.submissions)
    ]
    session.add(grading)
    session.add_all(submissions)
    session.commit()
    return grading, submissions


def _insert_problem(session: Session, problem_digest: str, name: str, archive: bytes, now: datetime) -> None:
    """Store the archive unless the same content is already stored (its digest is the key)."""
    values = {
        "digest": problem_digest,
        "name": name,
        "archive": archive,
        "archive_bytes": len(archive),
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(GradingProblem).values(**values).on_conflict_do_nothing(index_elements=["digest"]))


def get_grading(*, session: Session, grading_id: uuid.UUID) -> Grading | None:
    return session.get(Grading, grading_id)


def get_submissions(*, session: Session, grading_id: uuid.UUID) -> list[GradingSubmission]:
    """A grading's submissions in order, without their sources (not needed to show results)."""
    query = (
        select(GradingSubmission)
        .where(GradingSubmission.grading_id == grading_id)
        .order_by(GradingSubmission.position)
        .options(defer(GradingSubmission.source))
    )
    return list(session.scalars(query).all())


def get_submission(*, session: Session, submission_id: uuid.UUID) -> GradingSubmission | None:
    return session.get(GradingSubmission, submission_id)


def get_problem_archive(*, session: Session, problem_digest: str) -> bytes | None:
    return session.scalar(select(GradingProblem.archive).where(GradingProblem.digest == problem_digest))


def count_queued(*, session: Session) -> int:
    query = select(func.count()).where(GradingSubmission.status == Status.QUEUED)
    return session.scalar(query) or 0


def grading_status(grading: Grading, statuses: Iterable[str]) -> str:
    """A grading's status from its submissions': cancelled; done (or failed, when every
    submission failed) once all are final; running once any has started; else queued."""
    statuses = list(statuses)
    if grading.cancelled_at is not None:
        return Status.CANCELLED
    if all(status in FINAL_STATUSES for status in statuses):
        return Status.FAILED if statuses and all(s == Status.FAILED for s in statuses) else Status.DONE
    if any(status != Status.QUEUED for status in statuses):
        return Status.RUNNING
    return Status.QUEUED


# --- The worker's transitions ------------------------------------------------------------------


def claim_submission(
    *, session: Session, submission_id: uuid.UUID, worker: str, lease_s: float
) -> int | None:
    """queued -> running for this worker; the attempt number, or None when it is not queued."""
    now = utcnow()
    attempt = session.scalar(
        update(GradingSubmission)
        .where(GradingSubmission.id == submission_id, GradingSubmission.status == Status.QUEUED)
        .values(
            status=Status.RUNNING,
            attempts=GradingSubmission.attempts + 1,
            started_at=now,
            worker=worker,
            lease_expires_at=now + timedelta(seconds=lease_s),
            results=[],  # a requeued submission starts over
        )
        .returning(GradingSubmission.attempts)
    )
    session.commit()
    return attempt


def record_progress(
    *,
    session: Session,
    submission_id: uuid.UUID,
    attempt: int,
    results: list[dict[str, Any]],
    lease_s: float,
) -> bool:
    """Store the results so far and extend the lease by `lease_s` from now; False when this claim
    no longer owns the submission (cancelled, or presumed dead and claimed again)."""
    lease = utcnow() + timedelta(seconds=lease_s)
    return _update_claimed(session, submission_id, attempt, results=results, lease_expires_at=lease)


def finish_submission(
    *, session: Session, submission_id: uuid.UUID, attempt: int, outcome: SubmissionOutcome
) -> bool:
    done = {"status": Status.DONE, "finished_at": utcnow(), "lease_expires_at": None}
    return _update_claimed(session, submission_id, attempt, **done, **asdict(outcome))


def fail_submission(*, session: Session, submission_id: uuid.UUID, attempt: int, message: str) -> bool:
    return _update_claimed(
        session,
        submission_id,
        attempt,
        status=Status.FAILED,
        finished_at=utcnow(),
        lease_expires_at=None,
        message=message,
    )


def release_submission(*, session: Session, submission_id: uuid.UUID, attempt: int) -> bool:
    """Give a claimed submission back to the queue; the caller sends its id again."""
    return _update_claimed(
        session, submission_id, attempt, status=Status.QUEUED, enqueued_at=utcnow(), lease_expires_at=None
    )


def _update_claimed(session: Session, submission_id: uuid.UUID, attempt: int, **values: Any) -> bool:
    result = session.execute(
        update(GradingSubmission)
        .where(
            GradingSubmission.id == submission_id,
            GradingSubmission.status == Status.RUNNING,
            GradingSubmission.attempts == attempt,
        )
        .values(**values)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- Cancelling and reconciling ------------------------------------------------------------------


def cancel_grading(*, session: Session, grading_id: uuid.UUID) -> int:
    """Cancel every submission not finished yet; returns how many. A running one stops after its
    current test (its worker's next progress write is refused); its results so far are kept."""
    now = utcnow()
    session.execute(
        update(Grading)
        .where(Grading.id == grading_id, Grading.cancelled_at.is_(None))
        .values(cancelled_at=now)
    )
    result = session.execute(
        update(GradingSubmission)
        .where(
            GradingSubmission.grading_id == grading_id,
            GradingSubmission.status.in_([Status.QUEUED, Status.RUNNING]),
        )
        .values(status=Status.CANCELLED, finished_at=now, lease_expires_at=None)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def requeue_abandoned(*, session: Session, max_attempts: int, now: datetime | None = None) -> list[uuid.UUID]:
    """Submissions running past their lease lost their worker: queue them again, or fail those
    already claimed `max_attempts` times (core.jobs.requeue_abandoned). Returns the ids to send."""
    table = GradingSubmission
    return jobs.requeue_abandoned(session=session, max_attempts=max_attempts, now=now, table=table)


def resend_stale(
    *, session: Session, older_than_s: float, limit: int = 1000, now: datetime | None = None
) -> list[uuid.UUID]:
    """Queued submissions whose last message is older than `older_than_s` may have lost it:
    stamp them as sent now and return their ids to send again (core.jobs.resend_stale)."""
    return jobs.resend_stale(
        session=session, older_than_s=older_than_s, limit=limit, now=now, table=GradingSubmission
    )
