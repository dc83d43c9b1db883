"""core.execution's pure parts: compiler options, submission files, the result contract."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

import sandbox
from core.config import Settings
from core.execution import (
    CompileFailure,
    Execution,
    SubmissionError,
    compiler_argv,
    remove_stale_artefacts,
    submission_files,
)
from core.execution import _compile_failure as compile_failure
from core.languages import catalogue

LANGS = catalogue()


def _result(**changes: object) -> sandbox.Result:
    ok = sandbox.Result(
        verdict=sandbox.Verdict.OK, exit_code=0, signal=None, cpu_time_ms=5, wall_time_ms=9,
        memory_peak_bytes=1 << 20, stdout=b"out\n", stderr=b"err\n", stdout_truncated=False,
        stderr_truncated=False, message=None, cgroup_version=2,
    )  # fmt: skip
    return dataclasses.replace(ok, **changes)  # type: ignore[arg-type]


def test_options_go_where_the_marker_stands() -> None:
    c = LANGS.get("c")
    argv = compiler_argv(c, ["-O0", "-g"])
    assert "{options}" not in argv
    at = argv.index("-O0")
    assert argv[at : at + 2] == ["-O0", "-g"] and argv[-1] == "-lm"
    assert c.compile_argv is not None
    assert compiler_argv(c) == [a for a in c.compile_argv if a != "{options}"]


def test_options_go_after_the_compiler_without_a_marker() -> None:
    c = LANGS.get("c")
    assert c.compile_argv is not None
    bare = dataclasses.replace(c, compile_argv=("cc", "main.c"))
    assert compiler_argv(bare, ["-O0"]) == ["cc", "-O0", "main.c"]


def test_an_option_off_the_list_is_refused_with_the_list() -> None:
    with pytest.raises(SubmissionError, match=r"'-fplugin=evil.so' is not allowed.*-O2"):
        compiler_argv(LANGS.get("c"), ["-fplugin=evil.so"])
    with pytest.raises(SubmissionError, match="not compiled"):
        compiler_argv(LANGS.get("python"), ["-O"])
    assert compiler_argv(LANGS.get("python")) == []


def test_submission_files_put_the_source_in_the_main_file() -> None:
    java = LANGS.get("java")
    files = submission_files(java, b"class Main {}", {"util/Helper.java": b"..."})
    assert files == {"Main.java": b"class Main {}", "util/Helper.java": b"..."}
    with pytest.raises(SubmissionError, match="Main.java"):
        submission_files(java, b"", {"Main.java": b"clash"})


def test_contract_has_every_field_and_text_output() -> None:
    contract = Execution(_result(stdout=b"caf\xc3\xa9\xff"), "warning: x").to_contract()
    assert list(contract) == [
        "verdict", "exit_code", "signal", "cpu_time_ms", "wall_time_ms", "memory_peak_bytes",
        "stdout", "stderr", "stdout_truncated", "stderr_truncated", "compile_output", "message",
    ]  # fmt: skip
    assert contract["verdict"] == "ok" and contract["stdout"] == "café\ufffd"
    assert contract["compile_output"] == "warning: x"


def test_a_failed_compilation_is_a_compile_error_with_the_compilers_output() -> None:
    compiled = _result(
        verdict=sandbox.Verdict.RUNTIME_ERROR, exit_code=1, stdout=b"", stderr=b"main.c:2: error\n"
    )
    failure = compile_failure(LANGS.get("c"), compiled)
    assert isinstance(failure, CompileFailure)
    assert failure.result.verdict is sandbox.Verdict.COMPILE_ERROR
    assert failure.compile_output == "main.c:2: error\n"
    assert failure.result.stdout == b"" and "exited with code 1" in (failure.result.message or "")


def test_a_compiler_over_its_limits_is_a_compile_error_that_says_which() -> None:
    compiled = _result(
        verdict=sandbox.Verdict.TIME_LIMIT, exit_code=None, signal="SIGKILL",
        message="The program used more than the 10 s CPU time limit.",
    )  # fmt: skip
    failure = compile_failure(LANGS.get("cpp"), compiled)
    assert failure.result.verdict is sandbox.Verdict.COMPILE_ERROR
    assert "10 s CPU time limit" in (failure.result.message or "")


def test_stale_artefacts_are_swept_fresh_ones_kept(tmp_path: Path) -> None:
    settings = Settings(scratch_dir=tmp_path)
    old, new = tmp_path / "artefacts/c-old", tmp_path / "artefacts/c-new"
    for path in (old, new):
        (path / "box").mkdir(parents=True)
    os.utime(old, (0, 0))
    assert remove_stale_artefacts(settings, older_than_s=60) == 1
    assert not old.exists() and new.is_dir()
    assert remove_stale_artefacts(Settings(scratch_dir=tmp_path / "none")) == 0
