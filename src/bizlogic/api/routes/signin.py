"""``POST /signin``: a one-time sign-in link's code traded for a token (the console's
``#signin=CODE`` links, made by ``bizlogic token create --open``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from bizlogic.api.auth import app_secret, create_token
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.store import signin
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["auth"])


class SigninRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=20, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


@router.post("/signin")
async def redeem_link(
    body: SigninRequest,
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
) -> dict[str, Any]:
    """200 with the token once; 401 for a code that is unknown, used or expired (one
    answer for all three, so a guess learns nothing)."""
    grant = await run_in_threadpool(signin.redeem, state.db, body.code)
    if grant is None:
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            "sign-in link unknown, already used or expired: make a new one with "
            "`bizlogic token create --open`",
            details={"reason": "signin_link"},
        )
    secret = app_secret(request)
    token = create_token(secret, grant.user_id, grant.role, grant.projects, grant.ttl_s)
    log_user_action(grant.user_id, "console_signin", "signin_link", {"role": grant.role})
    return {"token": token, "user": grant.user_id, "role": grant.role, "projects": grant.projects}
