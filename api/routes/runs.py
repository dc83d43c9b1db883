"""Runs: submit one or a batch, read them back, optionally wait for the result."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, ServicesDep, charge
from api.errors import ApiError, invalid
from api.results import to_public
from api.schemas import (
    BatchAccepted,
    BatchCreate,
    BatchPublic,
    Encoding,
    ErrorPublic,
    RunAccepted,
    RunCreate,
    RunPublic,
)
from api.submissions import to_run_request
from core import jobs

router = APIRouter(prefix="/runs", tags=["runs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorPublic, "description": description}
    for code, description in {
        401: "An API token is required, or the one given is not valid.",
        413: "Something is too big: source, files, stdin or the whole body.",
        422: "The request is invalid; the message names each invalid field.",
        429: "This token's rate limit is reached; see Retry-After.",
        503: "The queue is full; see Retry-After.",
    }.items()
}

EncodingQuery = Annotated[
    Encoding | None,
    Query(description="Encode outputs this way instead of as the run was submitted."),
]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted | RunPublic,
    responses={
        202: {"model": RunAccepted, "description": "Queued (or still running after the wait)."},
        200: {"model": RunPublic, "description": "Finished within the wait (`wait=true`)."},
        **ERRORS,
    },
)
async def create_run(
    body: RunCreate,
    services: ServicesDep,
    caller: CallerDep,
    response: Response,
    wait: Annotated[
        bool,
        Query(
            description="Answer with the finished run (200) if it finishes within the "
            "server's maximum wait; otherwise 202 with the id, as without it."
        ),
    ] = False,
) -> RunAccepted | RunPublic:
    """Run a program: 202 with its id, or 200 with its result when `wait=true`."""
    request = to_run_request(body, settings=services.settings, languages=services.languages)
    services.store.check_room(1, queued=services.store.gauge.estimate())
    await charge(services, caller, 1)
    if not wait:
        await run_in_threadpool(services.store.submit, [request])
        return RunAccepted(id=request.id, status="queued")
    # Listen before the run exists: its announcement can then not come before we are ready.
    with services.finished.expecting(request.id) as announced:
        await run_in_threadpool(services.store.submit, [request])
        finished = await services.finished.wait(
            announced,
            timeout_s=services.settings.wait_max_s,
            is_final=lambda: run_in_threadpool(services.store.is_final, request.id),
        )
    stored = announced.result() if finished and announced.done() else None
    if stored is not None:
        # The worker announced what it stored: answer with it rather than read the row back.
        run = jobs.record_of(request, stored)
    else:
        found = await run_in_threadpool(services.store.get, request.id)
        assert found is not None  # committed above; runs are never deleted
        run = found
    if not finished:
        return RunAccepted.model_validate({"id": run.id, "status": run.status})
    response.status_code = status.HTTP_200_OK
    return to_public(run)


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERRORS,
)
async def create_batch(body: BatchCreate, services: ServicesDep, caller: CallerDep) -> BatchAccepted:
    """Run several programs: all are queued, in order, or none (the error names the bad one)."""
    cap = services.settings.batch_max_size
    if len(body.submissions) > cap:
        raise invalid(
            f"submissions: {len(body.submissions)} runs, over this server's maximum of {cap} "
            "per batch; split them into several batches"
        )
    requests = [
        to_run_request(
            submission,
            settings=services.settings,
            languages=services.languages,
            where=f"submissions[{index}].",
        )
        for index, submission in enumerate(body.submissions)
    ]
    services.store.check_room(len(requests), queued=services.store.gauge.estimate())
    await charge(services, caller, len(requests))
    await run_in_threadpool(services.store.submit, requests)
    return BatchAccepted(runs=[RunAccepted(id=request.id, status="queued") for request in requests])


@router.get("/batch", responses={404: {"model": ErrorPublic}, 422: {"model": ErrorPublic}})
async def read_batch(
    services: ServicesDep,
    _caller: CallerDep,
    ids: Annotated[str, Query(description="Run ids separated by commas.", min_length=1)],
    encoding: EncodingQuery = None,
) -> BatchPublic:
    """Read several runs at once, in the order of `ids`."""
    run_ids = _parse_ids(ids, cap=services.settings.batch_max_size)
    runs = await run_in_threadpool(services.store.get_many, run_ids)
    missing = [str(run_id) for run_id in run_ids if run_id not in runs]
    if missing:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"No run with id {', '.join(missing)}.")
    return BatchPublic(runs=[to_public(runs[run_id], encoding) for run_id in run_ids])


def _parse_ids(text: str, *, cap: int) -> list[uuid.UUID]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise invalid("ids: give at least one run id")
    if len(parts) > cap:
        raise invalid(f"ids: {len(parts)} ids, over this server's maximum of {cap}; ask for fewer")
    run_ids: list[uuid.UUID] = []
    for part in parts:
        try:
            run_ids.append(uuid.UUID(part))
        except ValueError:
            raise invalid(f"ids: {part!r} is not a run id (a UUID)") from None
    return list(dict.fromkeys(run_ids))


@router.get("/{run_id}", responses={404: {"model": ErrorPublic}})
async def read_run(
    run_id: uuid.UUID, services: ServicesDep, _caller: CallerDep, encoding: EncodingQuery = None
) -> RunPublic:
    """Read a run: its status and, once done, its result."""
    run = await run_in_threadpool(services.store.get, run_id)
    if run is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"No run with id {run_id}.")
    return to_public(run, encoding)


@router.post(
    "/{run_id}/cancel",
    responses={404: {"model": ErrorPublic}, 409: {"model": ErrorPublic, "description": "Not queued."}},
)
async def cancel_run(run_id: uuid.UUID, services: ServicesDep, _caller: CallerDep) -> RunPublic:
    """Cancel a run that has not started; a running run is never cut short (409)."""
    cancelled = await run_in_threadpool(services.store.cancel, run_id)
    run = await run_in_threadpool(services.store.get, run_id)
    if run is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"No run with id {run_id}.")
    if not cancelled:
        raise ApiError(
            status.HTTP_409_CONFLICT,
            f"Run {run_id} is {run.status}, not queued: only a run that has not started can be cancelled.",
        )
    await services.finished.announce(run_id)  # wakes requests waiting for it
    return to_public(run)
