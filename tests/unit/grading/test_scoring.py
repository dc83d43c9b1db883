from __future__ import annotations

from core.grading.problem import Subtask, SubtaskMode
from core.grading.scoring import score

ALL = SubtaskMode.ALL_OR_NOTHING
PART = SubtaskMode.PROPORTIONAL


def test_all_or_nothing_and_proportional() -> None:
    subtasks = [Subtask("a", 30, ("1", "2"), ALL), Subtask("b", 70, ("3", "4", "5"), PART)]
    verdicts = {"1": "accepted", "2": "wrong_answer", "3": "accepted", "4": "accepted", "5": "time_limit"}
    result = score(subtasks, verdicts)
    assert [(s.name, s.score, s.max_score) for s in result.subtasks] == [("a", 0, 30), ("b", 46.666667, 70)]
    assert (result.score, result.max_score) == (46.666667, 100)


def test_a_shared_test_counts_in_each_subtask() -> None:
    subtasks = [Subtask("a", 40, ("sample", "a1"), ALL), Subtask("b", 60, ("sample", "b1"), ALL)]
    assert score(subtasks, {"sample": "accepted", "a1": "accepted", "b1": "accepted"}).score == 100
    assert score(subtasks, {"sample": "wrong_answer", "a1": "accepted", "b1": "accepted"}).score == 0


def test_tests_not_run_or_skipped_do_not_count() -> None:
    subtasks = [Subtask("all", 4, ("1", "2", "3", "4"), PART)]
    assert score(subtasks, {"1": "accepted", "2": "skipped", "3": None}).score == 1
    assert score(subtasks, {}).score == 0


def test_zero_point_subtasks() -> None:
    assert score([Subtask("samples", 0, ("1",), ALL)], {"1": "accepted"}).max_score == 0
