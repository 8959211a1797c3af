"""What the app holds for its lifetime, and how routes reach it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from bizlogic.cache import Cache
from bizlogic.jobs.execute import JobContext
from bizlogic.jobs.queue import BrokerQueue
from bizlogic.jobs.runner import InProcessRunner
from bizlogic.settings import Settings
from bizlogic.store.db import Database
from bizlogic.telemetry.metrics import Metrics

JobQueue = InProcessRunner | BrokerQueue


@dataclass
class AppState:
    settings: Settings
    db: Database
    cache: Cache
    metrics: Metrics
    runner: JobQueue
    # The latest readiness checks and when they ran (health endpoints reuse them briefly).
    last_checks: dict[str, Any] = field(default_factory=dict)

    @property
    def jobs(self) -> JobContext:
        return JobContext.from_settings(self.settings, self.db, self.metrics, self.cache)


async def app_state(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain `def` dependency in the thread pool,
    # a thread hop (and a GIL hand-over) on every request for a mere attribute read.
    return request.app.state.bl
