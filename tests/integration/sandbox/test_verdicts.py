"""Verdicts and metrics of real programs, and what a run sees: stdin, args, env, /box, collect_to.

Programs are busybox applets and the static C programs of programs/ (crash, alloc, spin) stacked
over busybox; the Debian image runs Python.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sandbox import DEFAULT_ENV, Sandbox, Spec, Verdict
from tests.integration.sandbox.support import RunFn, TestHost, limits

pytestmark = pytest.mark.root

KIB = 1024
MIB = 1024 * KIB


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KIB
    raise AssertionError(f"no VmRSS for pid {pid}")


# -- exit status and signals ------------------------------------------------------------------------


def test_exit_0_is_ok(run: RunFn) -> None:
    result = run("true")
    assert result.verdict == Verdict.OK
    assert (result.exit_code, result.signal, result.message) == (0, None, None)


def test_exit_3_is_runtime_error_with_exit_code_3(run: RunFn) -> None:
    result = run("sh", "-c", "exit 3")
    assert result.verdict == Verdict.RUNTIME_ERROR
    assert (result.exit_code, result.signal) == (3, None)
    assert result.message is not None and "code 3" in result.message


@pytest.mark.parametrize(("fault", "signal"), [("segv", "SIGSEGV"), ("abort", "SIGABRT"), ("fpe", "SIGFPE")])
def test_fatal_signal_is_runtime_error_naming_the_signal(run: RunFn, fault: str, signal: str) -> None:
    result = run("crash", fault)
    assert result.verdict == Verdict.RUNTIME_ERROR
    assert (result.exit_code, result.signal) == (None, signal)
    assert result.message is not None and signal in result.message


# -- time -------------------------------------------------------------------------------------------


def test_busy_loop_is_time_limit_with_cpu_time_close_to_the_limit(run: RunFn) -> None:
    result = run("sh", "-c", "while :; do :; done", limits=limits(cpu_time_s=1.0, wall_time_s=30))
    assert result.verdict == Verdict.TIME_LIMIT
    assert 1000 <= result.cpu_time_ms <= 1000 * 1.1 + 20
    assert result.message is not None and "CPU time" in result.message


def test_sleep_is_time_limit_by_wall_clock_and_says_so(run: RunFn) -> None:
    result = run("sleep", "60", limits=limits(cpu_time_s=5, wall_time_s=0.5))
    assert result.verdict == Verdict.TIME_LIMIT
    assert result.message is not None and "wall-clock" in result.message
    assert result.cpu_time_ms < 500  # it was not the CPU limit


def test_cpu_time_counts_every_process_of_the_run(run: RunFn) -> None:
    # Two processes, each burning 300 ms of its own CPU time.
    result = run("sh", "-c", "spin 1 300 & spin 1 300; wait", limits=limits(cpu_time_s=10, cpus=2))
    assert result.verdict == Verdict.OK, result
    assert result.stdout == b"spun 1 x 300 ms\n" * 2
    assert 600 <= result.cpu_time_ms < 10_000


def test_cpu_time_counts_every_thread_of_the_run(run: RunFn) -> None:
    result = run("spin", "4", "200", limits=limits(cpu_time_s=10, cpus=2))
    assert result.verdict == Verdict.OK, result
    assert 800 <= result.cpu_time_ms < 10_000


# -- memory -----------------------------------------------------------------------------------------


def test_allocating_past_the_memory_limit_is_memory_limit_with_peak_near_the_limit(run: RunFn) -> None:
    limit = 64 * MIB
    result = run("alloc", "1024", limits=limits(memory_bytes=limit))
    assert result.verdict == Verdict.MEMORY_LIMIT, result
    assert result.message is not None and "64 MB memory limit" in result.message
    assert 0.85 * limit <= result.memory_peak_bytes <= limit + MIB


def test_memory_peak_counts_the_programs_allocation(run: RunFn) -> None:
    # Generous CPU time: touching 100 MiB takes seconds in an emulated (TCG) guest.
    result = run("alloc", "100", limits=limits(memory_bytes=256 * MIB, cpu_time_s=30, wall_time_s=60))
    assert result.verdict == Verdict.OK, result
    assert 100 * MIB <= result.memory_peak_bytes < 200 * MIB


def test_memory_peak_of_a_tiny_program_is_its_own_not_the_launchers(run: RunFn, sb: Sandbox) -> None:
    result = run("true")
    launcher_rss = rss_bytes(sb.status()["pid"])
    # Not "> 0": where memory.peak cannot be reset (cgroup v2 before Linux 6.12) the peak of a
    # program smaller than the container's preparation reads as 0.
    assert result.memory_peak_bytes < launcher_rss / 4


# -- output -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_flooding_output_is_output_limit_keeping_exactly_the_cap(run: RunFn, stream: str) -> None:
    cap = 64 * KIB
    redirect = " >&2" if stream == "stderr" else ""
    result = run("sh", "-c", f"echo start; yes flood{redirect}", limits=limits(output_bytes=cap))
    assert result.verdict == Verdict.OUTPUT_LIMIT
    captured = result.stdout if stream == "stdout" else result.stderr
    assert len(captured) == cap
    assert captured.rstrip(b"flod\n") in (b"", b"start")
    assert (result.stdout_truncated, result.stderr_truncated) == (stream == "stdout", stream == "stderr")
    assert result.message is not None and stream in result.message


def test_flooding_output_keeps_the_callers_memory_bounded(run: RunFn) -> None:
    before = rss_bytes(os.getpid())
    for _ in range(5):
        result = run("sh", "-c", "yes 0123456789abcdef", limits=limits(output_bytes=1 * MIB))
        assert result.verdict == Verdict.OUTPUT_LIMIT
        assert len(result.stdout) == 1 * MIB
    assert rss_bytes(os.getpid()) - before < 64 * MIB


def test_writing_a_file_past_the_file_size_limit_is_output_limit_naming_that_limit(run: RunFn) -> None:
    result = run(
        "dd",
        "if=/dev/zero",
        "of=/box/big",
        "bs=64k",
        "count=64",
        limits=limits(file_size_bytes=1 * MIB, scratch_bytes=16 * MIB),
    )
    assert result.verdict == Verdict.OUTPUT_LIMIT, result
    assert result.signal == "SIGXFSZ"
    assert result.message is not None and "file size limit" in result.message


def test_stdout_and_stderr_are_kept_apart(run: RunFn) -> None:
    result = run("sh", "-c", "echo out; echo err >&2; echo out2")
    assert (result.stdout, result.stderr) == (b"out\nout2\n", b"err\n")


# -- input: stdin, args, environment, /box ----------------------------------------------------------


def test_stdin_is_delivered_byte_for_byte(run: RunFn) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, every byte value
    result = run("cat", stdin=data, limits=limits(output_bytes=2 * MIB))
    assert result.verdict == Verdict.OK
    assert result.stdout == data


def test_without_stdin_the_program_reads_end_of_file(run: RunFn) -> None:
    result = run("sh", "-c", "cat; echo done")
    assert (result.verdict, result.stdout) == (Verdict.OK, b"done\n")


def test_args_are_passed_exactly(run: RunFn) -> None:
    args = ["plain", "with space", "", "new\nline", "ünïcödé", "$HOME", "*", "--flag=1", "'\"\\"]
    result = run("sh", "-c", 'for a in "$@"; do printf "%s\\0" "$a"; done', "sh", *args)
    assert result.stdout.split(b"\0")[:-1] == [a.encode() for a in args]


def environ_of(stdout: bytes) -> dict[str, str]:
    return dict(item.decode().split("=", 1) for item in stdout.split(b"\0") if item)


def test_only_the_given_environment_is_visible(run: RunFn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAULA_HOST_ONLY", "must not leak")
    env = {"PATH": "/usr/bin:/bin", "ONLY": "this", "EMPTY": "", "TRICKY": "a=b c\nd"}
    result = run("cat", "/proc/self/environ", env=env)
    assert environ_of(result.stdout) == env


def test_default_environment_is_exactly_the_allowlist(run: RunFn) -> None:
    result = run("cat", "/proc/self/environ")
    assert environ_of(result.stdout) == dict(DEFAULT_ENV)


def test_files_are_written_to_box_owned_by_the_program(run: RunFn) -> None:
    files = {"main.txt": b"hello\n", "sub/dir/data.bin": bytes(range(256))}
    script = "pwd; cat main.txt; md5sum sub/dir/data.bin; stat -c '%u %a' main.txt; id -u"
    result = run("sh", "-c", script, files=files)
    digest = hashlib.md5(bytes(range(256))).hexdigest()
    assert result.stdout.decode().splitlines() == [
        "/box",
        "hello",
        f"{digest}  sub/dir/data.bin",
        "1000 644",
        "1000",
    ]


# -- collect_to ---------------------------------------------------------------------------------


def test_collect_to_copies_box_back_to_the_host(run: RunFn, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    script = "mkdir -p d/e && echo result > d/e/r.txt && printf x > top && chmod 755 top"
    result = run("sh", "-c", script, files={"in.txt": b"input"}, collect_to=str(out))
    assert result.verdict == Verdict.OK, result
    assert (out / "d" / "e" / "r.txt").read_text() == "result\n"
    assert (out / "top").read_bytes() == b"x"
    assert (out / "in.txt").read_bytes() == b"input"


def test_collect_to_never_follows_a_symlink_planted_in_box(
    run: RunFn, tmp_path: Path, test_host: TestHost
) -> None:
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"host secret 7f3a9c")
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    script = f"""
        ln -s {secret} /box/secret
        ln -s /etc/shadow /box/shadow
        ln -s / /box/root
        ln -s {victim_dir} /box/victim
        mkdir /box/d && ln -s /etc /box/d/etc
    """
    result = run("sh", "-c", script, collect_to=str(out))
    assert result.verdict == Verdict.OK, result
    for name in ("secret", "shadow", "root", "victim", "d/etc"):
        path = out / name
        assert path.is_symlink() or not os.path.lexists(path), f"{name} was followed"
    # Nothing collected holds host content, and nothing was written through a link.
    for dirpath, _, filenames in os.walk(out):
        for filename in filenames:
            path = Path(dirpath) / filename
            if not path.is_symlink():
                assert b"7f3a9c" not in path.read_bytes()
    assert list(victim_dir.iterdir()) == []
    assert secret.read_bytes() == b"host secret 7f3a9c"


def test_collect_to_keeps_holes_and_hard_links(run: RunFn, tmp_path: Path) -> None:
    # A sparse file or a file linked many times would otherwise cost the host far more than /box.
    out = tmp_path / "out"
    out.mkdir()
    script = (
        "for i in 1 2 3 4 5 6; do truncate -s 16M sparse$i; done && head -c 65536 /dev/urandom > data"
        " && for i in 1 2 3 4 5; do ln data link$i; done"
    )
    result = run("sh", "-c", script, collect_to=str(out))
    assert result.verdict == Verdict.OK, result
    # 96 MB of files in a 64 MB scratch: the holes are neither copied nor counted.
    for i in range(1, 7):
        sparse = os.stat(out / f"sparse{i}")
        assert sparse.st_size == 16 << 20 and sparse.st_blocks * 512 < 1 << 20
    data = os.stat(out / "data")
    assert data.st_nlink == 6 and os.stat(out / "link5").st_ino == data.st_ino
    assert (out / "link3").read_bytes() == (out / "data").read_bytes()


def test_collect_to_refuses_a_box_nested_too_deep_as_a_verdict(run: RunFn, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run("sh", "-c", "for i in $(seq 100); do mkdir d && cd d || exit 1; done", collect_to=str(out))
    assert result.verdict == Verdict.OUTPUT_LIMIT, result
    assert result.message == "The files the program left in /box are nested more than 64 directories deep."


# -- the Debian image -------------------------------------------------------------------------------


def test_python_hello_world_runs_in_the_debian_image(sb: Sandbox, debian: str) -> None:
    result = sb.run(Spec(argv=["python3", "-c", "print('hello')"], layers=[debian], limits=limits()))
    assert result.verdict == Verdict.OK, result
    assert result.stdout == b"hello\n"


def test_python_reads_stdin_in_the_debian_image(sb: Sandbox, debian: str) -> None:
    main = b"import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n"
    spec = Spec(
        argv=["python3", "main.py"],
        layers=[debian],
        files={"main.py": main},
        stdin=b"1 2 3\n40\n",
        limits=limits(),
    )
    result = sb.run(spec)
    assert (result.verdict, result.stdout) == (Verdict.OK, b"46\n")


def test_result_names_the_hosts_cgroup_version(run: RunFn, sb: Sandbox, test_host: TestHost) -> None:
    assert run("true").cgroup_version == test_host.cgroup_version == sb.status()["cgroup_version"]
