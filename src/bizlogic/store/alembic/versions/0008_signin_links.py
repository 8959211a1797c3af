"""One-time console sign-in links: ``signin_links``.

``bizlogic token create --open`` stores what the token will grant under the
SHA-256 of a random code and prints a link with the code; the console trades
the code for a freshly signed token once, within ten minutes.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_links",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("projects", sa.JSON(), nullable=True),
        sa.Column("ttl_s", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_signin_links"),
    )


def downgrade() -> None:
    op.drop_table("signin_links")
