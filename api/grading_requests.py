"""From a POST /v1/gradings body to a grading ready to store: the problem found or unpacked and
checked, every submission checked. Nothing is stored until everything is valid.

Each submission goes through the same checks as a run (api.submissions: language, size, encoding,
compiler options), and the problem's limits for its language must be within the operator's caps.
An uploaded problem is unpacked into a temporary directory (core.grading.archive: links, escaping
names and oversized contents are refused), loaded like any problem (every issue reported with its
file and line), then packed canonically; the temporary directory is gone before anything is stored.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
import unicodedata
from pathlib import Path

from fastapi import status

from api.errors import ApiError, invalid, too_large
from api.grading_schemas import GradingCreate, ProblemCreate
from api.schemas import RunCreate
from api.submissions import to_run_request
from core.config import Settings
from core.grading.archive import ArchiveCaps, ArchiveError, pack, unpack
from core.grading.jobs import GradingRequest, SubmissionRequest
from core.grading.library import Library, UnknownProblem
from core.grading.problem import Problem, ProblemError, load_problem
from core.languages import Catalogue
from core.limits import LimitTooHigh


def to_grading_request(body: GradingCreate, *, settings: Settings, languages: Catalogue) -> GradingRequest:
    """Validate everything; raises ApiError (413/422) naming the field and what to change."""
    cap = settings.grading_max_submissions
    if len(body.submissions) > cap:
        raise invalid(
            f"submissions: {len(body.submissions)} submissions, over this server's maximum of {cap} "
            "per grading; split them into several gradings"
        )
    problem, archive = resolve_problem(body.problem, settings=settings, languages=languages)
    submissions = []
    for index, submission in enumerate(body.submissions):
        where = f"submissions[{index}]."
        run = to_run_request(
            RunCreate(
                language=submission.language,
                source=submission.source,
                compiler_options=submission.compiler_options,
                encoding=body.encoding,
            ),
            settings=settings,
            languages=languages,
            where=where,
        )
        language = languages.get(run.language)
        try:
            problem.limits.for_language(language).check_caps(settings)
        except LimitTooHigh as exc:
            raise invalid(
                f"{where}language: problem {problem.name} asks, for {language.name}, {exc}; "
                "lower the problem's limits"
            ) from exc
        submissions.append(
            SubmissionRequest(
                label=_label(submission.label, index, where),
                language=run.language,
                source=run.files[language.source_file],
                compiler_options=run.compiler_options,
            )
        )
    return GradingRequest(
        problem=problem,
        archive=archive,
        submissions=submissions,
        stop_on_first_failure=body.stop_on_first_failure,
    )


def resolve_problem(
    body: ProblemCreate, *, settings: Settings, languages: Catalogue
) -> tuple[Problem, bytes]:
    """The problem and its canonical archive, from the library or from the upload."""
    if body.name is not None:
        try:
            problem = Library(settings.problems_path, languages).load(body.name)
        except UnknownProblem as exc:
            raise invalid(f"problem.name: {exc}") from exc
        except ProblemError as exc:
            raise _problem_invalid(exc) from exc
        return problem, pack(problem.directory, problem.files)
    assert body.archive is not None  # ProblemCreate guarantees exactly one
    data = _decode_archive(body.archive, settings)
    caps = ArchiveCaps(
        max_entries=settings.grading_max_problem_files, max_bytes=settings.grading_max_problem_unpacked_bytes
    )
    with tempfile.TemporaryDirectory(prefix="jaula-problem-") as scratch:
        try:
            root = unpack(data, Path(scratch) / "problem", caps)
        except ArchiveError as exc:
            raise invalid(f"problem.archive: {exc}") from exc
        try:
            problem = load_problem(root, languages)
        except ProblemError as exc:
            raise _problem_invalid(exc) from exc
        return problem, pack(root, problem.files)


def _decode_archive(text: str, settings: Settings) -> bytes:
    cap = settings.grading_max_problem_bytes
    if len(text) > (cap + 2) // 3 * 4 + 4:
        raise too_large(f"problem.archive is over this server's maximum of {cap} bytes; make it smaller")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid("problem.archive: is not valid base64; encode the zip or tar file") from exc


def _problem_invalid(exc: ProblemError) -> ApiError:
    lines = [f"problem: {issue}" for issue in exc.issues]
    detail = "The problem is not valid: " + "; ".join(str(issue) for issue in exc.issues)
    return ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, detail, errors=lines)


def _label(label: str | None, index: int, where: str) -> str:
    if label is None:
        return f"submission {index + 1}"
    if any(unicodedata.category(c).startswith("C") for c in label):
        raise invalid(f"{where}label: contains control characters; use plain text")
    return label
