"""Announcements of finished runs: what a worker stored, carried to waiting requests intact."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core import jobs
from core.queue import ANNOUNCED_OUTPUT_MAX_BYTES, announcement, read_announcement

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
FINISHED = jobs.FinishedRun(
    id=uuid.uuid4(),
    status="done",
    queued_at=NOW,
    started_at=NOW + timedelta(milliseconds=3),
    finished_at=NOW + timedelta(milliseconds=20),
    verdict="runtime_error",
    exit_code=None,
    signal="SIGSEGV",
    cpu_time_ms=12,
    wall_time_ms=15,
    memory_peak_bytes=3 << 20,
    stdout=b"\xff\x00not text\n",
    stderr=b"",
    stdout_truncated=True,
    stderr_truncated=False,
    compile_output=None,
    message="The program was killed by SIGSEGV.",
)


def test_what_was_stored_comes_back_intact() -> None:
    assert read_announcement(announcement(FINISHED).encode()) == (FINISHED.id, FINISHED)


def test_a_failed_run_comes_back_with_its_message() -> None:
    failed = jobs.FinishedRun(
        id=uuid.uuid4(),
        status="failed",
        queued_at=NOW,
        started_at=NOW,
        finished_at=NOW,
        message="The sandbox failed.",
    )
    assert read_announcement(announcement(failed)) == (failed.id, failed)


def test_large_outputs_are_announced_by_the_id_alone() -> None:
    large = replace(FINISHED, stdout=b"x" * ANNOUNCED_OUTPUT_MAX_BYTES, stderr=b"y")
    assert announcement(large) == str(large.id)
    assert read_announcement(announcement(large)) == (large.id, None)


def test_a_bare_id_means_read_the_database() -> None:
    run_id = uuid.uuid4()
    assert read_announcement(announcement(run_id)) == (run_id, None)


@pytest.mark.parametrize("message", [b"not an id", b"{}", b'{"id": "x"}', b"{broken"])
def test_anything_else_is_refused(message: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        read_announcement(message)


def test_a_free_slot_takes_a_run_before_a_grading_submission() -> None:
    from kombu.utils.scheduling import cycle_by_name

    from core.config import Settings
    from core.grading.queue import GRADING_QUEUE
    from core.queue import QUEUE, celery_config

    options = celery_config(Settings())["broker_transport_options"]
    # What kombu's Redis channel does before each BRPOP: the consumed queues (a set), ordered by
    # the strategy; BRPOP then pops from the first non-empty one.
    order = cycle_by_name(options["queue_order_strategy"])()
    order.update({GRADING_QUEUE, QUEUE})
    for _ in range(3):  # the same after each pop: no rotation
        assert list(order.consume(2)) == [QUEUE, GRADING_QUEUE]
        order.rotate(QUEUE)
