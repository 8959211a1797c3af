"""Reading stored insights and acknowledging them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bizlogic.store import clock
from bizlogic.store.errors import NotFoundError
from bizlogic.store.paging import fetch_page
from bizlogic.store.tables import InsightRow


def list_insights(
    session: Session,
    project_id: str,
    *,
    insight_type: str | None = None,
    unacknowledged_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[InsightRow], int]:
    """A page of insights, highest impact first (ties by id), and the number matching."""
    statement = select(InsightRow).where(InsightRow.project_id == project_id)
    if insight_type is not None:
        statement = statement.where(InsightRow.insight_type == insight_type)
    if unacknowledged_only:
        statement = statement.where(InsightRow.acknowledged.is_(False))
    order = [InsightRow.impact_score.desc(), InsightRow.id.asc()]
    return fetch_page(session, statement, order, limit, offset)


def get_insight(session: Session, insight_id: int) -> InsightRow:
    row = session.get(InsightRow, insight_id)
    if row is None:
        raise NotFoundError("insight", insight_id)
    return row


def acknowledge_insight(session: Session, insight_id: int, user: str) -> InsightRow:
    """Mark an insight acknowledged by ``user`` now.

    Idempotent: acknowledging again keeps the first who and when, which is
    the fact worth recording (who saw it first), and re-runs keep it too.
    """
    if not isinstance(user, str) or not user.strip():
        raise ValueError("user: the acknowledging user is required")
    row = get_insight(session, insight_id)
    if not row.acknowledged:
        now = clock.utcnow()
        row.acknowledged = True
        row.acknowledged_by = user
        row.acknowledged_at = now
        row.updated_at = now
        session.flush()
    return row
