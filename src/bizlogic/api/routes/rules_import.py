"""POST /rules/import: load rules from a file made by POST /export (JSON or YAML)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
import yaml
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from bizlogic.api.auth import Permission, Principal, require, require_project_access
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.routes.records import _read_body
from bizlogic.api.state import AppState, app_state
from bizlogic.mining.model import Rule
from bizlogic.store.projects import validate_project_id
from bizlogic.store.results import upsert_rule
from bizlogic.store.tables import RuleRow
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["rules"])


def _parse(body: bytes, fmt: str) -> list[Rule]:
    try:
        document = yaml.safe_load(body) if fmt == "yaml" else orjson.loads(body)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, f"body: not valid {fmt}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise ApiError(
            422, ErrorCode.INVALID_REQUEST, "body: expected an export document with a 'rules' list"
        )
    rules, errors = [], []
    for index, item in enumerate(document["rules"]):
        try:
            if not isinstance(item, dict):
                raise TypeError("not an object")
            rules.append(Rule.from_dict(item))
        except (KeyError, TypeError, ValueError) as exc:
            errors.append({"field": f"rules[{index}]", "message": f"{type(exc).__name__}: {exc}"})
    if errors:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            f"{len(errors)} rule(s) cannot be read; nothing was imported",
            errors[:100],
        )
    return rules


def _import(state: AppState, project_id: str, rules: list[Rule], conflict: str) -> dict[str, Any]:
    imported = skipped = replaced = 0
    with state.db.scope() as session:
        for rule in rules:
            exists = session.scalar(
                select(RuleRow.id).where(
                    RuleRow.project_id == project_id,
                    RuleRow.algorithm == rule.algorithm,
                    RuleRow.rule_key == rule.key,
                )
            )
            if exists is not None and conflict == "skip":
                skipped += 1
                continue
            upsert_rule(session, project_id, rule)
            if exists is None:
                imported += 1
            else:
                replaced += 1
    state.cache.invalidate_project(project_id)
    return {
        "project_id": project_id,
        "imported": imported,
        "replaced": replaced,
        "skipped": skipped,
    }


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
    body = await _read_body(request, state.settings.max_upload_mb * 1024 * 1024)
    rules = _parse(body, kind)
    result = await run_in_threadpool(_import, state, project_id, rules, conflict)
    log_user_action(
        principal.user_id,
        "import_rules",
        f"project:{project_id}",
        {k: result[k] for k in ("imported", "replaced", "skipped")},
    )
    return result
