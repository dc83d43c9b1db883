"""A container made ahead of time, waiting for its job: the launcher's handle on it.

Making a container costs milliseconds (a fork, namespaces, mounts, and on many kernels a cgroup
migration that stalls for a whole RCU grace period after idle). None of that depends on the job,
so the launcher makes containers before they are asked for, and a job only pays for what does
depend on it. Each container is still used exactly once.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
from dataclasses import dataclass

from sandbox import container, mounts, protocol
from sandbox.cgroups import Hierarchy, RunCgroup
from sandbox.errors import SetupError

# A killed container is gone within milliseconds; this only bounds a kernel that hangs.
_EXIT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class StandbySettings:
    """Launcher-wide settings every container is made with."""

    host_id: int
    stage: str
    shared_dev: str
    proc_names: frozenset[str]


def kind_for(settings: StandbySettings, key: container.RootKey) -> container.ContainerKind:
    """What every container of this kind is made with (its mounts above all)."""
    plan = mounts.plan_container(
        settings.stage,
        settings.shared_dev,
        layers=key.layers,
        binds=key.binds,
        scratch_bytes=key.scratch_bytes,
        scratch_inodes=key.scratch_inodes,
        proc_names=settings.proc_names,
    )
    return container.ContainerKind(key, settings.host_id, settings.stage, settings.shared_dev, tuple(plan))


@dataclass(slots=True)
class Standby:
    pid: int
    """The container's init (PID 1 inside), a child of the zygote."""
    pidfd: int
    key: container.RootKey
    control: socket.socket
    """From the init: "ready", or the step that failed."""
    job: socket.socket
    """To the init: the job (handed to the client with the lease)."""
    stdout_r: int
    stderr_r: int
    cgroup: RunCgroup
    netns: int | None
    """The network namespace the launcher lent it (None: the host's network)."""
    channels_closed: bool = False
    gone: bool = False
    """Killed (or found dead), and its pidfd closed."""
    exited: bool = False
    """Seen to exit, with every process of its pid namespace."""

    def wait_ready(self) -> None:
        """Read the container's verdict on its preparation; SetupError naming the failed step."""
        try:
            message, fds = protocol.recv(self.control)
        except (protocol.ChannelClosed, OSError) as exc:
            raise SetupError("prepare the container", detail=f"its init died ({exc})") from exc
        for fd in fds:
            os.close(fd)
        if "error" in message:
            raise SetupError.from_json(message["error"])

    def close_channels(self) -> None:
        if self.channels_closed:
            return
        self.channels_closed = True
        self.control.close()
        self.job.close()
        os.close(self.stdout_r)
        os.close(self.stderr_r)

    def destroy(self) -> None:
        """Kill the init (its pid namespace dies with it), wait for it, remove the cgroup."""
        if not self.gone:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            # The pidfd becomes readable once the init has exited, after the kernel has killed
            # and reaped every other process of its namespace.
            readable, _, _ = select.select([self.pidfd], [], [], _EXIT_TIMEOUT_S)
            self.exited = bool(readable)
            os.close(self.pidfd)
            self.gone = True
        self.close_channels()
        self.cgroup.remove()


def prepare(
    zygote: socket.socket,
    hierarchy: Hierarchy,
    cgroup_name: str,
    key: container.RootKey,
    kind: bytes,
    netns: int | None,
) -> Standby:
    """Have the zygote fork a new container of this kind (ContainerKind.encode()); it prepares
    itself while we go on. `netns` stays ours: the container joins it, and we take it back once
    the container is destroyed."""
    cgroup = hierarchy.create(cgroup_name)
    ours: list[int] = []
    theirs: list[int] = []
    try:
        control, control_theirs = socket.socketpair()
        job, job_theirs = socket.socketpair()
        stdout_r, stdout_w = os.pipe2(os.O_CLOEXEC)
        stderr_r, stderr_w = os.pipe2(os.O_CLOEXEC)
        ours += [control.detach(), job.detach(), stdout_r, stderr_r]
        theirs += [control_theirs.detach(), job_theirs.detach(), stdout_w, stderr_w]
        own = container.ContainerConfig.encode(tuple(cgroup.procs_files()), netns is not None)
        protocol.send_parts(zygote, kind, own, theirs if netns is None else [*theirs, netns])
        reply, fds = protocol.recv(zygote)
    except BaseException:
        for fd in ours + theirs:
            os.close(fd)
        cgroup.remove()
        raise
    for fd in theirs:
        os.close(fd)
    if "error" in reply:
        for fd in ours + fds:
            os.close(fd)
        cgroup.remove()
        raise SetupError.from_json(reply["error"])
    return Standby(
        pid=int(reply["pid"]),
        pidfd=fds[0],
        key=key,
        control=socket.socket(fileno=ours[0]),
        job=socket.socket(fileno=ours[1]),
        stdout_r=ours[2],
        stderr_r=ours[3],
        cgroup=cgroup,
        netns=netns,
    )
