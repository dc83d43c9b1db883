"""Network namespaces: made by the launcher, lent to one container at a time, and kept for the
next container only if the run left no trace in them.

A network namespace is the costliest kernel object of a container here: making one registers a
loopback device and the per-namespace state of every protocol, and its teardown runs later in a
kernel worker; together about 1-1.5 ms of CPU, a quarter of a whole container. Most programs
never touch the network, and a namespace in which no packet moved and no socket is left is
indistinguishable from a new one. A program cannot change anything else in it: the namespace
belongs to the host's user namespace, in which the program has no capability, so its devices,
addresses, routes, firewall rules and sysctls are out of reach. What a program *can* change is
visible in /proc/net: sockets (and what outlives them: TIME_WAIT, orphans, IPv6 flow labels that
linger, multicast groups) and the counters that any packet, even one refused for want of a
route, moves. So the launcher reads those files when it makes a namespace and again once the
container that used it is gone: byte for byte the same, and the next container gets it; any
difference, and it is closed (the kernel destroys it).

    launcher: NetnsPool.take() -> fd ----(with the container's other fds)----> init: setns(fd)
    launcher: container destroyed -> NetnsPool.give_back(fd): unchanged? keep : close
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import struct

from sandbox import _libc

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

# Everything in /proc/net a program without capabilities can change. Files a kernel lacks (no
# IPv6, say) read as empty.
WATCHED = (
    "dev",  # packets and bytes through lo
    "snmp",  # IP, ICMP, TCP, UDP counters (a packet refused for want of a route counts too)
    "snmp6",
    "netstat",  # TcpExt, IpExt, MPTcpExt counters
    "sockstat",  # sockets in use, TIME_WAIT, fragments
    "sockstat6",
    "ip6_flowlabel",  # flow labels outlive their socket for a few seconds
    "igmp",  # multicast memberships
    "igmp6",
    "mcfilter",
    "mcfilter6",
)
# sockstat also shows a few machine-wide figures, which other namespaces move at any time (no
# other watched file has fields of these names).
_MACHINE_WIDE = re.compile(rb" (?:orphan|alloc|mem) -?\d+")


def _here(path: str) -> str:
    """This thread's view: the launcher changes its own network namespace for a moment."""
    return f"/proc/thread-self/{path}"


def open_watched() -> list[int]:
    """Descriptors of the WATCHED files of the current thread's network namespace: such a file
    shows the namespace it was opened in for as long as it is open, and re-reading an open file
    costs a fraction of opening it again."""
    fds = []
    for name in WATCHED:
        with contextlib.suppress(FileNotFoundError):
            fds.append(os.open(_here(f"net/{name}"), os.O_RDONLY | os.O_CLOEXEC))
    return fds


def snapshot(fds: list[int]) -> bytes:
    """What a program could have changed in the namespace these files show."""
    parts = []
    for fd in fds:
        chunks, offset = [], 0
        while chunk := os.pread(fd, 1 << 16, offset):
            chunks.append(chunk)
            offset += len(chunk)
        parts.append(_MACHINE_WIDE.sub(b"", b"".join(chunks)))
    return b"\0".join(parts)


def loopback_up() -> None:
    """Bring `lo` up in the current, fresh network namespace (it starts down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


class NetnsPool:
    """The launcher's network namespaces: lent to containers, kept when unchanged.

    Single-threaded use only: making a namespace moves this thread into it for the duration of a
    few syscalls, and back.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        """Unused namespaces kept at most (beyond that, returned ones are closed)."""
        self._home = os.open(_here("ns/net"), os.O_RDONLY | os.O_CLOEXEC)
        self._free: list[int] = []
        self._watched: dict[int, list[int]] = {}
        self._baseline: dict[int, bytes] = {}
        self.made = 0
        self.reused = 0
        self.dropped = 0

    def take(self) -> int:
        """A network namespace with only `lo`, up, that no run has left a trace in; the caller
        owns the descriptor until it gives it back."""
        if self._free:
            self.reused += 1
            return self._free.pop()
        return self._make()

    def give_back(self, fd: int) -> None:
        """The container that used `fd` is gone (every process of it has exited)."""
        if len(self._free) < self.keep and self._unchanged(fd):
            self._free.append(fd)
        else:
            self.discard(fd)

    def discard(self, fd: int) -> None:
        """A namespace that is not to be reused whatever it shows (its container may live on)."""
        self.dropped += 1
        self._forget(fd)

    def close(self) -> None:
        for fd in self._free:
            self._forget(fd)
        self._free.clear()
        os.close(self._home)

    def status(self) -> dict[str, int]:
        return {"free": len(self._free), "made": self.made, "reused": self.reused, "dropped": self.dropped}

    def _make(self) -> int:
        _libc.unshare(_libc.CLONE_NEWNET)
        fd = -1
        try:
            fd = os.open(_here("ns/net"), os.O_RDONLY | os.O_CLOEXEC)
            loopback_up()
            self._watched[fd] = open_watched()
            self._baseline[fd] = snapshot(self._watched[fd])
        except BaseException:
            if fd >= 0:
                self._forget(fd)
            raise
        finally:
            _libc.setns(self._home, _libc.CLONE_NEWNET)
        self.made += 1
        return fd

    def _unchanged(self, fd: int) -> bool:
        return snapshot(self._watched[fd]) == self._baseline[fd]

    def _forget(self, fd: int) -> None:
        self._baseline.pop(fd, None)
        for watched in self._watched.pop(fd, []):
            os.close(watched)
        with contextlib.suppress(OSError):
            os.close(fd)
