"""Request and response bodies of the API (they are the OpenAPI schema clients see).

Naming follows one pattern: `<Thing>Create` is what a client sends, `<Thing>Public` what it gets.
Text travels as JSON strings; bytes that are not text travel as base64, and every such field says
which it is (`encoding` in a request, `<field>_encoding` in a response).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import LIST_HARD_MAX

Encoding = Literal["utf-8", "base64"]
Status = Literal["queued", "running", "done", "failed", "cancelled"]
Verdict = Literal[
    "ok",
    "runtime_error",
    "time_limit",
    "memory_limit",
    "output_limit",
    "compile_error",
    "accepted",
    "wrong_answer",
]

ENCODING_DOC = (
    "How `source`, `files[].content` and `stdin` are written in this request, and how "
    "`stdout`, `stderr` and `compile_output` are returned: `utf-8` (plain JSON strings; an output "
    "that is not valid UTF-8 is then returned base64-encoded, and its `*_encoding` field says so) "
    "or `base64` (every one of them base64-encoded, for binary data)."
)


class Schema(BaseModel):
    # The docstring under each field becomes its description in the OpenAPI schema.
    model_config = ConfigDict(use_attribute_docstrings=True)


class Strict(Schema):
    # Unknown fields are refused with a message naming them, rather than silently ignored:
    # a misspelt limit must not run with the default.
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")


class FileCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=255, examples=["util.py"])]
    """Path relative to the program's working directory (`/box`); sub-directories allowed."""
    content: str
    """The file's content, in the request's `encoding`."""


class LimitsCreate(Strict):
    """Resource limits; each omitted one takes the language's default. Each is capped by the
    server's maximum (see the 422 message when one is over it)."""

    cpu_time_limit_s: Annotated[float | None, Field(ge=0.001, examples=[2.0])] = None
    """CPU time of all processes and threads of the run, in seconds (the sandbox measures ms)."""
    wall_time_limit_s: Annotated[float | None, Field(ge=0.001)] = None
    """Wall-clock time, in seconds."""
    memory_limit_mb: Annotated[int | None, Field(ge=4)] = None
    """Memory of the whole run (no swap), in MiB."""
    pids_limit: Annotated[int | None, Field(ge=2)] = None
    """Processes and threads alive at once."""
    output_limit_kb: Annotated[int | None, Field(ge=1)] = None
    """Cap on each of stdout and stderr, in KiB; more ends the run with `output_limit`."""
    file_size_limit_kb: Annotated[int | None, Field(ge=1)] = None
    """Largest file the program may write, in KiB."""
    network: bool | None = None
    """Give the program the host's network (only if the server allows it)."""


class LimitsPublic(Schema):
    cpu_time_limit_s: float
    wall_time_limit_s: float
    memory_limit_mb: int
    pids_limit: int
    output_limit_kb: int
    file_size_limit_kb: int
    network: bool


class RunCreate(Strict):
    """One program to run: `source` (a single file) or `files` (several, with a main file)."""

    language: Annotated[str, Field(min_length=1, max_length=64, examples=["python"])]
    """A language name or alias from GET /v1/languages."""
    source: str | None = None
    """The program, written to the language's file name (e.g. `main.py`)."""
    files: list[FileCreate] | None = None
    """Several files; the main one (see `main_file`) is the one compiled or run."""
    main_file: Annotated[str | None, Field(max_length=255)] = None
    """With `files`: the name of the file to compile or run. Default: the language's file name
    if one of the files has it, else the first file."""
    stdin: str | None = None
    """Bytes on standard input (in the request's `encoding`); none means /dev/null."""
    args: list[str] = []
    """Command-line arguments given to the program."""
    compiler_options: list[str] = []
    """Extra compiler options, each from the language's allowed list."""
    limits: LimitsCreate = LimitsCreate()
    encoding: Annotated[Encoding, Field(description=ENCODING_DOC)] = "utf-8"

    @model_validator(mode="after")
    def _one_program(self) -> RunCreate:
        if (self.source is None) == (self.files is None):
            raise ValueError("give exactly one of `source` (one file) or `files` (several)")
        if self.files is not None and not self.files:
            raise ValueError("`files` is empty: give at least one file")
        if self.main_file is not None and self.files is None:
            raise ValueError("`main_file` goes with `files`; with `source`, leave it out")
        return self


class RunAccepted(Schema):
    """The run was stored and queued; poll GET /v1/runs/{id} for its result."""

    id: uuid.UUID
    status: Status


class FilePublic(Schema):
    name: str
    content: str
    encoding: Encoding
    """`utf-8`: `content` is the text itself; `base64`: decode it to get the exact bytes."""


class RunPublic(Schema):
    """A run: its lifecycle and, once done, its result (DESIGN.md, the public contract)."""

    id: uuid.UUID
    status: Status
    """queued -> running -> done | failed | cancelled. `failed` means the sandbox itself failed
    (see `message`); a program that crashes or exceeds a limit is `done` with a verdict."""
    language: str
    limits: LimitsPublic
    files: list[FilePublic]
    """The program as submitted (a `source` comes back as one file with the language's name)."""
    main_file: str
    """The file that was compiled or run."""
    stdin: str | None = None
    """Standard input as submitted; null means /dev/null."""
    stdin_encoding: Encoding | None = None
    args: list[str]
    compiler_options: list[str]
    verdict: Verdict | None = None
    exit_code: int | None = None
    signal: str | None = None
    """Name of the signal that ended the program, e.g. SIGSEGV."""
    cpu_time_ms: int | None = None
    wall_time_ms: int | None = None
    memory_peak_bytes: int | None = None
    stdout: str | None = None
    stdout_encoding: Encoding | None = None
    """`utf-8`: `stdout` is the text itself; `base64`: decode it to get the exact bytes."""
    stdout_truncated: bool | None = None
    stderr: str | None = None
    stderr_encoding: Encoding | None = None
    stderr_truncated: bool | None = None
    compile_output: str | None = None
    """What the compiler printed (compiled languages only)."""
    compile_output_encoding: Encoding | None = None
    message: str | None = None
    """One sentence explaining the verdict (which limit, which signal), or why the run failed."""
    queued_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class BatchCreate(Strict):
    submissions: Annotated[list[RunCreate], Field(min_length=1, max_length=LIST_HARD_MAX)]


class BatchAccepted(Schema):
    """Every submission was stored and queued, in order; all or none are accepted."""

    runs: list[RunAccepted]


class BatchPublic(Schema):
    runs: list[RunPublic]
    """In the order of the requested ids."""


class LanguagePublic(Schema):
    name: str
    display_name: str
    aliases: list[str]
    extensions: list[str]
    version: str | None
    """The toolchain's version from the built image; null when its image is not built yet."""
    source_file: str
    """The file name `source` is written to."""
    hello_world: str
    """A small program printing a greeting: a starting point for editors and playgrounds."""
    compile_command: list[str] | None
    run_command: list[str]
    compiler_options_allowed: list[str]
    default_limits: LimitsPublic


class LanguagesPublic(Schema):
    languages: list[LanguagePublic]


class CheckPublic(Schema):
    ok: bool
    detail: str


class HealthPublic(Schema):
    """Liveness is this answer itself; `ready` says whether runs can be served now."""

    ready: bool
    database: CheckPublic
    broker: CheckPublic
    workers: CheckPublic
    sandbox: CheckPublic


class ErrorPublic(Schema):
    """Every error: `detail` is one readable sentence saying what is wrong and what to change."""

    detail: str
    errors: list[str] = []
    """With 422: one line per invalid field (`location: problem`)."""
