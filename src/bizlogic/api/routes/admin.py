"""Host-wide operations for administrators: maintenance runs and the recovery switch.

The same functions as ``bizlogic maintain history`` and ``bizlogic recover
pause|resume``, so the console and the command line show and do the same.
Everything here is host-wide: ``bl.admin_system`` and a token without
projects (docs/auth.md).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from bizlogic.api.auth import Permission, Principal, require_host_wide
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.api.types import Limit
from bizlogic.ops import maintenance
from bizlogic.ops.recovery import history
from bizlogic.store import audit
from bizlogic.store.locks import hold_advisory_lock

router = APIRouter(prefix="/api/business-logic", tags=["operations"])

# One switch at a time, so "pause while paused" is refused even when two requests race:
# a lock per process, and on PostgreSQL an advisory lock across processes and hosts.
_SWITCH_LOCK = threading.Lock()


@router.get("/maintenance/runs")
async def maintenance_runs(
    state: Annotated[AppState, Depends(app_state)],
    _: Annotated[
        Principal,
        Depends(require_host_wide(Permission.ADMIN_SYSTEM, "read host-wide maintenance runs")),
    ],
    limit: Limit = 20,
) -> dict[str, Any]:
    """The latest maintenance runs, newest first, as `bizlogic maintain history --json`."""
    runs = await run_in_threadpool(maintenance.history, state.db, limit)
    return {"limit": limit, "runs": runs}


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)


def _switch(
    state: AppState, principal: Principal, action: str, reason: str | None
) -> dict[str, Any]:
    """Record the switch as `bizlogic recover pause|resume` does, naming the user.

    ``history.record`` commits on its own connection; the audit event follows in
    the guard's transaction right after, so it commits once the switch is on record.
    """
    with _SWITCH_LOCK, state.db.scope() as guard:
        hold_advisory_lock(guard, "recovery-switch", "host")
        paused = history.pause_state(state.db)
        if action == "pause" and paused is not None:
            raise ApiError(
                409,
                ErrorCode.CONFLICT,
                f"recovery is already paused (since {paused['since']})",
                {"paused": paused},
            )
        if action == "resume" and paused is None:
            raise ApiError(409, ErrorCode.CONFLICT, "recovery is not paused", {"paused": None})
        details: dict[str, Any] = {"reason": reason} if reason else {}
        event_id = history.record(
            state.db,
            source="manual",
            action=action,
            status="ok",
            dry_run=False,
            details={**details, "by": principal.user_id},
        )
        audit.record(guard, principal, f"recovery.{action}", target=event_id, details=details)
    return {"paused": history.pause_state(state.db)}


_PAUSE_GUARD = require_host_wide(Permission.ADMIN_SYSTEM, "pause or resume host-wide recovery")


@router.post("/recovery/pause")
async def pause_recovery(
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(_PAUSE_GUARD)],
    body: PauseRequest | None = None,
) -> dict[str, Any]:
    """Stop every recovery action (detections are still recorded); 409 when paused."""
    reason = body.reason if body is not None else None
    return await run_in_threadpool(_switch, state, principal, "pause", reason)


@router.post("/recovery/resume")
async def resume_recovery(
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(_PAUSE_GUARD)],
) -> dict[str, Any]:
    """Let recovery act again; 409 when it is not paused."""
    return await run_in_threadpool(_switch, state, principal, "resume", None)
