"""The analysis job record: creation, state transitions and crash recovery queries.

Every transition is one conditional ``UPDATE … WHERE status IN (allowed)``, so
when two processes race (a worker finishing while a user cancels, two workers
claiming the same job) exactly one wins and the other gets a ConflictError —
no read-modify-write window, on SQLite or PostgreSQL.

    queued ──claim_job──▶ running ──finish_job──▶ completed
      │  ▲                   │  │
      │  └───requeue_job─────┘  └──fail_job / cancel_job──▶ failed / cancelled
      └──fail_job / cancel_job──▶ failed / cancelled

A running job belongs to the worker named in ``worker_id`` while its heartbeat
is fresh. When the heartbeat goes stale (the worker died), ``claim_job`` lets
another worker take it over; the old worker's writes, guarded by
``worker_id``, then no longer match — so results are written once.

The transition that ends a job also adds an ``uncounted_job_ends`` row in the
same transaction, so the end is on record exactly once, whichever process won
it — even one that exposes no metrics (recovery) or dies right after (a worker).
``take_uncounted_job_ends`` hands each such row to exactly one caller: the API
process counting ``bl_jobs_total`` (``bizlogic.jobs.end_counts``).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from bizlogic.store import clock
from bizlogic.store.errors import ConflictError, NotFoundError
from bizlogic.store.locks import hold_advisory_lock, lock_key
from bizlogic.store.paging import fetch_page
from bizlogic.store.projects import get_or_create_project
from bizlogic.store.tables import (
    FINISHED_STATUSES,
    JOB_STATUSES,
    UNFINISHED_STATUSES,
    AnalysisJob,
    UncountedJobEnd,
)


def create_job(
    session: Session,
    project_id: str,
    algorithms: Sequence[str],
    parameters: dict[str, Any],
    *,
    requested_by: str | None = None,
    job_id: str | None = None,
) -> AnalysisJob:
    """A new queued job (the project row is created if missing); ``job_id`` defaults to a UUID4."""
    if not algorithms or not all(isinstance(a, str) and a for a in algorithms):
        raise ValueError("algorithms: expected a non-empty list of algorithm names")
    if not isinstance(parameters, dict):
        raise ValueError("parameters: expected a JSON object")
    get_or_create_project(session, project_id)
    job = AnalysisJob(
        job_id=job_id or str(uuid.uuid4()),
        project_id=project_id,
        status="queued",
        parameters=parameters,
        algorithms=list(algorithms),
        attempts=0,
        requested_by=requested_by,
        created_at=clock.utcnow(),
        progress=0.0,
    )
    session.add(job)
    session.flush()
    return job


def discard_job(session: Session, job_id: str) -> bool:
    """Delete a job that was never handed to a worker (its queue refused it)."""
    result = session.execute(
        delete(AnalysisJob).where(AnalysisJob.job_id == job_id, AnalysisJob.status == "queued")
    )
    return result.rowcount == 1


def get_job(session: Session, job_id: str) -> AnalysisJob | None:
    return session.get(AnalysisJob, job_id)


def require_job(session: Session, job_id: str) -> AnalysisJob:
    job = session.get(AnalysisJob, job_id)
    if job is None:
        raise NotFoundError("job", job_id)
    return job


def list_jobs(
    session: Session,
    projects: str | Collection[str] | None,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AnalysisJob], int]:
    """Jobs of one project, of several, or (``None``) of all, newest first, and how many
    match in total."""
    if status is not None and status not in JOB_STATUSES:
        raise ValueError(f"status: must be one of {', '.join(JOB_STATUSES)}")
    statement = select(AnalysisJob)
    if isinstance(projects, str):
        statement = statement.where(AnalysisJob.project_id == projects)
    elif projects is not None:
        statement = statement.where(AnalysisJob.project_id.in_(list(projects)))
    if status is not None:
        statement = statement.where(AnalysisJob.status == status)
    order = [AnalysisJob.created_at.desc(), AnalysisJob.job_id]
    return fetch_page(session, statement, order, limit, offset)


def count_active_jobs(
    session: Session, *, requested_by: str | None = None, project_id: str | None = None
) -> int:
    """Queued + running jobs, optionally of one user or project (for concurrency caps)."""
    where = [AnalysisJob.status.in_(UNFINISHED_STATUSES)]
    if requested_by is not None:
        where.append(AnalysisJob.requested_by == requested_by)
    if project_id is not None:
        where.append(AnalysisJob.project_id == project_id)
    return int(session.scalar(select(func.count()).select_from(AnalysisJob).where(*where)) or 0)


def user_lock_key(user_id: str) -> int:
    """The PostgreSQL advisory-lock key of one user's analysis limit."""
    return lock_key("analysis-limit", user_id)


def create_job_within_limit(
    session: Session,
    project_id: str,
    algorithms: Sequence[str],
    parameters: dict[str, Any],
    *,
    requested_by: str,
    limit: int,
    job_id: str | None = None,
) -> AnalysisJob | None:
    """A new queued job for ``requested_by``, or None when that user would then have more
    than ``limit`` queued or running jobs.

    Counting and inserting in separate steps let parallel requests all see the
    same count and all get in. Here the check and the insert are one critical
    section per user, held until the caller's transaction ends:

    - PostgreSQL: ``pg_advisory_xact_lock`` on the user's key, taken before
      anything is counted; under READ COMMITTED the count then sees every job
      committed by the previous holder.
    - SQLite: the job is inserted *before* counting, so the transaction holds
      SQLite's single write lock while it counts (other writers wait on the busy
      timeout); the count includes the new job.

    Over the limit, the new job is deleted again (the caller's transaction
    ends with nothing of it; rolling back is as good).
    """
    if not isinstance(requested_by, str) or not requested_by:
        raise ValueError("requested_by: the limit is per user; a user id is required")
    hold_advisory_lock(session, "analysis-limit", requested_by)
    job = create_job(
        session, project_id, algorithms, parameters, requested_by=requested_by, job_id=job_id
    )
    if count_active_jobs(session, requested_by=requested_by) <= limit:
        return job
    session.delete(job)
    session.flush()
    return None


def _transition(
    session: Session,
    job_id: str,
    allowed: tuple[str, ...],
    verb: str,
    values: dict[str, Any],
    worker_id: str | None = None,
) -> AnalysisJob:
    where: list[ColumnElement[bool]] = [
        AnalysisJob.job_id == job_id,
        AnalysisJob.status.in_(allowed),
    ]
    if worker_id is not None:  # only the worker that holds the job may end it
        where.append(AnalysisJob.worker_id == worker_id)
    result = session.execute(
        update(AnalysisJob)
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    job = session.get(AnalysisJob, job_id, populate_existing=True)
    if job is None:
        raise NotFoundError("job", job_id)
    if result.rowcount != 1:
        holder = f" held by {job.worker_id}" if worker_id is not None else ""
        raise ConflictError(
            f"job {job_id} is {job.status}{holder}; only {' or '.join(allowed)} jobs can be {verb}"
        )
    if values["status"] in FINISHED_STATUSES:  # this caller won the job's end: on record once
        session.add(UncountedJobEnd(job_id=job_id, status=values["status"]))
        session.flush()
    return job


def claim_job(
    session: Session,
    job_id: str,
    worker_id: str,
    *,
    stale_before: datetime | None = None,
    reclaim_own: bool = False,
) -> AnalysisJob | None:
    """Start a queued job for ``worker_id``, counting the attempt; None if not ours to run.

    A running job is taken over when its heartbeat is older than
    ``stale_before`` (its worker died), or with ``reclaim_own`` when it is
    recorded under ``worker_id`` itself but no longer runs there (a retry
    after a failed attempt that could not reach the database to say so).
    """
    taken_over: list[ColumnElement[bool]] = []
    if stale_before is not None:
        taken_over.append(
            func.coalesce(AnalysisJob.heartbeat_at, AnalysisJob.started_at) < stale_before
        )
    if reclaim_own:
        taken_over.append(AnalysisJob.worker_id == worker_id)
    claimable = AnalysisJob.status == "queued"
    if taken_over:
        claimable = or_(claimable, and_(AnalysisJob.status == "running", or_(*taken_over)))
    now = clock.utcnow()
    result = session.execute(
        update(AnalysisJob)
        .where(AnalysisJob.job_id == job_id, claimable)
        .values(
            status="running",
            started_at=now,
            heartbeat_at=now,
            worker_id=worker_id,
            attempts=AnalysisJob.attempts + 1,
            progress=0.0,
            stage=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return session.get(AnalysisJob, job_id, populate_existing=True)


def heartbeat(session: Session, job_id: str, worker_id: str) -> bool:
    """Refresh a running job's heartbeat; False when it is no longer ours (cancelled,
    failed by the reconciler, or taken over): the worker must stop."""
    result = session.execute(
        update(AnalysisJob)
        .where(
            AnalysisJob.job_id == job_id,
            AnalysisJob.status == "running",
            AnalysisJob.worker_id == worker_id,
        )
        .values(heartbeat_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def mark_running(session: Session, job_id: str, worker_id: str) -> AnalysisJob:
    """Claim a queued job for ``worker_id``; counts the attempt. ConflictError if not queued."""
    job = claim_job(session, job_id, worker_id)
    if job is None:
        current = session.get(AnalysisJob, job_id, populate_existing=True)
        if current is None:
            raise NotFoundError("job", job_id)
        raise ConflictError(f"job {job_id} is {current.status}; only queued jobs can be started")
    return job


def update_progress(
    session: Session,
    job_id: str,
    progress: float,
    stage: str | None = None,
    worker_id: str | None = None,
) -> bool:
    """Record progress (0..1) and a heartbeat; False when the job is no longer running.

    A worker that gets False stops: the job was cancelled or failed meanwhile.
    """
    if not (isinstance(progress, int | float) and math.isfinite(progress) and 0 <= progress <= 1):
        raise ValueError(f"progress: must be between 0 and 1, got {progress!r}")
    where = [AnalysisJob.job_id == job_id, AnalysisJob.status == "running"]
    if worker_id is not None:
        where.append(AnalysisJob.worker_id == worker_id)
    result = session.execute(
        update(AnalysisJob)
        .where(*where)
        .values(progress=float(progress), stage=stage, heartbeat_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def finish_job(
    session: Session, job_id: str, results: dict[str, Any], worker_id: str | None = None
) -> AnalysisJob:
    """Mark a running job completed with its results summary.

    Call it in the same unit of work as ``save_results``: if the job was
    cancelled meanwhile, the ConflictError rolls the results back too.
    """
    now = clock.utcnow()
    return _transition(
        session,
        job_id,
        ("running",),
        "completed",
        {
            "status": "completed",
            "finished_at": now,
            "heartbeat_at": now,
            "progress": 1.0,
            "results": results,
        },
        worker_id,
    )


def fail_job(
    session: Session, job_id: str, error: str, worker_id: str | None = None
) -> AnalysisJob:
    """Mark a queued or running job failed, keeping the reason for the user."""
    if not error:
        raise ValueError("error: a failed job needs a reason")
    return _transition(
        session,
        job_id,
        UNFINISHED_STATUSES,
        "failed",
        {"status": "failed", "finished_at": clock.utcnow(), "error": error},
        worker_id,
    )


def cancel_job(session: Session, job_id: str, worker_id: str | None = None) -> AnalysisJob:
    """Cancel a queued or running job; a running worker notices at its next progress update."""
    return _transition(
        session,
        job_id,
        UNFINISHED_STATUSES,
        "cancelled",
        {"status": "cancelled", "finished_at": clock.utcnow()},
        worker_id,
    )


def requeue_job(session: Session, job_id: str, worker_id: str | None = None) -> AnalysisJob:
    """Put a running job whose worker died back in the queue (its attempt stays counted)."""
    return _transition(
        session,
        job_id,
        ("running",),
        "requeued",
        {
            "status": "queued",
            "worker_id": None,
            "started_at": None,
            "heartbeat_at": None,
            "progress": 0.0,
            "stage": None,
        },
        worker_id,
    )


def take_uncounted_job_ends(session: Session, limit: int = 10_000) -> dict[str, int]:
    """Delete up to ``limit`` uncounted job ends, oldest first; how many per final status.

    ``DELETE … RETURNING``: when processes take at once, each row is returned to
    exactly one of them (PostgreSQL: the second waits for the first's row lock and
    then finds the row gone; SQLite: one writer at a time). Count what this returns
    only after the caller's transaction committed: a rollback puts the rows back.
    """
    oldest = (
        select(UncountedJobEnd.id).order_by(UncountedJobEnd.id).limit(limit).scalar_subquery()
    )
    statuses = session.scalars(
        delete(UncountedJobEnd)
        .where(UncountedJobEnd.id.in_(oldest))
        .returning(UncountedJobEnd.status)
        .execution_options(synchronize_session=False)
    ).all()
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def jobs_left_unfinished(
    session: Session, *, stale_before: datetime | None = None
) -> list[AnalysisJob]:
    """Queued and running jobs, oldest first: what a crash may have left behind.

    With ``stale_before``, only jobs whose last sign of life (heartbeat, start
    or creation) is older — for reconciling while other workers are alive.
    """
    where = [AnalysisJob.status.in_(UNFINISHED_STATUSES)]
    if stale_before is not None:
        last_seen = func.coalesce(
            AnalysisJob.heartbeat_at, AnalysisJob.started_at, AnalysisJob.created_at
        )
        where.append(last_seen < stale_before)
    rows = session.scalars(
        select(AnalysisJob).where(*where).order_by(AnalysisJob.created_at, AnalysisJob.job_id)
    )
    return list(rows)
