"""The API's side of grading: store a grading and send its submissions; read, cancel.

As for runs (api.store): blocking work in plain methods that routes call through the thread
pool; the rows are committed before their messages exist, and a message that cannot be sent
is not the client's problem (the grading reconciler resends it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from sqlalchemy.orm import Session, sessionmaker

from api.store import check_room
from core.config import Settings
from core.grading import jobs
from core.grading.models import Grading, GradingSubmission
from core.grading.queue import send_submissions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredGrading:
    grading: Grading
    submissions: list[GradingSubmission]


class GradingStore:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], celery: Celery) -> None:
        self.settings = settings
        self.sessions = sessions
        self.celery = celery

    def check_room(self, submissions: int) -> None:
        """503 with Retry-After when the queue has no room for them now; 422 when it never will."""
        check_room(
            self.settings,
            submissions,
            self._count_queued,
            unit="submissions",
            queue="grading queue",
            request="one grading",
            split="split them into several gradings",
        )

    def _count_queued(self) -> int:
        with self.sessions() as session:
            return jobs.count_queued(session=session)

    def store(self, request: jobs.GradingRequest) -> StoredGrading:
        """Insert the grading and its queued submissions; 503 when the queue is already full."""
        # As for runs: the count and the insert are separate transactions (see api.store).
        self.check_room(len(request.submissions))
        with self.sessions() as session:
            grading, submissions = jobs.create_grading(session=session, request=request)
            return StoredGrading(grading, submissions)

    def send(self, submission_ids: Sequence[uuid.UUID]) -> None:
        try:
            send_submissions(self.celery, submission_ids)
        except (OperationalError, RedisError, OSError) as exc:
            count = len(submission_ids)
            log.warning("could not queue %d submission(s) now, the reconciler will: %s", count, exc)

    def get(self, grading_id: uuid.UUID) -> StoredGrading | None:
        with self.sessions() as session:
            grading = jobs.get_grading(session=session, grading_id=grading_id)
            if grading is None:
                return None
            return StoredGrading(grading, jobs.get_submissions(session=session, grading_id=grading_id))

    def cancel(self, grading_id: uuid.UUID) -> None:
        with self.sessions() as session:
            jobs.cancel_grading(session=session, grading_id=grading_id)
