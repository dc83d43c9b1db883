"""A worker's cache of problems: each unpacked once per host, its custom checker compiled once.

A worker grades many submissions of the same problem. The first task that needs a problem
fetches its archive from the database, checks its digest, unpacks it (archive.unpack: the
archive is treated as hostile even though the API checked it) and, for a custom checker in a
compiled language, compiles the checker into an artefact beside it (execution.compile_into).
Every later task on this host, in any worker process, reuses both.

    <scratch>/problems/<digest>/problem/     the unpacked problem
    <scratch>/problems/<digest>/checker/     the compiled checker (an image layer)
    <scratch>/problems/<digest>/checker-error.txt   or why it did not compile
    <scratch>/problems/<digest>/.ready       written last: the entry is complete
    <scratch>/problems/<digest>.lock         flock()ed while the entry is built

A build that died half-way leaves no `.ready`, so the next one starts again from scratch. Entries
not used for `keep_s` (a week) are pruned when a new problem arrives.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core import execution
from core.config import Settings
from core.grading.archive import ArchiveCaps, digest, unpack
from core.grading.checkers import Checker, CheckerFailed, ProgramChecker, builtin
from core.grading.grader import checker_program_parts
from core.grading.problem import CheckerKind, Problem, load_problem
from core.images import ImageStore, open_store
from core.languages import Catalogue

log = logging.getLogger(__name__)

_READY = ".ready"
_CHECKER_ERROR = "checker-error.txt"
KEEP_S = 7 * 24 * 3600


class ProblemCache:
    def __init__(
        self,
        root: Path,
        *,
        settings: Settings,
        languages: Catalogue,
        caps: ArchiveCaps,
        store: ImageStore | None = None,
        keep_s: float = KEEP_S,
    ) -> None:
        self.root = root
        self.settings = settings
        self.languages = languages
        self.caps = caps
        self.store = store or open_store(settings=settings)
        self.keep_s = keep_s
        self._loaded: dict[str, Problem] = {}
        self._lock = threading.Lock()

    def problem(self, problem_digest: str, fetch: Callable[[], bytes]) -> Problem:
        """The problem with this digest; `fetch` returns its archive if it is not here yet.
        Raises ArchiveError or ProblemError for a bad archive (and ValueError for a wrong one)."""
        entry = self.root / problem_digest
        ready = entry / _READY
        with self._lock:
            loaded = self._loaded.get(problem_digest)
        if loaded is not None and ready.exists():
            os.utime(ready)
            return loaded
        if not ready.exists():
            with _locked(self.root / f"{problem_digest}.lock"):
                built = not ready.exists()
                if built:
                    self._build(entry, problem_digest, fetch())
            if built:
                self.prune()
        os.utime(ready)
        problem = load_problem(entry / "problem", self.languages)
        with self._lock:
            self._loaded[problem_digest] = problem
        return problem

    @contextmanager
    def checker(self, problem_digest: str, problem: Problem) -> Iterator[Checker]:
        """The problem's checker; a compiled custom checker comes from the cache."""
        if problem.checker.kind is not CheckerKind.CUSTOM:
            yield builtin(problem.checker)
            return
        language, files, limits = checker_program_parts(problem, self.languages)
        if not language.compiled:
            with execution.prepare(
                language, files, store=self.store, languages=self.languages, settings=self.settings
            ) as program:
                assert isinstance(program, execution.Program)  # interpreted: nothing can fail to compile
                yield ProgramChecker(program, limits)
            return
        entry = self.root / problem_digest
        if (entry / _CHECKER_ERROR).exists():
            output = (entry / _CHECKER_ERROR).read_text(errors="replace")
            raise CheckerFailed(f"the problem's checker does not compile:\n{output}")
        program = execution.compiled_program(
            entry / "checker", language, store=self.store, languages=self.languages, settings=self.settings
        )
        yield ProgramChecker(program, limits)

    def _build(self, entry: Path, problem_digest: str, archive: bytes) -> None:
        if digest(archive) != problem_digest:
            raise ValueError(f"the archive stored for problem {problem_digest} has another digest")
        shutil.rmtree(entry, ignore_errors=True)  # what a build that died half-way left
        self.root.mkdir(parents=True, exist_ok=True)
        entry.mkdir()
        root = unpack(archive, entry / "problem", self.caps)
        if root != entry / "problem":
            raise ValueError(f"the archive of problem {problem_digest} is not a canonical one")
        problem = load_problem(root, self.languages)
        if problem.checker.kind is CheckerKind.CUSTOM:
            self._compile_checker(entry, problem)
        (entry / _READY).touch()
        log.info("problem %s (%s) unpacked into %s", problem.name, problem_digest[:12], entry)

    def _compile_checker(self, entry: Path, problem: Problem) -> None:
        language, files, _ = checker_program_parts(problem, self.languages)
        if not language.compiled:
            return
        compiled = execution.compile_into(
            entry / "checker",
            language,
            files,
            store=self.store,
            languages=self.languages,
            settings=self.settings,
        )
        if isinstance(compiled, execution.CompileFailure):
            (entry / _CHECKER_ERROR).write_text(compiled.compile_output)

    def prune(self) -> int:
        """Remove entries not used for `keep_s`; returns how many."""
        cutoff = time.time() - self.keep_s
        removed = 0
        for entry in self.root.iterdir():
            ready = entry / _READY
            if entry.is_dir() and ready.exists() and ready.stat().st_mtime < cutoff:
                # The lock file stays: a process may hold it open, and a new one would not exclude it.
                with _locked(self.root / f"{entry.name}.lock"):
                    shutil.rmtree(entry, ignore_errors=True)
                with self._lock:
                    self._loaded.pop(entry.name, None)
                removed += 1
        return removed


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on `path`: between processes, and between threads (each opens its own
    file description)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
