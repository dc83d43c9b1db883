"""A stored run -> core.execution (compile if needed, run in the sandbox) -> its outcome."""

from __future__ import annotations

import base64

from core import execution
from core.config import Settings
from core.images import open_store
from core.jobs import ClaimedRun, RunOutcome
from core.languages import Language


def files_of(run: ClaimedRun, language: Language) -> dict[str, bytes]:
    """The run's files as they go into /box: the main file under the language's file name."""
    files = {name: base64.b64decode(data) for name, data in run.files.items()}
    if run.main_file != language.source_file:
        files[language.source_file] = files.pop(run.main_file)
    return files


def run_program(run: ClaimedRun, language: Language, settings: Settings) -> RunOutcome:
    """Compile and run. Raises sandbox.SandboxError (the sandbox failed), core.images.ImageError
    (the language's image is not built on this host) or execution.SubmissionError."""
    done = execution.execute(
        language,
        files_of(run, language),
        stdin=run.stdin,
        args=run.args,
        limits=run.limits,
        compiler_options=run.compiler_options,
        store=open_store(settings=settings),
        settings=settings,
    )
    result = done.result
    return RunOutcome(
        verdict=str(result.verdict),
        exit_code=result.exit_code,
        signal=result.signal,
        cpu_time_ms=result.cpu_time_ms,
        wall_time_ms=result.wall_time_ms,
        memory_peak_bytes=result.memory_peak_bytes,
        stdout=result.stdout,
        stderr=result.stderr,
        stdout_truncated=result.stdout_truncated,
        stderr_truncated=result.stderr_truncated,
        compile_output=None if done.compile_output is None else done.compile_output.encode(),
        message=result.message,
    )
