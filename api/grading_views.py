"""From stored gradings (and library problems) to what the API shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.grading_schemas import (
    GradingProblemPublic,
    GradingProgressPublic,
    GradingPublic,
    GradingSubmissionPublic,
    GradingTestPublic,
    ProblemPublic,
    ProblemSummaryPublic,
    SubtaskPublic,
    SubtaskScorePublic,
)
from api.grading_store import StoredGrading
from core.grading import report
from core.grading.jobs import grading_status
from core.grading.models import Grading, GradingSubmission
from core.grading.problem import Problem, Subtask, SubtaskMode
from core.grading.results import TestResult
from core.grading.scoring import score
from core.models import FINAL_STATUSES, Status


def subtasks_of(grading: Grading) -> list[Subtask]:
    return [
        Subtask(s["name"], float(s["points"]), tuple(s["tests"]), SubtaskMode(s["mode"]))
        for s in grading.subtasks
    ]


def report_of(row: GradingSubmission) -> report.SubmissionReport:
    return report.SubmissionReport(
        label=row.label,
        language=row.language,
        status=row.status,
        tests=[TestResult.from_json(result) for result in row.results],
        message=row.message,
    )


def to_public(stored: StoredGrading) -> GradingPublic:
    grading, rows = stored.grading, stored.submissions
    subtasks = subtasks_of(grading)
    max_score = sum(s.points for s in subtasks)
    return GradingPublic.model_validate(
        {
            "id": grading.id,
            "status": grading_status(grading, (row.status for row in rows)),
            "problem": GradingProblemPublic(
                name=grading.problem_name,
                title=grading.problem_title,
                digest=grading.problem_digest,
                checker=grading.checker,  # type: ignore[arg-type]  # a Checker value, as stored
                tests=list(grading.test_names),
                subtasks=[_subtask(s) for s in subtasks],
                max_score=max_score,
            ),
            "stop_on_first_failure": grading.stop_on_first_failure,
            "progress": GradingProgressPublic(
                submissions=len(rows),
                submissions_finished=sum(row.status in FINAL_STATUSES for row in rows),
                tests=len(rows) * len(grading.test_names),
                tests_finished=sum(len(row.results) for row in rows),
            ),
            "created_at": grading.created_at,
            "cancelled_at": grading.cancelled_at,
            "submissions": [_submission(row, grading.test_names, subtasks) for row in rows],
        }
    )


def _submission(
    row: GradingSubmission, test_names: Sequence[str], subtasks: Sequence[Subtask]
) -> GradingSubmissionPublic:
    ran = report_of(row)
    by_name = ran.by_name()
    verdicts = {name: test.verdict for name, test in by_name.items()}
    scored = score(subtasks, verdicts)
    graded = row.status not in (Status.QUEUED, Status.FAILED)
    parts = [SubtaskScorePublic(name=s.name, score=s.score, max_score=s.max_score) for s in scored.subtasks]
    return GradingSubmissionPublic.model_validate(
        {
            "id": row.id,
            "label": row.label,
            "language": row.language,
            "status": row.status,
            "verdict": ran.verdict if row.status != Status.FAILED else None,
            "score": scored.score if graded else None,
            "max_score": scored.max_score,
            "subtasks": parts,
            "tests": [_test(name, by_name.get(name)) for name in test_names],
            "compile_output": row.compile_output,
            "message": row.message,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
        }
    )


def _test(name: str, result: TestResult | None) -> GradingTestPublic:
    if result is None:
        return GradingTestPublic(name=name)
    return GradingTestPublic.model_validate(result.to_json())


def _subtask(subtask: Subtask) -> SubtaskPublic:
    return SubtaskPublic(
        name=subtask.name, points=subtask.points, tests=list(subtask.tests), mode=subtask.mode.value
    )


def problem_summary(problem: Problem) -> ProblemSummaryPublic:
    return ProblemSummaryPublic(**_summary_fields(problem))


def problem_public(problem: Problem) -> ProblemPublic:
    statement = problem.statement.read_text(errors="replace") if problem.statement else None
    return ProblemPublic(**_summary_fields(problem), statement=statement)


def _summary_fields(problem: Problem) -> dict[str, Any]:
    return {
        "name": problem.name,
        "title": problem.title,
        "checker": problem.checker.kind.value,
        "tests": len(problem.tests),
        "subtasks": [_subtask(s) for s in problem.subtasks],
        "max_score": problem.max_score,
    }
