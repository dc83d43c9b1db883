"""`jaula grade PROBLEM_DIR SOLUTION...`: grade solutions against a problem, here or on a server.

Locally (the default), through the sandbox directly: each solution is compiled once and run on
every test in a fresh container, several solutions at once (one thread per core; --jobs). With
--server URL, the problem and the solutions are sent to a jaula server (POST /v1/gradings) and the
grading is followed there.

A live progress bar goes to stderr; the results to stdout: a table (student, language, score,
verdict counts, largest CPU time and memory), or with --json DESIGN.md's JSON. --csv FILE also
writes the gradebook. A solution's label is its file name (its parent directory too, when two
solutions share a file name, as in alice/main.py and bob/main.py).

Exit status: 0 when every solution was graded, whatever the verdicts; 1 when jaula itself failed
(a solution could not be graded, the sandbox or the server failed); 2 for a usage error (an
invalid problem, an unknown language).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.config import get_settings
from core.execution import submission_files
from core.grading import report
from core.grading.checkers import CheckerFailed
from core.grading.client import GradingClient, ServerError, reports_of
from core.grading.grader import Submission
from core.grading.local import grade_locally
from core.grading.problem import Problem, ProblemError, Subtask, load_problem
from core.grading.report import SubmissionReport
from core.grading.results import TestResult
from core.grading.scoring import score
from core.images import ImageError
from core.languages import Catalogue, Language, UnknownLanguage, catalogue
from core.limits import LimitTooHigh
from sandbox import SandboxError

SHORT = {
    "accepted": "AC",
    "wrong_answer": "WA",
    "time_limit": "TLE",
    "memory_limit": "MLE",
    "runtime_error": "RE",
    "output_limit": "OLE",
    "compile_error": "CE",
    "skipped": "SK",
}
STYLE = {"accepted": "green", "compile_error": "yellow", "skipped": "dim"}


def register(app: typer.Typer) -> None:
    @app.command()
    def grade(
        problem_dir: Annotated[
            Path, typer.Argument(exists=True, file_okay=False, help="The problem's directory.")
        ],
        solutions: Annotated[
            list[Path], typer.Argument(exists=True, dir_okay=False, help="Solution source files.")
        ],
        server: Annotated[
            str | None, typer.Option("--server", help="Grade on this jaula server (its base URL).")
        ] = None,
        token: Annotated[
            str | None,
            typer.Option(
                "--token", envvar="JAULA_API_TOKEN", help="The server's API token, if it needs one."
            ),
        ] = None,
        lang: Annotated[
            str | None,
            typer.Option("--lang", help="Language of every solution (default: from each extension)."),
        ] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
        csv_file: Annotated[
            Path | None,
            typer.Option("--csv", dir_okay=False, help="Also write the results to this CSV file."),
        ] = None,
        stop_on_first_failure: Annotated[
            bool,
            typer.Option("--stop-on-first-failure", help="Stop each solution at its first failed test."),
        ] = False,
        jobs: Annotated[
            int | None, typer.Option("--jobs", min=1, help="Solutions graded at once (default: cores).")
        ] = None,
    ) -> None:
        """Grade SOLUTIONs against the problem in PROBLEM_DIR: every test, one table of results."""
        languages = catalogue()
        try:
            problem = load_problem(problem_dir, languages)
        except ProblemError as exc:
            # One issue per line, each with its file and line: plain text reads best here.
            typer.echo(f"jaula grade: {exc}", err=True)
            raise typer.Exit(2) from exc
        entries = [
            (label, _language(path, lang, languages), path.read_bytes())
            for label, path in zip(labels(solutions), solutions, strict=True)
        ]
        if server is None:
            reports = _grade_here(problem, entries, stop_on_first_failure, jobs)
            csv_text = report.to_csv(
                reports,
                [test.name for test in problem.tests],
                problem.subtasks,
                subtask_columns=problem.declares_subtasks,
            )
            contract = report.contract(reports, [test.name for test in problem.tests], problem.subtasks)
        else:
            reports, contract, csv_text = _grade_on_server(
                server, token, problem, entries, stop_on_first_failure
            )
        if csv_file is not None:
            csv_file.write_text(csv_text)
        if json_output:
            typer.echo(json.dumps(contract, indent=2))
        else:
            Console(highlight=False).print(results_table(problem, reports))
        failed = [r for r in reports if r.status != "done"]
        for failure in failed:
            typer.echo(f"jaula grade: {failure.label} was not graded: {failure.message}", err=True)
        if failed:
            raise typer.Exit(1)


def labels(paths: Sequence[Path]) -> list[str]:
    """Each path's file name, with as many parent directories as it takes to tell them apart."""
    depth = 1
    while True:
        names = ["/".join(path.resolve().parts[-depth:]) for path in paths]
        if len(set(names)) == len(names) or depth > max(len(path.resolve().parts) for path in paths):
            return names
        depth += 1


def _language(path: Path, name: str | None, languages: Catalogue) -> Language:
    try:
        return languages.get(name) if name else languages.for_file(path.name)
    except UnknownLanguage as exc:
        hint = "" if name else f" (for {path}; use --lang)"
        raise typer.BadParameter(f"{exc}{hint}", param_hint="--lang") from exc


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tests"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def _grade_here(
    problem: Problem,
    entries: Sequence[tuple[str, Language, bytes]],
    stop_on_first_failure: bool,
    jobs: int | None,
) -> list[SubmissionReport]:
    settings = get_settings()
    for _, language, _ in entries:
        try:
            problem.limits.for_language(language).check_caps(settings)
        except LimitTooHigh as exc:
            raise typer.BadParameter(f"the problem's limits for {language.name}: {exc}") from exc
    submissions = [
        Submission(label=label, language=language, files=submission_files(language, source))
        for label, language, source in entries
    ]
    tests_each = len(problem.tests)
    lock = threading.Lock()
    done_tests: Counter[int] = Counter()
    with _progress() as progress:
        bar = progress.add_task(f"0/{len(submissions)} solutions", total=len(submissions) * tests_each)

        def on_progress(index: int, _result: TestResult) -> None:
            with lock:
                done_tests[index] += 1
                finished = sum(count == tests_each for count in done_tests.values())
            progress.update(bar, advance=1, description=f"{finished}/{len(submissions)} solutions")

        try:
            graded = grade_locally(
                problem,
                submissions,
                threads=jobs,
                stop_on_first_failure=stop_on_first_failure,
                on_progress=on_progress,
                settings=settings,
            )
        except (CheckerFailed, ImageError, SandboxError) as exc:
            typer.echo(f"jaula grade: {exc}", err=True)
            raise typer.Exit(1) from exc
    return [
        SubmissionReport(
            label=item.submission.label,
            language=item.submission.language.name,
            status="done" if item.result is not None else "failed",
            tests=item.result.tests if item.result is not None else (),
            message=item.error,
        )
        for item in graded
    ]


def _grade_on_server(
    url: str,
    token: str | None,
    problem: Problem,
    entries: Sequence[tuple[str, Language, bytes]],
    stop_on_first_failure: bool,
) -> tuple[list[SubmissionReport], dict[str, Any], str]:
    try:
        with GradingClient(url, token=token) as client, _progress() as progress:
            grading_id = client.submit(
                problem,
                [(label, language.name, source) for label, language, source in entries],
                stop_on_first_failure=stop_on_first_failure,
            )
            bar = progress.add_task(f"grading {grading_id}", total=None)

            def on_update(state: dict[str, Any]) -> None:
                done = state["progress"]
                progress.update(
                    bar,
                    total=done["tests"],
                    completed=done["tests_finished"],
                    description=f"{done['submissions_finished']}/{done['submissions']} solutions",
                )

            state = client.wait(grading_id, on_update=on_update)
            return reports_of(state), client.report_json(grading_id), client.report_csv(grading_id)
    except (ServerError, OSError) as exc:
        typer.echo(f"jaula grade: the server failed: {exc}", err=True)
        raise typer.Exit(1) from exc


def results_table(problem: Problem, reports: Sequence[SubmissionReport]) -> Table:
    table = Table(title=f"{problem.title} ({len(problem.tests)} tests)", title_justify="left")
    table.add_column("student")
    table.add_column("language")
    table.add_column("score", justify="right")
    if problem.declares_subtasks:
        table.add_column("subtasks")
    table.add_column("verdicts")
    table.add_column("max time", justify="right")
    table.add_column("max memory", justify="right")
    for item in reports:
        total, max_total = report.scores(item, problem.subtasks)
        row = [escape(item.label), item.language, _score(total, max_total)]
        if problem.declares_subtasks:
            row.append(_subtask_scores(item, problem.subtasks))
        row += [_verdicts(item), _milliseconds(item.max_cpu_time_ms), _megabytes(item.max_memory_peak_bytes)]
        table.add_row(*row)
    table.caption = "  ".join(f"{short} {verdict}" for verdict, short in SHORT.items())
    return table


def _score(total: float | None, max_total: float) -> str:
    if total is None:
        return "[red]—"
    style = "green" if total == max_total else ("red" if total == 0 else "yellow")
    return f"[{style}]{total:g}[/]/{max_total:g}"


def _subtask_scores(item: SubmissionReport, subtasks: Sequence[Subtask]) -> str:
    scored = score(subtasks, {test.name: test.verdict for test in item.tests})
    return " ".join(f"{part.score:g}" for part in scored.subtasks)


def _verdicts(item: SubmissionReport) -> str:
    if item.status == "failed":
        return "[red]not graded"
    counts = item.verdict_counts()
    return " ".join(
        f"[{STYLE.get(verdict, 'red')}]{count} {SHORT.get(verdict, verdict)}[/]"
        for verdict, count in counts.items()
    )


def _milliseconds(value: int | None) -> str:
    return "" if value is None else f"{value} ms"


def _megabytes(value: int | None) -> str:
    return "" if value is None else f"{value / (1 << 20):.1f} MB"
