"""rlimits.table: the per-process limits of a run."""

from __future__ import annotations

import resource

import pytest

from sandbox import Limits, rlimits


def table(limits: Limits) -> dict[int, tuple[int, int]]:
    rows = rlimits.table(limits)
    assert len({res for res, _, _ in rows}) == len(rows), "a resource is set twice"
    return {res: (soft, hard) for res, soft, hard in rows}


def test_no_core_dumps_no_locked_memory_no_message_queues() -> None:
    got = table(Limits())
    assert got[resource.RLIMIT_CORE] == (0, 0)
    assert got[resource.RLIMIT_MEMLOCK] == (0, 0)
    assert got[resource.RLIMIT_MSGQUEUE] == (0, 0)


def test_file_size_open_files_and_stack_follow_the_limits() -> None:
    got = table(Limits(file_size_bytes=12345, open_files=99, stack_bytes=8 << 20))
    assert got[resource.RLIMIT_FSIZE] == (12345, 12345)
    assert got[resource.RLIMIT_NOFILE] == (99, 99)
    assert got[resource.RLIMIT_STACK] == (8 << 20, 8 << 20)


@pytest.mark.parametrize(("cpu_time_s", "soft"), [(0.5, 2), (1.0, 2), (1.2, 3), (10, 11)])
def test_cpu_rlimit_is_a_backstop_above_the_cpu_limit(cpu_time_s: float, soft: int) -> None:
    # SIGXCPU a little after the launcher should have ended the run, SIGKILL a second later.
    assert table(Limits(cpu_time_s=cpu_time_s))[resource.RLIMIT_CPU] == (soft, soft + 1)


def test_every_soft_limit_is_within_its_hard_limit() -> None:
    for _, soft, hard in rlimits.table(Limits(cpu_time_s=3.7)):
        assert 0 <= soft <= hard
