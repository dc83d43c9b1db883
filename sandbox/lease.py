"""A prepared container, lent by the launcher to a client for exactly one run.

The launcher keeps the container (it destroys it, and removes its cgroup, when the lease is
returned). The client gets, as file descriptors: the job socket to the container's init, the read
ends of stdout and stderr, and a pidfd of the init (killing the init kills everything in the
container; a pidfd cannot hit a recycled pid); and the init's pid, through which (as
/proc/<pid>/root) it can read the container's files. With those, the client runs the job without
any further help from the launcher.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from dataclasses import dataclass
from typing import Any

from sandbox.cgroups import RunCgroup, from_description
from sandbox.container import RootKey, key_from_json, key_to_json
from sandbox.errors import SetupError

# Order of the descriptors sent with a lease.
FDS = ("job", "stdout_r", "stderr_r", "pidfd")


@dataclass(slots=True)
class Lease:
    id: int
    pid: int
    """The container's init, as the host sees it."""
    key: RootKey
    job: socket.socket
    stdout_r: int
    stderr_r: int
    pidfd: int
    cgroup: RunCgroup

    @classmethod
    def from_message(cls, message: dict[str, Any], fds: list[int]) -> Lease:
        if len(fds) != len(FDS):
            for fd in fds:
                os.close(fd)
            raise SetupError("receive a container", detail=f"expected {len(FDS)} descriptors, got {len(fds)}")
        job, stdout_r, stderr_r, pidfd = fds
        return cls(
            id=int(message["id"]),
            pid=int(message["pid"]),
            key=key_from_json(message["key"]),
            job=socket.socket(fileno=job),
            stdout_r=stdout_r,
            stderr_r=stderr_r,
            pidfd=pidfd,
            cgroup=from_description(message["cgroup"]),
        )

    @staticmethod
    def message(lease_id: int, pid: int, key: RootKey, cgroup: dict[str, object]) -> dict[str, Any]:
        return {"id": lease_id, "pid": pid, "key": key_to_json(key), "cgroup": cgroup}

    def kill(self) -> None:
        """End the container now: SIGKILL to its init takes down its whole pid namespace."""
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def close(self) -> None:
        self.job.close()
        for fd in (self.stdout_r, self.stderr_r, self.pidfd):
            with contextlib.suppress(OSError):
                os.close(fd)
