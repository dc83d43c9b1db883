"""Real problems, real submissions, the real sandbox (root and the language images)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.execution import submission_files
from core.grading.grader import Submission
from core.grading.local import Graded, grade_locally
from core.grading.problem import Problem, load_problem
from core.languages import catalogue
from tests.integration.service.conftest import require_sandbox

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PROBLEMS = REPO / "problems"
SUBMISSIONS = HERE / "submissions"
CHECKERS = HERE / "checkers"
LANGUAGES = ("python", "c", "cpp", "javascript")


@pytest.fixture(scope="session", autouse=True)
def _stop_launchers() -> Iterator[None]:
    """Stop the sandbox launchers this process started, rather than leave them to exit."""
    yield
    from sandbox.client import close_all

    close_all()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The ambient image store; compiled artefacts in a scratch directory of the test's own."""
    ambient = require_sandbox(*LANGUAGES)
    return Settings(images_dir=ambient.images_path, scratch_dir=tmp_path_factory.mktemp("scratch"))


def submission(path: Path) -> Submission:
    language = catalogue().for_file(path.name)
    return Submission(label=path.name, language=language, files=submission_files(language, path.read_bytes()))


def submissions_of(problem: str, *names: str) -> list[Submission]:
    paths = [SUBMISSIONS / problem / name for name in names] or sorted((SUBMISSIONS / problem).iterdir())
    return [submission(path) for path in paths]


def grade(
    problem: Problem | str,
    submissions: list[Submission],
    settings: Settings,
    *,
    stop_on_first_failure: bool = False,
) -> dict[str, Graded]:
    """Grade locally; the results by label."""
    if isinstance(problem, str):
        problem = load_problem(PROBLEMS / problem)
    graded = grade_locally(
        problem, submissions, settings=settings, stop_on_first_failure=stop_on_first_failure
    )
    return {item.submission.label: item for item in graded}


def copy_problem(name: str, destination: Path) -> Path:
    target = destination / name
    shutil.copytree(PROBLEMS / name, target)
    return target
