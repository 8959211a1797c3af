"""`bizlogic maintain`: the scheduled housekeeping, safe to run on a production database.

Steps, each reported with its result and duration (``--only`` picks some):

* ``cache``     Redis mode: remove ``bl:`` entries of superseded project versions
                (``--flush-cache``: every ``bl:`` key) with SCAN + UNLINK in batches —
                never ``KEYS``, never another prefix. Embedded mode: nothing to do
                (the in-memory cache lives in the API process and expires by TTL).
* ``retention`` delete patterns, insights and finished job records older than
                ``BL_RETENTION_DAYS``, in batches, never those of a project's latest
                completed run.
* ``database``  PostgreSQL: ``VACUUM (ANALYZE)`` of the business tables and
                ``REINDEX INDEX CONCURRENTLY idx_business_rules_project_confidence``;
                SQLite: ``VACUUM`` and ``ANALYZE``.
* ``logs``      delete rotated log files (``BL_LOG_FILE.N``…) older than
                ``BL_LOG_RETENTION_DAYS``; never the live file.
* ``disk``      usage of the data and log filesystems; at or above
                ``BL_DISK_ALERT_PERCENT`` a JSON alert to ``BL_ALERT_WEBHOOK_URL``.
* ``capacity``  sample each resource's size and limit into ``capacity_samples`` (see
                ``bizlogic.ops.capacity``) and delete samples older than
                ``BL_CAPACITY_RETENTION_DAYS``; ``--dry-run`` measures, stores nothing.
* ``restart``   only with ``--restart``: restart ``BL_SERVICE_UNITS`` (systemctl, or
                ``BL_RESTART_COMMAND``), then poll ``BL_HEALTH_URL`` until healthy.

One run at a time (a PostgreSQL advisory lock, or a file lock next to the SQLite
database). Every run, dry or not, is stored in ``maintenance_runs``; the API
exports the last success and the step durations as metrics.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import re
import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import and_, delete, func, or_, select, text

from bizlogic.cache import unlink_in_batches
from bizlogic.ops.capacity import sample as capacity_sample
from bizlogic.ops.capacity import store as capacity_store
from bizlogic.ops.notify import DeliveryError, alert_payload, send_alert
from bizlogic.ops.services import restart_commands, run_command, split_units, wait_healthy
from bizlogic.private_fs import ensure_private_dir, open_private
from bizlogic.settings import Settings
from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import (
    TABLE_NAMES,
    AnalysisJob,
    InsightRow,
    MaintenanceRun,
    PatternRow,
    ProjectRow,
)
from bizlogic.telemetry.disk import disk_usage
from bizlogic.telemetry.logfile import live_files
from bizlogic.telemetry.logging import get_logger

logger = logging.getLogger("bizlogic.maintenance")
events = get_logger("bizlogic.maintenance")  # the structured lines: one per step
STEPS = ("cache", "retention", "database", "logs", "disk", "capacity", "restart")
DEFAULT_STEPS = STEPS[:-1]  # restart only when asked
KIND = "maintenance"
BATCH = 1000
ADVISORY_LOCK_KEY = 0x626C6D61696E74  # "blmaint": one number shared by every host
REINDEXED = "idx_business_rules_project_confidence"
_VALUE_KEY = re.compile(r"^bl:(?P<project>.+):v(?P<version>\d+):[^:]+:[0-9a-f]{16}$")
_VERSION_KEY = re.compile(r"^bl:(?P<project>.+):version$")


class AlreadyRunning(Exception):
    """Another maintenance run holds the lock."""


@dataclass
class StepResult:
    name: str
    status: str  # ok | failed | skipped
    duration_s: float
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Report:
    run_id: int
    dry_run: bool
    steps: list[StepResult]

    @property
    def ok(self) -> bool:
        return all(step.status != "failed" for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "status": "ok" if self.ok else "failed",
            "steps": [asdict(step) for step in self.steps],
        }


class Maintenance:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        dry_run: bool = False,
        flush_cache: bool = False,
        steps: tuple[str, ...] = DEFAULT_STEPS,
        now: Callable[[], datetime] = clock.utcnow,
        health_timeout_s: float = 60.0,
    ) -> None:
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise ValueError(f"--only: unknown step(s) {unknown}; choose from {list(STEPS)}")
        self.settings = settings
        self.db = db
        self.dry_run = dry_run
        self.flush_cache = flush_cache
        self.steps = steps
        self.now = now
        self.health_timeout_s = health_timeout_s

    # -- the run --------------------------------------------------------------

    def run(self) -> Report:
        with self._lock():
            began = time.perf_counter()
            run_id = self._record_start()
            events.info(
                "maintenance_start",
                message=f"Maintenance run {run_id} started: {', '.join(self.steps)}"
                + (" (dry run)" if self.dry_run else ""),
                run_id=run_id,
                steps=list(self.steps),
                dry_run=self.dry_run,
            )
            results = [self._step(run_id, name) for name in self.steps]
            report = Report(run_id, self.dry_run, results)
            self._record_end(report)
            failed = [step.name for step in results if step.status == "failed"]
            duration = round(time.perf_counter() - began, 3)
            (events.info if report.ok else events.error)(
                "maintenance_end",
                message=f"Maintenance run {run_id} "
                + (f"failed ({', '.join(failed)})" if failed else "done")
                + f" in {duration:.2f} s",
                run_id=run_id,
                status="ok" if report.ok else "failed",
                failed_steps=failed,
                duration_s=duration,
                dry_run=self.dry_run,
            )
        return report

    def _step(self, run_id: int, name: str) -> StepResult:
        """One step, timed; a failure is reported and the next steps still run. Each step
        is one ``maintenance_step`` log line: INFO, ERROR when it failed."""
        started = time.perf_counter()
        try:
            status, details = getattr(self, f"_{name}")()
            error = None
        except Exception as exc:  # a failed step is reported; the next steps still run
            status, details, error = "failed", {}, f"{exc.__class__.__name__}: {exc}"[:1000]
        result = StepResult(name, status, round(time.perf_counter() - started, 3), details, error)
        (events.error if status == "failed" else events.info)(
            "maintenance_step",
            message=f"Maintenance step {name}: {status} in {result.duration_s:.2f} s"
            + (f" ({error})" if error else ""),
            run_id=run_id,
            step=name,
            status=status,
            duration_s=result.duration_s,
            dry_run=self.dry_run,
            details=details,
            error=error,
        )
        return result

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        if self.db.dialect == "postgresql":
            with self.db.engine.connect() as connection:
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                ).scalar()
                connection.commit()
                if not got:
                    raise AlreadyRunning("another maintenance run holds the lock")
                try:
                    yield
                finally:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                    connection.commit()
            return
        ensure_private_dir(self.settings.data_dir)
        lock = open_private(self.settings.data_dir / "maintenance.lock", os.O_RDWR)
        with os.fdopen(lock, "r+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyRunning("another maintenance run holds the lock") from None
            yield

    def _record_start(self) -> int:
        with self.db.scope() as session:
            row = MaintenanceRun(
                kind=KIND,
                status="running",
                dry_run=self.dry_run,
                started_at=self.now(),
                details={"steps": list(self.steps)},
            )
            session.add(row)
            session.flush()
            return row.id

    def _record_end(self, report: Report) -> None:
        failed = [s.name for s in report.steps if s.status == "failed"]
        with self.db.scope() as session:
            row = session.get(MaintenanceRun, report.run_id)
            assert row is not None
            row.status = "ok" if report.ok else "failed"
            row.finished_at = self.now()
            row.details = report.as_dict()
            row.error = f"failed step(s): {', '.join(failed)}" if failed else None

    # -- steps: each returns (status, details) ------------------------------------

    def _cache(self) -> tuple[str, dict[str, Any]]:
        if not self.settings.redis_url:
            return "skipped", {
                "reason": "no BL_REDIS_URL: the in-memory cache lives in the API process "
                "and expires by TTL"
            }
        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=10)
        try:
            return "ok", self._clean_redis(client)
        finally:
            client.close()

    def _clean_redis(self, client: redis.Redis) -> dict[str, Any]:
        scanned = 0
        candidates: list[tuple[bytes, str, int]] = []
        everything: list[bytes] = []
        for key in client.scan_iter(match="bl:*", count=BATCH):
            scanned += 1
            if self.flush_cache:
                everything.append(key)
                continue
            name = key.decode("utf-8", "replace")
            if (match := _VALUE_KEY.match(name)) and not _VERSION_KEY.match(name):
                candidates.append((key, match["project"], int(match["version"])))
        doomed = everything
        if not self.flush_cache:
            projects = sorted({project for _, project, _ in candidates})
            current = {}
            if projects:
                values = client.mget([f"bl:{p}:version" for p in projects])
                current = {p: int(v or 0) for p, v in zip(projects, values, strict=True)}
            doomed = [key for key, project, version in candidates if version < current[project]]
        removed = 0 if self.dry_run else unlink_in_batches(client, doomed)
        return {
            "scanned": scanned,
            "mode": "flush" if self.flush_cache else "obsolete versions",
            "to_remove": len(doomed),
            "removed": removed,
        }

    def _retention(self) -> tuple[str, dict[str, Any]]:
        cutoff = self.now() - timedelta(days=self.settings.retention_days)
        with self.db.scope() as session:
            latest = self._latest_completed(session)
        kept = list(latest)
        tables = {
            "patterns": (PatternRow, PatternRow.id, PatternRow.created_at, PatternRow.job_id),
            "insights": (InsightRow, InsightRow.id, InsightRow.created_at, InsightRow.job_id),
        }
        details: dict[str, Any] = {
            "cutoff": cutoff.isoformat(),
            "projects_with_a_kept_run": len(kept),
        }
        for label, (table, key, created, job) in tables.items():
            old = created < cutoff
            if kept:
                old = and_(old, or_(job.is_(None), job.not_in(kept)))
            details[label] = self._delete_in_batches(table, key, old)
        finished = AnalysisJob.status.in_(("completed", "failed", "cancelled"))
        ended = func.coalesce(AnalysisJob.finished_at, AnalysisJob.created_at)
        old_jobs = and_(finished, ended < cutoff)
        if kept:
            old_jobs = and_(old_jobs, AnalysisJob.job_id.not_in(kept))
        details["job_records"] = self._delete_in_batches(AnalysisJob, AnalysisJob.job_id, old_jobs)
        return "ok", details

    @staticmethod
    def _latest_completed(session: Any) -> list[str]:
        """Each project's most recent completed job: never deleted, whatever its age."""
        ranked = (
            select(
                AnalysisJob.job_id,
                func.row_number()
                .over(
                    partition_by=AnalysisJob.project_id,
                    order_by=(AnalysisJob.finished_at.desc(), AnalysisJob.job_id.desc()),
                )
                .label("rank"),
            )
            .where(AnalysisJob.status == "completed")
            .subquery()
        )
        return list(session.scalars(select(ranked.c.job_id).where(ranked.c.rank == 1)))

    def _delete_in_batches(self, table: Any, key: Any, condition: Any) -> int:
        if self.dry_run:
            with self.db.scope() as session:
                return int(session.scalar(select(func.count()).select_from(table).where(condition)))
        removed = 0
        while True:  # short transactions: readers and writers are never blocked for long
            with self.db.scope() as session:
                ids = list(session.scalars(select(key).where(condition).limit(BATCH)))
                if not ids:
                    return removed
                session.execute(delete(table).where(key.in_(ids)))
                removed += len(ids)

    def _database(self) -> tuple[str, dict[str, Any]]:
        if self.db.dialect == "postgresql":
            statements = [f'VACUUM (ANALYZE) "{name}"' for name in TABLE_NAMES]
            statements.append(f"REINDEX INDEX CONCURRENTLY {REINDEXED}")
        else:
            statements = ["VACUUM", "ANALYZE"]
        if self.dry_run:
            return "ok", {"would_run": statements}
        timings = {}
        with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in statements:  # outside a transaction, as VACUUM requires
                started = time.perf_counter()
                conn.execute(text(statement))
                timings[statement] = round(time.perf_counter() - started, 3)
        return "ok", {"ran": timings}

    def _logs(self) -> tuple[str, dict[str, Any]]:
        """Rotations of every process's file (`live_files`: each role, each slot); never a
        live file."""
        template = self.settings.log_file
        if template is None:
            return "skipped", {"reason": "no BL_LOG_FILE: logs go to stdout only"}
        cutoff = time.time() - self.settings.log_retention_days * 86400
        rotated = [
            path
            for live in live_files(template)
            for path in live.parent.glob(f"{glob.escape(live.name)}.*")
            if path.is_file() and path.name[len(live.name) + 1 :].split(".")[0].isdigit()
        ]
        old = sorted(p for p in rotated if p.stat().st_mtime < cutoff)
        if not self.dry_run:
            for path in old:
                path.unlink(missing_ok=True)
        return "ok", {
            "rotated_files": len(rotated),
            "older_than_days": self.settings.log_retention_days,
            "removed" if not self.dry_run else "would_remove": [p.name for p in old],
        }

    def _disk(self) -> tuple[str, dict[str, Any]]:
        paths = {"data": self.settings.data_dir}
        if self.settings.log_file is not None:
            paths["logs"] = self.settings.log_file.parent
        threshold = self.settings.disk_alert_percent
        usage = {label: disk_usage(path).percent for label, path in paths.items()}  # df's Use%
        full = {label: pct for label, pct in usage.items() if pct >= threshold}
        details: dict[str, Any] = {"usage_percent": usage, "threshold": threshold}
        if not full:
            return "ok", details
        details["over_threshold"] = sorted(full)
        url = self.settings.alert_webhook_url
        if url is None:
            details["alert"] = "not sent: BL_ALERT_WEBHOOK_URL is not set"
            logger.warning("disk usage over %s%%: %s", threshold, full)
            return "ok", details
        if self.dry_run:
            details["alert"] = "would be sent"
            return "ok", details
        payload = alert_payload(
            "BusinessLogicDiskUsage",
            "warning",
            f"disk usage at or above {threshold}%: "
            + ", ".join(f"{label} {pct:.1f}%" for label, pct in sorted(full.items())),
            usage_percent=usage,
            paths={label: str(paths[label]) for label in full},
            threshold=threshold,
        )
        try:
            details["alert_attempts"] = send_alert(url, payload)
        except DeliveryError as exc:
            details["alert"] = str(exc)
            return "failed", details
        details["alert"] = "sent"
        return "ok", details

    def _capacity(self) -> tuple[str, dict[str, Any]]:
        """One set of capacity samples, stored (not in a dry run), and the old ones pruned;
        a resource that could not be read fails the step, the others are still stored."""
        taken = self.now()
        measured = capacity_sample.measure(self.db, self.settings, now=taken)
        keep = self.settings.capacity_retention_days
        details: dict[str, Any] = {
            "taken_at": taken.isoformat(),
            "sampled": [s.as_dict() for s in measured.samples],
            "skipped": measured.skipped,
            "errors": measured.errors,
            "retention_days": keep,
        }
        if self.dry_run:
            details["stored"] = 0
            details["would_remove_old"] = capacity_store.count_old(self.db, keep, taken)
        else:
            details["stored"] = capacity_store.write(self.db, measured.samples, taken)
            details["removed_old"] = capacity_store.prune(self.db, keep, taken)
        return ("failed" if measured.errors else "ok"), details

    def _restart(self) -> tuple[str, dict[str, Any]]:
        units = split_units(self.settings.service_units)
        if not units:
            return "skipped", {"reason": "BL_SERVICE_UNITS is empty"}
        commands = restart_commands(units, self.settings.restart_command)
        if self.dry_run:
            return "ok", {"would_run": [shlex.join(c) for c in commands]}
        ran = []
        for command in commands:  # an argument list: no shell, no interpolation
            done = run_command(command)
            ran.append({"command": done.command, "exit_code": done.exit_code})
            if not done.ok:
                self._restart_alert(f"restart command failed: {done.command}")
                return "failed", {"ran": ran, "stderr": done.stderr}
        healthy, waited = wait_healthy(self.settings.health_url, self.health_timeout_s)
        details = {"ran": ran, "healthy": healthy, "waited_s": round(waited, 1)}
        if not healthy:
            self._restart_alert(f"not healthy {waited:.0f} s after the restart")
            return "failed", details
        return "ok", details

    def _restart_alert(self, summary: str) -> None:
        if self.settings.alert_webhook_url:
            with contextlib.suppress(DeliveryError):
                send_alert(
                    self.settings.alert_webhook_url,
                    alert_payload("BusinessLogicRestartFailed", "critical", summary),
                )


def history(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    """The latest ``limit`` maintenance runs from ``maintenance_runs``, newest first.

    A run without an end is ``running`` if it is the newest, else ``interrupted``: one
    run at a time, so a later run started only once that one had died (killed, or the
    host lost) without recording its end."""
    with db.scope() as session:
        rows = list(
            session.scalars(
                select(MaintenanceRun)
                .where(MaintenanceRun.kind == KIND)
                .order_by(MaintenanceRun.started_at.desc(), MaintenanceRun.id.desc())
                .limit(limit)
            )
        )
        runs = []
        for index, row in enumerate(rows):
            details = row.details or {}
            steps = [
                {key: step.get(key) for key in ("name", "status", "duration_s", "error")}
                if isinstance(step, dict)
                else {"name": str(step), "status": None, "duration_s": None, "error": None}
                for step in details.get("steps", [])
            ]
            status = row.status
            if row.finished_at is None and status == "running" and index > 0:
                status = "interrupted"
            duration = (
                round((row.finished_at - row.started_at).total_seconds(), 3)
                if row.finished_at is not None
                else None
            )
            runs.append(
                {
                    "run_id": row.id,
                    "status": status,
                    "dry_run": row.dry_run,
                    "started_at": row.started_at.isoformat(),
                    "finished_at": row.finished_at.isoformat() if row.finished_at else None,
                    "duration_s": duration,
                    "steps": steps,
                    "error": row.error,
                    "report": details if row.finished_at is not None else None,
                }
            )
    return runs


def _due_since(session: Any, real: Any) -> datetime | None:
    """When maintenance became due on an install where it never succeeded: its first
    attempt, else the first project (the service has held data since); None when empty."""
    candidates = [
        session.scalar(select(func.min(MaintenanceRun.started_at)).where(real)),
        session.scalar(select(func.min(ProjectRow.created_at))),
    ]
    found = [moment for moment in candidates if moment is not None]
    return min(found) if found else None


def maintenance_metric_families(db: Database) -> list[Any]:
    """What the API exports about maintenance, read from ``maintenance_runs`` at scrape time.

    Every replica reads the same table, so each reports the same figures; absent
    (not 0) when no run has been recorded or the database does not answer.
    """
    from prometheus_client.metrics_core import GaugeMetricFamily

    real = and_(MaintenanceRun.kind == KIND, MaintenanceRun.dry_run.is_(False))
    try:
        with db.scope() as session:
            last_ok = session.scalar(
                select(func.max(MaintenanceRun.finished_at)).where(
                    real, MaintenanceRun.status == "ok"
                )
            )
            latest = session.scalars(
                select(MaintenanceRun)
                .where(real, MaintenanceRun.finished_at.is_not(None))
                .order_by(MaintenanceRun.finished_at.desc())
                .limit(1)
            ).first()
            steps = (latest.details or {}).get("steps", []) if latest is not None else []
            latest_ok = latest is not None and latest.status == "ok"
            due_since = _due_since(session, real) if last_ok is None else None
    except Exception:  # a scrape must not fail because the database is away
        return []
    families: list[Any] = []
    if last_ok is not None:
        families.append(
            GaugeMetricFamily(
                "bl_maintenance_last_success_timestamp_seconds",
                "End of the last successful (not dry) maintenance run, Unix time.",
                value=last_ok.timestamp(),
            )
        )
    if due_since is not None:
        families.append(
            GaugeMetricFamily(
                "bl_maintenance_due_since_timestamp_seconds",
                "Before the first successful maintenance run: since when one is due (the "
                "first run attempt, else the first project), Unix time.",
                value=due_since.timestamp(),
            )
        )
    if latest is not None:
        families.append(
            GaugeMetricFamily(
                "bl_maintenance_last_run_ok",
                "1 when the latest maintenance run had no failed step, else 0.",
                value=1 if latest_ok else 0,
            )
        )
        durations = GaugeMetricFamily(
            "bl_maintenance_step_duration_seconds",
            "Duration of each step of the latest maintenance run.",
            labels=["step", "status"],
        )
        for step in steps:
            if isinstance(step, dict):
                durations.add_metric([step["name"], step["status"]], step["duration_s"])
        families.append(durations)
    return families
