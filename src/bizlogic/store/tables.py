"""SQLAlchemy models for every table of DESIGN §5 (see docs/storage.md).

Key choices:

- ``annotations`` has the natural primary key ``(project_id, id)``: the record
  id is already the idempotency key of imports, so the upsert's conflict
  target *is* the primary key and no surrogate id or extra unique index is
  needed.
- Results (rules, patterns, insights) get integer surrogate ids, because the
  API addresses them as ``/rules/{rule_id}``; ``UNIQUE(project_id, rule_key,
  algorithm)`` (and the same for insights) is what lets a re-run update a rule
  in place and keep its id and its curated state.
- ``job_id`` on results is ``ON DELETE SET NULL``: pruning old job records
  never deletes the latest results of a project.
- Every constraint has a stable name (the naming convention below), so later
  migrations can alter them on SQLite's batch mode and on PostgreSQL alike.

The initial Alembic revision spells the same schema out by hand; a test
compares the two so they cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bizlogic.records.schema import Record, format_timestamp
from bizlogic.store import clock
from bizlogic.store.columns import UTCDateTime, json_column_type

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
UNFINISHED_STATUSES = ("queued", "running")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
APPLICATION_MODES = ("copy", "adapt")

PROJECT_ID_MAX = 128
RECORD_ID_TYPE = String().with_variant(postgresql.VARCHAR(collation="C"), "postgresql")


def _now() -> datetime:
    return clock.utcnow()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProjectRow(Base):
    """A SuperInsight project; created on first import or analysis."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(PROJECT_ID_MAX), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


class AnnotationRow(Base):
    """One canonical record plus the tokens computed once at import."""

    __tablename__ = "annotations"
    __table_args__ = (Index("idx_annotations_project_created", "project_id", "created_at"),)

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    # Byte-order collation on PostgreSQL, like SQLite's BINARY: records stream in the
    # same order on both backends, so a Dataset built from storage is identical.
    id: Mapped[str] = mapped_column(RECORD_ID_TYPE, primary_key=True)
    text: Mapped[str] = mapped_column(Text())
    sentiment: Mapped[str | None] = mapped_column(String())
    rating: Mapped[float | None] = mapped_column(Float())
    label: Mapped[str | None] = mapped_column(String())
    annotator: Mapped[str | None] = mapped_column(String())
    task_id: Mapped[str | None] = mapped_column(String())
    lead_time: Mapped[float | None] = mapped_column(Float())
    status: Mapped[str | None] = mapped_column(String())
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    keywords: Mapped[list[str] | None] = mapped_column(json_column_type())
    tokens: Mapped[list[str]] = mapped_column(json_column_type(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    def to_record(self) -> Record:
        return Record(
            id=self.id,
            text=self.text,
            project_id=self.project_id,
            sentiment=self.sentiment,
            rating=self.rating,
            label=self.label,
            annotator=self.annotator,
            task_id=self.task_id,
            lead_time=self.lead_time,
            status=self.status,
            created_at=self.created_at,
            keywords=self.keywords,
        )


class AnalysisJob(Base):
    """One analysis request and its whole life: the job record of DESIGN §5."""

    __tablename__ = "business_logic_analysis_history"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("idx_analysis_history_project_created", "project_id", "created_at"),
        Index("idx_analysis_history_status", "status"),
    )

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    parameters: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)
    algorithms: Mapped[list[str]] = mapped_column(json_column_type(), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    requested_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    progress: Mapped[float] = mapped_column(Float(), default=0.0)
    stage: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text())
    results: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())
    # The full AnalysisResult of the run, so detect-changes and exports of past
    # runs work after a newer run replaced the live rules.
    result_snapshot: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())
    worker_id: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def as_dict(self) -> dict[str, Any]:
        """The job as the API shows it (the snapshot is left out: it can be large)."""
        return {
            "job_id": self.job_id,
            "project_id": self.project_id,
            "status": self.status,
            "parameters": self.parameters,
            "algorithms": self.algorithms,
            "attempts": self.attempts,
            "requested_by": self.requested_by,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": self.progress,
            "stage": self.stage,
            "error": self.error,
            "results": self.results,
            "worker_id": self.worker_id,
            "heartbeat_at": _iso(self.heartbeat_at),
        }


class RuleRow(Base):
    """A mined (or imported) business rule with every measure of ``Rule.to_dict``."""

    __tablename__ = "business_rules"
    __table_args__ = (
        UniqueConstraint(
            "project_id", "rule_key", "algorithm", name="uq_business_rules_project_key_algorithm"
        ),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("business_logic_analysis_history.job_id", ondelete="SET NULL")
    )
    algorithm: Mapped[str] = mapped_column(String(64))
    rule_type: Mapped[str] = mapped_column(String(64))
    rule_key: Mapped[str] = mapped_column(Text())
    pattern: Mapped[str] = mapped_column(Text())
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(json_column_type(), nullable=False)
    consequent: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)
    support_count: Mapped[int] = mapped_column(Integer())
    support: Mapped[float] = mapped_column(Float())
    antecedent_count: Mapped[int] = mapped_column(Integer())
    consequent_count: Mapped[int] = mapped_column(Integer())
    n_records: Mapped[int] = mapped_column(Integer())
    confidence: Mapped[float] = mapped_column(Float())
    lift: Mapped[float | None] = mapped_column(Float())  # NULL = infinite
    leverage: Mapped[float] = mapped_column(Float())
    conviction: Mapped[float | None] = mapped_column(Float())  # NULL with conviction_infinite
    conviction_infinite: Mapped[bool] = mapped_column(Boolean(), default=False)
    p_value: Mapped[float] = mapped_column(Float())
    q_value: Mapped[float] = mapped_column(Float())
    pmi: Mapped[float | None] = mapped_column(Float())
    npmi: Mapped[float] = mapped_column(Float())
    holdout_confidence: Mapped[float | None] = mapped_column(Float())
    holdout_support_count: Mapped[int | None] = mapped_column(Integer())
    holdout_antecedent_count: Mapped[int | None] = mapped_column(Integer())
    validation_confidence: Mapped[float | None] = mapped_column(Float())
    validation_antecedent_count: Mapped[int | None] = mapped_column(Integer())
    score: Mapped[float | None] = mapped_column(Float())  # NULL: stored before revision 0003
    algorithms: Mapped[list[str] | None] = mapped_column(json_column_type())
    examples: Mapped[list[str]] = mapped_column(json_column_type(), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean(), default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    # The last expert edit (confidence, toggle) and its author (revision 0004): a
    # curated rule is never deleted by a re-run, nor its confidence / is_active reset.
    curated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    curated_by: Mapped[str | None] = mapped_column(String(255))

    def measures(self) -> dict[str, Any]:
        """The rule in the shape of ``Rule.to_dict`` (so ``Rule.from_dict`` reads it)."""
        return {
            "algorithm": self.algorithm,
            "rule_type": self.rule_type,
            "pattern": self.pattern,
            "key": self.rule_key,
            "conditions": self.conditions,
            "consequent": self.consequent,
            "support_count": self.support_count,
            "support": self.support,
            "antecedent_count": self.antecedent_count,
            "consequent_count": self.consequent_count,
            "n_records": self.n_records,
            "confidence": self.confidence,
            "lift": self.lift,
            "leverage": self.leverage,
            "conviction": self.conviction,
            "conviction_infinite": self.conviction_infinite,
            "p_value": self.p_value,
            "q_value": self.q_value,
            "pmi": self.pmi,
            "npmi": self.npmi,
            "holdout_confidence": self.holdout_confidence,
            "holdout_support_count": self.holdout_support_count,
            "holdout_antecedent_count": self.holdout_antecedent_count,
            "validation_confidence": self.validation_confidence,
            "validation_antecedent_count": self.validation_antecedent_count,
            "score": self.score if self.score is not None else 0.0,
            "algorithms": self.algorithms or [self.algorithm],
            "examples": self.examples,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "job_id": self.job_id,
            **self.measures(),
            "is_active": self.is_active,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "curated_at": _iso(self.curated_at),
            "curated_by": self.curated_by,
        }


# The maintenance job REINDEXes this one by name (DESIGN §5); rules are listed by
# confidence, highest first, within a project.
Index("idx_business_rules_project_confidence", RuleRow.project_id, RuleRow.confidence.desc())


class PatternRow(Base):
    """A pattern of the latest run of its algorithm (patterns carry no curated state)."""

    __tablename__ = "business_patterns"
    __table_args__ = (Index("idx_business_patterns_project_type", "project_id", "pattern_type"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("business_logic_analysis_history.job_id", ondelete="SET NULL")
    )
    algorithm: Mapped[str] = mapped_column(String(64))
    pattern_type: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text())
    strength: Mapped[float] = mapped_column(Float())
    data: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "job_id": self.job_id,
            "algorithm": self.algorithm,
            "pattern_type": self.pattern_type,
            "description": self.description,
            "strength": self.strength,
            "data": self.data,
            "created_at": _iso(self.created_at),
        }


class InsightRow(Base):
    """A generated insight; ``insight_key`` identifies it across runs (see results.py)."""

    __tablename__ = "business_insights"
    __table_args__ = (
        UniqueConstraint(
            "project_id",
            "insight_key",
            "algorithm",
            name="uq_business_insights_project_key_algorithm",
        ),
        Index("idx_business_insights_project_type", "project_id", "insight_type"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("business_logic_analysis_history.job_id", ondelete="SET NULL")
    )
    algorithm: Mapped[str] = mapped_column(String(64))
    insight_key: Mapped[str] = mapped_column(String(64))
    insight_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text())
    description: Mapped[str] = mapped_column(Text())
    impact_score: Mapped[float] = mapped_column(Float())
    recommendations: Mapped[list[str]] = mapped_column(json_column_type(), nullable=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)
    # Revision 0009. The language of title, description and recommendations (the
    # run's); NULL for a row stored earlier whose job no longer says (docs/storage.md).
    lang: Mapped[str | None] = mapped_column(String(8))
    # Revision 0009. The finding in every language, rendered from the same figures:
    # {"en": {title, description, recommendations}, "zh": {...}}; NULL before it.
    translations: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())
    acknowledged: Mapped[bool] = mapped_column(Boolean(), default=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "job_id": self.job_id,
            "algorithm": self.algorithm,
            "insight_type": self.insight_type,
            "title": self.title,
            "description": self.description,
            "impact_score": self.impact_score,
            "recommendations": self.recommendations,
            "evidence": self.evidence,
            "acknowledged": self.acknowledged,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": _iso(self.acknowledged_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }

    def as_dict_in(self, lang: str) -> dict[str, Any]:
        """``as_dict`` worded in ``lang`` where the row has that rendering, plus ``lang``:
        the language of the text shown (the stored one's otherwise, NULL if unknown)."""
        shown = self.as_dict()
        text = (self.translations or {}).get(lang)
        if text is None:
            shown["lang"] = self.lang
            return shown
        shown.update(
            title=text["title"],
            description=text["description"],
            recommendations=list(text["recommendations"]),
            lang=lang,
        )
        return shown


class RuleApplication(Base):
    """A rule copied (or re-measured: ``adapt``) from one project onto another."""

    __tablename__ = "business_rule_applications"
    __table_args__ = (
        CheckConstraint(_in("mode", APPLICATION_MODES), name="mode"),
        Index("idx_rule_applications_target_applied", "target_project_id", "applied_at"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    # SET NULL: the application stays on record after the rule is deleted; rule_key says which.
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_rules.id", ondelete="SET NULL")
    )
    rule_key: Mapped[str] = mapped_column(Text())
    source_project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    target_project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(8))
    result: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)
    applied_by: Mapped[str | None] = mapped_column(String(255))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "rule_key": self.rule_key,
            "source_project_id": self.source_project_id,
            "target_project_id": self.target_project_id,
            "mode": self.mode,
            "result": self.result,
            "applied_by": self.applied_by,
            "applied_at": _iso(self.applied_at),
        }


class RecoveryEvent(Base):
    """One alert seen by auto-recovery and what was (or would have been) done about it."""

    __tablename__ = "recovery_events"
    __table_args__ = (
        Index("idx_recovery_events_created", "created_at"),
        Index("idx_recovery_events_action_created", "action", "created_at"),
        Index("idx_recovery_events_type_created", "failure_type", "created_at"),
        Index("uq_recovery_events_dedup_key", "dedup_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(32))  # the trigger: detector, alertmanager, manual
    failure_type: Mapped[str | None] = mapped_column(String(64))
    dedup_key: Mapped[str | None] = mapped_column(String(320))  # alerts: fingerprint|startsAt|state
    alert_name: Mapped[str | None] = mapped_column(String(255))
    fingerprint: Mapped[str | None] = mapped_column(String(255))
    severity: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))  # memory/CPU: the host concerned
    status: Mapped[str] = mapped_column(String(32))
    dry_run: Mapped[bool] = mapped_column(Boolean(), default=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())
    error: Mapped[str | None] = mapped_column(Text())


class MaintenanceRun(Base):
    """One run of a maintenance task (kind/action), its outcome and what it touched."""

    __tablename__ = "maintenance_runs"
    __table_args__ = (Index("idx_maintenance_runs_kind_started", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    dry_run: Mapped[bool] = mapped_column(Boolean(), default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())
    error: Mapped[str | None] = mapped_column(Text())


class UncountedJobEnd(Base):
    """A job that ended and is not yet counted in ``bl_jobs_total`` (revision 0006).

    Written in the transaction of the job's final transition, whichever process
    wins it (worker, API, reconciler, recovery); an API process deletes it when
    it counts it, just before rendering a scrape (``bizlogic.jobs.end_counts``).
    No foreign key: pruning or deleting the job record must not lose its count.
    """

    __tablename__ = "uncounted_job_ends"
    __table_args__ = (CheckConstraint(_in("status", FINISHED_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class AuditEvent(Base):
    """Who changed what through the API (revision 0007; ``bizlogic.store.audit``).

    Written in the transaction of the change where the route's store call allows
    it, so an event exists exactly when its change does. No foreign key to
    ``projects``: the trail must outlive whatever it describes.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("idx_audit_events_created", "created_at"),
        Index("idx_audit_events_project_created", "project_id", "created_at"),
        Index("idx_audit_events_action_created", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    user_id: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(PROJECT_ID_MAX))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "user_id": self.user_id,
            "role": self.role,
            "action": self.action,
            "project_id": self.project_id,
            "target": self.target,
            "details": self.details,
        }


class SigninLink(Base):
    """A one-time console sign-in link (revision 0008): what the token will grant, not the
    token — it is signed when the link is used, so no bearer token rests in the database.
    Only the SHA-256 of the link's code is kept."""

    __tablename__ = "signin_links"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    projects: Mapped[list[str] | None] = mapped_column(json_column_type())
    ttl_s: Mapped[int] = mapped_column(Integer())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CapacitySample(Base):
    """One measurement of one resource (revision 0010; ``bizlogic.ops.capacity``).

    ``scope`` is ``deployment`` for shared resources and the host name for a host's
    own; ``item`` names the table, filesystem or queue ('' when there is one);
    ``limit_value`` is the resource's limit at that time, where it has one.
    """

    __tablename__ = "capacity_samples"
    __table_args__ = (
        Index("idx_capacity_samples_series", "resource", "item", "scope", "taken_at"),
        Index("idx_capacity_samples_taken", "taken_at"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    scope: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(64))
    item: Mapped[str] = mapped_column(String(255), default="")
    value: Mapped[float] = mapped_column(Float())
    limit_value: Mapped[float | None] = mapped_column(Float())


class OpsReport(Base):
    """A document of the operations routine (revision 0010; ``bizlogic.store.ops_reports``):
    a periodic report, a drill or a tuner run, kept so the next report can compare."""

    __tablename__ = "ops_reports"
    __table_args__ = (Index("idx_ops_reports_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    host: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    summary: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(json_column_type(), nullable=False)

    def as_dict(self, *, with_body: bool = False) -> dict[str, Any]:
        found = {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "created_at": _iso(self.created_at),
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "host": self.host,
            "status": self.status,
            "summary": self.summary,
        }
        if with_body:
            found["body"] = self.body
        return found


TABLE_NAMES = tuple(sorted(Base.metadata.tables))
