"""Parsing of cgroup files (flat keyed files such as memory.events, cpu.stat, memory.oom_control)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.cgroups import read_int, read_keyed

SAMPLES = [
    (
        "v2 memory.events",
        "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n",
        {"low": 0, "high": 0, "max": 12, "oom": 1, "oom_kill": 1, "oom_group_kill": 1},
    ),
    (
        "v2 cpu.stat",
        "usage_usec 1503\nuser_usec 1000\nsystem_usec 503\nnr_periods 0\nnr_throttled 0\n",
        {"usage_usec": 1503, "user_usec": 1000, "system_usec": 503, "nr_periods": 0, "nr_throttled": 0},
    ),
    (
        "v1 memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        {"oom_kill_disable": 0, "under_oom": 0, "oom_kill": 2},
    ),
    ("pids.events", "max 7\n", {"max": 7}),
    ("no final newline", "a 1\nb 2", {"a": 1, "b": 2}),
    ("empty file", "", {}),
    ("values that are not integers are skipped", "max max\nok 3\nempty \n", {"ok": 3}),
]


@pytest.mark.parametrize(("text", "expected"), [s[1:] for s in SAMPLES], ids=[s[0] for s in SAMPLES])
def test_read_keyed(tmp_path: Path, text: str, expected: dict[str, int]) -> None:
    path = tmp_path / "file"
    path.write_text(text)
    assert read_keyed(str(path)) == expected


def test_read_keyed_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_keyed(str(tmp_path / "memory.events")) == {}


@pytest.mark.parametrize(("text", "value"), [("4096\n", 4096), ("0", 0), ("123 456\n", 123)])
def test_read_int(tmp_path: Path, text: str, value: int) -> None:
    path = tmp_path / "file"
    path.write_text(text)
    assert read_int(str(path)) == value
