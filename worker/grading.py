"""Grading in the worker: one Celery task per submission, and the reconciler of gradings.

    carry_out(submission_id)
        read the submission; nothing to do unless it is queued (a duplicate message)
        the problem from this host's cache (unpacked once; a custom checker compiled once)
        claim it (queued -> running) with a lease for the compile and the first test
        compile once; run every test in a fresh container; after each one, store the results so
        far and renew the lease (refused: the grading was cancelled or the claim lost -> stop)
        store the results and the score                      -> finish_submission (done)
        the sandbox launcher died under it (transient)        -> release_submission, resend
        the sandbox, an image or the checker failed           -> fail_submission (with why)

Why one task per submission rather than one per test: the compiled artefact is a directory on
the host that compiled it, so a submission's tests run where it was compiled, with no artefact
store shared between hosts; a task per test would also add a claim, a broker round trip and a
database write per test, which cost as much as the test's own container (docs/grading.md).
Parallelism comes from the many submissions of a grading spread over every worker slot.

Grading messages travel on a queue of their own (core.grading.queue); every worker consumes it
besides the runs' queue: `celeryd_after_setup` adds it to whatever `--queues` selected. Like the
runs' reconciler (worker.maintenance), a thread requeues submissions whose worker died and
resends lost messages, in one worker at a time (a Redis lock per interval).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from celery import Celery, signals
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

import sandbox
from core.execution import SubmissionError, submission_files
from core.grading import jobs
from core.grading.archive import ArchiveCaps, ArchiveError
from core.grading.cache import ProblemCache
from core.grading.checkers import CheckerFailed
from core.grading.grader import GradingStopped, Submission, checker_program_parts, grade_submission
from core.grading.models import Grading, GradingSubmission
from core.grading.problem import CheckerKind, Problem, ProblemError
from core.grading.queue import (
    GRADE_TASK,
    GRADING_QUEUE,
    GRADING_RECONCILER_LOCK,
    queue_depth,
    send_submissions,
)
from core.grading.results import TestResult
from core.images import ImageError, open_store
from core.languages import Language, UnknownLanguage
from core.models import Status
from worker.app import app
from worker.execute import Context, context

log = logging.getLogger(__name__)

Resend = Callable[[uuid.UUID], None]


@app.task(name=GRADE_TASK)
def grade(submission_id: str) -> None:
    """Grade one submission of a grading; a duplicate message does nothing."""
    carry_out(uuid.UUID(submission_id), resend=lambda again: send_submissions(app, [again]))


@cache
def problem_cache() -> ProblemCache:
    ctx = context()
    settings = ctx.settings
    caps = ArchiveCaps(
        max_entries=settings.grading_max_problem_files,
        max_bytes=settings.grading_max_problem_unpacked_bytes,
    )
    return ProblemCache(
        settings.scratch_path / "problems", settings=settings, languages=ctx.languages, caps=caps
    )


def carry_out(
    submission_id: uuid.UUID,
    *,
    resend: Resend,
    ctx: Context | None = None,
    problems: ProblemCache | None = None,
) -> None:
    ctx = ctx or context()
    problems = problems or problem_cache()
    with ctx.sessions() as session:
        submission = jobs.get_submission(session=session, submission_id=submission_id)
        grading = jobs.get_grading(session=session, grading_id=submission.grading_id) if submission else None
    if submission is None or grading is None or submission.status != Status.QUEUED:
        state = submission.status if submission else "unknown"
        log.info("grading submission %s: %s, nothing to do", submission_id, state)
        return
    try:
        language = ctx.languages.get(submission.language)
        problem = problems.problem(grading.problem_digest, lambda: _archive(ctx, grading.problem_digest))
    except (UnknownLanguage, ArchiveError, ProblemError, ValueError) as exc:
        _claim_and_fail(ctx, submission_id, f"This submission could not be graded here: {exc}")
        return
    budget = _Budget(problem, language, ctx)
    with ctx.sessions() as session:
        attempt = jobs.claim_submission(
            session=session, submission_id=submission_id, worker=ctx.name, lease_s=budget.first_lease_s
        )
    if attempt is None:
        log.info("grading submission %s: claimed by another worker", submission_id)
        return
    if not _grade_and_store(ctx, problems, grading, submission, problem, language, attempt, budget):
        resend(submission_id)


class _Budget:
    """How long a claim may go without news before its worker is presumed dead."""

    def __init__(self, problem: Problem, language: Language, ctx: Context) -> None:
        test_s = problem.limits.for_language(language).wall_time_limit_s
        if problem.checker.kind is CheckerKind.CUSTOM:
            test_s += checker_program_parts(problem, ctx.languages)[2].wall_time_limit_s
        compile_s = language.compile_limits.wall_time_s if language.compiled else 0.0
        grace_s = ctx.settings.lease_grace_s
        self.first_lease_s = compile_s + test_s + grace_s
        """At the claim: the compile and the first test."""
        self.test_lease_s = test_s + grace_s
        """After each test: the next one."""


def _grade_and_store(
    ctx: Context,
    problems: ProblemCache,
    grading: Grading,
    row: GradingSubmission,
    problem: Problem,
    language: Language,
    attempt: int,
    budget: _Budget,
) -> bool:
    """Grade and store the outcome; False when the submission was released to be tried again."""
    results: list[dict[str, Any]] = []

    def on_test(result: TestResult) -> None:
        results.append(result.to_json())
        with ctx.sessions() as session:
            if not jobs.record_progress(
                session=session,
                submission_id=row.id,
                attempt=attempt,
                results=results,
                lease_s=budget.test_lease_s,
            ):
                raise GradingStopped

    def fail(message: str) -> None:
        with ctx.sessions() as session:
            jobs.fail_submission(session=session, submission_id=row.id, attempt=attempt, message=message)

    try:
        submission = Submission(
            label=row.label,
            language=language,
            files=submission_files(language, row.source),
            compiler_options=tuple(row.compiler_options),
        )
        with problems.checker(grading.problem_digest, problem) as checker:
            graded = grade_submission(
                problem,
                submission,
                checker,
                stop_on_first_failure=grading.stop_on_first_failure,
                on_test=on_test,
                store=open_store(settings=ctx.settings),
                languages=ctx.languages,
                settings=ctx.settings,
            )
    except GradingStopped:
        log.info("grading submission %s: cancelled, or its claim was lost; stopped", row.id)
        return True
    except sandbox.LauncherDied as exc:
        if attempt < ctx.settings.max_attempts:
            log.warning("grading submission %s: the sandbox launcher died (%s); requeued", row.id, exc)
            with ctx.sessions() as session:
                return not jobs.release_submission(session=session, submission_id=row.id, attempt=attempt)
        fail(f"The sandbox failed {attempt} times, so the submission was not graded: {exc}")
    except sandbox.SandboxError as exc:
        log.warning("grading submission %s: the sandbox failed: %s", row.id, exc)
        fail(f"The sandbox failed, so the submission was not graded: {exc}")
    except CheckerFailed as exc:
        fail(f"The problem's checker failed, so the submission was not graded: {exc}")
    except (ImageError, SubmissionError) as exc:
        fail(f"This submission could not be graded here: {exc}")
    except Exception:
        log.exception("grading submission %s: internal error", row.id)
        fail("An internal error stopped this grading; the operators can find it in the logs.")
    else:
        outcome = jobs.SubmissionOutcome(
            results=[test.to_json() for test in graded.tests],
            score=graded.score.score,
            verdict=graded.verdict,
            compile_output=_text(graded.compile_output),
        )
        with ctx.sessions() as session:
            if not jobs.finish_submission(
                session=session, submission_id=row.id, attempt=attempt, outcome=outcome
            ):
                log.warning("grading submission %s: attempt %d lost its claim", row.id, attempt)
    return True


def _archive(ctx: Context, problem_digest: str) -> bytes:
    with ctx.sessions() as session:
        archive = jobs.get_problem_archive(session=session, problem_digest=problem_digest)
    if archive is None:
        raise ValueError(f"problem {problem_digest} is not in the database")
    return archive


def _claim_and_fail(ctx: Context, submission_id: uuid.UUID, message: str) -> None:
    log.warning("grading submission %s: %s", submission_id, message)
    with ctx.sessions() as session:
        attempt = jobs.claim_submission(
            session=session, submission_id=submission_id, worker=ctx.name, lease_s=ctx.settings.lease_grace_s
        )
        if attempt is not None:
            jobs.fail_submission(
                session=session, submission_id=submission_id, attempt=attempt, message=message
            )


def _text(output: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL, which a compiler may well echo back from a source.
    return None if output is None else output.replace("\0", "\ufffd")


# --- The reconciler of gradings -------------------------------------------------------------------

_stop = threading.Event()
_thread: threading.Thread | None = None


def reconcile(ctx: Context, celery: Celery) -> list[str]:
    """One pass (see worker.maintenance for the runs' twin); returns the ids sent again."""
    with ctx.sessions() as session:
        abandoned = jobs.requeue_abandoned(session=session, max_attempts=ctx.settings.max_attempts)
    if abandoned:
        log.warning("requeued %d grading submission(s) abandoned by a dead worker", len(abandoned))
        send_submissions(celery, abandoned)
    with ctx.sessions() as session:
        missing = jobs.count_queued(session=session) - queue_depth(ctx.redis)
    stale: list[uuid.UUID] = []
    if missing > 0:
        with ctx.sessions() as session:
            stale = jobs.resend_stale(
                session=session, older_than_s=ctx.settings.requeue_after_s, limit=missing
            )
    if stale:
        log.warning("resent %d queued grading submission(s) whose message may be lost", len(stale))
        send_submissions(celery, stale)
    return [str(submission_id) for submission_id in abandoned + stale]


def _reconcile_loop(ctx: Context, celery: Celery) -> None:
    interval = ctx.settings.reconcile_interval_s
    while not _stop.wait(interval):
        try:
            if ctx.redis.set(GRADING_RECONCILER_LOCK, ctx.name, nx=True, px=int(interval * 1000)):
                reconcile(ctx, celery)
        except (RedisError, OperationalError, SQLAlchemyError, OSError) as exc:
            log.warning("grading reconciler pass failed, retrying in %.1f s: %s", interval, exc)


@signals.celeryd_after_setup.connect
def _consume_the_grading_queue(instance: Any, **_: Any) -> None:
    # After --queues was applied: add ours to whatever it selected.
    instance.app.amqp.queues.select_add(GRADING_QUEUE)


@signals.worker_ready.connect
def _start_reconciler(**_: Any) -> None:
    global _thread
    _stop.clear()
    _thread = threading.Thread(
        target=_reconcile_loop, args=(context(), app), name="jaula-grading-reconciler", daemon=True
    )
    _thread.start()


@signals.worker_shutdown.connect
def _stop_reconciler(**_: Any) -> None:
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=10)
