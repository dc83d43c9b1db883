"""Waiting for runs to finish (`?wait=true`) without polling the database in a tight loop.

Workers announce every run they finish on a Redis channel (core.queue.FINISHED_CHANNEL), with
what they stored when it is small. Each API process keeps one subscription open and wakes the
requests waiting for that run, handing them the announced final state (or None: read the row).
The database stays the truth: a waiter that hears nothing re-reads the row every `poll_s`, so a
message lost while Redis restarts delays an answer, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.jobs import FinishedRun
from core.queue import FINISHED_CHANNEL, announcement, read_announcement

log = logging.getLogger(__name__)


Announced = asyncio.Future[FinishedRun | None]
"""Resolved when the run is announced: with its final state, or None when the announcement
carried only its id."""


class FinishedRuns:
    """One Redis subscription per process, fanned out to asyncio futures keyed by run id."""

    def __init__(self, redis_url: str, *, poll_s: float = 1.0) -> None:
        self.redis_url = redis_url
        self.poll_s = poll_s
        self._waiters: dict[uuid.UUID, list[Announced]] = {}
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="finished-runs listener")
        # Do not hold up start-up for long without Redis; waiters fall back to polling.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), timeout=2.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def expecting(self, run_id: uuid.UUID) -> Iterator[Announced]:
        """Register interest before the run is sent, so its announcement cannot be missed."""
        future: Announced = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(run_id, []).append(future)
        try:
            yield future
        finally:
            waiters = self._waiters.get(run_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(run_id, None)

    async def wait(
        self,
        announced: Announced,
        *,
        timeout_s: float,
        is_final: Callable[[], Awaitable[bool]],
    ) -> bool:
        """True once the run is final (announced, or seen in the database), False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (remaining := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(announced), min(remaining, self.poll_s))
                return True
            if await is_final():
                return True
        return await is_final()

    async def announce(self, run_id: uuid.UUID) -> None:
        """Tell every API process that this run is final (best effort, like the workers do)."""
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            await client.publish(FINISHED_CHANNEL, announcement(run_id))
        except (RedisError, OSError) as exc:
            log.info("could not announce run %s: %s", run_id, exc)
        finally:
            await client.aclose()

    def _wake_waiters(self, data: bytes | str) -> None:
        try:
            run_id, finished = read_announcement(data)
        except ValueError:
            log.warning("ignored a message on %s that announces no run: %.80r", FINISHED_CHANNEL, data)
            return
        for future in self._waiters.pop(run_id, []):
            if not future.done():
                future.set_result(finished)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            client = aioredis.Redis.from_url(self.redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(FINISHED_CHANNEL)
                    self.subscribed.set()
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake_waiters(message["data"])
            except (RedisError, OSError) as exc:
                log.info("finished-runs subscription lost (%s); retrying in %.1f s", exc, delay)
            finally:
                self.subscribed.clear()
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
