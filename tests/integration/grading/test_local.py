"""Local grading through the real sandbox: every verdict in several languages, every checker,
subtasks, stopping at the first failure, and compile-once."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import execution
from core.config import Settings
from core.grading.local import Graded
from core.grading.problem import load_problem
from core.grading.results import SubmissionResult
from tests.integration.grading.conftest import (
    CHECKERS,
    SUBMISSIONS,
    copy_problem,
    grade,
    submission,
    submissions_of,
)

pytestmark = [pytest.mark.root, pytest.mark.images, pytest.mark.slow]

APLUSB_TESTS = 8


def result(graded: Graded) -> SubmissionResult:
    assert graded.error is None and graded.result is not None, graded.error
    return graded.result


def verdicts(graded: Graded) -> list[str]:
    return [test.verdict for test in result(graded).tests]


def test_every_verdict_in_several_languages(settings: Settings) -> None:
    # File names say the verdict each one must get (python, c, cpp and javascript among them).
    # Stopping at the first failure keeps the limit cases short; the accepted ones run it all.
    submissions = submissions_of("aplusb")
    graded = grade("aplusb", submissions, settings, stop_on_first_failure=True)
    assert len(graded) == len(submissions) >= 17
    for label, item in graded.items():
        expected = label.split(".")[0]
        got = result(item)
        assert got.verdict == expected, (label, got.tests)
        if expected == "accepted":
            assert verdicts(item) == ["accepted"] * APLUSB_TESTS
            assert got.score.score == got.score.max_score == APLUSB_TESTS
        elif expected == "compile_error":
            assert verdicts(item) == ["compile_error"] * APLUSB_TESTS
            assert got.compile_output is not None and "error" in got.compile_output
            assert got.score.score == 0
        else:
            # Accepted tests up to the first failure, that failure, then the rest skipped.
            ran = verdicts(item)
            failed_at = next(i for i, v in enumerate(ran) if v != "accepted")
            assert ran[failed_at] == expected
            assert ran[failed_at + 1 :] == ["skipped"] * (APLUSB_TESTS - failed_at - 1)
            assert got.score.score == failed_at
    languages = {item.submission.language.name for item in graded.values()}
    assert {"python", "c", "cpp", "javascript"} <= languages


def test_limits_and_crashes_say_what_happened(settings: Settings) -> None:
    names = ("memory_limit.cpp", "runtime_error.c", "runtime_error.py", "output_limit.py", "wrong_answer.py")
    graded = grade("aplusb", submissions_of("aplusb", *names), settings, stop_on_first_failure=True)
    first = {label: result(item).tests[0] for label, item in graded.items()}
    assert first["memory_limit.cpp"].memory_peak_bytes is not None
    assert first["runtime_error.c"].signal == "SIGSEGV"
    assert first["runtime_error.py"].exit_code == 1
    assert "ZeroDivisionError" in (first["runtime_error.py"].stderr or "")
    assert first["output_limit.py"].message == "The program wrote more than 64 KB to stdout."
    assert first["wrong_answer.py"].message == "line 1: expected '3', got '-1'"


def test_without_stopping_every_test_runs(settings: Settings) -> None:
    graded = grade("aplusb", submissions_of("aplusb", "wrong_answer.js"), settings)
    # JavaScript numbers are exact up to 2^53: only the sum that needs more bits is wrong.
    assert verdicts(graded["wrong_answer.js"]) == ["accepted"] * 5 + ["wrong_answer"] + ["accepted"] * 2
    assert result(graded["wrong_answer.js"]).score.score == 7


def test_compile_once(settings: Settings) -> None:
    """The compiler runs once per submission, not once per test, and every test runs the same
    executable file (as the program itself sees it, from inside its container)."""
    compiled = submissions_of("aplusb", "accepted.c", "accepted.cpp") + [
        submission(SUBMISSIONS / "compile-once" / "same_binary.c")
    ]
    interpreted = submissions_of("aplusb", "accepted.py", "accepted.js")
    before = execution.compiler_runs()
    graded = grade("aplusb", compiled + interpreted, settings)
    assert execution.compiler_runs() - before == len(compiled)
    tests = result(graded["same_binary.c"]).tests
    assert [t.verdict for t in tests] == ["accepted"] * APLUSB_TESTS
    (identity,) = {t.stderr for t in tests}
    assert identity is not None and identity.startswith("exe "), identity


def test_recompiling_per_test_is_visible(settings: Settings) -> None:
    """The contrast (what Judge0's batch does): compiling for each test makes a new executable
    each time, which the same program reports, and the counter counts every compile."""
    program = submission(SUBMISSIONS / "compile-once" / "same_binary.c")
    problem = load_problem(Path(__file__).resolve().parents[3] / "problems" / "aplusb")
    before = execution.compiler_runs()
    seen = set()
    for test in problem.tests[:3]:
        done = execution.execute(program.language, program.files, stdin=test.input(), settings=settings)
        seen.add(done.result.stderr)
    assert execution.compiler_runs() - before == 3
    assert len(seen) == 3


def test_float_checker(settings: Settings) -> None:
    graded = grade("circle", submissions_of("circle"), settings)
    assert result(graded["accepted.py"]).verdict == "accepted"
    assert result(graded["accepted.c"]).verdict == "accepted"  # printed differently, within tolerance
    wrong = result(graded["wrong_answer.js"])
    # pi = 3.14 is off by 0.05%: only the tiny areas (r = 0.001, within the absolute tolerance,
    # and r = 0) are accepted.
    wrong_answer, accepted = "wrong_answer", "accepted"
    assert [t.verdict for t in wrong.tests] == [wrong_answer] * 4 + [accepted] + [wrong_answer] * 2 + [
        accepted
    ]
    assert wrong.tests[0].message is not None and "off by" in wrong.tests[0].message


def test_custom_checker_accepts_any_valid_answer(settings: Settings) -> None:
    graded = grade("any-divisor", submissions_of("any-divisor"), settings)
    assert result(graded["smallest.py"]).verdict == "accepted"
    assert result(graded["largest.c"]).verdict == "accepted"  # other answers, also right
    wrong = result(graded["wrong_answer.py"]).tests[0]
    assert (wrong.verdict, wrong.message) == ("wrong_answer", "4 is not strictly between 1 and 4")
    garbage = result(graded["garbage.py"]).tests[0]
    assert (garbage.verdict, garbage.message) == ("wrong_answer", "expected exactly one number")


def test_a_compiled_custom_checker_is_compiled_once(settings: Settings, tmp_path: Path) -> None:
    directory = copy_problem("any-divisor", tmp_path)
    (directory / "checker.c").write_bytes((CHECKERS / "divisor.c").read_bytes())
    toml = (directory / "problem.toml").read_text().replace('source = "checker.py"', 'source = "checker.c"')
    (directory / "problem.toml").write_text(toml)
    problem = load_problem(directory)
    assert problem.checker.language == "c"
    submissions = submissions_of("any-divisor", "smallest.py", "largest.c", "wrong_answer.py")
    before = execution.compiler_runs()
    graded = grade(problem, submissions, settings)
    assert execution.compiler_runs() - before == 2  # the checker once, largest.c once
    assert result(graded["smallest.py"]).verdict == result(graded["largest.c"]).verdict == "accepted"
    assert result(graded["wrong_answer.py"]).tests[0].message == "not a proper divisor"


def test_a_broken_checker_fails_the_grading_not_the_contestant(settings: Settings, tmp_path: Path) -> None:
    directory = copy_problem("any-divisor", tmp_path)
    (directory / "checker.py").write_text("import sys\nsys.exit(42)\n")
    graded = grade(load_problem(directory), submissions_of("any-divisor", "smallest.py"), settings)
    item = graded["smallest.py"]
    assert item.result is None and item.error is not None
    assert "checker ended with runtime_error (exit code 42)" in item.error


def test_subtasks(settings: Settings) -> None:
    graded = grade("fibonacci", submissions_of("fibonacci"), settings, stop_on_first_failure=True)
    scores = {label: result(item).score for label, item in graded.items()}
    parts = {label: [(s.name, s.score) for s in score.subtasks] for label, score in scores.items()}
    assert parts["naive.py"] == [("small", 20), ("medium", 0), ("large", 0)]
    assert parts["loop.c"] == [("small", 20), ("medium", 30), ("large", 0)]
    assert parts["fast.cpp"] == [("small", 20), ("medium", 30), ("large", 50)]
    assert scores["fast.cpp"].score == scores["fast.cpp"].max_score == 100
    assert result(graded["naive.py"]).verdict == result(graded["loop.c"]).verdict == "time_limit"
