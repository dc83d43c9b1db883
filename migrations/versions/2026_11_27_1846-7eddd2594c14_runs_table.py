"""The runs table: one row per submitted run (request, lifecycle, result).

Revision ID: 7eddd2594c14
Revises:
Create Date: 2026-11-27 18:46:55
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7eddd2594c14"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Timestamps are timezone-aware on PostgreSQL; on SQLite they hold naive UTC
    # (core.models.UTCDateTime converts), which is the same column type here.
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("main_file", sa.String(length=255), nullable=False),
        sa.Column("stdin", sa.LargeBinary(), nullable=True),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("compiler_options", sa.JSON(), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("cpu_time_limit_s", sa.Double(), nullable=False),
        sa.Column("wall_time_limit_s", sa.Double(), nullable=False),
        sa.Column("memory_limit_mb", sa.Integer(), nullable=False),
        sa.Column("pids_limit", sa.Integer(), nullable=False),
        sa.Column("output_limit_kb", sa.Integer(), nullable=False),
        sa.Column("file_size_limit_kb", sa.Integer(), nullable=False),
        sa.Column("network", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("signal", sa.String(length=16), nullable=True),
        sa.Column("cpu_time_ms", sa.Integer(), nullable=True),
        sa.Column("wall_time_ms", sa.Integer(), nullable=True),
        sa.Column("memory_peak_bytes", sa.BigInteger(), nullable=True),
        sa.Column("stdout", sa.LargeBinary(), nullable=True),
        sa.Column("stderr", sa.LargeBinary(), nullable=True),
        sa.Column("stdout_truncated", sa.Boolean(), nullable=True),
        sa.Column("stderr_truncated", sa.Boolean(), nullable=True),
        sa.Column("compile_output", sa.LargeBinary(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("queued_at", timestamp, nullable=False),
        sa.Column("enqueued_at", timestamp, nullable=True),
        sa.Column("started_at", timestamp, nullable=True),
        sa.Column("finished_at", timestamp, nullable=True),
        sa.Column("lease_expires_at", timestamp, nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    # The reconciler's two scans (stale queued messages, expired running leases) and the
    # queue-depth count behind backpressure.
    op.create_index(op.f("ix_runs_status_enqueued_at"), "runs", ["status", "enqueued_at"])
    op.create_index(op.f("ix_runs_status_lease_expires_at"), "runs", ["status", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_status_lease_expires_at"), table_name="runs")
    op.drop_index(op.f("ix_runs_status_enqueued_at"), table_name="runs")
    op.drop_table("runs")
