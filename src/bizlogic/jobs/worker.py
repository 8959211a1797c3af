"""The Dramatiq worker side of Redis mode: the analysis actor.

``bizlogic worker`` supervises worker processes (``bizlogic.jobs.supervisor``);
each (``bizlogic.jobs.worker_process``) imports this module: it binds the broker
from the settings and registers the actor. Each process opens its database
engine and cache on the first message and shares them between its threads.
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq.middleware import TimeLimitExceeded

from bizlogic.cache import make_cache
from bizlogic.jobs.broker import ACTOR, QUEUE, make_broker
from bizlogic.jobs.execute import (
    WORKER_ID,
    JobContext,
    TransientJobError,
    execute_job,
    fail_unless_finished,
    is_transient,
)
from bizlogic.jobs.runner import CancelToken
from bizlogic.settings import get_settings
from bizlogic.store.db import Database
from bizlogic.telemetry.logging import configure_logging
from bizlogic.telemetry.metrics import Metrics

settings = get_settings()
# Only our JSON lines (DESIGN §8), straight to stdout: no handler another tool installed.
logging.getLogger().handlers.clear()
configure_logging(settings, process="worker")
broker = make_broker(settings)
dramatiq.set_broker(broker)

_context: JobContext | None = None
_context_lock = threading.Lock()


def job_context() -> JobContext:
    global _context
    with _context_lock:
        if _context is None:
            metrics = Metrics(settings.metrics_max_projects)
            _context = JobContext.from_settings(
                settings,
                Database(
                    settings.effective_database_url,
                    pool_size=settings.db_pool_size,
                    on_checkout=metrics.db_checkout,
                ),
                metrics,
                make_cache(settings, metrics.cache_lookup),
            )
            _context.count_deliveries = True
        return _context


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, broker=broker)
def run_analysis_job(job_id: str) -> None:
    """Run one analysis job; transient failures raise for a retry with backoff."""
    ctx = job_context()
    try:
        execute_job(ctx, job_id, CancelToken(timeout_s=ctx.timeout_s), retry_transient=True)
    except TimeLimitExceeded:  # the backstop fired inside a long step: record why
        fail_unless_finished(ctx, job_id, f"timeout: the analysis ran past {ctx.timeout_s:g} s")
        raise
    except TransientJobError:
        raise
    except Exception as exc:
        # Claiming the job or recording its end needs the database too; if that is what
        # failed, retry like any transient error (the retry reclaims the job).
        if is_transient(exc):
            raise TransientJobError(f"{exc.__class__.__name__}: {exc}") from exc
        raise


__all__ = ["WORKER_ID", "run_analysis_job"]
