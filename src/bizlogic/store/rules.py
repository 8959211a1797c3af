"""Reading and curating stored rules, and recording rule applications."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, select
from sqlalchemy.orm import Session

from bizlogic.store import clock
from bizlogic.store.errors import NotFoundError
from bizlogic.store.paging import fetch_page
from bizlogic.store.projects import get_or_create_project
from bizlogic.store.tables import APPLICATION_MODES, RuleApplication, RuleRow

# Sortable columns. NULL lift means infinite lift, so NULLs sort as the largest values;
# NULL score means "not scored" (imported, or stored before revision 0003): the smallest.
RULE_SORTS = {
    "score": RuleRow.score,
    "confidence": RuleRow.confidence,
    "support": RuleRow.support,
    "support_count": RuleRow.support_count,
    "lift": RuleRow.lift,
    "leverage": RuleRow.leverage,
    "q_value": RuleRow.q_value,
    "created_at": RuleRow.created_at,
    "updated_at": RuleRow.updated_at,
    "id": RuleRow.id,
}


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a number between 0 and 1, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: must be between 0 and 1, got {value!r}")
    return float(value)


def _has_condition_on(session: Session, field: str) -> ColumnElement[bool]:
    """Rules with a condition on ``field``: an element of ``conditions`` (a JSON array of
    ``{field, operator, value}``) whose ``field`` is it — matched in the database on
    both backends, so the total and the paging stay exact."""
    if session.get_bind().dialect.name == "postgresql":
        elements = func.json_array_elements(RuleRow.conditions).table_valued("value").alias("c")
        named = elements.c.value.op("->>")(literal("field"))
    else:  # SQLite's JSON1, built into every SQLite we support
        elements = func.json_each(RuleRow.conditions).table_valued("value").alias("c")
        named = func.json_extract(elements.c.value, "$.field")
    return exists(select(1).select_from(elements).where(named == field))


def list_rules(
    session: Session,
    project_id: str,
    *,
    rule_type: str | None = None,
    algorithm: str | None = None,
    field: str | None = None,
    q: str | None = None,
    active_only: bool = False,
    min_confidence: float | None = None,
    sort: str = "score",
    order: str = "desc",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[RuleRow], int]:
    """A page of the project's rules and the number matching the filters.

    ``algorithm`` is exact, ``field`` keeps rules with a condition on that field,
    ``q`` is a case-insensitive substring of the rule's ``pattern`` text (its
    conditions and consequent; PostgreSQL folds every letter's case, SQLite only
    ASCII letters'). Ties in the sort column are broken by id, ascending, so pages
    never overlap or skip rows.
    """
    column = RULE_SORTS.get(sort)
    if column is None:
        raise ValueError(f"sort: must be one of {', '.join(RULE_SORTS)}, got {sort!r}")
    if order not in ("asc", "desc"):
        raise ValueError(f"order: must be asc or desc, got {order!r}")
    statement = select(RuleRow).where(RuleRow.project_id == project_id)
    if rule_type is not None:
        statement = statement.where(RuleRow.rule_type == rule_type)
    if algorithm is not None:
        statement = statement.where(RuleRow.algorithm == algorithm)
    if field is not None:
        statement = statement.where(_has_condition_on(session, field))
    if q is not None:
        statement = statement.where(RuleRow.pattern.icontains(q, autoescape=True))
    if active_only:
        statement = statement.where(RuleRow.is_active.is_(True))
    if min_confidence is not None:
        threshold = _check_fraction("min_confidence", min_confidence)
        statement = statement.where(RuleRow.confidence >= threshold)
    null_largest = sort != "score"
    if order == "desc":
        primary = column.desc().nulls_first() if null_largest else column.desc().nulls_last()
    else:
        primary = column.asc().nulls_last() if null_largest else column.asc().nulls_first()
    return fetch_page(session, statement, [primary, RuleRow.id.asc()], limit, offset)


def get_rule(session: Session, rule_id: int) -> RuleRow:
    row = session.get(RuleRow, rule_id)
    if row is None:
        raise NotFoundError("rule", rule_id)
    return row


def _curate(row: RuleRow, curated_by: str | None) -> None:
    """Stamp an expert edit: from now on re-runs keep the rule and its curated values."""
    now = clock.utcnow()
    row.updated_at = now
    row.curated_at = now
    row.curated_by = curated_by


def toggle_rule(
    session: Session, rule_id: int, active: bool | None = None, *, curated_by: str | None = None
) -> RuleRow:
    """Flip ``is_active`` (or set it to ``active``); marks the rule curated by ``curated_by``,
    so the flag survives re-runs and the rule is never deleted by one."""
    row = get_rule(session, rule_id)
    row.is_active = (not row.is_active) if active is None else bool(active)
    _curate(row, curated_by)
    session.flush()
    return row


def set_rule_confidence(
    session: Session, rule_id: int, confidence: float, *, curated_by: str | None = None
) -> RuleRow:
    """Overwrite a rule's confidence (0..1); marks the rule curated by ``curated_by``, so
    re-runs keep this confidence (and the rule) instead of re-measuring it."""
    value = _check_fraction("confidence", confidence)
    row = get_rule(session, rule_id)
    row.confidence = value
    _curate(row, curated_by)
    session.flush()
    return row


def delete_rule(session: Session, rule_id: int) -> RuleRow:
    """Delete a rule; returns the (now detached) row so callers can log what went."""
    row = get_rule(session, rule_id)
    session.delete(row)
    session.flush()
    return row


def record_rule_application(
    session: Session,
    rule_id: int,
    target_project_id: str,
    mode: str,
    result: dict[str, Any],
    applied_by: str | None = None,
) -> RuleApplication:
    """Record that a stored rule was applied to another project (``copy`` or ``adapt``)."""
    if mode not in APPLICATION_MODES:
        raise ValueError(f"mode: must be one of {', '.join(APPLICATION_MODES)}, got {mode!r}")
    rule = get_rule(session, rule_id)
    get_or_create_project(session, target_project_id)
    application = RuleApplication(
        rule_id=rule.id,
        rule_key=rule.rule_key,
        source_project_id=rule.project_id,
        target_project_id=target_project_id,
        mode=mode,
        result=result,
        applied_by=applied_by,
        applied_at=clock.utcnow(),
    )
    session.add(application)
    session.flush()
    return application


def list_rule_applications(
    session: Session, target_project_id: str, *, limit: int = 100, offset: int = 0
) -> tuple[list[RuleApplication], int]:
    """Applications onto a project, newest first."""
    statement = select(RuleApplication).where(
        RuleApplication.target_project_id == target_project_id
    )
    order = [RuleApplication.applied_at.desc(), RuleApplication.id.desc()]
    return fetch_page(session, statement, order, limit, offset)
