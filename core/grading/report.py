"""Grading results as the public JSON contract and as a CSV gradebook.

The JSON is DESIGN.md's, exactly (`jaula grade --json` prints it; the API serves it as
report.json):

    {"submissions": [{"label", "language", "score", "max_score",
                      "tests": [{"name", "verdict", "cpu_time_ms", "memory_peak_bytes"}]}]}

A test not run yet (a grading in progress, or cancelled) has verdict null; a submission that could
not be graded has score null. The CSV has one row per submission: who, the score and each
subtask's, the worst figures, then each test's verdict, so it opens as a gradebook.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.grading.problem import Subtask
from core.grading.results import VERDICTS, TestResult, summary_verdict
from core.grading.scoring import score

# A cell starting with one of these is a formula to a spreadsheet (CSV injection): quote it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionReport:
    label: str
    language: str
    status: str
    """done | failed | queued | running | cancelled"""
    tests: Sequence[TestResult] = field(default_factory=tuple)
    """In the problem's order; tests not run yet are absent."""
    message: str | None = None

    def by_name(self) -> dict[str, TestResult]:
        return {test.name: test for test in self.tests}

    @property
    def verdict(self) -> str | None:
        return "failed" if self.status == "failed" else summary_verdict(self.tests)

    def verdict_counts(self) -> dict[str, int]:
        counts = Counter(test.verdict for test in self.tests)
        return {verdict: counts[verdict] for verdict in VERDICTS if counts[verdict]}

    @property
    def max_cpu_time_ms(self) -> int | None:
        return max((t.cpu_time_ms for t in self.tests if t.cpu_time_ms is not None), default=None)

    @property
    def max_memory_peak_bytes(self) -> int | None:
        values = [t.memory_peak_bytes for t in self.tests if t.memory_peak_bytes is not None]
        return max(values, default=None)


def scores(report: SubmissionReport, subtasks: Sequence[Subtask]) -> tuple[float | None, float]:
    """(score, max_score); the score is None when the submission could not be graded."""
    result = score(subtasks, {test.name: test.verdict for test in report.tests})
    return (None if report.status == "failed" else result.score), result.max_score


def contract(
    reports: Sequence[SubmissionReport], test_names: Sequence[str], subtasks: Sequence[Subtask]
) -> dict[str, Any]:
    """DESIGN.md's JSON for `jaula grade --json` and report.json."""
    submissions = []
    for report in reports:
        ran = report.by_name()
        total, max_total = scores(report, subtasks)
        tests: list[dict[str, Any]] = []
        for name in test_names:
            test = ran.get(name)
            tests.append(
                {
                    "name": name,
                    "verdict": test.verdict if test else None,
                    "cpu_time_ms": test.cpu_time_ms if test else None,
                    "memory_peak_bytes": test.memory_peak_bytes if test else None,
                }
            )
        submissions.append(
            {
                "label": report.label,
                "language": report.language,
                "score": total,
                "max_score": max_total,
                "tests": tests,
            }
        )
    return {"submissions": submissions}


def to_csv(
    reports: Sequence[SubmissionReport],
    test_names: Sequence[str],
    subtasks: Sequence[Subtask],
    *,
    subtask_columns: bool,
) -> str:
    """One row per submission (see the module's docstring); `subtask_columns` adds a score
    column per subtask (for problems that declare subtasks)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    named_subtasks = list(subtasks) if subtask_columns else []
    writer.writerow(
        ["label", "language", "status", "verdict", "score", "max_score"]
        + [f"subtask:{s.name}" for s in named_subtasks]
        + ["max_cpu_time_ms", "max_memory_peak_bytes"]
        + [f"test:{name}" for name in test_names]
        + ["message"]
    )
    for report in reports:
        total, max_total = scores(report, subtasks)
        verdicts: Mapping[str, str | None] = {t.name: t.verdict for t in report.tests}
        per_subtask = score(named_subtasks, verdicts).subtasks if named_subtasks else ()
        writer.writerow(
            [_cell(report.label), report.language, report.status, report.verdict or ""]
            + [_number(total), _number(max_total)]
            + [_number(part.score) for part in per_subtask]
            + [_number(report.max_cpu_time_ms), _number(report.max_memory_peak_bytes)]
            + [verdicts.get(name) or "" for name in test_names]
            + [_cell(report.message or "")]
        )
    return buffer.getvalue()


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text
