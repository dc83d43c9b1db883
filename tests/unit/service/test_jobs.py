"""Job state transitions on a real (SQLite) database: claims are conditional, finishes fenced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from core import jobs
from core.limits import RunLimits
from core.models import Status

OUTCOME = jobs.RunOutcome(
    verdict="ok",
    exit_code=0,
    signal=None,
    cpu_time_ms=7,
    wall_time_ms=9,
    memory_peak_bytes=1 << 20,
    stdout=b"\xff\x00hi\n",
    stderr=b"",
    stdout_truncated=False,
    stderr_truncated=False,
    compile_output=None,
    message=None,
)


def new_request() -> jobs.RunRequest:
    return jobs.RunRequest(
        language="python",
        files={"main.py": b"print(1)"},
        main_file="main.py",
        stdin=b"in",
        args=["-x"],
        compiler_options=[],
        limits=RunLimits(),
    )


def new_run(session: Session) -> uuid.UUID:
    request = new_request()
    (run_id,) = jobs.create_runs(session=session, requests=[request])
    assert run_id == request.id
    return run_id


def claim(session: Session, run_id: uuid.UUID, worker: str, *, lease_s: float) -> int | None:
    """Claim as a worker would, with a fixed lease; the attempt number, or None."""
    claimed = jobs.claim_run(session=session, run_id=run_id, worker=worker, lease_s=lambda _: lease_s)
    return None if claimed is None else claimed.attempt


def status_of(session: Session, run_id: uuid.UUID) -> str:
    session.expire_all()
    run = jobs.get_run(session=session, run_id=run_id)
    assert run is not None
    return run.status


def test_a_new_run_is_queued_with_its_request(session: Session) -> None:
    run_id = new_run(session)
    session.expire_all()
    run = jobs.get_run(session=session, run_id=run_id)
    assert run is not None
    assert (run.status, run.attempts, run.files, run.stdin) == (
        "queued",
        0,
        {"main.py": "cHJpbnQoMSk="},
        b"in",
    )
    assert run.queued_at.tzinfo is UTC
    assert jobs.count_queued(session=session) == 1


def test_only_the_first_claim_wins(session: Session) -> None:
    run_id = new_run(session)
    assert claim(session, run_id, "h:1", lease_s=60) == 1
    assert claim(session, run_id, "h:2", lease_s=60) is None
    assert status_of(session, run_id) == Status.RUNNING
    assert jobs.count_queued(session=session) == 0


def test_the_claim_returns_the_request_and_sets_a_lease_from_it(session: Session) -> None:
    run_id = new_run(session)
    claimed = jobs.claim_run(
        session=session,
        run_id=run_id,
        worker="h:1",
        lease_s=lambda run: run.limits.wall_time_limit_s + 30,
    )
    assert claimed == jobs.ClaimedRun(
        id=run_id,
        attempt=1,
        language="python",
        files={"main.py": "cHJpbnQoMSk="},
        main_file="main.py",
        stdin=b"in",
        args=["-x"],
        compiler_options=[],
        limits=RunLimits(),
    )
    session.expire_all()
    run = jobs.get_run(session=session, run_id=run_id)
    assert run is not None and run.started_at is not None and run.lease_expires_at is not None
    assert (run.status, run.worker) == ("running", "h:1")
    assert run.lease_expires_at - run.started_at == timedelta(seconds=RunLimits().wall_time_limit_s + 30)


def test_claiming_an_unknown_run_claims_nothing(session: Session) -> None:
    assert claim(session, uuid.uuid4(), "h:1", lease_s=60) is None


def test_finish_stores_the_result_once(session: Session) -> None:
    run_id = new_run(session)
    attempt = claim(session, run_id, "h:1", lease_s=60)
    assert attempt is not None
    assert jobs.finish_run(session=session, run_id=run_id, attempt=attempt, outcome=OUTCOME)
    assert not jobs.finish_run(session=session, run_id=run_id, attempt=attempt, outcome=OUTCOME)
    assert not jobs.fail_run(session=session, run_id=run_id, attempt=attempt, message="late")
    session.expire_all()
    run = jobs.get_run(session=session, run_id=run_id)
    assert run is not None
    assert (run.status, run.verdict, run.stdout, run.message) == (
        "done",
        "ok",
        b"\xff\x00hi\n",
        None,
    )
    assert run.finished_at is not None and run.lease_expires_at is None


def test_a_queued_run_cannot_be_finished(session: Session) -> None:
    run_id = new_run(session)
    assert not jobs.finish_run(session=session, run_id=run_id, attempt=0, outcome=OUTCOME)
    assert status_of(session, run_id) == Status.QUEUED


def test_what_finish_and_fail_return_is_the_record_as_read_back(session: Session) -> None:
    done, failed = new_request(), new_request()
    jobs.create_runs(session=session, requests=[done, failed])
    for request in (done, failed):
        assert claim(session, request.id, "h:1", lease_s=60) == 1
    finished = jobs.finish_run(session=session, run_id=done.id, attempt=1, outcome=OUTCOME)
    failed_run = jobs.fail_run(session=session, run_id=failed.id, attempt=1, message="no overlayfs")
    assert finished is not None and failed_run is not None
    assert (finished.status, failed_run.status, failed_run.verdict) == ("done", "failed", None)
    # What a waiting request is answered with (core.queue announces it) is what a GET reads.
    assert jobs.record_of(done, finished) == jobs.get_record(session=session, run_id=done.id)
    assert jobs.record_of(failed, failed_run) == jobs.get_record(session=session, run_id=failed.id)


def test_fail_records_the_message(session: Session) -> None:
    run_id = new_run(session)
    attempt = claim(session, run_id, "h:1", lease_s=60)
    assert attempt is not None
    assert jobs.fail_run(session=session, run_id=run_id, attempt=attempt, message="no overlayfs")
    session.expire_all()
    run = jobs.get_run(session=session, run_id=run_id)
    assert run is not None
    assert (run.status, run.message, run.verdict) == ("failed", "no overlayfs", None)


def test_a_released_run_is_queued_again_and_the_next_claim_counts(session: Session) -> None:
    run_id = new_run(session)
    assert claim(session, run_id, "h:1", lease_s=60) == 1
    assert jobs.release_run(session=session, run_id=run_id, attempt=1)
    assert not jobs.release_run(session=session, run_id=run_id, attempt=1)
    assert status_of(session, run_id) == Status.QUEUED
    assert claim(session, run_id, "h:2", lease_s=60) == 2
    assert not jobs.finish_run(session=session, run_id=run_id, attempt=1, outcome=OUTCOME)


def test_only_a_queued_run_can_be_cancelled(session: Session) -> None:
    queued, running = new_run(session), new_run(session)
    claim(session, running, "h", lease_s=60)
    assert jobs.cancel_run(session=session, run_id=queued)
    assert not jobs.cancel_run(session=session, run_id=queued)
    assert not jobs.cancel_run(session=session, run_id=running)
    assert (status_of(session, queued), status_of(session, running)) == ("cancelled", "running")
    # A message for the cancelled run that is still in the broker claims nothing.
    assert claim(session, queued, "h", lease_s=60) is None


def test_an_abandoned_run_is_requeued_and_the_old_claim_is_fenced_off(session: Session) -> None:
    run_id = new_run(session)
    first = claim(session, run_id, "h:1", lease_s=60)
    later = datetime.now(UTC) + timedelta(seconds=61)

    assert jobs.requeue_abandoned(session=session, max_attempts=3) == []
    assert jobs.requeue_abandoned(session=session, max_attempts=3, now=later) == [run_id]
    assert status_of(session, run_id) == Status.QUEUED

    second = claim(session, run_id, "h:2", lease_s=60)
    assert (first, second) == (1, 2)
    # The first worker was only slow, not dead: its result arrives too late and is refused.
    assert not jobs.finish_run(session=session, run_id=run_id, attempt=1, outcome=OUTCOME)
    assert jobs.finish_run(session=session, run_id=run_id, attempt=2, outcome=OUTCOME)


def test_a_run_that_exhausts_its_attempts_fails(session: Session) -> None:
    run_id = new_run(session)
    for attempt in (1, 2):
        assert claim(session, run_id, "h", lease_s=-1) == attempt
        assert jobs.requeue_abandoned(session=session, max_attempts=2) == ([run_id] if attempt < 2 else [])
    session.expire_all()
    run = jobs.get_run(session=session, run_id=run_id)
    assert run is not None
    assert run.status == Status.FAILED
    assert run.message is not None and "died 2 times" in run.message


def test_stale_queued_runs_are_resent_once_per_timeout(session: Session) -> None:
    run_id = new_run(session)
    soon = datetime.now(UTC) + timedelta(seconds=30)
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert jobs.resend_stale(session=session, older_than_s=60, now=soon) == []
    assert jobs.resend_stale(session=session, older_than_s=60, now=later) == [run_id]
    # Stamped as sent at `later`: not stale again until another timeout has passed.
    assert jobs.resend_stale(session=session, older_than_s=60, now=later) == []


def test_running_runs_are_never_resent(session: Session) -> None:
    run_id = new_run(session)
    claim(session, run_id, "h", lease_s=600)
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert jobs.resend_stale(session=session, older_than_s=60, now=later) == []


def test_get_records_returns_the_known_ones(session: Session) -> None:
    first, second = new_run(session), new_run(session)
    found = jobs.get_records(session=session, run_ids=[first, second, uuid.uuid4()])
    assert set(found) == {first, second}
    assert found[first] == jobs.get_record(session=session, run_id=first)
    assert jobs.get_record(session=session, run_id=uuid.uuid4()) is None
