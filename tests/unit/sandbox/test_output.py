"""output.Capture: the first `limit` bytes of a stream, never more in memory."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from sandbox.output import Capture


@pytest.mark.parametrize(
    ("chunks", "kept", "truncated"),
    [
        ([], b"", False),
        ([b"abc"], b"abc", False),
        ([b"0123456789"], b"0123456789", False),  # exactly the cap
        ([b"01234567890"], b"0123456789", True),  # one byte over
        ([b"0123", b"4567", b"89", b"x"], b"0123456789", True),
        ([b"01234", b"56789", b""], b"0123456789", False),
        ([b"0123456", b"789abc", b"def"], b"0123456789", True),
    ],
)
def test_capture_keeps_the_first_limit_bytes(chunks: list[bytes], kept: bytes, truncated: bool) -> None:
    capture = Capture(10)
    for chunk in chunks:
        capture.feed(chunk)
    assert capture.data() == kept
    assert capture.truncated is truncated
    assert capture.total_bytes == sum(map(len, chunks))


def test_capture_holds_no_more_than_the_cap_of_a_flood() -> None:
    capture = Capture(64 * 1024)
    chunk = b"y\n" * (1 << 19)
    for _ in range(100):  # 100 MiB
        capture.feed(chunk)
    assert len(capture.data()) == 64 * 1024
    assert capture.total_bytes == 100 * len(chunk)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        yield r, w
    finally:
        os.close(r)
        with contextlib.suppress(OSError):  # the test may have closed it
            os.close(w)


def test_read_from_reads_what_is_there_and_reports_end_of_stream(pipe: tuple[int, int]) -> None:
    r, w = pipe
    capture = Capture(4)
    assert capture.read_from(r) is True  # nothing yet: still open
    os.write(w, b"hello")
    assert capture.read_from(r) is True
    os.close(w)
    assert capture.read_from(r) is False
    assert (capture.data(), capture.truncated, capture.total_bytes) == (b"hell", True, 5)
