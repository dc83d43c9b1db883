"""Optional timeline of a run across the launcher and the container's processes (for profiling).

Enabled with LauncherConfig(trace_path=...): every process appends "<ns> <pid> <event>" lines to
one file through a descriptor opened before the container is built (so it survives pivot_root)
and closed on exec (so the program never sees it). Off by default; then `mark` costs a check.
"""

from __future__ import annotations

import os
import time

_fd: int | None = None


def enable(path: str) -> None:
    global _fd
    _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)


def fd() -> int | None:
    return _fd


def mark(event: str) -> None:
    if _fd is not None:
        os.write(_fd, f"{time.monotonic_ns()} {os.getpid()} {event}\n".encode())
