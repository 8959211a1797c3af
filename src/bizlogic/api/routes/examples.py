"""The records behind a rule: its stored examples, read back with their text.

A rule keeps the ids of a few records it matched (``examples``); an expert
judging the rule wants to read them, with the words the rule is about, so the
answer carries the rule's keyword values next to the records.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from bizlogic.api.auth import Permission, Principal, not_found, require, require_project_access
from bizlogic.api.state import AppState, app_state
from bizlogic.api.types import RowId
from bizlogic.store import rules as rule_store
from bizlogic.store.errors import NotFoundError
from bizlogic.store.tables import AnnotationRow

router = APIRouter(prefix="/api/business-logic", tags=["rules"])
TEXT_FIELDS = ("text", "keywords")


def _examples(state: AppState, principal: Principal, rule_id: int) -> dict[str, Any]:
    missing = not_found(f"rule {rule_id} not found")
    with state.db.scope() as session:
        try:
            rule = rule_store.get_rule(session, rule_id)
        except NotFoundError:
            raise missing from None
        require_project_access(principal, rule.project_id, missing=missing)
        ids = [str(i) for i in rule.examples]
        rows = session.scalars(
            select(AnnotationRow)
            .where(AnnotationRow.project_id == rule.project_id)
            .where(AnnotationRow.id.in_(ids))
        ).all()
        found = {row.id: row for row in rows}
        records = [_record(found[i]) for i in ids if i in found]
        return {
            "rule_id": rule.id,
            "project_id": rule.project_id,
            "pattern": rule.pattern,
            "keywords": [
                str(c["value"])
                for c in rule.conditions
                if c.get("field") in TEXT_FIELDS and isinstance(c.get("value"), str)
            ],
            "examples": records,
            "missing": [i for i in ids if i not in found],
        }


def _record(row: AnnotationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "text": row.text,
        "sentiment": row.sentiment,
        "label": row.label,
        "rating": row.rating,
        "annotator": row.annotator,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


@router.get("/rules/{rule_id}/examples")
async def rule_examples(
    rule_id: RowId,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.VIEW_RULES))],
) -> dict[str, Any]:
    """``missing``: example ids whose records were deleted or re-imported under other ids."""
    return await run_in_threadpool(_examples, state, principal, rule_id)
