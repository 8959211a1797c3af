"""The FastAPI application factory: wiring only, behaviour lives in the routes.

Start-up migrates the database (unless ``BL_AUTO_MIGRATE=false``) and loads or
creates the JWT secret. In embedded mode it puts jobs that a crash left queued
or running back on the in-process runner — or fails them once they have been
interrupted too often; in Redis mode jobs go to Dramatiq workers and a
periodic reconciler does that job across all replicas.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.gzip import GZipMiddleware

from bizlogic import __version__
from bizlogic.api.body_limits import BodyLimitMiddleware, BodyLimits
from bizlogic.api.errors import install_error_handlers
from bizlogic.api.request_id import RequestIdMiddleware
from bizlogic.api.routes import (
    admin,
    analysis,
    apply,
    examples,
    health,
    notify,
    overview,
    records,
    recovery,
    reports,
    results,
    rules_import,
    signin,
)
from bizlogic.api.secrets import jwt_secret
from bizlogic.api.state import AppState, JobQueue
from bizlogic.cache import RedisCache, make_cache
from bizlogic.console import routes as console
from bizlogic.jobs.execute import execute_job
from bizlogic.jobs.queue import BrokerQueue
from bizlogic.jobs.reconcile import reconcile
from bizlogic.jobs.runner import InProcessRunner
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.ops.relay import Relay
from bizlogic.private_fs import ensure_private_dir
from bizlogic.settings import Settings, get_settings
from bizlogic.store import migrations
from bizlogic.store.db import Database
from bizlogic.store.jobs import fail_job, jobs_left_unfinished, requeue_job
from bizlogic.telemetry.collector import Collector
from bizlogic.telemetry.http import HttpMetricsMiddleware
from bizlogic.telemetry.metrics import Metrics

logger = logging.getLogger("bizlogic.api")


def recover_unfinished_jobs(state: AppState) -> list[str]:
    """Re-queue what a previous process left unfinished; returns the job ids to run."""
    resubmit: list[str] = []
    with state.db.scope() as session:
        for job in jobs_left_unfinished(session):
            if job.attempts >= state.settings.job_max_attempts:
                fail_job(
                    session,
                    job.job_id,
                    f"interrupted {job.attempts} times (server restarts); giving up",
                )
                logger.warning(
                    "job %s failed after %s interrupted attempts", job.job_id, job.attempts
                )
                continue
            if job.status == "running":
                requeue_job(session, job.job_id)
            resubmit.append(job.job_id)
    return resubmit


async def _reconcile_forever(state: AppState, queue: BrokerQueue) -> None:
    """Reconcile at start-up, then every reconcile interval; a failed pass is retried."""
    interval = state.settings.reconcile_interval_s
    while True:
        try:
            await asyncio.to_thread(
                reconcile, state.db, queue.broker, state.settings, lock_s=interval * 0.9
            )
        except Exception as exc:  # Redis or the database away: the next pass tries again
            logger.warning("reconciler pass failed: %s", exc.__class__.__name__)
        await asyncio.sleep(interval)


# The event loop shares the interpreter lock with the threads that import and
# analyse; each time it needs the lock back it may wait a whole switch interval,
# several times per request. At 1 ms instead of 5 ms, /livez stays fast under load.
GIL_SWITCH_INTERVAL_S = 0.001


def create_app(settings: Settings | None = None, metrics: Metrics | None = None) -> FastAPI:
    settings = settings or get_settings()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app_metrics = metrics or Metrics(settings.metrics_max_projects)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_private_dir(settings.data_dir)
        app.state.recovery_config = RecoveryConfig.from_settings(settings)  # fails on bad config
        app.state.notify_relay = Relay.from_settings(settings)  # fails on a bad BL_NOTIFY_CONFIG
        if settings.auto_migrate:
            migrations.upgrade(settings.effective_database_url)
        db = Database(
            settings.effective_database_url,
            pool_size=settings.db_pool_size,
            on_checkout=app_metrics.db_checkout,
        )
        app_metrics.db_pool_size.set(settings.db_pool_size)
        cache = make_cache(settings, app_metrics.cache_lookup)
        holder: dict[str, AppState] = {}
        runner: JobQueue
        if settings.redis_url:
            runner = BrokerQueue(settings)
        else:
            runner = InProcessRunner(
                lambda job_id, token: execute_job(holder["state"].jobs, job_id, token),
                max_workers=settings.max_concurrent_analyses,
                timeout_s=settings.analysis_timeout_s,
            )
        state = AppState(settings, db, cache, app_metrics, runner)
        holder["state"] = state
        app.state.bl = state
        app.state.jwt_secret = jwt_secret(settings)
        collector = Collector(app_metrics, db, settings.data_dir, settings.redis_url)
        collector.start(settings.collect_interval_s)
        background: asyncio.Task[None] | None = None
        if isinstance(runner, BrokerQueue):
            background = asyncio.create_task(_reconcile_forever(state, runner))
        else:
            for job_id in recover_unfinished_jobs(state):
                runner.submit(job_id)
        try:
            yield
        finally:
            collector.stop()
            if background is not None:
                background.cancel()
            runner.shutdown(wait=True, cancel=False)
            db.dispose()
            if isinstance(cache, RedisCache):
                cache.close()

    # /docs and /redoc with their scripts served by us: no CDN, so they work offline.
    app = FastAPIOffline(
        title="bizlogic — SuperInsight business-logic service",
        version=__version__,
        lifespan=lifespan,
    )
    install_error_handlers(app)

    # Innermost: its refusals still get a request id, an access log line and metrics.
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits.from_settings(settings))
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(HttpMetricsMiddleware, metrics=app_metrics)
    app.add_middleware(console.ConsoleHeaders)
    routers = (
        health,
        records,
        analysis,
        results,
        reports,
        apply,
        rules_import,
        recovery,
        notify,
        overview,
        admin,
        examples,
        signin,
        console,
    )
    for router in (module.router for module in routers):
        app.include_router(router)
    # Compressed: echarts.min.js is 1.1 MB as shipped, 0.36 MB gzipped.
    app.mount(
        f"{console.PREFIX}/static",
        GZipMiddleware(console.static_files(), minimum_size=1024),
        name="console-static",
    )
    return app


def app_from_env() -> FastAPI:
    """The factory each process of `bizlogic serve --workers N` calls (settings from BL_*)."""
    from bizlogic.telemetry.logging import configure_logging

    settings = get_settings()
    configure_logging(settings, process="api")
    return create_app(settings)
