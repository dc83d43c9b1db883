"""The migrations build exactly the schema the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session

from core.grading import models as _grading_models  # noqa: F401 (its tables join Base.metadata)
from core.models import Base


def test_upgrade_head_matches_the_models(session: Session) -> None:
    # `session` is on a database migrated to head; autogenerate would write nothing more.
    context = MigrationContext.configure(session.connection(), opts={"compare_type": True})
    assert compare_metadata(context, Base.metadata) == []
