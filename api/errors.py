"""Errors as the API answers them: a status, one readable sentence, and headers when they help.

Every error body is `{"detail": "...", "errors": [...]}` (schemas.ErrorPublic). Validation errors
from FastAPI are rewritten into the same shape, one line per invalid field; an unreachable
database is a 503 with Retry-After, and a bug a 500 that says so, both in the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by dependencies and routes; turned into a JSON error response."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        errors: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def invalid(detail: str) -> ApiError:
    return ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, detail, errors=[detail])


def too_large(detail: str) -> ApiError:
    return ApiError(status.HTTP_413_CONTENT_TOO_LARGE, detail)


def _body(detail: str, errors: Sequence[str] = ()) -> dict[str, Any]:
    return {"detail": detail, "errors": list(errors)}


def _location(loc: Sequence[int | str]) -> str:
    """('body', 'submissions', 2, 'limits', 'pids_limit') -> 'submissions[2].limits.pids_limit'."""
    text = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not text:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "request body"


def _explain(error: Mapping[str, Any]) -> str:
    where = _location(error.get("loc", ()))
    message = str(error.get("msg", "is invalid"))
    if error.get("type") == "extra_forbidden":
        return f"{where}: unknown field; remove it (see the schema at /docs)"
    if error.get("type") == "missing":
        return f"{where}: required; add it"
    if error.get("type") == "json_invalid":
        return f"request body is not valid JSON ({error.get('ctx', {}).get('error', message)})"
    return f"{where}: {message.removeprefix('Value error, ')}"


async def _on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(_body(exc.detail, exc.errors), exc.status_code, headers=exc.headers)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lines = [_explain(error) for error in exc.errors()]
    detail = "Invalid request: " + "; ".join(lines) if lines else "Invalid request."
    return JSONResponse(_body(detail, lines), status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == status.HTTP_404_NOT_FOUND and detail == "Not Found":
        detail = "No such endpoint; the API is described at /docs and /openapi.json."
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        detail = "This endpoint does not accept this method; see /docs for the ones it accepts."
    return JSONResponse(_body(detail), exc.status_code, headers=exc.headers)


async def _on_database_down(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    detail = "The database is unreachable right now; nothing was lost. Try again in a few seconds."
    return JSONResponse(_body(detail), status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error", exc_info=exc)
    detail = "Internal error: this is a bug in the server, not in the request; it has been logged."
    return JSONResponse(_body(detail), status.HTTP_500_INTERNAL_SERVER_ERROR)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    # A lost connection or an unreachable server (not a bad query, which is a bug): 503.
    app.add_exception_handler(sqlalchemy.exc.OperationalError, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)
