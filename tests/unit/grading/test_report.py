"""The reports: DESIGN.md's JSON exactly, and a CSV gradebook a spreadsheet opens safely."""

from __future__ import annotations

import csv
import io

from core.grading.problem import Subtask, SubtaskMode
from core.grading.report import SubmissionReport, contract, to_csv
from core.grading.results import TestResult as Result  # (not a pytest class)

TESTS = ["a1", "a2", "b1"]
SUBTASKS = [
    Subtask("a", 40, ("a1", "a2"), SubtaskMode.ALL_OR_NOTHING),
    Subtask("b", 60, ("b1",), SubtaskMode.ALL_OR_NOTHING),
]


def ran(name: str, verdict: str, cpu: int = 5) -> Result:
    return Result(name=name, verdict=verdict, cpu_time_ms=cpu, wall_time_ms=9, memory_peak_bytes=1 << 20)


REPORTS = [
    SubmissionReport(
        label="alice", language="python", status="done",
        tests=[ran("a1", "accepted"), ran("a2", "accepted", 70), ran("b1", "time_limit", 1000)],
    ),
    SubmissionReport(
        label="=HYPERLINK(\"http://x\")", language="c", status="running", tests=[ran("a1", "wrong_answer")]
    ),
    SubmissionReport(label="bob", language="cpp", status="failed", message="-the checker failed"),
]  # fmt: skip


MIB = 1 << 20
NOT_RUN = {"verdict": None, "cpu_time_ms": None, "memory_peak_bytes": None}


def test_the_json_contract() -> None:
    report = contract(REPORTS, TESTS, SUBTASKS)
    assert report == {
        "submissions": [
            {
                "label": "alice", "language": "python", "score": 40, "max_score": 100,
                "tests": [
                    {"name": "a1", "verdict": "accepted", "cpu_time_ms": 5, "memory_peak_bytes": MIB},
                    {"name": "a2", "verdict": "accepted", "cpu_time_ms": 70, "memory_peak_bytes": MIB},
                    {"name": "b1", "verdict": "time_limit", "cpu_time_ms": 1000, "memory_peak_bytes": MIB},
                ],
            },
            {
                "label": "=HYPERLINK(\"http://x\")", "language": "c", "score": 0, "max_score": 100,
                "tests": [
                    {"name": "a1", "verdict": "wrong_answer", "cpu_time_ms": 5, "memory_peak_bytes": MIB},
                    {"name": "a2", **NOT_RUN},
                    {"name": "b1", **NOT_RUN},
                ],
            },
            {
                "label": "bob", "language": "cpp", "score": None, "max_score": 100,
                "tests": [{"name": name, **NOT_RUN} for name in TESTS],
            },
        ]
    }  # fmt: skip


def test_the_csv_gradebook() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(REPORTS, TESTS, SUBTASKS, subtask_columns=True))))
    assert rows[0] == [
        "label", "language", "status", "verdict", "score", "max_score", "subtask:a", "subtask:b",
        "max_cpu_time_ms", "max_memory_peak_bytes", "test:a1", "test:a2", "test:b1", "message",
    ]  # fmt: skip
    assert rows[1] == ["alice", "python", "done", "time_limit", "40", "100", "40", "0", "1000", "1048576",
                       "accepted", "accepted", "time_limit", ""]  # fmt: skip
    # Cells a spreadsheet would take for formulas are quoted (CSV injection).
    assert rows[2][0] == '\'=HYPERLINK("http://x")'
    assert rows[3][:6] == ["bob", "cpp", "failed", "failed", "", "100"]
    assert rows[3][-1] == "'-the checker failed"


def test_without_subtasks_there_are_no_subtask_columns() -> None:
    header = to_csv(REPORTS, TESTS, SUBTASKS, subtask_columns=False).splitlines()[0]
    assert "subtask:" not in header


def test_verdict_counts_and_maxima() -> None:
    alice = REPORTS[0]
    assert alice.verdict_counts() == {"accepted": 2, "time_limit": 1}
    assert (alice.max_cpu_time_ms, alice.max_memory_peak_bytes, alice.verdict) == (
        1000,
        1 << 20,
        "time_limit",
    )
