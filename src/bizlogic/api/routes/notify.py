"""The notification relay: Alertmanager's webhook → a chat robot or an SMS gateway.

``POST /alerts/notify/{channel}`` is called by Alertmanager (a ``webhook_configs``
entry of the chat or SMS receiver) with the shared secret ``BL_WEBHOOK_TOKEN``, like the
recovery webhook. The channel is one of ``BL_NOTIFY_CONFIG``; an unknown one is 404 (which
Alertmanager does not retry: it cannot succeed), a channel that does not take the message
is 502 naming it (which Alertmanager retries), its secrets left out.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from bizlogic.api.alertmanager import read_payload
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.shared_secret import check_webhook_secret
from bizlogic.api.state import AppState, app_state
from bizlogic.ops.relay import ChannelError, Notice, Relay

router = APIRouter(prefix="/api/business-logic", tags=["notify"])


@router.post("/alerts/notify/{channel}")
async def relay_alerts(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    channel: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    """Alertmanager webhook (payload version 4) → one message to the channel ``channel``."""
    check_webhook_secret(state.settings.webhook_token, request.headers.get("authorization"))
    relay: Relay = request.app.state.notify_relay
    target = relay.channel(channel)
    if target is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, relay.why_unknown(channel), {"channel": channel})
    payload = await read_payload(request)
    if not payload.alerts:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            "body.alerts: no alerts to notify about",
            [{"field": "body.alerts", "message": "no alerts", "type": "too_short"}],
        )
    notice = Notice.from_payload(payload)
    try:
        attempts = await relay.send(target, notice)
    except ChannelError as exc:
        details = {"channel": exc.channel, "kind": exc.kind, "attempts": exc.attempts}
        raise ApiError(502, ErrorCode.SERVICE_UNAVAILABLE, str(exc), details) from None
    return {
        "status": "ok",
        "channel": target.name,
        "kind": target.kind,
        "alerts": notice.count,
        "attempts": attempts,
    }
