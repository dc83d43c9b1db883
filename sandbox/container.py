"""The two processes inside a container: its init (PID 1) and the exec stub that starts the program.

Both are forks of the launcher and never return. Each has two phases: *prepare*, done while the
container waits for a job (everything that depends only on the image), and *run*, done when the
job arrives. See launcher.py for the whole picture.

init (PID 1 of the container's pid namespace; root; outside the run's cgroup):
    prepare: unshare mount/ipc/uts(/net) namespaces, bring `lo` up, fork the exec stub and wait
             until it has dropped its privileges; then build the root (staging mounts, overlay over
             the image layers, pivot_root, binds, detach the host's root), make /box, set the
             hostname, tell the launcher "ready"
    run:     reap orphans (SIGCHLD ignored: the kernel reaps them for us) until the launcher either
             kills us (which kills the whole namespace) or asks for /box: then SIGKILL everything
             else in the namespace, wait until it is gone, copy /box out, report, exit.

exec stub (PID 2; in the run's cgroup and cgroup namespace; in its own user namespace):
    prepare: join the run's cgroup (the slow cgroup migration happens here, not on the job's
             clock), unshare the cgroup namespace, new session, become the unprivileged slot
             user in a fresh user namespace, forbid nested user namespaces, drop every capability
    run:     receive the job from the launcher: write its files into /box, set stdio, rlimits and
             the working directory, posix_spawn the program (vfork: no copy of this Python
             process to tear down on the job's clock), wait for it, and report its wait status
             straight to the launcher: the program's exit is one wake-up away from the answer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

from sandbox import _libc, box, credentials, mounts, namespaces, protocol, rlimits, trace
from sandbox.errors import SetupError
from sandbox.spec import Bind, Spec

# Python ignores SIGPIPE and SIGXFSZ; exec would pass that on (an ignored SIGPIPE changes how
# `yes | head` ends, an ignored SIGXFSZ turns the file size limit into EFBIG).
_DEFAULT_SIGNALS = (
    signal.SIGPIPE,
    signal.SIGXFSZ,
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGCHLD,
    signal.SIGQUIT,
)


@dataclass(frozen=True, slots=True)
class RootKey:
    """What a prepared container's filesystem and namespaces depend on."""

    layers: tuple[str, ...]
    binds: tuple[Bind, ...]
    hostname: str
    network: bool
    scratch_bytes: int
    scratch_inodes: int


def key_of(spec: Spec) -> RootKey:
    return RootKey(
        layers=tuple(spec.layers),
        binds=tuple(spec.binds),
        hostname=spec.hostname,
        network=spec.network,
        scratch_bytes=spec.limits.scratch_bytes,
        scratch_inodes=spec.limits.scratch_inodes,
    )


def key_to_json(key: RootKey) -> dict[str, Any]:
    data = asdict(key)
    data["layers"] = list(key.layers)
    data["binds"] = [asdict(b) for b in key.binds]
    return data


def key_from_json(data: dict[str, Any]) -> RootKey:
    return RootKey(
        layers=tuple(data["layers"]),
        binds=tuple(Bind(**b) for b in data["binds"]),
        hostname=data["hostname"],
        network=bool(data["network"]),
        scratch_bytes=int(data["scratch_bytes"]),
        scratch_inodes=int(data["scratch_inodes"]),
    )


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """What a container's processes inherit from the launcher at fork time."""

    key: RootKey
    control: socket.socket
    """init <-> launcher: "ready", the run's options (+ collect_to directory), the report."""
    job: socket.socket
    """exec stub <-> launcher: the job (argv, env, files, rlimits, + stdin), then its wait status."""
    stdout_w: int
    stderr_w: int
    procs_files: tuple[str, ...]
    """cgroup.procs of the run's cgroup(s): the exec stub joins them."""
    host_id: int
    """The slot's unprivileged host uid and gid."""
    stage: str


# -- init ---------------------------------------------------------------------------------------


def init_main(cfg: ContainerConfig) -> NoReturn:
    """Entry point of the container's init, right after the launcher forked it."""
    try:
        _libc.prctl(_libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        for sig in _DEFAULT_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        keep = {cfg.control.fileno(), cfg.job.fileno(), cfg.stdout_w, cfg.stderr_w, trace.fd() or 0}
        _close_fds_except(keep)
        trace.mark("init: preparing")
        _prepare(cfg)
        protocol.send(cfg.control, {"ready": True})
        trace.mark("init: ready")
        _supervise(cfg)
        os._exit(0)
    except _Failed as failed:
        _report_failure(cfg.control, failed.error)
    except BaseException as exc:  # the init must never unwind into the launcher's code
        _report_failure(cfg.control, SetupError("container init", detail=repr(exc)))


class _Failed(Exception):
    def __init__(self, error: SetupError) -> None:
        self.error = error


def _report_failure(control: socket.socket, error: SetupError) -> NoReturn:
    with contextlib.suppress(OSError):
        protocol.send(control, {"error": error.to_json()})
    os._exit(1)


def _close_fds_except(keep: set[int]) -> None:
    """Close what we inherited from the launcher (its client socket, other containers' pipes)."""
    low = 3
    for fd in sorted(keep | {0x7FFFFFFF}):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1


def _step(name: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except mounts.StepFailed as exc:
        raise _Failed(SetupError.from_oserror(exc.step, exc.error)) from exc
    except OSError as exc:
        raise _Failed(SetupError.from_oserror(name, exc)) from exc


def _prepare(cfg: ContainerConfig) -> None:
    key = cfg.key
    _step("unshare namespaces", namespaces.unshare, namespaces.container_flags(network=key.network))
    if not key.network:
        _step("bring lo up", namespaces.loopback_up)
    _fork_stub(cfg)
    trace.mark("init: stub ready")
    # The stub prepared its credentials against the host's /proc; only now may the filesystem
    # change under it (pivot_root moves its root too).
    stage = cfg.stage
    _step(
        "",
        mounts.apply,
        mounts.plan_staging(stage, scratch_bytes=key.scratch_bytes, scratch_inodes=key.scratch_inodes),
    )
    _step("", mounts.apply, mounts.plan_root(stage, key.layers))
    _step("", mounts.apply, mounts.plan_binds(key.binds))
    _step("", mounts.apply, mounts.plan_detach())
    _step("make /box", box.make_box, cfg.host_id, cfg.host_id)
    _step("sethostname", namespaces.set_hostname, key.hostname)
    trace.mark("init: root built")


def _fork_stub(cfg: ContainerConfig) -> None:
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            cfg.control.close()
            stub_main(cfg, theirs)
        finally:
            os._exit(127)
    theirs.close()
    cfg.job.close()
    os.close(cfg.stdout_w)
    os.close(cfg.stderr_w)
    try:
        message, _ = protocol.recv(ours)
    except (protocol.ChannelClosed, OSError):
        raise _Failed(SetupError("prepare exec stub", detail="it died")) from None
    finally:
        ours.close()
    if "error" in message:
        raise _Failed(SetupError.from_json(message["error"]))


def _supervise(cfg: ContainerConfig) -> None:
    """The run, as PID 1: keep the namespace free of zombies until the launcher decides."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # orphans are reaped by the kernel
    message, fds = protocol.recv(cfg.control)  # sent once the program's main process has exited
    if message.get("collect"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # nothing of the run may change /box while we copy it
        _wait_for_no_children()
        try:
            box.collect(fds[0], max_bytes=cfg.key.scratch_bytes)
        except OSError as exc:
            raise _Failed(SetupError.from_oserror("copy /box to collect_to", exc)) from exc
        finally:
            for fd in fds:
                os.close(fd)
    protocol.send(cfg.control, {"done": True})


def _wait_for_no_children() -> None:
    """With SIGCHLD ignored, wait() blocks until every child has exited, then fails with ECHILD."""
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)


# -- exec stub -----------------------------------------------------------------------------------


def stub_main(cfg: ContainerConfig, init_sock: socket.socket) -> NoReturn:
    step = "exec stub"
    reply_to = init_sock  # failures go to the init while preparing, to the launcher once ready
    try:
        step = "join the run's cgroup"
        for procs in cfg.procs_files:
            fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        step = "unshare cgroup namespace"
        _libc.unshare(_libc.CLONE_NEWCGROUP)
        step = "setsid"
        os.setsid()
        step = "enter user namespace"
        credentials.become_unprivileged(cfg.host_id)
        step = "forbid nested user namespaces"
        credentials.forbid_nested_user_namespaces()
        step = "join a new session keyring"
        credentials.join_new_session_keyring()
        step = "drop capabilities"
        credentials.drop_all_capabilities()
        protocol.send(init_sock, {"ready": True})
        reply_to = cfg.job
        init_sock.close()

        step = "wait for the job"
        trace.mark("stub: ready")
        job, fds = protocol.recv(cfg.job)
        cpu_at_job = time.process_time_ns()
        trace.mark("stub: got the job")
        step = "write files to /box"
        box.write_files(job["files"])
        step = "stdio"
        stdin = fds[0] if fds else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        # dup2 makes 0, 1 and 2 inheritable; everything else of ours is close-on-exec.
        os.dup2(stdin, 0)
        os.dup2(cfg.stdout_w, 1)
        os.dup2(cfg.stderr_w, 2)
        for fd in {stdin, cfg.stdout_w, cfg.stderr_w} - {0, 1, 2}:
            os.close(fd)
        step = "rlimits"
        rlimits.apply([(r[0], r[1], r[2]) for r in job["rlimits"]])
        step = f"chdir {job['cwd']}"
        os.chdir(job["cwd"])
        argv, env = job["argv"], job["env"]
        step = f"find {argv[0]}"
        path = _which(argv[0], env.get("PATH", ""))
        step = f"exec {argv[0]}"
        trace.mark("stub: spawning")
        started = time.monotonic()
        pid = os.posix_spawn(path, argv, env, setsigdef=_DEFAULT_SIGNALS, setsigmask=())
        trace.mark("stub: spawned")
        # Let the program's output pipes reach end-of-file when the program's side closes them.
        devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd, inheritable=False)
        step = "wait for the program"
        cpu_ns = time.process_time_ns() - cpu_at_job
        _, status = os.waitpid(pid, 0)
        ended = time.monotonic()
        trace.mark("stub: program exited")
        protocol.send(cfg.job, {"status": status, "started": started, "ended": ended, "stub_cpu_ns": cpu_ns})
        # Exiting would tear down this copy of a Python process right now, on the CPU the client
        # is about to be woken on. Wait instead; the container is killed when the lease ends.
        with contextlib.suppress(OSError, protocol.ChannelClosed):
            protocol.recv(cfg.job)
        os._exit(0)
    except BaseException as exc:
        errno = exc.errno if isinstance(exc, OSError) else 0
        error = SetupError(step, errno or 0, detail="" if errno else repr(exc))
        with contextlib.suppress(OSError):
            protocol.send(reply_to, {"error": error.to_json()})
    os._exit(0)


def _which(command: str, path: str) -> str:
    """execvp's search, with the job's PATH (posix_spawnp would use ours)."""
    if "/" in command:
        return command
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(2, f"{command}: command not found in PATH", command)
