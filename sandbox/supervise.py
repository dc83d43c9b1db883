"""One run in a leased container, supervised from the caller's process: limits, watch, verdict.

    1. write the job's limits into the container's cgroup (memory with swap off, pids, CPU
       bandwidth) and reset its counters, before anything of the job runs;
    2. send the job to the container's init, which writes /box, spawns the program and, when the
       program's main process exits, reports its wait status;
    3. meanwhile read stdout and stderr into capped buffers, poll the cgroup's CPU time no more
       often than the CPU limit could be reached, and keep the wall clock; on any limit, kill the
       container's init: the kernel kills its whole pid namespace with it;
    4. read the cgroup's CPU time, memory peak, OOM and pids events the moment the program has
       ended (the init then kills whatever it left running); copy /box out if asked, through
       /proc/<init>/root; read the output to its end; classify.
Nothing here forks, so it is safe in any thread of any process.
"""

from __future__ import annotations

import os
import selectors
import signal
import time
from collections.abc import Callable
from typing import Any

from sandbox import box, output, protocol, rlimits, trace
from sandbox.cgroups import CgroupStats
from sandbox.errors import SetupError
from sandbox.lease import Lease
from sandbox.result import KillReason, Observation, Result, classify, signal_name
from sandbox.spec import Limits, Spec

# The wall clock is enforced from the moment the job is sent; /box is written and the program
# spawned in that time, so allow for it before calling the run late.
WALL_SLACK_S = 0.05
# Never poll the cgroup more often than this, even when the CPU limit is near.
MIN_CPU_POLL_S = 0.002
# Once the program has ended, its output pipes close within milliseconds.
DRAIN_TIMEOUT_S = 2.0
# The init kills and reaps what the program left running within milliseconds; this only bounds
# a kernel that hangs (a process stuck in an uninterruptible sleep).
QUIET_TIMEOUT_S = 10.0


def run_in(lease: Lease, spec: Spec, stdin_fd: int | None) -> Result:
    limits = spec.limits
    cgroup = lease.cgroup
    collect_fd = _open_collect_to(spec.collect_to) if spec.collect_to is not None else None
    try:
        try:
            cgroup.start(memory_bytes=limits.memory_bytes, pids=limits.pids, cpus=limits.cpus)
        except OSError as exc:
            raise SetupError.from_oserror("write cgroup limits", exc) from exc
        trace.mark("client: limits written")
        sent_at = time.monotonic()
        protocol.send_inward(lease.job, _job_message(spec), [stdin_fd] if stdin_fd is not None else [])
        trace.mark("client: job sent")
        watch = _Watch(lease, limits, sent_at)
        watch.until_exit(cgroup.cpu_time_ns)
        trace.mark("client: program exited")
        # The figures are read now: the init kills whatever the program left running next.
        stats = cgroup.stats()
        refused = None
        if collect_fd is not None and watch.killed_by is None and _no_error(watch.report):
            refused = _collect(lease, collect_fd, spec.limits.scratch_bytes)
        watch.drain()
        trace.mark("client: output drained")
    finally:
        if collect_fd is not None:
            os.close(collect_fd)
    return _result(watch, stats, limits, cgroup.version, refused)


def _no_error(report: dict[str, Any] | None) -> bool:
    return report is not None and "error" not in report


def _open_collect_to(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SetupError.from_oserror("open collect_to", exc) from exc


def _job_message(spec: Spec) -> dict[str, Any]:
    """What the container's init needs (stdin travels separately, as a file descriptor)."""
    return {
        "argv": list(spec.argv),
        "env": dict(spec.env),
        "cwd": spec.cwd,
        "files": dict(spec.files),
        "rlimits": rlimits.table(spec.limits),
    }


def _collect(lease: Lease, collect_fd: int, max_bytes: int) -> str | None:
    """Once the init says the run is quiet (every process of it dead), copy /box to collect_to.
    Returns why what the program left there was refused (a verdict), or None."""
    try:
        lease.job.settimeout(QUIET_TIMEOUT_S)
        message, fds = protocol.recv(lease.job)
    except (protocol.ChannelClosed, OSError) as exc:  # socket.timeout is an OSError
        raise SetupError("copy /box to collect_to", detail=f"the run did not end cleanly ({exc})") from exc
    for fd in fds:
        os.close(fd)
    if not message.get("quiet"):
        raise SetupError("copy /box to collect_to", detail=f"unexpected message {message}")
    try:
        src = box.open_container_box(lease.pid)
        try:
            box.collect(src, collect_fd, max_bytes=max_bytes)
        finally:
            os.close(src)
    except box.BoxRefused as refused:
        return str(refused)
    except OSError as exc:
        raise SetupError.from_oserror("copy /box to collect_to", exc) from exc
    return None


class _Watch:
    """Wait for the program's exit while enforcing the limits; then drain its output."""

    def __init__(self, lease: Lease, limits: Limits, sent_at: float) -> None:
        self.lease = lease
        self.limits = limits
        self.sent_at = sent_at
        self.stdout = output.Capture(limits.output_bytes)
        self.stderr = output.Capture(limits.output_bytes)
        self.report: dict[str, Any] | None = None
        self.ended_by_report = False
        self.killed_by: KillReason | None = None
        self.ended = sent_at
        self._captures = {lease.stdout_r: self.stdout, lease.stderr_r: self.stderr}
        self._sel = selectors.DefaultSelector()
        for fd in self._captures:
            self._sel.register(fd, selectors.EVENT_READ)
        # The init reports the program's end (or its own failure) on the job socket.
        self._sel.register(lease.job, selectors.EVENT_READ)

    def _kill(self, reason: KillReason) -> None:
        if self.killed_by is None:
            self.killed_by = reason
            self.lease.kill()

    def until_exit(self, cpu_time_ns: Callable[[], int]) -> None:
        limits = self.limits
        wall_deadline = self.sent_at + limits.wall_time_s + WALL_SLACK_S
        cpu_limit_ns = int(limits.cpu_time_s * 1e9)
        cpus = max(limits.cpus, 0.01)
        next_cpu_check = self.sent_at + limits.cpu_time_s / cpus
        while not self.ended_by_report and self.killed_by is None:
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
                if key.fileobj is self.lease.job:
                    self._sel.unregister(key.fileobj)
                    self.report = _receive_report(key.fileobj)
                    self.ended_by_report = True
                else:
                    self._read(key.fd)
        self.ended = time.monotonic()

    def _read(self, fd: int) -> None:
        capture = self._captures[fd]
        if not capture.read_from(fd):
            self._sel.unregister(fd)
            del self._captures[fd]
        elif capture.truncated:
            self._kill(KillReason.OUTPUT)

    def drain(self) -> None:
        """Read the output to its end. Without leftovers of the run it is already there; with them
        (a daemon holding stdout), end the container first."""
        try:
            if self._captures and not self._drain_for(0.0):
                self.lease.kill()
            self._drain_for(DRAIN_TIMEOUT_S)
        finally:
            self._sel.close()

    def _drain_for(self, timeout: float) -> bool:
        """Read until both pipes end or nothing comes for `timeout`; True when both ended."""
        while self._captures:
            events = [e for e in self._sel.select(timeout) if e[0].fd in self._captures]
            if not events:
                return False
            for key, _ in events:
                self._read(key.fd)
        return True


def _receive_report(sock: Any) -> dict[str, Any] | None:
    """The stub's report, or None when the container died first (killed by the kernel's OOM
    killer, say: the cgroup's counters tell)."""
    try:
        message, fds = protocol.recv(sock)
    except (protocol.ChannelClosed, OSError):
        return None
    for fd in fds:
        os.close(fd)
    return message


def _decode_status(report: dict[str, Any] | None) -> tuple[int | None, int | None]:
    if report is None or "status" not in report:
        return None, None
    status = int(report["status"])
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    return None, None


def _result(
    watch: _Watch, stats: CgroupStats, limits: Limits, cgroup_version: int, box_refused: str | None
) -> Result:
    report = watch.report
    if watch.killed_by is None:
        if report is None and stats.oom_kills == 0:
            raise SetupError("run", detail="the container died before the program's end was reported")
        if report is not None and "error" in report:
            raise SetupError.from_json(report["error"])
    exit_code, sig = _decode_status(report)
    cpu_ns = stats.cpu_time_ns
    if report is not None and "status" in report:
        wall_ms = round((report["ended"] - report["started"]) * 1000)
        cpu_ns = max(0, cpu_ns - int(report.get("init_cpu_ns", 0)))
    else:
        wall_ms = round((watch.ended - watch.sent_at) * 1000)
        sig = signal.SIGKILL  # ended by the sandbox, or by the kernel's OOM killer
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
        box_refused=box_refused,
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
        cgroup_version=cgroup_version,
    )
