"""The queue: one Celery configuration shared by the API (producer) and the worker (consumer).

Only a run's id travels through the broker; the database holds everything else and is the truth
(the result backend is off). Run messages are written here, not by Celery's producer (see
`send_runs`), so neither the API nor the reconciler needs the worker's code to send one.

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
import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import redis
from celery import Celery
from kombu.transport import redis as kombu_redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

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
        "broker_transport_options": {
            # Redis redelivers a message not acknowledged within this time (longer than any run).
            "visibility_timeout": settings.broker_visibility_timeout_s,
            # A free slot takes a run before a grading submission: BRPOP names the queues in
            # sorted order and pops the first that has a message, and "jaula" sorts before
            # "jaula.gradings". kombu's default rotates them, so under load a grading's many
            # submissions (a second or more each) took slots from people waiting on a playground.
            "queue_order_strategy": "sorted",
        },
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


def broker_client(url: str) -> redis.Redis:
    """A client for jaula's own commands on the broker's Redis (run messages, announcements,
    heartbeats, locks). A command that cannot get through is tried twice more within half a
    second, then fails: every caller has a fallback (the reconciler resends, waiters poll the
    database), and none may hang a request or a worker slot on a Redis outage."""
    return redis.Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), retries=2),
    )


def send_runs(client: redis.Redis, run_ids: Iterable[uuid.UUID]) -> None:
    """Queue one `jaula.run` message per run id, in order, with a single LPUSH.

    This is what Celery's `send_task(RUN_TASK, args=[id])` puts in Redis (Celery's message
    protocol 2 in kombu's Redis envelope; tests compare the two), written directly: Celery's
    producer spent four times as long getting there (declarations, producer pool, retries around
    a single command), on every submission's path. A message sent twice is harmless (the claim
    is conditional).
    """
    messages = [_run_message(run_id) for run_id in run_ids]
    if messages:
        client.lpush(QUEUE, *messages)


_ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def _run_message(run_id: uuid.UUID) -> str:
    task_id = str(uuid.uuid4())
    args = [str(run_id)]
    body = json.dumps([args, {}, _EMBED]).encode()
    headers: dict[str, object] = {
        "lang": "py",
        "task": RUN_TASK,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": repr(args),
        "kwargsrepr": "{}",
        "origin": _ORIGIN,
        "ignore_result": None,  # the task's own setting: no result (task_ignore_result)
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    properties: dict[str, object] = {
        "correlation_id": task_id,
        "delivery_mode": 2,  # persistent
        "delivery_info": {"exchange": "", "routing_key": QUEUE},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),  # kombu's key for the message while it is unacked
    }
    envelope = {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": properties,
    }
    return json.dumps(envelope)


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
