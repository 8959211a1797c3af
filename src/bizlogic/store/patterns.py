"""Reading stored patterns (they have no curated state; re-runs replace them)."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from bizlogic.store.paging import fetch_page
from bizlogic.store.tables import PatternRow


def list_patterns(
    session: Session,
    project_id: str,
    *,
    pattern_type: str | None = None,
    min_strength: float | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[PatternRow], int]:
    """A page of patterns, strongest first (ties by id), and the number matching."""
    statement = select(PatternRow).where(PatternRow.project_id == project_id)
    if pattern_type is not None:
        statement = statement.where(PatternRow.pattern_type == pattern_type)
    if min_strength is not None:
        if (
            isinstance(min_strength, bool)
            or not isinstance(min_strength, int | float)
            or not math.isfinite(min_strength)
        ):
            raise ValueError(f"min_strength: must be a finite number, got {min_strength!r}")
        statement = statement.where(PatternRow.strength >= float(min_strength))
    order = [PatternRow.strength.desc(), PatternRow.id.asc()]
    return fetch_page(session, statement, order, limit, offset)
