"""HTTP request metrics by route template, and the ``/metrics`` response.

A pure ASGI middleware rather than prometheus-fastapi-instrumentator: it is a
few lines, adds no dependency, writes into our own ``Metrics`` registry (so
tests stay isolated and multiprocess mode has one place to change), and it
wraps the raw ``send`` so streamed responses are timed to their last byte.

The route label is the template the router matched (``/items/{item_id}``),
read from ``scope["route"]`` after the app ran; a raw path would create a
series per id. Requests no route matched are labelled ``<unmatched>``.

It also writes the access line, ``http_request`` (method, path without its query,
route, status, duration_ms, client, request_id), in place of uvicorn's: uvicorn logs
when the response starts and knows no duration, and a query string may hold a
sign-in code. The periodic report reads latency and availability from these lines
when no Prometheus is configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bizlogic.telemetry.labels import http_method
from bizlogic.telemetry.logging import get_logger
from bizlogic.telemetry.metrics import Metrics, get_metrics

UNMATCHED = "<unmatched>"
access = get_logger("bizlogic.http")


def route_template(scope: Scope, base_root_path: str = "") -> str:
    """The matched route's path template, with any ``Mount`` prefix in front."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    root_path = scope.get("root_path", "")
    prefix = root_path[len(base_root_path) :] if root_path.startswith(base_root_path) else ""
    return prefix + path


class HttpMetricsMiddleware:
    """Counts and times every HTTP request into ``metrics`` (default: ``get_metrics()``)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        base_root_path = scope.get("root_path", "")
        status = 500  # what the client gets if the app raises before responding

        async def send_and_capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = self._clock()
        try:
            await self.app(scope, receive, send_and_capture)
        finally:
            elapsed = self._clock() - start
            method, route = http_method(scope["method"]), route_template(scope, base_root_path)
            metrics = self._metrics if self._metrics is not None else get_metrics()
            metrics.http_request(method, route, status, elapsed)
            log_request(scope, method, route, status, elapsed)


def log_request(scope: Scope, method: str, route: str, status: int, elapsed_s: float) -> None:
    """The access line: one per request, after its last byte."""
    path = scope.get("path", "")
    duration_ms = round(elapsed_s * 1000, 3)
    client = scope.get("client")
    access.info(
        "http_request",
        message=f"{method} {path} {status} in {duration_ms} ms",
        method=method,
        path=path,
        route=route,
        status=status,
        duration_ms=duration_ms,
        client=client[0] if client else None,
        request_id=scope.get("state", {}).get("request_id"),
    )


def metrics_response(metrics: Metrics | None = None) -> Response:
    """A ``GET /metrics`` response: the scrape body with Prometheus's content type."""
    body, content_type = (metrics if metrics is not None else get_metrics()).render()
    return Response(content=body, media_type=content_type)
