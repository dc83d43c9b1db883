"""The FastAPI application: `uvicorn api.main:create_app --factory` (or `jaula up`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import APIRouter, FastAPI

from api import errors
from api.body_limit import BodyLimit
from api.ratelimit import RateLimiter
from api.routes import gradings, health, languages, runs, web
from api.services import Services
from api.store import RunStore
from api.waiting import FinishedRuns
from core.config import Settings, get_settings
from core.db import dispose_all, session_factory
from core.languages import catalogue
from core.queue import broker_client, make_celery

DESCRIPTION = """\
Run untrusted programs in fresh containers (namespaces, cgroups, overlayfs) and get their output,
verdict and resource figures. Submit with `POST /v1/runs`, read with `GET /v1/runs/{id}`.

When the server has API tokens configured, send yours in the `X-Auth-Token` header.
"""


def max_run_body_bytes(settings: Settings) -> int:
    """The largest body a valid single run can have: maximal source, stdin and args, base64."""
    per_run = settings.max_source_bytes + settings.max_stdin_bytes
    per_run += settings.max_args * settings.max_arg_bytes
    return per_run * 4 // 3 + 64 * 1024


def max_body_bytes(settings: Settings) -> int:
    """The largest body a valid request can have: a full batch of maximal runs."""
    return settings.batch_max_size * max_run_body_bytes(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(settings.broker)
        broker = broker_client(settings.broker)  # for the thread pool's blocking sends
        finished = FinishedRuns(settings.broker)
        celery = make_celery(settings, name="jaula-api")
        app.state.services = Services(
            settings=settings,
            languages=catalogue(),
            store=RunStore(settings, session_factory(settings.database), broker),
            finished=finished,
            limiter=RateLimiter(
                client, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
            ),
            redis=client,
            celery=celery,
        )
        await finished.start()
        try:
            yield
        finally:
            await finished.stop()
            await client.aclose()
            broker.close()
            celery.close()
            dispose_all()

    app = FastAPI(
        title="jaula",
        summary="A sandboxed code-execution service: a judge and a playground.",
        description=DESCRIPTION,
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served by web.api_reference, without a CDN
    )
    errors.install(app)
    v1 = APIRouter(prefix="/v1")
    v1.include_router(runs.router)
    v1.include_router(languages.router)
    v1.include_router(gradings.router)
    app.include_router(v1)
    app.include_router(health.router)
    # Our own rather than FastAPI's `max_body_size`, which answers in plain text, not JSON.
    app.add_middleware(
        BodyLimit,
        max_bytes=max_body_bytes(settings),
        per_path={"/v1/runs": max_run_body_bytes(settings)},
        timeout_s=settings.body_timeout_s,
    )
    web.api_reference(app)
    web.mount(app)  # last: the playground's files answer every path the API does not
    return app
