"""A container made ahead of time, waiting for its job: the launcher's handle on it.

Making a container costs milliseconds (fork, namespaces, mounts, and on many kernels a cgroup
migration that stalls for a whole RCU grace period after idle). None of that depends on the job,
so the launcher makes containers before they are asked for, and a job only pays for what does
depend on it. Each container is still used exactly once.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
from dataclasses import dataclass

from sandbox import _libc, container, namespaces, protocol
from sandbox.cgroups import Hierarchy, RunCgroup
from sandbox.errors import SetupError


@dataclass(frozen=True, slots=True)
class StandbySettings:
    """Launcher-wide settings every container is made with."""

    host_id: int
    stage: str


@dataclass(slots=True)
class Standby:
    pid: int
    """The container's init (PID 1 inside), our direct child."""
    key: container.RootKey
    control: socket.socket
    """To the init: "ready", the run's options, the report."""
    job: socket.socket
    """To the exec stub: the job itself."""
    stdout_r: int
    stderr_r: int
    cgroup: RunCgroup
    ready: bool = False
    reaped: bool = False
    channels_closed: bool = False

    def wait_ready(self) -> None:
        """Block until the container is prepared; SetupError with the failing step otherwise."""
        if self.ready:
            return
        try:
            message, fds = protocol.recv(self.control)
        except (protocol.ChannelClosed, OSError) as exc:
            raise SetupError("prepare container", detail=f"the container's init died ({exc})") from exc
        for fd in fds:
            os.close(fd)
        if "error" in message:
            raise SetupError.from_json(message["error"])
        self.ready = True

    def kill(self) -> None:
        """SIGKILL the init: the kernel then kills every process of its pid namespace."""
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def reap(self) -> None:
        if not self.reaped:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.reaped = True

    def close_channels(self) -> None:
        if self.channels_closed:
            return
        self.channels_closed = True
        self.control.close()
        self.job.close()
        for fd in (self.stdout_r, self.stderr_r):
            os.close(fd)

    def destroy(self) -> None:
        """Kill, reap, close, and remove the cgroup: nothing of this container is left."""
        self.kill()
        self.reap()
        self.close_channels()
        self.cgroup.remove()


def prepare(
    hierarchy: Hierarchy, cgroup_name: str, settings: StandbySettings, key: container.RootKey
) -> Standby:
    """Fork a new container's init into a new pid namespace; it prepares itself concurrently."""
    cgroup = hierarchy.create(cgroup_name)
    try:
        ours, theirs = socket.socketpair()
        job_ours, job_theirs = socket.socketpair()
        stdout_r, stdout_w = os.pipe2(os.O_CLOEXEC)
        stderr_r, stderr_w = os.pipe2(os.O_CLOEXEC)
    except BaseException:
        cgroup.remove()
        raise
    cfg = container.ContainerConfig(
        key=key,
        control=theirs,
        job=job_theirs,
        stdout_w=stdout_w,
        stderr_w=stderr_w,
        procs_files=tuple(cgroup.procs_files()),
        host_id=settings.host_id,
        stage=settings.stage,
    )
    own_pidns = namespaces.own_pid_namespace()
    try:
        # unshare(CLONE_NEWPID) applies to our next child only: it becomes PID 1 of a new namespace.
        # We return to our own namespace right after the fork, so later children are ordinary.
        _libc.unshare(_libc.CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            namespaces.restore_pid_namespace(own_pidns)
            raise
        if pid == 0:
            try:
                gc.disable()  # a collection could close descriptors of the launcher's objects
                ours.close()
                job_ours.close()
                container.init_main(cfg)
            finally:
                os._exit(1)  # never unwind into the launcher's code
        namespaces.restore_pid_namespace(own_pidns)
    except BaseException:
        for fd in (stdout_r, stdout_w, stderr_r, stderr_w):
            os.close(fd)
        for sock in (ours, theirs, job_ours, job_theirs):
            sock.close()
        cgroup.remove()
        raise
    finally:
        os.close(own_pidns)
    theirs.close()
    job_theirs.close()
    os.close(stdout_w)
    os.close(stderr_w)
    return Standby(
        pid=pid,
        key=key,
        control=ours,
        job=job_ours,
        stdout_r=stdout_r,
        stderr_r=stderr_r,
        cgroup=cgroup,
    )
