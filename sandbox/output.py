"""Reading a program's stdout or stderr without ever holding more than the cap in memory."""

from __future__ import annotations

import os

CHUNK_BYTES = 1 << 16


class Capture:
    """The first `limit_bytes` of a stream; anything beyond is read, counted and dropped."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._buf = bytearray()
        self.total_bytes = 0

    @property
    def truncated(self) -> bool:
        return self.total_bytes > self.limit_bytes

    def feed(self, chunk: bytes) -> None:
        room = self.limit_bytes - len(self._buf)
        if room > 0:
            self._buf += chunk[:room]
        self.total_bytes += len(chunk)

    def read_from(self, fd: int) -> bool:
        """Read what is available; False at end of stream."""
        try:
            chunk = os.read(fd, CHUNK_BYTES)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.feed(chunk)
        return True

    def data(self) -> bytes:
        return bytes(self._buf)
