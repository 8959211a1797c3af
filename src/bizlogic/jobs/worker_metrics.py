"""The scrape endpoint of a `bizlogic worker`: one HTTP server for all its processes.

The worker's supervisor (``bizlogic.jobs.supervisor``) runs this in a thread.
It serves ``GET /metrics`` on the address that `bizlogic worker` put in
``BL_WORKER_METRICS_ADDR``: the metrics of every worker process of this
instance summed (multiprocess mode) and the broker's queue depth read at
scrape time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CONTENT_TYPE_LATEST

from bizlogic.jobs.broker import make_broker, queue_depth_family
from bizlogic.settings import get_settings
from bizlogic.telemetry.metrics import exposition

ADDR_ENV = "BL_WORKER_METRICS_ADDR"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every few seconds would flood the worker's log."""


def serve_metrics() -> int:
    host, _, port = os.environ[ADDR_ENV].rpartition(":")
    broker = make_broker(get_settings())

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the worker serves /metrics only\n"]
        body = exposition(None, lambda: queue_depth_family(broker))
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [body]

    with make_server(host, int(port), app, handler_class=_Quiet) as server:
        server.serve_forever()
    return 0
