"""Can this host run the sandbox? Each check says what it found and, when missing, how to fix it.

`required` checks must pass for any run to work; `advised` ones are host hardening and tuning
that the sandbox cannot do by itself (see docs/sandbox.md, "What the sandbox does not protect").
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from sandbox import _libc
from sandbox.cgroups import detect_version, mountinfo
from sandbox.errors import HostError


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


@dataclass(slots=True)
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    def add(self, name: str, ok: bool, detail: str, fix: str = "", *, required: bool = True) -> None:
        self.checks.append(Check(name, ok, detail, "" if ok else fix, required))

    def to_json_text(self) -> str:
        return json.dumps({"ok": self.ok, "checks": [asdict(c) for c in self.checks]}, indent=2)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _kernel_at_least(major: int, minor: int) -> bool:
    parts = platform.release().split(".")
    try:
        return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)
    except (IndexError, ValueError):
        return False


def _try_unshare(flag: int) -> str | None:
    """unshare(flag) in a throw-away child; None on success, else the error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                if flag == _libc.CLONE_NEWUSER:
                    os.setresgid(65534, 65534, 65534)
                    os.setresuid(65534, 65534, 65534)  # as an unprivileged user, like the exec stub
                _libc.unshare(flag)
            except OSError as exc:
                os.write(w, str(exc).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        error = f.read()
    os.waitpid(pid, 0)
    return error or None


_NAMESPACES = {
    "mount": _libc.CLONE_NEWNS,
    "pid": _libc.CLONE_NEWPID,
    "network": _libc.CLONE_NEWNET,
    "ipc": _libc.CLONE_NEWIPC,
    "uts": _libc.CLONE_NEWUTS,
    "cgroup": _libc.CLONE_NEWCGROUP,
    "user (unprivileged)": _libc.CLONE_NEWUSER,
}

_HARDENING: list[tuple[str, Callable[[str], bool], str]] = [
    # (sysctl path, good when, advice)
    (
        "kernel/io_uring_disabled",
        lambda v: v == "2",
        "sysctl kernel.io_uring_disabled=2 (io_uring is a large kernel surface)",
    ),
    (
        "kernel/unprivileged_bpf_disabled",
        lambda v: v in ("1", "2"),
        "sysctl kernel.unprivileged_bpf_disabled=1",
    ),
    ("kernel/perf_event_paranoid", lambda v: int(v) >= 2, "sysctl kernel.perf_event_paranoid=3 (or 2)"),
    ("vm/unprivileged_userfaultfd", lambda v: v == "0", "sysctl vm.unprivileged_userfaultfd=0"),
    ("kernel/kptr_restrict", lambda v: int(v) >= 1, "sysctl kernel.kptr_restrict=2"),
    ("kernel/dmesg_restrict", lambda v: v == "1", "sysctl kernel.dmesg_restrict=1"),
    ("kernel/yama/ptrace_scope", lambda v: int(v) >= 1, "sysctl kernel.yama.ptrace_scope=1 (Yama LSM)"),
    ("dev/tty/legacy_tiocsti", lambda v: v == "0", "sysctl dev.tty.legacy_tiocsti=0"),
]


def check_host() -> Report:
    report = Report()
    root = os.geteuid() == 0
    report.add("root", root, f"euid {os.geteuid()}", "run as root (the launcher mounts and creates cgroups)")
    release = platform.release()
    report.add(
        "kernel >= 5.12",
        _kernel_at_least(5, 12),
        f"Linux {release}",
        "upgrade the kernel (openat2, close_range, pidfd and overlayfs features are used)",
    )
    filesystems = _read("/proc/filesystems") or ""
    report.add("overlayfs", "overlay" in filesystems, "overlay in /proc/filesystems", "modprobe overlay")
    report.add("tmpfs", "tmpfs" in filesystems, "tmpfs in /proc/filesystems", "enable CONFIG_TMPFS")
    if root:
        for name, flag in _NAMESPACES.items():
            error = _try_unshare(flag)
            fix = "enable user namespaces: sysctl user.max_user_namespaces=10000"
            if (
                flag == _libc.CLONE_NEWUSER
                and _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1"
            ):
                fix = "sysctl kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04+ restricts them)"
            report.add(f"namespace: {name}", error is None, error or "unshare works", fix)
    _check_cgroups(report)
    _check_tuning(report)
    return report


def _check_cgroups(report: Report) -> None:
    try:
        version = detect_version()
    except HostError as exc:
        report.add("cgroups", False, str(exc), "mount cgroup2 at /sys/fs/cgroup")
        return
    if version == 2:
        controllers = (_read("/sys/fs/cgroup/cgroup.controllers") or "").split()
        missing = [c for c in ("memory", "pids", "cpu") if c not in controllers]
        report.add(
            "cgroup v2 controllers",
            not missing,
            f"unified hierarchy; controllers: {' '.join(controllers)}",
            f"enable {' '.join(missing)} in the kernel / boot parameters",
        )
        report.add(
            "cgroup v2 memory.peak",
            _kernel_at_least(5, 19),
            f"Linux {platform.release()}",
            "Linux >= 5.19 reports the exact peak; older kernels report the final usage",
            required=False,
        )
    else:
        mounted = {opt for _, fstype, opts in mountinfo() if fstype == "cgroup" for opt in opts.split(",")}
        missing = [c for c in ("memory", "pids", "cpu", "cpuacct") if c not in mounted]
        report.add(
            "cgroup v1 controllers",
            not missing,
            "legacy/hybrid hierarchy; mounted: "
            + " ".join(sorted(mounted & {"memory", "pids", "cpu", "cpuacct"})),
            f"mount the {' '.join(missing)} controller(s) under /sys/fs/cgroup",
        )
        report.add(
            "cgroup v1 OOM kill counter",
            "oom_kill" in (_read("/sys/fs/cgroup/memory/memory.oom_control") or ""),
            "memory.oom_control reports oom_kill (Linux >= 4.13)",
            "upgrade the kernel to tell memory_limit from other kills",
        )


def _check_tuning(report: Report) -> None:
    cgroup2 = [(point, opts) for point, fstype, opts in mountinfo() if fstype == "cgroup2"]
    if cgroup2:
        point, options = cgroup2[0]
        report.add(
            "cgroup favordynmods",
            "favordynmods" in options.split(","),
            f"{point} mounted with {options}",
            f"mount -o remount,favordynmods {point} (moving a process into a cgroup after idle "
            "otherwise stalls for an RCU grace period; the launcher sets it when it can)",
            required=False,
        )
    for path, good, advice in _HARDENING:
        value = _read(f"/proc/sys/{path}")
        if value is None:
            continue
        try:
            ok = good(value)
        except ValueError:
            ok = False
        report.add(f"hardening: {path.replace('/', '.')}", ok, f"= {value}", advice, required=False)


def render(report: Report) -> str:
    lines = []
    for c in report.checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        lines.append(f"[{mark}] {c.name}: {c.detail}")
        if c.fix:
            lines.append(f"       fix: {c.fix}")
    lines.append("")
    lines.append("This host can run the sandbox." if report.ok else "This host cannot run the sandbox yet.")
    return "\n".join(lines)
