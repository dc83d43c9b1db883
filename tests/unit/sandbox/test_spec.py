"""Spec.validate (every rejection), and the JSON forms of Spec, Limits, Result and SetupError."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

from sandbox import DEFAULT_ENV, Bind, Limits, Result, SetupError, Spec, SpecError, Verdict
from sandbox.launcher import LauncherConfig
from sandbox.spec import box_relative

LAYER = "/images/base"


def spec(**changes: Any) -> Spec:
    return Spec(**{"argv": ["python3", "main.py"], "layers": [LAYER], **changes})


def test_a_plain_spec_is_valid() -> None:
    spec().validate()
    spec(
        files={"main.py": b"print(1)", "lib/util.py": b""},
        binds=[Bind(source="/data", target="/data"), Bind(source="/srv/x", target="/opt/x/", writable=True)],
        collect_to="/tmp/out",
        env={},
        stdin=b"",
        cwd="/tmp",
        hostname="a" * 64,
    ).validate()


# (case, changes to a valid spec) -> SpecError
INVALID_SPECS: list[tuple[str, dict[str, Any]]] = [
    ("empty argv", {"argv": []}),
    ("argv with a non-string", {"argv": ["ls", 3]}),
    ("argv with a NUL byte", {"argv": ["ls", "a\0b"]}),
    ("no layers", {"layers": []}),
    ("relative layer", {"layers": ["images/base"]}),
    ("layer with a NUL byte", {"layers": ["/images/\0base"]}),
    ("layer with ':'", {"layers": ["/images/a:b"]}),
    ("layer with ','", {"layers": ["/images/a,b"]}),
    ("layer with a backslash", {"layers": ["/images/a\\b"]}),
    ("empty environment name", {"env": {"": "x"}}),
    ("environment name with '='", {"env": {"A=B": "x"}}),
    ("environment name with NUL", {"env": {"A\0": "x"}}),
    ("environment value with NUL", {"env": {"A": "x\0y"}}),
    ("relative cwd", {"cwd": "box"}),
    ("absolute file name", {"files": {"/etc/passwd": b""}}),
    ("empty file name", {"files": {"": b""}}),
    ("file name '.'", {"files": {".": b""}}),
    ("file name '..'", {"files": {"..": b""}}),
    ("file name leaving /box", {"files": {"../x": b""}}),
    ("file name leaving /box after a detour", {"files": {"a/../../x": b""}}),
    ("file name with NUL", {"files": {"a\0b": b""}}),
    ("relative bind source", {"binds": [Bind(source="data", target="/data")]}),
    ("relative bind target", {"binds": [Bind(source="/data", target="data")]}),
    ("bind over /", {"binds": [Bind(source="/data", target="/")]}),
    ("bind over /proc", {"binds": [Bind(source="/data", target="/proc")]}),
    ("bind over /dev", {"binds": [Bind(source="/data", target="/dev")]}),
    ("bind over /sys", {"binds": [Bind(source="/data", target="/sys")]}),
    ("bind over /tmp", {"binds": [Bind(source="/data", target="/tmp")]}),
    ("bind over /tmp/ (trailing slash)", {"binds": [Bind(source="/data", target="/tmp/")]}),
    ("bind over /proc via '..'", {"binds": [Bind(source="/data", target="/box/../proc")]}),
    ("bind inside /proc", {"binds": [Bind(source="/data", target="/proc/sys")]}),
    ("bind inside /dev", {"binds": [Bind(source="/data", target="/dev/shm")]}),
    ("bind inside /sys", {"binds": [Bind(source="/data", target="/sys/fs/cgroup")]}),
    ("relative collect_to", {"collect_to": "out"}),
    ("empty hostname", {"hostname": ""}),
    ("hostname of 65 characters", {"hostname": "a" * 65}),
    ("non-ASCII hostname", {"hostname": "jaulá"}),
]


@pytest.mark.parametrize("changes", [c[1] for c in INVALID_SPECS], ids=[c[0] for c in INVALID_SPECS])
def test_invalid_spec_is_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(SpecError):
        spec(**changes).validate()


POSITIVE_NUMBERS = ("cpu_time_s", "wall_time_s", "cpus")
POSITIVE_INTEGERS = (
    "memory_bytes",
    "pids",
    "output_bytes",
    "file_size_bytes",
    "open_files",
    "stack_bytes",
    "scratch_bytes",
    "scratch_inodes",
)

INVALID_LIMITS: list[tuple[str, Any]] = [
    *[(name, bad) for name in POSITIVE_NUMBERS for bad in (0, -1, math.nan, math.inf, "1")],
    *[(name, bad) for name in POSITIVE_INTEGERS for bad in (0, -1, 1.5, True, "3", None)],
    ("memory_bytes", 4 * 1024 * 1024 - 1),
    ("open_files", 7),
    ("pids", 1),
]


@pytest.mark.parametrize(("name", "value"), INVALID_LIMITS, ids=[f"{n}={v!r}" for n, v in INVALID_LIMITS])
def test_invalid_limit_is_rejected_naming_it(name: str, value: Any) -> None:
    with pytest.raises(SpecError, match=f"limits.{name}"):
        spec(limits=Limits(**{name: value})).validate()


def test_the_smallest_allowed_limits_are_valid() -> None:
    Limits(memory_bytes=4 * 1024 * 1024, open_files=8, pids=2, cpu_time_s=0.001, cpus=0.01).validate()


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(SpecError, ValueError)


@pytest.mark.parametrize(
    ("name", "normalised"), [("a.txt", "a.txt"), ("./a.txt", "a.txt"), ("d//e/../f", "d/f"), ("d/", "d")]
)
def test_box_relative_normalises_names_inside_box(name: str, normalised: str) -> None:
    assert box_relative(name) == normalised


# -- JSON ---------------------------------------------------------------------------------------------


def through_json(data: Any) -> Any:
    return json.loads(json.dumps(data))


def test_spec_json_round_trip_keeps_every_field() -> None:
    original = Spec(
        argv=["sh", "-c", "cat"],
        layers=["/images/base", "/images/python"],
        env={"PATH": "/bin", "EMPTY": ""},
        cwd="/box/sub",
        files={"main.py": b"print(1)\n", "bin/blob": bytes(range(256))},
        stdin=b"\x00\xff binary stdin",
        binds=[Bind(source="/data", target="/data", writable=True)],
        collect_to="/tmp/out",
        limits=Limits(cpu_time_s=1.5, memory_bytes=64 * 1024 * 1024, pids=8, cpus=0.5),
        network=True,
        hostname="judge",
    )
    assert Spec.from_json(through_json(original.to_json())) == original


def test_spec_json_round_trip_of_the_defaults() -> None:
    original = Spec(argv=["true"], layers=[LAYER])
    again = Spec.from_json(through_json(original.to_json()))
    assert again.to_json() == original.to_json()
    assert (again.stdin, again.env, again.limits) == (None, dict(DEFAULT_ENV), Limits())


def test_result_json_round_trip_keeps_binary_output() -> None:
    original = Result(
        verdict=Verdict.RUNTIME_ERROR,
        exit_code=None,
        signal="SIGSEGV",
        cpu_time_ms=12,
        wall_time_ms=30,
        memory_peak_bytes=1 << 20,
        stdout=bytes(range(256)),
        stderr=b"\xff\xfe not utf-8",
        stdout_truncated=True,
        stderr_truncated=False,
        message="The program was killed by SIGSEGV.",
        cgroup_version=2,
    )
    data = through_json(original.to_json())
    assert data["verdict"] == "runtime_error"
    assert Result.from_json(data) == original


def test_setup_error_json_round_trip_and_message() -> None:
    error = SetupError("mount /proc", 1, "/stage/proc", "while preparing")
    again = SetupError.from_json(through_json(error.to_json()))
    assert (again.step, again.errno, again.path, again.detail) == (
        "mount /proc",
        1,
        "/stage/proc",
        "while preparing",
    )
    assert str(again) == str(error)
    assert "'mount /proc'" in str(error) and "EPERM" in str(error) and "/stage/proc" in str(error)


def test_setup_error_from_oserror_names_step_errno_and_path() -> None:
    error = SetupError.from_oserror("open collect_to", FileNotFoundError(2, "No such file", "/out"))
    assert (error.step, error.errno, error.path) == ("open collect_to", 2, "/out")
    assert "ENOENT" in str(error)


def test_launcher_config_json_round_trip() -> None:
    config = LauncherConfig(cgroup_parent="p/q", state_dir="/run/x", uid_range=(5000, 5010), spares=0)
    again = LauncherConfig.from_json(config.to_json())
    assert again == config
    assert dataclasses.asdict(again)["uid_range"] == (5000, 5010)
