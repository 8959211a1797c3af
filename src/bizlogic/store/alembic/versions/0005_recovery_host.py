"""Auto-recovery per host: the host each recovery event concerns.

Memory and CPU failures are conditions of one machine, handled by that host's
watcher; their budget, backoff and escalations are counted per host. Rows of
the deployment-wide failures (database, Redis, time limits) and rows written
before this revision have no host: NULL.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recovery_events") as batch:
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recovery_events") as batch:
        batch.drop_column("host")
