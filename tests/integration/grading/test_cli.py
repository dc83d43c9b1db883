"""`jaula grade` as a user runs it: the real command, locally through the sandbox."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Settings
from tests.integration.grading.conftest import PROBLEMS, REPO, SUBMISSIONS

pytestmark = [pytest.mark.root, pytest.mark.images, pytest.mark.slow]

JAULA = str(Path(sys.executable).parent / "jaula")


def jaula_grade(
    settings: Settings, *args: str | Path, images_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "JAULA_IMAGES_DIR": str(images_dir or settings.images_path),
        "JAULA_SCRATCH_DIR": str(settings.scratch_path),
        "COLUMNS": "200",  # one line per table row
    }
    return subprocess.run(
        [JAULA, "grade", *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )


def test_json_is_the_contract_and_csv_the_gradebook(settings: Settings, tmp_path: Path) -> None:
    solutions = [
        SUBMISSIONS / "aplusb" / name for name in ("accepted.cpp", "wrong_answer.py", "compile_error.c")
    ]
    gradebook = tmp_path / "grades.csv"
    done = jaula_grade(settings, PROBLEMS / "aplusb", *solutions, "--json", "--csv", gradebook)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert list(report) == ["submissions"]
    first = report["submissions"][0]
    assert list(first) == ["label", "language", "score", "max_score", "tests"]
    assert list(first["tests"][0]) == ["name", "verdict", "cpu_time_ms", "memory_peak_bytes"]
    summary = [(s["label"], s["language"], s["score"], s["max_score"]) for s in report["submissions"]]
    assert summary == [
        ("accepted.cpp", "cpp", 8, 8),
        ("wrong_answer.py", "python", 1, 8),
        ("compile_error.c", "c", 0, 8),
    ]
    assert [t["name"] for t in first["tests"]] == [f"{i:02d}" for i in range(1, 9)]
    assert {t["verdict"] for t in report["submissions"][2]["tests"]} == {"compile_error"}
    rows = list(csv.DictReader(gradebook.open()))
    assert [(r["label"], r["verdict"], r["score"]) for r in rows] == [
        ("accepted.cpp", "accepted", "8"),
        ("wrong_answer.py", "wrong_answer", "1"),
        ("compile_error.c", "compile_error", "0"),
    ]
    assert rows[1]["test:03"] == "accepted" and rows[1]["test:01"] == "wrong_answer"


def test_the_table(settings: Settings) -> None:
    solutions = [SUBMISSIONS / "fibonacci" / name for name in ("fast.cpp", "loop.c")]
    done = jaula_grade(settings, PROBLEMS / "fibonacci", *solutions, "--stop-on-first-failure")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    fast = next(line for line in lines if "fast.cpp" in line)
    loop = next(line for line in lines if "loop.c" in line)
    assert "100/100" in fast and "20 30 50" in fast and "11 AC" in fast
    assert "50/100" in loop and "20 30 0" in loop and "1 TLE" in loop and "2 SK" in loop
    assert "solutions" in done.stderr  # the progress bar


def test_same_file_names_are_told_apart(settings: Settings, tmp_path: Path) -> None:
    for student in ("alice", "bob"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "main.py").write_bytes((SUBMISSIONS / "aplusb" / "accepted.py").read_bytes())
    done = jaula_grade(
        settings, PROBLEMS / "aplusb", tmp_path / "alice" / "main.py", tmp_path / "bob" / "main.py", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert [s["label"] for s in json.loads(done.stdout)["submissions"]] == ["alice/main.py", "bob/main.py"]


def test_exit_status(settings: Settings, tmp_path: Path) -> None:
    solution = SUBMISSIONS / "aplusb" / "accepted.py"
    # A usage error: the problem is invalid, and the message says where.
    broken = tmp_path / "broken"
    (broken / "tests").mkdir(parents=True)
    (broken / "problem.toml").write_text('name = "broken"\n[limits]\ncpu_time_s = 0\n')
    done = jaula_grade(settings, broken, solution)
    assert done.returncode == 2
    assert "problem.toml:3: limits.cpu_time_s: input should be greater than 0" in done.stderr
    # jaula failed: no images to run anything with (exit 1, and why).
    empty = tmp_path / "no-images"
    empty.mkdir()
    done = jaula_grade(settings, PROBLEMS / "aplusb", solution, images_dir=empty)
    assert done.returncode == 1
    assert "accepted.py was not graded" in done.stderr
