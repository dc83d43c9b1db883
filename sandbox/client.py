"""The caller's side: a launcher of one's own, leases of prepared containers, runs supervised here.

`Sandbox` starts one launcher (with `python -I`, so nothing of the caller's environment reaches
it), tells it which kinds of container it will want (the last few kinds it ran), takes the
prepared containers it lends, runs each job in one (supervise.py) and returns it. One run at a
time per Sandbox; `run()` keeps a pool of them so that threads of one process run in parallel,
each with its own launcher. After a fork, the child starts its own launchers.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import threading
from typing import Any

from sandbox import protocol, supervise, trace
from sandbox.container import RootKey, key_from_json, key_of, key_to_json
from sandbox.errors import HostError, LauncherDied, SandboxError, SetupError, SpecError
from sandbox.launcher import LauncherConfig
from sandbox.lease import Lease
from sandbox.result import Result
from sandbox.spec import Spec

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The package's location travels in the environment and the configuration over the socket, not on
# the command line: every container's init is a fork of the launcher, and its command line is
# visible to the program inside (as /proc/1/cmdline; the zygote also rewrites it).
_BOOT = (
    "import os, sys; sys.path.insert(0, os.environ.pop('JAULA_SANDBOX_PATH')); "
    "from sandbox.launcher import main; sys.exit(main(sys.argv[1:]))"
)
# Preparing a container takes milliseconds; this only bounds a launcher that stopped answering.
_LEASE_TIMEOUT_S = 60.0


class Sandbox:
    """A private launcher. Use as a context manager, or call close()."""

    def __init__(self, config: LauncherConfig | None = None) -> None:
        self.config = config or LauncherConfig()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()
        self._leases: dict[RootKey, list[Lease]] = {}
        self._lease_errors: dict[RootKey, SetupError] = {}
        self._wanted: list[RootKey] = []
        self._replies: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run(self, spec: Spec) -> Result:
        """Run one program in one fresh container; raises SandboxError if the sandbox fails."""
        trace.mark("client: run")
        spec.validate()
        key = key_of(spec)
        with self._lock:
            self._ensure_started()
            self._want(key)
            lease = self._take(key)
            stdin_fd = None if spec.stdin is None else _sealed_memfd(spec.stdin)
            trace.mark("client: lease taken")
            try:
                return supervise.run_in(lease, spec, stdin_fd)
            finally:
                if stdin_fd is not None:
                    os.close(stdin_fd)
                lease.kill()
                lease.close()
                self._send({"op": "release", "id": lease.id})
                trace.mark("client: released")

    def warm_up(self, spec: Spec) -> None:
        """Start the launcher and have a container for `spec` prepared in advance."""
        spec.validate()
        with self._lock:
            self._ensure_started()
            self._want(key_of(spec))

    def status(self) -> dict[str, Any]:
        with self._lock:
            self._ensure_started()
            self._send({"op": "status"})
            status: dict[str, Any] = self._reply("status")["status"]
            return status

    def sync(self) -> None:
        """Return once the launcher has destroyed every container returned so far."""
        with self._lock:
            if self._sock is None:
                return
            self._send({"op": "sync"})
            self._reply("synced")

    def close(self) -> None:
        """Stop the launcher; it destroys every container it made on the way out."""
        with self._lock:
            self._stop()

    # -- leases -----------------------------------------------------------------------------------

    def _want(self, key: RootKey) -> None:
        """Tell the launcher which kinds to keep prepared: the most recently run ones."""
        if self._wanted and self._wanted[0] == key:
            return
        wanted = [key, *(k for k in self._wanted if k != key)][: max(1, self.config.kinds)]
        for dropped in set(self._wanted) - set(wanted):
            for lease in self._leases.pop(dropped, []):
                lease.close()
                self._send({"op": "release", "id": lease.id})
        self._wanted = wanted
        self._send({"op": "want", "keys": [key_to_json(k) for k in wanted]})

    def _take(self, key: RootKey) -> Lease:
        self._receive_pending()
        if not self._leases.get(key):
            # Usually one is on its way already; if not (none kept prepared, or the last attempt
            # failed), this asks for one. The launcher never prepares two at once for us.
            self._send({"op": "prepare", "key": key_to_json(key)})
        while not self._leases.get(key):
            error = self._lease_errors.pop(key, None)
            if error is not None:
                raise error
            self._receive_one(_LEASE_TIMEOUT_S)
        return self._leases[key].pop(0)

    # -- talking to the launcher --------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        assert self._sock is not None
        try:
            protocol.send(self._sock, message)
        except OSError as exc:
            raise self._died(exc) from exc

    def _reply(self, kind: str) -> dict[str, Any]:
        while True:
            for i, reply in enumerate(self._replies):
                if kind in reply:
                    return self._replies.pop(i)
            self._receive_one(_LEASE_TIMEOUT_S)

    def _receive_pending(self) -> None:
        """File whatever the launcher has already sent (leases arrive while we are busy)."""
        assert self._sock is not None
        while True:
            try:
                self._sock.settimeout(0.0)
                ready = self._sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                return
            except OSError as exc:
                raise self._died(exc) from exc
            if not ready:
                raise self._died(EOFError("connection closed"))
            self._receive_one(_LEASE_TIMEOUT_S)

    def _receive_one(self, timeout: float) -> None:
        """Read one message from the launcher and file it where it belongs."""
        assert self._sock is not None
        try:
            self._sock.settimeout(timeout)
            message, fds = protocol.recv(self._sock)
        except (protocol.ChannelClosed, OSError) as exc:
            raise self._died(exc) from exc
        if "lease" in message:
            lease = Lease.from_message(message["lease"], fds)
            if lease.key in self._wanted:
                self._leases.setdefault(lease.key, []).append(lease)
                trace.mark("client: lease received")
            else:
                # Lent before the launcher read that this kind is no longer wanted (_want gave
                # back those that had arrived): nothing will take it, so give it back too.
                lease.close()
                self._send({"op": "release", "id": lease.id})
            return
        for fd in fds:
            os.close(fd)
        if "lease_error" in message:
            failed = message["lease_error"]
            self._lease_errors[key_from_json(failed["key"])] = SetupError.from_json(failed["error"])
        elif "error" in message:
            raise _error_from(message["error"])
        else:
            self._replies.append(message)

    def _died(self, exc: Exception) -> LauncherDied:
        code = self._stop(kill=True)
        return LauncherDied(f"the sandbox launcher went away ({exc}; exit status {code})")

    def _ensure_started(self) -> None:
        if self._owner_pid != os.getpid():  # forked: the launcher and leases belong to our parent
            self._sock = None
            self._process = None
            self._leases.clear()
            self._wanted = []
            self._owner_pid = os.getpid()
        if self._sock is not None and self._process is not None and self._process.poll() is None:
            return
        self._stop(kill=True)
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env={
                    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                    "LANG": "C.UTF-8",
                    "JAULA_SANDBOX_PATH": _PACKAGE_PARENT,
                },
                start_new_session=True,  # a Ctrl+C for the caller is the caller's to handle
            )
        finally:
            theirs.close()
        self._sock = ours
        try:
            ours.settimeout(_LEASE_TIMEOUT_S)
            protocol.send(ours, {"config": self.config.to_json()})
            hello, _ = protocol.recv(ours)
        except (protocol.ChannelClosed, OSError) as exc:
            code = self._stop(kill=True)
            raise HostError(f"the sandbox launcher failed to start (exit status {code}); root?") from exc
        if "error" in hello:
            self._stop(kill=True)
            raise _error_from(hello["error"])
        self.info = hello.get("status", {})

    def _stop(self, *, kill: bool = False) -> int | None:
        for leases in self._leases.values():
            for lease in leases:
                lease.close()
        self._leases.clear()
        self._lease_errors.clear()
        self._wanted = []
        self._replies.clear()
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
    """Stop every pooled launcher. Run at exit too: a launcher would stop by itself when this
    process's end closes its socket, but stopping it here reaps it and closes our ends cleanly."""
    with _pool_lock:
        pool = list(_idle)
        _idle.clear()
    for sandbox in pool:
        with contextlib.suppress(SandboxError):
            sandbox.close()


os.register_at_fork(after_in_child=_forget_pool_after_fork)
atexit.register(close_all)
