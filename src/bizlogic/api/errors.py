"""The error envelope ``{"error": {"code", "message", "details"}}`` for every API error.

Clients branch on ``code`` (a closed set, DESIGN §6), show ``message`` and
read ``details`` for specifics such as field paths. Whatever goes wrong inside
the service, the body never carries exception text or a traceback: those go
to the log, tied to the response by the request id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bizlogic.store.db import is_connection_error

logger = logging.getLogger("bizlogic.api")

REQUEST_ID_HEADER = "X-Request-ID"
DATABASE_RETRY_AFTER_S = "5"


class ErrorCode(StrEnum):
    INVALID_REQUEST = "INVALID_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class ApiError(Exception):
    """Raise anywhere in a request to answer with this status and envelope."""

    def __init__(
        self,
        status: int,
        code: ErrorCode | str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status, got {status}")
        super().__init__(message)
        self.status = status
        self.code = ErrorCode(code)  # an unknown code is a programming error: fail loudly
        self.message = message
        self.details = details
        self.headers = dict(headers) if headers else None


def error_body(code: ErrorCode | str, message: str, details: Any = None) -> dict[str, Any]:
    """The envelope as a JSON-ready dict."""
    return {"error": {"code": str(ErrorCode(code)), "message": message, "details": details}}


def error_response(
    status: int,
    code: ErrorCode | str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON response carrying the envelope (for middleware that cannot raise)."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


# Starlette's own errors (routing, body limits) by status: (code, message for its default text).
_HTTP_ERRORS: dict[int, tuple[ErrorCode, str]] = {
    400: (ErrorCode.INVALID_REQUEST, "bad request"),
    401: (ErrorCode.UNAUTHORIZED, "authentication required"),
    403: (ErrorCode.FORBIDDEN, "forbidden"),
    404: (ErrorCode.NOT_FOUND, "not found"),
    405: (ErrorCode.INVALID_REQUEST, "method not allowed"),
    409: (ErrorCode.CONFLICT, "conflict"),
    413: (ErrorCode.INVALID_REQUEST, "request body too large"),
    415: (ErrorCode.INVALID_REQUEST, "unsupported media type"),
    422: (ErrorCode.INVALID_REQUEST, "invalid request"),
    429: (ErrorCode.RATE_LIMITED, "too many requests"),
    503: (ErrorCode.SERVICE_UNAVAILABLE, "service unavailable"),
}


def _http_error(status: int) -> tuple[ErrorCode, str]:
    if status in _HTTP_ERRORS:
        return _HTTP_ERRORS[status]
    if status < 500:
        return ErrorCode.INVALID_REQUEST, _phrase(status)
    return ErrorCode.INTERNAL_ERROR, "internal error"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "request error"


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_details(errors: list[Any]) -> list[dict[str, str]]:
    """One ``{field, message, type}`` per error; inputs and contexts are dropped (may be secret)."""
    out = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        kind = str(error.get("type", "invalid"))
        message = str(error.get("msg", "invalid value"))
        if kind == "json_invalid":
            # loc is ("body", <character offset>): name the body, keep the offset in the message.
            position = loc[1] if len(loc) > 1 else None
            reason = (error.get("ctx") or {}).get("error")
            message = "invalid JSON" + (f" at character {position}" if position is not None else "")
            message += f": {reason}" if isinstance(reason, str) else ""
            loc = loc[:1]
        out.append({"field": _field_path(loc) or "request", "message": message, "type": kind})
    return out


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(list(exc.errors()))
    if details:
        first = details[0]
        message = f"{first['field']}: {first['message']}"
        if len(details) > 1:
            message += f" (and {len(details) - 1} more)"
    else:
        message = "invalid request"
    return error_response(422, ErrorCode.INVALID_REQUEST, message, details)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, default_message = _http_error(exc.status_code)
    detail = exc.detail
    details = None
    if code is ErrorCode.INTERNAL_ERROR:
        message = default_message  # a 5xx text may describe internals: keep it out of the body
    elif isinstance(detail, str) and detail and detail != _standard_phrase(exc.status_code):
        message = detail  # a route's own words, e.g. "rule 7 not found"
    else:
        message = default_message
        if detail is not None and not isinstance(detail, str):
            details = detail
    return error_response(exc.status_code, code, message, details, exc.headers)


def _standard_phrase(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def request_id(request: Request) -> str:
    """The id set by the request-id middleware, or a fresh one when there is none."""
    existing = getattr(request.state, "request_id", None)
    if isinstance(existing, str) and existing:
        return existing
    generated = uuid.uuid4().hex
    request.state.request_id = generated
    return generated


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A lost or refused database connection is an outage, not a bug: 503, retry soon.

    The pool pre-pings, so once the database is back the next request reconnects.
    """
    if not is_connection_error(exc):
        raise exc  # a bug, not an outage: the 500 handler (outermost) logs and answers
    rid = request_id(request)
    logger.warning(
        "database unavailable in %s %s: %s",
        request.method,
        request.url.path,
        exc.__class__.__name__,
        extra={"event": "database_unavailable", "request_id": rid},
    )
    return error_response(
        503,
        ErrorCode.SERVICE_UNAVAILABLE,
        "the database is unavailable; try again shortly",
        {"request_id": rid},
        headers={"Retry-After": DATABASE_RETRY_AFTER_S},  # the middleware adds the id
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = request_id(request)
    logger.error(
        "unhandled exception in %s %s",
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"event": "unhandled_exception", "request_id": rid},
    )
    return error_response(
        500,
        ErrorCode.INTERNAL_ERROR,
        "internal error",
        {"request_id": rid},
        headers={REQUEST_ID_HEADER: rid},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can produce through the envelope."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(DBAPIError, _database_error)
    # Exception goes to Starlette's outermost ServerErrorMiddleware: it sends this response
    # and then re-raises so the server can log too (TestClient: raise_server_exceptions=False).
    app.add_exception_handler(Exception, _unexpected)
