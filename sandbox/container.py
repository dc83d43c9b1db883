"""The container's init: PID 1 of its namespaces, which prepares the container and starts the job.

One process per container, forked by the zygote (zygote.py) into a new pid namespace. It never
returns. Three phases:

prepare, as root (while the container waits for a job; nothing here depends on the job):
    unshare mount/ipc/uts namespaces, join the network namespace the launcher lent (only `lo`,
    see netns.py) unless the run uses the host's, build the root filesystem (mounts.py:
    staging tmpfs, /proc and /dev, overlay over the image layers, pivot_root, binds, detach the
    host's root), make /box, set the hostname; open the run cgroup's cgroup.procs before the host
    disappears.
drop (still preparing): join the run's cgroup (the migration's stall, if any, happens here, not on
    the job's clock), unshare the cgroup namespace, new session, become the unprivileged slot user
    in a fresh user namespace that may not create another one, new session keyring, drop every
    capability (credentials.py). Then tell the launcher "ready".
run, unprivileged, when the client sends the job: write its files into /box, set stdio, rlimits
    and the working directory, posix_spawn the program (vfork: no copy of this Python process),
    reap (as PID 1, orphans included) until the program's main process exits, report its wait
    status to the client, SIGKILL whatever it left behind and reap it, say so ("quiet": /box can
    be copied now), and wait to be killed.

As PID 1 it receives no signal from inside its namespace unless it handles it; the zygote sets no
handler of Python's (SIGINT ignored, the rest default), so a program cannot interrupt it. The
program itself starts with every signal at its default action (posix_spawn's setsigdef).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

from sandbox import _libc, box, credentials, mounts, namespaces, protocol, rlimits, trace
from sandbox.errors import SetupError
from sandbox.spec import Bind, Spec

# Python installs a SIGINT handler and ignores SIGPIPE and SIGXFSZ; the program must start with
# defaults (an ignored SIGPIPE changes how `yes | head` ends; an ignored SIGXFSZ turns the file
# size limit into EFBIG), and PID 1 must not handle anything.
_DEFAULT_SIGNALS = (
    signal.SIGPIPE,
    signal.SIGXFSZ,
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGCHLD,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
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
class ContainerKind:
    """What every container of one kind is made with. The launcher encodes it once per kind and
    the zygote decodes it once, before forking: each container then shares the zygote's decoded
    objects instead of building its own (every object built after a fork lands on a page the
    fork shared, which the kernel must then copy)."""

    key: RootKey
    host_id: int
    """The slot's unprivileged host uid and gid."""
    stage: str
    """An empty host directory: the container mounts its staging tmpfs there (in its namespace)."""
    shared_dev: str
    """The read-only /dev the zygote prepared."""
    plan: tuple[mounts.Op, ...]
    """The mounts to make."""

    def encode(self) -> bytes:
        return marshal.dumps(
            (
                key_to_json(self.key),
                self.host_id,
                self.stage,
                self.shared_dev,
                [tuple(op) for op in self.plan],
            )
        )

    @classmethod
    def decode(cls, blob: bytes) -> ContainerKind:
        key, host_id, stage, shared_dev, plan = marshal.loads(blob)
        return cls(key_from_json(key), int(host_id), stage, shared_dev, tuple(mounts.Op(*op) for op in plan))


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """What the container's init is given when it is forked."""

    kind: ContainerKind
    control: int
    """Socket to the launcher: "ready" or the failed step."""
    job: int
    """Socket to the client: the job (argv, env, files, rlimits, + stdin), then its wait status."""
    stdout_w: int
    stderr_w: int
    procs_files: tuple[str, ...]
    """cgroup.procs of the run's cgroup(s)."""
    netns: int | None
    """The network namespace to join (see netns.py); None: the host's network."""

    @staticmethod
    def encode(procs_files: tuple[str, ...], netns: bool) -> bytes:
        """A container's own part (its kind travels separately); its descriptors go with it, in
        this order: control, job, stdout_w, stderr_w[, the network namespace]."""
        return marshal.dumps((list(procs_files), netns))

    @classmethod
    def decode(cls, kind: ContainerKind, blob: bytes, fds: list[int]) -> ContainerConfig:
        procs_files, has_netns = marshal.loads(blob)
        control, job, stdout_w, stderr_w, *netns = fds
        return cls(
            kind=kind,
            control=control,
            job=job,
            stdout_w=stdout_w,
            stderr_w=stderr_w,
            procs_files=tuple(procs_files),
            netns=netns[0] if has_netns else None,
        )


class _Failed(Exception):
    def __init__(self, error: SetupError) -> None:
        self.error = error


def init_main(cfg: ContainerConfig) -> NoReturn:
    """Entry point of the container's init, right after the fork into its pid namespace."""
    control = socket.socket(fileno=cfg.control)
    try:
        _libc.prctl(_libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        trace.mark("init: preparing")
        _prepare(cfg)
        protocol.send_json_text(control, b'{"ready":true}')
        control.close()
        trace.mark("init: ready")
    except _Failed as failed:
        _report(control, failed.error)
    except BaseException as exc:  # never unwind into the zygote's code
        _report(control, SetupError("prepare the container", detail=repr(exc)))
    _run(cfg)


def _report(sock: socket.socket, error: SetupError) -> NoReturn:
    with contextlib.suppress(OSError):
        protocol.send(sock, {"error": error.to_json()})
    os._exit(1)


def _step(name: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except mounts.StepFailed as exc:
        raise _Failed(SetupError.from_oserror(exc.step, exc.error)) from exc
    except OSError as exc:
        raise _Failed(SetupError.from_oserror(name, exc)) from exc


def _prepare(cfg: ContainerConfig) -> None:
    kind = cfg.kind
    key = kind.key
    _step("unshare namespaces", namespaces.unshare, namespaces.container_flags())
    if cfg.netns is not None:
        _step("join the network namespace", _libc.setns, cfg.netns, _libc.CLONE_NEWNET)
        os.close(cfg.netns)
    # The cgroup files are on the host: open them before the host's root goes away.
    procs = [
        _step("open cgroup.procs", os.open, path, os.O_WRONLY | os.O_CLOEXEC) for path in cfg.procs_files
    ]
    _step("", mounts.apply, kind.plan)
    _step("make /box", box.make_box, kind.host_id, kind.host_id)
    _step("sethostname", namespaces.set_hostname, key.hostname)
    trace.mark("init: root built")
    for fd in procs:
        _step("join the run's cgroup", os.write, fd, b"0")
        os.close(fd)
    _step("unshare cgroup namespace", _libc.unshare, _libc.CLONE_NEWCGROUP)
    _step("setsid", os.setsid)
    _step("enter a user namespace", credentials.become_unprivileged, kind.host_id)
    _step("forbid nested user namespaces", credentials.forbid_nested_user_namespaces)
    _step("join a new session keyring", credentials.join_new_session_keyring)
    _step("drop capabilities", credentials.drop_all_capabilities)
    # Changing the effective uid and gid cleared the parent-death signal set at the start (see
    # prctl(2)): set it again, or the container would outlive a launcher killed with SIGKILL.
    _step("set the parent-death signal", _libc.prctl, _libc.PR_SET_PDEATHSIG, signal.SIGKILL)


def _run(cfg: ContainerConfig) -> NoReturn:
    """The job: spawn the program, reap until it exits, report, end the rest, wait for the end."""
    job_sock = socket.socket(fileno=cfg.job)
    step = "wait for the job"
    try:
        job, fds = protocol.recv_inward(job_sock)
        cpu_at_job = time.process_time_ns()
        trace.mark("init: got the job")
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
        # Whatever else this process holds (its job socket, a descriptor some forked ancestor
        # left open) must not reach the program: it could forge our report or talk to the
        # launcher. One syscall makes sure, wherever a descriptor came from.
        _libc.close_range(3, flags=_libc.CLOSE_RANGE_CLOEXEC)
        # Opened now: once the program runs, it can lower our limits (same uid, see
        # docs/sandbox.md), and after it starts we open nothing.
        devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        step = "rlimits"
        rlimits.apply([(r[0], r[1], r[2]) for r in job["rlimits"]])
        step = f"chdir {job['cwd']}"
        os.chdir(job["cwd"])
        argv, env = job["argv"], job["env"]
        step = f"find {argv[0]}"
        path = _which(argv[0], env.get("PATH", ""))
        step = f"exec {argv[0]}"
        started = time.monotonic()
        pid = os.posix_spawn(path, argv, env, setsigdef=_DEFAULT_SIGNALS, setsigmask=())
        trace.mark("init: spawned")
        # Our copies of the output pipes must not keep them open once the program's are closed.
        for fd in (0, 1, 2):
            os.dup2(devnull, fd, inheritable=False)
        step = "wait for the program"
        cpu_ns = time.process_time_ns() - cpu_at_job
        status = _reap_until(pid)
        ended = time.monotonic()
        trace.mark("init: program exited")
        report = f'{{"status":{status},"started":{started!r},"ended":{ended!r},"init_cpu_ns":{cpu_ns}}}'
        protocol.send_json_text(job_sock, report.encode())
    except BaseException as exc:
        errno = exc.errno if isinstance(exc, OSError) else 0
        error = SetupError(step, errno or 0, detail="" if errno else repr(exc))
        with contextlib.suppress(OSError):
            protocol.send(job_sock, {"error": error.to_json()})
    # The program's main process has ended: nothing else of the run may outlive it.
    with contextlib.suppress(OSError):
        os.kill(-1, signal.SIGKILL)
    _reap_all()
    # Stay until the client is done (it may copy /box through /proc/<pid>/root) and kills us.
    with contextlib.suppress(OSError, protocol.ChannelClosed):
        protocol.send_json_text(job_sock, b'{"quiet":true}')
        protocol.recv(job_sock)
    os._exit(0)


def _reap_until(pid: int) -> int:
    """Reap children (orphans are re-parented to us) until `pid` exits; return its wait status."""
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if reaped == pid:
            return status


def _reap_all() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)


def _which(command: str, path: str) -> str:
    """execvp's search, with the job's PATH (posix_spawnp would use ours)."""
    if "/" in command:
        return command
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(2, f"{command}: command not found in PATH", command)
