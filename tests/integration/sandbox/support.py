"""Helpers of the sandbox integration tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sandbox import Limits, Result, Sandbox
from sandbox.launcher import LauncherConfig
from tests.integration.sandbox import host as hoststate


@dataclass(frozen=True, slots=True)
class TestHost:
    state_dir: Path
    cgroup_parent: str
    uid_range: tuple[int, int]
    cgroup_version: int

    __test__ = False  # not a test class, despite its name

    def config(self, **overrides: Any) -> LauncherConfig:
        fields: dict[str, Any] = {
            "state_dir": str(self.state_dir),
            "cgroup_parent": self.cgroup_parent,
            "uid_range": self.uid_range,
        }
        fields.update(overrides)
        return LauncherConfig(**fields)

    @property
    def uids(self) -> range:
        return range(*self.uid_range)


@dataclass(frozen=True, slots=True)
class Images:
    busybox: str
    """A busybox-static rootfs."""
    c_layer: str
    """Static C programs (programs/*.c) in /usr/local/bin, to stack over busybox."""

    @property
    def programs(self) -> list[str]:
        return [self.busybox, self.c_layer]


class RunFn(Protocol):
    def __call__(self, *argv: str, layers: list[str] | None = None, **spec: Any) -> Result: ...


class Launchers:
    """Sandboxes (launchers) of one test; all closed before its residue check."""

    def __init__(self, test_host: TestHost) -> None:
        self.test_host = test_host
        self.opened: list[Sandbox] = []

    def new(self, **config: Any) -> Sandbox:
        sb = Sandbox(self.test_host.config(**config))
        self.opened.append(sb)
        return sb

    def close_all(self) -> None:
        for sb in self.opened:
            sb.close()


def limits(**overrides: Any) -> Limits:
    """Limits for tests: the defaults, tighter where a test does not care (faster failures)."""
    fields: dict[str, Any] = {"cpu_time_s": 2.0, "wall_time_s": 10.0}
    fields.update(overrides)
    return Limits(**fields)


class Ticker:
    """A host thread that counts short sleeps: proof that the host kept scheduling it."""

    def __init__(self, period_s: float = 0.01) -> None:
        self.ticks = 0
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ticker", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._period_s):
            self.ticks += 1

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_in_thread(fn: Callable[[], Result]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start fn() in a thread; the dict receives "result" or "error"."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def prepared_containers(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Containers a live launcher holds between runs (status(): "preparing" and "lent" lists of
    {"init_pid", "cgroup"}). Their processes (the init, and whatever it has forked to wait for the
    job) legitimately run as the launcher's host_id."""
    return [*status.get("preparing", []), *status.get("lent", [])]


def residue(
    test_host: TestHost,
    live: list[Sandbox],
    mounts_before: set[hoststate.Mount],
    watched_paths: Sequence[str] = (),
) -> list[str]:
    """What the sandbox left on the host beyond the prepared containers of `live` launchers.

    A new mount counts when it names the state directory (the containers' staging mount point is
    there) or one of `watched_paths` (image layers): other tools on a shared machine may mount
    things meanwhile."""
    allowed_cgroups: set[str] = set()
    allowed_inits: set[int] = set()
    live_uids: set[int] = set()
    for sb in live:
        sb.sync()
        status = sb.status()
        live_uids.add(status["host_id"])
        for box in prepared_containers(status):
            allowed_cgroups.add(box["cgroup"])
            allowed_inits.add(box["init_pid"])
    problems = []
    for proc in hoststate.processes_of(test_host.uids):
        in_prepared = proc.pid in allowed_inits or proc.ppid in allowed_inits
        if proc.uid not in live_uids or not in_prepared:
            problems.append(f"process left behind: {proc}")
    for name in sorted(
        hoststate.run_cgroups(test_host.cgroup_parent, test_host.cgroup_version) - allowed_cgroups
    ):
        problems.append(f"cgroup left behind: {test_host.cgroup_parent}/{name}")
    new_mounts = hoststate.mounts() - mounts_before
    for mount in hoststate.mounts_mentioning(new_mounts, [str(test_host.state_dir), *watched_paths]):
        problems.append(f"mount left behind in the host's namespace: {mount}")
    for path in hoststate.state_leftovers(test_host.state_dir):
        problems.append(f"file left behind in the state directory: {path}")
    return problems
