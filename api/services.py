"""Everything a request handler needs, built once per process at start-up (main.lifespan)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from celery import Celery

from api.ratelimit import RateLimiter
from api.store import RunStore
from api.waiting import FinishedRuns
from core.config import Settings
from core.languages import Catalogue


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    settings: Settings
    languages: Catalogue
    store: RunStore
    finished: FinishedRuns
    limiter: RateLimiter
    redis: aioredis.Redis
    celery: Celery
    """Sends grading messages (runs' messages are written by core.queue.send_runs)."""
