"""Compile once, run many: turn a submission into runs in the sandbox.

Used by `jaula run`, the worker and batch grading. The contract:

    files = submission_files(language, source, extra_files)     # {language.source_file: ...}
    with prepare(language, files, compiler_options=["-O0"]) as program:
        if isinstance(program, CompileFailure):
            ...  # program.result: verdict compile_error; program.compile_output: what it said
        else:
            for test in tests:                                   # compiled once, run many times
                result = run(program, stdin=test.stdin, args=[], limits=limits)

    execution = execute(language, files, stdin=b"...", limits=limits)   # the one-shot form
    execution.to_contract()                                    # DESIGN.md's result, as a dict

`prepare()` compiles in the sandbox when the language has a `compile` command: the submission's
files go to /box, the compiler runs under the language's `compile_limits` (a timeout, an OOM kill
or a non-zero exit are all a `compile_error`), and /box is copied out to a fresh artefact
directory under `settings.scratch_path`. That directory holds `box/...`, so it is an image layer:
a run stacks `[base, ...language layers, artefact]` and sees the compiled files in /box, with no
copying per run. Leaving the `with` block deletes it. Interpreted languages need no artefact:
each run writes the submission's files to /box.

An artefact that must outlive one `with` block (a grading's custom checker, compiled once and
used for every submission a worker grades) is built with `compile_into(directory, ...)` and found
again with `compiled_program(directory, ...)`; its owner removes the directory.

`compiler_runs()` counts the compiler runs of this process: compile-once is checked against it.

`run()` returns the sandbox's `Result` for every program outcome (ok, runtime_error, time_limit,
...). Errors are exceptions, never verdicts:
  - SubmissionError (a ValueError): the request is malformed (missing main file, a compiler
    option that is not allowed, a bad file name); say so to the user with a 4xx.
  - core.images.ImageError: the language's image is not built (or is stale) on this host.
  - sandbox.SandboxError: the sandbox itself failed; the job is `failed`, not judged.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sandbox
from core.config import Settings, get_settings
from core.images import ImageStore, open_store
from core.languages import Catalogue, Language, catalogue
from core.limits import MIB, RunLimits
from sandbox.spec import box_relative

OPTIONS_MARKER = "{options}"
# A compiler writes objects and caches to /tmp and its outputs to /box: both live on the run's
# scratch tmpfs, which counts against the memory limit anyway, so give it as much.
_COMPILE_FILE_SIZE_BYTES = 256 * MIB
_COMPILE_CPUS = 2
_COMPILE_OUTPUT_BYTES = 64 * 1024


class SubmissionError(ValueError):
    """The submission cannot be run as given; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Program:
    """A submission ready to run, as many times as needed."""

    language: Language
    layers: tuple[str, ...]
    """Host directories stacked by the sandbox, lowest first (the artefact last if compiled)."""
    files: Mapping[str, bytes]
    """Written to /box before each run: the submission for an interpreted language, else empty."""
    compile_output: str | None
    """What the compiler printed (warnings); None for interpreted languages."""


@dataclass(frozen=True, slots=True)
class CompileFailure:
    """The submission did not compile; nothing can be run."""

    language: Language
    result: sandbox.Result
    """verdict `compile_error`; exit code, signal and figures are the compiler's, output empty."""
    compile_output: str


@dataclass(frozen=True, slots=True)
class Execution:
    """One run's result with the compiler's output: what DESIGN.md calls the result of a run."""

    result: sandbox.Result
    compile_output: str | None

    def to_contract(self) -> dict[str, Any]:
        """The public result (DESIGN.md), stdout and stderr as text (invalid UTF-8 replaced)."""
        r = self.result
        return {
            "verdict": str(r.verdict),
            "exit_code": r.exit_code,
            "signal": r.signal,
            "cpu_time_ms": r.cpu_time_ms,
            "wall_time_ms": r.wall_time_ms,
            "memory_peak_bytes": r.memory_peak_bytes,
            "stdout": r.stdout.decode("utf-8", "replace"),
            "stderr": r.stderr.decode("utf-8", "replace"),
            "stdout_truncated": r.stdout_truncated,
            "stderr_truncated": r.stderr_truncated,
            "compile_output": self.compile_output,
            "message": r.message,
        }


def submission_files(
    language: Language, source: bytes, extra_files: Mapping[str, bytes] | None = None
) -> dict[str, bytes]:
    """The files of a submission: its source as the language's main file, plus extra files."""
    files = dict(extra_files or {})
    if language.source_file in files:
        raise SubmissionError(
            f"an extra file is named {language.source_file!r}, which is where the source goes"
        )
    files[language.source_file] = source
    return files


def compiler_argv(language: Language, options: Sequence[str] = ()) -> list[str]:
    """The compile command with the request's options, each checked against the allowed list."""
    if language.compile_argv is None:
        if options:
            raise SubmissionError(f"{language.name} is not compiled; it takes no compiler options")
        return []
    for option in options:
        if option not in language.compiler_options_allowed:
            allowed = ", ".join(language.compiler_options_allowed) or "none"
            raise SubmissionError(
                f"compiler option {option!r} is not allowed for {language.name} (allowed: {allowed})"
            )
    argv = list(language.compile_argv)
    if OPTIONS_MARKER in argv:
        at = argv.index(OPTIONS_MARKER)
        return [*argv[:at], *options, *argv[at + 1 :]]
    return [argv[0], *options, *argv[1:]]


def _check_files(language: Language, files: Mapping[str, bytes]) -> None:
    if language.source_file not in files:
        raise SubmissionError(f"the {language.display_name} main file must be {language.source_file!r}")
    for name in files:
        try:
            box_relative(name)
        except sandbox.SpecError as exc:
            raise SubmissionError(str(exc)) from exc


def _environment(language: Language) -> dict[str, str]:
    return {**sandbox.DEFAULT_ENV, **language.env}


def _compile_limits(language: Language) -> sandbox.Limits:
    limits = RunLimits.defaults(language.compile_limits).to_sandbox()
    return replace(
        limits,
        output_bytes=_COMPILE_OUTPUT_BYTES,
        file_size_bytes=_COMPILE_FILE_SIZE_BYTES,
        scratch_bytes=limits.memory_bytes,
        # Compilers with threads (go, kotlinc, nim) would run 2-4x slower on one core; the CPU
        # time limit still counts every thread.
        cpus=float(min(_COMPILE_CPUS, os.cpu_count() or 1)),
    )


def _compile_output(result: sandbox.Result) -> str:
    text = (result.stdout + result.stderr).decode("utf-8", "replace")
    if result.stdout_truncated or result.stderr_truncated:
        text += f"\n[compiler output cut at {_COMPILE_OUTPUT_BYTES // 1024} KB]"
    return text


def _compile_failure(language: Language, compiled: sandbox.Result) -> CompileFailure:
    if compiled.verdict is sandbox.Verdict.RUNTIME_ERROR and compiled.signal is None:
        message = f"Compilation failed: the compiler exited with code {compiled.exit_code}."
    else:
        message = f"Compilation failed. {compiled.message or ''}".strip()
    result = replace(
        compiled,
        verdict=sandbox.Verdict.COMPILE_ERROR,
        stdout=b"",
        stderr=b"",
        stdout_truncated=False,
        stderr_truncated=False,
        message=message,
    )
    return CompileFailure(language, result, _compile_output(compiled))


@contextmanager
def prepare(
    language: Language,
    files: Mapping[str, bytes],
    *,
    compiler_options: Sequence[str] = (),
    store: ImageStore | None = None,
    languages: Catalogue | None = None,
    settings: Settings | None = None,
) -> Iterator[Program | CompileFailure]:
    """Compile if the language needs it; yield a Program to run, or the CompileFailure.

    The compiled artefact lives until the `with` block ends.
    """
    settings = settings or get_settings()
    argv = compiler_argv(language, compiler_options)
    _check_files(language, files)
    layers = _layers(language, store, languages, settings)
    if not argv:
        yield Program(language, layers, dict(files), None)
        return
    artefact = settings.scratch_path / "artefacts" / f"{language.name}-{uuid.uuid4().hex}"
    try:
        yield _compile(language, files, argv, layers, artefact)
    finally:
        shutil.rmtree(artefact, ignore_errors=True)


def compile_into(
    directory: Path,
    language: Language,
    files: Mapping[str, bytes],
    *,
    compiler_options: Sequence[str] = (),
    store: ImageStore | None = None,
    languages: Catalogue | None = None,
    settings: Settings | None = None,
) -> Program | CompileFailure:
    """Compile a program of a compiled language into `directory` (which must not exist yet) and
    leave the artefact there, for the caller to reuse (`compiled_program`) and remove."""
    settings = settings or get_settings()
    argv = compiler_argv(language, compiler_options)
    if not argv:
        raise SubmissionError(f"{language.name} is not compiled; there is nothing to keep")
    _check_files(language, files)
    return _compile(language, files, argv, _layers(language, store, languages, settings), directory)


def compiled_program(
    directory: Path,
    language: Language,
    *,
    store: ImageStore | None = None,
    languages: Catalogue | None = None,
    settings: Settings | None = None,
) -> Program:
    """The Program that an earlier `compile_into(directory, ...)` built successfully."""
    if not (directory / "box").is_dir():
        raise SubmissionError(f"{directory} holds no compiled artefact")
    layers = _layers(language, store, languages, settings or get_settings())
    return Program(language, (*layers, str(directory)), {}, None)


def compiler_runs() -> int:
    """How many times this process has started a compiler (successful or not)."""
    with _compiler_runs_lock:
        return _compiler_runs


_compiler_runs = 0
_compiler_runs_lock = threading.Lock()


def _count_compiler_run() -> None:
    global _compiler_runs
    with _compiler_runs_lock:
        _compiler_runs += 1


def _layers(
    language: Language, store: ImageStore | None, languages: Catalogue | None, settings: Settings
) -> tuple[str, ...]:
    store = store or open_store(settings=settings)
    return tuple(str(p) for p in store.layers_for(language, languages or catalogue()))


def _compile(
    language: Language,
    files: Mapping[str, bytes],
    argv: list[str],
    layers: tuple[str, ...],
    artefact: Path,
) -> Program | CompileFailure:
    """Run the compiler in the sandbox; /box is copied to `artefact`/box, an image layer."""
    box = artefact / "box"
    box.mkdir(parents=True, mode=0o755)
    _count_compiler_run()
    compiled = sandbox.run(
        sandbox.Spec(
            argv=argv,
            layers=layers,
            env=_environment(language),
            files=files,
            collect_to=str(box),
            limits=_compile_limits(language),
        )
    )
    if compiled.verdict is not sandbox.Verdict.OK:
        return _compile_failure(language, compiled)
    return Program(language, (*layers, str(artefact)), {}, _compile_output(compiled))


def remove_stale_artefacts(settings: Settings | None = None, *, older_than_s: float = 3600) -> int:
    """Delete artefact directories a killed process left behind; returns how many.

    `prepare()` always removes its artefact, unless its process is killed outright. Call this at
    worker start (with an age well above the longest compile plus grading).
    """
    root = (settings or get_settings()).scratch_path / "artefacts"
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    stale = [p for p in root.iterdir() if p.lstat().st_mtime < cutoff]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def run(
    program: Program,
    *,
    stdin: bytes | None = None,
    args: Sequence[str] = (),
    limits: RunLimits | None = None,
    files: Mapping[str, bytes] | None = None,
) -> sandbox.Result:
    """Run a prepared program once; limits default to the language's. `files` are written to
    /box for this run only, beside the program's own (for example the files a checker reads)."""
    limits = limits or RunLimits.defaults(program.language.limits)
    return sandbox.run(
        sandbox.Spec(
            argv=[*program.language.run_argv, *args],
            layers=program.layers,
            env=_environment(program.language),
            files={**program.files, **(files or {})},
            stdin=stdin,
            limits=limits.to_sandbox(),
            network=limits.network,
        )
    )


def execute(
    language: Language,
    files: Mapping[str, bytes],
    *,
    stdin: bytes | None = None,
    args: Sequence[str] = (),
    limits: RunLimits | None = None,
    compiler_options: Sequence[str] = (),
    store: ImageStore | None = None,
    settings: Settings | None = None,
) -> Execution:
    """Compile if needed, then run once: the result plus the compiler's output."""
    with prepare(
        language, files, compiler_options=compiler_options, store=store, settings=settings
    ) as program:
        if isinstance(program, CompileFailure):
            return Execution(program.result, program.compile_output)
        result = run(program, stdin=stdin, args=args, limits=limits)
        return Execution(result, program.compile_output)
