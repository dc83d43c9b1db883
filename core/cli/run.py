"""`jaula run FILE`: compile if needed and run one program locally, through the sandbox.

The program's stdout and stderr go to ours, unchanged; the verdict and figures are printed on
stderr (or, with --json, the whole result contract on stdout). The exit code is 0 whenever the
program ran, whatever its verdict; 2 for a usage error, 1 when jaula itself could not run it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from core.config import get_settings
from core.execution import Execution, SubmissionError, execute, submission_files
from core.images import ImageError
from core.languages import Language, UnknownLanguage, catalogue
from core.limits import LimitTooHigh, RunLimits
from sandbox import SandboxError

_VERDICT_STYLE = {"ok": "green", "compile_error": "yellow"}


def _language(file: Path, name: str | None) -> Language:
    try:
        return catalogue().get(name) if name else catalogue().for_file(file.name)
    except UnknownLanguage as exc:
        hint = "" if name else " (use --lang)"
        raise typer.BadParameter(f"{exc}{hint}", param_hint="--lang") from exc


def _report(execution: Execution, console: Console) -> None:
    r = execution.result
    if execution.compile_output and execution.compile_output.strip():
        console.print(f"[dim]{escape(execution.compile_output.rstrip())}")
    style = _VERDICT_STYLE.get(str(r.verdict), "red")
    ending = f"signal {r.signal}" if r.signal else f"exit code {r.exit_code}"
    console.print(
        f"[bold {style}]{r.verdict}[/]  {ending}  cpu {r.cpu_time_ms} ms  "
        f"wall {r.wall_time_ms} ms  memory {r.memory_peak_bytes / 1048576:.1f} MB"
        + ("  [yellow](stdout truncated)" if r.stdout_truncated else "")
        + ("  [yellow](stderr truncated)" if r.stderr_truncated else "")
    )
    if r.message:
        console.print(escape(r.message))


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Source file.")],
        args: Annotated[
            list[str] | None, typer.Argument(help="Arguments for the program (after --).")
        ] = None,
        lang: Annotated[
            str | None, typer.Option("--lang", help="Language (default: from the extension).")
        ] = None,
        stdin: Annotated[
            Path | None,
            typer.Option("--stdin", exists=True, dir_okay=False, help="File to feed on stdin."),
        ] = None,
        time_limit: Annotated[
            float | None, typer.Option("--time-limit", help="CPU time limit, seconds.")
        ] = None,
        wall_limit: Annotated[
            float | None, typer.Option("--wall-limit", help="Wall-clock limit, seconds.")
        ] = None,
        memory_limit: Annotated[int | None, typer.Option("--memory-limit", help="Memory limit, MB.")] = None,
        pids_limit: Annotated[int | None, typer.Option("--pids-limit", help="Processes and threads.")] = None,
        output_limit: Annotated[
            int | None, typer.Option("--output-limit", help="Cap on stdout and stderr, KB.")
        ] = None,
        compiler_options: Annotated[
            list[str] | None,
            typer.Option("--compiler-option", help="An allowed compiler option (repeatable)."),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the result contract as JSON.")
        ] = False,
    ) -> None:
        """Run FILE in the sandbox (compiling it first if its language is compiled)."""
        settings = get_settings()
        language = _language(file, lang)
        limits = RunLimits.defaults(language.limits).merged(
            {
                "cpu_time_limit_s": time_limit,
                "wall_time_limit_s": wall_limit,
                "memory_limit_mb": memory_limit,
                "pids_limit": pids_limit,
                "output_limit_kb": output_limit,
            }
        )
        try:
            limits.check_caps(settings)
            files = submission_files(language, file.read_bytes())
            execution = execute(
                language,
                files,
                stdin=stdin.read_bytes() if stdin else None,
                args=args or (),
                limits=limits,
                compiler_options=compiler_options or (),
                settings=settings,
            )
        except (LimitTooHigh, SubmissionError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        except (ImageError, SandboxError) as exc:
            typer.echo(f"jaula run: {exc}", err=True)
            raise typer.Exit(1) from exc
        if json_output:
            typer.echo(json.dumps(execution.to_contract(), indent=2))
            return
        sys.stdout.buffer.write(execution.result.stdout)
        sys.stdout.flush()
        sys.stderr.buffer.write(execution.result.stderr)
        sys.stderr.flush()
        _report(execution, Console(stderr=True, highlight=False))
