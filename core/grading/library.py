"""Problems offered by name: the directories of `settings.problems_path` (default: the samples in
the repository's problems/), one problem per sub-directory named like the problem."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from core.grading.problem import (
    NAME_PATTERN,
    PROBLEM_FILE,
    Issue,
    Problem,
    ProblemError,
    load_problem,
)
from core.languages import Catalogue

log = logging.getLogger(__name__)


class UnknownProblem(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"no problem named {name!r}; known problems: {', '.join(known) or 'none'}")


class Library:
    def __init__(self, directory: Path, languages: Catalogue) -> None:
        self.directory = directory
        self.languages = languages

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.directory.iterdir()
            if re.match(NAME_PATTERN, entry.name) and (entry / PROBLEM_FILE).is_file()
        )

    def load(self, name: str) -> Problem:
        """The named problem; UnknownProblem if there is none, ProblemError if it is invalid."""
        if name not in self.names():
            raise UnknownProblem(name, self.names())
        problem = load_problem(self.directory / name, self.languages)
        if problem.name != name:
            message = f"name: is {problem.name!r}, but the directory is named {name!r}; make them equal"
            raise ProblemError(self.directory / name, [Issue(PROBLEM_FILE, None, message)])
        return problem

    def problems(self) -> list[Problem]:
        """Every valid problem; invalid ones are logged and left out."""
        found = []
        for name in self.names():
            try:
                found.append(self.load(name))
            except ProblemError as exc:
                log.warning("problem %s is not offered: %s", name, exc)
        return found
