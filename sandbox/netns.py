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
linger, multicast groups), caches (an IPv6 route cached by a connect() that sends nothing) and
the counters that any packet, even one refused for want of a route, moves. So the launcher
reads every file of /proc/net (but the few NOT_COMPARED) when it makes a
namespace and again once the container that used it is gone: byte for byte the same, and the
next container gets it; any difference, and it is closed (the kernel destroys it). A namespace
serves MAX_USES containers at most, whatever the comparison says.

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

# Every file of /proc/net is compared, but these.
NOT_COMPARED = (
    # They show the whole machine (every namespace at once): they change with the host's traffic.
    "softnet_stat",  # per-CPU packet processing
    "protocols",  # sockets and memory per protocol, all namespaces together
    "rt_cache",  # per-CPU route cache statistics (also stat/rt_cache)
    "stat/",  # per-CPU statistics of the routing and neighbour caches, conntrack
    # Reading them walks the machine's whole table (1.6 ms each for TCP here), and what they
    # would show is seen elsewhere: sockstat counts this namespace's TCP sockets, TIME_WAIT
    # included; conntrack entries exist only where firewall rules (CAP_NET_ADMIN) track
    # connections, and the traffic that makes them moves the counters anyway.
    "tcp",
    "tcp6",
    "nf_conntrack",
)
# sockstat also shows a few machine-wide figures.
_MACHINE_WIDE_FIELDS = re.compile(rb" (?:orphan|alloc|mem) -?\d+")
MAX_USES = 64
"""Containers a namespace serves at most: what the comparison could ever miss cannot outlive
this many runs."""


def _here(path: str) -> str:
    """This thread's view: the launcher changes its own network namespace for a moment."""
    return f"/proc/thread-self/{path}"


def open_watched() -> list[tuple[str, int]]:
    """Descriptors of every file of the current thread's /proc/net but NOT_COMPARED:
    such a file shows the namespace it was opened in for as long as it is open, and re-reading
    an open file costs a fraction of opening it again."""
    base = _here("net")
    paths = []
    for directory, _, files in os.walk(base):
        for name in files:
            relative = os.path.relpath(os.path.join(directory, name), base)
            if not any(relative == n or (n.endswith("/") and relative.startswith(n)) for n in NOT_COMPARED):
                paths.append(relative)
    watched = []
    for relative in sorted(paths):
        with contextlib.suppress(OSError):  # a file only root in the host's namespace may read
            watched.append((relative, os.open(os.path.join(base, relative), os.O_RDONLY | os.O_CLOEXEC)))
    return watched


def snapshot(watched: list[tuple[str, int]]) -> bytes:
    """What a program could have changed in the namespace these files show."""
    parts = []
    for name, fd in watched:
        chunks, offset = [], 0
        while chunk := os.pread(fd, 1 << 16, offset):
            chunks.append(chunk)
            offset += len(chunk)
        text = b"".join(chunks)
        if name.startswith("sockstat"):
            text = _MACHINE_WIDE_FIELDS.sub(b"", text)
        parts.append(name.encode() + b"\n" + text)
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
    few syscalls, and back. Each namespace held keeps its /proc/net files open (about 50).
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        """Unused namespaces kept at most (beyond that, returned ones are closed)."""
        self._home = os.open(_here("ns/net"), os.O_RDONLY | os.O_CLOEXEC)
        self._free: list[int] = []
        self._watched: dict[int, list[tuple[str, int]]] = {}
        self._uses: dict[int, int] = {}
        self._baseline: dict[int, bytes] = {}
        self.made = 0
        self.reused = 0
        self.dropped = 0

    def take(self) -> int:
        """A network namespace with only `lo`, up, that no run has left a trace in; the caller
        owns the descriptor until it gives it back."""
        if self._free:
            self.reused += 1
            fd = self._free.pop()
        else:
            fd = self._make()
        self._uses[fd] = self._uses.get(fd, 0) + 1
        return fd

    def give_back(self, fd: int) -> None:
        """The container that used `fd` is gone (every process of it has exited)."""
        if len(self._free) < self.keep and self._uses[fd] < MAX_USES and self._unchanged(fd):
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
        self._uses.pop(fd, None)
        for _, watched in self._watched.pop(fd, []):
            os.close(watched)
        with contextlib.suppress(OSError):
            os.close(fd)
