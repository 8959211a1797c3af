"""Run one analysis job end to end: load the project, mine, store, report.

Shared by the in-process runner (embedded mode) and, later, the Dramatiq
workers. Every outcome leaves the job row in a final state: completed with a
results summary, cancelled, or failed with a reason — never stuck running.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis

from bizlogic.cache import Cache
from bizlogic.jobs.identity import own_worker_id
from bizlogic.jobs.runner import CancelToken, JobCancelled
from bizlogic.mining.engine import AnalysisResult, run_analysis
from bizlogic.mining.model import DEFAULT_MAX_RULES, Filters, MiningParams
from bizlogic.records.schema import parse_timestamp
from bizlogic.settings import Settings
from bizlogic.store import clock
from bizlogic.store.annotations import build_project_dataset, count_records
from bizlogic.store.db import Database, is_connection_error
from bizlogic.store.errors import ConflictError
from bizlogic.store.jobs import (
    cancel_job,
    claim_job,
    fail_job,
    finish_job,
    get_job,
    heartbeat,
    requeue_job,
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
WORKER_ID = own_worker_id()  # host:pid:nonce in a worker process (jobs.identity)


@dataclass
class JobContext:
    db: Database
    metrics: Metrics
    cache: Cache
    timeout_s: float = 1800.0
    heartbeat_s: float = 10.0
    stale_s: float = 60.0  # a running job whose heartbeat is older belongs to a dead worker
    max_attempts: int = 3
    count_deliveries: bool = False  # Dramatiq workers: bl_worker_jobs_total by outcome

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Database, metrics: Metrics, cache: Cache
    ) -> JobContext:
        return cls(
            db,
            metrics,
            cache,
            timeout_s=settings.analysis_timeout_s,
            heartbeat_s=settings.job_heartbeat_s,
            stale_s=settings.job_stale_s,
            max_attempts=settings.job_max_attempts,
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def params_from_json(data: dict[str, Any]) -> MiningParams:
    """MiningParams from the job's stored parameters (validated when the job was accepted)."""
    time_range = data.get("time_range") or {}
    start = parse_timestamp(time_range.get("start"), "time_range.start")
    end = parse_timestamp(time_range.get("end"), "time_range.end")
    return MiningParams(
        min_support=_optional_int(data.get("min_support")),
        min_confidence=float(data.get("min_confidence", 0.7)),
        max_fdr=float(data.get("max_fdr", 0.05)),
        max_len=int(data.get("max_len", 3)),
        time_range=(start, end),
        filters=Filters.from_dict(data.get("filters")),
        holdout_fraction=float(data.get("holdout_fraction", 0.3)),
        lang=str(data.get("lang", "en")),
        max_rules=_optional_int(data.get("max_rules", DEFAULT_MAX_RULES)),
    )


def is_scoped(parameters: dict[str, Any]) -> bool:
    """Whether the run sees only part of the project: a time bound or any filter set.

    A selection that narrows nothing (no bound, every filter null) is a full run.
    """
    time_range = parameters.get("time_range") or {}
    filters = parameters.get("filters") or {}
    return any(time_range.get(end) is not None for end in ("start", "end")) or any(
        value is not None for value in filters.values()
    )


def replaces_project_results(parameters: dict[str, Any]) -> bool:
    """Whether the job's result replaces the project's results or is only kept as its
    snapshot: the ``replace`` the API decided and stored; jobs queued before that field
    existed replace only when unscoped, so a scoped one can never wipe curated work."""
    replace = parameters.get("replace")
    return (not is_scoped(parameters)) if replace is None else bool(replace)


_OUTCOMES = {
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "retrying": "retried",
    "lost": "skipped",
}


class TransientJobError(Exception):
    """An attempt failed for a reason that may pass (database or Redis unreachable)."""


def is_transient(exc: BaseException) -> bool:
    """Connection-level trouble is retried; anything about the data or the code is not."""
    return is_connection_error(exc) or isinstance(exc, redis.ConnectionError | redis.TimeoutError)


class Heartbeat:
    """Tells the database every few seconds that this worker still runs the job.

    If the record stops being ours (cancelled through the API, failed by the
    reconciler, taken over after we were presumed dead), the job's token is
    cancelled so the analysis stops at its next check.
    """

    def __init__(self, ctx: JobContext, job_id: str, token: CancelToken) -> None:
        self._ctx, self._job_id, self._token = ctx, job_id, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"bl-heartbeat-{job_id[:8]}")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._ctx.heartbeat_s):
            try:
                with self._ctx.db.scope() as session:
                    ours = heartbeat(session, self._job_id, WORKER_ID)
            except Exception as exc:  # the next beat tries again; staleness decides
                logger.warning("heartbeat of job %s failed: %s", self._job_id, exc)
                continue
            if not ours:
                self._token.cancel(stop_reason(self._ctx, self._job_id))
                return


def stop_reason(ctx: JobContext, job_id: str) -> str:
    """Why a job this worker held is no longer its own: ``cancelled`` when the record says
    so (the API's cancel, recovery), else ``lost`` (failed by the reconciler, taken over)."""
    try:
        with ctx.db.scope() as session:
            job = get_job(session, job_id)
            status = None if job is None else job.status
    except Exception as exc:  # stopping is certain; only the label is in doubt
        logger.warning("could not read the status of job %s: %s", job_id, exc)
        return "lost"
    return "cancelled" if status == "cancelled" else "lost"


def execute_job(
    ctx: JobContext, job_id: str, token: CancelToken, *, retry_transient: bool = False
) -> str | None:
    """Run one job to a final state; returns it, or None when the job was not ours to run.

    With ``retry_transient`` (Dramatiq workers) a connection failure puts the
    job back in the queue and raises TransientJobError so that the broker
    retries it with backoff; otherwise every failure ends the job as failed.
    """
    stale_before = clock.utcnow() - timedelta(seconds=ctx.stale_s)
    with ctx.db.scope() as session:
        job = claim_job(
            session, job_id, WORKER_ID, stale_before=stale_before, reclaim_own=retry_transient
        )
        if job is None:
            if ctx.count_deliveries:
                ctx.metrics.worker_job("skipped")
            return None  # finished, cancelled, or alive in another worker
        if ctx.count_deliveries:
            ctx.metrics.worker_job("started")
        if job.attempts > ctx.max_attempts:
            previous = job.attempts - 1
            fail_job(session, job_id, f"attempts exhausted: interrupted {previous} times")
            logger.warning("job %s failed: attempts exhausted (%s)", job_id, previous)
            if ctx.count_deliveries:
                ctx.metrics.worker_job("failed")
            return "failed"
        attempt = job.attempts
        project_id, algorithms = job.project_id, list(job.algorithms)
        parameters, user = dict(job.parameters), job.requested_by or "unknown"
        # Counted now so a run that fails or is cancelled is still labelled by its size.
        n_records = count_records(session, project_id)
    role = str(parameters.get("_role", "unknown"))
    started = time.perf_counter()
    stages = StageClock()
    for _ in algorithms:
        ctx.metrics.analysis_started()
    status, result = "failed", None
    try:
        with Heartbeat(ctx, job_id, token):
            result = _analyse(
                ctx, job_id, token, project_id, algorithms, parameters, user, stages
            )
        status = "completed"
    except JobCancelled as stop:
        status = _stopped(ctx, job_id, stop.reason)
        if stop.reason == "timeout":  # a failure like any other for the log analyzer
            for name in algorithms:
                log_analysis_error(
                    name, project_id, f"timeout: ran past {ctx.timeout_s:g} s",
                    time.perf_counter() - started,
                )  # fmt: skip
    except Exception as exc:
        reason = f"{exc.__class__.__name__}: {exc}"[:2000]
        if retry_transient and is_transient(exc) and attempt < ctx.max_attempts:
            status = "retrying"
            _give_back(ctx, job_id)
            raise TransientJobError(reason) from exc
        logger.exception("analysis job %s failed", job_id)
        if is_transient(exc) and retry_transient:
            reason = f"attempts exhausted ({attempt}); last error: {reason}"[:2000]
        _end(ctx, job_id, fail_job, reason)
        for name in algorithms:
            log_analysis_error(name, project_id, exc, time.perf_counter() - started)
    finally:
        # An attempt that will be retried failed; one that lost its job was cut short.
        attempt_status = {"retrying": "failed", "lost": "cancelled"}.get(status, status)
        _record_metrics(
            ctx, algorithms, project_id, role, attempt_status, result, stages, n_records
        )
        # bl_jobs_total: the transition that ended the job put it on record for the API
        # to count (jobs.end_counts), whichever process won it; nothing to count here.
        if ctx.count_deliveries:
            ctx.metrics.worker_job(_OUTCOMES[status])
    return status


def _analyse(
    ctx: JobContext,
    job_id: str,
    token: CancelToken,
    project_id: str,
    algorithms: list[str],
    parameters: dict[str, Any],
    user: str,
    stages: StageClock,
) -> AnalysisResult:
    params = params_from_json(parameters)
    with ctx.db.scope() as session:
        data = build_project_dataset(session, project_id)
    for name in algorithms:
        log_analysis_start(name, project_id, user, len(data))

    def progress(stage: str, done: int, total: int) -> None:
        stages.enter(stage)
        token.check()
        with ctx.db.scope() as session:
            fraction = done / total if total else 1.0
            ours = update_progress(session, job_id, fraction, stage, worker_id=WORKER_ID)
        if not ours:
            token.cancel(stop_reason(ctx, job_id))
        token.check()

    result = run_analysis(data, algorithms, params, progress=progress)
    token.check()
    # Results and the completed status in one transaction, only while the job is still
    # ours: a worker that was presumed dead and taken over writes nothing.
    try:
        with ctx.db.scope() as session:
            save_results(
                session, project_id, job_id, result, replace=replaces_project_results(parameters)
            )
            finish_job(session, job_id, results_summary(result), worker_id=WORKER_ID)
    except ConflictError:  # cancelled or taken over while the analysis ran
        raise JobCancelled(stop_reason(ctx, job_id)) from None
    ctx.cache.invalidate_project(project_id)
    return result


class StageClock:
    """When each stage of a run began (from the analysis' progress reports), so a run that
    fails part-way still knows how long each algorithm it reached took."""

    def __init__(self) -> None:
        self._began: dict[str, float] = {}
        self._order: list[str] = []

    def enter(self, stage: str) -> None:
        if stage not in self._began:
            self._began[stage] = time.perf_counter()
            self._order.append(stage)

    def durations(self) -> dict[str, float]:
        """Each stage until the next one began; the last one until now."""
        ends = [self._began[s] for s in self._order[1:]] + [time.perf_counter()]
        return {s: ends[i] - self._began[s] for i, s in enumerate(self._order)}


def _stopped(ctx: JobContext, job_id: str, reason: str) -> str:
    if reason == "timeout":
        _end(ctx, job_id, fail_job, f"timeout: the analysis ran past {ctx.timeout_s:g} s")
        return "failed"
    if reason == "cancelled":  # ended already when the API or recovery cancelled it
        _end(ctx, job_id, cancel_job)
        logger.info("job %s cancelled: its analysis stopped, nothing stored", job_id)
        return "cancelled"
    logger.warning("job %s is no longer held by %s; its attempt stops", job_id, WORKER_ID)
    return "lost"


def _end(ctx: JobContext, job_id: str, transition: Callable[..., Any], *args: Any) -> None:
    """Apply a final transition if the job is still ours (a user may have ended it first)."""
    with contextlib.suppress(ConflictError), ctx.db.scope() as session:
        transition(session, job_id, *args, worker_id=WORKER_ID)


def fail_unless_finished(ctx: JobContext, job_id: str, reason: str) -> None:
    """Fail the job with ``reason`` if this worker still holds it."""
    _end(ctx, job_id, fail_job, reason)


def _give_back(ctx: JobContext, job_id: str) -> None:
    """Requeue after a transient failure; if even that fails, the retry reclaims it."""
    try:
        with ctx.db.scope() as session:
            requeue_job(session, job_id, worker_id=WORKER_ID)
    except Exception as exc:
        logger.warning("could not requeue job %s (%s); the retry will reclaim it", job_id, exc)


def _record_metrics(
    ctx: JobContext,
    algorithms: list[str],
    project_id: str,
    role: str,
    status: str,
    result: Any,
    stages: StageClock,
    project_records: int,
) -> None:
    """``project_records`` sizes a run without a result (failed, cancelled); a completed
    one is sized by the records it analysed. A run without a result times each algorithm
    by the stages it reached: an algorithm that never started has no duration."""
    timings = result.meta["timings_s"] if result is not None else stages.durations()
    accuracy = result.meta["pattern_accuracy_by_algorithm"] if result is not None else {}
    n_records = result.meta["n_records"] if result is not None else project_records
    for name in algorithms:
        rules = [r for r in result.rules if r.algorithm == name] if result is not None else []
        patterns = [p for p in result.patterns if p.algorithm == name] if result else []
        duration = timings.get(name)
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
            log_analysis_complete(name, project_id, duration or 0.0, len(patterns), len(rules))
