"""Failures of the sandbox itself (never of the program inside it).

    SandboxError                 the run could not be carried out; the job is `failed`, not judged
    ├── SpecError                (also a ValueError) the request itself is malformed
    ├── SetupError               a setup step failed: names the step, the errno and the path
    ├── HostError                the host cannot run the sandbox (not root, no overlayfs, ...)
    └── LauncherDied             the launcher process went away in the middle of a run

A program that crashes, loops or floods is a verdict in a `Result`, never one of these.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Any


class SandboxError(Exception):
    """The sandbox failed; the program was not (or not completely) run."""


class SpecError(SandboxError, ValueError):
    """A Spec that cannot be run as given (the caller's mistake, found before anything starts)."""


class SetupError(SandboxError):
    """A step of building the container failed, e.g. step='mount /proc', errno=EPERM."""

    def __init__(self, step: str, errno: int = 0, path: str | None = None, detail: str = "") -> None:
        self.step = step
        self.errno = errno
        self.path = path
        self.detail = detail
        parts = [f"sandbox setup failed at step {step!r}"]
        if errno:
            parts.append(f"{_errno.errorcode.get(errno, str(errno))} ({os.strerror(errno)})")
        if path:
            parts.append(f"path {path}")
        if detail:
            parts.append(detail)
        super().__init__(": ".join(parts))

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "errno": self.errno, "path": self.path, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SetupError:
        return cls(data["step"], int(data.get("errno") or 0), data.get("path"), data.get("detail", ""))

    @classmethod
    def from_oserror(cls, step: str, exc: OSError) -> SetupError:
        path = exc.filename if isinstance(exc.filename, str) else None
        return cls(step, exc.errno or 0, path, "" if exc.errno else str(exc))


class HostError(SandboxError):
    """This host lacks something the sandbox needs; the message says what and how to fix it."""


class LauncherDied(SandboxError):
    """The launcher process exited unexpectedly; its containers died with it."""
