"""Read and curate stored results: rules, patterns, insights, stats.

Reads go through the per-project versioned cache; every write bumps the
project's version so the next read is fresh. Every write adds its audit event
(``store/audit.py``) in the transaction of the change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from bizlogic.api.auth import (
    Permission,
    Principal,
    not_found,
    project_not_found,
    require,
    require_project,
    require_project_access,
)
from bizlogic.api.cached import cached_json
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.api.types import Limit, Offset, RowId
from bizlogic.mining.model import InsightLang
from bizlogic.store import audit
from bizlogic.store import insights as insight_store
from bizlogic.store import patterns as pattern_store
from bizlogic.store import rules as rule_store
from bizlogic.store.errors import NotFoundError
from bizlogic.store.projects import project_stats
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["results"])


def _from_db(state: AppState, read: Callable[[Session], Any]) -> Callable[[], Any]:
    def compute() -> Any:
        with state.db.scope() as session:
            return read(session)

    return compute


def _page(rows: list[Any], total: int, limit: int, offset: int, key: str) -> dict[str, Any]:
    return {key: [row.as_dict() for row in rows], "total": total, "limit": limit, "offset": offset}


async def _cached_page(
    state: AppState,
    project_id: str,
    key: str,
    lister: Callable[..., tuple[list[Any], int]],
    params: dict[str, Any],
) -> Response:
    """One cached, paged listing: ``lister(session, project_id, **params)`` on a miss."""

    def read(session: Session) -> dict[str, Any]:
        rows, total = lister(session, project_id, **params)
        return _page(rows, total, params["limit"], params["offset"], key)

    return await cached_json(state, project_id, key, params, _from_db(state, read))


@router.get("/rules/{project_id}")
async def list_rules(
    project_id: str,
    state: Annotated[AppState, Depends(app_state)],
    _: Annotated[Principal, Depends(require_project(Permission.VIEW_RULES))],
    rule_type: str | None = None,
    algorithm: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    field: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
    active_only: bool = False,
    min_confidence: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    sort: Literal["score", "confidence", "support", "lift", "created_at"] = "score",
    order: Literal["asc", "desc"] = "desc",
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """A page of the project's rules; ``algorithm`` (exact), ``field`` (a condition on it)
    and ``q`` (substring of the pattern, any case) narrow it, and ``total`` counts them."""
    params = {
        "rule_type": rule_type,
        "algorithm": algorithm,
        "field": field,
        "q": q,
        "active_only": active_only,
        "min_confidence": min_confidence,
        "sort": sort,
        "order": order,
        "limit": limit,
        "offset": offset,
    }

    return await _cached_page(state, project_id, "rules", rule_store.list_rules, params)


@router.get("/patterns/{project_id}")
async def list_patterns(
    project_id: str,
    state: Annotated[AppState, Depends(app_state)],
    _: Annotated[Principal, Depends(require_project(Permission.VIEW_PATTERNS))],
    pattern_type: str | None = None,
    min_strength: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    params = {
        "pattern_type": pattern_type,
        "min_strength": min_strength,
        "limit": limit,
        "offset": offset,
    }

    return await _cached_page(state, project_id, "patterns", pattern_store.list_patterns, params)


@router.get("/insights/{project_id}")
async def list_insights(
    project_id: str,
    state: Annotated[AppState, Depends(app_state)],
    _: Annotated[Principal, Depends(require_project(Permission.VIEW_INSIGHTS))],
    insight_type: str | None = None,
    unacknowledged_only: bool = False,
    lang: InsightLang | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """A page of the project's insights, highest impact first.

    With ``lang`` each insight is worded in that language and says so in its
    ``lang`` field; an insight stored before revision 0009 has only its stored
    wording, shown with the language it is in (null if unknown).
    """
    params = {
        "insight_type": insight_type,
        "unacknowledged_only": unacknowledged_only,
        "lang": lang,
        "limit": limit,
        "offset": offset,
    }

    def read(session: Session) -> dict[str, Any]:
        rows, total = insight_store.list_insights(
            session,
            project_id,
            insight_type=insight_type,
            unacknowledged_only=unacknowledged_only,
            limit=limit,
            offset=offset,
        )
        shown = [row.as_dict() if lang is None else row.as_dict_in(lang) for row in rows]
        return {"insights": shown, "total": total, "limit": limit, "offset": offset}

    return await cached_json(state, project_id, "insights", params, _from_db(state, read))


@router.get("/stats/{project_id}")
async def stats(
    project_id: str,
    state: Annotated[AppState, Depends(app_state)],
    _: Annotated[
        Principal, Depends(require_project(Permission.VIEW_STATS, missing=project_not_found))
    ],
) -> dict[str, Any]:
    try:
        return await cached_json(
            state, project_id, "stats", {}, _from_db(state, lambda s: project_stats(s, project_id))
        )
    except NotFoundError:
        raise project_not_found(project_id) from None


# --- writes -------------------------------------------------------------------


AuditDetails = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


def _write(
    state: AppState,
    principal: Principal,
    kind: str,
    key: int,
    lookup: Callable[[Session, int], Any],
    change: Callable[[Session], Any],
    action: str,
    details: AuditDetails,
) -> Any:
    """Check the row's project against the token, apply ``change`` and record ``action``
    (``details(before, after)``, the row as it was and is) in the same transaction, then
    invalidate the cache.

    A row of a project outside the token is answered as missing (docs/auth.md).
    """
    missing = not_found(f"{kind} {key} not found")
    try:
        with state.db.scope() as session:
            found = lookup(session, key)
            project_id = found.project_id
            require_project_access(principal, project_id, missing=missing)
            before = found.as_dict()
            row = change(session)
            result = row.as_dict() if hasattr(row, "as_dict") else row
            audit.record(
                session,
                principal,
                action,
                project_id=project_id,
                target=key,
                details=details(before, result),
            )
    except NotFoundError:
        raise missing from None
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
    state.cache.invalidate_project(project_id)
    return result


class ConfidenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(ge=0.0, le=1.0)


class ToggleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    is_active: bool | None = None  # omitted: flip the current state


@router.put("/rules/{rule_id}/confidence")
async def set_confidence(
    rule_id: RowId,
    body: ConfidenceUpdate,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.MANAGE_RULES))],
) -> dict[str, Any]:
    result = await run_in_threadpool(
        _write,
        state,
        principal,
        "rule",
        rule_id,
        rule_store.get_rule,
        lambda s: rule_store.set_rule_confidence(
            s, rule_id, body.confidence, curated_by=principal.user_id
        ),
        "rule.confidence",
        lambda before, after: {"before": before["confidence"], "after": after["confidence"]},
    )
    log_user_action(
        principal.user_id, "set_rule_confidence", f"rule:{rule_id}", {"confidence": body.confidence}
    )
    return result


@router.post("/rules/{rule_id}/toggle")
async def toggle(
    rule_id: RowId,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.MANAGE_RULES))],
    body: ToggleRequest | None = None,
) -> dict[str, Any]:
    active = body.is_active if body is not None else None
    result = await run_in_threadpool(
        _write,
        state,
        principal,
        "rule",
        rule_id,
        rule_store.get_rule,
        lambda s: rule_store.toggle_rule(s, rule_id, active, curated_by=principal.user_id),
        "rule.toggle",
        lambda before, after: {"before": before["is_active"], "after": after["is_active"]},
    )
    log_user_action(
        principal.user_id, "toggle_rule", f"rule:{rule_id}", {"is_active": result["is_active"]}
    )
    return result


@router.delete("/rules/{rule_id}")
async def delete(
    rule_id: RowId,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.MANAGE_RULES))],
) -> dict[str, Any]:
    result = await run_in_threadpool(
        _write,
        state,
        principal,
        "rule",
        rule_id,
        rule_store.get_rule,
        lambda s: rule_store.delete_rule(s, rule_id),
        "rule.delete",
        lambda before, _: {
            "rule_key": before["key"],
            "algorithm": before["algorithm"],
            "pattern": before["pattern"],
        },
    )
    log_user_action(principal.user_id, "delete_rule", f"rule:{rule_id}", {})
    return {"deleted": rule_id, "rule": result}


@router.post("/insights/{insight_id}/acknowledge")
async def acknowledge(
    insight_id: RowId,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.ANALYZE_DATA))],
) -> dict[str, Any]:
    result = await run_in_threadpool(
        _write,
        state,
        principal,
        "insight",
        insight_id,
        insight_store.get_insight,
        lambda s: insight_store.acknowledge_insight(s, insight_id, principal.user_id),
        "insight.acknowledge",
        lambda before, after: {"before": before["acknowledged"], "after": after["acknowledged"]},
    )
    log_user_action(principal.user_id, "acknowledge_insight", f"insight:{insight_id}", {})
    return result
