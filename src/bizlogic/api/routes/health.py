"""Liveness, readiness, the upstream-compatible health document and /metrics."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bizlogic import __version__
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.shared_secret import bearer_matches
from bizlogic.api.state import AppState, app_state
from bizlogic.jobs.end_counts import count_job_ends
from bizlogic.ops.maintenance import maintenance_metric_families
from bizlogic.ops.recovery.history import recovery_metric_families

router = APIRouter()
DB_TIMEOUT_S = 2.0
READY_CACHE_S = 2.0  # readiness is polled often; don't hit the database every time


def _ping(state: AppState) -> None:
    with state.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _database_check(state: AppState) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, state), timeout=DB_TIMEOUT_S)
    except TimeoutError:
        return {"status": "down", "error": f"no answer within {DB_TIMEOUT_S}s"}
    except Exception as exc:  # any driver error means "not ready"; the reason is reported
        return {"status": "down", "error": exc.__class__.__name__}
    return {
        "status": "up",
        "dialect": state.db.dialect,
        "latency_ms": round(1000 * (time.perf_counter() - started), 2),
    }


async def _checks(state: AppState) -> dict[str, Any]:
    now = time.monotonic()
    last = state.last_checks
    if last.get("result") is not None and now - last["at"] < READY_CACHE_S:
        return last["result"]
    result = {
        "database": await _database_check(state),
        "cache": await asyncio.to_thread(state.cache.status),
        "queue": await asyncio.to_thread(state.runner.status),
    }
    last.update(at=now, result=result)
    return result


@router.get("/livez", tags=["health"])
async def livez() -> dict[str, str]:
    """The process answers; says nothing about its dependencies."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    checks = await _checks(state)
    # A degraded cache or queue still serves reads: only "down" takes the replica out.
    ready = all(c["status"] != "down" for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/api/business-logic/health", tags=["health"])
async def health(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    checks = await _checks(state)
    statuses = {c["status"] for c in checks.values()}
    overall = "unhealthy" if "down" in statuses else "healthy" if statuses == {"up"} else "degraded"
    body = {
        "status": overall,
        "service": "business-logic",
        "timestamp": datetime.now(tz=UTC).isoformat().replace("+00:00", "Z"),
        "version": __version__,
        "checks": checks,
    }
    return JSONResponse(body, status_code=503 if overall == "unhealthy" else 200)


@router.get("/metrics", tags=["health"])
async def metrics(state: Annotated[AppState, Depends(app_state)], request: Request) -> Response:
    """Prometheus exposition; behind ``BL_METRICS_TOKEN`` when set (labels name projects)."""
    token = state.settings.metrics_token
    if token is not None and not bearer_matches(token, request.headers.get("authorization")):
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            "missing or wrong metrics token (BL_METRICS_TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def scrape_time_families() -> list[Any]:
        return [
            *state.runner.metric_families(),
            *maintenance_metric_families(state.db),
            *recovery_metric_families(state.db),
        ]

    def scrape() -> tuple[bytes, str]:
        # Jobs ended anywhere since the last scrape join this process's bl_jobs_total
        # first, so this very scrape shows them (each end reaches one process only).
        count_job_ends(state.db, state.metrics)
        return state.metrics.render(scrape_time_families)

    payload, content_type = await asyncio.to_thread(scrape)
    return Response(payload, media_type=content_type)
