"""Alertmanager's webhook and the recovery history.

``POST /alerts`` is called by Alertmanager, not by a user: it authenticates
with the shared secret ``BL_WEBHOOK_TOKEN`` (a bearer token compared in
constant time), checked before the body is even parsed. It only records: the
acting recovery process takes the pending detections up (docs/operations.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from bizlogic.api.auth import Permission, Principal, require_host_wide
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.shared_secret import bearer_matches
from bizlogic.api.state import AppState, app_state
from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.alerts import AlertmanagerPayload, take_in
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.store import clock

router = APIRouter(prefix="/api/business-logic", tags=["recovery"])
MAX_HOURS = 24 * 366


def _check_webhook_secret(state: AppState, authorization: str | None) -> None:
    secret = state.settings.webhook_token
    if secret is None:  # 4xx, not 5xx: Alertmanager must not retry what cannot succeed
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            "the alert webhook is disabled: BL_WEBHOOK_TOKEN is not set",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not bearer_matches(secret, authorization):
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            "missing or wrong webhook secret (BL_WEBHOOK_TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.post("/alerts")
async def receive_alerts(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> dict[str, Any]:
    """Alertmanager webhook (payload version 4): records each alert once."""
    _check_webhook_secret(state, request.headers.get("authorization"))
    try:
        body = orjson.loads(await request.body())
        payload = AlertmanagerPayload.model_validate(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, f"body: not JSON ({exc})") from None
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    config: RecoveryConfig = request.app.state.recovery_config
    dry_run = state.settings.recovery_mode != "act"
    intake = await run_in_threadpool(take_in, state.db, config, payload, dry_run=dry_run)
    return {"status": "ok", **intake.as_dict()}


@router.get("/recovery/history")
async def recovery_history(
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[
        Principal,
        Depends(require_host_wide(Permission.ADMIN_SYSTEM, "read host-wide recovery history")),
    ],
    hours: Annotated[float, Query(gt=0, le=MAX_HOURS)] = 24,
) -> dict[str, Any]:
    """Detections and actions of the last ``hours``, newest first.

    Host-wide, not per project: a token limited to projects gets 403 (docs/auth.md).
    """

    def read() -> dict[str, Any]:
        since = clock.utcnow() - timedelta(hours=hours)
        return {
            "hours": hours,
            "paused": history.pause_state(state.db),
            "events": history.events_since(state.db, since),
        }

    return await run_in_threadpool(read)
