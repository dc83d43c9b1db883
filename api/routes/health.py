"""Health: liveness (any answer) and readiness of the database, broker, workers and sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Response, status
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.schemas import CheckPublic, HealthPublic
from api.services import Services
from core.queue import HEARTBEAT_PREFIX, Heartbeat

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 2.0


@router.get("/healthz", responses={503: {"model": HealthPublic, "description": "Not ready."}})
async def health(services: ServicesDep, response: Response) -> HealthPublic:
    """Report whether runs can be served now: 200 when ready, 503 with the failing checks."""
    database, broker, heartbeats = await asyncio.gather(
        _check(_database(services)),
        _check(_broker(services)),
        _heartbeats(services),
    )
    workers, sandbox = _workers(heartbeats), _sandbox(heartbeats)
    ready = all(check.ok for check in (database, broker, workers, sandbox))
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthPublic(ready=ready, database=database, broker=broker, workers=workers, sandbox=sandbox)


async def _check(probe: Awaitable[str]) -> CheckPublic:
    try:
        return CheckPublic(ok=True, detail=await asyncio.wait_for(probe, CHECK_TIMEOUT_S))
    except TimeoutError:
        return CheckPublic(ok=False, detail=f"no answer within {CHECK_TIMEOUT_S:g} s")
    except Exception as exc:  # a health check reports any failure, whatever it is
        return CheckPublic(ok=False, detail=f"{type(exc).__name__}: {exc}")


async def _database(services: Services) -> str:
    dialect = await run_in_threadpool(services.store.check)
    return f"{dialect}: reachable, schema present"


async def _broker(services: Services) -> str:
    await services.redis.ping()
    return "redis: reachable"


async def _heartbeats(services: Services) -> list[Heartbeat] | str:
    try:
        keys = [key async for key in services.redis.scan_iter(match=HEARTBEAT_PREFIX + "*")]
        values = await services.redis.mget(keys) if keys else []
    except (RedisError, OSError) as exc:
        return f"cannot read worker heartbeats from the broker ({exc})"
    return [Heartbeat.from_json(value) for value in values if value is not None]


def _workers(heartbeats: list[Heartbeat] | str) -> CheckPublic:
    if isinstance(heartbeats, str):
        return CheckPublic(ok=False, detail=heartbeats)
    if not heartbeats:
        return CheckPublic(ok=False, detail="no worker is alive; start one (jaula up, or celery)")
    slots = sum(beat.slots for beat in heartbeats)
    return CheckPublic(ok=True, detail=f"{len(heartbeats)} worker(s), {slots} sandbox slot(s)")


def _sandbox(heartbeats: list[Heartbeat] | str) -> CheckPublic:
    if isinstance(heartbeats, str) or not heartbeats:
        return CheckPublic(ok=False, detail="unknown: no worker reported its sandbox self-check")
    failing = [beat for beat in heartbeats if not beat.sandbox_ok]
    if len(failing) == len(heartbeats):
        return CheckPublic(ok=False, detail=f"{failing[0].worker}: {failing[0].sandbox_detail}")
    detail = f"self-check passed on {len(heartbeats) - len(failing)} worker(s)"
    if failing:
        detail += f"; failed on {failing[0].worker}: {failing[0].sandbox_detail}"
    return CheckPublic(ok=True, detail=detail)
