"""cgroup v1 (legacy, or the v1 half of a hybrid host): one directory per run in each hierarchy.

Hierarchies used: memory, pids, cpu and cpuacct (often co-mounted as "cpu,cpuacct"). Files:
memory.limit_in_bytes (+ memory.memsw.limit_in_bytes when swap accounting is on), pids.max,
cpu.cfs_quota_us/cfs_period_us; accounting from cpuacct.usage (ns), memory.max_usage_in_bytes
(reset by writing 0), memory.oom_control (oom_kill, Linux >= 4.13), pids.events (max).
v1 has no cgroup.kill: processes are killed one by one from cgroup.procs.
"""

from __future__ import annotations

import contextlib
import os

from sandbox.cgroups import (
    CgroupStats,
    kill_procs,
    mountinfo,
    read_int,
    read_keyed,
    rmdir_retrying,
    write,
)
from sandbox.errors import HostError

REQUIRED = ("memory", "pids", "cpu", "cpuacct")
CPU_PERIOD_US = 100_000


def controller_mounts() -> dict[str, str]:
    """controller -> mount point, for every mounted v1 hierarchy."""
    found: dict[str, str] = {}
    for point, fstype, options in mountinfo():
        if fstype == "cgroup":
            for opt in options.split(","):
                found.setdefault(opt, point)
    return found


class V1Cgroup:
    version = 1

    def __init__(self, dirs: dict[str, str], name: str) -> None:
        self.dirs = dirs  # controller -> directory (co-mounted controllers share one)
        self.name = name
        self._baseline_bytes = 0

    def _unique_dirs(self) -> list[str]:
        return sorted(set(self.dirs.values()))

    def procs_files(self) -> list[str]:
        return [f"{d}/cgroup.procs" for d in self._unique_dirs()]

    def start(self, *, memory_bytes: int, pids: int, cpus: float) -> None:
        mem = self.dirs["memory"]
        self._baseline_bytes = read_int(f"{mem}/memory.usage_in_bytes")
        limit = str(memory_bytes + self._baseline_bytes)
        write(f"{mem}/memory.limit_in_bytes", limit)
        # memsw (memory+swap) must stay >= the memory limit; equal means no swap at all.
        if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
            write(f"{mem}/memory.memsw.limit_in_bytes", limit)
        write(f"{mem}/memory.swappiness", "0")
        write(f"{self.dirs['pids']}/pids.max", str(pids + 1))
        cpu = self.dirs["cpu"]
        write(f"{cpu}/cpu.cfs_period_us", str(CPU_PERIOD_US))
        write(f"{cpu}/cpu.cfs_quota_us", str(max(1000, int(cpus * CPU_PERIOD_US))))
        # Both counters accept a reset.
        write(f"{mem}/memory.max_usage_in_bytes", "0")
        write(f"{self.dirs['cpuacct']}/cpuacct.usage", "0")

    def cpu_time_ns(self) -> int:
        return read_int(f"{self.dirs['cpuacct']}/cpuacct.usage")

    def stats(self) -> CgroupStats:
        mem = self.dirs["memory"]
        return CgroupStats(
            cpu_time_ns=self.cpu_time_ns(),
            memory_peak_bytes=max(0, read_int(f"{mem}/memory.max_usage_in_bytes") - self._baseline_bytes),
            oom_kills=read_keyed(f"{mem}/memory.oom_control").get("oom_kill", 0),
            pids_limit_hits=read_keyed(f"{self.dirs['pids']}/pids.events").get("max", 0),
        )

    def pids(self) -> list[int]:
        try:
            with open(f"{self.dirs['pids']}/cgroup.procs") as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []

    def kill(self) -> None:
        procs = f"{self.dirs['pids']}/cgroup.procs"
        if os.path.exists(procs):
            kill_procs(procs)

    def remove(self) -> None:
        for d in self._unique_dirs():
            rmdir_retrying(d, self.kill)


class V1Hierarchy:
    version = 1

    def __init__(self, parent: str) -> None:
        mounts = controller_mounts()
        missing = [c for c in REQUIRED if c not in mounts]
        if missing:
            raise HostError(
                f"cgroup v1 controllers not mounted: {', '.join(missing)} "
                "(mount them under /sys/fs/cgroup, or boot with a unified cgroup2 hierarchy)"
            )
        self.parents = {c: f"{mounts[c]}/{parent.strip('/')}" for c in REQUIRED}

    def controllers(self) -> list[str]:
        return list(REQUIRED)

    def _dirs(self, name: str) -> dict[str, str]:
        return {c: f"{p}/{name}" for c, p in self.parents.items()}

    def create(self, name: str) -> V1Cgroup:
        dirs = self._dirs(name)
        made: list[str] = []
        try:
            for d in sorted(set(dirs.values())):
                os.makedirs(os.path.dirname(d), exist_ok=True)
                os.mkdir(d)
                made.append(d)
        except BaseException:
            for d in made:
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            raise
        return V1Cgroup(dirs, name)

    def open(self, name: str) -> V1Cgroup:
        return V1Cgroup(self._dirs(name), name)

    def run_cgroup_names(self) -> list[str]:
        names: set[str] = set()
        for parent in set(self.parents.values()):
            with contextlib.suppress(FileNotFoundError):
                names.update(e.name for e in os.scandir(parent) if e.is_dir())
        return sorted(names)
