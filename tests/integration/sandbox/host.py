"""What the host shows of the sandbox: processes, cgroups, mounts, state files. For residue checks.

Everything here reads host state only (/proc, /sys/fs/cgroup, the state directory); nothing asks
the sandbox's internals, so the checks hold whatever the launcher does inside.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    ppid: int
    uid: int
    """Real uid."""
    name: str
    zombie: bool = False
    """Exited, not reaped yet: it holds nothing but its pid until its parent reaps it."""

    def __str__(self) -> str:
        state = ", zombie" if self.zombie else ""
        return f"pid {self.pid} ({self.name}, uid {self.uid}, parent {self.ppid}{state})"


def processes(*, zombies: bool = False) -> list[Process]:
    """Every process on the host (those that vanish while we look are skipped); zombies only if
    asked for. (The load-test runner's residue check uses this too.)"""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                fields = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
        except (FileNotFoundError, ProcessLookupError):
            continue
        zombie = fields.get("State", "").startswith("Z")
        if zombie and not zombies:
            continue
        found.append(
            Process(
                pid=int(entry.name),
                ppid=int(fields["PPid"]),
                uid=int(fields["Uid"].split()[0]),
                name=fields["Name"].strip(),
                zombie=zombie,
            )
        )
    return found


def processes_of(uids: Iterable[int]) -> list[Process]:
    wanted = set(uids)
    return [p for p in processes() if p.uid in wanted]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def wait_until(condition: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll `condition` (every few ms) until it holds; AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


# -- cgroups --------------------------------------------------------------------------------------


def cgroup_parent_dirs(parent: str, version: int) -> list[Path]:
    """The directories that hold run cgroups under `parent` (one per v1 hierarchy, or one)."""
    if version == 2:
        return [CGROUP_ROOT / parent]
    dirs = []
    for controller in V1_CONTROLLERS:
        path = (CGROUP_ROOT / controller).resolve() / parent  # cpu, cpuacct: often one hierarchy
        if path not in dirs:
            dirs.append(path)
    return dirs


def run_cgroups(parent: str, version: int) -> set[str]:
    """Names of the cgroups under `parent`, in any of its hierarchies."""
    names: set[str] = set()
    for d in cgroup_parent_dirs(parent, version):
        with contextlib.suppress(FileNotFoundError):
            names.update(e.name for e in os.scandir(d) if e.is_dir())
    return names


def cgroup_procs(parent: str, version: int, name: str) -> set[int]:
    pids: set[int] = set()
    for d in cgroup_parent_dirs(parent, version):
        with contextlib.suppress(FileNotFoundError):
            pids.update(int(p) for p in (d / name / "cgroup.procs").read_text().split())
    return pids


def remove_cgroups(parent: str, version: int, names: Iterable[str]) -> None:
    """Best-effort cleanup after a failed check, so one leak does not fail every later test."""
    for name in names:
        for pid in cgroup_procs(parent, version, name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for d in cgroup_parent_dirs(parent, version):
            with contextlib.suppress(AssertionError):
                wait_until(functools.partial(_rmdir, d / name), timeout_s=2, what=f"rmdir {d / name}")


def remove_parent(parent: str, version: int) -> list[str]:
    """rmdir the parent in every hierarchy; return those that could not be removed."""
    left = []
    for d in cgroup_parent_dirs(parent, version):
        if not _rmdir(d):
            left.append(str(d))
    return left


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


# -- mounts and state files -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mount:
    point: str
    fstype: str
    source: str
    options: str

    def __str__(self) -> str:
        return f"{self.fstype} {self.source} on {self.point} ({self.options})"


def mounts() -> set[Mount]:
    """The host's mount table as this process sees it (the sandbox must never add to it)."""
    found = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            found.add(Mount(fields[4], fields[sep + 1], fields[sep + 2], fields[sep + 3]))
    return found


def mounts_mentioning(table: Iterable[Mount], paths: Iterable[str]) -> list[Mount]:
    """Mounts whose mount point, source or options name one of `paths`.

    Other engineers' tools may mount things on a shared machine while the suite runs; only a
    mount that involves the suite's own state directory or images can be the sandbox's.
    """
    needles = [p.rstrip("/") for p in paths]
    return [m for m in table if any(n in m.point or n in m.source or n in m.options for n in needles)]


def state_leftovers(state_dir: Path) -> list[str]:
    """What the state directory holds beyond its lock files (launchers/*.lock, uids/*.lock) and
    its top-level directories (the launcher's, and mount points used only inside containers).
    Leftover files are listed, and so are empty directories below the top level."""
    left = []
    for path in sorted(state_dir.rglob("*")):
        rel = path.relative_to(state_dir)
        if path.is_dir() and not path.is_symlink():
            if len(rel.parts) == 1 or any(path.iterdir()):
                continue
        elif len(rel.parts) == 2 and rel.parts[0] in ("launchers", "uids") and rel.suffix == ".lock":
            continue
        left.append(str(rel))
    return left
