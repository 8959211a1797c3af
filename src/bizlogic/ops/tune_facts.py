"""What `bizlogic tune` measures: system, database, cache and application figures.

Every gatherer only reads. One that cannot reach its source returns
``{"available": False, "reason": …}`` instead of failing the whole report, so
a tuner run during an outage still says what it could see.

* system      — CPUs this process may use (affinity and the cgroup v2 ``cpu.max``
                quota); over a sampling window (``--sample-seconds``): CPU usage of
                those CPUs and of the quota, the processes that used most of it, and
                disk I/O rates; load average per CPU; memory against the cgroup limit
                or the host; disk usage of the data and log filesystems (``df``'s
                Use%, ``telemetry/disk.py``);
* database    — PostgreSQL: connections against ``max_connections`` (ours are those
                with application_name ``bizlogic``; the tuner's own is left out), those
                of bizlogic's database, buffer
                cache hit ratio, live and dead tuples and scans per business table,
                indexes never scanned, ``pg_stat_statements`` when installed; SQLite:
                file and free pages;
* cache       — Redis ``INFO``: hits, misses, expired and evicted keys, memory
                against ``maxmemory``, eviction policy, connected clients against
                ``maxclients``;
* application — the running service's own ``/metrics``: analysis outcomes and
                duration histogram, cache lookups, pool checkouts, queue depth;
                and the job table: analyses queued and running now.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from bizlogic.settings import Settings
from bizlogic.store.db import APPLICATION_NAME, Database
from bizlogic.store.tables import TABLE_NAMES, AnalysisJob
from bizlogic.telemetry.collector import CGROUP_ROOT, cgroup_memory, cpu_busy_percent
from bizlogic.telemetry.disk import disk_usage
from bizlogic.telemetry.metrics import ANALYSIS_STATUS_LABELS

Facts = dict[str, Any]
DEFAULT_SAMPLE_S = 3.0  # the window CPU usage and disk I/O rates are measured over
TOP_PROCESSES = 5


def unavailable(reason: str) -> Facts:
    return {"available": False, "reason": reason}


# -- system ---------------------------------------------------------------------------


def cgroup_cpus(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this cgroup (v2 ``cpu.max`` "quota period"), None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return int(quota) / int(period)


def usable_cpus(root: Path = CGROUP_ROOT) -> float:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = float(affinity or os.cpu_count() or 1)
    quota = cgroup_cpus(root)
    return min(cpus, quota) if quota else cpus


def cgroup_cpu_usage_usec(root: Path = CGROUP_ROOT) -> int | None:
    """CPU time this cgroup has used (v2 ``cpu.stat`` usage_usec), None without the file."""
    try:
        for line in (root / "cpu.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == "usage_usec":
                return int(value)
    except (OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class Snapshot:
    """Counters read at one instant; two of them are a sampling window."""

    at: float  # time.monotonic()
    wall: float  # time.time(), to tell processes started within the window
    cpu: Any  # psutil.cpu_times fields summed over the CPUs this process may use
    cgroup_usage_usec: int | None = None
    disk_io: Any = None  # psutil.disk_io_counters() over all disks; None without disks
    disk_busy_ms: dict[str, int] = field(default_factory=dict)  # busy_time per device
    # (pid, create_time) → (name, user + system CPU seconds)
    processes: dict[tuple[int, float], tuple[str, float]] = field(default_factory=dict)


def take_snapshot(root: Path = CGROUP_ROOT) -> Snapshot:
    wall, at = time.time(), time.monotonic()
    per_cpu = psutil.cpu_times(percpu=True)
    mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    chosen = [t for n, t in enumerate(per_cpu) if n in mine] or per_cpu
    cpu = type(per_cpu[0])(*(sum(values) for values in zip(*chosen, strict=True)))
    processes = {}
    for proc in psutil.process_iter(["pid", "name", "create_time", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is not None and proc.info["create_time"] is not None:
            key = (proc.info["pid"], proc.info["create_time"])
            processes[key] = (proc.info["name"] or "?", times.user + times.system)
    per_disk = psutil.disk_io_counters(perdisk=True) or {}
    return Snapshot(
        at=at,
        wall=wall,
        cpu=cpu,
        cgroup_usage_usec=cgroup_cpu_usage_usec(root),
        disk_io=psutil.disk_io_counters(),
        disk_busy_ms={name: c.busy_time for name, c in per_disk.items() if hasattr(c, "busy_time")},
        processes=processes,
    )


def window_facts(before: Snapshot, after: Snapshot, quota: float | None) -> tuple[Facts, Facts]:
    """CPU usage and disk I/O rates between two snapshots: (cpu, disk_io)."""
    window = after.at - before.at
    busy_cpu = round(cpu_busy_percent(before.cpu, after.cpu), 1)
    quota_used = None
    start, end = before.cgroup_usage_usec, after.cgroup_usage_usec
    if quota and window > 0 and start is not None and end is not None:
        quota_used = round(min(100.0, 100 * (end - start) / 1e6 / (window * quota)), 1)
    top = []
    for key, (name, seconds) in after.processes.items():
        if key in before.processes:
            spent = seconds - before.processes[key][1]
        elif key[1] >= before.wall:  # started within the window
            spent = seconds
        else:
            continue
        if spent > 0 and window > 0:
            top.append({"pid": key[0], "name": name, "cpu_percent": round(100 * spent / window, 1)})
    top.sort(key=lambda p: -p["cpu_percent"])
    cpu = {
        "window_s": round(window, 2),
        "busy_percent": busy_cpu,
        "quota_used_percent": quota_used,
        "usage_percent": max(busy_cpu, quota_used or 0.0),
        "top_processes": top[:TOP_PROCESSES],
    }
    if before.disk_io is None or after.disk_io is None or window <= 0:
        return cpu, unavailable("no disk I/O counters on this host")

    def rate(name: str) -> float:
        return round((getattr(after.disk_io, name) - getattr(before.disk_io, name)) / window, 1)

    busy = {
        device: ms - before.disk_busy_ms[device]
        for device, ms in after.disk_busy_ms.items()
        if device in before.disk_busy_ms
    }
    busiest = max(busy, key=busy.__getitem__, default=None)
    if busiest is not None and busy[busiest] <= 0:
        busiest = None  # no device had I/O in flight: name none
    busy_percent = None  # no busy_time counters (not Linux): not measured
    if busy:  # the share of the window the busiest device had I/O in flight (iostat's %util)
        busy_percent = round(min(100.0, busy[busiest] / (10 * window)), 1) if busiest else 0.0
    disk_io = {
        "available": True,
        "window_s": round(window, 2),
        "read_bytes_per_s": rate("read_bytes"),
        "write_bytes_per_s": rate("write_bytes"),
        "reads_per_s": rate("read_count"),
        "writes_per_s": rate("write_count"),
        "busy_percent": busy_percent,
        "busiest_device": busiest,
    }
    return cpu, disk_io


def top_memory(count: int = TOP_PROCESSES) -> list[dict[str, Any]]:
    """The processes with the largest resident memory: who holds it when it runs short."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "memory_info"]):
        if proc.info["memory_info"] is not None:
            found.append(
                {
                    "pid": proc.info["pid"],
                    "name": proc.info["name"] or "?",
                    "rss_bytes": proc.info["memory_info"].rss,
                }
            )
    return sorted(found, key=lambda p: -p["rss_bytes"])[:count]


def system_facts(
    settings: Settings,
    root: Path = CGROUP_ROOT,
    sample_s: float = DEFAULT_SAMPLE_S,
    take: Callable[[], Snapshot] | None = None,
    wait: Callable[[float], None] = time.sleep,
) -> Facts:
    """What the machine does: ``take`` snapshots the counters, ``wait`` spans the window
    between two of them (both replaceable, so tests are deterministic)."""
    take = take or (lambda: take_snapshot(root))
    before = take()
    wait(sample_s)
    after = take()
    cpus, quota = usable_cpus(root), cgroup_cpus(root)
    cpu, disk_io = window_facts(before, after, quota)
    load = os.getloadavg()[0]
    cpu["load_per_cpu"] = round(load / cpus, 2)  # the 1-minute load: supporting evidence
    limited = cgroup_memory(root)
    if limited is not None:
        memory = {
            "source": "cgroup",
            "limit_bytes": limited.limit_bytes,
            "used_bytes": limited.used_bytes,
        }
    else:
        host = psutil.virtual_memory()
        memory = {
            "source": "host",
            "limit_bytes": host.total,
            "used_bytes": host.total - host.available,
        }
    memory["used_percent"] = round(100 * memory["used_bytes"] / memory["limit_bytes"], 1)
    memory["top_processes"] = top_memory()
    disks = {}
    places = {"data": settings.data_dir}
    if settings.log_file is not None:
        places["logs"] = settings.log_file.parent
    for name, place in places.items():
        usage = disk_usage(place)  # df's Use%: used / (used + available)
        disks[name] = {
            "path": usage.path,
            "used_percent": usage.percent,
            "free_bytes": usage.available_bytes,
        }
    return {
        "available": True,
        "cpus": round(cpus, 2),
        "cpu_quota": quota,
        "load_1m": round(load, 2),
        "cpu": cpu,
        "memory": memory,
        "disks": disks,
        "disk_io": disk_io,
    }


# -- database -------------------------------------------------------------------------


def database_facts(db: Database) -> Facts:
    try:
        with db.engine.connect() as conn:
            if db.dialect == "postgresql":
                return {"available": True, "dialect": "postgresql", **_postgres(conn)}
            return {"available": True, "dialect": db.dialect, **_sqlite(conn, db)}
    except Exception as exc:
        return {
            **unavailable(f"{type(exc).__name__}: {exc}".splitlines()[0]),
            "dialect": db.dialect,
        }


def _postgres(conn: Any) -> Facts:
    scalar = lambda sql, **kw: conn.execute(text(sql), kw).scalar()  # noqa: E731
    rows = lambda sql, **kw: [dict(r._mapping) for r in conn.execute(text(sql), kw)]  # noqa: E731
    tables = list(TABLE_NAMES)
    facts: Facts = {
        "server_version": scalar("SHOW server_version"),
        "max_connections": int(scalar("SHOW max_connections")),
        "reserved_connections": int(scalar("SHOW superuser_reserved_connections")),
        "shared_buffers": scalar("SHOW shared_buffers"),
        "connections": int(
            scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()"
            )
        ),
        "our_connections": int(
            scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                "AND pid <> pg_backend_pid()",
                name=APPLICATION_NAME,
            )
        ),
        "database": scalar("SELECT current_database()"),
    }
    # the clients of bizlogic's database, whoever opened them, and ours among them
    crowd = conn.execute(
        text(
            "SELECT count(*) AS total, count(*) FILTER (WHERE application_name = :name) AS ours "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"
        ),
        {"name": APPLICATION_NAME},
    ).one()
    facts["database_connections"] = int(crowd.total)
    facts["database_our_connections"] = int(crowd.ours)
    hits = conn.execute(
        text(
            "SELECT blks_hit, blks_read, stats_reset FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
    ).one()
    total = hits.blks_hit + hits.blks_read
    facts["buffer_cache"] = {
        "blks_hit": hits.blks_hit,
        "blks_read": hits.blks_read,
        "hit_ratio": round(hits.blks_hit / total, 4) if total else None,
        "stats_reset": str(hits.stats_reset) if hits.stats_reset else None,
    }
    facts["tables"] = rows(
        "SELECT relname AS table, n_live_tup AS live, n_dead_tup AS dead, seq_scan, "
        "seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, "
        "greatest(last_vacuum, last_autovacuum)::text AS last_vacuum, "
        "pg_total_relation_size(relid) AS bytes "
        "FROM pg_stat_user_tables WHERE schemaname = current_schema() "
        "AND relname = ANY(:tables) ORDER BY relname",
        tables=tables,
    )
    facts["unused_indexes"] = rows(
        "SELECT s.relname AS table, s.indexrelname AS index, "
        "pg_relation_size(s.indexrelid) AS bytes FROM pg_stat_user_indexes s "
        "JOIN pg_index i ON i.indexrelid = s.indexrelid "
        "WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables) "
        "AND s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary "
        "ORDER BY bytes DESC",
        tables=tables,
    )
    installed = scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not installed:
        facts["statements"] = unavailable(
            "pg_stat_statements is not installed in this database: add it to "
            "shared_preload_libraries and run CREATE EXTENSION pg_stat_statements"
        )
    else:
        try:
            top = rows(
                "SELECT left(query, 200) AS query, calls, round(mean_exec_time::numeric, 2) "
                "AS mean_ms, round(total_exec_time::numeric, 1) AS total_ms "
                "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                "WHERE datname = current_database()) ORDER BY mean_exec_time DESC LIMIT 5"
            )
            facts["statements"] = {
                "available": True,
                "slowest": [
                    {**r, "mean_ms": float(r["mean_ms"]), "total_ms": float(r["total_ms"])}
                    for r in top
                ],
            }
        except Exception as exc:
            conn.rollback()
            facts["statements"] = unavailable(str(exc).splitlines()[0])
    return facts


def _sqlite(conn: Any, db: Database) -> Facts:
    pages = conn.execute(text("PRAGMA page_count")).scalar()
    free = conn.execute(text("PRAGMA freelist_count")).scalar()
    size = conn.execute(text("PRAGMA page_size")).scalar()
    return {
        "file": db.url.database,
        "bytes": pages * size,
        "free_pages": free,
        "pages": pages,
        "free_ratio": round(free / pages, 4) if pages else 0.0,
    }


def job_facts(db: Database) -> Facts:
    """Analyses waiting and running now, from the job table (both modes)."""
    try:
        with db.scope() as session:
            counts = dict(
                session.execute(
                    select(AnalysisJob.status, func.count())
                    .where(AnalysisJob.status.in_(("queued", "running")))
                    .group_by(AnalysisJob.status)
                ).all()
            )
    except Exception as exc:
        return unavailable(f"{type(exc).__name__}: {exc}".splitlines()[0])
    return {
        "available": True,
        "queued": counts.get("queued", 0),
        "running": counts.get("running", 0),
    }


# -- cache ----------------------------------------------------------------------------


def cache_facts(settings: Settings) -> Facts:
    if not settings.redis_url:
        return {
            "available": True,
            "backend": "memory",
            "note": "the in-memory cache lives in the API process; see application",
        }
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        info = client.info()
        maxclients = info.get("maxclients")  # INFO clients has it from Redis 7.0
        if maxclients is None:
            try:
                maxclients = client.config_get("maxclients").get("maxclients")
            except redis.ResponseError:  # CONFIG renamed or not allowed to this user
                maxclients = None
    except redis.RedisError as exc:
        return {**unavailable(f"Redis: {exc}"), "backend": "redis"}
    finally:
        client.close()
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    return {
        "available": True,
        "backend": "redis",
        "redis_version": info.get("redis_version"),
        "keyspace_hits": hits,
        "keyspace_misses": misses,
        "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
        "expired_keys": info.get("expired_keys", 0),
        "evicted_keys": info.get("evicted_keys", 0),
        "used_memory": info.get("used_memory", 0),
        "maxmemory": info.get("maxmemory", 0),
        "maxmemory_policy": info.get("maxmemory_policy"),
        "connected_clients": info.get("connected_clients"),  # the tuner's own included
        "maxclients": int(maxclients) if maxclients is not None else None,
        "uptime_s": info.get("uptime_in_seconds"),
    }


# -- application ----------------------------------------------------------------------


def fetch_metrics(url: str, timeout_s: float = 5.0) -> str:
    response = httpx.get(url, timeout=timeout_s)
    response.raise_for_status()
    return response.text


def application_facts(metrics_texts: dict[str, str | Exception]) -> Facts:
    """Our figures summed over every ``/metrics`` answer (API and workers)."""
    errors = {url: str(v) for url, v in metrics_texts.items() if isinstance(v, Exception)}
    texts = [v for v in metrics_texts.values() if isinstance(v, str)]
    if not texts:
        return {**unavailable("no /metrics endpoint answered"), "errors": errors}
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for body in texts:
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((sample.labels, sample.value))

    def total(name: str, **match: str) -> float:
        return sum(
            v
            for labels, v in samples.get(name, [])
            if all(labels.get(k) == want for k, want in match.items())
        )

    buckets: dict[float, float] = {}
    for labels, value in samples.get("bl_analysis_duration_seconds_bucket", []):
        bound = float(labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + value
    count = total("bl_analysis_duration_seconds_count")
    ended = {
        job_status: total("bl_analysis_requests_total", status=label)
        for job_status, label in ANALYSIS_STATUS_LABELS.items()
    }
    pool = {
        "size": max((v for _, v in samples.get("bl_db_pool_size", [])), default=None),
        "pooled": total("bl_db_pool_checkouts_total", connection="pooled"),
        "overflow": total("bl_db_pool_checkouts_total", connection="overflow"),
    }
    depth = samples.get("bl_queue_depth")
    return {
        "available": True,
        "endpoints": len(texts),
        "errors": errors,
        "analyses": {
            **ended,
            "duration_count": count,
            "duration_sum_s": round(total("bl_analysis_duration_seconds_sum"), 3),
            "p95_le_s": bucket_quantile(buckets, count, 0.95),
        },
        "cache": {
            "hits": total("bl_cache_requests_total", result="hit"),
            "misses": total("bl_cache_requests_total", result="miss"),
        },
        "db_pool": pool,
        "queue_depth": sum(v for _, v in depth) if depth else None,
        "active_analyses": total("bl_active_analyses"),
    }


def bucket_quantile(cumulative: dict[float, float], count: float, q: float) -> float | None:
    """The upper bound of the histogram bucket holding the q-quantile (None: no data;
    inf: above the largest bound)."""
    if not count:
        return None
    for bound in sorted(cumulative):
        if cumulative[bound] >= q * count:
            return bound
    return float("inf")
