"""Reads across projects for the console's listings: projects with their counts, and
recent jobs.

Both take the set of projects a token may see (``None``: all) and never issue
a query per project: each count kind is one ``GROUP BY`` over the listed page.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bizlogic.records.schema import format_timestamp
from bizlogic.store.paging import check_page
from bizlogic.store.tables import (
    AnalysisJob,
    AnnotationRow,
    InsightRow,
    PatternRow,
    ProjectRow,
    RuleRow,
)


def _iso(value: Any) -> str | None:
    return None if value is None else format_timestamp(value)


def _within(column: Any, project_ids: Collection[str] | None) -> list[ColumnElement[bool]]:
    return [] if project_ids is None else [column.in_(sorted(project_ids))]


def _counts(
    session: Session, column: Any, ids: list[str], *measures: Any
) -> dict[str, tuple[Any, ...]]:
    """``project id → (measure, …)`` for ``ids`` in one grouped query."""
    rows = session.execute(select(column, *measures).where(column.in_(ids)).group_by(column)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _last_jobs(session: Session, ids: list[str]) -> dict[str, AnalysisJob]:
    """The newest job of each project in ``ids`` (any status), in one query."""
    rank = (
        func.row_number()
        .over(
            partition_by=AnalysisJob.project_id,
            order_by=[AnalysisJob.created_at.desc(), AnalysisJob.job_id],
        )
        .label("rank")
    )
    ranked = (
        select(AnalysisJob.job_id.label("job_id"), rank)
        .where(AnalysisJob.project_id.in_(ids))
        .subquery()
    )
    jobs = session.scalars(
        select(AnalysisJob)
        .join(ranked, ranked.c.job_id == AnalysisJob.job_id)
        .where(ranked.c.rank == 1)
    )
    return {job.project_id: job for job in jobs}


def list_projects(
    session: Session,
    project_ids: Collection[str] | None = None,
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of projects (by id) with their record, rule, pattern and insight counts and
    latest analysis, and how many projects there are; ``project_ids`` limits what is seen.

    Five queries per page whatever its size: the page, then one per count kind.
    """
    check_page(limit, offset)
    statement = select(ProjectRow.id).where(*_within(ProjectRow.id, project_ids))
    total = int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    ids = list(session.scalars(statement.order_by(ProjectRow.id).limit(limit).offset(offset)))
    if not ids:
        return [], total
    records = _counts(session, AnnotationRow.project_id, ids, func.count())
    rules = _counts(
        session,
        RuleRow.project_id,
        ids,
        func.count(),
        func.count().filter(RuleRow.is_active.is_(True)),
    )
    patterns = _counts(session, PatternRow.project_id, ids, func.count())
    insights = _counts(
        session,
        InsightRow.project_id,
        ids,
        func.count(),
        func.count().filter(InsightRow.acknowledged.is_(False)),
    )
    last = _last_jobs(session, ids)
    items = []
    for project_id in ids:
        rule_counts = rules.get(project_id, (0, 0))
        insight_counts = insights.get(project_id, (0, 0))
        job = last.get(project_id)
        items.append(
            {
                "project_id": project_id,
                "records": int(records.get(project_id, (0,))[0]),
                "rules": int(rule_counts[0]),
                "active_rules": int(rule_counts[1]),
                "patterns": int(patterns.get(project_id, (0,))[0]),
                "insights": int(insight_counts[0]),
                "open_insights": int(insight_counts[1]),
                "last_analysis": None
                if job is None
                else {
                    "job_id": job.job_id,
                    "status": job.status,
                    "created_at": _iso(job.created_at),
                    "finished_at": _iso(job.finished_at),
                },
            }
        )
    return items, total

