"""cgroup v2 (unified): one directory per run under /sys/fs/cgroup/<parent>.

Files: memory.max + memory.swap.max=0 + memory.oom.group=1, pids.max, cpu.max; accounting from
cpu.stat (usage_usec), memory.peak (Linux >= 5.19; resettable per file descriptor since 6.12),
memory.events (oom_kill), pids.events (max); cgroup.kill (Linux >= 5.14) ends everything at once.
"""

from __future__ import annotations

import contextlib
import errno
import os

from sandbox.cgroups import (
    CGROUP_ROOT,
    CgroupStats,
    kill_procs,
    read_int,
    read_keyed,
    rmdir_retrying,
    write,
)
from sandbox.errors import HostError

REQUIRED = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


class V2Cgroup:
    version = 2

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self._cpu_base_usec = 0
        self._baseline_bytes = 0
        self._peak_fd: int | None = None

    def procs_files(self) -> list[str]:
        return [f"{self.path}/cgroup.procs"]

    def start(self, *, memory_bytes: int, pids: int, cpus: float) -> None:
        self._baseline_bytes = read_int(f"{self.path}/memory.current")
        write(f"{self.path}/memory.max", str(memory_bytes + self._baseline_bytes))
        # No swap: a run that needs more memory fails now instead of thrashing the host.
        if os.path.exists(f"{self.path}/memory.swap.max"):
            write(f"{self.path}/memory.swap.max", "0")
        # On OOM, kill every process of the run together, not just the largest one.
        write(f"{self.path}/memory.oom.group", "1")
        write(f"{self.path}/pids.max", str(pids + 1))
        write(f"{self.path}/cpu.max", f"{max(1000, int(cpus * CPU_PERIOD_US))} {CPU_PERIOD_US}")
        self._cpu_base_usec = read_keyed(f"{self.path}/cpu.stat").get("usage_usec", 0)
        self._close_peak()
        # Since Linux 6.12 a write resets memory.peak for reads through the same descriptor.
        # Older kernels report the peak since the cgroup was created (the stub's preparation).
        try:
            fd = os.open(f"{self.path}/memory.peak", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.write(fd, b"reset\n")
            self._peak_fd = fd
        except OSError:
            os.close(fd)

    def cpu_time_ns(self) -> int:
        usage = read_keyed(f"{self.path}/cpu.stat").get("usage_usec", 0)
        return max(0, usage - self._cpu_base_usec) * 1000

    def _memory_peak(self) -> int:
        if self._peak_fd is not None:
            return int(os.pread(self._peak_fd, 64, 0).split()[0])
        try:
            return read_int(f"{self.path}/memory.peak")
        except FileNotFoundError:  # Linux < 5.19: the best available is the current usage
            return read_int(f"{self.path}/memory.current")

    def stats(self) -> CgroupStats:
        events = read_keyed(f"{self.path}/memory.events")
        return CgroupStats(
            cpu_time_ns=self.cpu_time_ns(),
            memory_peak_bytes=max(0, self._memory_peak() - self._baseline_bytes),
            oom_kills=events.get("oom_kill", 0) + events.get("oom_group_kill", 0),
            pids_limit_hits=read_keyed(f"{self.path}/pids.events").get("max", 0),
        )

    def pids(self) -> list[int]:
        try:
            with open(f"{self.path}/cgroup.procs") as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []

    def kill(self) -> None:
        try:
            write(f"{self.path}/cgroup.kill", "1")
        except FileNotFoundError:
            if os.path.isdir(self.path):
                kill_procs(f"{self.path}/cgroup.procs")

    def remove(self) -> None:
        self._close_peak()
        rmdir_retrying(self.path, self.kill)

    def _close_peak(self) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None


class V2Hierarchy:
    version = 2

    def __init__(self, parent: str) -> None:
        self.root = CGROUP_ROOT
        self.parent = f"{CGROUP_ROOT}/{parent.strip('/')}"
        self._prepared = False

    def controllers(self) -> list[str]:
        with open(f"{self.root}/cgroup.controllers") as f:
            return f.read().split()

    def _prepare(self) -> None:
        """Create the parent and enable the controllers on the way down (no-internal-process rule:
        the parent holds no process of ours, only run cgroups)."""
        if self._prepared:
            return
        missing = [c for c in REQUIRED if c not in self.controllers()]
        if missing:
            raise HostError(f"cgroup v2 controllers not available: {', '.join(missing)}")
        os.makedirs(self.parent, exist_ok=True)
        # Every cgroup from the root down to the parent itself: a run cgroup has the controllers
        # its parent enables in cgroup.subtree_control, and no others.
        nodes = [self.root]
        for part in os.path.relpath(self.parent, self.root).split("/"):
            nodes.append(f"{nodes[-1]}/{part}")
        for node in nodes:
            with open(f"{node}/cgroup.subtree_control") as f:
                enabled = f.read().split()
            wanted = [c for c in REQUIRED if c not in enabled]
            if wanted:
                try:
                    write(f"{node}/cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
                except OSError as exc:
                    hint = (
                        " (the cgroup holds processes: put them in a leaf cgroup first)"
                        if exc.errno == errno.EBUSY
                        else ""
                    )
                    raise HostError(
                        f"cannot enable {' '.join(wanted)} in {node}/cgroup.subtree_control: {exc}{hint}"
                    ) from exc
        self._prepared = True

    def create(self, name: str) -> V2Cgroup:
        self._prepare()
        path = f"{self.parent}/{name}"
        os.mkdir(path)
        return V2Cgroup(path, name)

    def open(self, name: str) -> V2Cgroup:
        return V2Cgroup(f"{self.parent}/{name}", name)

    def run_cgroup_names(self) -> list[str]:
        with contextlib.suppress(FileNotFoundError):
            return sorted(e.name for e in os.scandir(self.parent) if e.is_dir())
        return []
