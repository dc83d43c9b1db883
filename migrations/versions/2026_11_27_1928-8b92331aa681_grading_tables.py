"""The grading tables: problems (one row per content), gradings, and their submissions.

Revision ID: 8b92331aa681
Revises: 7eddd2594c14
Create Date: 2026-11-27 19:28:37
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b92331aa681"
down_revision: str | None = "7eddd2594c14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # As in the runs table: aware timestamps on PostgreSQL, naive UTC on SQLite.
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "grading_problems",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("archive_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_grading_problems")),
    )
    op.create_table(
        "gradings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("problem_digest", sa.String(length=64), nullable=False),
        sa.Column("problem_name", sa.String(length=64), nullable=False),
        sa.Column("problem_title", sa.String(length=200), nullable=False),
        sa.Column("checker", sa.String(length=32), nullable=False),
        sa.Column("test_names", sa.JSON(), nullable=False),
        sa.Column("subtasks", sa.JSON(), nullable=False),
        sa.Column("declares_subtasks", sa.Boolean(), nullable=False),
        sa.Column("stop_on_first_failure", sa.Boolean(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("cancelled_at", timestamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["problem_digest"],
            ["grading_problems.digest"],
            name=op.f("fk_gradings_problem_digest_grading_problems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gradings")),
    )
    op.create_table(
        "grading_submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("grading_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("language", sa.String(length=64), nullable=False),
        sa.Column("source", sa.LargeBinary(), nullable=False),
        sa.Column("compiler_options", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("compile_output", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("queued_at", timestamp, nullable=False),
        sa.Column("enqueued_at", timestamp, nullable=True),
        sa.Column("started_at", timestamp, nullable=True),
        sa.Column("finished_at", timestamp, nullable=True),
        sa.Column("lease_expires_at", timestamp, nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grading_id"], ["gradings.id"], name=op.f("fk_grading_submissions_grading_id_gradings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grading_submissions")),
    )
    # A grading's submissions in order; the reconciler's two scans, as for runs.
    op.create_index(
        op.f("ix_grading_submissions_grading_id_position"),
        "grading_submissions",
        ["grading_id", "position"],
        unique=True,
    )
    op.create_index(
        op.f("ix_grading_submissions_status_enqueued_at"), "grading_submissions", ["status", "enqueued_at"]
    )
    op.create_index(
        op.f("ix_grading_submissions_status_lease_expires_at"),
        "grading_submissions",
        ["status", "lease_expires_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_grading_submissions_status_lease_expires_at"), table_name="grading_submissions")
    op.drop_index(op.f("ix_grading_submissions_status_enqueued_at"), table_name="grading_submissions")
    op.drop_index(op.f("ix_grading_submissions_grading_id_position"), table_name="grading_submissions")
    op.drop_table("grading_submissions")
    op.drop_table("gradings")
    op.drop_table("grading_problems")
