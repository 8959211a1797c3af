"""Alertmanager's webhook payload (version 4) as the routes that take it read it."""

from __future__ import annotations

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.ops.recovery.alerts import AlertmanagerPayload


async def read_payload(request: Request) -> AlertmanagerPayload:
    """The body as a payload; 422 naming the field (``body.alerts.0.status``) otherwise.

    Read by hand, after the route has checked the webhook secret, so that an
    unauthenticated caller gets 401 without the body being parsed."""
    try:
        return AlertmanagerPayload.model_validate(orjson.loads(await request.body()))
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, f"body: not JSON ({exc})") from None
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
