"""Initial schema: every table of DESIGN §5.

Written out by hand rather than generated from ``bizlogic.store.tables`` so
that the revision stays frozen when the models move on; a test compares the
migrated database with the models.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.JSON(none_as_null=True), nullable=nullable)


def _project_fk(table: str, name: str = "project_id") -> sa.Column:
    fk = sa.ForeignKey("projects.id", ondelete="CASCADE", name=f"fk_{table}_{name}_projects")
    return sa.Column(name, sa.String(128), fk, nullable=False)


def _job_fk(table: str) -> sa.Column:
    fk = sa.ForeignKey(
        "business_logic_analysis_history.job_id",
        ondelete="SET NULL",
        name=f"fk_{table}_job_id_business_logic_analysis_history",
    )
    return sa.Column("job_id", sa.String(36), fk, nullable=True)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
    )
    op.create_table(
        "annotations",
        _project_fk("annotations"),
        # "C" collation: byte order like SQLite, so records stream in the same order.
        sa.Column(
            "id",
            sa.String().with_variant(postgresql.VARCHAR(collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sentiment", sa.String(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("annotator", sa.String(), nullable=True),
        sa.Column("task_id", sa.String(), nullable=True),
        sa.Column("lead_time", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        _ts("created_at", nullable=True),
        _json("keywords", nullable=True),
        _json("tokens"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("project_id", "id", name="pk_annotations"),
    )
    op.create_index("idx_annotations_project_created", "annotations", ["project_id", "created_at"])

    op.create_table(
        "business_logic_analysis_history",
        sa.Column("job_id", sa.String(36), nullable=False),
        _project_fk("business_logic_analysis_history"),
        sa.Column("status", sa.String(16), nullable=False),
        _json("parameters"),
        _json("algorithms"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=True),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _json("results", nullable=True),
        _json("result_snapshot", nullable=True),
        sa.Column("worker_id", sa.String(255), nullable=True),
        _ts("heartbeat_at", nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_business_logic_analysis_history"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
            name="ck_business_logic_analysis_history_status",
        ),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 1", name="ck_business_logic_analysis_history_progress"
        ),
        sa.CheckConstraint("attempts >= 0", name="ck_business_logic_analysis_history_attempts"),
    )
    op.create_index(
        "idx_analysis_history_project_created",
        "business_logic_analysis_history",
        ["project_id", "created_at"],
    )
    op.create_index("idx_analysis_history_status", "business_logic_analysis_history", ["status"])

    op.create_table(
        "business_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _project_fk("business_rules"),
        _job_fk("business_rules"),
        sa.Column("algorithm", sa.String(64), nullable=False),
        sa.Column("rule_type", sa.String(64), nullable=False),
        sa.Column("rule_key", sa.Text(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        _json("conditions"),
        _json("consequent"),
        sa.Column("support_count", sa.Integer(), nullable=False),
        sa.Column("support", sa.Float(), nullable=False),
        sa.Column("antecedent_count", sa.Integer(), nullable=False),
        sa.Column("consequent_count", sa.Integer(), nullable=False),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=True),
        sa.Column("leverage", sa.Float(), nullable=False),
        sa.Column("conviction", sa.Float(), nullable=True),
        sa.Column("conviction_infinite", sa.Boolean(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("q_value", sa.Float(), nullable=False),
        sa.Column("pmi", sa.Float(), nullable=True),
        sa.Column("npmi", sa.Float(), nullable=False),
        sa.Column("holdout_confidence", sa.Float(), nullable=True),
        sa.Column("holdout_support_count", sa.Integer(), nullable=True),
        sa.Column("holdout_antecedent_count", sa.Integer(), nullable=True),
        _json("examples"),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_business_rules"),
        sa.UniqueConstraint(
            "project_id", "rule_key", "algorithm", name="uq_business_rules_project_key_algorithm"
        ),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 1", name="ck_business_rules_confidence"
        ),
    )
    op.create_index(
        "idx_business_rules_project_confidence",
        "business_rules",
        ["project_id", sa.text("confidence DESC")],
    )

    op.create_table(
        "business_patterns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _project_fk("business_patterns"),
        _job_fk("business_patterns"),
        sa.Column("algorithm", sa.String(64), nullable=False),
        sa.Column("pattern_type", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        _json("data"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_business_patterns"),
    )
    op.create_index(
        "idx_business_patterns_project_type", "business_patterns", ["project_id", "pattern_type"]
    )

    op.create_table(
        "business_insights",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _project_fk("business_insights"),
        _job_fk("business_insights"),
        sa.Column("algorithm", sa.String(64), nullable=False),
        sa.Column("insight_key", sa.String(64), nullable=False),
        sa.Column("insight_type", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("impact_score", sa.Float(), nullable=False),
        _json("recommendations"),
        _json("evidence"),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_by", sa.String(255), nullable=True),
        _ts("acknowledged_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_business_insights"),
        sa.UniqueConstraint(
            "project_id",
            "insight_key",
            "algorithm",
            name="uq_business_insights_project_key_algorithm",
        ),
    )
    op.create_index(
        "idx_business_insights_project_type", "business_insights", ["project_id", "insight_type"]
    )

    op.create_table(
        "business_rule_applications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey(
                "business_rules.id",
                ondelete="SET NULL",
                name="fk_business_rule_applications_rule_id_business_rules",
            ),
            nullable=True,
        ),
        sa.Column("rule_key", sa.Text(), nullable=False),
        _project_fk("business_rule_applications", "source_project_id"),
        _project_fk("business_rule_applications", "target_project_id"),
        sa.Column("mode", sa.String(8), nullable=False),
        _json("result"),
        sa.Column("applied_by", sa.String(255), nullable=True),
        _ts("applied_at"),
        sa.PrimaryKeyConstraint("id", name="pk_business_rule_applications"),
        sa.CheckConstraint("mode IN ('copy', 'adapt')", name="ck_business_rule_applications_mode"),
    )
    op.create_index(
        "idx_rule_applications_target_applied",
        "business_rule_applications",
        ["target_project_id", "applied_at"],
    )

    op.create_table(
        "recovery_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _ts("created_at"),
        _ts("finished_at", nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("alert_name", sa.String(255), nullable=True),
        sa.Column("fingerprint", sa.String(255), nullable=True),
        sa.Column("severity", sa.String(32), nullable=True),
        sa.Column("action", sa.String(64), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        _json("details", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_events"),
    )
    op.create_index("idx_recovery_events_created", "recovery_events", ["created_at"])
    op.create_index(
        "idx_recovery_events_action_created", "recovery_events", ["action", "created_at"]
    )

    op.create_table(
        "maintenance_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        _json("details", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_runs"),
    )
    op.create_index("idx_maintenance_runs_kind_started", "maintenance_runs", ["kind", "started_at"])


def downgrade() -> None:
    # Children before parents, so foreign keys never block a drop.
    for table in (
        "maintenance_runs",
        "recovery_events",
        "business_rule_applications",
        "business_insights",
        "business_patterns",
        "business_rules",
        "business_logic_analysis_history",
        "annotations",
        "projects",
    ):
        op.drop_table(table)
