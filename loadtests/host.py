"""What the host shows of a load test: CPU use, the service's processes and their memory, and
what a run may leave behind (mounts, cgroups, sandbox processes). Reads /proc and /sys only.

The sandbox's host-wide state is shared by every jaula on the machine (cgroups under `jaula/`,
/run/jaula, uids 60000-61000), and other engineers' tests may be running beside this one. So a
leak is attributed to this run only through what it owned: the launchers that were children of
its worker (their cgroups are named `<launcher pid>-<n>`), and the uids their containers ran as.
Everything else found is reported as "other", not counted as this run's leak.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.sandbox.host import Process, processes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "jaula"
"""The sandbox's default cgroup parent (sandbox.launcher.LauncherConfig.cgroup_parent)."""
SANDBOX_UIDS = range(60000, 61000)
"""The sandbox's default uid range (LauncherConfig.uid_range)."""


# -- CPU ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuTimes:
    """The host's cumulative CPU time from /proc/stat, in seconds summed over every core."""

    busy_s: float
    idle_s: float
    steal_s: float
    cores: int

    @classmethod
    def read(cls) -> CpuTimes:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        values = [int(v) / CLOCK_TICKS for v in lines[0].split()[1:]]
        user, nice, system, idle, iowait, irq, softirq, steal = (values + [0.0] * 8)[:8]
        cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
        # guest time is already inside user time; iowait is idle time.
        return cls(user + nice + system + irq + softirq, idle + iowait, steal, cores)

    def usage_since(self, before: CpuTimes) -> dict[str, float]:
        """Busy and stolen shares of all cores between `before` and this reading (0-1)."""
        busy = self.busy_s - before.busy_s
        steal = self.steal_s - before.steal_s
        total = busy + steal + (self.idle_s - before.idle_s)
        if total <= 0:
            return {"busy": 0.0, "steal": 0.0}
        return {"busy": busy / total, "steal": steal / total}


def kernel_threads_cpu_s() -> float:
    """CPU time of the kernel's own threads (kthreadd's children: RCU, kworkers tearing down
    namespaces and cgroups...): work the kernel does for the containers, among other things."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[1] == "2" or entry.name == "2":  # ppid is kthreadd, or kthreadd itself
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


# -- processes ------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in os.scandir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                found += [int(c) for c in Path(task.path, "children").read_text().split()]
    return found


def descendants(pid: int) -> Iterator[int]:
    """`pid` itself, then every live descendant."""
    yield pid
    for child in children(pid):
        yield from descendants(child)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 if it is gone)."""
    try:
        resident = Path(f"/proc/{pid}/statm").read_text().split()[1]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return int(resident) * PAGE_BYTES


def cpu_s(pid: int) -> float:
    """CPU time of a process and every descendant, live or already reaped (utime, stime and
    the children's cutime, cstime of stat(5))."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    own = sum(int(v) for v in fields[11:15]) / CLOCK_TICKS
    return own + sum(cpu_s(child) for child in children(pid))


# -- the service's processes ------------------------------------------------------------------------


@dataclass
class ServiceTree:
    """`jaula up` and its children: which is which, and the sandbox launchers seen under the worker."""

    up_pid: int
    parts: dict[str, int] = field(default_factory=dict)
    """api, worker, redis -> pid (children of `jaula up`)."""
    launchers: set[int] = field(default_factory=set)
    """Every sandbox launcher seen under the worker during the run."""
    uids: set[int] = field(default_factory=set)
    """Every sandbox uid seen running under those launchers."""

    def find_parts(self) -> dict[str, int]:
        for pid in children(self.up_pid):
            line = cmdline(pid)
            if "uvicorn" in line:
                self.parts["api"] = pid
            elif "celery" in line:
                self.parts["worker"] = pid
            elif "redis-server" in line:
                self.parts["redis"] = pid
        return self.parts

    def helpers_rss_mib(self) -> float:
        """RSS of the worker's sandbox helpers (launchers and their zygotes: the root processes
        under the worker), without the containers, whose memory is the programs'."""
        worker = self.parts.get("worker")
        if worker is None:
            return 0.0
        total = 0
        for pid in descendants(worker):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if pid != worker and os.stat(f"/proc/{pid}").st_uid == 0:
                    total += rss_bytes(pid)
        return total / 2**20

    def sample(self) -> dict[str, dict[str, float]]:
        """RSS (the main process's and its whole tree's, in MiB) and CPU seconds of each part;
        notes the worker's launchers and the uids of their containers."""
        figures: dict[str, dict[str, float]] = {}
        for name, pid in {"up": self.up_pid, **self.parts}.items():
            tree = list(descendants(pid)) if name != "up" else [pid]
            figures[name] = {
                "rss_mib": rss_bytes(pid) / 2**20,
                "tree_rss_mib": sum(rss_bytes(p) for p in tree) / 2**20,
                "processes": len(tree),
                "cpu_s": cpu_s(pid) if name != "up" else 0.0,
            }
        worker = self.parts.get("worker")
        if worker is not None:
            for pid in children(worker):
                if "sandbox.launcher" in cmdline(pid):
                    self.launchers.add(pid)
                    for inner in descendants(pid):
                        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                            uid = os.stat(f"/proc/{inner}").st_uid
                            if uid in SANDBOX_UIDS:
                                self.uids.add(uid)
        return figures


# -- residue ------------------------------------------------------------------------------------------


def mounts() -> set[str]:
    """The host's mount table as this process sees it: 'point fstype source options' lines."""
    found = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            found.add(" ".join([fields[4], *fields[sep + 1 : sep + 4]]))
    return found


def cgroup_dirs() -> list[Path]:
    """The directories holding run cgroups: one per v1 hierarchy, or the one v2 directory."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT / CGROUP_PARENT]
    dirs: list[Path] = []
    for controller in ("memory", "pids", "cpu", "cpuacct"):
        path = (CGROUP_ROOT / controller).resolve() / CGROUP_PARENT
        if path not in dirs:
            dirs.append(path)
    return dirs


def run_cgroups() -> set[str]:
    names: set[str] = set()
    for directory in cgroup_dirs():
        with contextlib.suppress(FileNotFoundError):
            names.update(e.name for e in os.scandir(directory) if e.is_dir())
    return names


@dataclass
class Residue:
    """What is left after the service stopped: this run's leaks, and what others hold."""

    mounts: list[str]
    cgroups: list[str]
    processes: list[str]
    scratch: list[str]
    other_cgroups: int
    other_sandbox_processes: int
    sandbox_zombies: int

    @property
    def clean(self) -> bool:
        return not (self.mounts or self.cgroups or self.processes or self.scratch)


def residue(tree: ServiceTree, mounts_before: set[str], needles: Iterable[str], scratch: Path) -> Residue:
    """Mounts new since `mounts_before` that name one of `needles` (the data dir, the images,
    /run/jaula); cgroups of this run's launchers; live processes that are this run's (its
    launchers, anything under `jaula up`, or running as one of its uids); files in its scratch
    dir other than the problem cache."""
    needles = [n.rstrip("/") for n in needles]
    new_mounts = sorted(m for m in mounts() - mounts_before if any(n in m for n in needles))
    owners = {str(pid) for pid in tree.launchers}
    cgroups = run_cgroups()
    ours = sorted(name for name in cgroups if name.partition("-")[0] in owners)
    ours_pids = {tree.up_pid, *tree.parts.values(), *tree.launchers}
    table = processes(zombies=True)
    live = [p for p in table if not p.zombie]
    by_pid = {p.pid: p for p in table}

    def under_another_launcher(proc: Process) -> bool:
        # A uid freed by this run may be taken at once by another jaula's launcher.
        seen = set()
        while proc.ppid in by_pid and proc.ppid not in seen:
            seen.add(proc.ppid)
            proc = by_pid[proc.ppid]
            if proc.pid not in ours_pids and "sandbox.launcher" in cmdline(proc.pid):
                return True
        return False

    leaked = [
        str(p) for p in live if p.pid in ours_pids or (p.uid in tree.uids and not under_another_launcher(p))
    ]
    others = [p for p in live if p.uid in SANDBOX_UIDS and str(p) not in leaked]
    # <scratch>/problems is the worker's cache of unpacked problems, kept on purpose (pruned after
    # a week: docs/grading.md); anything else there (compiled artefacts) must be gone.
    left = sorted(
        str(p.relative_to(scratch))
        for p in scratch.rglob("*")
        if not p.is_dir() and p.relative_to(scratch).parts[0] != "problems"
    )
    zombies = sum(1 for p in table if p.zombie and p.uid in SANDBOX_UIDS)
    return Residue(
        mounts=new_mounts,
        cgroups=ours,
        processes=leaked,
        scratch=left,
        other_cgroups=len(cgroups) - len(ours),
        other_sandbox_processes=len(others),
        sandbox_zombies=zombies,
    )
