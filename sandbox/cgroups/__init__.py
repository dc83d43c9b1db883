"""cgroups v1 and v2 behind one interface: a fresh cgroup per run, limits, accounting, kill, remove.

The mode is detected once from /proc/self/mountinfo (a cgroup2 mount at /sys/fs/cgroup means a
unified host; cgroup v1 mounts mean a legacy or hybrid host, where the v1 controllers are used).
Callers only see `Hierarchy` (create/reclaim) and `RunCgroup` (one run); nothing else dispatches
on the version.

All run cgroups live under one parent ("jaula" by default) and are named "<launcher pid>-<n>",
so that a launcher that died (kill -9) can be recognised and its cgroups reclaimed by the next one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from sandbox.errors import HostError

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True, slots=True)
class CgroupStats:
    cpu_time_ns: int
    memory_peak_bytes: int
    oom_kills: int
    pids_limit_hits: int


class RunCgroup(Protocol):
    """The cgroup (v2) or cgroups (one per v1 hierarchy) of one run."""

    name: str
    version: int

    def procs_files(self) -> list[str]:
        """cgroup.procs files a process writes "0" into to join the run (one per hierarchy)."""
        ...

    def start(self, *, memory_bytes: int, pids: int, cpus: float) -> None:
        """The job starts now: write its limits, reset the peak counters, take the CPU baseline.

        The exec stub already waits inside the cgroup; its footprint at this moment is added to
        the memory limit and subtracted from the peak, and it counts as one more pid, so that
        the limits and the figures are the program's own.
        """
        ...

    def cpu_time_ns(self) -> int:
        """CPU time of every process of the run since start()."""
        ...

    def stats(self) -> CgroupStats: ...

    def pids(self) -> list[int]: ...

    def kill(self) -> None:
        """SIGKILL every process in the cgroup (a fallback: runs normally die with their pid namespace)."""
        ...

    def remove(self) -> None: ...


class Hierarchy(Protocol):
    version: int

    def create(self, name: str) -> RunCgroup: ...

    def run_cgroup_names(self) -> list[str]: ...

    def open(self, name: str) -> RunCgroup: ...

    def controllers(self) -> list[str]: ...


def read_int(path: str) -> int:
    with open(path, "rb") as f:
        return int(f.read().split()[0])


def read_keyed(path: str) -> dict[str, int]:
    """Parse a flat keyed file such as memory.events or cpu.stat ("key value" per line)."""
    out: dict[str, int] = {}
    try:
        with open(path, "rb") as f:
            for line in f.read().decode().splitlines():
                key, _, value = line.partition(" ")
                with contextlib.suppress(ValueError):
                    out[key] = int(value)
    except FileNotFoundError:
        pass
    return out


def write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def kill_procs(procs_file: str) -> None:
    """SIGKILL whatever is listed in a cgroup.procs until it stays empty (new forks included)."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        with open(procs_file) as f:
            pids = [int(p) for p in f.read().split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.001)


def rmdir_retrying(path: str, kill: Callable[[], None]) -> None:
    """Remove a cgroup directory; a process still dying inside (EBUSY) is killed and waited for."""
    for attempt in range(200):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            if attempt % 20 == 0:
                kill()
            time.sleep(0.005)
    os.rmdir(path)


def mountinfo() -> Iterator[tuple[str, str, str]]:
    """(mount point, filesystem type, super options) for every mount of this process."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            yield fields[4], fields[sep + 1], fields[sep + 3]


def detect_version() -> int:
    """2 on a unified cgroup2 host, 1 on a legacy or hybrid host; HostError if neither works."""
    mounts = list(mountinfo())
    if any(point == CGROUP_ROOT and fstype == "cgroup2" for point, fstype, _ in mounts):
        return 2
    if any(fstype == "cgroup" for _, fstype, _ in mounts):
        return 1
    raise HostError(
        "no cgroup filesystem is mounted at /sys/fs/cgroup: mount cgroup2 there "
        "(mount -t cgroup2 none /sys/fs/cgroup) or the v1 controllers"
    )


def open_hierarchy(parent: str = "jaula", version: int | None = None) -> Hierarchy:
    """The host's cgroup hierarchy, with `parent` (relative to its root) holding the run cgroups."""
    from sandbox.cgroups import v1, v2

    version = version or detect_version()
    return v2.V2Hierarchy(parent) if version == 2 else v1.V1Hierarchy(parent)


_MOUNT_FLAGS = {"ro": 0x1, "nosuid": 0x2, "nodev": 0x4, "noexec": 0x8, "relatime": 0x200000, "noatime": 0x400}


def favor_dynamic_modifications() -> bool:
    """Remount the cgroup2 hierarchy with favordynmods (Linux >= 6.0), keeping its other options.

    Moving a process between cgroups takes a global lock that, after ~20 ms without moves, must
    first wait for an RCU grace period (6-16 ms measured here), and forks anywhere on the host wait
    behind it. favordynmods keeps that lock in its slow-reader mode: moves stay in the microseconds
    and forks and exits pay a little more. On hybrid hosts the lock is the same for the v1
    hierarchies, so remounting the v2 half is enough. Returns whether the option is now set.
    """
    from sandbox import _libc

    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup2":
                continue
            point, super_options = fields[4], fields[sep + 3].split(",")
            if "favordynmods" in super_options:
                return True
            flags = _libc.MS_REMOUNT
            for option in fields[5].split(","):
                flags |= _MOUNT_FLAGS.get(option, 0)
            data = ",".join([o for o in super_options if o not in ("rw", "ro")] + ["favordynmods"])
            try:
                _libc.mount(None, point, None, flags, data)
            except OSError:
                return False
            return True
    return False


def describe(cgroup: RunCgroup) -> dict[str, object]:
    """What another process needs to open the same run cgroup (see `from_description`)."""
    from sandbox.cgroups import v1, v2

    if isinstance(cgroup, v2.V2Cgroup):
        return {"version": 2, "name": cgroup.name, "path": cgroup.path}
    assert isinstance(cgroup, v1.V1Cgroup)
    return {"version": 1, "name": cgroup.name, "dirs": dict(cgroup.dirs)}


def from_description(data: dict[str, object]) -> RunCgroup:
    from sandbox.cgroups import v1, v2

    name = str(data["name"])
    if data["version"] == 2:
        return v2.V2Cgroup(str(data["path"]), name)
    dirs = data["dirs"]
    assert isinstance(dirs, dict)
    return v1.V1Cgroup({str(k): str(v) for k, v in dirs.items()}, name)
