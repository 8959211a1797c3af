"""Projects: creation on first use and the per-project statistics of ``GET /stats``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bizlogic.records.schema import format_timestamp
from bizlogic.store import clock
from bizlogic.store.dialect import upsert_insert
from bizlogic.store.errors import NotFoundError
from bizlogic.store.tables import (
    PROJECT_ID_MAX,
    AnalysisJob,
    AnnotationRow,
    InsightRow,
    PatternRow,
    ProjectRow,
    RuleRow,
)


def validate_project_id(project_id: str) -> str:
    """Project ids are labels in metrics and URLs: non-empty, bounded, no surrounding space."""
    if not isinstance(project_id, str) or not project_id.strip():
        raise ValueError("project_id: must be a non-empty string")
    if project_id != project_id.strip():
        raise ValueError("project_id: must not start or end with whitespace")
    try:
        project_id.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("project_id: not valid Unicode (lone surrogate)") from None
    if len(project_id) > PROJECT_ID_MAX:
        raise ValueError(f"project_id: longer than {PROJECT_ID_MAX} characters")
    return project_id


def get_or_create_project(session: Session, project_id: str, name: str | None = None) -> ProjectRow:
    """The project row, inserted if missing; safe when two requests create it at once."""
    validate_project_id(project_id)
    row = session.get(ProjectRow, project_id)
    if row is not None:
        return row
    now = clock.utcnow()
    statement = (
        upsert_insert(session, ProjectRow.__table__)
        .values(id=project_id, name=name, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    session.execute(statement)
    row = session.get(ProjectRow, project_id)
    assert row is not None  # inserted above or by a concurrent transaction that committed
    return row


def touch_project(session: Session, project_id: str) -> None:
    """Record that the project's data or results changed."""
    row = session.get(ProjectRow, project_id)
    if row is not None:
        row.updated_at = clock.utcnow()


def _iso(value: Any) -> str | None:
    return None if value is None else format_timestamp(value)


def _counts_by(session: Session, column: Any, *where: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column))
    return {str(key): int(count) for key, count in rows}


def project_stats(session: Session, project_id: str) -> dict[str, Any]:
    """Counts and figures over everything stored for a project; NotFoundError if unknown."""
    project = session.get(ProjectRow, project_id)
    if project is None:
        raise NotFoundError("project", project_id)
    records = session.execute(
        select(
            func.count(),
            func.count(func.distinct(AnnotationRow.annotator)),
            func.min(AnnotationRow.created_at),
            func.max(AnnotationRow.created_at),
            func.max(AnnotationRow.updated_at),
        ).where(AnnotationRow.project_id == project_id)
    ).one()
    active = RuleRow.is_active.is_(True)
    rules = session.execute(
        select(
            func.count(), func.count().filter(active), func.avg(RuleRow.confidence).filter(active)
        ).where(RuleRow.project_id == project_id)
    ).one()
    unacknowledged = session.scalar(
        select(func.count()).where(
            InsightRow.project_id == project_id, InsightRow.acknowledged.is_(False)
        )
    )
    rule_types = _counts_by(session, RuleRow.rule_type, RuleRow.project_id == project_id)
    pattern_types = _counts_by(
        session, PatternRow.pattern_type, PatternRow.project_id == project_id
    )
    insight_types = _counts_by(
        session, InsightRow.insight_type, InsightRow.project_id == project_id
    )
    job_statuses = _counts_by(session, AnalysisJob.status, AnalysisJob.project_id == project_id)
    last = session.scalars(
        select(AnalysisJob)
        .where(AnalysisJob.project_id == project_id, AnalysisJob.status == "completed")
        .order_by(AnalysisJob.finished_at.desc(), AnalysisJob.job_id)
        .limit(1)
    ).first()
    return {
        "project_id": project.id,
        "name": project.name,
        "created_at": _iso(project.created_at),
        "updated_at": _iso(project.updated_at),
        "records": {
            "total": records[0],
            "annotators": records[1],
            "first_created_at": _iso(records[2]),
            "last_created_at": _iso(records[3]),
            "last_imported_at": _iso(records[4]),
        },
        "rules": {
            "total": rules[0],
            "active": rules[1],
            "mean_active_confidence": None if rules[2] is None else float(rules[2]),
            "by_type": rule_types,
        },
        "patterns": {"total": sum(pattern_types.values()), "by_type": pattern_types},
        "insights": {
            "total": sum(insight_types.values()),
            "unacknowledged": unacknowledged or 0,
            "by_type": insight_types,
        },
        "jobs": {
            "by_status": job_statuses,
            "last_completed": None
            if last is None
            else {
                "job_id": last.job_id,
                "finished_at": _iso(last.finished_at),
                "results": last.results,
            },
        },
    }
