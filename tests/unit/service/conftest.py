from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.db import dispose_all, migrate, session_factory


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A session on a fresh SQLite file migrated to the current schema."""
    url = f"sqlite:///{tmp_path / 'jaula.db'}"
    migrate(url)
    with session_factory(url)() as session:
        yield session
    dispose_all()
