"""Put right the jobs that the database and the broker disagree about (Redis mode).

The database is the record of what was accepted; Redis may lose messages (a
restart without persistence, a FLUSHDB, a crash between commit and enqueue).
A pass looks at unfinished jobs that have shown no sign of life for
``job_stale_s`` and, for each one the broker no longer holds, either sends it
again or — when its attempts are used up — fails it with the reason.
One pass at a time across all API replicas (a Redis lock that expires).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from dramatiq.brokers.redis import RedisBroker

from bizlogic.jobs.broker import enqueue_job, held_job_ids
from bizlogic.settings import Settings
from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.errors import ConflictError
from bizlogic.store.jobs import fail_job, jobs_left_unfinished, requeue_job

logger = logging.getLogger("bizlogic.jobs.reconcile")
LOCK_KEY = "bizlogic:reconciler:lock"  # outside bl:, which cache maintenance may flush


@dataclass
class ReconcileReport:
    examined: int = 0
    held_by_broker: int = 0
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped_locked: bool = False


def reconcile(
    db: Database, broker: RedisBroker, settings: Settings, *, lock_s: float | None = None
) -> ReconcileReport:
    report = ReconcileReport()
    if lock_s is not None:
        token = secrets.token_hex(8)
        if not broker.client.set(LOCK_KEY, token, nx=True, px=int(lock_s * 1000)):
            report.skipped_locked = True
            return report
    stale_before = clock.utcnow() - timedelta(seconds=settings.job_stale_s)
    with db.scope() as session:
        candidates = [
            (job.job_id, job.status, job.attempts)
            for job in jobs_left_unfinished(session, stale_before=stale_before)
        ]
    held = held_job_ids(broker) if candidates else set()
    for job_id, status, attempts in candidates:
        report.examined += 1
        if job_id in held:
            report.held_by_broker += 1
            continue
        try:
            with db.scope() as session:
                if attempts >= settings.job_max_attempts:
                    fail_job(
                        session,
                        job_id,
                        f"attempts exhausted ({attempts}); the broker no longer held the job",
                    )
                    report.failed.append(job_id)
                    continue
                if status == "running":
                    requeue_job(session, job_id)
            enqueue_job(broker, job_id)
            report.requeued.append(job_id)
        except ConflictError:
            continue  # it moved on meanwhile (finished, cancelled, claimed): nothing to do
    if report.requeued or report.failed:
        logger.warning(
            "reconciler: %d job(s) sent again, %d failed (attempts exhausted)",
            len(report.requeued),
            len(report.failed),
        )
    return report
