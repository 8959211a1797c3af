"""Request bodies are bounded before any route reads, authenticates or parses them.

FastAPI reads and parses a JSON body before it runs the route's dependencies
(authentication included), so without this a caller with no token could make
the server hold and parse any amount of JSON. Here, as plain ASGI:

- a declared ``Content-Length`` over the route's limit is refused at once (413);
- an upload route (records, rules import) streams its own body after
  authentication, counting against the same limit;
- a route that needs a bearer token gets no body read without one (401);
- every other body is read here up to its limit (413 beyond it; chunked
  bodies too) and, when it is JSON, scanned for nesting depth (422) before
  the route gets it;
- a NUL character in the path, the query or a JSON body string is refused
  (422 naming where): PostgreSQL cannot store one, and it is never meant.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from bizlogic.api.auth import missing_token
from bizlogic.api.errors import ErrorCode, error_response
from bizlogic.records.nesting import NestingScanner, NestingTooDeep
from bizlogic.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PREFIX = "/api/business-logic"
_RECORDS_UPLOAD = re.compile(rf"^{_PREFIX}/projects/[^/]+/records/?$")
_RULES_IMPORT = re.compile(rf"^{_PREFIX}/rules/import/?$")


# Routes whose body is read without a bearer token: Alertmanager's webhook (its own
# secret), and a sign-in link's code (the code is the credential; a small body, bounded).
_TOKENLESS = frozenset({f"{_PREFIX}/alerts", f"{_PREFIX}/signin"})


def _needs_token(path: str) -> bool:
    """Every other API route with a body authenticates with a bearer token."""
    return path.startswith(f"{_PREFIX}/") and path not in _TOKENLESS


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True  # FastAPI parses a body without a content type as JSON too


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimits:
    """Byte limits by route: uploads, rules import, and every other body."""

    def __init__(self, upload_bytes: int, rules_import_bytes: int, json_bytes: int, depth: int):
        self.upload_bytes = upload_bytes
        self.rules_import_bytes = rules_import_bytes
        self.json_bytes = json_bytes
        self.depth = depth

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(
            upload_bytes=settings.max_upload_mb * 1024 * 1024,
            rules_import_bytes=settings.max_rules_import_mb * 1024 * 1024,
            json_bytes=settings.max_json_body_kb * 1024,
            depth=settings.max_json_depth,
        )

    def for_path(self, path: str) -> tuple[int, bool]:
        """(limit, whether the route streams its own body)."""
        if _RECORDS_UPLOAD.match(path):
            return self.upload_bytes, True
        if _RULES_IMPORT.match(path):
            return self.rules_import_bytes, True
        return self.json_bytes, False


def _too_large(limit: int) -> Any:
    return error_response(
        413, ErrorCode.INVALID_REQUEST, "request body too large", {"limit_bytes": limit}
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (where := _nul_in_url(scope)) is not None:
            await _nul_refusal(where)(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit, streams_itself = self.limits.for_path(scope["path"])
        headers = scope.get("headers", [])
        declared = _declared_length(headers)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if _needs_token(scope["path"]) and not any(n == b"authorization" for n, _ in headers):
            # The route would answer 401 too, but only after reading and parsing the body.
            error = missing_token()
            await error_response(
                error.status, error.code, error.message, error.details, error.headers
            )(scope, receive, send)
            return
        if streams_itself:  # authenticated first, then counted as it streams
            await self.app(scope, receive, send)
            return
        is_json = _is_json(headers)
        body, refusal = await self._read(receive, limit, is_json)
        if refusal is None and is_json and (where := _nul_in_json(body)) is not None:
            refusal = _nul_refusal(where)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, limit: int, is_json: bool) -> tuple[bytes, Any]:
        scanner = NestingScanner(self.limits.depth) if is_json else None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", None  # the route sees an empty body; the client is gone anyway
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", _too_large(limit)
            if scanner is not None and chunk:
                try:
                    scanner.feed(chunk)
                except NestingTooDeep as exc:
                    return b"", error_response(
                        422,
                        ErrorCode.INVALID_REQUEST,
                        f"body: {exc}",
                        [{"field": "body", "message": str(exc), "type": "json_too_deep"}],
                    )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None


def _nul_refusal(where: str) -> Any:
    message = f"{where}: contains a NUL character (\\u0000), which cannot be stored"
    return error_response(
        422,
        ErrorCode.INVALID_REQUEST,
        message,
        [{"field": where, "message": "contains a NUL character", "type": "nul_character"}],
    )


def _nul_in_url(scope: Scope) -> str | None:
    """"path" or "query.NAME" when the URL carries a NUL character (PostgreSQL refuses it)."""
    if "\x00" in scope["path"]:
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return f"query.{name.replace(chr(0), '')}"
        return "query"
    return None


def _nul_in_json(body: bytes) -> str | None:
    """The field path of the first string holding a NUL character, if any."""
    if b"\\u0000" not in body:
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # the route reports the invalid JSON
    return _find_nul(document, "body")


def _find_nul(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return where
            if (found := _find_nul(item, f"{where}.{key}")) is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _find_nul(item, f"{where}[{i}]")) is not None:
                return found
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then whatever the client sends next (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
