"""The API's side of the job lifecycle: store runs, send their ids, read them back.

Blocking work (database, broker) lives here in plain functions; async routes call them through
the thread pool, once per request where possible (each hop to a thread costs a context switch).
Storing and sending are separate steps on purpose: the row is committed before its message
exists, so a worker never receives an id it cannot find, and a message that fails to go out is
not an error for the client (the run is safely stored; the reconciler resends it).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence

import redis
from fastapi import status
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.errors import ApiError, invalid
from core import jobs
from core.config import Settings
from core.models import FINAL_STATUSES, Run
from core.queue import send_runs

log = logging.getLogger(__name__)


class QueueGauge:
    """How many runs are queued, re-counted at most every `max_age_s` (backpressure needs an
    estimate, not a count query on every submission)."""

    def __init__(self, sessions: sessionmaker[Session], max_age_s: float = 0.5) -> None:
        self.sessions = sessions
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._value = 0
        self._counted_at = -math.inf

    def queued(self) -> int:
        with self._lock:
            if time.monotonic() - self._counted_at > self.max_age_s:
                with self.sessions() as session:
                    self._value = jobs.count_queued(session=session)
                self._counted_at = time.monotonic()
            return self._value

    def estimate(self) -> int:
        """The last count, plus what was added since: no database read (may be 0.5 s old)."""
        with self._lock:
            return self._value

    def add(self, runs: int) -> None:
        with self._lock:
            self._value += runs


def check_room(
    settings: Settings,
    wanted: int,
    count_queued: Callable[[], int],
    *,
    unit: str,
    queue: str = "queue",
    request: str = "one request",
    split: str = "split them",
) -> None:
    """422 when `wanted` jobs could never fit in the queue; 503 with Retry-After when they do not
    fit now (the count is taken only then)."""
    cap = settings.max_queued_jobs
    if wanted > cap:
        raise invalid(f"{wanted} {unit} in {request}, more than this server ever queues ({cap}); {split}")
    queued = count_queued()
    if queued + wanted > cap:
        retry = settings.queue_full_retry_after_s
        raise ApiError(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"The {queue} is full ({queued} {unit} waiting); try again in {retry} s.",
            headers={"Retry-After": str(retry)},
        )


class RunStore:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], broker: redis.Redis) -> None:
        self.settings = settings
        self.sessions = sessions
        self.broker = broker
        self.gauge = QueueGauge(sessions)

    def submit(self, requests: Sequence[jobs.RunRequest]) -> None:
        """Store the runs (all or none), then send their ids; 503 when the queue is full."""
        self.store(requests)
        self.send([request.id for request in requests])

    def check_room(self, runs: int, queued: int | None = None) -> None:
        """503 with Retry-After when `runs` more would overfill the queue; 422 when they never
        could. `queued` defaults to a fresh count (at most 0.5 s old)."""
        count = self.gauge.queued if queued is None else lambda: queued
        check_room(self.settings, runs, count, unit="runs")

    def store(self, requests: Sequence[jobs.RunRequest]) -> None:
        # The count and the insert are separate transactions on purpose: on SQLite a transaction
        # that reads and then writes fails at once (SQLITE_BUSY) when another writer got in
        # between, instead of waiting. The cap is a soft limit; a small overshoot is harmless.
        self.check_room(len(requests))
        with self.sessions() as session:
            jobs.create_runs(session=session, requests=requests)
        self.gauge.add(len(requests))

    def send(self, run_ids: Sequence[uuid.UUID]) -> None:
        try:
            send_runs(self.broker, run_ids)
        except (RedisError, OSError) as exc:
            log.warning("could not queue %d run(s) now, the reconciler will: %s", len(run_ids), exc)

    def cancel(self, run_id: uuid.UUID) -> bool:
        with self.sessions() as session:
            return jobs.cancel_run(session=session, run_id=run_id)

    def get(self, run_id: uuid.UUID) -> jobs.RunRecord | None:
        with self.sessions() as session:
            return jobs.get_record(session=session, run_id=run_id)

    def get_many(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, jobs.RunRecord]:
        with self.sessions() as session:
            return jobs.get_records(session=session, run_ids=run_ids)

    def is_final(self, run_id: uuid.UUID) -> bool:
        with self.sessions() as session:
            state = session.scalar(select(Run.status).where(Run.id == run_id))
            return state in FINAL_STATUSES

    def check(self) -> str:
        """Raise if the database or its schema is unusable; else describe it."""
        with self.sessions() as session:
            session.execute(select(Run.id).limit(1)).all()
            return session.get_bind().dialect.name
