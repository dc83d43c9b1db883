"""Batch grading: a problem x many submissions (/v1/gradings), and the problems offered by name
(/v1/problems). docs/grading.md describes the format, the checkers and the design."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, ServicesDep, charge
from api.errors import ApiError
from api.grading_requests import to_grading_request
from api.grading_schemas import (
    GradingAccepted,
    GradingCreate,
    GradingPublic,
    GradingSubmissionAccepted,
    ProblemPublic,
    ProblemsPublic,
)
from api.grading_store import GradingStore, StoredGrading
from api.grading_views import problem_public, problem_summary, report_of, subtasks_of, to_public
from api.schemas import ErrorPublic, Schema
from api.services import Services
from core.grading import report
from core.grading.library import Library, UnknownProblem
from core.grading.problem import ProblemError

router = APIRouter(tags=["gradings"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorPublic, "description": description}
    for code, description in {
        401: "An API token is required, or the one given is not valid.",
        413: "Something is too big: the problem archive, a source or the whole body.",
        422: "The request or the problem is invalid; the message names each problem and where.",
        429: "This token's rate limit is reached (each submission counts as a run); see Retry-After.",
        503: "The grading queue is full; see Retry-After.",
    }.items()
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic}}


class ReportTest(Schema):
    name: str
    verdict: str | None
    cpu_time_ms: int | None
    memory_peak_bytes: int | None


class ReportSubmission(Schema):
    label: str
    language: str
    score: float | None
    max_score: float
    tests: list[ReportTest]


class ReportPublic(Schema):
    """Exactly what `jaula grade --json` prints (DESIGN.md)."""

    submissions: list[ReportSubmission]


def _store(services: Services) -> GradingStore:
    return GradingStore(services.settings, services.store.sessions, services.celery)


@router.post("/gradings", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS)
async def create_grading(body: GradingCreate, services: ServicesDep, caller: CallerDep) -> GradingAccepted:
    """Grade many submissions against one problem: 202 with the grading's id.

    Each submission is compiled once, then run on every test in a fresh container; its tests
    are checked with the problem's checker and scored per subtask."""
    request = await run_in_threadpool(
        to_grading_request, body, settings=services.settings, languages=services.languages
    )
    store = _store(services)
    await run_in_threadpool(store.check_room, len(request.submissions))
    await charge(services, caller, len(request.submissions))
    stored = await run_in_threadpool(store.store, request)
    await run_in_threadpool(store.send, [row.id for row in stored.submissions])
    return GradingAccepted(
        id=stored.grading.id,
        status="queued",
        submissions=[GradingSubmissionAccepted(id=row.id, label=row.label) for row in stored.submissions],
    )


async def _read(services: Services, grading_id: uuid.UUID) -> StoredGrading:
    stored = await run_in_threadpool(_store(services).get, grading_id)
    if stored is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"No grading with id {grading_id}.")
    return stored


@router.get("/gradings/{grading_id}", responses=NOT_FOUND)
async def read_grading(grading_id: uuid.UUID, services: ServicesDep, _caller: CallerDep) -> GradingPublic:
    """A grading's progress and results: per submission its score (per subtask too) and each
    test's verdict and figures; tests not run yet have verdict null."""
    return to_public(await _read(services, grading_id))


@router.get("/gradings/{grading_id}/report.json", responses=NOT_FOUND)
async def read_report_json(grading_id: uuid.UUID, services: ServicesDep, _caller: CallerDep) -> ReportPublic:
    """The results as `jaula grade --json` prints them."""
    stored = await _read(services, grading_id)
    contract = report.contract(
        [report_of(row) for row in stored.submissions],
        stored.grading.test_names,
        subtasks_of(stored.grading),
    )
    return ReportPublic.model_validate(contract)


@router.get(
    "/gradings/{grading_id}/report.csv",
    responses={200: {"content": {"text/csv": {}}, "description": "One row per submission."}, **NOT_FOUND},
    response_class=Response,
)
async def read_report_csv(grading_id: uuid.UUID, services: ServicesDep, _caller: CallerDep) -> Response:
    """The results as a gradebook: one row per submission (label, status, verdict, score, each
    subtask's score, the largest CPU time and memory, each test's verdict, a message)."""
    stored = await _read(services, grading_id)
    text = report.to_csv(
        [report_of(row) for row in stored.submissions],
        stored.grading.test_names,
        subtasks_of(stored.grading),
        subtask_columns=stored.grading.declares_subtasks,
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="grading-{grading_id}.csv"'},
    )


@router.delete("/gradings/{grading_id}", responses=NOT_FOUND)
async def cancel_grading(grading_id: uuid.UUID, services: ServicesDep, _caller: CallerDep) -> GradingPublic:
    """Cancel what has not run yet: queued submissions are not graded, running ones stop after
    their current test. Results already stored are kept. Cancelling twice is harmless."""
    store = _store(services)
    await _read(services, grading_id)
    await run_in_threadpool(store.cancel, grading_id)
    return to_public(await _read(services, grading_id))


@router.get("/problems")
async def list_problems(services: ServicesDep, _caller: CallerDep) -> ProblemsPublic:
    """The problems this server offers by name (POST /v1/gradings with `problem.name`)."""
    library = Library(services.settings.problems_path, services.languages)
    problems = await run_in_threadpool(library.problems)
    return ProblemsPublic(problems=[problem_summary(problem) for problem in problems])


@router.get("/problems/{name}", responses=NOT_FOUND)
async def read_problem(name: str, services: ServicesDep, _caller: CallerDep) -> ProblemPublic:
    """One offered problem, with its statement."""
    library = Library(services.settings.problems_path, services.languages)
    try:
        problem = await run_in_threadpool(library.load, name)
    except (UnknownProblem, ProblemError) as exc:
        raise ApiError(status.HTTP_404_NOT_FOUND, str(exc).splitlines()[0]) from exc
    return problem_public(problem)
