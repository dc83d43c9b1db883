"""The grading life cycle on a real (SQLite) database: conditional claims, fenced writes,
progress that renews the lease, cancelling, and the reconciler's two scans."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.grading import jobs
from core.grading.models import Grading, GradingProblem, GradingSubmission
from core.grading.problem import load_problem
from core.jobs import utcnow
from core.models import Status
from tests.unit.grading.conftest import PROBLEMS

PROBLEM = load_problem(PROBLEMS / "fibonacci")
RESULT = {"name": "small-1", "verdict": "accepted", "cpu_time_ms": 1}


def create(session: Session, count: int = 2, archive: bytes = b"archive") -> tuple[Grading, list[uuid.UUID]]:
    request = jobs.GradingRequest(
        problem=PROBLEM,
        archive=archive,
        submissions=[
            jobs.SubmissionRequest(label=f"s{i}", language="python", source=b"print(1)") for i in range(count)
        ],
    )
    grading, submissions = jobs.create_grading(session=session, request=request)
    return grading, [s.id for s in submissions]


def row(session: Session, submission_id: uuid.UUID) -> GradingSubmission:
    session.expire_all()
    found = jobs.get_submission(session=session, submission_id=submission_id)
    assert found is not None
    return found


def test_a_grading_keeps_what_reading_it_needs(session: Session) -> None:
    grading, ids = create(session)
    session.expire_all()
    stored = jobs.get_grading(session=session, grading_id=grading.id)
    assert stored is not None
    assert stored.test_names == [t.name for t in PROBLEM.tests]
    assert [(s["name"], s["points"], s["mode"]) for s in stored.subtasks] == [
        ("small", 20, "all_or_nothing"), ("medium", 30, "all_or_nothing"), ("large", 50, "all_or_nothing"),
    ]  # fmt: skip
    assert stored.declares_subtasks and stored.checker == "ignore_trailing_whitespace"
    rows = jobs.get_submissions(session=session, grading_id=grading.id)
    assert [(r.position, r.label, r.status, r.max_score) for r in rows] == [
        (0, "s0", "queued", 100), (1, "s1", "queued", 100),
    ]  # fmt: skip
    assert jobs.count_queued(session=session) == 2
    assert jobs.grading_status(stored, [r.status for r in rows]) == "queued"


def test_the_same_problem_is_stored_once(session: Session) -> None:
    first, _ = create(session)
    second, _ = create(session)
    assert first.problem_digest == second.problem_digest
    assert session.scalar(select(func.count()).select_from(GradingProblem)) == 1
    assert jobs.get_problem_archive(session=session, problem_digest=first.problem_digest) == b"archive"


def test_a_claim_is_conditional_and_fences_later_writes(session: Session) -> None:
    _, (submission_id, _) = create(session)
    attempt = jobs.claim_submission(session=session, submission_id=submission_id, worker="w1", lease_s=60)
    assert attempt == 1
    assert (
        jobs.claim_submission(session=session, submission_id=submission_id, worker="w2", lease_s=60) is None
    )
    assert jobs.record_progress(
        session=session, submission_id=submission_id, attempt=1, results=[RESULT], lease_s=60
    )
    assert row(session, submission_id).results == [RESULT]
    # A stale claim (attempt 0) writes nothing.
    assert not jobs.record_progress(
        session=session, submission_id=submission_id, attempt=0, results=[], lease_s=1
    )
    outcome = jobs.SubmissionOutcome(results=[RESULT], score=20, verdict="accepted", compile_output=None)
    assert jobs.finish_submission(session=session, submission_id=submission_id, attempt=1, outcome=outcome)
    done = row(session, submission_id)
    assert (done.status, done.score, done.verdict, done.lease_expires_at) == ("done", 20, "accepted", None)
    assert not jobs.fail_submission(session=session, submission_id=submission_id, attempt=1, message="late")


def test_progress_renews_the_lease(session: Session) -> None:
    _, (submission_id, _) = create(session)
    jobs.claim_submission(session=session, submission_id=submission_id, worker="w", lease_s=1)
    first = row(session, submission_id).lease_expires_at
    jobs.record_progress(session=session, submission_id=submission_id, attempt=1, results=[], lease_s=3600)
    renewed = row(session, submission_id).lease_expires_at
    assert first is not None and renewed is not None and renewed - first > timedelta(minutes=30)


def test_cancelling_stops_queued_and_running_but_keeps_results(session: Session) -> None:
    grading, (running, queued) = create(session)
    jobs.claim_submission(session=session, submission_id=running, worker="w", lease_s=60)
    jobs.record_progress(session=session, submission_id=running, attempt=1, results=[RESULT], lease_s=60)
    assert jobs.cancel_grading(session=session, grading_id=grading.id) == 2
    assert row(session, queued).status == row(session, running).status == "cancelled"
    assert row(session, running).results == [RESULT]
    # The worker's next write is refused: it stops; nobody can claim the queued one any more.
    assert not jobs.record_progress(session=session, submission_id=running, attempt=1, results=[], lease_s=60)
    assert jobs.claim_submission(session=session, submission_id=queued, worker="w", lease_s=60) is None
    session.expire_all()
    stored = jobs.get_grading(session=session, grading_id=grading.id)
    assert stored is not None and stored.cancelled_at is not None
    assert jobs.grading_status(stored, ["cancelled", "cancelled"]) == "cancelled"
    assert jobs.cancel_grading(session=session, grading_id=grading.id) == 0  # harmless twice


def test_a_released_submission_is_queued_again(session: Session) -> None:
    _, (submission_id, _) = create(session)
    jobs.claim_submission(session=session, submission_id=submission_id, worker="w", lease_s=60)
    assert jobs.release_submission(session=session, submission_id=submission_id, attempt=1)
    assert row(session, submission_id).status == "queued"
    assert jobs.claim_submission(session=session, submission_id=submission_id, worker="w", lease_s=60) == 2


def test_an_abandoned_claim_is_requeued_then_failed_after_max_attempts(session: Session) -> None:
    _, (submission_id, _) = create(session)
    later = utcnow() + timedelta(hours=1)
    jobs.claim_submission(session=session, submission_id=submission_id, worker="w", lease_s=60)
    jobs.record_progress(
        session=session, submission_id=submission_id, attempt=1, results=[RESULT], lease_s=60
    )
    assert jobs.requeue_abandoned(session=session, max_attempts=2, now=utcnow()) == []  # lease still valid
    assert jobs.requeue_abandoned(session=session, max_attempts=2, now=later) == [submission_id]
    # It starts over: the results of the dead attempt are cleared by the next claim.
    assert jobs.claim_submission(session=session, submission_id=submission_id, worker="w", lease_s=60) == 2
    assert row(session, submission_id).results == []
    assert jobs.requeue_abandoned(session=session, max_attempts=2, now=later) == []
    failed = row(session, submission_id)
    assert failed.status == "failed" and "died 2 times" in (failed.message or "")


def test_stale_messages_are_resent_oldest_first_up_to_a_limit(session: Session) -> None:
    _, ids = create(session, count=3)
    now = utcnow() + timedelta(minutes=5)
    assert jobs.resend_stale(session=session, older_than_s=3600, now=now) == []
    resent = jobs.resend_stale(session=session, older_than_s=60, limit=2, now=now)
    assert len(resent) == 2 and set(resent) <= set(ids)
    # Just resent: not stale any more.
    assert set(jobs.resend_stale(session=session, older_than_s=60, now=now)) == set(ids) - set(resent)


def test_grading_status() -> None:
    grading = Grading(cancelled_at=None)
    assert jobs.grading_status(grading, ["queued", "queued"]) == Status.QUEUED
    assert jobs.grading_status(grading, ["done", "queued"]) == Status.RUNNING
    assert jobs.grading_status(grading, ["done", "failed"]) == Status.DONE
    assert jobs.grading_status(grading, ["failed", "failed"]) == Status.FAILED
