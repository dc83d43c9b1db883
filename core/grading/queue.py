"""The grading queue: one message per submission (its id), on a Celery queue of its own.

A queue of its own, rather than the runs' queue, because the runs' reconciler counts the messages
waiting in its queue against the runs waiting in the database (core.queue, worker.maintenance):
grading messages there would hide lost run messages. Every worker consumes both queues
(worker.grading adds this one at start-up), so nothing more needs to be started.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import redis
from celery import Celery

GRADE_TASK = "jaula.grade"
GRADING_QUEUE = "jaula.gradings"
GRADING_RECONCILER_LOCK = "jaula:reconciler:gradings"
"""Held for one interval by the worker whose grading reconciler pass runs; the others skip."""


def send_submissions(app: Celery, submission_ids: Iterable[uuid.UUID]) -> None:
    """Send one message per submission id over a single broker connection."""
    with app.producer_or_acquire() as producer:
        for submission_id in submission_ids:
            app.send_task(GRADE_TASK, args=[str(submission_id)], queue=GRADING_QUEUE, producer=producer)


def queue_depth(client: redis.Redis) -> int:
    """Grading messages waiting in the broker (not counting those a worker has reserved)."""
    return int(client.llen(GRADING_QUEUE))
