"""Run one analysis job end to end: load the project, mine, store, report.

Shared by the in-process runner (embedded mode) and, later, the Dramatiq
workers. Every outcome leaves the job row in a final state: completed with a
results summary, cancelled, or failed with a reason — never stuck running.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from bizlogic.cache import Cache
from bizlogic.jobs.runner import CancelToken, JobCancelled
from bizlogic.mining.engine import run_analysis
from bizlogic.mining.model import Filters, MiningParams
from bizlogic.records.schema import parse_timestamp
from bizlogic.store.annotations import build_project_dataset
from bizlogic.store.db import Database
from bizlogic.store.jobs import (
    cancel_job,
    fail_job,
    finish_job,
    get_job,
    mark_running,
    update_progress,
)
from bizlogic.store.results import results_summary, save_results
from bizlogic.telemetry.logging import (
    log_analysis_complete,
    log_analysis_error,
    log_analysis_start,
)
from bizlogic.telemetry.metrics import Metrics

logger = logging.getLogger("bizlogic.jobs")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class JobContext:
    db: Database
    metrics: Metrics
    cache: Cache


def params_from_json(data: dict[str, Any]) -> MiningParams:
    """MiningParams from the job's stored parameters (validated when the job was accepted)."""
    time_range = data.get("time_range") or {}
    start = parse_timestamp(time_range.get("start"), "time_range.start")
    end = parse_timestamp(time_range.get("end"), "time_range.end")
    return MiningParams(
        min_support=int(data.get("min_support", 5)),
        min_confidence=float(data.get("min_confidence", 0.7)),
        max_fdr=float(data.get("max_fdr", 0.05)),
        max_len=int(data.get("max_len", 3)),
        time_range=(start, end),
        filters=Filters.from_dict(data.get("filters")),
        holdout_fraction=float(data.get("holdout_fraction", 0.2)),
        lang=str(data.get("lang", "en")),
    )


def execute_job(ctx: JobContext, job_id: str, token: CancelToken) -> None:
    with ctx.db.scope() as session:
        job = get_job(session, job_id)
        if job is None or job.status != "queued":
            return  # cancelled before it started, or already handled elsewhere
        job = mark_running(session, job_id, WORKER_ID)
        project_id, algorithms = job.project_id, list(job.algorithms)
        parameters, user = dict(job.parameters), job.requested_by or "unknown"
    role = str(parameters.get("_role", "unknown"))
    started = time.perf_counter()
    for _ in algorithms:
        ctx.metrics.analysis_started()
    status, result = "failed", None
    try:
        params = params_from_json(parameters)
        with ctx.db.scope() as session:
            data = build_project_dataset(session, project_id)
        for name in algorithms:
            log_analysis_start(name, project_id, user, len(data))

        def progress(stage: str, done: int, total: int) -> None:
            token.check()
            with ctx.db.scope() as session:
                update_progress(session, job_id, done / total if total else 1.0, stage)

        result = run_analysis(data, algorithms, params, progress=progress)
        token.check()
        with ctx.db.scope() as session:
            save_results(session, project_id, job_id, result)
            finish_job(session, job_id, results_summary(result))
        ctx.cache.invalidate_project(project_id)
        status = "completed"
    except JobCancelled:
        status = "cancelled"
        with ctx.db.scope() as session:
            cancel_job(session, job_id)
    except Exception as exc:  # any failure must end in a failed job, with the reason
        logger.exception("analysis job %s failed", job_id)
        reason = f"{exc.__class__.__name__}: {exc}"
        with ctx.db.scope() as session:
            fail_job(session, job_id, reason[:2000])
        for name in algorithms:
            log_analysis_error(name, project_id, exc, time.perf_counter() - started)
    finally:
        _record_metrics(ctx, algorithms, project_id, role, status, result, started)
        ctx.metrics.job_status(status)


def _record_metrics(
    ctx: JobContext,
    algorithms: list[str],
    project_id: str,
    role: str,
    status: str,
    result: Any,
    started: float,
) -> None:
    elapsed = time.perf_counter() - started
    timings = result.meta["timings_s"] if result is not None else {}
    accuracy = result.meta["pattern_accuracy_by_algorithm"] if result is not None else {}
    n_records = result.meta["n_records"] if result is not None else 0
    for name in algorithms:
        rules = [r for r in result.rules if r.algorithm == name] if result is not None else []
        patterns = [p for p in result.patterns if p.algorithm == name] if result else []
        duration = float(timings.get(name, elapsed))
        ctx.metrics.analysis_finished(
            algorithm=name,
            project_id=project_id,
            user_role=role,
            status=status,
            duration_s=duration,
            n_records=n_records,
            rules_extracted=len(rules),
            pattern_accuracy=accuracy.get(name),
            data_type="annotations",
        )
        if status == "completed":
            log_analysis_complete(name, project_id, duration, len(patterns), len(rules))
