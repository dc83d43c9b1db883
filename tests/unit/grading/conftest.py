from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.db import dispose_all, migrate, session_factory

REPO = Path(__file__).resolve().parents[3]
PROBLEMS = REPO / "problems"

MakeProblem = Callable[..., Path]


@pytest.fixture
def make_problem(tmp_path: Path) -> MakeProblem:
    """Write a problem directory: problem.toml text, tests as {name: (input, output)}, and any
    other files as {relative name: content}."""

    made = 0

    def make(
        toml: str,
        tests: dict[str, tuple[str, str]] | None = None,
        files: dict[str, str] | None = None,
    ) -> Path:
        nonlocal made
        made += 1
        directory = tmp_path / f"problem{made}"
        (directory / "tests").mkdir(parents=True)
        (directory / "problem.toml").write_text(toml)
        for name, (given, expected) in (tests if tests is not None else {"1": ("1 2\n", "3\n")}).items():
            (directory / "tests" / f"{name}.in").write_text(given)
            (directory / "tests" / f"{name}.out").write_text(expected)
        for name, content in (files or {}).items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(content)
        return directory

    return make


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A session on a fresh SQLite file migrated to the current schema (the grading tables too)."""
    url = f"sqlite:///{tmp_path / 'jaula.db'}"
    migrate(url)
    with session_factory(url)() as session:
        yield session
    dispose_all()
