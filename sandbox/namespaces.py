"""Namespaces: which ones a container gets, and the little configuration each needs.

pid     the launcher unshares it for its next child only, so the container's init is PID 1
mount   private copy of the mount table; the container root is built and pivoted into there
net     only `lo`: made by the launcher and joined by the init, see netns.py (unless the run
        asked for the host's network)
ipc     private System V IPC and POSIX message queues
uts     own hostname
cgroup  the program sees its own cgroup as "/" (joined before unsharing, see container.py)
user    the program's own, see credentials.py: it maps one uid and forbids nested namespaces
"""

from __future__ import annotations

import os
import socket

from sandbox import _libc


def container_flags() -> int:
    """Namespaces the container's init unshares for itself (pid is created by the zygote, net by
    the launcher)."""
    return _libc.CLONE_NEWNS | _libc.CLONE_NEWIPC | _libc.CLONE_NEWUTS


def unshare(flags: int) -> None:
    _libc.unshare(flags)


def set_hostname(name: str) -> None:
    socket.sethostname(name)


def own_pid_namespace() -> int:
    """A descriptor of this process's pid namespace, to return to after creating a child's."""
    return os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)


def restore_pid_namespace(fd: int) -> None:
    _libc.setns(fd, _libc.CLONE_NEWPID)
