"""POST /rules/import: load rules from a file made by POST /export (JSON or YAML).

The import and its audit event are one transaction.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from bizlogic.api.auth import Permission, Principal, require, require_project_access
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.routes.records import _read_body
from bizlogic.api.rules_document import DocumentLimits, read_rules
from bizlogic.api.state import AppState, app_state
from bizlogic.mining.model import Rule
from bizlogic.store import audit
from bizlogic.store import results as result_store
from bizlogic.store.projects import validate_project_id
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["rules"])


def _import(
    state: AppState,
    principal: Principal,
    project_id: str,
    rules: list[Rule],
    conflict: str,
    kind: str,
) -> dict[str, Any]:
    with state.db.scope() as session:
        counts = result_store.import_rules(session, project_id, rules, conflict)
        audit.record(
            session,
            principal,
            "rules.import",
            project_id=project_id,
            details={
                "format": kind,
                "conflict": conflict,
                "received": len(rules),
                **asdict(counts),
            },
        )
    state.cache.invalidate_project(project_id)
    return {"project_id": project_id, **asdict(counts)}


@router.post("/rules/import")
async def import_rules(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.EXTRACT_RULES))],
    project_id: Annotated[str, Query(min_length=1, max_length=200)],
    conflict: Literal["skip", "override"] = "skip",
    fmt: Annotated[Literal["json", "yaml"] | None, Query(alias="format")] = None,
) -> dict[str, Any]:
    """Import exported rules into ``project_id``; existing rules are skipped or overridden."""
    try:
        validate_project_id(project_id)
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
    require_project_access(principal, project_id)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = fmt or (
        "yaml" if media in ("application/yaml", "application/x-yaml", "text/yaml") else "json"
    )
    body = await _read_body(request, state.settings.max_rules_import_mb * 1024 * 1024)
    limits = DocumentLimits(state.settings.max_json_depth, state.settings.max_rules_per_import)
    rules = await run_in_threadpool(read_rules, body, kind, limits)  # YAML is slow: off the loop
    result = await run_in_threadpool(_import, state, principal, project_id, rules, conflict, kind)
    log_user_action(
        principal.user_id,
        "import_rules",
        f"project:{project_id}",
        {k: result[k] for k in ("imported", "replaced", "skipped")},
    )
    return result
