"""HTTP request metrics by route template, and the ``/metrics`` response.

A pure ASGI middleware rather than prometheus-fastapi-instrumentator: it is a
few lines, adds no dependency, writes into our own ``Metrics`` registry (so
tests stay isolated and multiprocess mode has one place to change), and it
wraps the raw ``send`` so streamed responses are timed to their last byte.

The route label is the template the router matched (``/items/{item_id}``),
read from ``scope["route"]`` after the app ran; a raw path would create a
series per id. Requests no route matched are labelled ``<unmatched>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bizlogic.telemetry.labels import http_method
from bizlogic.telemetry.metrics import Metrics, get_metrics

UNMATCHED = "<unmatched>"


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
            metrics = self._metrics if self._metrics is not None else get_metrics()
            metrics.http_request(
                http_method(scope["method"]),
                route_template(scope, base_root_path),
                status,
                self._clock() - start,
            )


def metrics_response(metrics: Metrics | None = None) -> Response:
    """A ``GET /metrics`` response: the scrape body with Prometheus's content type."""
    body, content_type = (metrics if metrics is not None else get_metrics()).render()
    return Response(content=body, media_type=content_type)
