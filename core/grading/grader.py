"""Grade one submission: compile it once, run every test in a fresh container, check, score.

    with open_checker(problem) as checker:               # a custom checker is compiled once too
        result = grade_submission(problem, submission, checker, on_test=report)

The compiled artefact is one overlay layer, stacked under every test's container: nothing is
copied per test, and each test still starts from a pristine filesystem (what the previous test
wrote is gone with its container). Tests run one after the other, in order; parallelism comes
from grading several submissions at once (local.py, or one worker task per submission).

`on_test` is called after each test with its result (the worker stores progress there; the CLI
moves its progress bar). It may raise GradingStopped to abandon the submission: the grading was
cancelled, or the worker lost its claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from core import execution
from core.config import Settings
from core.grading.checkers import Checker, CheckerFailed, ProgramChecker, builtin
from core.grading.problem import CheckerKind, Problem, TestCase
from core.grading.results import (
    COMPILE_ERROR,
    SKIPPED,
    SubmissionResult,
    TestResult,
    text_excerpt,
)
from core.grading.scoring import ACCEPTED, score
from core.images import ImageStore
from core.languages import Catalogue, Language, catalogue
from core.limits import RunLimits
from sandbox import Verdict

OnTest = Callable[[TestResult], None]


class GradingStopped(Exception):
    """Raised by an `on_test` callback: stop grading this submission now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Submission:
    label: str
    language: Language
    files: Mapping[str, bytes]
    """As execution.submission_files() makes them: the source under the language's file name."""
    compiler_options: Sequence[str] = field(default_factory=tuple)


@contextmanager
def open_checker(
    problem: Problem,
    *,
    store: ImageStore | None = None,
    languages: Catalogue | None = None,
    settings: Settings | None = None,
) -> Iterator[Checker]:
    """The problem's checker, ready for every test; a custom one is compiled here, once."""
    spec = problem.checker
    if spec.kind is not CheckerKind.CUSTOM:
        yield builtin(spec)
        return
    languages = languages or catalogue()
    language, files, limits = checker_program_parts(problem, languages)
    with execution.prepare(language, files, store=store, languages=languages, settings=settings) as program:
        if isinstance(program, execution.CompileFailure):
            raise CheckerFailed(f"the problem's checker does not compile:\n{program.compile_output}")
        yield ProgramChecker(program, limits)


def checker_program_parts(
    problem: Problem, languages: Catalogue
) -> tuple[Language, dict[str, bytes], RunLimits]:
    """A custom checker's language, files and limits."""
    spec = problem.checker
    if spec.source is None or spec.language is None:
        raise ValueError(f"problem {problem.name} has no custom checker")
    language = languages.get(spec.language)
    files = execution.submission_files(language, spec.source.read_bytes())
    return language, files, spec.limits.over(RunLimits.defaults(language.limits))


def grade_submission(
    problem: Problem,
    submission: Submission,
    checker: Checker,
    *,
    stop_on_first_failure: bool = False,
    on_test: OnTest | None = None,
    store: ImageStore | None = None,
    languages: Catalogue | None = None,
    settings: Settings | None = None,
) -> SubmissionResult:
    """Compile once, then run and check every test (see the module's docstring).

    Raises execution.SubmissionError (a malformed submission), core.images.ImageError (the
    language's image is not built), sandbox.SandboxError (the sandbox failed), CheckerFailed (the
    problem's checker failed) and GradingStopped (from `on_test`)."""
    report = on_test or (lambda _: None)
    limits = problem.limits.for_language(submission.language)
    started = time.monotonic()
    with execution.prepare(
        submission.language,
        submission.files,
        compiler_options=submission.compiler_options,
        store=store,
        languages=languages,
        settings=settings,
    ) as program:
        compiled = time.monotonic()
        compile_ms = round((compiled - started) * 1000) if submission.language.compiled else 0
        if isinstance(program, execution.CompileFailure):
            results = [TestResult(name=test.name, verdict=COMPILE_ERROR) for test in problem.tests]
            for result in results:
                report(result)
            return _result(problem, results, program.compile_output, compile_ms, 0)
        results = []
        failed = False
        for test in problem.tests:
            if failed and stop_on_first_failure:
                result = TestResult(name=test.name, verdict=SKIPPED)
            else:
                result = run_test(program, test, limits, checker)
                failed = result.verdict != ACCEPTED
            results.append(result)
            report(result)
        tests_ms = round((time.monotonic() - compiled) * 1000)
        return _result(problem, results, program.compile_output, compile_ms, tests_ms)


def run_test(program: execution.Program, test: TestCase, limits: RunLimits, checker: Checker) -> TestResult:
    """Run one test in a fresh container; check the output if the program ended normally."""
    stdin = test.input()
    run = execution.run(program, stdin=stdin, limits=limits)
    verdict, message = str(run.verdict), run.message
    if run.verdict is Verdict.OK:
        check = checker.check(input=stdin, expected=test.expected(), actual=run.stdout)
        verdict = ACCEPTED if check.accepted else "wrong_answer"
        message = check.message
    return TestResult(
        name=test.name,
        verdict=verdict,
        cpu_time_ms=run.cpu_time_ms,
        wall_time_ms=run.wall_time_ms,
        memory_peak_bytes=run.memory_peak_bytes,
        exit_code=run.exit_code,
        signal=run.signal,
        message=message,
        stderr=text_excerpt(run.stderr),
    )


def _result(
    problem: Problem,
    tests: Sequence[TestResult],
    compile_output: str | None,
    compile_ms: int,
    tests_ms: int,
) -> SubmissionResult:
    verdicts = {test.name: test.verdict for test in tests}
    return SubmissionResult(
        tests=tuple(tests),
        score=score(problem.subtasks, verdicts),
        compile_output=compile_output,
        compile_elapsed_ms=compile_ms,
        tests_elapsed_ms=tests_ms,
    )
