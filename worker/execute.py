"""One run, start to end: claim it, compile and run it (core.execution), store the outcome.

    carry_out(run_id)
        claim it (queued -> running), which reads it too; nothing to do if it was not queued
        (a duplicate message); the lease, set with the claim, covers its time limits
        compile if needed and run, in the sandbox          -> finish_run (done, with the result)
        the sandbox launcher died under it (transient)      -> release_run (queued again), resend
        the sandbox itself failed (SandboxError)            -> fail_run (failed, with the message)
        announce what was stored on the finished channel (answers `?wait=true` requests)

A worker that dies between claim and finish leaves the run `running`; once its lease expires the
reconciler queues it again, and the attempt number keeps a late finish from the dead claim out.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Final, Literal

import redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session, sessionmaker

import sandbox
from core import jobs
from core.config import Settings, get_settings
from core.db import session_factory
from core.execution import SubmissionError
from core.images import ImageError
from core.languages import Catalogue, Language, UnknownLanguage, catalogue
from core.queue import FINISHED_CHANNEL, announcement, broker_client
from worker.runner import run_program

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What every task of this worker process shares (built once, on first use)."""

    settings: Settings
    sessions: sessionmaker[Session]
    languages: Catalogue
    redis: redis.Redis
    name: str
    """host:pid, recorded on the runs this worker claims."""


@cache
def context() -> Context:
    settings = get_settings()
    return Context(
        settings=settings,
        sessions=session_factory(settings.database),
        languages=catalogue(),
        redis=broker_client(settings.broker),
        name=f"{socket.gethostname()}:{os.getpid()}",
    )


def language_of(run: jobs.ClaimedRun, languages: Catalogue) -> Language | None:
    try:
        return languages.get(run.language)
    except UnknownLanguage:
        return None


def lease_s(run: jobs.ClaimedRun, ctx: Context) -> float:
    """How long a claim may last before its run is presumed abandoned: time limits plus grace."""
    language = language_of(run, ctx.languages)
    if language is None:  # failed at once, see carry_out
        return ctx.settings.lease_grace_s
    compile_s = language.compile_limits.wall_time_s if language.compiled else 0.0
    return compile_s + run.limits.wall_time_limit_s + ctx.settings.lease_grace_s


Resend = Callable[[uuid.UUID], None]


class _Released(enum.Enum):
    RELEASED = enum.auto()
    """The run was given back to the queue, to be tried again."""


RELEASED: Final = _Released.RELEASED
_Stored = jobs.FinishedRun | Literal[_Released.RELEASED] | None


def carry_out(run_id: uuid.UUID, *, resend: Resend, ctx: Context | None = None) -> None:
    """Carry out one run; `resend` queues its id again (after a transient failure)."""
    ctx = ctx or context()
    with ctx.sessions() as session:
        run = jobs.claim_run(
            session=session, run_id=run_id, worker=ctx.name, lease_s=partial(lease_s, ctx=ctx)
        )
    if run is None:
        log.info("run %s: not queued (a duplicate message, or cancelled); nothing to do", run_id)
        return
    language = language_of(run, ctx.languages)
    stored: _Stored
    with ctx.sessions() as session:
        if language is None:
            message = f"This worker does not know the language {run.language!r}."
            stored = jobs.fail_run(session=session, run_id=run_id, attempt=run.attempt, message=message)
        else:
            stored = _run_and_store(session, run, language, ctx.settings)
    if stored is RELEASED:
        resend(run_id)
        return
    if stored is None:
        log.warning("run %s: attempt %d lost its claim; result dropped", run_id, run.attempt)
    # Waiters are woken either way; they read the row when the announcement carries nothing.
    _announce(ctx, stored or run_id)


def _run_and_store(session: Session, run: jobs.ClaimedRun, language: Language, settings: Settings) -> _Stored:
    """Run and store the outcome: what was stored, RELEASED when the run was given back to be
    tried again, or None when this claim lost the run meanwhile."""
    attempt = run.attempt
    try:
        outcome = run_program(run, language, settings)
    except sandbox.LauncherDied as exc:
        # The launcher process died under this run (killed, crashed): not the program's doing,
        # and the next run gets a fresh launcher. Try again, a bounded number of times.
        if attempt < settings.max_attempts:
            log.warning("run %s: the sandbox launcher died (%s); queueing it again", run.id, exc)
            released = jobs.release_run(session=session, run_id=run.id, attempt=attempt)
            return RELEASED if released else None
        message = f"The sandbox failed {attempt} times, so the program was not judged: {exc}"
        return jobs.fail_run(session=session, run_id=run.id, attempt=attempt, message=message)
    except sandbox.SandboxError as exc:
        log.warning("run %s: the sandbox failed: %s", run.id, exc)
        message = f"The sandbox failed, so the program was not judged: {exc}"
        return jobs.fail_run(session=session, run_id=run.id, attempt=attempt, message=message)
    except (ImageError, SubmissionError) as exc:
        log.warning("run %s: cannot run here: %s", run.id, exc)
        message = f"This run could not be started: {exc}"
        return jobs.fail_run(session=session, run_id=run.id, attempt=attempt, message=message)
    except Exception:
        # A bug of ours, not the program's: fail the run now (with a message the client can
        # quote) rather than let its lease expire and retry something that will fail again.
        log.exception("run %s: internal error", run.id)
        message = "An internal error stopped this run; the operators can find it in the logs."
        return jobs.fail_run(session=session, run_id=run.id, attempt=attempt, message=message)
    return jobs.finish_run(session=session, run_id=run.id, attempt=attempt, outcome=outcome)


def _announce(ctx: Context, run: uuid.UUID | jobs.FinishedRun) -> None:
    try:
        ctx.redis.publish(FINISHED_CHANNEL, announcement(run))
    except (RedisError, OSError) as exc:
        # Waiters poll the database as well; a lost announcement only delays them.
        log.info("could not announce run %s: %s", run if isinstance(run, uuid.UUID) else run.id, exc)
