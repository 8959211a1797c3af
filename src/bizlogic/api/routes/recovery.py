"""Alertmanager's webhook and the recovery history.

``POST /alerts`` is called by Alertmanager, not by a user: it authenticates
with the shared secret ``BL_WEBHOOK_TOKEN`` (a bearer token compared in
constant time), checked before the body is even parsed. It only records: the
acting recovery process takes the pending detections up (docs/operations.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from bizlogic.api.alertmanager import read_payload
from bizlogic.api.auth import Permission, Principal, require_host_wide
from bizlogic.api.shared_secret import check_webhook_secret
from bizlogic.api.state import AppState, app_state
from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.alerts import take_in
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.store import clock

router = APIRouter(prefix="/api/business-logic", tags=["recovery"])
MAX_HOURS = 24 * 366


@router.post("/alerts")
async def receive_alerts(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> dict[str, Any]:
    """Alertmanager webhook (payload version 4): records each alert once."""
    check_webhook_secret(state.settings.webhook_token, request.headers.get("authorization"))
    payload = await read_payload(request)
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
