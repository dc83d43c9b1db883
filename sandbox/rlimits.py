"""Per-process limits of the program (setrlimit), applied by the exec stub just before exec.

The cgroup bounds the run as a whole; rlimits bound each process: no core dumps, no locked memory,
a file-size cap (SIGXFSZ), a cap on open files and on the stack, and RLIMIT_CPU as a backstop that
fires a little after the CPU limit should the launcher not have killed the run in time.
"""

from __future__ import annotations

import math
import resource

from sandbox.spec import Limits

Rlimit = tuple[int, int, int]  # (resource, soft, hard)


def table(limits: Limits) -> list[Rlimit]:
    """The rlimits for a run (pure; tested without root)."""
    cpu_backstop_s = math.ceil(limits.cpu_time_s) + 1
    return [
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_MEMLOCK, 0, 0),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_STACK, limits.stack_bytes, limits.stack_bytes),
        (resource.RLIMIT_MSGQUEUE, 0, 0),
        # SIGXCPU at the soft limit, SIGKILL one second later.
        (resource.RLIMIT_CPU, cpu_backstop_s, cpu_backstop_s + 1),
    ]


def apply(rlimits: list[Rlimit]) -> None:
    """Lower each limit; a value above the inherited hard limit is clamped (raising needs a capability)."""
    for res, soft, hard in rlimits:
        _, current_hard = resource.getrlimit(res)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
        resource.setrlimit(res, (min(soft, hard), hard))
