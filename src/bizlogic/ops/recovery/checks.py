"""The condition behind each failure type: one look, failing or not, with the figures.

The watcher counts consecutive failing looks before it calls something a
failure; after an action the engine looks again until the condition clears
(verification). Only reads: a check never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import redis
from sqlalchemy import select, text

from bizlogic.settings import Settings
from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import AnalysisJob
from bizlogic.telemetry.collector import CGROUP_ROOT, cgroup_memory, cpu_busy_percent


@dataclass(frozen=True)
class Observation:
    failing: bool
    details: dict[str, Any] = field(default_factory=dict)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


class Checker:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        cgroup_root: Path = CGROUP_ROOT,
        now: Callable[[], datetime] = clock.utcnow,
    ) -> None:
        self.settings, self.db, self.cgroup_root, self.now = settings, db, cgroup_root, now
        self._cpu_before = psutil.cpu_times()  # primed: the first CPU look spans a real interval

    def check(self, failure_type: str) -> Observation:
        return getattr(self, failure_type)()

    def database_connection(self) -> Observation:
        try:
            with self.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to answer is the condition itself
            return Observation(True, {"error": _error(exc)})
        return Observation(False)

    def redis_connection(self) -> Observation:
        if not self.settings.redis_url:
            return Observation(False, {"configured": False})
        client = redis.Redis.from_url(
            self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        try:
            client.ping()
        except redis.RedisError as exc:
            return Observation(True, {"error": _error(exc)})
        finally:
            client.close()
        return Observation(False)

    def high_memory_usage(self) -> Observation:
        limited = cgroup_memory(self.cgroup_root)
        if limited is not None:
            percent = 100 * limited.used_bytes / limited.limit_bytes
        else:
            percent = psutil.virtual_memory().percent
        threshold = self.settings.recovery_memory_percent
        return Observation(
            percent >= threshold, {"used_percent": round(percent, 1), "threshold": threshold}
        )

    def high_cpu_usage(self) -> Observation:
        after = psutil.cpu_times()
        percent = cpu_busy_percent(self._cpu_before, after)
        self._cpu_before = after
        threshold = self.settings.recovery_cpu_percent
        return Observation(
            percent >= threshold, {"busy_percent": round(percent, 1), "threshold": threshold}
        )

    def algorithm_timeout(self) -> Observation:
        """Analyses still running a heartbeat past BL_ANALYSIS_TIMEOUT_S: their worker did
        not stop them itself (a step that never reaches a cancellation check)."""
        limit = self.settings.analysis_timeout_s + self.settings.job_heartbeat_s
        now = self.now()
        try:
            with self.db.scope() as session:
                rows = session.execute(
                    select(AnalysisJob.job_id, AnalysisJob.worker_id, AnalysisJob.started_at)
                    .where(AnalysisJob.status == "running")
                    .where(AnalysisJob.started_at < now - timedelta(seconds=limit))
                    .order_by(AnalysisJob.started_at)
                ).all()
        except Exception as exc:  # unknown is not failing: the database check covers it
            return Observation(False, {"error": _error(exc)})
        jobs = [
            {
                "job_id": job_id,
                "worker_id": worker,
                "started_at": started.isoformat(),
                "running_s": round((now - started).total_seconds(), 1),
            }
            for job_id, worker, started in rows
        ]
        return Observation(bool(jobs), {"limit_s": limit, "jobs": jobs})
