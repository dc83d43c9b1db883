"""From a request body to a stored job: resolve the language, decode, check every size and cap.

Everything a client can get wrong is refused here, before anything is stored, with a message that
names the field and says what to change: 413 when something is too big (bytes), 422 otherwise.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import replace

from api.errors import ApiError, invalid, too_large
from api.schemas import RunCreate
from core.config import Settings
from core.jobs import RunRequest
from core.languages import Catalogue, Language, UnknownLanguage
from core.limits import LimitTooHigh, RunLimits, number_text


def to_run_request(
    body: RunCreate, *, settings: Settings, languages: Catalogue, where: str = ""
) -> RunRequest:
    """Validate one submission; `where` prefixes field names in messages ('submissions[2].')."""
    check = _Checker(settings, body.encoding, where)
    language = check.language(languages, body.language)
    files, main_file = check.program(body, language)
    stdin = None if body.stdin is None else check.decode(body.stdin, "stdin", settings.max_stdin_bytes)
    if stdin is not None and len(stdin) > settings.max_stdin_bytes:
        raise too_large(check.over("stdin", len(stdin), settings.max_stdin_bytes))
    return RunRequest(
        language=language.name,
        files=files,
        main_file=main_file,
        stdin=stdin,
        args=check.args(body.args),
        compiler_options=check.compiler_options(body.compiler_options, language),
        limits=check.limits(body, language),
        encoding=body.encoding,
    )


class _Checker:
    def __init__(self, settings: Settings, encoding: str, where: str) -> None:
        self.settings = settings
        self.encoding = encoding
        self.where = where

    def invalid(self, field: str, problem: str) -> ApiError:
        return invalid(f"{self.where}{field}: {problem}")

    def over(self, field: str, size: int, cap: int) -> str:
        return (
            f"{self.where}{field} is {size} bytes, over this server's maximum of {cap} bytes; make it smaller"
        )

    def language(self, languages: Catalogue, name: str) -> Language:
        try:
            return languages.get(name)
        except UnknownLanguage as exc:
            known = ", ".join(exc.known) or "none (no language is installed on this server)"
            raise self.invalid("language", f"unknown language {name!r}; known: {known}") from exc

    def decode(self, text: str, field: str, cap: int) -> bytes:
        """The bytes of a text field; base64 that cannot fit in `cap` bytes is refused (413)
        without being decoded (decoding 75 MB of it first held the event loop for a second)."""
        if self.encoding == "base64":
            smallest = len(text) * 3 // 4 - 2
            if smallest > cap:
                raise too_large(self.over(field, smallest, cap).replace(" is ", " is at least ", 1))
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise self.invalid(field, "is not valid base64 (encoding is base64)") from exc
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise self.invalid(
                field, "is not valid Unicode text; send it base64-encoded with encoding=base64"
            ) from exc

    def program(self, body: RunCreate, language: Language) -> tuple[dict[str, bytes], str]:
        cap = self.settings.max_source_bytes
        if body.source is not None:
            source = self.decode(body.source, "source", cap)
            if len(source) > cap:
                raise too_large(self.over("source", len(source), cap))
            return {language.source_file: source}, language.source_file
        assert body.files is not None  # RunCreate guarantees exactly one of source and files
        if len(body.files) > self.settings.max_files:
            raise self.invalid(
                "files",
                f"{len(body.files)} files, over this server's maximum of "
                f"{self.settings.max_files}; send fewer files",
            )
        files: dict[str, bytes] = {}
        for index, file in enumerate(body.files):
            field = f"files[{index}]"
            name = self.file_name(file.name, f"{field}.name")
            if name in files:
                raise self.invalid(f"{field}.name", f"{name!r} appears twice; names must differ")
            files[name] = self.decode(file.content, f"{field}.content", cap)
        self.no_file_is_a_directory(list(files))
        total = sum(len(content) for content in files.values())
        if total > cap:
            raise too_large(self.over("files (all contents together)", total, cap))
        return files, self.main_file(body.main_file, files, language)

    def file_name(self, name: str, field: str) -> str:
        norm = posixpath.normpath(name)
        if "\0" in name or "\\" in name or posixpath.isabs(name):
            raise self.invalid(field, f"{name!r} must be a relative path like 'src/util.py'")
        if norm in (".", "..") or norm.startswith("../"):
            raise self.invalid(field, f"{name!r} points outside the working directory")
        if any(len(part.encode("utf-8", "surrogatepass")) > NAME_MAX for part in norm.split("/")):
            raise self.invalid(field, f"has a directory or file name over {NAME_MAX} bytes; shorten it")
        return norm

    def no_file_is_a_directory(self, names: list[str]) -> None:
        """A name that is also another file's directory ('a' and 'a/b') cannot be written."""
        parents = {parent for name in names for parent in _parents(name)}
        for index, name in enumerate(names):
            if name in parents:
                raise self.invalid(
                    f"files[{index}].name", f"{name!r} is also another file's directory; rename one"
                )

    def main_file(self, requested: str | None, files: dict[str, bytes], language: Language) -> str:
        if requested is None:
            return language.source_file if language.source_file in files else next(iter(files))
        main = self.file_name(requested, "main_file")
        if main not in files:
            names = ", ".join(sorted(files))
            raise self.invalid("main_file", f"{requested!r} is not one of the files ({names})")
        if main != language.source_file and language.source_file in files:
            raise self.invalid(
                "main_file",
                f"the main file is stored as {language.source_file!r} for {language.name}, "
                f"and another file already has that name; rename it",
            )
        return main

    def args(self, args: list[str]) -> list[str]:
        if len(args) > self.settings.max_args:
            raise self.invalid(
                "args",
                f"{len(args)} arguments, over this server's maximum of "
                f"{self.settings.max_args}; pass fewer (or use stdin)",
            )
        for index, arg in enumerate(args):
            if "\0" in arg:
                raise self.invalid(f"args[{index}]", "contains a NUL character; remove it")
            try:
                size = len(arg.encode("utf-8"))
            except UnicodeEncodeError as exc:
                problem = "is not valid Unicode text (a lone surrogate); fix it"
                raise self.invalid(f"args[{index}]", problem) from exc
            if size > self.settings.max_arg_bytes:
                raise self.invalid(
                    f"args[{index}]",
                    f"is longer than {self.settings.max_arg_bytes} bytes; pass long data on stdin instead",
                )
        return list(args)

    def compiler_options(self, options: list[str], language: Language) -> list[str]:
        allowed = language.compiler_options_allowed
        if options and not allowed:
            raise self.invalid("compiler_options", f"{language.name} takes no compiler options; remove them")
        if len(options) > self.settings.max_compiler_options:
            raise self.invalid("compiler_options", f"at most {self.settings.max_compiler_options} options")
        for index, option in enumerate(options):
            if option not in allowed:
                raise self.invalid(
                    f"compiler_options[{index}]",
                    f"{option!r} is not allowed for {language.name}; allowed: {', '.join(allowed)}",
                )
        return list(options)

    def limits(self, body: RunCreate, language: Language) -> RunLimits:
        requested = body.limits.model_dump()
        limits = RunLimits.defaults(language.limits).merged(requested)
        while True:
            try:
                limits.check_caps(self.settings)
                return limits
            except LimitTooHigh as exc:
                if requested.get(exc.name) is None and exc.name != "network":
                    # A language default above an operator's cap: the client asked for nothing,
                    # so give it the most this server allows rather than an error.
                    kind = type(getattr(limits, exc.name))
                    limits = replace(limits, **{exc.name: kind(exc.cap)})
                    continue
                raise self.limit_error(exc) from exc

    def limit_error(self, exc: LimitTooHigh) -> ApiError:
        if exc.name == "network":
            return self.invalid("limits.network", "this server does not allow network access; leave it false")
        return self.invalid(
            f"limits.{exc.name}",
            f"{number_text(exc.value)} is over this server's maximum of {number_text(exc.cap)}; "
            f"ask for at most {number_text(exc.cap)}",
        )


NAME_MAX = 255
"""Bytes in one directory or file name (Linux's NAME_MAX)."""


def _parents(name: str) -> list[str]:
    """'a/b/c' -> ['a/b', 'a']."""
    parents = []
    while (name := posixpath.dirname(name)) not in ("", "/"):
        parents.append(name)
    return parents
