"""Hostile programs: each test names its attack and asserts the safe outcome.

Every test is also followed by the residue check of conftest.py (no process, cgroup, mount or
state file left behind). The C attacks (programs/*.c) exit 77 only when the attack worked, so
`assert_blocked` fails on exactly that, and shows what the program saw.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import signal
import socket
import struct
import subprocess
import termios
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox import Bind, LauncherDied, Limits, Result, Sandbox, SetupError, Spec, Verdict
from sandbox.container import key_of
from tests.images import tree_digest
from tests.integration.sandbox import host as hoststate
from tests.integration.sandbox.support import (
    Images,
    Launchers,
    RunFn,
    TestHost,
    Ticker,
    limits,
    residue,
    run_in_thread,
)

pytestmark = pytest.mark.root

MIB = 1024 * 1024
ATTACK_SUCCEEDED = 77


def assert_blocked(result: Result) -> None:
    """The attack program ran to its end and every attempt was refused."""
    assert result.exit_code != ATTACK_SUCCEEDED, result.stdout.decode()
    assert result.verdict == Verdict.OK, result
    assert b"SUCCEEDED" not in result.stdout
    assert b"blocked: " in result.stdout


def lines(result: Result) -> list[str]:
    return result.stdout.decode().splitlines()


# -- resource exhaustion ----------------------------------------------------------------------------

BOMB_LIMITS = limits(cpu_time_s=0.5, wall_time_s=3, pids=32)


@pytest.mark.slow
def test_shell_fork_bomb_ends_in_time_limit(run: RunFn) -> None:
    result = run("sh", "-c", "bomb() { bomb | bomb & }; bomb 2>/dev/null; sleep 1000", limits=BOMB_LIMITS)
    assert result.verdict == Verdict.TIME_LIMIT, result


def test_c_fork_bomb_ends_in_time_limit(run: RunFn) -> None:
    result = run("fork_bomb", limits=BOMB_LIMITS)
    assert result.verdict == Verdict.TIME_LIMIT, result


def test_thread_bomb_stops_at_the_pids_limit(run: RunFn) -> None:
    result = run("thread_bomb", "32", limits=limits(pids=32))
    assert result.exit_code != ATTACK_SUCCEEDED, result.stdout
    assert result.verdict == Verdict.OK
    assert b"Resource temporarily unavailable" in result.stdout
    assert result.message is not None and "limit of 32 processes and threads" in result.message


def test_memory_bomb_is_memory_limit(run: RunFn) -> None:
    result = run("alloc", "0", limits=limits(memory_bytes=32 * MIB))
    assert result.verdict == Verdict.MEMORY_LIMIT, result
    assert result.memory_peak_bytes <= 33 * MIB


@pytest.mark.parametrize("directory", ["/tmp", "/dev/shm", "/box"], ids=["tmp", "dev-shm", "writable-layer"])
def test_filling_a_writable_directory_stops_at_the_scratch_size(run: RunFn, directory: str) -> None:
    scratch = 8 * MIB
    script = f"dd if=/dev/zero of={directory}/fill bs=1M count=1000; stat -c %s {directory}/fill"
    result = run("sh", "-c", script, limits=limits(scratch_bytes=scratch, file_size_bytes=1024 * MIB))
    assert b"No space left on device" in result.stderr
    assert int(lines(result)[-1]) <= scratch


def test_filling_all_scratch_places_together_stops_at_one_scratch_size(run: RunFn) -> None:
    scratch = 8 * MIB
    script = """
        for d in /tmp /dev/shm /box; do dd if=/dev/zero of=$d/fill bs=1M count=1000 2>/dev/null; done
        du -ck /tmp/fill /dev/shm/fill /box/fill | tail -1
    """
    result = run("sh", "-c", script, limits=limits(scratch_bytes=scratch, file_size_bytes=1024 * MIB))
    assert int(lines(result)[-1].split()[0]) * 1024 <= scratch


def test_creating_a_million_files_stops_at_the_inode_limit(run: RunFn) -> None:
    # printf, not ':': a failed redirection of a special built-in would end the shell.
    script = "i=0; while [ $i -lt 1000000 ] && printf '' > /tmp/f$i; do i=$((i+1)); done; echo $i"
    result = run("sh", "-c", script, limits=limits(scratch_inodes=2000))
    assert b"No space left on device" in result.stderr
    assert 100 < int(lines(result)[-1]) < 2000


def test_running_out_of_file_descriptors_stops_at_the_open_files_limit(run: RunFn) -> None:
    result = run("fd_exhaust", "64", limits=limits(open_files=64))
    assert result.exit_code != ATTACK_SUCCEEDED, result.stdout
    assert lines(result) == ["highest fd 63, then: Too many open files"]


@pytest.mark.slow
def test_threads_spinning_on_all_cores_end_in_time_limit_while_the_host_keeps_running(run: RunFn) -> None:
    threads = max(4, 2 * (os.cpu_count() or 1))
    with Ticker() as ticker:
        result = run("spin", str(threads), "0", limits=limits(cpu_time_s=1.0, wall_time_s=30, cpus=1.0))
    assert result.verdict == Verdict.TIME_LIMIT, result
    assert 1000 <= result.cpu_time_ms <= 1000 * 1.1 + 20
    assert ticker.ticks > 10, "a host thread was starved while the run spun"


@pytest.mark.parametrize(
    "daemon",
    ["(sleep 1000 &)", "(setsid sleep 1000 </dev/null >/dev/null 2>&1 &)"],
    ids=["holding-stdout", "detached"],
)
def test_double_forked_daemon_is_killed_when_the_main_process_exits(run: RunFn, daemon: str) -> None:
    wall_limit_s = 30
    started = time.monotonic()
    result = run("sh", "-c", f"{daemon}; echo main done", limits=limits(wall_time_s=wall_limit_s))
    elapsed_s = time.monotonic() - started
    assert (result.verdict, result.stdout) == (Verdict.OK, b"main done\n")
    assert elapsed_s < wall_limit_s / 2, "the run waited for its daemon"
    # The residue check after this test proves the daemon is gone.


@pytest.mark.parametrize(
    "kill",
    ["kill -9 -1", "kill -9 $PPID", "kill -9 1"],
    ids=["everything-it-can", "its-parent", "pid-1"],
)
def test_kill_9_from_inside_ends_only_the_run(run: RunFn, sb: Sandbox, kill: str) -> None:
    launcher = sb.status()["pid"]
    result = run("sh", "-c", f"sleep 1000 & {kill}; echo still here")
    # The program may kill itself and what it started; the outcome is its verdict, never a failure
    # of the sandbox, and the launcher and the host live on.
    assert result.verdict in (Verdict.OK, Verdict.RUNTIME_ERROR), result
    assert sb.status()["pid"] == launcher
    assert run("true").verdict == Verdict.OK


@pytest.mark.slow
def test_20_parallel_fork_memory_and_disk_bombs_all_report_and_leave_nothing(
    launchers: Launchers, images: Images
) -> None:
    small = Limits(wall_time_s=30, memory_bytes=32 * MIB, pids=16, scratch_bytes=8 * MIB)
    bombs = {
        # Forking at full speed also churns kernel memory charged to the run: with a small memory
        # limit a fork bomb may end in memory_limit first. Either way it ends.
        "fork": (["fork_bomb"], {Verdict.TIME_LIMIT, Verdict.MEMORY_LIMIT}, 0.5),
        # CPU time to spare: these end at their own limit, even at emulation speed.
        "memory": (["alloc", "0"], {Verdict.MEMORY_LIMIT}, 20),
        "disk": (["dd", "if=/dev/zero", "of=/tmp/fill", "bs=1M", "count=1000"], {Verdict.RUNTIME_ERROR}, 20),
    }
    kinds = [list(bombs)[i % len(bombs)] for i in range(20)]
    specs = [
        Spec(
            argv=bombs[kind][0],
            layers=images.programs,
            limits=dataclasses.replace(small, cpu_time_s=bombs[kind][2]),
        )
        for kind in kinds
    ]
    sandboxes = [launchers.new() for _ in kinds]
    for sb, spec in zip(sandboxes, specs, strict=True):
        sb.warm_up(spec)  # launchers start one by one (slow under emulation); the runs overlap

    def bomb(i: int) -> Result:
        return sandboxes[i].run(specs[i])

    with Ticker() as ticker, ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        results = list(pool.map(bomb, range(len(kinds))))
    for kind, result in zip(kinds, results, strict=True):
        assert result.verdict in bombs[kind][1], (kind, result)
    assert ticker.ticks > 10, "a host thread was starved while the bombs ran"


# -- reading the host, other runs, the image --------------------------------------------------------


def test_host_files_are_out_of_reach(run: RunFn, tmp_path: Path) -> None:
    marker = tmp_path / f"host-marker-{os.getpid()}"
    marker.write_text("host marker content 0c2f")
    script = f"""
        cat /etc/shadow
        ls /work /work/main /root
        cat {marker}
        find / -path /proc -prune -o -name {marker.name} -print
        ls -a /
    """
    result = run("sh", "-c", script)
    with open("/etc/shadow") as f:
        host_shadow_root = f.readline().strip()
    assert host_shadow_root.encode() not in result.stdout
    assert b"0c2f" not in result.stdout
    assert marker.name.encode() not in result.stdout
    assert b".oldroot" not in result.stdout
    assert b"pyproject.toml" not in result.stdout


def test_the_sandboxes_own_processes_do_not_reveal_their_environment(
    run: RunFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAULA_HOST_SECRET", "host secret 51d2")
    result = run("sh", "-c", "for p in /proc/[0-9]*; do cat $p/environ; done; cat /proc/1/maps")
    assert b"51d2" not in result.stdout
    assert b"JAULA_HOST_SECRET" not in result.stdout


def test_other_runs_files_are_invisible(
    run: RunFn, launchers: Launchers, images: Images, tmp_path: Path
) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    signals.chmod(0o777)
    writer_script = """
        for d in /tmp /box /dev/shm; do echo SECRET-4d1 > $d/secret-4d1; done
        touch /signals/ready
        while [ ! -e /signals/done ]; do sleep 0.02; done
    """
    writer = launchers.new()
    spec = Spec(
        argv=["sh", "-c", writer_script],
        layers=images.programs,
        binds=[Bind(source=str(signals), target="/signals", writable=True)],
        limits=limits(wall_time_s=60),
    )
    thread, outcome = run_in_thread(lambda: writer.run(spec))
    try:
        hoststate.wait_until(
            lambda: (signals / "ready").exists() or not thread.is_alive(), what="the other run's files"
        )
        assert "error" not in outcome
        reader_script = "find / -path /proc -prune -o -name 'secret-4d1' -print; cat /tmp/secret-4d1"
        result = run("sh", "-c", reader_script)
    finally:
        (signals / "done").touch()
        thread.join(timeout=60)
    assert outcome["result"].verdict == Verdict.OK, outcome
    assert result.stdout == b""


def test_nothing_a_run_writes_is_seen_by_the_next_run(run: RunFn) -> None:
    first = run("sh", "-c", "for d in /tmp /box /dev/shm; do echo left > $d/left-behind; done")
    assert first.verdict == Verdict.OK
    second = run("sh", "-c", "ls -a /tmp /box /dev/shm")
    assert b"left-behind" not in second.stdout


@pytest.fixture
def writable_layer(tmp_path: Path) -> Path:
    """An image layer with a world-writable file and directory: the program may change them,
    but only in its copy (overlayfs copy-up), never in the layer."""
    layer = tmp_path / "layer"
    (layer / "srv" / "open").mkdir(parents=True)
    (layer / "srv" / "open").chmod(0o777)
    (layer / "srv" / "shared.txt").write_text("original\n")
    (layer / "srv" / "shared.txt").chmod(0o666)
    return layer


def test_writing_the_image_changes_only_the_runs_copy(
    run: RunFn, images: Images, writable_layer: Path
) -> None:
    layers = [*images.programs, str(writable_layer)]
    before = [tree_digest(Path(layer)) for layer in layers]
    script = """
        echo pwned > /srv/shared.txt
        echo pwned > /srv/open/new.txt
        echo pwned >> /etc/passwd
        echo pwned > /bin/busybox
        rm -f /bin/sh /usr/local/bin/alloc
        cat /srv/shared.txt /srv/open/new.txt
    """
    result = run("sh", "-c", script, layers=layers)
    assert result.stdout == b"pwned\npwned\n"  # the copy-up worked for the run itself
    assert [tree_digest(Path(layer)) for layer in layers] == before
    again = run("sh", "-c", "cat /srv/shared.txt; ls /srv/open; tail -1 /etc/passwd", layers=layers)
    assert again.stdout == b"original\nrunner:x:1000:1000:runner:/box:/bin/sh\n"


def test_a_read_only_bind_is_read_only_all_through(run: RunFn, tmp_path: Path) -> None:
    # A mount under the bound directory (here a writable tmpfs) does not come along with its
    # own flags: the program sees the directory underneath, read-only like the rest.
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(shared / "sub")], check=True)
    try:
        (shared / "sub" / "mounted.txt").write_text("on the tmpfs\n")
        script = "ls /shared/sub; echo x > /shared/sub/new; echo x > /shared/top; cat /proc/self/mountinfo"
        result = run("sh", "-c", script, binds=[Bind(source=str(shared), target="/shared")])
        assert b"mounted.txt" not in result.stdout
        assert result.stderr.count(b"Read-only file system") == 2, result.stderr
        mounts = [line.split() for line in lines(result) if " /shared" in line]
        assert [m[4] for m in mounts] == ["/shared"], mounts  # no mount under it
        assert set(mounts[0][5].split(",")) >= {"ro", "nosuid", "nodev"}, mounts
        assert list((shared / "sub").iterdir()) == [shared / "sub" / "mounted.txt"]
    finally:
        subprocess.run(["umount", str(shared / "sub")], check=True)
    assert list(shared.iterdir()) == [shared / "sub"]


# -- privileges and the kernel's interfaces ---------------------------------------------------------


def test_program_holds_no_capability_and_has_no_new_privs(run: RunFn) -> None:
    result = run("cat", "/proc/self/status")
    status = dict(line.split(":\t", 1) for line in lines(result) if ":\t" in line)
    caps = {k: v for k, v in status.items() if k.startswith("Cap")}
    assert set(caps) == {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}
    assert all(int(v, 16) == 0 for v in caps.values()), caps
    assert status["NoNewPrivs"] == "1"


@pytest.mark.parametrize("stdin", [b"", b"input"])
def test_program_holds_no_descriptor_but_its_stdin_stdout_and_stderr(run: RunFn, stdin: bytes) -> None:
    # Anything more (the job socket, the launcher's socket to the client) would let a program
    # forge its own result, or hand the client a container of its making for the next job.
    result = run("sh", "-c", "ls /proc/$$/fd; for fd in 1 2; do readlink /proc/$$/fd/$fd; done", stdin=stdin)
    fds, targets = lines(result)[:-2], lines(result)[-2:]
    assert fds == ["0", "1", "2"], result
    assert all(t.startswith("pipe:") for t in targets), targets


def test_program_runs_as_an_unprivileged_user(run: RunFn) -> None:
    assert run("id").stdout == b"uid=1000(runner) gid=1000(runner)\n"


def test_setuid_root_binary_in_an_image_layer_gains_nothing(run: RunFn, images: Images) -> None:
    installed = os.stat(Path(images.c_layer) / "usr/local/bin/setuid_root")
    assert installed.st_uid == 0 and installed.st_mode & 0o4000, "the test binary is not setuid root"
    result = run("setuid_root")
    assert_blocked(result)
    assert lines(result)[0] == "uids 1000 1000 1000"


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("tmpfs", "/tmp"),
        ("proc", "/tmp"),
        ("sysfs", "/tmp"),
        ("cgroup2", "/tmp"),
        ("cgroup", "/tmp"),
        ("bind", "/tmp"),
        ("remount", "/"),
    ],
)
def test_mount_is_refused(run: RunFn, kind: str, target: str) -> None:
    assert_blocked(run("mount_attack", kind, target))


@pytest.mark.parametrize("target", ["/proc", "/dev", "/tmp", "/"])
def test_umount_is_refused(run: RunFn, target: str) -> None:
    assert_blocked(run("mount_attack", "umount", target))


def test_pivot_root_is_refused(run: RunFn) -> None:
    assert_blocked(run("pivot_root"))


def test_chroot_escape_is_refused(run: RunFn) -> None:
    assert_blocked(run("chroot_escape"))


def test_mknod_is_refused(run: RunFn) -> None:
    assert_blocked(run("mknod_device"))


def test_dev_holds_only_harmless_devices(run: RunFn) -> None:
    script = "find /dev -type c -o -type b; cat /dev/mem /dev/kmem /dev/port /dev/kmsg /proc/kmsg"
    result = run("sh", "-c", script)
    assert set(lines(result)) <= {f"/dev/{d}" for d in ("null", "zero", "full", "random", "urandom")}
    assert b"can't open '/dev/mem'" in result.stderr
    assert b"can't open '/dev/kmsg'" in result.stderr


def test_writing_proc_sys_and_sysrq_trigger_fails(run: RunFn) -> None:
    # Harmless even if it worked: 'h' only prints help to the kernel log, and pid_max gets its
    # own value back.
    script = """
        echo h > /proc/sysrq-trigger && echo WROTE sysrq-trigger
        v=$(cat /proc/sys/kernel/pid_max); echo $v > /proc/sys/kernel/pid_max && echo WROTE pid_max
        echo 1 > /proc/sys/vm/drop_caches && echo WROTE drop_caches
        echo 0 > /proc/sys/user/max_user_namespaces && echo WROTE max_user_namespaces
    """
    result = run("sh", "-c", script)
    assert b"WROTE" not in result.stdout


def test_kcore_and_kallsyms_reveal_no_kernel_address(run: RunFn) -> None:
    script = "head -c 4096 /proc/kcore | wc -c; grep -v '^0\\{16\\} ' /proc/kallsyms | head -5"
    result = run("sh", "-c", script)
    assert lines(result) == ["0"]


def test_ptrace_of_pid_1_is_refused(run: RunFn) -> None:
    assert_blocked(run("ptrace_init"))


def test_host_processes_are_invisible(run: RunFn) -> None:
    result = run("sh", "-c", "for p in /proc/[0-9]*; do echo ${p#/proc/}; done; cat /proc/[0-9]*/cmdline")
    pids = [int(line) for line in lines(result) if line.isdigit()]
    assert len(pids) <= 5, pids  # the init, the exec stub, sh, cat
    assert max(pids) < 100
    with open("/proc/self/cmdline", "rb") as f:
        assert f.read() not in result.stdout  # this test process, for one


@pytest.mark.parametrize("how", ["unshare_userns", "busybox-unshare", "raise-the-limit-first"])
def test_nested_user_namespace_is_refused(run: RunFn, how: str) -> None:
    if how == "unshare_userns":
        assert_blocked(run("unshare_userns"))
        return
    raise_limit = "echo 1000 > /proc/sys/user/max_user_namespaces; " if how == "raise-the-limit-first" else ""
    result = run(
        "sh", "-c", f"{raise_limit}cat /proc/sys/user/max_user_namespaces; unshare -U id -u && echo NESTED"
    )
    assert lines(result)[0] == "0"
    assert b"NESTED" not in result.stdout


def test_cgroup_files_are_out_of_reach(run: RunFn) -> None:
    script = """
        cat /proc/self/cgroup
        grep cgroup /proc/self/mountinfo
        test -e /sys/fs/cgroup && echo HAS-CGROUPFS
        echo max > /sys/fs/cgroup/pids.max && echo WROTE
    """
    result = run("sh", "-c", script)
    memberships = lines(result)
    assert memberships and all(line.endswith(":/") for line in memberships), memberships


def test_sethostname_is_refused(run: RunFn) -> None:
    host_name = socket.gethostname()
    result = run("sh", "-c", "hostname evil; hostname")
    assert result.stdout == b"jaula\n"
    assert socket.gethostname() == host_name


# -- network ----------------------------------------------------------------------------------------


def test_only_loopback_is_in_the_network_namespace(run: RunFn) -> None:
    result = run("cat", "/proc/net/dev")
    interfaces = {line.split(":")[0].strip() for line in lines(result)[2:]}
    assert interfaces == {"lo"}


def test_connecting_to_a_port_the_host_listens_on_at_127_0_0_1_fails(run: RunFn) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = run("tcp_connect", "127.0.0.1", str(port))
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing ever reached the host's listener
    assert_blocked(result)


def test_connecting_outside_the_host_fails(run: RunFn) -> None:
    assert_blocked(run("tcp_connect", "192.0.2.1", "80"))  # TEST-NET-1: there is no route


def test_raw_socket_is_refused(run: RunFn) -> None:
    assert_blocked(run("raw_socket"))


def test_a_runs_network_traffic_is_invisible_to_the_runs_after_it(run: RunFn) -> None:
    # Network namespaces are reused (sandbox/netns.py), but never one a run moved a packet in:
    # every later run starts from zeroed counters, whichever container it gets.
    assert_blocked(run("tcp_connect", "127.0.0.1", "1"))  # SYN and RST over lo
    for _ in range(5):  # more than the containers prepared ahead: one gets a recycled namespace
        names, values = [
            line.split()[1:] for line in lines(run("cat", "/proc/net/snmp")) if line.startswith("Tcp:")
        ]
        tcp = dict(zip(names, values, strict=True))
        assert tcp["ActiveOpens"] == "0" and tcp["OutRsts"] == "0", tcp
        dev = lines(run("cat", "/proc/net/dev"))[2]
        assert dev.split()[1:3] == ["0", "0"], dev  # lo: bytes and packets received


# -- failures of the sandbox and of its launcher ----------------------------------------------------


@pytest.mark.parametrize("case", ["missing-command", "missing-layer", "missing-cwd", "missing-collect-to"])
def test_a_run_that_fails_in_setup_raises_setup_error_and_leaves_nothing(
    run: RunFn, sb: Sandbox, images: Images, tmp_path: Path, case: str
) -> None:
    specs = {
        "missing-command": Spec(argv=["no-such-command"], layers=images.programs),
        "missing-layer": Spec(argv=["true"], layers=[images.busybox, str(tmp_path / "no-such-layer")]),
        "missing-cwd": Spec(argv=["true"], layers=images.programs, cwd="/no/such/dir"),
        "missing-collect-to": Spec(
            argv=["true"], layers=images.programs, collect_to=str(tmp_path / "no-such-dir")
        ),
    }
    with pytest.raises(SetupError) as failure:
        sb.run(specs[case])
    assert failure.value.step, "a setup error names its step"
    assert run("true").verdict == Verdict.OK  # the launcher carries on


def test_killing_the_launcher_mid_run_kills_the_run_and_the_next_launcher_reclaims_its_cgroups(
    launchers: Launchers, images: Images, test_host: TestHost
) -> None:
    sb = launchers.new()
    status = sb.status()
    launcher_pid, host_id = status["pid"], status["host_id"]
    spec = Spec(argv=["sh", "-c", "sleep 1000"], layers=images.programs, limits=limits(wall_time_s=60))
    thread, outcome = run_in_thread(lambda: sb.run(spec))
    hoststate.wait_until(
        lambda: any(p.name == "sleep" for p in hoststate.processes_of([host_id])), what="the run to start"
    )

    os.kill(launcher_pid, signal.SIGKILL)
    thread.join(timeout=20)  # far below the run's wall limit: the run died with its launcher
    assert not thread.is_alive(), "the run outlived its launcher"
    assert isinstance(outcome.get("error"), LauncherDied), outcome
    hoststate.wait_until(lambda: not hoststate.processes_of([host_id]), what="the run's processes to die")

    def orphans() -> set[str]:
        names = hoststate.run_cgroups(test_host.cgroup_parent, test_host.cgroup_version)
        return {name for name in names if name.startswith(f"{launcher_pid}-")}

    assert orphans(), "expected the dead launcher's cgroups to remain until reclaimed"
    launchers.new().status()  # a new launcher with the same state directory starts
    assert not orphans()


def test_closing_a_launcher_removes_everything_it_made(
    launchers: Launchers, images: Images, test_host: TestHost
) -> None:
    sb = launchers.new()
    assert sb.run(Spec(argv=["true"], layers=images.programs)).verdict == Verdict.OK
    sb.sync()
    status = sb.status()
    launcher_pid, host_id = status["pid"], status["host_id"]

    def cgroups_of_launcher() -> set[str]:
        names = hoststate.run_cgroups(test_host.cgroup_parent, test_host.cgroup_version)
        return {name for name in names if name.startswith(f"{launcher_pid}-")}

    assert cgroups_of_launcher(), "expected a container prepared for the next run"
    sb.close()
    assert not hoststate.alive(launcher_pid)
    assert not hoststate.processes_of([host_id])
    assert not cgroups_of_launcher()


def test_a_long_lived_launcher_keeps_no_state_for_kinds_it_no_longer_wants(
    launchers: Launchers, images: Images, tmp_path: Path
) -> None:
    # Each compiled submission's artefact is a kind of container of its own; a worker's launcher
    # sees thousands. What it keeps per kind must go when the kind drops out of the wanted few.
    sb = launchers.new()
    for n in range(12):
        artefact = tmp_path / f"artefact-{n}"
        artefact.mkdir()
        assert sb.run(Spec(argv=["true"], layers=[*images.programs, str(artefact)])).verdict == Verdict.OK
    sb.sync()
    status = sb.status()
    kinds = sb.config.kinds
    assert status["container_kinds"] <= kinds
    assert len(status["preparing"]) + len(status["lent"]) <= kinds * sb.config.spares


def test_leases_lent_for_a_kind_the_client_just_dropped_are_given_back(
    launchers: Launchers, images: Images, tmp_path: Path
) -> None:
    """The race, forced: the launcher lends containers of kind A while the client, not reading,
    switches to kind B (kinds=1 drops A). The leases for A arrive after the switch; the client
    must give them back, or the launcher keeps them lent (and their containers alive) forever."""
    sb = launchers.new(kinds=1, spares=2)
    kind_a = Spec(argv=["true"], layers=images.programs)
    kind_b = Spec(argv=["true"], layers=[*images.programs, str(tmp_path)])
    assert sb.run(kind_a).verdict == Verdict.OK
    # A lease for kind A lent after that run, unread in the client's socket.
    hoststate.wait_until(lambda: unread_bytes(sb) > 0, what="a lease for kind A")
    assert sb.run(kind_b).verdict == Verdict.OK
    sb.sync()
    status = sb.status()  # files every lease sent before the status
    held = {key: len(leases) for key, leases in sb._leases.items() if leases}
    assert set(held) <= {key_of(kind_b)}, held
    assert len(status["lent"]) == sum(held.values()), (status, held)  # no lease nobody holds


def unread_bytes(sb: Sandbox) -> int:
    assert sb._sock is not None
    (unread,) = struct.unpack("i", fcntl.ioctl(sb._sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))
    return int(unread)


def test_residue_check_reports_a_leaked_cgroup_process_mount_and_file(
    test_host: TestHost, sb: Sandbox
) -> None:
    """The check itself: a cgroup no live launcher owns, a process in the suite's uid range outside
    any prepared container, a mount on the staging mount point, a stray state file: all reported."""
    sb.status()  # started before the fake leaks: a starting launcher would reclaim the cgroup
    before = hoststate.mounts()
    leaked = "999999-1"
    made = []
    for parent in hoststate.cgroup_parent_dirs(test_host.cgroup_parent, test_host.cgroup_version):
        parent.mkdir(exist_ok=True)
        (parent / leaked).mkdir()
        made.append(parent / leaked)
    stray_uid = test_host.uid_range[1] - 1
    stray = subprocess.Popen(["sleep", "1000"], user=stray_uid, group=stray_uid)
    mount_point = test_host.state_dir / "stage"
    stray_file = test_host.state_dir / "stage" / "leftover"
    subprocess.run(["mount", "-t", "tmpfs", "leak", str(mount_point)], check=True)
    try:
        stray_file.write_text("x")  # on the tmpfs: it goes with it
        hoststate.wait_until(lambda: bool(hoststate.processes_of([stray_uid])), what="the stray process")
        problems = residue(test_host, [sb], before)
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
        stray.kill()
        stray.wait()
        for path in made:
            path.rmdir()
    assert f"cgroup left behind: {test_host.cgroup_parent}/{leaked}" in problems
    assert any(p.startswith(f"process left behind: pid {stray.pid} ") for p in problems), problems
    assert any(p.startswith("mount left behind") and str(mount_point) in p for p in problems), problems
    assert "file left behind in the state directory: stage/leftover" in problems
    assert len(problems) == 4, problems
