"""Reads the browser console starts from: who the token is, its projects, the audit trail.

None of these is cached: the per-project cache versions (``bizlogic.cache``)
cannot invalidate a listing that spans projects (a new project, a job that
changes status), and each is a handful of indexed queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from bizlogic.api.auth import (
    Permission,
    Principal,
    check_host_wide,
    current_principal,
    require,
    require_project_access,
)
from bizlogic.api.state import AppState, app_state
from bizlogic.api.types import Limit, Offset
from bizlogic.records.schema import format_timestamp
from bizlogic.store import audit
from bizlogic.store.audit import AuditAction
from bizlogic.store.overview import list_projects

router = APIRouter(prefix="/api/business-logic", tags=["overview"])



@router.get("/me")
async def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    """The caller as the token names them, so a client can show only what it may do."""
    expires = principal.expires_at
    return {
        "user": principal.user_id,
        "role": principal.role.value,
        "projects": None if principal.projects is None else sorted(principal.projects),
        "permissions": sorted(p.value for p in principal.permissions),
        "expires_at": None
        if expires is None
        else format_timestamp(datetime.fromtimestamp(expires, UTC)),
    }


@router.get("/projects")
async def projects(
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.VIEW_STATS))],
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The projects the token reaches, by id, each with its counts and latest analysis."""

    def read() -> dict[str, Any]:
        with state.db.scope() as session:
            items, total = list_projects(session, principal.projects, limit=limit, offset=offset)
        return {"projects": items, "total": total, "limit": limit, "offset": offset}

    return await run_in_threadpool(read)


@router.get("/audit")
async def audit_events(
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.VIEW_RULES))],
    project_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    action: AuditAction | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Who changed what, newest first: one project's events, or (``bl.admin_system``, a
    token without projects) every event, host-wide ones such as recovery pauses included.
    """
    if project_id is None:
        check_host_wide(principal, Permission.ADMIN_SYSTEM, "read the host-wide audit trail")
    else:
        require_project_access(principal, project_id)
    scope = None if project_id is None else [project_id]

    def read() -> dict[str, Any]:
        with state.db.scope() as session:
            events, total = audit.list_events(
                session, project_ids=scope, action=action, limit=limit, offset=offset
            )
            return {
                "events": [event.as_dict() for event in events],
                "total": total,
                "limit": limit,
                "offset": offset,
            }

    return await run_in_threadpool(read)
