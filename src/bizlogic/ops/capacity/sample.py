"""Take one set of capacity samples: what each resource holds now, and its limit.

Every figure is read from its source at the moment of sampling: row counts and sizes
from the database, memory from Redis's INFO, file sizes from the file system. A
resource that cannot be read is reported as an error without stopping the others;
one that does not apply here (Redis in embedded mode, connections on SQLite, logs
without ``BL_LOG_FILE``) is reported as skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import func, select, text

from bizlogic.ops.capacity.resources import DEPLOYMENT, Sample, host_scope
from bizlogic.settings import Settings
from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import (
    TABLE_NAMES,
    AnalysisJob,
    AnnotationRow,
    InsightRow,
    PatternRow,
    RuleRow,
)
from bizlogic.telemetry.disk import disk_usage, nearest_existing
from bizlogic.telemetry.logfile import live_files

ANALYSIS_WINDOW = timedelta(days=7)
_ROTATION = re.compile(r"^\.[0-9]+(?:\.gz)?$")  # what rotation appends to a live file's name


class Skipped(Exception):
    """The resource does not apply to this deployment."""


@dataclass
class Measured:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # group → what went wrong
    skipped: dict[str, str] = field(default_factory=dict)  # group → why not measured


def measure(db: Database, settings: Settings, *, now: datetime | None = None) -> Measured:
    """Every resource that applies here, measured now (nothing is stored)."""
    now = now or clock.utcnow()
    groups: dict[str, Callable[[], list[Sample]]] = {
        "rows": lambda: row_counts(db),
        "db_bytes": lambda: database_bytes(db),
        "db_connections": lambda: database_connections(db),
        "redis_memory": lambda: redis_memory(settings),
        "queue_depth": lambda: queue_depth(db),
        "log_bytes": lambda: log_bytes(settings),
        "disk_bytes": lambda: disk_bytes(settings),
        "analysis_seconds_per_record": lambda: analysis_speed(db, settings, now),
    }
    measured = Measured()
    for name, read in groups.items():
        try:
            measured.samples.extend(read())
        except Skipped as why:
            measured.skipped[name] = str(why)
        except Exception as exc:  # one unreadable resource must not hide the others
            measured.errors[name] = f"{exc.__class__.__name__}: {exc}"[:500]
    return measured


def row_counts(db: Database) -> list[Sample]:
    tables = {
        "records": AnnotationRow,
        "rules": RuleRow,
        "patterns": PatternRow,
        "insights": InsightRow,
    }
    with db.scope() as session:
        return [
            Sample(name, "", DEPLOYMENT, float(session.scalar(select(func.count()).select_from(t))))
            for name, t in tables.items()
        ]


def database_bytes(db: Database) -> list[Sample]:
    """The whole database and each bizlogic table (with its indexes and TOAST)."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            total = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
            samples = [Sample("db_bytes", "", DEPLOYMENT, float(total))]
            for name in TABLE_NAMES:
                size = conn.execute(
                    text("SELECT pg_total_relation_size(to_regclass(quote_ident(:name)))"),
                    {"name": name},
                ).scalar()
                if size is not None:  # a table of a later revision, not here yet
                    samples.append(Sample("db_table_bytes", name, DEPLOYMENT, float(size)))
        return samples
    path = db.url.database
    if not path or path == ":memory:":
        raise Skipped("an in-memory SQLite database has no file")
    files = [Path(path), Path(f"{path}-wal")]
    size = sum(f.stat().st_size for f in files if f.exists())
    return [Sample("db_bytes", "", DEPLOYMENT, float(size)), *_sqlite_tables(db)]


def _sqlite_tables(db: Database) -> list[Sample]:
    """Pages of each table and its indexes, from the ``dbstat`` virtual table when this
    SQLite has it (built with SQLITE_ENABLE_DBSTAT_VTAB); none otherwise."""
    query = text(
        "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat AS d "
        "JOIN sqlite_master AS m ON m.name = d.name GROUP BY m.tbl_name"
    )
    with db.engine.connect() as conn:
        try:
            sizes = dict(conn.execute(query).all())
        except Exception:  # no dbstat in this build: the file size alone
            return []
    return [
        Sample("db_table_bytes", name, DEPLOYMENT, float(sizes[name]))
        for name in TABLE_NAMES
        if name in sizes
    ]


def database_connections(db: Database) -> list[Sample]:
    """Connections to bizlogic's database (every backend connected to it), against the
    server's ``max_connections``."""
    if db.dialect != "postgresql":
        raise Skipped("SQLite has no connection limit")
    with db.engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        ).scalar()
        limit = conn.execute(text("SELECT current_setting('max_connections')::int")).scalar()
    return [Sample("db_connections", "", DEPLOYMENT, float(count), float(limit))]


def redis_memory(settings: Settings) -> list[Sample]:
    if not settings.redis_url:
        raise Skipped("embedded mode: no Redis")
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    try:
        info = client.info("memory")
    finally:
        client.close()
    maxmemory = int(info.get("maxmemory", 0))
    used = float(info["used_memory"])
    return [Sample("redis_memory", "", DEPLOYMENT, used, float(maxmemory) if maxmemory else None)]


def queue_depth(db: Database) -> list[Sample]:
    """Analyses waiting: the job records are the queue's source of truth in both modes."""
    with db.scope() as session:
        queued = session.scalar(
            select(func.count()).select_from(AnalysisJob).where(AnalysisJob.status == "queued")
        )
    return [Sample("queue_depth", "", DEPLOYMENT, float(queued or 0))]


def log_files(template: Path) -> list[Path]:
    """Every live log file of ``BL_LOG_FILE`` and its rotations (``.N``, ``.N.gz``)."""
    found = []
    for live in live_files(template):
        if live.is_file():
            found.append(live)
        for entry in live.parent.iterdir():
            rest = entry.name[len(live.name) :]
            if entry.name.startswith(live.name) and _ROTATION.match(rest) and entry.is_file():
                found.append(entry)
    return sorted(set(found))


def log_bytes(settings: Settings) -> list[Sample]:
    if settings.log_file is None:
        raise Skipped("no BL_LOG_FILE: logs go to stdout only")
    size = 0
    for path in log_files(settings.log_file):
        try:
            size += path.stat().st_size
        except FileNotFoundError:  # rotated away meanwhile
            continue
    return [Sample("log_bytes", "", host_scope(), float(size))]


def mount_point(path: Path) -> Path:
    """The mount point of the filesystem holding ``path`` (or its nearest existing parent)."""
    here = Path(os.path.realpath(nearest_existing(path)))
    while not os.path.ismount(here):
        here = here.parent
    return here


def disk_bytes(settings: Settings) -> list[Sample]:
    """Used bytes of the data and log filesystems, once per filesystem. The limit is the
    size ``df``'s Use% divides by: used + available (root's reserve left out)."""
    paths = [settings.data_dir]
    if settings.log_file is not None:
        paths.append(settings.log_file.parent)
    samples: dict[str, Sample] = {}
    for path in paths:
        mount = str(mount_point(path))
        if mount in samples:
            continue
        usage = disk_usage(mount)
        size = float(usage.used_bytes + usage.available_bytes)
        samples[mount] = Sample("disk_bytes", mount, host_scope(), float(usage.used_bytes), size)
    return list(samples.values())


def analysis_speed(db: Database, settings: Settings, now: datetime) -> list[Sample]:
    """Seconds of analysis per record over the completed analyses of the last 7 days:
    the sum of their durations over the sum of the records they analysed (a
    records-weighted mean). The limit, in the same unit, is the speed at which the
    largest project's analysis would take ``BL_ANALYSIS_TIMEOUT_S`` today."""
    since = now - ANALYSIS_WINDOW
    seconds = records = 0.0
    with db.scope() as session:
        rows = session.execute(
            select(AnalysisJob.results, AnalysisJob.started_at, AnalysisJob.finished_at).where(
                AnalysisJob.status == "completed",
                AnalysisJob.finished_at >= since,
                AnalysisJob.finished_at <= now,
            )
        ).all()
        largest = session.scalar(
            select(func.count())
            .select_from(AnnotationRow)
            .group_by(AnnotationRow.project_id)
            .order_by(func.count().desc())
            .limit(1)
        )
    for results, started, finished in rows:
        n, duration = _run_size(results, started, finished)
        if n and duration is not None:
            seconds += duration
            records += n
    if not records:
        raise Skipped("no completed analysis with a record count in the last 7 days")
    limit = settings.analysis_timeout_s / largest if largest else None
    return [Sample("analysis_seconds_per_record", "", DEPLOYMENT, seconds / records, limit)]


def _run_size(
    results: object, started: datetime | None, finished: datetime | None
) -> tuple[int, float | None]:
    """Records analysed and seconds taken by one run: the analysis's own measure
    (``results.duration_s``), else the job's start-to-finish time."""
    if not isinstance(results, dict):
        return 0, None
    n = results.get("n_records")
    n = int(n) if isinstance(n, int | float) and n > 0 else 0
    duration = results.get("duration_s")
    if isinstance(duration, int | float) and duration >= 0:
        return n, float(duration)
    if started is not None and finished is not None:
        return n, (finished - started).total_seconds()
    return n, None
