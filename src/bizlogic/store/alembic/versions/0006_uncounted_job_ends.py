"""Jobs that ended and are not yet counted in ``bl_jobs_total``: ``uncounted_job_ends``.

Every final transition of a job (completed, failed, cancelled) adds a row in its
own transaction, whichever process ends the job; the API process that serves the
next scrape deletes the rows and counts them (docs/observability.md). Jobs that
ended before this revision were counted (or not) by the old code: no backfill.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uncounted_job_ends",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('completed', 'failed', 'cancelled')",
            name="ck_uncounted_job_ends_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_uncounted_job_ends"),
    )


def downgrade() -> None:
    op.drop_table("uncounted_job_ends")
