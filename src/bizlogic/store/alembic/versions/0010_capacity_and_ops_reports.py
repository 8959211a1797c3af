"""Capacity samples and stored operations documents.

``capacity_samples``: one measurement of one resource at one time (the daily
``maintain`` step ``capacity`` writes them; ``tune`` and ``report`` fit growth
over them). ``scope`` is ``deployment`` for shared resources (database, Redis,
queue) and the host name for a host's own (disk, log files); ``item`` names the
table, filesystem or queue where a resource has several (empty otherwise);
``limit_value`` is the resource's limit when the sample was taken (a disk's size,
Redis ``maxmemory``, PostgreSQL ``max_connections``), if it has one.

``ops_reports``: what the operations routine produced, kept so that the next
report can say what changed: periodic reports (``kind='report'``), drills
(``kind='drill'``), tuner runs (``kind='tune'``). ``summary`` holds the headline
figures, ``body`` the whole document as JSON.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capacity_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("item", sa.String(255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("limit_value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_capacity_samples"),
    )
    op.create_index(
        "idx_capacity_samples_series",
        "capacity_samples",
        ["resource", "item", "scope", "taken_at"],
    )
    op.create_index("idx_capacity_samples_taken", "capacity_samples", ["taken_at"])
    op.create_table(
        "ops_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ops_reports"),
    )
    op.create_index("idx_ops_reports_kind_created", "ops_reports", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("idx_ops_reports_kind_created", table_name="ops_reports")
    op.drop_table("ops_reports")
    op.drop_index("idx_capacity_samples_taken", table_name="capacity_samples")
    op.drop_index("idx_capacity_samples_series", table_name="capacity_samples")
    op.drop_table("capacity_samples")
