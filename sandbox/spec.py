"""What to run and within which limits: the input of `sandbox.run()`.

A Spec is plain data. It names host paths (image layers, binds, an output directory) and carries
the job's own bytes (files, stdin). The launcher turns it into namespaces, mounts, cgroup files and
rlimits; nothing here touches the system. Every quantity carries its unit in its name.
"""

from __future__ import annotations

import base64
import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox import overlay
from sandbox.errors import SpecError

KIB = 1024
MIB = 1024 * KIB

#: The environment a program gets when the caller gives none. Nothing is inherited from the host.
DEFAULT_ENV: Mapping[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TMPDIR": "/tmp",
    # glibc: print fatal errors (stack smashing, double free) on stderr instead of /dev/tty.
    "LIBC_FATAL_STDERR_": "1",
}

#: Where the job's files live inside the container, and its working directory.
BOX = "/box"

# Paths a bind may not cover: the sandbox mounts its own /proc and /dev there, and the runtime
# needs the rest of the image in place.
_RESERVED_TARGETS = ("/", "/proc", "/dev", "/sys", "/tmp")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Resource limits of one run. Defaults suit a small program in a scripting language."""

    cpu_time_s: float = 2.0
    """CPU time of all processes and threads of the run, from the cgroup."""
    wall_time_s: float = 5.0
    """Wall-clock time from the program's start."""
    memory_bytes: int = 256 * MIB
    """Memory of the whole run (anonymous memory, page cache, tmpfs, kernel memory); no swap."""
    pids: int = 64
    """Processes and threads alive at once."""
    output_bytes: int = 64 * KIB
    """Cap on each of stdout and stderr; more ends the run with `output_limit`."""
    file_size_bytes: int = 16 * MIB
    """Largest file the program may write (RLIMIT_FSIZE)."""
    open_files: int = 256
    """RLIMIT_NOFILE."""
    stack_bytes: int = 64 * MIB
    """RLIMIT_STACK (soft and hard)."""
    scratch_bytes: int = 64 * MIB
    """Size of the tmpfs that holds the writable layer, /tmp and /dev/shm together."""
    scratch_inodes: int = 16384
    """Files and directories the writable tmpfs may hold."""
    cpus: float = 1.0
    """CPU bandwidth in cores (cgroup quota); many threads cannot take more than this."""

    def validate(self) -> None:
        for name in ("cpu_time_s", "wall_time_s", "cpus"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise SpecError(f"limits.{name} must be a positive number, not {value!r}")
        for name in (
            "memory_bytes",
            "pids",
            "output_bytes",
            "file_size_bytes",
            "open_files",
            "stack_bytes",
            "scratch_bytes",
            "scratch_inodes",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                raise SpecError(f"limits.{name} must be a positive integer, not {value!r}")
        if self.memory_bytes < 4 * MIB:
            raise SpecError("limits.memory_bytes must be at least 4 MiB")
        if self.open_files < 8:
            raise SpecError("limits.open_files must be at least 8")
        if self.pids < 2:
            raise SpecError("limits.pids must be at least 2")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bind:
    """A host directory or file mounted into the container (read-only unless `writable`)."""

    source: str
    target: str
    writable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """One program to run in one fresh container."""

    argv: Sequence[str]
    """The command; argv[0] is looked up in the container's PATH."""
    layers: Sequence[str]
    """Image layers as host directories, lowest (base) first. They are never written."""
    env: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ENV))
    cwd: str = BOX
    files: Mapping[str, bytes] = field(default_factory=dict)
    """Files written under /box before the program starts (relative path -> content)."""
    stdin: bytes | None = None
    """Bytes on stdin; None means /dev/null."""
    binds: Sequence[Bind] = ()
    collect_to: str | None = None
    """Host directory that receives a copy of /box after the run (regular files and directories only)."""
    limits: Limits = field(default_factory=Limits)
    network: bool = False
    """False: a network namespace with only `lo`. True: the host's network (operators must opt in)."""
    hostname: str = "jaula"

    def __post_init__(self) -> None:
        # Sequences are kept as tuples, so that equal specs compare equal however they were built.
        for name in ("argv", "layers", "binds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def validate(self) -> None:
        """Raise SpecError when the spec is malformed; never touches the system."""
        if not self.argv or not all(isinstance(a, str) and "\0" not in a for a in self.argv):
            raise SpecError("argv must be a non-empty list of strings without NUL bytes")
        if not self.layers:
            raise SpecError("at least one image layer is needed")
        for layer in self.layers:
            _check_host_path(layer, "layer")
            if overlay.unusable_layer_path(layer):
                raise SpecError(f"layer path {layer!r} contains ':', ',' or '\\' (overlayfs separators)")
        for key, value in self.env.items():
            if not key or "=" in key or "\0" in key or "\0" in value:
                raise SpecError(f"invalid environment variable {key!r}")
        if not posixpath.isabs(self.cwd):
            raise SpecError("cwd must be an absolute path inside the container")
        for name in self.files:
            box_relative(name)
        for bind in self.binds:
            _check_host_path(bind.source, "bind source")
            target = posixpath.normpath(bind.target)
            if not posixpath.isabs(bind.target) or target in _RESERVED_TARGETS:
                raise SpecError(f"bind target {bind.target!r} must be absolute and not {_RESERVED_TARGETS}")
            if any(target.startswith(r + "/") for r in ("/proc", "/dev", "/sys")):
                raise SpecError(f"bind target {bind.target!r} is inside a sandbox-managed mount")
        if self.collect_to is not None:
            _check_host_path(self.collect_to, "collect_to")
        if not self.hostname or len(self.hostname) > 64 or not self.hostname.isascii():
            raise SpecError("hostname must be 1-64 ASCII characters")
        self.limits.validate()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["argv"] = list(self.argv)
        data["layers"] = list(self.layers)
        data["env"] = dict(self.env)
        data["files"] = {k: base64.b64encode(v).decode() for k, v in self.files.items()}
        data["stdin"] = None if self.stdin is None else base64.b64encode(self.stdin).decode()
        data["binds"] = [asdict(b) for b in self.binds]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Spec:
        stdin = data.get("stdin")
        return cls(
            argv=list(data["argv"]),
            layers=list(data["layers"]),
            env=dict(data.get("env", DEFAULT_ENV)),
            cwd=data.get("cwd", BOX),
            files={k: base64.b64decode(v) for k, v in data.get("files", {}).items()},
            stdin=None if stdin is None else base64.b64decode(stdin),
            binds=tuple(Bind(**b) for b in data.get("binds", ())),
            collect_to=data.get("collect_to"),
            limits=Limits(**data.get("limits", {})),
            network=bool(data.get("network", False)),
            hostname=data.get("hostname", "jaula"),
        )


def box_relative(name: str) -> str:
    """Normalise a file name relative to /box, refusing anything that would leave it."""
    if not name or "\0" in name or posixpath.isabs(name):
        raise SpecError(f"file name {name!r} must be a relative path")
    norm = posixpath.normpath(name)
    if norm == "." or norm.startswith("../") or norm == "..":
        raise SpecError(f"file name {name!r} leaves /box")
    return norm


def _check_host_path(path: str, what: str) -> None:
    if not isinstance(path, str) or not posixpath.isabs(path) or "\0" in path:
        raise SpecError(f"{what} {path!r} must be an absolute host path")
