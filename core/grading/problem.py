"""The problem format: a directory with `problem.toml` and test cases, loaded and checked here.

    aplusb/
      problem.toml
      statement.md              optional, shown by the playground
      checker.py                optional: a custom checker (any catalogue language)
      tests/
        01.in   01.out          test cases: NAME.in is the input, NAME.out the expected output
        02.in   02.out

problem.toml (every key; only `name` is required):

    name = "aplusb"             # [a-z0-9_-], at most 64: how a stored problem is asked for
    title = "A + B"             # default: the name
    statement = "statement.md"
    tests_dir = "tests"         # where the NAME.in / NAME.out pairs are

    [limits]                    # each default: the language's own (rootfs/*/language.toml)
    cpu_time_s = 1.0
    wall_time_s = 3.0           # default: 2 x cpu_time_s + 1 when cpu_time_s is given
    memory_mb = 256
    output_kb = 64
    [limits.time_multiplier]    # slow languages get more CPU and wall time
    python = 3.0
    [limits.languages.java]     # or limits of their own, which replace the ones above
    cpu_time_s = 4.0
    memory_mb = 512

    [checker]                   # how output is compared (checkers.py); default:
    type = "float"              #   "ignore_trailing_whitespace"; also "exact", "tokens",
    abs_tolerance = 1e-6        #   "float" (tolerances: default 1e-6 each when neither is
    rel_tolerance = 1e-6        #   given), "case_insensitive" and "custom":
    # type = "custom"
    # source = "checker.py"     # run as: <program> input expected actual
    # language = "python"       # default: from the source's extension
    # [checker.limits]          # default: the checker language's limits
    # cpu_time_s = 5.0

    [scoring]
    points = 100                # without subtasks: shared equally by the tests (default 1 each)

    [[subtasks]]                # optional; every test must be in at least one
    name = "small"
    points = 30
    tests = ["small-*", "01"]   # test names or shell-style patterns
    mode = "all_or_nothing"     # or "proportional" (points x accepted / tests)

Every problem found is reported at once, each with the file and line it is about (tomllib's
position for a syntax error; the key's own line, found by tomlpos, for a bad value).
"""

from __future__ import annotations

import enum
import fnmatch
import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.grading.tomlpos import KeyPath, key_lines, line_of
from core.languages import Catalogue, Language, UnknownLanguage, catalogue
from core.limits import RunLimits

PROBLEM_FILE = "problem.toml"
MAX_POINTS = 1e9
"""Points of a subtask or problem at most (sums of larger ones overflow to infinity)."""
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_TEST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)$")
DEFAULT_TOLERANCE = 1e-6


# --- The result: a checked problem ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestCase:
    name: str
    input_path: Path
    output_path: Path

    def input(self) -> bytes:
        return self.input_path.read_bytes()

    def expected(self) -> bytes:
        return self.output_path.read_bytes()


class SubtaskMode(enum.StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    """The subtask's points only when every one of its tests is accepted (IOI style)."""
    PROPORTIONAL = "proportional"
    """points x (accepted tests / tests)."""


@dataclass(frozen=True, slots=True)
class Subtask:
    name: str
    points: float
    tests: tuple[str, ...]
    mode: SubtaskMode


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitValues:
    """Limits a problem sets; None leaves the default."""

    cpu_time_s: float | None = None
    wall_time_s: float | None = None
    memory_mb: int | None = None
    output_kb: int | None = None

    def over(self, defaults: RunLimits, *, time_factor: float = 1.0) -> RunLimits:
        """`defaults` with these values (times scaled by `time_factor`) put over them."""
        limits = defaults
        if self.cpu_time_s is not None:
            cpu = self.cpu_time_s * time_factor
            limits = replace(limits, cpu_time_limit_s=cpu, wall_time_limit_s=2 * cpu + 1)
        if self.wall_time_s is not None:
            limits = replace(limits, wall_time_limit_s=self.wall_time_s * time_factor)
        if self.memory_mb is not None:
            limits = replace(limits, memory_limit_mb=self.memory_mb)
        if self.output_kb is not None:
            limits = replace(limits, output_limit_kb=self.output_kb)
        return limits


@dataclass(frozen=True, slots=True, kw_only=True)
class ProblemLimits:
    common: LimitValues = LimitValues()
    time_multiplier: Mapping[str, float] = field(default_factory=dict)
    """Language name -> factor on the common CPU and wall times."""
    languages: Mapping[str, LimitValues] = field(default_factory=dict)
    """Language name -> limits of its own, over the language's defaults."""

    def for_language(self, language: Language) -> RunLimits:
        defaults = RunLimits.defaults(language.limits)
        own = self.languages.get(language.name)
        if own is not None:
            return own.over(self.common.over(defaults))
        return self.common.over(defaults, time_factor=self.time_multiplier.get(language.name, 1.0))


class CheckerKind(enum.StrEnum):
    EXACT = "exact"
    IGNORE_TRAILING_WHITESPACE = "ignore_trailing_whitespace"
    TOKENS = "tokens"
    FLOAT = "float"
    CASE_INSENSITIVE = "case_insensitive"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckerSpec:
    kind: CheckerKind = CheckerKind.IGNORE_TRAILING_WHITESPACE
    abs_tolerance: float = 0.0
    rel_tolerance: float = 0.0
    source: Path | None = None
    """custom: the checker program's source file."""
    language: str | None = None
    """custom: its language (catalogue name)."""
    limits: LimitValues = LimitValues()
    """custom: its limits, over its language's defaults."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    name: str
    title: str
    directory: Path
    tests: tuple[TestCase, ...]
    subtasks: tuple[Subtask, ...]
    """Never empty: without [[subtasks]] there is one, `all`, proportional over every test."""
    declares_subtasks: bool
    limits: ProblemLimits
    checker: CheckerSpec
    statement: Path | None
    files: tuple[str, ...]
    """The files that make up the problem, relative to `directory` (what is archived)."""

    @property
    def max_score(self) -> float:
        return sum(subtask.points for subtask in self.subtasks)

    def test(self, name: str) -> TestCase:
        return next(test for test in self.tests if test.name == name)


@dataclass(frozen=True, slots=True)
class Issue:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class ProblemError(ValueError):
    """The problem is not valid; `issues` lists everything wrong, each with its file and line."""

    def __init__(self, directory: Path | str, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"the problem in {directory} is not valid:\n{lines}")


# --- problem.toml as written ------------------------------------------------------------------------

PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]
Megabytes = Annotated[int, Field(ge=4)]
Kilobytes = Annotated[int, Field(ge=1)]
Tolerance = Annotated[float, Field(ge=0)]


class _Table(BaseModel):
    # strict: "1" is not a number; extra="forbid": a misspelt key is an error, not a default.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _LimitsTable(_Table):
    cpu_time_s: PositiveSeconds | None = None
    wall_time_s: PositiveSeconds | None = None
    memory_mb: Megabytes | None = None
    output_kb: Kilobytes | None = None

    def values(self) -> LimitValues:
        return LimitValues(
            cpu_time_s=self.cpu_time_s,
            wall_time_s=self.wall_time_s,
            memory_mb=self.memory_mb,
            output_kb=self.output_kb,
        )


class _ProblemLimitsTable(_LimitsTable):
    time_multiplier: dict[str, Annotated[float, Field(gt=0, le=100)]] = {}
    languages: dict[str, _LimitsTable] = {}


class _CheckerTable(_Table):
    type: Annotated[CheckerKind, Field(strict=False)] = CheckerKind.IGNORE_TRAILING_WHITESPACE
    abs_tolerance: Tolerance | None = None
    rel_tolerance: Tolerance | None = None
    source: str | None = None
    language: str | None = None
    limits: _LimitsTable | None = None


class _ScoringTable(_Table):
    points: Annotated[float, Field(gt=0, le=MAX_POINTS)] | None = None


class _SubtaskTable(_Table):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    points: Annotated[float, Field(ge=0, le=MAX_POINTS)]
    tests: Annotated[list[str], Field(min_length=1)]
    mode: Annotated[SubtaskMode, Field(strict=False)] = SubtaskMode.ALL_OR_NOTHING


class _ProblemTable(_Table):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    statement: str | None = None
    tests_dir: str = "tests"
    limits: _ProblemLimitsTable = _ProblemLimitsTable()
    checker: _CheckerTable = _CheckerTable()
    scoring: _ScoringTable = _ScoringTable()
    subtasks: list[_SubtaskTable] = []


# --- Loading -----------------------------------------------------------------------------------------


def load_problem(directory: Path, languages: Catalogue | None = None) -> Problem:
    """Read and check the problem in `directory`; ProblemError lists everything wrong."""
    return _Loader(directory, languages or catalogue()).load()


class _Loader:
    def __init__(self, directory: Path, languages: Catalogue) -> None:
        self.directory = directory
        self.languages = languages
        self.issues: list[Issue] = []
        self.lines: dict[KeyPath, int] = {}
        self.raw: dict[str, Any] = {}
        """problem.toml as parsed, before its checks (empty if it did not parse)."""

    def load(self) -> Problem:
        table = self._parse()
        if table is None:
            # Still look at the test cases, so that every issue is reported at once.
            if isinstance(tests_dir := self.raw.get("tests_dir", "tests"), str):
                self._tests(tests_dir)
            raise ProblemError(self.directory, self.issues)
        tests = self._tests(table.tests_dir)
        subtasks = self._subtasks(table, tests)
        limits = self._limits(table.limits)
        checker = self._checker(table.checker)
        statement = self._file(table.statement, ("statement",)) if table.statement else None
        if self.issues:
            raise ProblemError(self.directory, self.issues)
        if table.subtasks:
            # Run tests subtask by subtask, in the order the problem declares them.
            order: dict[str, int] = {}
            for name in (name for subtask in subtasks for name in subtask.tests):
                order.setdefault(name, len(order))
            tests.sort(key=lambda test: order[test.name])
        files = [PROBLEM_FILE]
        files += [self._relative(t.input_path) for t in tests]
        files += [self._relative(t.output_path) for t in tests]
        files += [self._relative(p) for p in (statement, checker.source) if p is not None]
        return Problem(
            name=table.name,
            title=table.title or table.name,
            directory=self.directory,
            tests=tuple(tests),
            subtasks=subtasks,
            declares_subtasks=bool(table.subtasks),
            limits=limits,
            checker=checker,
            statement=statement,
            files=tuple(files),
        )

    # -- problem.toml -----------------------------------------------------------------------------

    def _parse(self) -> _ProblemTable | None:
        path = self.directory / PROBLEM_FILE
        if path.is_symlink() or not path.is_file():
            self._issue(f"missing: a problem is a directory with a {PROBLEM_FILE}", file=PROBLEM_FILE)
            return None
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            self._issue(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=PROBLEM_FILE)
            return None
        try:
            data = tomllib.loads(text)
        except RecursionError:  # tomllib recurses into nested arrays and tables
            self._issue("nested too deeply (arrays or tables within each other)", file=PROBLEM_FILE)
            return None
        except tomllib.TOMLDecodeError as exc:
            position = _TOML_POSITION.search(str(exc))
            message = _TOML_POSITION.sub("", str(exc)).strip()
            if position:
                message += f" (column {position.group(2)})"
            self._issue(message, file=PROBLEM_FILE, line=int(position.group(1)) if position else None)
            return None
        self.lines = key_lines(text)
        self.raw = data
        try:
            return _ProblemTable.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                self._key_issue(tuple(error["loc"]), _explain(error))
            return None

    def _limits(self, table: _ProblemLimitsTable) -> ProblemLimits:
        multipliers = {}
        for name, factor in table.time_multiplier.items():
            language = self._language(name, ("limits", "time_multiplier", name))
            if language is not None:
                multipliers[language.name] = factor
        own = {}
        for name, values in table.languages.items():
            language = self._language(name, ("limits", "languages", name))
            if language is not None:
                own[language.name] = values.values()
        return ProblemLimits(common=table.values(), time_multiplier=multipliers, languages=own)

    def _checker(self, table: _CheckerTable) -> CheckerSpec:
        kind = table.type
        if kind is not CheckerKind.FLOAT:
            for key in ("abs_tolerance", "rel_tolerance"):
                if getattr(table, key) is not None:
                    self._key_issue(("checker", key), f'only a "float" checker has a tolerance, not "{kind}"')
        if kind is not CheckerKind.CUSTOM:
            for key in ("source", "language", "limits"):
                if getattr(table, key) is not None:
                    self._key_issue(("checker", key), f'only a "custom" checker has a {key}, not "{kind}"')
            if kind is CheckerKind.FLOAT:
                absolute, relative = table.abs_tolerance, table.rel_tolerance
                if absolute is None and relative is None:
                    absolute = relative = DEFAULT_TOLERANCE
                return CheckerSpec(kind=kind, abs_tolerance=absolute or 0.0, rel_tolerance=relative or 0.0)
            return CheckerSpec(kind=kind)
        if table.source is None:
            self._key_issue(("checker",), 'a "custom" checker needs `source`, its program\'s file')
            return CheckerSpec(kind=kind)
        source = self._file(table.source, ("checker", "source"))
        language: Language | None
        if table.language is not None:
            language = self._language(table.language, ("checker", "language"))
        else:
            try:
                language = self.languages.for_file(table.source)
            except UnknownLanguage:
                self._key_issue(
                    ("checker", "source"),
                    f"cannot tell the language of {table.source!r} from its extension; add checker.language",
                )
                language = None
        limits = table.limits.values() if table.limits else LimitValues()
        return CheckerSpec(
            kind=kind, source=source, language=language.name if language else None, limits=limits
        )

    def _subtasks(self, table: _ProblemTable, tests: Sequence[TestCase]) -> tuple[Subtask, ...]:
        names = [test.name for test in tests]
        if not table.subtasks:
            points = table.scoring.points if table.scoring.points is not None else float(len(names))
            return (Subtask("all", points, tuple(names), SubtaskMode.PROPORTIONAL),)
        if table.scoring.points is not None:
            self._key_issue(
                ("scoring", "points"), "with [[subtasks]], each subtask has its own points; remove this"
            )
        subtasks: list[Subtask] = []
        covered: set[str] = set()
        seen: set[str] = set()
        for index, sub in enumerate(table.subtasks):
            if sub.name in seen:
                self._key_issue(("subtasks", index, "name"), f"two subtasks are named {sub.name!r}")
            seen.add(sub.name)
            chosen: list[str] = []
            for at, pattern in enumerate(sub.tests):
                matched = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
                if not matched and names:
                    self._key_issue(("subtasks", index, "tests", at), f"{pattern!r} matches no test case")
                chosen += [name for name in matched if name not in chosen]
            covered.update(chosen)
            subtasks.append(Subtask(sub.name, sub.points, tuple(chosen), sub.mode))
        for name in names:
            if name not in covered:
                self._key_issue(("subtasks",), f"test {name!r} is in no subtask; add it to one")
        return tuple(subtasks)

    # -- files --------------------------------------------------------------------------------------

    def _tests(self, tests_dir: str) -> list[TestCase]:
        directory = self._path(tests_dir, ("tests_dir",))
        if directory is None:
            return []
        if directory.is_symlink() or not directory.is_dir():
            self._key_issue(("tests_dir",), f"{tests_dir!r} is not a directory of test cases")
            return []
        inputs: dict[str, Path] = {}
        outputs: dict[str, Path] = {}
        for entry in sorted(directory.iterdir()):
            shown = self._relative(entry)
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() or not entry.is_file():
                self._issue("not a regular file; test cases are NAME.in and NAME.out files", file=shown)
                continue
            stem, suffix = entry.stem, entry.suffix
            if suffix not in (".in", ".out"):
                self._issue("not a test case: test cases are NAME.in and NAME.out files", file=shown)
            elif not _TEST_NAME.match(stem):
                self._issue(
                    f"{stem!r} is not a test name: letters, digits, '.', '_' and '-' only", file=shown
                )
            else:
                (inputs if suffix == ".in" else outputs)[stem] = entry
        for name in sorted(inputs.keys() - outputs.keys()):
            self._issue(f"has no expected output {name}.out beside it", file=self._relative(inputs[name]))
        for name in sorted(outputs.keys() - inputs.keys()):
            self._issue(f"has no input {name}.in beside it", file=self._relative(outputs[name]))
        names = sorted(inputs.keys() & outputs.keys(), key=natural_key)
        if not names and not self.issues:
            self._key_issue(("tests_dir",), f"{tests_dir!r} holds no test case (NAME.in + NAME.out)")
        return [TestCase(name, inputs[name], outputs[name]) for name in names]

    def _file(self, name: str, key: KeyPath) -> Path | None:
        path = self._path(name, key)
        if path is None:
            return None
        if path.is_symlink() or not path.is_file():
            self._key_issue(key, f"{name!r} is not a file of the problem")
            return None
        return path

    def _path(self, name: str, key: KeyPath) -> Path | None:
        """A path inside the problem's directory, or an issue."""
        parts = name.split("/")
        if not name or name.startswith("/") or "\\" in name or ".." in parts or "\0" in name:
            self._key_issue(key, f"{name!r} must be a relative path inside the problem's directory")
            return None
        return self.directory.joinpath(*[p for p in parts if p not in ("", ".")])

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.directory).as_posix()

    def _language(self, name: str, key: KeyPath) -> Language | None:
        try:
            return self.languages.get(name)
        except UnknownLanguage as exc:
            self._key_issue(key, f"unknown language {name!r}; known: {', '.join(exc.known)}")
            return None

    # -- issues --------------------------------------------------------------------------------------

    def _issue(self, message: str, *, file: str, line: int | None = None) -> None:
        self.issues.append(Issue(file, line, message))

    def _key_issue(self, key: KeyPath, message: str) -> None:
        self._issue(f"{dotted(key)}: {message}", file=PROBLEM_FILE, line=line_of(self.lines, key))


def dotted(key: KeyPath) -> str:
    """('subtasks', 1, 'tests', 0) -> 'subtasks[1].tests[0]'."""
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort 'test2' before 'test10'."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def _explain(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        hint = f"; the keys here are: {', '.join(known)}" if known else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required; add it"
    message = str(error["msg"])
    message = message[0].lower() + message[1:]
    shown = repr(error["input"])
    if len(shown) > 80:  # a 100 000-character title is not worth echoing back whole
        shown = f"{shown[:60]}... ({len(shown)} characters)"
    return f"{message} (it is {shown})"


def _known_keys(loc: KeyPath) -> list[str]:
    """The keys a table at `loc` may have, for a message about a misspelt one."""
    model: type[BaseModel] | None = _ProblemTable
    skip_next = False
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int) or skip_next:
            skip_next = False
            continue
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        skip_next = typing.get_origin(annotation) is dict
        model = _model_in(annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
