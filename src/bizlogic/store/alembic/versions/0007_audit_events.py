"""The audit trail of API changes: ``audit_events``.

One row per mutating API request that succeeded (records import, analysis
start, job cancel, rule curation, rules import/apply, insight acknowledgement,
export, recovery pause/resume): who (user, role), what (action, project,
target, details) and when. No foreign key to ``projects``: the trail must
outlive the objects it names. Nothing before this revision was recorded here
(the ``user_action`` log lines remain the record of that time): no backfill.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(128), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("idx_audit_events_created", "audit_events", ["created_at"])
    op.create_index(
        "idx_audit_events_project_created", "audit_events", ["project_id", "created_at"]
    )
    op.create_index("idx_audit_events_action_created", "audit_events", ["action", "created_at"])


def downgrade() -> None:
    op.drop_index("idx_audit_events_action_created", table_name="audit_events")
    op.drop_index("idx_audit_events_project_created", table_name="audit_events")
    op.drop_index("idx_audit_events_created", table_name="audit_events")
    op.drop_table("audit_events")
