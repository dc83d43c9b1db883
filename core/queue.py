"""The queue: one Celery configuration shared by the API (producer) and the worker (consumer).

Only a run's id travels through the broker; the database holds everything else and is the truth
(the result backend is off). The API sends tasks by name, so it never imports the worker.

Delivery is at least once: messages are acknowledged after the task ran (late acks) and given
back when a worker process dies mid-task, and `core.jobs.claim_run` makes every duplicate a no-op.
Messages lost with the broker (a Redis restart without persistence) are resent by the reconciler.

Besides the Celery queue, two small Redis conventions live here because both sides use them:
a pub/sub channel on which workers announce finished runs (the API's `?wait=true` listens), and
worker heartbeat keys (the API's /healthz counts them).

An announcement names the run, and carries what its worker stored at its end (core.jobs.
FinishedRun) when that is small: a waiting request then answers with it instead of reading the
row back, which was a fifth of a hello world's time at low load. A plain id (a large output, a
cancellation, an older worker) means "read it from the database".
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import redis
from celery import Celery
from kombu.transport import redis as kombu_redis

from core.config import Settings
from core.jobs import FinishedRun

RUN_TASK = "jaula.run"
QUEUE = "jaula"

FINISHED_CHANNEL = "jaula:runs:finished"
"""Pub/sub channel; each message announces a run that just became final (see `announcement`)."""
ANNOUNCED_OUTPUT_MAX_BYTES = 32 * 1024
"""A run whose outputs are larger is announced by its id alone (every API process receives
every announcement; a waiter then reads the row)."""
HEARTBEAT_PREFIX = "jaula:worker:"
"""A worker refreshes `jaula:worker:<host:pid>` (with an expiry) while it is alive."""
HEARTBEAT_TTL_S = 15
RECONCILER_LOCK = "jaula:reconciler"
"""Held for one interval by the worker whose reconciler pass runs; the others skip theirs."""


class _Channel(kombu_redis.Channel):
    """kombu's Redis channel, with one client object per connection pool.

    kombu builds a new `redis.Redis` for every command it sends outside its event loop (each
    publish; in a worker, each message's unacked-index write and its ack), and redis-py fills a
    table of ~170 response callbacks in every client's constructor. A client holds no connection
    of its own (each command borrows one from the pool, thread-safely), so one per pool does the
    same work without that cost.
    """

    _shared_client: redis.Redis | None = None

    @contextlib.contextmanager
    def conn_or_acquire(self, client: redis.Redis | None = None) -> Iterator[redis.Redis]:
        if client:
            yield client
            return
        shared = self._shared_client
        if shared is None or shared.connection_pool is not self.pool:  # the pool was replaced
            shared = self._shared_client = self._create_client()  # type: ignore[attr-defined]
        yield shared


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above (selected by `broker_transport`)."""

    Channel = _Channel


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker,
        "broker_transport": f"{__name__}:{RedisTransport.__name__}",
        # JSON only: a message is an id, and nothing from the broker is ever unpickled.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        # The database is the result store; no Celery result backend.
        "result_backend": None,
        "task_ignore_result": True,
        # Acknowledge after the run, and give the message back if the worker process dies:
        # with the conditional claim, delivery is at least once and the effect exactly once.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One message per free sandbox slot: a busy worker does not hoard queued runs.
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": settings.worker_concurrency,
        "task_default_queue": QUEUE,
        # Redis redelivers a message not acknowledged within this time (longer than any run).
        "broker_transport_options": {"visibility_timeout": settings.broker_visibility_timeout_s},
        # The worker rides out broker restarts; the API gives up quickly (the reconciler resends).
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        # A run in progress when the broker connection drops still finishes and stores its result.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
    }


def make_celery(settings: Settings, name: str = "jaula") -> Celery:
    app = Celery(name, set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


def queue_depth(client: redis.Redis) -> int:
    """Messages waiting in the broker (not counting those a worker has reserved)."""
    return int(client.llen(QUEUE))


def send_runs(app: Celery, run_ids: Iterable[uuid.UUID]) -> None:
    """Send one message per run id over a single broker connection."""
    with app.producer_or_acquire() as producer:
        for run_id in run_ids:
            app.send_task(RUN_TASK, args=[str(run_id)], producer=producer)


_BYTES_FIELDS = frozenset({"stdout", "stderr", "compile_output"})
_TIME_FIELDS = frozenset({"queued_at", "started_at", "finished_at"})


def announcement(run: uuid.UUID | FinishedRun) -> str:
    """The message announcing that a run is final: `{"id": ..., "run": {...}}` (JSON) with what
    was stored, or the bare id when only that is given or the outputs are large."""
    if isinstance(run, uuid.UUID):
        return str(run)
    outputs = (run.stdout, run.stderr, run.compile_output)
    if sum(len(output) for output in outputs if output is not None) > ANNOUNCED_OUTPUT_MAX_BYTES:
        return str(run.id)
    values: dict[str, Any] = {}
    for field in fields(run):
        value = getattr(run, field.name)
        if field.name == "id":
            continue
        if value is not None and field.name in _BYTES_FIELDS:
            value = base64.b64encode(value).decode("ascii")
        elif field.name in _TIME_FIELDS:
            value = value.isoformat()
        values[field.name] = value
    return json.dumps({"id": str(run.id), "run": values}, separators=(",", ":"))


def read_announcement(message: bytes | str) -> tuple[uuid.UUID, FinishedRun | None]:
    """The run an announcement names, and what it carries of it (None: read the database).
    Raises ValueError when the message is neither."""
    text = message.decode() if isinstance(message, bytes) else message
    if not text.startswith("{"):
        return uuid.UUID(text), None
    try:
        document = json.loads(text)
        run_id = uuid.UUID(document["id"])
        values = dict(document["run"])
        for name in _BYTES_FIELDS:
            if values.get(name) is not None:
                values[name] = base64.b64decode(values[name], validate=True)
        for name in _TIME_FIELDS:
            values[name] = datetime.fromisoformat(values[name])
        return run_id, FinishedRun(id=run_id, **values)
    except (KeyError, TypeError) as exc:  # JSON, but not an announcement
        raise ValueError(f"not an announcement: {text[:80]!r}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """What a live worker says about itself, every few seconds, under its heartbeat key."""

    worker: str
    """host:pid"""
    slots: int
    """Runs it can carry out at once (its sandbox slots)."""
    sandbox_ok: bool
    sandbox_detail: str
    """The sandbox self-check's verdict on this host, in one line."""

    @property
    def key(self) -> str:
        return HEARTBEAT_PREFIX + self.worker

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Heartbeat:
        return cls(**json.loads(text))
