"""Grading through the service: POST /v1/gradings -> Redis -> a real Celery worker -> the real
sandbox -> the database -> GET, on SQLite and on PostgreSQL. A grading survives a worker killed
with SIGKILL, and a cancelled one stops."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from tests.integration.grading.conftest import LANGUAGES, PROBLEMS, SUBMISSIONS
from tests.integration.service.conftest import (
    RedisServer,
    Stack,
    database_url,  # noqa: F401 (a fixture: each module runs on SQLite and on PostgreSQL)
    redis_server,  # noqa: F401 (a fixture)
    require_sandbox,
    running_stack,
    wait_for,
)

pytestmark = [pytest.mark.root, pytest.mark.images, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(
    database_url: str,  # noqa: F811
    redis_server: RedisServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    ambient = require_sandbox(*LANGUAGES)
    data_dir = tmp_path_factory.mktemp("grading-service")
    settings = Settings(
        data_dir=data_dir,
        images_dir=ambient.images_path,
        database_url=database_url,
        broker_url=redis_server.url,
        worker_concurrency=2,
        # A killed worker's submissions come back within seconds, not the default half minute.
        lease_grace_s=3,
        reconcile_interval_s=1,
        requeue_after_s=5,
    )
    with running_stack(settings, data_dir / "worker.log") as stack:
        yield stack


def source(problem: str, name: str) -> str:
    return (SUBMISSIONS / problem / name).read_text()


def entry(problem: str, name: str, language: str) -> dict[str, str]:
    return {"label": name, "language": language, "source": source(problem, name)}


def post(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    with stack.api.client() as client:
        response = client.post("/v1/gradings", json=body)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


def get(stack: Stack, grading_id: str, suffix: str = "") -> Any:
    with stack.api.client() as client:
        response = client.get(f"/v1/gradings/{grading_id}{suffix}")
    assert response.status_code == 200, response.text
    return response.json() if not suffix.endswith(".csv") else response.text


def finished(stack: Stack, grading_id: str, timeout_s: float = 300) -> dict[str, Any]:
    state: dict[str, Any] = {}

    def done() -> bool:
        state.update(get(stack, grading_id))
        return state["status"] in ("done", "failed", "cancelled")

    wait_for(done, timeout_s=timeout_s, what=f"grading {grading_id} (see {stack.worker.log_path})")
    return state


def by_label(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {submission["label"]: submission for submission in state["submissions"]}


def test_a_stored_problem_end_to_end(stack: Stack) -> None:
    submissions = [
        entry("aplusb", "accepted.py", "python"),
        entry("aplusb", "accepted.cpp", "cpp"),
        entry("aplusb", "wrong_answer.js", "javascript"),
        entry("aplusb", "compile_error.c", "c"),
    ]
    accepted = post(stack, {"problem": {"name": "aplusb"}, "submissions": submissions})
    assert accepted["status"] == "queued"
    assert [s["label"] for s in accepted["submissions"]] == [s["label"] for s in submissions]
    state = finished(stack, accepted["id"])
    assert state["status"] == "done"
    assert state["problem"]["name"] == "aplusb" and len(state["problem"]["tests"]) == 8
    assert state["progress"] == {
        "submissions": 4,
        "submissions_finished": 4,
        "tests": 32,
        "tests_finished": 32,
    }
    results = by_label(state)
    assert {label: (s["status"], s["verdict"], s["score"]) for label, s in results.items()} == {
        "accepted.py": ("done", "accepted", 8),
        "accepted.cpp": ("done", "accepted", 8),
        "wrong_answer.js": ("done", "wrong_answer", 7),
        "compile_error.c": ("done", "compile_error", 0),
    }
    wrong = results["wrong_answer.js"]["tests"][5]
    assert (wrong["verdict"], wrong["message"]) == (
        "wrong_answer",
        "line 1: expected '-1999999999999999999', got '-2000000000000000000'",
    )
    assert "error" in results["compile_error.c"]["compile_output"]
    assert all(t["cpu_time_ms"] is not None for t in results["accepted.cpp"]["tests"])

    report = get(stack, accepted["id"], "/report.json")
    assert [(s["label"], s["score"], s["max_score"]) for s in report["submissions"]] == [
        ("accepted.py", 8, 8),
        ("accepted.cpp", 8, 8),
        ("wrong_answer.js", 7, 8),
        ("compile_error.c", 0, 8),
    ]
    assert list(report["submissions"][0]["tests"][0]) == [
        "name",
        "verdict",
        "cpu_time_ms",
        "memory_peak_bytes",
    ]
    rows = list(csv.DictReader(io.StringIO(get(stack, accepted["id"], "/report.csv"))))
    assert [(r["label"], r["verdict"], r["score"]) for r in rows] == [
        ("accepted.py", "accepted", "8"),
        ("accepted.cpp", "accepted", "8"),
        ("wrong_answer.js", "wrong_answer", "7"),
        ("compile_error.c", "compile_error", "0"),
    ]


def test_compiled_once_by_the_worker(stack: Stack) -> None:
    submissions = [entry("compile-once", "same_binary.c", "c")]
    state = finished(stack, post(stack, {"problem": {"name": "aplusb"}, "submissions": submissions})["id"])
    tests = state["submissions"][0]["tests"]
    assert [t["verdict"] for t in tests] == ["accepted"] * 8
    (identity,) = {t["stderr"] for t in tests}  # one executable file for every test
    assert identity.startswith("exe ")


def zipped(directory: Path, top: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(directory)}")
    return base64.b64encode(buffer.getvalue()).decode()


def test_an_uploaded_problem_with_a_custom_checker(stack: Stack) -> None:
    body = {
        "problem": {"archive": zipped(PROBLEMS / "any-divisor", "my-problem")},
        "submissions": [
            entry("any-divisor", "smallest.py", "python"),
            entry("any-divisor", "largest.c", "c"),
            entry("any-divisor", "wrong_answer.py", "python"),
        ],
    }
    state = finished(stack, post(stack, body)["id"])
    results = by_label(state)
    assert state["problem"]["checker"] == "custom"
    assert results["smallest.py"]["verdict"] == results["largest.c"]["verdict"] == "accepted"
    assert results["wrong_answer.py"]["tests"][0]["message"] == "4 is not strictly between 1 and 4"


def test_subtasks_and_stopping_at_the_first_failure(stack: Stack) -> None:
    body = {
        "problem": {"name": "fibonacci"},
        "submissions": [entry("fibonacci", "loop.c", "c"), entry("fibonacci", "fast.cpp", "cpp")],
        "stop_on_first_failure": True,
    }
    results = by_label(finished(stack, post(stack, body)["id"]))
    loop = results["loop.c"]
    assert [(s["name"], s["score"]) for s in loop["subtasks"]] == [
        ("small", 20),
        ("medium", 30),
        ("large", 0),
    ]
    assert [t["verdict"] for t in loop["tests"]][-3:] == ["time_limit", "skipped", "skipped"]
    assert (results["fast.cpp"]["score"], results["fast.cpp"]["max_score"]) == (100, 100)


def test_cancelling_stops_what_has_not_run(stack: Stack) -> None:
    slow = entry("aplusb", "time_limit.py", "python")  # 8 tests of several seconds each
    accepted = post(stack, {"problem": {"name": "aplusb"}, "submissions": [slow] * 5})
    wait_for(
        lambda: get(stack, accepted["id"])["status"] == "running", timeout_s=120, what="the grading to start"
    )
    with stack.api.client() as client:
        response = client.delete(f"/v1/gradings/{accepted['id']}")
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["status"] == "cancelled" and state["cancelled_at"]
    assert {s["status"] for s in state["submissions"]} == {"cancelled"}
    kept = [len([t for t in s["tests"] if t["verdict"]]) for s in state["submissions"]]
    assert sum(kept) < 5 * 8
    # The workers move on: a new grading finishes, and the cancelled one has not changed since.
    after = finished(
        stack,
        post(
            stack, {"problem": {"name": "aplusb"}, "submissions": [entry("aplusb", "accepted.py", "python")]}
        )["id"],
    )
    assert after["status"] == "done"
    again = get(stack, accepted["id"])
    assert [len([t for t in s["tests"] if t["verdict"]]) for s in again["submissions"]] == kept
    assert "cancelled, or its claim was lost; stopped" in stack.worker.log()
    with stack.api.client() as client:
        assert client.delete(f"/v1/gradings/{accepted['id']}").status_code == 200  # harmless twice


def test_a_grading_survives_a_killed_worker(stack: Stack) -> None:
    submissions = [entry("aplusb", "accepted.cpp", "cpp"), entry("aplusb", "accepted.py", "python")] * 3
    accepted = post(stack, {"problem": {"name": "aplusb"}, "submissions": submissions})

    def some_running() -> bool:
        return any(s["status"] == "running" for s in get(stack, accepted["id"])["submissions"])

    wait_for(some_running, timeout_s=120, what="a submission to be running")
    stack.worker.kill()  # SIGKILL: its claims stay `running` until their leases expire
    stack.worker.start()
    state = finished(stack, accepted["id"])
    assert state["status"] == "done"
    assert [(s["status"], s["score"]) for s in state["submissions"]] == [("done", 8)] * 6
    assert "requeued" in stack.worker.log()


def test_jaula_grade_against_the_server(stack: Stack, tmp_path: Path) -> None:
    solutions = [SUBMISSIONS / "fibonacci" / name for name in ("fast.cpp", "naive.py")]
    gradebook = tmp_path / "grades.csv"
    jaula = str(Path(sys.executable).parent / "jaula")
    done = subprocess.run(
        [jaula, "grade", str(PROBLEMS / "fibonacci"), *map(str, solutions), "--server", stack.api.url,
         "--stop-on-first-failure", "--json", "--csv", str(gradebook)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(s["label"], s["language"], s["score"], s["max_score"]) for s in report["submissions"]] == [
        ("fast.cpp", "cpp", 100, 100),
        ("naive.py", "python", 20, 100),
    ]
    rows = list(csv.DictReader(gradebook.open()))
    assert [(r["label"], r["subtask:small"], r["subtask:medium"], r["subtask:large"]) for r in rows] == [
        ("fast.cpp", "20", "30", "50"),
        ("naive.py", "20", "0", "0"),
    ]
