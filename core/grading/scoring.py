"""Scores: per subtask and in total, from the verdict of each test.

A test counts only when it is `accepted`. An `all_or_nothing` subtask gives its points when every
one of its tests is accepted (IOI style: one failure, nothing); a `proportional` one gives
points x accepted / tests. A problem without [[subtasks]] has one implicit proportional subtask
over every test. A test may belong to several subtasks (samples often do); it runs once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.grading.problem import Subtask, SubtaskMode

ACCEPTED = "accepted"
_DECIMALS = 6  # 100/3 is shown as 33.333333, not 33.33333333333333


@dataclass(frozen=True, slots=True)
class SubtaskScore:
    name: str
    score: float
    max_score: float


@dataclass(frozen=True, slots=True)
class Score:
    score: float
    max_score: float
    subtasks: tuple[SubtaskScore, ...]


def score(subtasks: Sequence[Subtask], verdicts: Mapping[str, str | None]) -> Score:
    """`verdicts`: test name -> verdict (None or absent: not run, which does not count)."""
    parts = tuple(
        SubtaskScore(s.name, round(_subtask_score(s, verdicts), _DECIMALS), s.points) for s in subtasks
    )
    total = round(sum(part.score for part in parts), _DECIMALS)
    return Score(total, round(sum(s.points for s in subtasks), _DECIMALS), parts)


def _subtask_score(subtask: Subtask, verdicts: Mapping[str, str | None]) -> float:
    if not subtask.tests:
        return subtask.points
    accepted = sum(verdicts.get(test) == ACCEPTED for test in subtask.tests)
    if subtask.mode is SubtaskMode.ALL_OR_NOTHING:
        return subtask.points if accepted == len(subtask.tests) else 0.0
    return subtask.points * accepted / len(subtask.tests)
