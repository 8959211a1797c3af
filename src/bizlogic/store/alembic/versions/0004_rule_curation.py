"""Rules remember expert curation: when and by whom one was last edited.

A rule whose confidence an expert set or which an expert switched on or off
gets ``curated_at`` / ``curated_by``; re-runs then never delete it nor reset
its confidence and ``is_active`` (docs/storage.md). Rules stored before this
revision are uncurated: NULL.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("business_rules") as batch:
        batch.add_column(sa.Column("curated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("curated_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("business_rules") as batch:
        batch.drop_column("curated_by")
        batch.drop_column("curated_at")
