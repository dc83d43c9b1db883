"""The caller's side: start a launcher, hand it specs, get results.

`Sandbox` owns one launcher process (started on first use with `python -I`, so nothing of the
caller's environment reaches it) and runs one spec at a time. `run()` keeps a pool of them so that
threads of one process can run sandboxes in parallel, each on its own launcher. After a fork the
child starts its own launchers (the parent's belong to the parent).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import threading
from typing import Any

from sandbox import protocol, trace
from sandbox.errors import HostError, LauncherDied, SandboxError, SetupError, SpecError
from sandbox.launcher import LauncherConfig
from sandbox.result import Result
from sandbox.spec import Spec

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from sandbox.launcher import main; sys.exit(main(sys.argv[1:]))"
)
# How long past its wall limit a run may take before the client gives up on the launcher.
_RESPONSE_GRACE_S = 60.0


class Sandbox:
    """A private launcher. Use as a context manager, or call close()."""

    def __init__(self, config: LauncherConfig | None = None) -> None:
        self.config = config or LauncherConfig()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()
        self.info: dict[str, Any] = {}

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run(self, spec: Spec) -> Result:
        """Run one program in one fresh container; raises SandboxError if the sandbox fails."""
        spec.validate()
        payload = spec.to_json()
        payload["stdin"] = None
        with self._lock:
            fds = [] if spec.stdin is None else [_sealed_memfd(spec.stdin)]
            try:
                response = self._request(
                    {"op": "run", "spec": payload},
                    fds,
                    timeout=spec.limits.wall_time_s + _RESPONSE_GRACE_S,
                )
            finally:
                for fd in fds:
                    os.close(fd)
        return Result.from_json(response["result"])

    def warm_up(self, spec: Spec) -> None:
        """Start the launcher and have a container built like `spec` needs ready in advance."""
        spec.validate()
        with self._lock:
            self._request({"op": "warm_up", "spec": spec.to_json()}, [], timeout=60)

    def status(self) -> dict[str, Any]:
        with self._lock:
            status: dict[str, Any] = self._request({"op": "status"}, [], timeout=30)["status"]
            return status

    def sync(self) -> None:
        """Return once the launcher has finished all work of earlier runs (reaping, cleanup)."""
        with self._lock:
            self._request({"op": "sync"}, [], timeout=30)

    def close(self) -> None:
        """Stop the launcher; it destroys its prepared container on the way out."""
        with self._lock:
            self._stop()

    # -- internals --------------------------------------------------------------------------------

    def _request(self, message: dict[str, Any], fds: list[int], *, timeout: float) -> dict[str, Any]:
        sock = self._ensure_started()
        try:
            sock.settimeout(timeout)
            trace.mark("client: request")
            protocol.send(sock, message, fds)
            response, extra = protocol.recv(sock)
            trace.mark("client: response")
            for fd in extra:
                os.close(fd)
        except (protocol.ChannelClosed, OSError) as exc:
            code = self._stop(kill=True)
            raise LauncherDied(f"the sandbox launcher went away ({exc}; exit status {code})") from exc
        if "error" in response:
            raise _error_from(response["error"])
        return response

    def _ensure_started(self) -> socket.socket:
        if self._owner_pid != os.getpid():  # forked: the launcher belongs to our parent
            self._sock = None
            self._process = None
            self._owner_pid = os.getpid()
        if self._sock is not None and self._process is not None and self._process.poll() is None:
            return self._sock
        self._stop(kill=True)
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    _BOOT,
                    _PACKAGE_PARENT,
                    str(theirs.fileno()),
                    self.config.to_json(),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
                start_new_session=True,  # a Ctrl+C for the caller is the caller's to handle
            )
        finally:
            theirs.close()
        self._sock = ours
        try:
            ours.settimeout(60)
            hello, _ = protocol.recv(ours)
        except (protocol.ChannelClosed, OSError) as exc:
            code = self._stop(kill=True)
            raise HostError(
                f"the sandbox launcher failed to start (exit status {code}); are you root?"
            ) from exc
        if "error" in hello:
            self._stop(kill=True)
            raise _error_from(hello["error"])
        self.info = hello.get("status", {})
        return ours

    def _stop(self, *, kill: bool = False) -> int | None:
        sock, self._sock = self._sock, None
        process, self._process = self._process, None
        if sock is not None:
            sock.close()  # the launcher exits when it sees end-of-file
        if process is None:
            return None
        if kill:
            process.kill()
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def _sealed_memfd(data: bytes) -> int:
    """stdin as an anonymous, sealed file: seekable like a file, unwritable by the program."""
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    seals = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    return fd


def _error_from(data: dict[str, Any]) -> SandboxError:
    kind = data.get("type")
    if kind == "SetupError":
        return SetupError.from_json(data)
    message = str(data.get("message", "sandbox error"))
    if kind == "SpecError":
        return SpecError(message)
    if kind == "HostError":
        return HostError(message)
    return SandboxError(message)


# -- the shared pool behind sandbox.run() ---------------------------------------------------------

_pool_lock = threading.Lock()
_idle: list[Sandbox] = []


def run(spec: Spec) -> Result:
    """Run `spec` on an idle launcher of this process (a new one if all are busy)."""
    with _pool_lock:
        sandbox = _idle.pop() if _idle else Sandbox()
    try:
        return sandbox.run(spec)
    finally:
        with _pool_lock:
            _idle.append(sandbox)


def _forget_pool_after_fork() -> None:
    global _pool_lock
    _pool_lock = threading.Lock()
    _idle.clear()


def close_all() -> None:
    """Stop every pooled launcher (they also stop by themselves when this process exits)."""
    with _pool_lock:
        pool = list(_idle)
        _idle.clear()
    for sandbox in pool:
        with contextlib.suppress(SandboxError):
            sandbox.close()


os.register_at_fork(after_in_child=_forget_pool_after_fork)
