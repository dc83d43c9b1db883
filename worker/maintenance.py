"""A thread in every worker: its heartbeat, and the reconciler that makes sure no run is lost.

Every `reconcile_interval_s`:
  - heartbeat: refresh this worker's key in Redis (slots, sandbox self-check); /healthz reads them.
  - reconcile, in at most one worker at a time (a Redis lock held for one interval):
      * runs `running` past their lease lost their worker (killed, host gone): queue them again,
        or fail them once they have used up `max_attempts`;
      * runs `queued` whose message is older than `requeue_after_s` may have lost it (a broker
        restarted without persistence, a send that failed after the commit): when the broker
        holds fewer messages than there are queued runs, send that many again, oldest first.
    A duplicate message is harmless (the claim is conditional); counting the deficit only keeps
    a long backlog from being sent twice.

It lives in the worker (not in Celery beat or `jaula up`) so that any deployment that runs
workers reconciles, with nothing else to start; the lock keeps N workers from doing it N times.
"""

from __future__ import annotations

import logging
import threading

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from core import jobs
from core.queue import HEARTBEAT_TTL_S, RECONCILER_LOCK, Heartbeat, queue_depth, send_runs
from worker.execute import Context, context
from worker.selfcheck import sandbox_self_check

log = logging.getLogger(__name__)

_stop = threading.Event()
_thread: threading.Thread | None = None


def start(*, slots: int) -> None:
    global _thread
    _stop.clear()
    _thread = threading.Thread(target=_loop, args=(context(), slots), name="jaula-maintenance", daemon=True)
    _thread.start()


def stop() -> None:
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=10)


def _loop(ctx: Context, slots: int) -> None:
    ok, detail = sandbox_self_check(ctx)
    log.info("sandbox self-check: %s", detail)
    beat = Heartbeat(
        worker=ctx.name,
        slots=slots,
        sandbox_ok=ok,
        sandbox_detail=detail,
    )
    interval = ctx.settings.reconcile_interval_s
    while True:
        try:
            ctx.redis.set(beat.key, beat.to_json(), ex=HEARTBEAT_TTL_S)
            if ctx.redis.set(RECONCILER_LOCK, ctx.name, nx=True, px=int(interval * 1000)):
                reconcile(ctx)
        except (RedisError, SQLAlchemyError, OSError) as exc:
            log.warning("maintenance pass failed, retrying in %.1f s: %s", interval, exc)
        if _stop.wait(interval):
            break
    try:
        ctx.redis.delete(beat.key)
    except (RedisError, OSError):
        pass


def reconcile(ctx: Context) -> list[str]:
    """One reconciler pass; returns the ids it sent again (for logs and tests)."""
    with ctx.sessions() as session:
        abandoned = jobs.requeue_abandoned(session=session, max_attempts=ctx.settings.max_attempts)
    if abandoned:
        log.warning("requeued %d run(s) abandoned by a dead worker", len(abandoned))
        send_runs(ctx.redis, abandoned)
    with ctx.sessions() as session:
        queued = jobs.count_queued(session=session)
    missing = queued - queue_depth(ctx.redis)
    stale = []
    if missing > 0:
        with ctx.sessions() as session:
            stale = jobs.resend_stale(
                session=session, older_than_s=ctx.settings.requeue_after_s, limit=missing
            )
    if stale:
        log.warning("resent %d queued run(s) whose message may be lost", len(stale))
        send_runs(ctx.redis, stale)
    return [str(run_id) for run_id in abandoned + stale]
