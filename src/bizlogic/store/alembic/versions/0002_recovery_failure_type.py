"""Auto-recovery: the failure type of each event and the key that makes alerts idempotent.

``dedup_key`` is unique: Alertmanager sends the same alert again (repeat
interval, retries, several replicas of the API behind it), and only the first
copy of one alert state (fingerprint + startsAt + firing/resolved) may act.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recovery_events", sa.Column("failure_type", sa.String(64), nullable=True))
    op.add_column("recovery_events", sa.Column("dedup_key", sa.String(320), nullable=True))
    op.create_index("uq_recovery_events_dedup_key", "recovery_events", ["dedup_key"], unique=True)
    op.create_index(
        "idx_recovery_events_type_created", "recovery_events", ["failure_type", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("idx_recovery_events_type_created", "recovery_events")
    op.drop_index("uq_recovery_events_dedup_key", "recovery_events")
    with op.batch_alter_table("recovery_events") as batch:
        batch.drop_column("dedup_key")
        batch.drop_column("failure_type")
