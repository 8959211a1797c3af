"""Rules carry how they were selected: score, validation figures, and every algorithm behind them.

An analysis now keeps one rule per statement (the algorithms that found it
are listed), selects rules on a validation part and ranks them by an
interestingness score (docs/mining.md). Rules stored before this revision
have no such figures: NULL, and ``algorithms`` read as just their algorithm.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("business_rules") as batch:
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("validation_confidence", sa.Float(), nullable=True))
        batch.add_column(sa.Column("validation_antecedent_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("algorithms", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("business_rules") as batch:
        batch.drop_column("algorithms")
        batch.drop_column("validation_antecedent_count")
        batch.drop_column("validation_confidence")
        batch.drop_column("score")
