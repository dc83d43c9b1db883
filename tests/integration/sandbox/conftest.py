"""Fixtures of the sandbox integration tests: the host probe, images, launchers, residue checks.

The suite keeps to its own corner of the host, so that other users of the sandbox on the same
machine (a worker, a benchmark, another test session) neither disturb it nor are disturbed:
its own state directory, its own cgroup parent (`jaula-test-<pid>`) and its own range of host
uids. Every test is followed by a residue check (see `residue`).

Without root, overlayfs, user namespaces or cgroups the tests are skipped; with
JAULA_REQUIRE_SANDBOX=1 (CI) they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Result, Sandbox, Spec
from tests import images as test_images
from tests.integration.sandbox import host as hoststate
from tests.integration.sandbox.support import Images, Launchers, RunFn, TestHost, prepared_containers, residue

REQUIRE_ENV = "JAULA_REQUIRE_SANDBOX"
UIDS_PER_SESSION = 64


def unavailable(reason: str) -> None:
    """Skip, or fail when the environment says the sandbox must be tested (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the sandbox tests must run here)", pytrace=False)
    pytest.skip(reason)


def missing_capability() -> str | None:
    """Why this host cannot run the sandbox, or None."""
    if os.geteuid() != 0:
        return "the sandbox tests need root"
    with open("/proc/filesystems") as f:
        filesystems = f.read().split()
    if "overlay" not in filesystems:
        subprocess.run(["modprobe", "overlay"], capture_output=True, check=False)
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read().split():
                return "overlayfs is not available (modprobe overlay)"
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if int(f.read()) == 0:
                return "user namespaces are disabled (user.max_user_namespaces = 0)"
    except FileNotFoundError:
        return "the kernel has no user namespaces"
    with open("/proc/self/mountinfo") as f:
        if not any(line.split(" - ")[1].startswith("cgroup") for line in f if " - " in line):
            return "no cgroup filesystem is mounted"
    return None


# -- the suite's corner of the host -----------------------------------------------------------------


def _cgroup_version() -> int:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/sys/fs/cgroup" and fields[fields.index("-") + 1] == "cgroup2":
                return 2
    return 1


def _sweep_stale_parents(version: int) -> None:
    """Remove the cgroup parents of earlier sessions of this suite that died without cleaning up."""
    for parent_dir in hoststate.cgroup_parent_dirs("", version):
        for entry in parent_dir.glob("jaula-test-*"):
            pid = entry.name.rsplit("-", 1)[1]
            if pid.isdigit() and not hoststate.alive(int(pid)):
                names = {e.name for e in os.scandir(entry) if e.is_dir()}
                hoststate.remove_cgroups(entry.name, version, names)
                hoststate.remove_parent(entry.name, version)


@pytest.fixture(scope="session")
def test_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestHost]:
    reason = missing_capability()
    if reason:
        unavailable(reason)
    version = _cgroup_version()
    _sweep_stale_parents(version)
    pid = os.getpid()
    base = 200_000 + (pid % 10_000) * UIDS_PER_SESSION
    th = TestHost(
        state_dir=tmp_path_factory.mktemp("state"),
        cgroup_parent=f"jaula-test-{pid}",
        uid_range=(base, base + UIDS_PER_SESSION),
        cgroup_version=version,
    )
    yield th
    left = hoststate.remove_parent(th.cgroup_parent, version)
    assert not left, f"cgroup parents not empty at the end of the session: {left}"


# -- images -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def images(test_host: TestHost, tmp_path_factory: pytest.TempPathFactory) -> Images:
    try:
        busybox = test_images.build_busybox(tmp_path_factory.mktemp("busybox") / "rootfs")
        c_layer = test_images.c_programs()
    except test_images.ImageBuildError as exc:
        unavailable(f"cannot build the test images: {exc}")
        raise
    return Images(busybox=str(busybox), c_layer=str(c_layer))


@pytest.fixture(scope="session")
def debian(test_host: TestHost) -> str:
    """Debian bookworm with python3 (built with mmdebstrap on first use, then cached)."""
    try:
        return str(test_images.debian_python())
    except test_images.ImageBuildError as exc:
        unavailable(f"cannot build the Debian python3 image: {exc}")
        raise


# -- launchers and residue --------------------------------------------------------------------------


def clean_up(test_host: TestHost, live: list[Sandbox]) -> None:
    """After a failed residue check: end and remove what was found, so later tests start clean."""
    boxes = [box for sb in live for box in prepared_containers(sb.status())]
    inits = {box["init_pid"] for box in boxes}
    for proc in hoststate.processes_of(test_host.uids):
        if proc.pid not in inits and proc.ppid not in inits:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
    leaked = hoststate.run_cgroups(test_host.cgroup_parent, test_host.cgroup_version)
    hoststate.remove_cgroups(
        test_host.cgroup_parent, test_host.cgroup_version, leaked - {box["cgroup"] for box in boxes}
    )


def watched_paths(images: Images) -> list[str]:
    """Host paths a mount leaked by the sandbox would name (besides the state directory)."""
    return [images.busybox, images.c_layer, str(test_images.DEFAULT_CACHE)]


@pytest.fixture(scope="session")
def session_sandbox(test_host: TestHost, images: Images) -> Iterator[Sandbox]:
    """One launcher shared by the tests that do not need their own."""
    mounts_before = hoststate.mounts()
    sb = Sandbox(test_host.config())
    yield sb
    sb.close()
    problems = residue(test_host, [], mounts_before, watched_paths(images))
    assert not problems, "after closing the last launcher:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def check_residue(test_host: TestHost, images: Images, session_sandbox: Sandbox) -> Iterator[None]:
    """After every test: nothing of a finished run is left (processes, cgroups, mounts, files)."""
    before = hoststate.mounts()
    yield
    problems = residue(test_host, [session_sandbox], before, watched_paths(images))
    if problems:
        clean_up(test_host, [session_sandbox])
        pytest.fail("residue after the test:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def launchers(check_residue: None, test_host: TestHost) -> Iterator[Launchers]:
    # Requesting check_residue makes this fixture's teardown (closing) run before the check.
    own = Launchers(test_host)
    yield own
    own.close_all()


# -- running programs -------------------------------------------------------------------------------


@pytest.fixture
def sb(session_sandbox: Sandbox) -> Sandbox:
    return session_sandbox


@pytest.fixture
def run(session_sandbox: Sandbox, images: Images) -> RunFn:
    """run("sh", "-c", "...", limits=Limits(...), stdin=b"...") in the shared launcher, on busybox
    with the C programs unless `layers` says otherwise."""

    def run_(*argv: str, layers: list[str] | None = None, **spec: Any) -> Result:
        return session_sandbox.run(Spec(argv=list(argv), layers=layers or images.programs, **spec))

    return run_
