"""Namespaces: which ones a container gets, and the little configuration each needs.

pid     the launcher unshares it for its next child only, so the container's init is PID 1
mount   private copy of the mount table; the container root is built and pivoted into there
net     only `lo`, brought up here (unless the run asked for the host network)
ipc     private System V IPC and POSIX message queues
uts     own hostname
cgroup  the program sees its own cgroup as "/" (joined before unsharing, see container.py)
user    the program's own, see credentials.py: it maps one uid and forbids nested namespaces
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

from sandbox import _libc

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def container_flags(*, network: bool) -> int:
    """Namespaces the container's init unshares for itself (pid is created by the launcher)."""
    flags = _libc.CLONE_NEWNS | _libc.CLONE_NEWIPC | _libc.CLONE_NEWUTS
    if not network:
        flags |= _libc.CLONE_NEWNET
    return flags


def unshare(flags: int) -> None:
    _libc.unshare(flags)


def loopback_up() -> None:
    """Bring `lo` up in a fresh network namespace (it starts down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def set_hostname(name: str) -> None:
    socket.sethostname(name)


def own_pid_namespace() -> int:
    """A descriptor of this process's pid namespace, to return to after creating a child's."""
    return os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)


def restore_pid_namespace(fd: int) -> None:
    _libc.setns(fd, _libc.CLONE_NEWPID)
