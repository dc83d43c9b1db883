"""What happened in one run: the verdict, the figures, the output; and the rules that decide it.

`classify()` is the only place verdict rules live. It is pure: it gets what the launcher observed
(how the main process ended, what the cgroup counted, why the launcher killed the run, if it did)
and returns the verdict with one sentence of explanation. A failure of the sandbox itself is never
a verdict: it is a `SandboxError`.
"""

from __future__ import annotations

import base64
import enum
import signal as _signal
from dataclasses import asdict, dataclass
from typing import Any


class Verdict(enum.StrEnum):
    OK = "ok"
    RUNTIME_ERROR = "runtime_error"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    # Produced by the layers above the sandbox (compiling, checking output):
    COMPILE_ERROR = "compile_error"
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"


class KillReason(enum.StrEnum):
    """Why the launcher ended a run before its main process exited on its own."""

    CPU_TIME = "cpu_time"
    WALL_TIME = "wall_time"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """Everything the launcher saw, before interpretation."""

    exit_code: int | None
    """Exit status of the main process when it exited normally."""
    signal: int | None
    """Signal number that ended the main process."""
    killed_by: KillReason | None
    cpu_time_ms: int
    wall_time_ms: int
    memory_peak_bytes: int
    oom_kills: int
    pids_limit_hits: int
    stdout_truncated: bool
    stderr_truncated: bool
    cpu_time_limit_ms: int
    wall_time_limit_ms: int
    memory_limit_bytes: int
    pids_limit: int
    output_limit_bytes: int
    file_size_limit_bytes: int
    box_refused: str | None = None
    """Why the files the program left in /box were not copied out (collect_to), if they were not."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """The public record of one run (DESIGN.md, "The public contract")."""

    verdict: Verdict
    exit_code: int | None
    signal: str | None
    cpu_time_ms: int
    wall_time_ms: int
    memory_peak_bytes: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    message: str | None
    cgroup_version: int
    """1 or 2: which cgroup hierarchy measured and limited the run."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["stdout"] = base64.b64encode(self.stdout).decode()
        data["stderr"] = base64.b64encode(self.stderr).decode()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        fields = dict(data)
        fields["verdict"] = Verdict(fields["verdict"])
        fields["stdout"] = base64.b64decode(fields["stdout"])
        fields["stderr"] = base64.b64decode(fields["stderr"])
        return cls(**fields)


def size_text(size_bytes: int) -> str:
    """1000 -> "1000 bytes", 65536 -> "64 KB", 268435456 -> "256 MB"."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size_bytes >= scale:
            value = size_bytes / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size_bytes} bytes"


def signal_name(number: int) -> str:
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"


_SIGNAL_MEANING: dict[int, str] = {
    _signal.SIGSEGV: "segmentation fault: an invalid memory access",
    _signal.SIGABRT: "abort: the program called abort(), often a failed assertion",
    _signal.SIGFPE: "arithmetic error, such as an integer division by zero",
    _signal.SIGBUS: "bus error: a misaligned or unmapped memory access",
    _signal.SIGILL: "illegal instruction",
    _signal.SIGKILL: "killed",
    _signal.SIGPIPE: "broken pipe",
    _signal.SIGTERM: "terminated",
}


def classify(obs: Observation) -> tuple[Verdict, str | None]:
    """Decide the verdict of a run and the sentence that explains it (None when nothing needs it)."""
    cpu_s = obs.cpu_time_limit_ms / 1000
    wall_s = obs.wall_time_limit_ms / 1000
    if obs.killed_by is KillReason.OUTPUT or (
        obs.killed_by is None and (obs.stdout_truncated or obs.stderr_truncated)
    ):
        which = "stdout" if obs.stdout_truncated else "stderr"
        return (
            Verdict.OUTPUT_LIMIT,
            f"The program wrote more than {size_text(obs.output_limit_bytes)} to {which}.",
        )
    if obs.box_refused is not None:
        return Verdict.OUTPUT_LIMIT, f"The files the program left in /box {obs.box_refused}."
    if obs.oom_kills > 0:
        limit = size_text(obs.memory_limit_bytes)
        return Verdict.MEMORY_LIMIT, f"The program used more than the {limit} memory limit."
    if obs.killed_by is KillReason.CPU_TIME or obs.cpu_time_ms > obs.cpu_time_limit_ms:
        return Verdict.TIME_LIMIT, f"The program used more than the {cpu_s:g} s CPU time limit."
    if obs.signal == _signal.SIGXCPU:
        return Verdict.TIME_LIMIT, f"The program used more than the {cpu_s:g} s CPU time limit."
    if obs.killed_by is KillReason.WALL_TIME:
        return Verdict.TIME_LIMIT, (
            f"The program ran longer than the {wall_s:g} s wall-clock limit while using little CPU "
            "(sleeping, waiting for input or deadlocked)."
        )
    if obs.signal == _signal.SIGXFSZ:
        limit = size_text(obs.file_size_limit_bytes)
        return Verdict.OUTPUT_LIMIT, f"The program wrote a file larger than the {limit} file size limit."
    pids_note = (
        f" It reached the limit of {obs.pids_limit} processes and threads,"
        " so a fork or a thread creation failed."
        if obs.pids_limit_hits > 0
        else ""
    )
    if obs.signal is not None:
        name = signal_name(obs.signal)
        meaning = _SIGNAL_MEANING.get(obs.signal)
        detail = f" ({meaning})" if meaning else ""
        return Verdict.RUNTIME_ERROR, f"The program was killed by {name}{detail}.{pids_note}"
    if obs.exit_code not in (0, None):
        return Verdict.RUNTIME_ERROR, f"The program exited with code {obs.exit_code}.{pids_note}"
    return Verdict.OK, pids_note.strip() or None
