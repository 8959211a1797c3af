"""POST /analyze (202 + job), GET /jobs (recent jobs), GET and DELETE /jobs/{job_id}.

Starting and cancelling a job write their audit event (``store/audit.py``) in the
transaction that creates or cancels the job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bizlogic.api.auth import Permission, Principal, not_found, require, require_project_access
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.api.types import Limit, Offset, ProjectIdField
from bizlogic.jobs.execute import is_scoped, params_from_json
from bizlogic.jobs.queue import QueueUnavailable
from bizlogic.mining.model import DEFAULT_MAX_RULES
from bizlogic.mining.registry import ALGORITHM_NAMES
from bizlogic.store import audit
from bizlogic.store.annotations import has_records
from bizlogic.store.errors import ConflictError, NotFoundError
from bizlogic.store.jobs import (
    cancel_job,
    count_active_jobs,
    create_job_within_limit,
    discard_job,
    get_job,
    list_jobs,
)
from bizlogic.store.tables import AnalysisJob
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["analysis"])
RETRY_AFTER_S = "30"
QUEUE_RETRY_AFTER_S = "10"
# The job statuses of store/tables.py JOB_STATUSES, spelled out so OpenAPI lists them.
JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime | None = None
    end: datetime | None = None


class AnalysisFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    annotators: list[str] | None = None
    sentiments: list[str] | None = None


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: ProjectIdField
    analysis_types: list[str] = Field(default_factory=lambda: list(ALGORITHM_NAMES), min_length=1)
    min_support: int | None = Field(default=None, ge=1, le=2**31 - 1)  # None: scaled to the data
    min_confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    max_fdr: float = Field(default=0.05, gt=0.0, le=1.0)
    max_len: int = Field(default=3, ge=1, le=6)
    holdout_fraction: float = Field(default=0.3, ge=0.0, lt=1.0)
    max_rules: int | None = Field(default=DEFAULT_MAX_RULES, ge=1, le=2**31 - 1)  # None: all
    lang: str = Field(default="en", pattern="^(en|zh)$")
    time_range: TimeRange | None = None
    filters: AnalysisFilters | None = None
    # Whether the run replaces the project's current results. None: an unscoped run
    # does, a scoped one (time_range / filters) only keeps its job snapshot.
    replace: bool | None = None


def _parameters(body: AnalyzeRequest, principal: Principal) -> dict[str, Any]:
    unknown = [a for a in body.analysis_types if a not in ALGORITHM_NAMES]
    if unknown:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            f"analysis_types: unknown {unknown}; choose from {list(ALGORITHM_NAMES)}",
            [{"field": "body.analysis_types", "message": "unknown algorithm"}],
        )
    parameters = body.model_dump(mode="json", exclude={"project_id", "analysis_types"})
    parameters["_role"] = principal.role.value  # metrics label only
    try:
        params_from_json(parameters)  # the same validation the job will apply
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
    parameters["replace"] = _replaces(body, principal, is_scoped(parameters))
    return parameters


def _replaces(body: AnalyzeRequest, principal: Principal, scoped: bool) -> bool:
    """Whether the job may replace the project's results (stored in the job, which the
    worker obeys).

    A scoped run sees only part of the data; letting it replace the project's
    results would let an analyst wipe the rule base with a filter that matches
    nothing, so that takes the permission that edits rules.
    """
    replace = (not scoped) if body.replace is None else body.replace
    if replace and scoped and not principal.has(Permission.MANAGE_RULES):
        permission = Permission.MANAGE_RULES.value
        raise ApiError(
            403,
            ErrorCode.FORBIDDEN,
            f"role {principal.role.value} lacks permission {permission}, which a scoped "
            "analysis (time_range or filters) needs to replace the project's results",
            {"permission": permission, "role": principal.role.value},
        )
    return replace


def _accept(
    state: AppState, body: AnalyzeRequest, principal: Principal, parameters: dict[str, Any]
) -> str:
    with state.db.scope() as session:
        if not has_records(session, body.project_id):
            raise ApiError(
                422,
                ErrorCode.INVALID_REQUEST,
                f"project {body.project_id!r} has no records; import some first",
            )
        limit = state.settings.max_user_analyses
        job = create_job_within_limit(
            session,
            body.project_id,
            body.analysis_types,
            parameters,
            requested_by=principal.user_id,
            limit=limit,
        )
        if job is None:
            active = count_active_jobs(session, requested_by=principal.user_id)
            raise ApiError(
                429,
                ErrorCode.RATE_LIMITED,
                f"{active} analyses of yours are still queued or running (limit {limit})",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        job_id = job.job_id
        event = audit.record(
            session,
            principal,
            "analysis.start",
            project_id=body.project_id,
            target=job_id,
            details={"algorithms": body.analysis_types, "parameters": _public(parameters)},
        )
        event_id = event.id
    _submit(state, job_id, event_id)
    return job_id


def _submit(state: AppState, job_id: str, event_id: int) -> None:
    """Hand the job to the runner; if the queue is unreachable, the job (and its audit
    event) never existed."""
    try:
        state.runner.submit(job_id)
    except QueueUnavailable as exc:
        with state.db.scope() as session:
            discard_job(session, job_id)
            audit.discard(session, event_id)
        raise ApiError(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            f"the job queue is unreachable ({exc}); nothing was queued, try again later",
            headers={"Retry-After": QUEUE_RETRY_AFTER_S},
        ) from None


@router.post("/analyze", status_code=202)
async def analyze(
    body: AnalyzeRequest,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.ANALYZE_DATA))],
) -> JSONResponse:
    """Queue an analysis of a project's stored records; poll the status URL."""
    require_project_access(principal, body.project_id)
    parameters = _parameters(body, principal)
    job_id = await run_in_threadpool(_accept, state, body, principal, parameters)
    state.metrics.job_status("queued")
    log_user_action(
        principal.user_id,
        "analyze",
        f"project:{body.project_id}",
        {"job_id": job_id, "algorithms": body.analysis_types},
    )
    url = f"/api/business-logic/jobs/{job_id}"
    return JSONResponse(
        {"job_id": job_id, "status": "queued", "status_url": url},
        status_code=202,
        headers={"Location": url},
    )


def _public(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters without the internal ones (``_role``: a metrics label)."""
    return {k: v for k, v in parameters.items() if not k.startswith("_")}


def job_view(job: AnalysisJob) -> dict[str, Any]:
    """A job as the API shows it, in ``GET /jobs/{job_id}`` and ``GET /jobs`` alike."""
    view = job.as_dict()
    view["parameters"] = _public(view["parameters"])
    return view


def _job(state: AppState, job_id: str, principal: Principal) -> dict[str, Any]:
    with state.db.scope() as session:
        job = get_job(session, job_id)
        missing = not_found(f"job {job_id!r} not found")
        if job is None:
            raise missing
        require_project_access(principal, job.project_id, missing=missing)
        return job_view(job)


@router.get("/jobs")
async def recent_jobs(
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.VIEW_JOBS))],
    project_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: JobStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Recent jobs of the token's projects (or of ``project_id``), newest first.

    Not cached: a job's status changes without any write that would invalidate
    the project's cached reads.
    """
    if project_id is not None:
        require_project_access(principal, project_id)
    scope = [project_id] if project_id is not None else principal.projects

    def read() -> dict[str, Any]:
        with state.db.scope() as session:
            jobs, total = list_jobs(
                session, scope, status=status, limit=limit, offset=offset
            )
            return {
                "jobs": [job_view(job) for job in jobs],
                "total": total,
                "limit": limit,
                "offset": offset,
            }

    return await run_in_threadpool(read)


@router.get("/jobs/{job_id}")
async def job_status(
    job_id: str,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.VIEW_JOBS))],
) -> dict[str, Any]:
    return await run_in_threadpool(_job, state, job_id, principal)


def _cancel(state: AppState, job_id: str, principal: Principal) -> dict[str, Any]:
    """The database record is the signal, whatever the mode: a worker in another process
    (Redis mode) learns of it at its next progress report or heartbeat and stops without
    storing anything; the embedded runner's token only makes that immediate."""
    job = _job(state, job_id, principal)
    try:
        with state.db.scope() as session:
            cancel_job(session, job_id)
            audit.record(
                session,
                principal,
                "job.cancel",
                project_id=job["project_id"],
                target=job_id,
                details={"before": job["status"], "after": "cancelled"},
            )
    except ConflictError as exc:
        raise ApiError(409, ErrorCode.CONFLICT, str(exc)) from None
    except NotFoundError as exc:
        raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from None
    state.runner.cancel(job_id)
    # A running analysis still has to reach its next check before it stops.
    return {"job_id": job_id, "status": "cancelling" if job["status"] == "running" else "cancelled"}


@router.delete("/jobs/{job_id}", status_code=202)
async def cancel(
    job_id: str,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.ANALYZE_DATA))],
) -> dict[str, Any]:
    """Cancel a queued job at once, a running one at its next progress report."""
    result = await run_in_threadpool(_cancel, state, job_id, principal)
    log_user_action(principal.user_id, "cancel_job", f"job:{job_id}", result)
    return result
