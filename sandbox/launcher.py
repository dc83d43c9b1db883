"""The launcher: a long-lived, single-threaded root process that makes containers ahead of time.

Theory of operation
-------------------
A Python interpreter takes ~6 ms to start, forking a big or multi-threaded process (a Celery
worker, a web server) is slow or unsafe, and a fresh container costs milliseconds of forks,
namespaces, mounts and, on many kernels, a cgroup migration that stalls for an RCU grace period.
None of that depends on the job. So a client (client.py, in the caller's process) starts one
launcher, tells it which kinds of container it will want, and the launcher keeps one of each kind
prepared and *lends* it as file descriptors. The client runs the job itself (supervise.py), then
returns the lease; the launcher destroys that container and prepares the next. A container is
never used twice.

    client (caller's process)           supervise.py: limits, job, watch, verdict — no fork
     └─ launcher (this module; root)     decides what to prepare, lends it, destroys what returns
         └─ zygote (zygote.py)           forks each container into a new pid namespace
             └─ init (PID 1)             container.py: namespaces, root filesystem, credentials,
                 └─ the program          then posix_spawn and reap

Messages on the client's socket (protocol.py frames):
    client -> launcher   {"op": "want", "keys": [...]}   kinds of container to keep prepared
                         {"op": "release", "id": N}      a lease is returned: destroy it
                         {"op": "status"} / {"op": "sync"}
    launcher -> client   {"lease": {...}} + 4 fds        a prepared container (see lease.py)
                         {"lease_error": {"key", "error"}} preparing one failed (names the step)
                         {"status": {...}} / {"synced": true}

Cleanup: nothing is ever mounted in the host's mount namespace (containers build their root in
their own), so nothing can be left mounted. A container's processes die with its init (pid
namespace), its init dies with the launcher (PR_SET_PDEATHSIG) and the launcher exits when its
client goes away. A launcher killed with SIGKILL leaves only empty cgroups behind, which the next
launcher removes (`reclaim`), recognising dead launchers by their lock files.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import resource
import selectors
import signal
import socket
import sys
from dataclasses import dataclass
from typing import Any

from sandbox import mounts, netns, protocol, standby, trace, zygote
from sandbox.cgroups import Hierarchy, describe, favor_dynamic_modifications, open_hierarchy
from sandbox.container import RootKey, key_from_json, key_to_json
from sandbox.errors import SandboxError, SetupError
from sandbox.lease import Lease


@dataclass(frozen=True, slots=True)
class LauncherConfig:
    cgroup_parent: str = "jaula"
    """Run cgroups live under this cgroup (relative to each hierarchy's root)."""
    state_dir: str = "/run/jaula"
    """Lock files (live launchers, used uids) and the empty staging mount point."""
    uid_range: tuple[int, int] = (60000, 61000)
    """Unprivileged host uids for programs; each live launcher holds one."""
    spares: int = 2
    """Containers kept prepared for each kind the client wants (0: prepare on demand). Two let one
    be prepared while the other runs, so that back-to-back runs rarely wait for one."""
    kinds: int = 3
    """Kinds of container (image layers, binds, ...) kept prepared, most recently used first."""
    trace_path: str | None = None
    """Append a timeline of every run to this file (see trace.py)."""
    tune_cgroups: bool = True
    """Remount cgroup2 with favordynmods if it is not (see cgroups.favor_dynamic_modifications)."""

    def to_json(self) -> str:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["uid_range"] = list(self.uid_range)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> LauncherConfig:
        data = json.loads(text)
        data["uid_range"] = (int(data["uid_range"][0]), int(data["uid_range"][1]))
        return cls(**data)


class Launcher:
    def __init__(self, config: LauncherConfig) -> None:
        self.config = config
        self.hierarchy: Hierarchy = open_hierarchy(config.cgroup_parent)
        if config.tune_cgroups:
            favor_dynamic_modifications()
        os.makedirs(f"{config.state_dir}/launchers", exist_ok=True)
        os.makedirs(f"{config.state_dir}/uids", exist_ok=True)
        self._lock_fd = _hold_lock(f"{config.state_dir}/launchers/{os.getpid()}.lock")
        reclaim(self.hierarchy, config.state_dir)
        self.host_id, self._uid_lock_fd = _allocate_uid(config.state_dir, config.uid_range)
        stage = f"{config.state_dir}/stage"
        shared_dev = f"{config.state_dir}/dev"
        os.makedirs(stage, exist_ok=True)
        os.makedirs(shared_dev, exist_ok=True)
        self.settings = standby.StandbySettings(
            host_id=self.host_id, stage=stage, shared_dev=shared_dev, proc_names=mounts.proc_entries()
        )
        self._serial = 0
        self._zygote: socket.socket | None = None
        self._wanted: list[RootKey] = []
        self._kinds: dict[RootKey, bytes] = {}
        """Encoded ContainerKinds, built once per kind."""
        self._preparing: dict[int, standby.Standby] = {}
        self._lent: dict[int, standby.Standby] = {}
        self._netns = netns.NetnsPool(keep=max(2, config.spares * config.kinds))

    # -- the containers' life cycle ----------------------------------------------------------------

    def want(self, keys: list[RootKey]) -> None:
        """Keep containers prepared for these kinds (most wanted first); stop preparing others."""
        self._wanted = keys[: self.config.kinds]
        # Kinds are kept for the kinds wanted now only: a compiled submission's artefact is a kind
        # of its own, used for a while and then never again, and a long-lived launcher sees
        # thousands of them.
        self._kinds = {key: kind for key, kind in self._kinds.items() if key in self._wanted}
        for box_id, box in list(self._preparing.items()):
            if box.key not in self._wanted:
                del self._preparing[box_id]
                self._destroy(box)
        self._fill()

    def _fill(self) -> None:
        for key in self._wanted:
            outstanding = sum(1 for b in (*self._preparing.values(), *self._lent.values()) if b.key == key)
            for _ in range(max(0, self.config.spares - outstanding) if self.config.spares else 0):
                self._prepare(key)

    def prepare_now(self, key: RootKey) -> None:
        """A container the client needs and has no lease for (a kind not prepared in advance)."""
        if not any(b.key == key for b in self._preparing.values()):
            self._prepare(key)

    def start_zygote(self, client: socket.socket) -> None:
        """Fork the zygote now, while our heap is fresh and frozen (see zygote.py). It does not
        keep our socket to the client: no container may hold a way to talk to the client."""
        ours, theirs = socket.socketpair()
        if os.fork() == 0:
            ours.close()
            client.close()
            zygote.serve(theirs, self.settings.shared_dev)
        theirs.close()
        self._zygote = ours
        hello, _ = protocol.recv(ours)
        if "error" in hello:
            raise SetupError.from_json(hello["error"])

    def _prepare(self, key: RootKey) -> None:
        assert self._zygote is not None, "start_zygote() first"
        self._serial += 1
        name = f"{os.getpid()}-{self._serial}"
        kind = self._kinds.get(key)
        if kind is None:
            kind = standby.kind_for(self.settings, key).encode()
            if key in self._wanted:
                self._kinds[key] = kind
        net = None if key.network else self._take_netns()
        try:
            box = standby.prepare(self._zygote, self.hierarchy, name, key, kind, net)
        except BaseException:
            if net is not None:
                # Not given back: once sent, a container may hold it even though no answer came.
                self._netns.discard(net)
            raise
        self._preparing[self._serial] = box

    def _take_netns(self) -> int:
        try:
            return self._netns.take()
        except OSError as exc:
            raise SetupError.from_oserror("make the network namespace", exc) from exc

    def _destroy(self, box: standby.Standby) -> None:
        box.destroy()
        if box.netns is not None:
            if box.exited:  # every process that could have used it has exited
                self._netns.give_back(box.netns)
            else:
                self._netns.discard(box.netns)
            box.netns = None

    def lend(self, box_id: int, client: socket.socket) -> None:
        """The container finished preparing: hand it to the client, or say why it failed."""
        box = self._preparing.pop(box_id)
        try:
            box.wait_ready()
        except SetupError as exc:
            self._destroy(box)
            protocol.send(client, {"lease_error": {"key": key_to_json(box.key), "error": exc.to_json()}})
            return
        # Lent before it is sent: should the client be gone (the send fails), shutdown() still
        # finds the container and destroys it, cgroup included.
        self._lent[box_id] = box
        fds = [box.job.fileno(), box.stdout_r, box.stderr_r, box.pidfd]
        message = Lease.message(box_id, box.pid, box.key, describe(box.cgroup))
        protocol.send(client, {"lease": message}, fds)
        box.close_channels()  # the client has its own copies now
        trace.mark("launcher: lent")

    def release(self, box_id: int) -> None:
        box = self._lent.pop(box_id, None)
        if box is not None:
            self._destroy(box)
            trace.mark("launcher: destroyed")
        self._fill()

    def shutdown(self) -> None:
        for box in (*self._preparing.values(), *self._lent.values()):
            with contextlib.suppress(Exception):
                self._destroy(box)
        self._preparing.clear()
        self._lent.clear()
        self._netns.close()

    def release_locks(self) -> None:
        """On a clean exit: no lock file of ours is left for the next launcher to clean."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{self.config.state_dir}/launchers/{os.getpid()}.lock")
        os.close(self._lock_fd)
        os.close(self._uid_lock_fd)

    def status(self) -> dict[str, Any]:
        def info(box_id: int, box: standby.Standby) -> dict[str, Any]:
            return {"id": box_id, "init_pid": box.pid, "cgroup": box.cgroup.name}

        return {
            "pid": os.getpid(),
            "host_id": self.host_id,
            "cgroup_version": self.hierarchy.version,
            "preparing": [info(i, b) for i, b in self._preparing.items()],
            "lent": [info(i, b) for i, b in self._lent.items()],
            "container_kinds": len(self._kinds),
            "network_namespaces": self._netns.status(),
        }

    # -- the event loop --------------------------------------------------------------------------

    def serve(self, client: socket.socket) -> None:
        """Answer the client and lend containers as they become ready, until the client leaves."""
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, None)
        try:
            self._serve(client, sel)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away while we were answering it
        finally:
            sel.close()

    def _serve(self, client: socket.socket, sel: selectors.BaseSelector) -> None:
        watched: dict[int, socket.socket] = {}
        while True:
            for box_id in watched.keys() - self._preparing.keys():  # destroyed meanwhile
                sel.unregister(watched.pop(box_id))
            for box_id in self._preparing.keys() - watched.keys():
                watched[box_id] = self._preparing[box_id].control
                sel.register(watched[box_id], selectors.EVENT_READ, box_id)
            for key, _ in sel.select():
                if key.data is None:
                    if not self._answer(client):
                        return
                elif key.data in self._preparing:
                    sel.unregister(watched.pop(key.data))
                    self.lend(key.data, client)

    def _answer(self, client: socket.socket) -> bool:
        try:
            request, fds = protocol.recv(client)
        except (protocol.ChannelClosed, OSError):  # the client went away
            return False
        for fd in fds:
            os.close(fd)
        op = request.get("op")
        try:
            if op == "release":
                self.release(int(request["id"]))
            elif op == "want":
                self.want([key_from_json(k) for k in request["keys"]])
            elif op == "prepare":
                self.prepare_now(key_from_json(request["key"]))
            elif op == "status":
                protocol.send(client, {"status": self.status()})
            elif op == "sync":
                protocol.send(client, {"synced": True})
            else:
                protocol.send(client, {"error": {"type": "SandboxError", "message": f"unknown op {op!r}"}})
        except SandboxError as exc:
            protocol.send(client, {"error": {"type": type(exc).__name__, "message": str(exc)}})
        return True


def _raise_open_files_limit() -> None:
    """Each network namespace the launcher holds keeps some 50 files open (netns.py); a soft
    limit of 1024, common for services, would do for a dozen. The hard limit is ours to use."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 16 if hard == resource.RLIM_INFINITY else min(hard, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# -- host state: locks, uids, reclaim ----------------------------------------------------------


def _hold_lock(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _allocate_uid(state_dir: str, uid_range: tuple[int, int]) -> tuple[int, int]:
    """A host uid no other live launcher uses, held by a lock for our lifetime."""
    for uid in range(*uid_range):
        fd = os.open(f"{state_dir}/uids/{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except BlockingIOError:
            os.close(fd)
    raise SandboxError(f"all sandbox uids {uid_range[0]}-{uid_range[1] - 1} are in use")


def launcher_alive(state_dir: str, pid: int) -> bool:
    """A launcher is alive while it holds its lock file (pids can be reused; locks cannot)."""
    path = f"{state_dir}/launchers/{pid}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return False


def reclaim(hierarchy: Hierarchy, state_dir: str) -> list[str]:
    """Remove the cgroups and lock files of launchers that died (kill -9, crash); return the
    cgroups' names."""
    for entry in os.scandir(f"{state_dir}/launchers"):
        pid = entry.name.removesuffix(".lock")
        if pid.isdigit() and int(pid) != os.getpid():
            launcher_alive(state_dir, int(pid))  # removes the lock file of a dead one
    removed = []
    for name in hierarchy.run_cgroup_names():
        owner, _, _ = name.partition("-")
        if owner.isdigit() and int(owner) != os.getpid() and not launcher_alive(state_dir, int(owner)):
            cg = hierarchy.open(name)
            cg.kill()
            cg.remove()
            removed.append(name)
    return removed


# -- process entry point ----------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """Started by client.py (never by hand) with the client's socket as argv[0]."""
    sock = socket.socket(fileno=int(argv[0]))
    sock.set_inheritable(False)  # it was passed to us by exec; nothing we start may have it
    first, _ = protocol.recv(sock)
    config = LauncherConfig.from_json(first["config"])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides when we stop
    _raise_open_files_limit()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if config.trace_path:
        trace.enable(config.trace_path)
    try:
        launcher = Launcher(config)
        # Everything so far is shared with the zygote and the containers it forks; freezing keeps
        # the collector from touching (and so copying) those pages.
        gc.collect()
        gc.freeze()
        launcher.start_zygote(client=sock)
    except (SandboxError, OSError) as exc:
        kind = type(exc).__name__ if isinstance(exc, SandboxError) else "HostError"
        protocol.send(sock, {"error": {"type": kind, "message": f"cannot start the launcher: {exc}"}})
        return 1
    protocol.send(sock, {"ready": True, "status": launcher.status()})
    try:
        launcher.serve(sock)
    finally:
        launcher.shutdown()
        launcher.release_locks()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
