"""System metrics collector: the system, database and Redis gauges of DESIGN §7.

Runs in a thread of the API process every ``BL_COLLECT_INTERVAL_S``, never on
the request path, and in the supervisor of every `bizlogic worker` that serves
metrics (host sources only: cpu, memory, disk), so that worker hosts, where the
heavy work runs, export their own figures under their own ``instance``. Each
source is read on its own; one that fails sets
``bl_collector_up{source}`` to 0 and logs once per outage (and once when it
is back) — a dead Redis never stops the CPU figures.

* cpu      — share of CPU time used since the previous sample, from
             ``/proc/stat``-style counters (``psutil.cpu_times``): the collector
             primes them at start, so even the first sample covers a real
             interval and nothing ever sleeps to measure;
* memory   — the container's cgroup limit and usage when there is one (v2
             ``memory.max``/``memory.current``, v1 ``memory.limit_in_bytes``),
             the host's otherwise; usage excludes reclaimable page cache
             (``inactive_file``), as the kernel's OOM decisions do;
* disk     — usage of the filesystem holding ``BL_DATA_DIR`` (``df``'s Use%, see
             ``telemetry/disk.py``); I/O byte
             counters of the host's disks;
* database — PostgreSQL: connections of our database by state from
             ``pg_stat_activity``; SQLite: the pool's checked-out and idle
             connections; both: round-trip time of ``SELECT 1``;
* redis    — ``INFO``: connected clients, used memory, keyspace hits/misses
             (Redis mode only).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis
from sqlalchemy import text

from bizlogic.store.db import Database
from bizlogic.telemetry.disk import disk_usage
from bizlogic.telemetry.metrics import Metrics

logger = logging.getLogger("bizlogic.collector")
CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_UNLIMITED = 2**62  # cgroup v1 reports "no limit" as a huge page-aligned number


@dataclass(frozen=True)
class CgroupMemory:
    limit_bytes: int
    used_bytes: int


def _read_int(path: Path) -> int | None:
    try:
        raw = path.read_text().strip()
    except OSError:
        return None
    return None if raw == "max" else int(raw)


def _inactive_file(stat: Path, key: str) -> int:
    """Reclaimable page cache in a cgroup's memory.stat; 0 when the file is not there."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def cgroup_memory(root: Path = CGROUP_ROOT) -> CgroupMemory | None:
    """The memory limit and working set of this process's cgroup, None without a limit."""
    limit = _read_int(root / "memory.max")  # v2 (the container's own cgroup is the root)
    if limit is not None:
        current = _read_int(root / "memory.current") or 0
        used = current - _inactive_file(root / "memory.stat", "inactive_file")
        return CgroupMemory(limit, max(used, 0))
    v1 = root / "memory"
    limit = _read_int(v1 / "memory.limit_in_bytes")
    if limit is not None and limit < V1_UNLIMITED:
        usage = _read_int(v1 / "memory.usage_in_bytes") or 0
        used = usage - _inactive_file(v1 / "memory.stat", "total_inactive_file")
        return CgroupMemory(limit, max(used, 0))
    return None


def cpu_busy_percent(before: Any, after: Any) -> float:
    """CPU busy share between two ``psutil.cpu_times()`` samples, 0–100.

    Idle and iowait are not busy; guest time is already counted in user (and guest_nice
    in nice) by Linux, so it is left out of the total, as ``psutil.cpu_percent`` does."""
    idle_fields = ("idle", "iowait")
    guest = sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in ("guest", "guest_nice"))
    total = sum(after) - sum(before) - guest
    if total <= 0:
        return 0.0
    idle = sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in idle_fields)
    return max(0.0, min(100.0, 100.0 * (total - idle) / total))


class Collector:
    """Reads every source and sets the gauges; ``run`` repeats it in a thread."""

    def __init__(
        self,
        metrics: Metrics,
        db: Database | None,
        data_dir: Path,
        redis_url: str | None = None,
        cgroup_root: Path = CGROUP_ROOT,
    ) -> None:
        self.metrics = metrics
        self.db = db
        self.data_dir = data_dir
        self.cgroup_root = cgroup_root
        self._redis = (
            redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            if redis_url
            else None
        )
        self._cpu_before = psutil.cpu_times()  # primed: the first sample spans a real interval
        self._down: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sources: dict[str, Callable[[], None]] = {
            "cpu": self._cpu,
            "memory": self._memory,
            "disk": self._disk,
        }
        if db is not None:  # a worker host reads only its own machine
            self.sources["database"] = self._database
        if self._redis is not None:
            self.sources["redis"] = self._redis_info

    # -- running ------------------------------------------------------------------

    def collect_once(self) -> dict[str, bool]:
        """Read every source once; returns which ones answered."""
        result = {}
        for name, read in self.sources.items():
            try:
                read()
            except Exception as exc:  # any failure of a source is that source's outage
                result[name] = False
                self.metrics.collector_up(name, False)
                if name not in self._down:
                    self._down.add(name)
                    logger.warning("collector source %s failed: %s", name, _describe(exc))
                continue
            result[name] = True
            self.metrics.collector_up(name, True)
            if name in self._down:
                self._down.discard(name)
                logger.warning("collector source %s is back", name)
        return result

    def start(self, interval_s: float) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(interval_s,), name="bl-collector", daemon=True
        )
        self._thread.start()

    def _run(self, interval_s: float) -> None:
        # A short first wait so that the first CPU sample spans at least a second.
        delay = min(1.0, interval_s)
        while not self._stop.wait(delay):
            self.collect_once()
            delay = interval_s

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._redis is not None:
            self._redis.close()

    # -- sources ------------------------------------------------------------------

    def _cpu(self) -> None:
        after = psutil.cpu_times()
        self.metrics.system.cpu.set(cpu_busy_percent(self._cpu_before, after))
        self._cpu_before = after

    def _memory(self) -> None:
        limited = cgroup_memory(self.cgroup_root)
        if limited is not None:
            used, percent = limited.used_bytes, 100.0 * limited.used_bytes / limited.limit_bytes
        else:
            memory = psutil.virtual_memory()
            used = memory.total - memory.available
            percent = 100.0 * used / memory.total
        self.metrics.system.memory_bytes.set(used)
        self.metrics.system.memory_percent.set(percent)

    def _disk(self) -> None:
        self.metrics.system.disk_percent.set(disk_usage(self.data_dir).percent)  # df's Use%
        io = psutil.disk_io_counters()
        if io is not None:  # None on hosts without block devices
            self.metrics.system.disk_read.set(io.read_bytes)
            self.metrics.system.disk_write.set(io.write_bytes)

    def _database(self) -> None:
        started = time.perf_counter()
        with self.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            round_trip = time.perf_counter() - started
            if self.db.dialect == "postgresql":
                rows = connection.execute(
                    text(
                        "SELECT state, count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND backend_type = 'client backend' "
                        "GROUP BY state"
                    )
                ).all()
                by_state = {state: int(count) for state, count in rows}
                active, idle = by_state.get("active", 0), by_state.get("idle", 0)
        if self.db.dialect != "postgresql":
            pool = self.db.engine.pool
            active, idle = int(pool.checkedout()), int(pool.checkedin())  # type: ignore[attr-defined]
        self.metrics.system.db_active.set(active)
        self.metrics.system.db_idle.set(idle)
        self.metrics.system.db_query_seconds.set(round_trip)

    def _redis_info(self) -> None:
        assert self._redis is not None
        info = self._redis.info()
        self.metrics.system.redis_clients.set(info["connected_clients"])
        self.metrics.system.redis_memory.set(info["used_memory"])
        self.metrics.system.redis_hits.set(info["keyspace_hits"])
        self.metrics.system.redis_misses.set(info["keyspace_misses"])


def _describe(exc: Exception) -> str:
    """The error class and its first line: connection URLs and passwords stay out."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {first[:200]}" if first else exc.__class__.__name__
