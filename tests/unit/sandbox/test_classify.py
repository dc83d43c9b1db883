"""sandbox.result.classify: every verdict, the precedence between them, and the messages."""

from __future__ import annotations

import dataclasses
import signal
from typing import Any

import pytest

from sandbox.result import KillReason, Observation, Verdict, classify, signal_name

KIB = 1024
MIB = 1024 * KIB

BASE = Observation(
    exit_code=0,
    signal=None,
    killed_by=None,
    cpu_time_ms=10,
    wall_time_ms=20,
    memory_peak_bytes=1 * MIB,
    oom_kills=0,
    pids_limit_hits=0,
    stdout_truncated=False,
    stderr_truncated=False,
    cpu_time_limit_ms=1000,
    wall_time_limit_ms=2500,
    memory_limit_bytes=64 * MIB,
    pids_limit=32,
    output_limit_bytes=64 * KIB,
    file_size_limit_bytes=1 * MIB,
)
KILLED = {"exit_code": None, "signal": signal.SIGKILL}


def observe(**changes: Any) -> Observation:
    return dataclasses.replace(BASE, **changes)


# (case, what the launcher saw, verdict, fragments the message must contain; None: no message)
CASES: list[tuple[str, dict[str, Any], Verdict, list[str] | None]] = [
    ("exit 0", {}, Verdict.OK, None),
    ("exit 3", {"exit_code": 3}, Verdict.RUNTIME_ERROR, ["exited with code 3"]),
    ("exit 255", {"exit_code": 255}, Verdict.RUNTIME_ERROR, ["code 255"]),
    (
        "SIGSEGV",
        {"exit_code": None, "signal": signal.SIGSEGV},
        Verdict.RUNTIME_ERROR,
        ["SIGSEGV", "segmentation fault"],
    ),
    ("SIGABRT", {"exit_code": None, "signal": signal.SIGABRT}, Verdict.RUNTIME_ERROR, ["SIGABRT", "abort"]),
    (
        "SIGFPE",
        {"exit_code": None, "signal": signal.SIGFPE},
        Verdict.RUNTIME_ERROR,
        ["SIGFPE", "division by zero"],
    ),
    ("SIGBUS", {"exit_code": None, "signal": signal.SIGBUS}, Verdict.RUNTIME_ERROR, ["SIGBUS"]),
    ("SIGKILL from inside", KILLED, Verdict.RUNTIME_ERROR, ["SIGKILL"]),
    (
        "SIGUSR1, no explanation",
        {"exit_code": None, "signal": signal.SIGUSR1},
        Verdict.RUNTIME_ERROR,
        ["SIGUSR1"],
    ),
    ("realtime signal", {"exit_code": None, "signal": 40}, Verdict.RUNTIME_ERROR, ["SIG40"]),
    (
        "killed at the CPU limit",
        {**KILLED, "killed_by": KillReason.CPU_TIME, "cpu_time_ms": 1003},
        Verdict.TIME_LIMIT,
        ["1 s CPU time limit"],
    ),
    ("CPU over the limit at exit", {"cpu_time_ms": 1001}, Verdict.TIME_LIMIT, ["CPU time"]),
    ("CPU exactly at the limit", {"cpu_time_ms": 1000}, Verdict.OK, None),
    (
        "/box refused by collect_to",
        {"box_refused": "are nested more than 64 directories deep"},
        Verdict.OUTPUT_LIMIT,
        ["files the program left in /box are nested more than 64 directories deep"],
    ),
    ("SIGXCPU (rlimit backstop)", {"exit_code": None, "signal": signal.SIGXCPU}, Verdict.TIME_LIMIT, ["CPU"]),
    (
        "killed at the wall limit",
        {**KILLED, "killed_by": KillReason.WALL_TIME, "wall_time_ms": 2550},
        Verdict.TIME_LIMIT,
        ["2.5 s wall-clock limit", "sleeping"],
    ),
    ("cgroup OOM kill", {**KILLED, "oom_kills": 1}, Verdict.MEMORY_LIMIT, ["64 MB memory limit"]),
    (
        "OOM kill of a child, main exits 1",
        {"exit_code": 1, "oom_kills": 2},
        Verdict.MEMORY_LIMIT,
        ["memory limit"],
    ),
    (
        "killed for stdout",
        {**KILLED, "killed_by": KillReason.OUTPUT, "stdout_truncated": True},
        Verdict.OUTPUT_LIMIT,
        ["64 KB", "stdout"],
    ),
    (
        "killed for stderr",
        {**KILLED, "killed_by": KillReason.OUTPUT, "stderr_truncated": True},
        Verdict.OUTPUT_LIMIT,
        ["64 KB", "stderr"],
    ),
    ("truncated at exit", {"stderr_truncated": True}, Verdict.OUTPUT_LIMIT, ["stderr"]),
    (
        "SIGXFSZ",
        {"exit_code": None, "signal": signal.SIGXFSZ},
        Verdict.OUTPUT_LIMIT,
        ["file size limit"],
    ),
    (
        "a fork failed, then exit 1",
        {"exit_code": 1, "pids_limit_hits": 3},
        Verdict.RUNTIME_ERROR,
        ["code 1", "limit of 32 processes and threads"],
    ),
    (
        "a fork failed, then SIGSEGV",
        {"exit_code": None, "signal": signal.SIGSEGV, "pids_limit_hits": 1},
        Verdict.RUNTIME_ERROR,
        ["SIGSEGV", "limit of 32 processes"],
    ),
    ("a fork failed, still exit 0", {"pids_limit_hits": 1}, Verdict.OK, ["limit of 32 processes"]),
]


@pytest.mark.parametrize(
    ("observed", "verdict", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_classify(observed: dict[str, Any], verdict: Verdict, fragments: list[str] | None) -> None:
    got, message = classify(observe(**observed))
    assert got == verdict
    if fragments is None:
        assert message is None
    else:
        assert message is not None
        for fragment in fragments:
            assert fragment in message


# (case, observation matching two rules, the verdict that wins)
PRECEDENCE: list[tuple[str, dict[str, Any], Verdict]] = [
    (
        "output kill over OOM",
        {**KILLED, "killed_by": KillReason.OUTPUT, "stdout_truncated": True, "oom_kills": 1},
        Verdict.OUTPUT_LIMIT,
    ),
    ("OOM over CPU time", {**KILLED, "oom_kills": 1, "cpu_time_ms": 5000}, Verdict.MEMORY_LIMIT),
    (
        "OOM over the wall clock",
        {**KILLED, "oom_kills": 1, "killed_by": KillReason.WALL_TIME},
        Verdict.MEMORY_LIMIT,
    ),
    (
        "CPU over the wall clock",
        {**KILLED, "killed_by": KillReason.WALL_TIME, "cpu_time_ms": 1200},
        Verdict.TIME_LIMIT,
    ),
    (
        "CPU kill over truncated output",
        {**KILLED, "killed_by": KillReason.CPU_TIME, "cpu_time_ms": 1001, "stdout_truncated": True},
        Verdict.TIME_LIMIT,
    ),
    (
        "CPU time over a crash",
        {"exit_code": None, "signal": signal.SIGSEGV, "cpu_time_ms": 1500},
        Verdict.TIME_LIMIT,
    ),
    ("CPU time over an exit code", {"exit_code": 1, "cpu_time_ms": 1500}, Verdict.TIME_LIMIT),
    ("OOM over an exit code", {"exit_code": 137, "oom_kills": 1}, Verdict.MEMORY_LIMIT),
    ("truncated output over an exit code", {"exit_code": 1, "stdout_truncated": True}, Verdict.OUTPUT_LIMIT),
]


@pytest.mark.parametrize(("observed", "verdict"), [c[1:] for c in PRECEDENCE], ids=[c[0] for c in PRECEDENCE])
def test_classify_precedence(observed: dict[str, Any], verdict: Verdict) -> None:
    assert classify(observe(**observed))[0] == verdict


def test_the_cpu_message_names_the_cpu_limit_and_the_wall_message_the_wall_clock() -> None:
    _, cpu = classify(observe(**KILLED, killed_by=KillReason.CPU_TIME, cpu_time_ms=1001))
    _, wall = classify(observe(**KILLED, killed_by=KillReason.WALL_TIME))
    assert cpu is not None and "CPU" in cpu and "wall" not in cpu
    assert wall is not None and "wall-clock" in wall and "CPU time limit" not in wall


def test_every_message_is_one_sentence() -> None:
    for _, observed, _, _ in CASES:
        _, message = classify(observe(**observed))
        if message is not None:
            assert message[0].isupper() and message.endswith("."), message


def test_verdicts_are_the_contracts_lower_case_strings() -> None:
    assert {str(v) for v in Verdict} == {
        "ok",
        "runtime_error",
        "time_limit",
        "memory_limit",
        "output_limit",
        "compile_error",
        "accepted",
        "wrong_answer",
    }


@pytest.mark.parametrize(
    ("number", "name"),
    [(signal.SIGSEGV, "SIGSEGV"), (signal.SIGKILL, "SIGKILL"), (signal.SIGXFSZ, "SIGXFSZ"), (40, "SIG40")],
)
def test_signal_name(number: int, name: str) -> None:
    assert signal_name(number) == name
