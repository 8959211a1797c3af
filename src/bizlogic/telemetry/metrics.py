"""Business metrics of DESIGN §7 (a contract: dashboards and alert rules use these names).

All metrics live in a ``CollectorRegistry`` owned by one ``Metrics`` instance,
never in prometheus_client's global registry: tests build isolated instances,
and the app uses the lazily created default from ``get_metrics()``.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set by the CLI before
this module is imported, see ``telemetry/multiprocess.py``) the values live in
shared files and ``render`` sums every process; gauges declare how processes
combine.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bizlogic import __version__
from bizlogic.settings import get_settings
from bizlogic.telemetry.labels import ProjectLabeler, data_size_range
from bizlogic.telemetry.multiprocess import AllProcesses, active_dir

# ``*_created`` series double the series count, carry wall-clock values that make scrapes
# non-reproducible, and do not exist in multiprocess mode; no dashboard uses them.
disable_created_metrics()

ANALYSIS_DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)
# API reads are expected in single milliseconds (docs/performance.md), hence the low buckets.
HTTP_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Closed sets keep label cardinality fixed; a typo fails loudly instead of adding a series.
ANALYSIS_STATUSES = frozenset({"completed", "failed", "cancelled"})
# bl_analysis_requests_total's `status` label speaks the operators' contract: a job that
# completed is a "success", one that failed an "error" (the guide's error-rate expression
# `{status="error"}` works as written), a cancelled one stays "cancelled".
ANALYSIS_STATUS_LABELS = {"completed": "success", "failed": "error", "cancelled": "cancelled"}
JOB_STATUSES = frozenset({"queued", "completed", "failed", "cancelled"})
# What a worker process did with a delivered job (a job may be delivered more than once).
WORKER_OUTCOMES = frozenset({"started", "succeeded", "failed", "cancelled", "retried", "skipped"})


class SystemGauges:
    """The system, database and Redis gauges of the contract, set by the collector.

    Every process of one host measures the same machine: across processes the
    most recent value wins.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, doc: str) -> Gauge:
            made = Gauge(name, doc, registry=registry, multiprocess_mode="mostrecent")
            made.set(math.nan)  # "not measured (yet)", never a made-up 0
            return made

        self.cpu = gauge("bl_cpu_usage_percent", "CPU busy share of the host, 0-100.")
        self.memory_bytes = gauge(
            "bl_memory_usage_bytes",
            "Memory in use: the container's working set under a cgroup limit, else the host's.",
        )
        self.memory_percent = gauge(
            "bl_memory_usage_percent", "Memory in use against the cgroup limit or host total."
        )
        self.disk_percent = gauge(
            "bl_disk_usage_percent", "Usage of the filesystem holding BL_DATA_DIR, 0-100."
        )
        self.disk_read = gauge("bl_disk_io_read_bytes", "Bytes read from the host's disks.")
        self.disk_write = gauge("bl_disk_io_write_bytes", "Bytes written to the host's disks.")
        self.db_active = gauge(
            "bl_db_connections_active", "Database connections running a statement."
        )
        self.db_idle = gauge("bl_db_connections_idle", "Database connections open but idle.")
        self.db_query_seconds = gauge(
            "bl_db_query_duration_seconds", "Round-trip time of SELECT 1, last sample."
        )
        self.redis_clients = gauge("bl_redis_connected_clients", "Redis INFO connected_clients.")
        self.redis_memory = gauge("bl_redis_memory_usage_bytes", "Redis INFO used_memory.")
        self.redis_hits = gauge("bl_redis_keyspace_hits", "Redis INFO keyspace_hits.")
        self.redis_misses = gauge("bl_redis_keyspace_misses", "Redis INFO keyspace_misses.")
        self.up = Gauge(
            "bl_collector_up",
            "1 when the collector's last read of the source succeeded, else 0.",
            ("source",),
            registry=registry,
            multiprocess_mode="mostrecent",
        )


class Metrics:
    """The service's metrics and the helpers the job path and the cache call."""

    def __init__(
        self,
        max_projects: int = 50,
        *,
        version: str = __version__,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.projects = ProjectLabeler(max_projects)
        self._cache_lock = threading.Lock()
        self._cache_hits = 0
        self._cache_misses = 0
        r = self.registry

        self.analysis_requests = Counter(
            "bl_analysis_requests_total",
            "Analyses that ended, by final status (success|error|cancelled).",
            ("algorithm", "status", "user_role", "project_id"),
            registry=r,
        )
        self.analysis_duration = Histogram(
            "bl_analysis_duration_seconds",
            "Wall time of one algorithm run, by input size class.",
            ("algorithm", "data_size_range"),
            buckets=ANALYSIS_DURATION_BUCKETS,
            registry=r,
        )
        self.active_analyses = Gauge(
            "bl_active_analyses",
            "Algorithm runs in progress.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.rules_extracted = Counter(
            "bl_rules_extracted_total",
            "Business rules extracted by completed analyses.",
            ("algorithm", "project_id"),
            registry=r,
        )
        self.pattern_accuracy = Gauge(
            "bl_pattern_accuracy",
            "Share of rules that hold on hold-out data, last completed analysis (0-1).",
            ("algorithm",),
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.cache_hit_rate = Gauge(
            "bl_cache_hit_rate",
            "Cache hits / lookups since process start (0-1; NaN before the first lookup).",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.cache_hit_rate.set(math.nan)
        self.data_processed = Counter(
            "bl_data_processed_total",
            "Records processed by completed analyses.",
            ("algorithm", "data_type"),
            registry=r,
        )
        self.cache_requests = Counter(
            "bl_cache_requests_total",
            "Cache lookups by result (hit|miss).",
            ("result",),
            registry=r,
        )
        self.jobs = Counter(
            "bl_jobs_total",
            "Analysis jobs accepted (queued) and ended (completed|failed|cancelled).",
            ("status",),
            registry=r,
        )
        self.build_info = Gauge(
            "bl_build_info",
            "Always 1; the version label says which build is running.",
            ("version",),
            registry=r,
            multiprocess_mode="max",
        )
        self.build_info.labels(version=version).set(1)
        self.worker_jobs = Counter(
            "bl_worker_jobs_total",
            "Job deliveries handled by worker processes, by outcome "
            "(started|succeeded|failed|cancelled|retried|skipped: held elsewhere or ended).",
            ("outcome",),
            registry=r,
        )
        self.db_pool_checkouts = Counter(
            "bl_db_pool_checkouts_total",
            "Database connections taken from the pool, by whether one of the pool's own "
            "connections served (pooled) or an extra one had to be opened (overflow).",
            ("connection",),
            registry=r,
        )
        self.db_pool_size = Gauge(
            "bl_db_pool_size",
            "Connections each process's database pool keeps (BL_DB_POOL_SIZE).",
            registry=r,
            multiprocess_mode="max",
        )
        self.system = SystemGauges(r)
        self.http_requests = Counter(
            "bl_http_requests_total",
            "HTTP requests by route template and response status.",
            ("method", "route", "status"),
            registry=r,
        )
        self.http_duration = Histogram(
            "bl_http_request_duration_seconds",
            "HTTP request handling time by route template.",
            ("method", "route"),
            buckets=HTTP_DURATION_BUCKETS,
            registry=r,
        )

    def analysis_started(self) -> None:
        """Count a run as active; pair with exactly one ``analysis_finished`` (try/finally)."""
        self.active_analyses.inc()

    def analysis_finished(
        self,
        algorithm: str,
        project_id: str,
        user_role: str,
        status: str,
        duration_s: float | None,
        n_records: int,
        rules_extracted: int,
        pattern_accuracy: float | None,
        data_type: str,
    ) -> None:
        """Record one ended algorithm run.

        Every run counts in requests, and in duration when it ran at all (slow failures
        matter too; ``duration_s`` None: the algorithm never started, its job failed first);
        rules, records and accuracy only for completed runs, because a failed or
        cancelled run commits nothing (DESIGN: results are all or nothing).
        ``pattern_accuracy`` is None when there was nothing to validate: the algorithm's
        ``bl_pattern_accuracy`` series is then removed, not left at an earlier run's value
        (in multiprocess mode, which cannot remove a series, it becomes NaN).
        """
        if status not in ANALYSIS_STATUSES:
            raise ValueError(f"status must be one of {sorted(ANALYSIS_STATUSES)}, got {status!r}")
        if pattern_accuracy is not None and not 0.0 <= pattern_accuracy <= 1.0:
            raise ValueError(f"pattern_accuracy must be within 0..1, got {pattern_accuracy}")
        project = self.projects.label(project_id)
        self.active_analyses.dec()
        label = ANALYSIS_STATUS_LABELS[status]
        self.analysis_requests.labels(algorithm, label, user_role, project).inc()
        if duration_s is not None:
            size = data_size_range(n_records)
            self.analysis_duration.labels(algorithm, size).observe(duration_s)
        if status != "completed":
            return
        self.rules_extracted.labels(algorithm, project).inc(rules_extracted)
        self.data_processed.labels(algorithm, data_type).inc(n_records)
        if pattern_accuracy is not None:
            self.pattern_accuracy.labels(algorithm).set(pattern_accuracy)
        elif active_dir() is None:
            with suppress(KeyError):  # prometheus_client < 0.22 raises when it was never set
                self.pattern_accuracy.remove(algorithm)
        else:
            # The value stays in this process's shared file, and other processes' older
            # values too: NaN, the newest value, is what a scrape then shows (mostrecent).
            self.pattern_accuracy.labels(algorithm).set(math.nan)

    def job_status(self, status: str, count: int = 1) -> None:
        """Count ``count`` jobs accepted (``queued``) or ended; queued minus ended = in flight.

        The API process calls it: ``queued`` when it accepts a job, the final statuses
        for the ends it takes from the database (``bizlogic.jobs.end_counts``), so a
        job is counted once whichever process ended it.
        """
        if status not in JOB_STATUSES:
            raise ValueError(f"status must be one of {sorted(JOB_STATUSES)}, got {status!r}")
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        self.jobs.labels(status).inc(count)

    def cache_lookup(self, hit: bool, key: str = "") -> None:
        """Count a cache lookup and refresh the hit rate.

        ``key`` is accepted (and ignored: keys are unbounded) so that this method
        can be passed directly as ``MemoryCache(on_lookup=...)``.
        """
        with self._cache_lock:
            if hit:
                self._cache_hits += 1
            else:
                self._cache_misses += 1
            rate = self._cache_hits / (self._cache_hits + self._cache_misses)
            self.cache_hit_rate.set(rate)
        self.cache_requests.labels("hit" if hit else "miss").inc()

    def db_checkout(self, overflow: bool) -> None:
        """Pass as ``Database(on_checkout=...)``."""
        self.db_pool_checkouts.labels("overflow" if overflow else "pooled").inc()

    def http_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        """Record one HTTP request; ``route`` must be a template, never a raw path."""
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(duration_s)

    def collector_up(self, source: str, up: bool) -> None:
        self.system.up.labels(source).set(1 if up else 0)

    def worker_job(self, outcome: str) -> None:
        if outcome not in WORKER_OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(WORKER_OUTCOMES)}, got {outcome!r}")
        self.worker_jobs.labels(outcome).inc()

    def render(self, extra: Callable[[], Iterable[Metric]] | None = None) -> tuple[bytes, str]:
        """The scrape body in the Prometheus text format and its content type.

        ``extra`` yields families computed at scrape time (the queue depth).
        """
        return exposition(self.registry, extra), CONTENT_TYPE_LATEST


def exposition(
    own: CollectorRegistry | None, extra: Callable[[], Iterable[Metric]] | None = None
) -> bytes:
    """Every process's metrics in multiprocess mode, else those of ``own``; plus ``extra``."""
    path = active_dir()
    registry = CollectorRegistry()
    if path is not None:
        registry.register(AllProcesses(path, extra))
    elif own is not None:
        registry.register(_Both(own, extra))
    return generate_latest(registry)


class _Both(Collector):
    """This process's registry plus the scrape-time families."""

    def __init__(
        self, registry: CollectorRegistry, extra: Callable[[], Iterable[Metric]] | None
    ) -> None:
        self.registry, self.extra = registry, extra

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        if self.extra is not None:
            yield from self.extra()


_default: Metrics | None = None
_default_lock = threading.Lock()


def get_metrics() -> Metrics:
    """The process-wide instance, created on first use from ``BL_METRICS_MAX_PROJECTS``."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Metrics(get_settings().metrics_max_projects)
        return _default
