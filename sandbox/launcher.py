"""The launcher: a long-lived, single-threaded root process that runs one container at a time.

Theory of operation
-------------------
A Python interpreter takes ~6 ms to start and forking a multi-threaded process (a Celery worker,
a web server) is unsafe, so `sandbox.run()` does neither: it hands the spec to a launcher, a small
process started once per client (client.py) that does all the forking.

    client (any process, any thread)      sandbox.run(spec) -> Result, over a socketpair
     └─ launcher (this module; root)       one job at a time; makes the next container in advance
         └─ init (PID 1 of a new pid ns)   container.py: mounts, pivot_root, reaps, reports
             └─ exec stub -> program       container.py: cgroup, user ns, credentials -> execve

A job's path, in order (each step fails closed; a failure names the step):
  1. take the container prepared in advance (standby.py): its namespaces, staging mounts, cgroup
     (with the exec stub already inside it) and credentials are ready;
  2. write the job's limits into the cgroup (memory with swap off, pids, CPU bandwidth) and reset
     its counters, before anything of the job runs;
  3. send the spec to the init; it builds the root (overlay over the image layers), fills /box and
     tells the stub to exec the program;
  4. watch: read stdout and stderr into capped buffers; poll the cgroup's CPU time no more often
     than the CPU limit could be reached; keep the wall clock. On any limit, SIGKILL the init:
     the kernel kills the whole pid namespace with it;
  5. when the program's main process exits, the init kills what is left of the run, reaps it and
     reports the wait status; then read the cgroup's CPU time, memory peak, OOM and pids events,
     classify (result.py), remove the cgroup, and answer the client;
  6. after answering: reap the init (its mount, net and ipc namespaces die with it) and make the
     next container.
Nothing is ever mounted in the host's mount namespace. A launcher killed with SIGKILL takes its
containers with it (they have PR_SET_PDEATHSIG); the next launcher removes the empty cgroups it
left (reclaim below).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import output, protocol, rlimits, standby, trace
from sandbox.cgroups import CgroupStats, Hierarchy, favor_dynamic_modifications, open_hierarchy
from sandbox.container import RootKey
from sandbox.errors import SandboxError, SetupError
from sandbox.result import KillReason, Observation, Result, classify, signal_name
from sandbox.spec import Limits, Spec

# The wall clock is enforced from the moment the spec is sent; the root filesystem is built in
# that time, so allow for it before calling the run late.
WALL_SLACK_S = 0.05
# Never poll the cgroup more often than this, even when the CPU limit is near.
MIN_CPU_POLL_S = 0.002
# Once the program has ended, its output pipes close within milliseconds.
DRAIN_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class LauncherConfig:
    cgroup_parent: str = "jaula"
    state_dir: str = "/run/jaula"
    uid_range: tuple[int, int] = (60000, 61000)
    spares: int = 1
    """Containers kept prepared ahead of time, built like the last run's (0: build on demand)."""
    trace_path: str | None = None
    """Append a timeline of every run to this file (see trace.py)."""
    tune_cgroups: bool = True
    """Remount cgroup2 with favordynmods if it is not (see cgroups.favor_dynamic_modifications)."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "cgroup_parent": self.cgroup_parent,
                "state_dir": self.state_dir,
                "uid_range": list(self.uid_range),
                "spares": self.spares,
                "trace_path": self.trace_path,
                "tune_cgroups": self.tune_cgroups,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LauncherConfig:
        data = json.loads(text)
        return cls(
            cgroup_parent=data["cgroup_parent"],
            state_dir=data["state_dir"],
            uid_range=(int(data["uid_range"][0]), int(data["uid_range"][1])),
            spares=int(data["spares"]),
            trace_path=data.get("trace_path"),
            tune_cgroups=bool(data.get("tune_cgroups", True)),
        )


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
        os.makedirs(stage, exist_ok=True)
        self.settings = standby.StandbySettings(host_id=self.host_id, stage=stage)
        self._serial = 0
        self._spares: list[standby.Standby] = []
        self._finished: standby.Standby | None = None
        self._last_key: RootKey | None = None

    # -- containers -----------------------------------------------------------------------------

    def _new_standby(self, key: RootKey) -> standby.Standby:
        self._serial += 1
        return standby.prepare(self.hierarchy, f"{os.getpid()}-{self._serial}", self.settings, key)

    def _take(self, key: RootKey) -> standby.Standby:
        """A container prepared for `key`: a spare if one matches, else a new one (on the clock)."""
        match = next((box for box in self._spares if box.key == key), None)
        if match is not None:
            self._spares.remove(match)
        else:
            match = self._new_standby(key)
        try:
            match.wait_ready()
        except BaseException:
            match.destroy()
            raise
        return match

    def after_run(self) -> None:
        """Work that need not delay the answer: reap the last container, prepare the next ones."""
        finished, self._finished = self._finished, None
        if finished is not None:
            finished.destroy()
        key = self._last_key
        if key is None or self.config.spares == 0:
            return
        # Spares are built like the last run's container; older kinds make room for it.
        while len(self._spares) < self.config.spares or not any(b.key == key for b in self._spares):
            if len(self._spares) >= self.config.spares:
                self._spares.pop(0).destroy()
            try:
                self._spares.append(self._new_standby(key))
            except SandboxError:
                return  # the next run will try again and report the error

    def warm_up(self, key: RootKey) -> None:
        self._last_key = key
        self.after_run()

    def shutdown(self) -> None:
        for box in [*self._spares, *([self._finished] if self._finished else [])]:
            with contextlib.suppress(Exception):
                box.destroy()
        self._spares = []
        self._finished = None

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host_id": self.host_id,
            "cgroup_version": self.hierarchy.version,
            "spares": [{"pid": b.pid, "cgroup": b.cgroup.name} for b in self._spares],
        }

    # -- one run --------------------------------------------------------------------------------

    def execute(self, spec: Spec, stdin_fd: int | None) -> Result:
        spec.validate()
        key = root_key(spec)
        self._last_key = key
        trace.mark("launcher: take")
        box = self._take(key)
        self._finished = box  # after_run() reaps its init and removes its cgroup
        try:
            return self._execute_in(box, spec, stdin_fd)
        finally:
            box.kill()  # whatever is left of the run dies with the init

    def _execute_in(self, box: standby.Standby, spec: Spec, stdin_fd: int | None) -> Result:
        limits = spec.limits
        cgroup = box.cgroup
        collect_fd = None
        try:
            if spec.collect_to is not None:
                collect_fd = _open_step("open collect_to", spec.collect_to)
            trace.mark("launcher: set limits")
            try:
                cgroup.start(memory_bytes=limits.memory_bytes, pids=limits.pids, cpus=limits.cpus)
            except OSError as exc:
                raise SetupError.from_oserror("write cgroup limits", exc) from exc
            trace.mark("launcher: limits written")
            sent_at = time.monotonic()
            protocol.send(box.job, _job_message(spec), [stdin_fd] if stdin_fd is not None else [])
            trace.mark("launcher: job sent")
            watch = _Watch(box, limits, sent_at)
            watch.until_exit(cgroup.cpu_time_ns)
            trace.mark("launcher: program exited")
            # Read the figures now: whatever the program left running dies next.
            stats = cgroup.stats()
            trace.mark("launcher: stats read")
            if collect_fd is not None and watch.killed_by is None and watch.report is not None:
                _collect(box, collect_fd)
            else:
                box.kill()
            trace.mark("launcher: killed")
            watch.drain()
        finally:
            if collect_fd is not None:
                os.close(collect_fd)
        trace.mark("launcher: watched")
        return self._result(watch, stats, limits)

    def _result(self, watch: _Watch, stats: CgroupStats, limits: Limits) -> Result:
        report = watch.report
        if report is not None and "error" in report:
            raise SetupError.from_json(report["error"])
        if report is None and watch.killed_by is None:
            raise SetupError("run", detail="the exec stub died without reporting")
        exit_code, sig = _decode_status(report)
        cpu_ns = stats.cpu_time_ns
        if report is not None:
            wall_ms = round((report["ended"] - report["started"]) * 1000)
            cpu_ns = max(0, cpu_ns - int(report.get("stub_cpu_ns", 0)))
        else:
            wall_ms = round((watch.ended - watch.sent_at) * 1000)
            sig = signal.SIGKILL
        observation = Observation(
            exit_code=exit_code,
            signal=sig,
            killed_by=watch.killed_by,
            cpu_time_ms=cpu_ns // 1_000_000,
            wall_time_ms=wall_ms,
            memory_peak_bytes=stats.memory_peak_bytes,
            oom_kills=stats.oom_kills,
            pids_limit_hits=stats.pids_limit_hits,
            stdout_truncated=watch.stdout.truncated,
            stderr_truncated=watch.stderr.truncated,
            cpu_time_limit_ms=round(limits.cpu_time_s * 1000),
            wall_time_limit_ms=round(limits.wall_time_s * 1000),
            memory_limit_bytes=limits.memory_bytes,
            pids_limit=limits.pids,
            output_limit_bytes=limits.output_bytes,
            file_size_limit_bytes=limits.file_size_bytes,
        )
        verdict, message = classify(observation)
        return Result(
            verdict=verdict,
            exit_code=exit_code,
            signal=None if sig is None else signal_name(sig),
            cpu_time_ms=observation.cpu_time_ms,
            wall_time_ms=wall_ms,
            memory_peak_bytes=stats.memory_peak_bytes,
            stdout=watch.stdout.data(),
            stderr=watch.stderr.data(),
            stdout_truncated=watch.stdout.truncated,
            stderr_truncated=watch.stderr.truncated,
            message=message,
            cgroup_version=self.hierarchy.version,
        )


def _job_message(spec: Spec) -> dict[str, Any]:
    """What the exec stub needs (stdin travels separately, as a file descriptor)."""
    data = spec.to_json()
    return {
        "argv": data["argv"],
        "env": data["env"],
        "cwd": data["cwd"],
        "files": data["files"],
        "rlimits": rlimits.table(spec.limits),
    }


def _open_step(step: str, path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SetupError.from_oserror(step, exc) from exc


def _collect(box: standby.Standby, collect_fd: int) -> None:
    """Have the init stop what is left of the run and copy /box into collect_to."""
    try:
        protocol.send(box.control, {"collect": True}, [collect_fd])
        answer, fds = protocol.recv(box.control)
    except (protocol.ChannelClosed, OSError) as exc:
        raise SetupError("copy /box to collect_to", detail=f"the container's init died ({exc})") from exc
    for fd in fds:
        os.close(fd)
    if "error" in answer:
        raise SetupError.from_json(answer["error"])


class _Watch:
    """Step 4: wait for the program's exit while enforcing the limits; then drain its output."""

    def __init__(self, box: standby.Standby, limits: Limits, sent_at: float) -> None:
        self.box = box
        self.limits = limits
        self.sent_at = sent_at
        self.stdout = output.Capture(limits.output_bytes)
        self.stderr = output.Capture(limits.output_bytes)
        self.report: dict[str, Any] | None = None
        self.killed_by: KillReason | None = None
        self.ended = sent_at
        self._captures = {box.stdout_r: self.stdout, box.stderr_r: self.stderr}
        self._sel = selectors.DefaultSelector()
        for fd in self._captures:
            self._sel.register(fd, selectors.EVENT_READ)
        # The stub reports on the job socket; the init only speaks (or closes) on failure.
        self._sel.register(box.job, selectors.EVENT_READ)
        self._sel.register(box.control, selectors.EVENT_READ)

    def _kill(self, reason: KillReason) -> None:
        if self.killed_by is None:
            self.killed_by = reason
            self.box.kill()

    def until_exit(self, cpu_time_ns: Callable[[], int]) -> None:
        limits = self.limits
        wall_deadline = self.sent_at + limits.wall_time_s + WALL_SLACK_S
        cpu_limit_ns = int(limits.cpu_time_s * 1e9)
        cpus = max(limits.cpus, 0.01)
        next_cpu_check = self.sent_at + limits.cpu_time_s / cpus
        while self.report is None and self.killed_by is None:
            timeout = max(0.0, min(wall_deadline, next_cpu_check) - time.monotonic())
            events = self._sel.select(timeout)
            if not events:
                used_ns = cpu_time_ns()
                now = time.monotonic()
                if used_ns >= cpu_limit_ns:
                    self._kill(KillReason.CPU_TIME)
                elif now >= wall_deadline:
                    self._kill(KillReason.WALL_TIME)
                else:
                    # The earliest moment the limit could be reached at full CPU bandwidth.
                    remaining_s = (cpu_limit_ns - used_ns) / 1e9 / cpus
                    next_cpu_check = now + max(MIN_CPU_POLL_S, remaining_s)
                continue
            for key, _ in events:
                if key.fileobj is self.box.job or key.fileobj is self.box.control:
                    self._sel.unregister(key.fileobj)
                    try:
                        message, fds = protocol.recv(key.fileobj)
                        for fd in fds:
                            os.close(fd)
                    except (protocol.ChannelClosed, OSError):
                        message = {"error": SetupError("run", detail="the container died").to_json()}
                    self.report = message
                else:
                    self._read(key.fd)
        self.ended = time.monotonic()
        trace.mark("launcher: report received")

    def _read(self, fd: int) -> None:
        capture = self._captures[fd]
        if not capture.read_from(fd):
            self._sel.unregister(fd)
            del self._captures[fd]
        elif capture.truncated:
            self._kill(KillReason.OUTPUT)

    def drain(self) -> None:
        """Read the output to its end: every writer is dead or dying by now."""
        try:
            while self._captures:
                events = self._sel.select(DRAIN_TIMEOUT_S)
                if not events:
                    break  # held open by something that should be dead: give up on it
                for key, _ in events:
                    if key.fd in self._captures:
                        self._read(key.fd)
                    else:
                        self._sel.unregister(key.fileobj)
        finally:
            self._sel.close()


def root_key(spec: Spec) -> RootKey:
    return RootKey(
        layers=tuple(spec.layers),
        binds=tuple(spec.binds),
        hostname=spec.hostname,
        network=spec.network,
        scratch_bytes=spec.limits.scratch_bytes,
        scratch_inodes=spec.limits.scratch_inodes,
    )


def _decode_status(report: dict[str, Any] | None) -> tuple[int | None, int | None]:
    if report is None or "status" not in report:
        return None, None
    status = int(report["status"])
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    return None, None


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
    """Remove the cgroups of launchers that died (kill -9, crash); return their names."""
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


def serve(sock: socket.socket, launcher: Launcher) -> None:
    """Answer the client's requests until it closes the socket."""
    while True:
        try:
            request, fds = protocol.recv(sock)
            trace.mark("launcher: request received")
        except protocol.ChannelClosed:
            return
        op = request.get("op")
        try:
            if op == "run":
                stdin_fd = fds[0] if fds else None
                try:
                    result = launcher.execute(Spec.from_json(request["spec"]), stdin_fd)
                finally:
                    for fd in fds:
                        os.close(fd)
                response: dict[str, Any] = {"result": result.to_json()}
            elif op == "status":
                response = {"status": launcher.status()}
            elif op == "sync":
                response = {"ok": True}
            elif op == "warm_up":
                launcher.warm_up(root_key(Spec.from_json(request["spec"])))
                response = {"ok": True}
            else:
                response = {"error": {"type": "SandboxError", "message": f"unknown op {op!r}"}}
        except SetupError as exc:
            response = {"error": {"type": "SetupError", **exc.to_json()}}
        except SandboxError as exc:
            response = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        except (ValueError, KeyError, TypeError) as exc:
            response = {"error": {"type": "SpecError", "message": str(exc)}}
        protocol.send(sock, response)
        trace.mark("launcher: answered")
        launcher.after_run()
        trace.mark("launcher: after_run done")


def main(argv: list[str]) -> int:
    """python -m sandbox.launcher FD CONFIG_JSON — started by client.py, never by hand."""
    sock = socket.socket(fileno=int(argv[0]))
    config = LauncherConfig.from_json(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides when we stop
    if config.trace_path:
        trace.enable(config.trace_path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        launcher = Launcher(config)
    except SandboxError as exc:
        protocol.send(sock, {"error": {"type": type(exc).__name__, "message": str(exc)}})
        return 1
    except OSError as exc:
        protocol.send(sock, {"error": {"type": "HostError", "message": f"cannot start the launcher: {exc}"}})
        return 1
    protocol.send(sock, {"ready": True, "status": launcher.status()})
    # Everything imported so far is shared with the containers we fork; freezing keeps the
    # collector from touching (and so copying) those pages in every child.
    gc.collect()
    gc.freeze()
    try:
        serve(sock, launcher)
    finally:
        launcher.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
