"""Where accepted jobs go in Redis mode: Dramatiq workers, through the Redis broker.

Same surface as the embedded ``InProcessRunner`` (submit, cancel, status,
shutdown), so the API does not care which mode it runs in. Cancellation needs
no message: the API marks the job cancelled in the database, and the worker's
heartbeat notices and stops the analysis.
"""

from __future__ import annotations

from typing import Any

import redis
from prometheus_client.metrics_core import Metric

from bizlogic.jobs.broker import enqueue_job, make_broker, queue_depth, queue_depth_family
from bizlogic.settings import Settings


class QueueUnavailable(Exception):
    """The broker did not take the job (Redis unreachable): nothing was queued."""


class BrokerQueue:
    def __init__(self, settings: Settings) -> None:
        self.broker = make_broker(settings)

    def submit(self, job_id: str) -> None:
        try:
            enqueue_job(self.broker, job_id)
        except redis.RedisError as exc:
            raise QueueUnavailable(exc.__class__.__name__) from exc

    def cancel(self, job_id: str) -> bool:
        return False  # the database status is the signal (see the module docstring)

    def status(self) -> dict[str, Any]:
        try:
            pending = queue_depth(self.broker)
        except redis.RedisError as exc:
            return {"status": "degraded", "backend": "dramatiq", "error": exc.__class__.__name__}
        return {"status": "up", "backend": "dramatiq", "pending": pending}

    def metric_families(self) -> list[Metric]:
        return queue_depth_family(self.broker)

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        self.broker.close()
