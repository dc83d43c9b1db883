"""Run a command chrooted in a stack of layers, inside a private mount and PID namespace.

This is host-side build tooling (building images), not the per-run sandbox. Each call starts
`unshare --mount --propagation private --pid --fork` with a small sh script that mounts the
overlay (lower layers read-only, plus an upper directory that receives every change), a fresh
/proc, a minimal /dev, tmpfs on /tmp and /run, and the requested bind mounts, then chroots and
runs the command. Every one of those mounts exists only in the new mount namespace: when its
last process exits - and with a PID namespace, when the command exits every process it started
is killed - the kernel drops them all. Nothing is ever left mounted on the host, whatever fails.

What the command writes lands in the upper directory (as overlayfs copy-ups, whiteouts for
deletions and opaque directories for replaced ones); what it writes to /tmp, /run, /proc, /dev
or a bind mount does not.
"""

from __future__ import annotations

import collections
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.images.errors import BuildFailed

# Device nodes a package's maintainer scripts may use; bound from the host.
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_TAIL_LINES = 40


@dataclass(frozen=True, slots=True)
class Bind:
    source: Path
    """Host path (file or directory)."""
    target: str
    """Absolute path inside the chroot; must already exist in the layers (a mount point is never
    created, so binding leaves no trace in the layer)."""
    read_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Chroot:
    lowers: Sequence[Path]
    """Read-only layers, lowest (base) first."""
    merged: Path
    """An empty directory to mount the stack on."""
    upper: Path | None = None
    """Receives every change; None mounts the stack read-only."""
    work: Path | None = None
    """overlayfs work directory, on the same filesystem as upper (required with upper)."""
    binds: Sequence[Bind] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    writable: bool = False
    """With a single lower and no upper: change that directory in place (building a base)."""


def _mount_script(chroot: Chroot) -> str:
    q = shlex.quote
    merged = q(str(chroot.merged))
    lines = ["set -eu"]
    # overlayfs lists lowers topmost first.
    lowerdir = ":".join(str(p) for p in reversed(chroot.lowers))
    if chroot.upper is not None:
        if chroot.work is None:
            raise ValueError("an upper directory needs a work directory")
        opts = f"lowerdir={lowerdir},upperdir={chroot.upper},workdir={chroot.work}"
        lines.append(f"mount -t overlay overlay -o {q(opts)} {merged}")
    elif len(chroot.lowers) > 1:
        lines.append(f"mount -t overlay overlay -o {q('ro,lowerdir=' + lowerdir)} {merged}")
    else:
        # overlayfs wants two lowers when it has no upper; one layer is just a read-only bind.
        lines.append(f"mount --bind {q(str(chroot.lowers[0]))} {merged}")
        if not chroot.writable:
            lines.append(f"mount -o remount,bind,ro {merged}")
    lines += [
        f"mount -t proc proc {merged}/proc",
        f"mount -t tmpfs -o mode=0755 tmpfs {merged}/dev",
        f"mkdir {merged}/dev/pts {merged}/dev/shm",
        f"ln -s /proc/self/fd {merged}/dev/fd",
        f"ln -s /proc/self/fd/0 {merged}/dev/stdin",
        f"ln -s /proc/self/fd/1 {merged}/dev/stdout",
        f"ln -s /proc/self/fd/2 {merged}/dev/stderr",
    ]
    for dev in _DEVICES:
        lines += [f"touch {merged}/dev/{dev}", f"mount --bind /dev/{dev} {merged}/dev/{dev}"]
    lines += [
        f"mount -t tmpfs -o mode=1777 tmpfs {merged}/tmp",
        f"mount -t tmpfs -o mode=0755 tmpfs {merged}/run",
    ]
    for bind in chroot.binds:
        target = q(f"{chroot.merged}{bind.target}")
        lines.append(f"mount --bind {q(str(bind.source))} {target}")
        if bind.read_only:
            lines.append(f"mount -o remount,bind,ro {target}")
    env = " ".join(q(f"{k}={v}") for k, v in chroot.env.items())
    # The host's chroot by absolute path: `env -i` clears PATH before it would look it up.
    chroot_binary = shutil.which("chroot") or "/usr/sbin/chroot"
    lines.append(f'exec env -i {env} {q(chroot_binary)} {merged} "$@"')
    return "\n".join(lines)


def run_in_chroot(
    chroot: Chroot,
    argv: Sequence[str],
    *,
    step: str,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Run argv in the chroot; return its output (stdout and stderr merged).

    A non-zero exit raises BuildFailed naming `step`, with the last lines of output.
    """
    for path in (*chroot.lowers, chroot.merged):
        if not path.is_dir():
            raise BuildFailed(step, f"{path} is not a directory")
    command = [
        "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
        "sh", "-c", _mount_script(chroot), "jaula-chroot", *argv,
    ]  # fmt: skip
    return run_logged(command, step=step, on_line=on_line)


def run_logged(command: Sequence[str], *, step: str, on_line: Callable[[str], None] | None = None) -> str:
    """Run a host command, passing each output line to on_line; BuildFailed on a non-zero exit."""
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    output: list[str] = []
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            output.append(line)
            tail.append(line)
            if on_line is not None:
                on_line(line)
    if proc.returncode != 0:
        raise BuildFailed(step, f"exit status {proc.returncode}\n" + "\n".join(tail))
    return "\n".join(output)
