"""The problem format: the samples load, and every mistake is reported with its file and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.grading.problem import (
    CheckerKind,
    ProblemError,
    SubtaskMode,
    load_problem,
    natural_key,
)
from core.languages import catalogue
from tests.unit.grading.conftest import PROBLEMS, MakeProblem

LANGS = catalogue()


def issues(directory: Path) -> list[str]:
    with pytest.raises(ProblemError) as caught:
        load_problem(directory)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize("name", ["aplusb", "circle", "any-divisor", "fibonacci"])
def test_the_sample_problems_are_valid(name: str) -> None:
    problem = load_problem(PROBLEMS / name)
    assert problem.name == name
    assert problem.tests and problem.statement is not None
    for test in problem.tests:
        assert test.input() and test.expected()
    assert "problem.toml" in problem.files and "statement.md" in problem.files


def test_sample_problems_cover_the_checkers_and_subtasks() -> None:
    assert load_problem(PROBLEMS / "aplusb").checker.kind is CheckerKind.IGNORE_TRAILING_WHITESPACE
    circle = load_problem(PROBLEMS / "circle").checker
    assert (circle.kind, circle.abs_tolerance, circle.rel_tolerance) == (CheckerKind.FLOAT, 1e-6, 1e-9)
    custom = load_problem(PROBLEMS / "any-divisor")
    assert custom.checker.kind is CheckerKind.CUSTOM and custom.checker.language == "python"
    assert "checker.py" in custom.files
    fibonacci = load_problem(PROBLEMS / "fibonacci")
    assert [(s.name, s.points) for s in fibonacci.subtasks] == [("small", 20), ("medium", 30), ("large", 50)]
    assert fibonacci.max_score == 100
    # Tests run subtask by subtask, in the declared order.
    assert [t.name for t in fibonacci.tests][:6] == [f"small-{i}" for i in range(1, 6)] + ["medium-1"]


def test_without_subtasks_each_test_is_a_point(make_problem: MakeProblem) -> None:
    tests = dict.fromkeys(("a", "b", "c"), ("1\n", "1\n"))
    problem = load_problem(make_problem('name = "p"\n', tests))
    (only,) = problem.subtasks
    assert (only.points, only.mode, only.tests) == (3, SubtaskMode.PROPORTIONAL, ("a", "b", "c"))
    assert not problem.declares_subtasks and problem.title == "p"


def test_scoring_points_spread_over_the_tests(make_problem: MakeProblem) -> None:
    problem = load_problem(make_problem('name = "p"\n[scoring]\npoints = 100\n'))
    assert problem.max_score == 100


def test_tests_are_in_natural_order(make_problem: MakeProblem) -> None:
    tests = dict.fromkeys(("10", "2", "1", "a10", "a9"), ("1\n", "1\n"))
    problem = load_problem(make_problem('name = "p"\n', tests))
    assert [t.name for t in problem.tests] == ["1", "2", "10", "a9", "a10"]
    assert sorted(["x10", "x9", "x"], key=natural_key) == ["x", "x9", "x10"]


def test_limits_per_language(make_problem: MakeProblem) -> None:
    toml = """name = "p"
[limits]
cpu_time_s = 1.5
memory_mb = 128
output_kb = 8
[limits.time_multiplier]
py = 3
[limits.languages.java]
cpu_time_s = 4
wall_time_s = 20
"""
    limits = load_problem(make_problem(toml)).limits
    cpp = limits.for_language(LANGS.get("cpp"))
    assert (cpp.cpu_time_limit_s, cpp.wall_time_limit_s, cpp.memory_limit_mb, cpp.output_limit_kb) == (
        1.5, 4.0, 128, 8,
    )  # fmt: skip
    python = limits.for_language(LANGS.get("python"))  # the alias "py" was resolved
    assert (python.cpu_time_limit_s, python.wall_time_limit_s, python.memory_limit_mb) == (4.5, 10.0, 128)
    java = limits.for_language(LANGS.get("java"))  # its own limits replace the common ones
    assert (java.cpu_time_limit_s, java.wall_time_limit_s, java.memory_limit_mb) == (4.0, 20.0, 128)


def test_unset_limits_are_the_languages_defaults(make_problem: MakeProblem) -> None:
    limits = load_problem(make_problem('name = "p"\n')).limits.for_language(LANGS.get("javascript"))
    js = LANGS.get("javascript").limits
    assert (limits.cpu_time_limit_s, limits.wall_time_limit_s, limits.memory_limit_mb) == (
        js.cpu_time_s, js.wall_time_s, js.memory_mb,
    )  # fmt: skip


def test_float_tolerances_default_only_when_none_is_given(make_problem: MakeProblem) -> None:
    both = load_problem(make_problem('name = "p"\n[checker]\ntype = "float"\n')).checker
    assert (both.abs_tolerance, both.rel_tolerance) == (1e-6, 1e-6)
    one = load_problem(make_problem('name = "p"\n[checker]\ntype = "float"\nrel_tolerance = 1e-3\n')).checker
    assert (one.abs_tolerance, one.rel_tolerance) == (0.0, 1e-3)


def test_a_toml_syntax_error_names_its_line(make_problem: MakeProblem) -> None:
    directory = make_problem('name = "p"\n\n[limits]\ncpu_time_s = = 1\n')
    (issue,) = issues(directory)
    assert issue.startswith("problem.toml:4: ") and "column" in issue


def test_a_problem_toml_nested_too_deeply_is_an_issue_not_a_crash(make_problem: MakeProblem) -> None:
    directory = make_problem('name = "p"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    assert issues(directory) == ["problem.toml: nested too deeply (arrays or tables within each other)"]


def test_a_long_bad_value_is_not_echoed_whole(make_problem: MakeProblem) -> None:
    (issue,) = issues(make_problem('name = "p"\n[limits]\ncpu_time_s = "' + "x" * 100_000 + '"\n'))
    assert len(issue) < 300 and "(100002 characters)" in issue, issue[:300]


def test_points_are_bounded(make_problem: MakeProblem) -> None:
    (issue,) = issues(make_problem('name = "p"\n[scoring]\npoints = 1e308\n'))
    assert issue.startswith(
        "problem.toml:3: scoring.points: input should be less than or equal to 1000000000"
    )


def test_a_bad_value_names_its_key_and_line(make_problem: MakeProblem) -> None:
    directory = make_problem('name = "p"\n[limits]\nmemory_mb = 64\ncpu_time_s = -1\n')
    assert issues(directory) == [
        "problem.toml:4: limits.cpu_time_s: input should be greater than 0 (it is -1)"
    ]


def test_a_string_is_not_a_number(make_problem: MakeProblem) -> None:
    (issue,) = issues(make_problem('name = "p"\n[limits]\ncpu_time_s = "1"\n'))
    assert issue.startswith("problem.toml:3: limits.cpu_time_s: input should be a valid number")


def test_a_misspelt_key_lists_the_known_ones(make_problem: MakeProblem) -> None:
    (issue,) = issues(make_problem('name = "p"\n[limits]\ncpu_time = 1\n'))
    assert issue.startswith("problem.toml:3: limits.cpu_time: unknown key; the keys here are: cpu_time_s")
    (issue,) = issues(make_problem('name = "p"\n[limits.languages.c]\nmemory = 1\n'))
    assert issue.startswith("problem.toml:3: limits.languages.c.memory: unknown key; the keys here are: cpu")


def test_every_issue_is_reported_at_once(make_problem: MakeProblem) -> None:
    toml = """name = "Bad Name"
[checker]
type = "fuzzy"

[[subtasks]]
name = "one"
points = -5
tests = ["*"]
"""
    found = issues(make_problem(toml))
    assert found[0].startswith("problem.toml:1: name: string should match pattern")
    assert found[1].startswith("problem.toml:3: checker.type: input should be 'exact', ")
    assert found[2].startswith("problem.toml:7: subtasks[0].points: input should be greater than or equal")
    assert len(found) == 3


def test_name_is_required(make_problem: MakeProblem) -> None:
    assert issues(make_problem('title = "x"\n')) == ["problem.toml: name: required; add it"]


def test_subtask_problems(make_problem: MakeProblem) -> None:
    toml = """name = "p"
[scoring]
points = 10

[[subtasks]]
name = "a"
points = 1
tests = ["x*", "nothing-*"]

[[subtasks]]
name = "a"
points = 2
tests = ["x1"]
"""
    tests = dict.fromkeys(("x1", "x2", "y"), ("1\n", "1\n"))
    assert issues(make_problem(toml, tests)) == [
        "problem.toml:3: scoring.points: with [[subtasks]], each subtask has its own points; remove this",
        "problem.toml:8: subtasks[0].tests[1]: 'nothing-*' matches no test case",
        "problem.toml:11: subtasks[1].name: two subtasks are named 'a'",
        "problem.toml:5: subtasks: test 'y' is in no subtask; add it to one",
    ]


def test_a_test_may_be_in_several_subtasks(make_problem: MakeProblem) -> None:
    toml = """name = "p"
[[subtasks]]
name = "a"
points = 40
tests = ["sample", "a*"]
mode = "proportional"
[[subtasks]]
name = "b"
points = 60
tests = ["sample", "b*"]
"""
    tests = dict.fromkeys(("sample", "a1", "b1"), ("1\n", "1\n"))
    problem = load_problem(make_problem(toml, tests))
    assert [s.tests for s in problem.subtasks] == [("sample", "a1"), ("sample", "b1")]
    assert [s.mode for s in problem.subtasks] == [SubtaskMode.PROPORTIONAL, SubtaskMode.ALL_OR_NOTHING]
    assert [t.name for t in problem.tests] == ["sample", "a1", "b1"]


def test_test_files_must_pair_up(make_problem: MakeProblem) -> None:
    directory = make_problem('name = "p"\n', {"1": ("1\n", "1\n")})
    (directory / "tests" / "2.in").write_text("2\n")
    (directory / "tests" / "3.out").write_text("3\n")
    (directory / "tests" / "notes.txt").write_text("hm\n")
    (directory / "tests" / "bad name.in").write_text("x\n")
    (directory / "tests" / ".hidden").write_text("skipped\n")
    assert issues(directory) == [
        "tests/bad name.in: 'bad name' is not a test name: letters, digits, '.', '_' and '-' only",
        "tests/notes.txt: not a test case: test cases are NAME.in and NAME.out files",
        "tests/2.in: has no expected output 2.out beside it",
        "tests/3.out: has no input 3.in beside it",
    ]


def test_no_tests(make_problem: MakeProblem) -> None:
    assert issues(make_problem('name = "p"\n', {})) == [
        "problem.toml: tests_dir: 'tests' holds no test case (NAME.in + NAME.out)"
    ]


def test_symlinks_are_refused(make_problem: MakeProblem, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_text("42\n")
    directory = make_problem('name = "p"\nstatement = "statement.md"\n')
    os.symlink(outside, directory / "tests" / "2.in")
    os.symlink(outside, directory / "tests" / "2.out")
    os.symlink(outside, directory / "statement.md")
    assert issues(directory) == [
        "tests/2.in: not a regular file; test cases are NAME.in and NAME.out files",
        "tests/2.out: not a regular file; test cases are NAME.in and NAME.out files",
        "problem.toml:2: statement: 'statement.md' is not a file of the problem",
    ]


def test_paths_must_stay_inside_the_problem(make_problem: MakeProblem) -> None:
    directory = make_problem('name = "p"\ntests_dir = "../elsewhere"\nstatement = "/etc/passwd"\n')
    assert issues(directory) == [
        "problem.toml:2: tests_dir: '../elsewhere' must be a relative path inside the problem's directory",
        "problem.toml:3: statement: '/etc/passwd' must be a relative path inside the problem's directory",
    ]


def test_custom_checker_problems(make_problem: MakeProblem) -> None:
    no_source = make_problem('name = "p"\n[checker]\ntype = "custom"\n')
    assert issues(no_source) == [
        'problem.toml:2: checker: a "custom" checker needs `source`, its program\'s file'
    ]


def test_custom_checker_language_from_the_extension_or_given(make_problem: MakeProblem) -> None:
    toml = 'name = "p"\n[checker]\ntype = "custom"\nsource = "check.cc"\n[checker.limits]\ncpu_time_s = 5\n'
    checker = load_problem(make_problem(toml, files={"check.cc": "int main(){}"})).checker
    assert (checker.language, checker.limits.cpu_time_s) == ("cpp", 5)
    toml = 'name = "p"\n[checker]\ntype = "custom"\nsource = "check"\nlanguage = "bash"\n'
    assert load_problem(make_problem(toml, files={"check": "exit 0"})).checker.language == "bash"
    toml = 'name = "p"\n[checker]\ntype = "custom"\nsource = "check"\n'
    assert issues(make_problem(toml, files={"check": "exit 0"})) == [
        "problem.toml:4: checker.source: cannot tell the language of 'check' from its extension; "
        "add checker.language"
    ]


def test_checker_keys_that_do_not_belong(make_problem: MakeProblem) -> None:
    toml = 'name = "p"\n[checker]\ntype = "tokens"\nabs_tolerance = 0.1\nsource = "x.py"\n'
    assert issues(make_problem(toml)) == [
        'problem.toml:4: checker.abs_tolerance: only a "float" checker has a tolerance, not "tokens"',
        'problem.toml:5: checker.source: only a "custom" checker has a source, not "tokens"',
    ]


def test_unknown_languages_are_named(make_problem: MakeProblem) -> None:
    toml = 'name = "p"\n[limits.time_multiplier]\ncobol = 2\n'
    (issue,) = issues(make_problem(toml))
    assert issue.startswith("problem.toml:3: limits.time_multiplier.cobol: unknown language 'cobol'; known: ")


def test_problem_toml_must_exist_and_be_text(make_problem: MakeProblem) -> None:
    directory = make_problem('name = "p"\n')
    (directory / "problem.toml").write_bytes(b'name = "\xff"\n')
    (issue,) = issues(directory)
    assert issue.startswith("problem.toml: not UTF-8 text")
    (directory / "problem.toml").unlink()
    assert issues(directory) == ["problem.toml: missing: a problem is a directory with a problem.toml"]


def test_test_files_are_checked_even_when_problem_toml_is_not_valid(make_problem: MakeProblem) -> None:
    directory = make_problem('name = "p"\n[limits]\ncpu_time_s = 0\n', {})
    (directory / "tests" / "1.in").write_text("1\n")
    assert issues(directory) == [
        "problem.toml:3: limits.cpu_time_s: input should be greater than 0 (it is 0)",
        "tests/1.in: has no expected output 1.out beside it",
    ]
