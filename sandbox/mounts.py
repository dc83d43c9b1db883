"""The container's filesystem, as a plan of mount operations (pure data) and a loop that applies it.

All of it is done while the container is prepared, in the container's own mount namespace:

staging:
    /  made private, so nothing we mount propagates to the host
    <stage>            tmpfs, size-limited: holds the overlay's upper and work dirs, /tmp, /dev/shm
    <stage>/proc       fresh procfs of the container's pid namespace; /proc/sys (but user/),
                       sysrq-trigger, irq, bus, fs read-only; kcore, keys, kallsyms, timer_list, ...
                       masked by /dev/null
    <stage>/dev        the shared read-only /dev (null zero full random urandom, fd/stdin/stdout/
                       stderr links; no tty, no pts, no disks) with our own shm (<stage>/shm)
root:
    <stage>/root       overlay: lowerdir = image layers (read-only), upper/work on the tmpfs
    proc, dev moved in; /tmp bound from the tmpfs
    pivot_root into it, binds taken from the old root, old root detached: the host is gone.

Nothing here is ever mounted in the host's mount namespace, so a crash cannot leave a mount behind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import NamedTuple

from sandbox import _libc, overlay
from sandbox.spec import Bind

NOSUID_NODEV_NOEXEC = _libc.MS_NOSUID | _libc.MS_NODEV | _libc.MS_NOEXEC

PROC_READONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
PROC_MASKED_FILES = (
    "kcore",
    "keys",
    "key-users",
    "kallsyms",
    "kmsg",
    "latency_stats",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "config.gz",
    "vmallocinfo",
    "modules",
)
PROC_MASKED_DIRS = ("acpi", "scsi", "asound", "driver")
DEVICES = (  # name, major, minor
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
)
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
)
OLD_ROOT = ".oldroot"


class Op(NamedTuple):
    """One step of a mount plan. `kind` selects what `apply` does; `step` names it in errors.

    A plain tuple of strings and ints, so that the launcher can build a container's plan once and
    send it along (marshal) instead of every container building its own.
    """

    kind: str
    target: str
    source: str | None = None
    fstype: str | None = None
    flags: int = 0
    data: str | None = None
    mode: int = 0

    @property
    def step(self) -> str:
        return f"{self.kind} {self.target}"


def tmpfs_options(*, size_bytes: int, inodes: int, mode: int) -> str:
    return f"size={size_bytes},nr_inodes={inodes},mode={mode:o}"


def plan_shared_dev(path: str) -> list[Op]:
    """The read-only /dev every container shares, made once in the zygote's mount namespace."""
    ops = [
        # Host mounts made later still reach us; ours never reach the host.
        Op("mount", "/", flags=_libc.MS_REC | _libc.MS_SLAVE),
        Op(
            "mount",
            path,
            "tmpfs",
            "tmpfs",
            _libc.MS_NOSUID | _libc.MS_NOEXEC,
            "size=64k,nr_inodes=64,mode=755",
        ),
    ]
    ops += [
        Op("mknod", f"{path}/{name}", data=f"{major}:{minor}", mode=0o666) for name, major, minor in DEVICES
    ]
    ops += [Op("symlink", f"{path}/{name}", source=target) for name, target in DEV_LINKS]
    ops.append(Op("mkdir", f"{path}/shm", mode=0o1777))
    ops.append(Op("remount_readonly", path, flags=_libc.MS_NOSUID | _libc.MS_NOEXEC))
    return ops


def proc_entries() -> frozenset[str]:
    """The names in this kernel's /proc (the same for every container: one kernel)."""
    return frozenset(os.listdir("/proc"))


def plan_staging(
    stage: str, shared_dev: str, *, scratch_bytes: int, scratch_inodes: int, proc_names: frozenset[str]
) -> list[Op]:
    proc = f"{stage}/proc"
    dev = f"{stage}/dev"
    ops = [
        Op("mount", "/", flags=_libc.MS_REC | _libc.MS_PRIVATE),
        Op(
            "mount",
            stage,
            "tmpfs",
            "tmpfs",
            _libc.MS_NOSUID | _libc.MS_NODEV,
            tmpfs_options(size_bytes=scratch_bytes, inodes=scratch_inodes, mode=0o755),
        ),
    ]
    ops += [Op("mkdir", f"{stage}/{d}", mode=0o755) for d in ("upper", "work", "root", "proc", "dev")]
    ops += [Op("mkdir", f"{stage}/{d}", mode=0o1777) for d in ("tmp", "shm")]
    ops.append(Op("mount", proc, "proc", "proc", NOSUID_NODEV_NOEXEC))
    # /proc/sys stays read-only except /proc/sys/user, where the container's init sets the
    # per-user-namespace limit that forbids nested user namespaces (credentials.py). Writing
    # there needs CAP_SYS_RESOURCE in the program's own user namespace, which it never has.
    ops.append(Op("mount", f"{proc}/sys/user", f"{proc}/sys/user", None, _libc.MS_BIND))
    ops += [Op("readonly_bind", f"{proc}/{n}", f"{proc}/{n}") for n in PROC_READONLY if n in proc_names]
    ops += [Op("mask_file", f"{proc}/{n}") for n in PROC_MASKED_FILES if n in proc_names]
    ops += [Op("mask_dir", f"{proc}/{n}") for n in PROC_MASKED_DIRS if n in proc_names]
    # /dev is shared by every container (read-only, made once by the zygote); /dev/shm is ours.
    ops.append(Op("mount", dev, shared_dev, None, _libc.MS_BIND | _libc.MS_REC))
    ops.append(Op("mount", f"{dev}/shm", f"{stage}/shm", None, _libc.MS_BIND))
    return ops


def plan_root(stage: str, layers: Sequence[str]) -> list[Op]:
    """Everything up to and including pivot_root (host paths still visible under /.oldroot after)."""
    root = f"{stage}/root"
    return [
        Op(
            "mount",
            root,
            "overlay",
            "overlay",
            _libc.MS_NOSUID | _libc.MS_NODEV,
            overlay.options(layers, f"{stage}/upper", f"{stage}/work"),
        ),
        Op("ensure_dir", f"{root}/proc", mode=0o555),
        Op("ensure_dir", f"{root}/dev", mode=0o755),
        Op("ensure_dir", f"{root}/tmp", mode=0o1777),
        Op("ensure_dir", f"{root}/{OLD_ROOT}", mode=0o700),
        Op("mount", f"{root}/proc", f"{stage}/proc", None, _libc.MS_MOVE),
        Op("mount", f"{root}/dev", f"{stage}/dev", None, _libc.MS_MOVE),
        Op("mount", f"{root}/tmp", f"{stage}/tmp", None, _libc.MS_BIND),
        Op("pivot_root", root, source=f"{root}/{OLD_ROOT}"),
    ]


def plan_binds(binds: Sequence[Bind]) -> list[Op]:
    """Binds, after pivot_root: sources through the old root, targets inside the container."""
    ops = []
    for bind in binds:
        source = f"/{OLD_ROOT}/{bind.source.lstrip('/')}"
        flags = _libc.MS_NOSUID | _libc.MS_NODEV | (0 if bind.writable else _libc.MS_RDONLY)
        ops.append(Op("bind_inside", os.path.normpath(bind.target), source, flags=flags))
    return ops


def plan_detach() -> list[Op]:
    return [Op("detach", f"/{OLD_ROOT}"), Op("rmdir", f"/{OLD_ROOT}")]


def plan_container(
    stage: str,
    shared_dev: str,
    *,
    layers: Sequence[str],
    binds: Sequence[Bind],
    scratch_bytes: int,
    scratch_inodes: int,
    proc_names: frozenset[str],
) -> list[Op]:
    """Everything a container's init mounts, in order: staging, root, binds, detach."""
    return [
        *plan_staging(
            stage,
            shared_dev,
            scratch_bytes=scratch_bytes,
            scratch_inodes=scratch_inodes,
            proc_names=proc_names,
        ),
        *plan_root(stage, layers),
        *plan_binds(binds),
        *plan_detach(),
    ]


def apply(ops: Sequence[Op]) -> None:
    """Carry out a plan. Raises OSError with the failing path; the caller names the step."""
    for op in ops:
        try:
            _apply_one(op)
        except OSError as exc:
            exc.filename = op.target if exc.filename is None else exc.filename
            raise StepFailed(op.step, exc) from exc


class StepFailed(Exception):
    def __init__(self, step: str, error: OSError) -> None:
        self.step = step
        self.error = error
        super().__init__(f"{step}: {error}")


def _apply_one(op: Op) -> None:
    if op.kind == "mount":
        _libc.mount(op.source, op.target, op.fstype, op.flags, op.data)
    elif op.kind == "mkdir":
        os.mkdir(op.target, op.mode)
        os.chmod(op.target, op.mode)  # not filtered by the umask
    elif op.kind == "ensure_dir":
        if not os.path.isdir(op.target) or os.path.islink(op.target):
            os.mkdir(op.target, op.mode)
    elif op.kind == "readonly_bind":
        _libc.mount(op.source, op.target, None, _libc.MS_BIND | _libc.MS_REC)
        readonly = _libc.MS_REMOUNT | _libc.MS_BIND | _libc.MS_RDONLY | NOSUID_NODEV_NOEXEC
        _libc.mount(None, op.target, None, readonly)
    elif op.kind == "mask_file":
        _libc.mount("/dev/null", op.target, None, _libc.MS_BIND)
    elif op.kind == "mask_dir":
        flags = _libc.MS_RDONLY | NOSUID_NODEV_NOEXEC
        _libc.mount("tmpfs", op.target, "tmpfs", flags, "size=0,nr_inodes=1")
    elif op.kind == "mknod":
        major, minor = (int(x) for x in (op.data or "0:0").split(":"))
        os.mknod(op.target, stat.S_IFCHR | op.mode, os.makedev(major, minor))
        os.chmod(op.target, op.mode)
    elif op.kind == "symlink":
        os.symlink(op.source or "", op.target)
    elif op.kind == "remount_readonly":
        _libc.mount(None, op.target, None, _libc.MS_REMOUNT | _libc.MS_RDONLY | op.flags)
    elif op.kind == "pivot_root":
        _libc.pivot_root(op.target, op.source or "")
        os.chdir("/")
    elif op.kind == "bind_inside":
        _bind_inside(op)
    elif op.kind == "detach":
        _libc.umount2(op.target, _libc.MNT_DETACH)
    elif op.kind == "rmdir":
        os.rmdir(op.target)
    else:
        raise ValueError(f"unknown mount operation {op.kind!r}")


def _bind_inside(op: Op) -> None:
    """Bind a host path (under the old root) onto a container path that may not exist yet.

    The target is resolved without following symlinks and without leaving the container root:
    the image and the job's files are not trusted to keep a path meaning what it says.
    """
    source = op.source or ""
    is_dir = os.path.isdir(source)
    parts = [p for p in op.target.split("/") if p]
    resolve = _libc.RESOLVE_IN_ROOT | _libc.RESOLVE_NO_SYMLINKS | _libc.RESOLVE_NO_MAGICLINKS
    parent = _libc.openat2(-100, "/", os.O_PATH | os.O_DIRECTORY, resolve=resolve)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                fd = _libc.openat2(parent, part, os.O_PATH, resolve=resolve)
            except FileNotFoundError:
                if last and not is_dir:
                    os.close(os.open(part, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644, dir_fd=parent))
                else:
                    os.mkdir(part, 0o755, dir_fd=parent)
                fd = _libc.openat2(parent, part, os.O_PATH, resolve=resolve)
            os.close(parent)
            parent = fd
        # Not recursive (no MS_REC): a mount under the source would keep its own flags (a
        # read-only bind of a tree holding a writable tmpfs, or a /dev, would not be read-only,
        # nosuid and nodev all through). The container sees the source's own file system only.
        _libc.mount(source, f"/proc/self/fd/{parent}", None, _libc.MS_BIND)
        # Remount through the path, not the descriptor: the descriptor still names the directory
        # underneath the new mount. The walk above proved the path has no symlink, and nothing
        # untrusted runs yet that could change that.
        _libc.mount(None, op.target, None, _libc.MS_REMOUNT | _libc.MS_BIND | op.flags)
    finally:
        os.close(parent)
