"""Dependencies as types: route signatures say what they use (`services: ServicesDep`)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security, status
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from api.services import Services

TOKEN_HEADER = "X-Auth-Token"

_token_header = APIKeyHeader(
    name=TOKEN_HEADER,
    auto_error=False,
    description="An API token; needed only when the server has tokens configured.",
)


# Dependencies are `async def` although they never await: FastAPI runs plain `def` dependencies
# in its thread pool, which costs two context switches per request for a dictionary lookup.


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


@dataclass(frozen=True, slots=True)
class Caller:
    token: str | None
    """The token the request was made with; None when the API is open."""


async def _caller(services: ServicesDep, token: Annotated[str | None, Security(_token_header)]) -> Caller:
    tokens = services.settings.api_tokens
    if not tokens:
        return Caller(None)
    if not token:
        raise ApiError(
            status.HTTP_401_UNAUTHORIZED,
            f"This server needs an API token: send it in the {TOKEN_HEADER} header.",
            headers={"WWW-Authenticate": TOKEN_HEADER},
        )
    # Compare against every token in constant time, so timing reveals nothing about them.
    matches = [hmac.compare_digest(token.encode(), known.encode()) for known in tokens]
    if not any(matches):
        raise ApiError(
            status.HTTP_401_UNAUTHORIZED,
            f"The token in {TOKEN_HEADER} is not valid here; check it with the operator.",
            headers={"WWW-Authenticate": TOKEN_HEADER},
        )
    return Caller(token)


CallerDep = Annotated[Caller, Depends(_caller)]


async def charge(services: Services, caller: Caller, runs: int) -> None:
    """Count `runs` submissions against the caller's rate limit; 429 with Retry-After past it.
    (Check the queue's room first: a request refused for want of it should cost nothing.)"""
    if caller.token is None:
        return
    refused = await services.limiter.charge(caller.token, runs)
    if refused is not None:
        raise ApiError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Rate limit reached ({services.settings.rate_limit_per_minute} runs per minute for "
            f"this token); retry in {refused.retry_after_s} s.",
            headers={"Retry-After": str(refused.retry_after_s)},
        )
