"""Grade many submissions on this host, in parallel: what `jaula grade` and the benchmark run.

One thread per core, each grading whole submissions (compile once, then every test). A thread's
sandbox runs happen in launcher processes of its own (sandbox.run keeps one per busy thread; the
sandbox forks nothing in the caller), so threads are enough: the work is in the containers.

A submission the sandbox could not grade (an image missing, the sandbox failing) is reported with
its error and the others carry on; the caller decides what that means for its exit status.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from core.config import Settings, get_settings
from core.execution import SubmissionError
from core.grading.checkers import Checker, CheckerFailed
from core.grading.grader import Submission, grade_submission, open_checker
from core.grading.problem import Problem
from core.grading.results import SubmissionResult, TestResult
from core.images import ImageError, ImageStore, open_store
from core.languages import Catalogue, catalogue
from sandbox import SandboxError

OnProgress = Callable[[int, TestResult], None]
"""Called with the submission's index and a test result, from the grading threads."""


@dataclass(frozen=True, slots=True)
class Graded:
    submission: Submission
    result: SubmissionResult | None
    error: str | None = None
    """Why the submission could not be graded (then `result` is None)."""


def grade_locally(
    problem: Problem,
    submissions: Sequence[Submission],
    *,
    threads: int | None = None,
    stop_on_first_failure: bool = False,
    on_progress: OnProgress | None = None,
    settings: Settings | None = None,
    languages: Catalogue | None = None,
) -> list[Graded]:
    """Grade every submission; the results are in the submissions' order.

    Raises CheckerFailed when the problem's custom checker does not compile (nothing can be
    graded then); a checker failing on one submission's output fails that submission only."""
    settings = settings or get_settings()
    languages = languages or catalogue()
    store = open_store(settings=settings)
    threads = max(1, min(threads or os.cpu_count() or 1, len(submissions)))
    with (
        open_checker(problem, store=store, languages=languages, settings=settings) as checker,
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grade") as pool,
    ):
        futures = [
            pool.submit(
                _grade_one,
                problem,
                submission,
                index,
                checker,
                stop_on_first_failure,
                on_progress,
                store,
                languages,
                settings,
            )  # fmt: skip
            for index, submission in enumerate(submissions)
        ]
        return [future.result() for future in futures]


def _grade_one(
    problem: Problem,
    submission: Submission,
    index: int,
    checker: Checker,
    stop_on_first_failure: bool,
    on_progress: OnProgress | None,
    store: ImageStore,
    languages: Catalogue,
    settings: Settings,
) -> Graded:
    def on_test(result: TestResult) -> None:
        if on_progress is not None:
            on_progress(index, result)

    try:
        result = grade_submission(
            problem,
            submission,
            checker,
            stop_on_first_failure=stop_on_first_failure,
            on_test=on_test,
            store=store,
            languages=languages,
            settings=settings,
        )
    except (ImageError, SandboxError, SubmissionError, CheckerFailed) as exc:
        return Graded(submission, None, f"{type(exc).__name__}: {exc}")
    return Graded(submission, result)
