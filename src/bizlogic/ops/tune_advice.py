"""From the tuner's figures to prioritised recommendations.

Each rule looks at measured figures only and, when its condition holds, says
what it saw (``evidence``), why it matters (``reason``) and what to change
(``change``: a target, a setting and a value). Only changes whose target is
``bizlogic`` — the four settings of the overrides file — can be applied by
``bizlogic tune --apply``; PostgreSQL, Redis and system changes are for a
person. The thresholds are constants below so that docs and tests name them.

The operators' guide's tuner rules map here: CPU usage > 80 % (high) → ``cpu_busy``;
memory > 70 % with more than 30 database connections → ``memory_and_connections``;
CPU > 60 % with a cache hit rate below 0.8 → ``cpu_and_cache``; Redis
``connected_clients`` → ``redis_clients_near_limit``. Their comparisons are the guide's
(strictly above, strictly below).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from bizlogic.settings import Settings, env_name
from bizlogic.store.db import PG_MAX_OVERFLOW

PRIORITIES = ("high", "medium", "low", "info")
CONNECTIONS_NEAR_LIMIT = 0.8  # of max_connections − superuser_reserved_connections
CONNECTIONS_TARGET = 0.6  # suggested max_connections puts today's use at this share
POOL_OVERFLOW_SHARE = 0.1  # checkouts that had to open an extra connection
MIN_CHECKOUTS = 100
BUFFER_HIT_RATIO = 0.99
MIN_BLOCK_READS = 10_000
DEAD_SHARE, MIN_DEAD = 0.2, 1_000
SEQ_SCANS, SEQ_TABLE_ROWS = 100, 10_000
UNUSED_INDEX_BYTES = 1 << 20
SLOW_STATEMENT_MS, SLOW_STATEMENT_CALLS = 500.0, 10
SQLITE_FREE_SHARE, SQLITE_MIN_BYTES = 0.2, 10 << 20
CACHE_HIT_RATE, MIN_LOOKUPS = 0.5, 100
CACHE_TTL_MAX_S, CACHE_TTL_MIN_S = 3600.0, 30.0
MEMORY_PRESSURE_PERCENT = 90.0
ERROR_SHARE, MIN_ENDED = 0.1, 20
SLOW_P95_SHARE = 0.5  # of BL_ANALYSIS_TIMEOUT_S
BACKLOG_FACTOR = 2  # queued analyses per analysis slot
CPU_HEADROOM = 0.7  # 1-minute load below this share of the CPUs
CPU_HIGH_PERCENT = 80.0  # guide: CPU usage above 80 % over the window → high priority
CPU_BUSY_PERCENT = 60.0  # above 60 % → medium
MEMORY_WITH_CONNECTIONS_PERCENT = 70.0  # guide: memory above 70 % …
CONNECTIONS_WITH_MEMORY = 30  # … together with more than 30 connections to our database
CPU_WITH_CACHE_PERCENT = 60.0  # guide: CPU above 60 % …
CACHE_HIT_RATE_WITH_CPU = 0.8  # … together with a cache hit rate below 0.8
REDIS_CLIENTS_NEAR_LIMIT = 0.8  # connected_clients above this share of maxclients
REDIS_CLIENTS_TARGET = 0.6  # suggested maxclients puts today's clients at this share


@dataclass
class Recommendation:
    id: str
    priority: str
    area: str
    title: str
    evidence: dict[str, Any]
    reason: str
    change: dict[str, Any] = field(default_factory=dict)

    @property
    def applicable(self) -> bool:
        return self.change.get("target") == "bizlogic"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "applicable": self.applicable}


def _setting(settings: Settings, name: str, value: Any, current: Any = None) -> dict[str, Any]:
    """A change --apply may make; ``current`` defaults to the value configured here."""
    return {
        "target": "bizlogic",
        "setting": env_name(name),
        "name": name,
        "current": getattr(settings, name) if current is None else current,
        "value": value,
    }


def _external(target: str, setting: str, value: Any, current: Any = None) -> dict[str, Any]:
    return {"target": target, "setting": setting, "current": current, "value": value}


def advise(
    facts: dict[str, Any], settings: Settings, capacity: dict[str, Any] | None = None
) -> list[Recommendation]:
    """Every rule's findings, highest priority first; ``capacity`` (the section of
    ``bizlogic.ops.capacity.project.projections``) adds its limits in sight."""
    found: list[Recommendation] = []
    for rule in (_system, _cpu, _database, _cache, _application, _combined):
        found.extend(rule(facts, settings))
    found.extend(capacity_advice(capacity or {}))
    return sorted(found, key=lambda r: (PRIORITIES.index(r.priority), r.area, r.id))


def capacity_advice(section: dict[str, Any]) -> list[Recommendation]:
    """The capacity projections' recommendations in the tuner's terms: a limit reached or
    projected within the horizon; the change is for a person (never --apply)."""
    out = []
    for rec in section.get("recommendations", []):
        evidence = {
            key: rec[key]
            for key in (
                "current",
                "limit",
                "growth_per_day",
                "reaches_at",
                "reaches_at_earliest",
                "reaches_at_latest",
                "days_left",
            )
        }
        title = f"Capacity: {rec['resource']}" + (f" {rec['item']}" if rec["item"] else "")
        out.append(
            Recommendation(
                rec["id"],
                rec["priority"],
                "capacity",
                title,
                {"scope": rec["scope"], **evidence},
                f"{rec['message']}. To do: {rec['action']}." if rec["action"] else rec["message"],
            )
        )
    return out


def analysis_slots(settings: Settings) -> tuple[str, int]:
    """The setting that bounds analyses at once on one machine, and its value."""
    name = "max_concurrent_analyses" if settings.embedded else "worker_threads"
    return name, getattr(settings, name)


# -- system ---------------------------------------------------------------------------


def _system(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    system = facts.get("system", {})
    if not system.get("available"):
        return []
    out = []
    memory, cpus = system["memory"], system["cpus"]
    slots_name, slots = analysis_slots(settings)
    if memory["used_percent"] >= MEMORY_PRESSURE_PERCENT:
        out.append(_memory_pressure(memory, slots_name, slots, settings))
    elif slots > max(1, math.floor(cpus)):
        out.append(
            Recommendation(
                "analyses_exceed_cpus",
                "medium",
                "system",
                "More analyses at once than CPUs",
                {slots_name: slots, "cpus": cpus, "cpu_quota": system["cpu_quota"]},
                "Analyses are CPU-bound: beyond one per CPU they only share time slices, so "
                "each takes longer and more memory is held at once.",
                _setting(settings, slots_name, max(1, math.floor(cpus))),
            )
        )
    for name, disk in system["disks"].items():
        if disk["used_percent"] >= settings.disk_alert_percent:
            out.append(
                Recommendation(
                    f"disk_filling_{name}",
                    "high",
                    "system",
                    f"The {name} filesystem is filling",
                    {
                        "path": disk["path"],
                        "used_percent": disk["used_percent"],
                        "free_bytes": disk["free_bytes"],
                        "alert_percent": settings.disk_alert_percent,
                    },
                    "A full disk stops the database and the logs; old results and rotated logs "
                    "are the first things to go.",
                    _external(
                        "command",
                        "bizlogic maintain --only retention,logs",
                        "run",
                        f"BL_RETENTION_DAYS={settings.retention_days}",
                    ),
                )
            )
    return out


def _memory_pressure(
    memory: dict[str, Any], slots_name: str, slots: int, settings: Settings
) -> Recommendation:
    evidence = {
        "used_percent": memory["used_percent"],
        "limit_bytes": memory["limit_bytes"],
        "source": memory["source"],
        slots_name: slots,
        "top_processes": memory.get("top_processes"),
    }
    reason = (
        "Each analysis holds its records and results in memory; when memory runs out the "
        "kernel's OOM killer picks a process."
    )
    if slots > 1:
        return Recommendation(
            "memory_pressure",
            "high",
            "system",
            "Memory is nearly exhausted",
            evidence,
            reason + " Fewer analyses at once lower the peak.",
            _setting(settings, slots_name, slots - 1),
        )
    # One slot: nothing left to give back. The memory must come from elsewhere.
    if settings.embedded:
        where = (
            "Analyses already run one at a time, inside the API process: move them to "
            "worker processes on another host (Redis mode, BL_REDIS_URL), or add memory"
        )
    else:
        where = (
            "The worker already runs one analysis at a time: run workers on another host, "
            "or add memory"
        )
    return Recommendation(
        "memory_pressure",
        "high",
        "system",
        "Memory is nearly exhausted with one analysis at a time",
        evidence,
        f"{reason} {where}; top_processes shows who holds it.",
        _external("operator", "memory, or analyses on another host", "add", memory["limit_bytes"]),
    )


def _cpu(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    """The guide's CPU check, on usage measured over the sampling window."""
    system = facts.get("system", {})
    cpu = system.get("cpu") if system.get("available") else None
    if not cpu or cpu["usage_percent"] <= CPU_BUSY_PERCENT:
        return []
    usage = cpu["usage_percent"]
    slots_name, slots = analysis_slots(settings)
    evidence = {
        "usage_percent": usage,
        "window_s": cpu["window_s"],
        "busy_percent": cpu["busy_percent"],
        "quota_used_percent": cpu["quota_used_percent"],
        "cpus": system["cpus"],
        "load_1m": system["load_1m"],
        "load_per_cpu": cpu["load_per_cpu"],
        "top_processes": cpu["top_processes"],
        slots_name: slots,
    }
    measured = (
        f"The CPUs this process may use were {usage:g} % busy over {cpu['window_s']:g} s "
        f"(1-minute load {cpu['load_per_cpu']:g} per CPU). Analyses are CPU-bound: on busy "
        "CPUs each one takes longer."
    )
    if usage > CPU_HIGH_PERCENT:
        return [
            Recommendation(
                "cpu_busy",
                "high",
                "system",
                f"CPU usage is too high ({usage:g} %)",
                evidence,
                measured + " Add CPU cores (in Redis mode: worker hosts), or optimise what "
                "spends it — top_processes names the processes that did.",
                _external("operator", "CPU cores or worker hosts", "add"),
            )
        ]
    return [
        Recommendation(
            "cpu_busy",
            "medium",
            "system",
            f"CPU usage is high ({usage:g} %)",
            evidence,
            measured + f" Above {CPU_HIGH_PERCENT:g} % analyses slow down markedly; if it "
            "stays this high, plan for more CPU cores or worker hosts.",
            _external("operator", "CPU cores or worker hosts", "plan"),
        )
    ]


# -- database -------------------------------------------------------------------------


def _database(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    db = facts.get("database", {})
    if not db.get("available"):
        return []
    if db["dialect"] != "postgresql":
        return _sqlite(db)
    out = []
    usable = db["max_connections"] - db["reserved_connections"]
    used_share = db["connections"] / usable if usable > 0 else 1.0
    near_limit = used_share >= CONNECTIONS_NEAR_LIMIT
    if near_limit:
        out.append(
            Recommendation(
                "db_connections_near_limit",
                "high",
                "database",
                "PostgreSQL is close to max_connections",
                {
                    "connections": db["connections"],
                    "ours": db["our_connections"],
                    "max_connections": db["max_connections"],
                    "superuser_reserved_connections": db["reserved_connections"],
                    "used_share": round(used_share, 3),
                },
                "When no connection is left, new requests and workers fail to connect. Raise "
                "the limit (or put a pooler such as PgBouncer in front) before growing any pool.",
                _external(
                    "postgresql",
                    "max_connections",
                    math.ceil(db["connections"] / CONNECTIONS_TARGET) + db["reserved_connections"],
                    db["max_connections"],
                ),
            )
        )
    pool = facts.get("application", {}).get("db_pool") or {}
    checkouts = (pool.get("pooled") or 0) + (pool.get("overflow") or 0)
    if checkouts >= MIN_CHECKOUTS:
        share = pool["overflow"] / checkouts
        if share >= POOL_OVERFLOW_SHARE:
            crowded = _memory_and_connections(facts) is not None
            out.append(
                _pool_too_small(db, pool, share, int(checkouts), near_limit, crowded, settings)
            )
    hit = db["buffer_cache"]
    if (
        hit["hit_ratio"] is not None
        and hit["hit_ratio"] < BUFFER_HIT_RATIO
        and hit["blks_read"] >= MIN_BLOCK_READS
    ):
        out.append(
            Recommendation(
                "db_buffer_cache",
                "medium",
                "database",
                "Reads miss PostgreSQL's buffer cache",
                {
                    "hit_ratio": hit["hit_ratio"],
                    "blks_hit": hit["blks_hit"],
                    "blks_read": hit["blks_read"],
                    "shared_buffers": db["shared_buffers"],
                    "since": hit["stats_reset"],
                },
                f"Below {BUFFER_HIT_RATIO:.0%} of block reads served from memory, queries wait on "
                "the disk; a larger shared_buffers (commonly a quarter of RAM) keeps the "
                "working set in memory.",
                _external(
                    "postgresql",
                    "shared_buffers",
                    "2 × current, up to 25 % of RAM",
                    db["shared_buffers"],
                ),
            )
        )
    for table in db["tables"]:
        rows = table["live"] + table["dead"]
        if table["dead"] >= MIN_DEAD and table["dead"] / rows >= DEAD_SHARE:
            out.append(
                Recommendation(
                    f"table_bloat_{table['table']}",
                    "medium",
                    "database",
                    f"Dead rows in {table['table']}",
                    {
                        "table": table["table"],
                        "dead_tuples": table["dead"],
                        "live_tuples": table["live"],
                        "dead_share": round(table["dead"] / rows, 3),
                        "last_vacuum": table["last_vacuum"],
                        "bytes": table["bytes"],
                    },
                    "Deleted and updated rows still take space and are read by every scan until "
                    "VACUUM reclaims them; autovacuum has not caught up.",
                    _external("command", "bizlogic maintain --only database", "run"),
                )
            )
        if (
            table["seq_scan"] >= SEQ_SCANS
            and table["live"] >= SEQ_TABLE_ROWS
            and table["idx_scan"] < table["seq_scan"]
        ):
            out.append(
                Recommendation(
                    f"missing_index_{table['table']}",
                    "medium",
                    "database",
                    f"Whole-table scans of {table['table']}",
                    {
                        "table": table["table"],
                        "seq_scan": table["seq_scan"],
                        "seq_tup_read": table["seq_tup_read"],
                        "idx_scan": table["idx_scan"],
                        "live_tuples": table["live"],
                    },
                    "Queries read the whole table more often than they use an index; find them "
                    "with pg_stat_statements and add the index they need in a migration.",
                    _external("operator", "index on the filtered columns", "investigate"),
                )
            )
    for index in db["unused_indexes"]:
        if index["bytes"] >= UNUSED_INDEX_BYTES:
            out.append(
                Recommendation(
                    f"unused_index_{index['index']}",
                    "low",
                    "database",
                    f"Index {index['index']} is never used",
                    {**index, "stats_since": hit["stats_reset"]},
                    "An index no query uses still costs every write and disk space; check over "
                    "a full business cycle before dropping it in a migration.",
                    _external("operator", f"DROP INDEX {index['index']}", "consider"),
                )
            )
    statements = db["statements"]
    if not statements["available"]:
        out.append(
            Recommendation(
                "pg_stat_statements_missing",
                "info",
                "database",
                "Slow statements are not visible",
                {"reason": statements["reason"]},
                "Without pg_stat_statements the tuner cannot name slow statements.",
                _external("postgresql", "shared_preload_libraries", "pg_stat_statements"),
            )
        )
    else:
        for statement in statements["slowest"]:
            if (
                statement["mean_ms"] >= SLOW_STATEMENT_MS
                and statement["calls"] >= SLOW_STATEMENT_CALLS
            ):
                out.append(
                    Recommendation(
                        "slow_statement",
                        "medium",
                        "database",
                        "A statement is slow on average",
                        statement,
                        f"Its mean time is above {SLOW_STATEMENT_MS:g} ms over many calls; "
                        "EXPLAIN ANALYZE it.",
                        _external("operator", "EXPLAIN (ANALYZE, BUFFERS)", "investigate"),
                    )
                )
    return out


def _pool_too_small(
    db: dict[str, Any],
    pool: dict[str, Any],
    share: float,
    checkouts: int,
    near_limit: bool,
    crowded: bool,
    settings: Settings,
) -> Recommendation:
    current = int(pool.get("size") or settings.db_pool_size)  # what the service runs with
    wanted = min(current + PG_MAX_OVERFLOW, max(current + 1, math.ceil(current / (1 - share))))
    processes = max(1, round(db["our_connections"] / max(current, 1)))
    free = db["max_connections"] - db["reserved_connections"] - db["connections"]
    affordable = current + max(0, free // processes)
    evidence = {
        "overflow_checkouts": int(pool["overflow"]),
        "checkouts": checkouts,
        "overflow_share": round(share, 3),
        "pool_size": current,
        "free_connections": free,
        "our_connections": db["our_connections"],
    }
    reason = (
        f"{share:.0%} of connections taken from the pool went beyond its {current} kept "
        "connections, so each of those opened (and then closed) a new PostgreSQL connection, "
        "which costs milliseconds and a server process every time."
    )
    if crowded:
        return Recommendation(
            "db_pool_too_small",
            "info",
            "database",
            "The pool overflows, but memory and connections are already high",
            evidence,
            reason + " A bigger pool would add connections while memory is short: see "
            "memory_and_connections first.",
        )
    if near_limit or affordable <= current:
        return Recommendation(
            "db_pool_too_small",
            "info",
            "database",
            "The pool overflows, but there is no room for a bigger one",
            evidence,
            reason + " PostgreSQL has no free connections for a bigger pool: raise "
            "max_connections first.",
            _external("postgresql", "max_connections", "see above"),
        )
    value = min(wanted, affordable)
    return Recommendation(
        "db_pool_too_small",
        "high" if share >= 0.5 else "medium",
        "database",
        "The database pool is too small for the load",
        evidence,
        reason,
        _setting(settings, "db_pool_size", value, current),
    )


def _sqlite(db: dict[str, Any]) -> list[Recommendation]:
    if db["free_ratio"] >= SQLITE_FREE_SHARE and db["bytes"] >= SQLITE_MIN_BYTES:
        return [
            Recommendation(
                "sqlite_free_pages",
                "low",
                "database",
                "The SQLite file holds free pages",
                {k: db[k] for k in ("file", "bytes", "pages", "free_pages", "free_ratio")},
                "Deleted data left free pages in the file; VACUUM rewrites it smaller.",
                _external("command", "bizlogic maintain --only database", "run"),
            )
        ]
    return []


# -- cache ----------------------------------------------------------------------------


def _lookups(facts: dict[str, Any]) -> tuple[float, float, str, dict[str, Any] | None]:
    """Cache hits and misses — bizlogic's own counters when they have enough lookups, else
    Redis INFO — their source, and the Redis INFO figures (None: the in-memory cache)."""
    cache = facts.get("cache", {})
    ours = facts.get("application", {}).get("cache") or {}
    redis_info = cache if cache.get("available") and cache.get("backend") == "redis" else None
    hits, misses = ours.get("hits") or 0, ours.get("misses") or 0
    source = "bizlogic counters"
    if hits + misses < MIN_LOOKUPS and redis_info is not None:
        hits, misses = redis_info["keyspace_hits"], redis_info["keyspace_misses"]
        source = "Redis INFO"
    return hits, misses, source, redis_info


def _cache(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    out = []
    hits, misses, source, redis_info = _lookups(facts)
    if redis_info is not None:
        out.extend(_redis_memory(redis_info, settings))
        out.extend(_redis_clients(redis_info))
    lookups = hits + misses
    if lookups < MIN_LOOKUPS or hits / lookups >= CACHE_HIT_RATE:
        return out
    evidence = {
        "hit_rate": round(hits / lookups, 4),
        "hits": int(hits),
        "misses": int(misses),
        "source": source,
        "cache_ttl_s": settings.cache_ttl_s,
    }
    expired = redis_info["expired_keys"] if redis_info else None
    evicted = redis_info["evicted_keys"] if redis_info else None
    if (
        expired is not None
        and evicted == 0
        and expired >= 0.5 * misses
        and settings.cache_ttl_s < CACHE_TTL_MAX_S
    ):
        out.append(
            Recommendation(
                "cache_ttl_too_short",
                "medium",
                "cache",
                "Cached results expire before reuse",
                {**evidence, "expired_keys": expired, "evicted_keys": evicted},
                "Most misses are of entries that had expired: results are asked for again "
                "later than the TTL. Results only change when a project changes (which "
                "invalidates them anyway), so a longer TTL is safe.",
                _setting(settings, "cache_ttl_s", min(CACHE_TTL_MAX_S, settings.cache_ttl_s * 2)),
            )
        )
    elif not evicted:
        out.append(
            Recommendation(
                "cache_cold",
                "info",
                "cache",
                "The cache is cold",
                {**evidence, "expired_keys": expired, "evicted_keys": evicted},
                "Most lookups were first reads of results not cached yet, not expiries or "
                "evictions: no setting would help; check again after a day of normal use.",
            )
        )
    return out


def _redis_memory(info: dict[str, Any], settings: Settings) -> list[Recommendation]:
    out = []
    evidence = {
        k: info[k] for k in ("used_memory", "maxmemory", "maxmemory_policy", "evicted_keys")
    }
    if not info["maxmemory"]:
        out.append(
            Recommendation(
                "redis_no_maxmemory",
                "medium",
                "cache",
                "Redis memory is unbounded",
                evidence,
                "Without maxmemory a growing cache can take the host's memory from PostgreSQL "
                "and the analyses; with a bound and volatile-lru Redis drops old cache entries "
                "instead.",
                _external(
                    "redis", "maxmemory", f"{max(256 << 20, 4 * info['used_memory']) >> 20}mb", 0
                ),
            )
        )
    policy = info["maxmemory_policy"]
    if (
        info["maxmemory"]
        and policy != "volatile-lru"
        and (policy == "noeviction" or policy.startswith("allkeys"))
    ):
        out.append(
            Recommendation(
                "redis_eviction_policy",
                "high" if policy == "noeviction" else "medium",
                "cache",
                "Redis's eviction policy does not fit bizlogic",
                evidence,
                "Cache entries carry a TTL and the job queue's keys do not: volatile-lru evicts "
                "only cache entries. noeviction makes writes fail at the limit; allkeys-* can "
                "evict queued jobs.",
                _external("redis", "maxmemory-policy", "volatile-lru", policy),
            )
        )
    if (
        info["evicted_keys"]
        and info["maxmemory"]
        and info["used_memory"] >= 0.9 * info["maxmemory"]
    ):
        out.append(
            Recommendation(
                "cache_evictions",
                "medium",
                "cache",
                "Redis evicts cache entries",
                evidence,
                "Redis is at its memory limit and drops entries before they expire; a shorter "
                "TTL lowers the memory the cache needs (or raise maxmemory).",
                _setting(settings, "cache_ttl_s", max(CACHE_TTL_MIN_S, settings.cache_ttl_s / 2)),
            )
        )
    return out


def _redis_clients(info: dict[str, Any]) -> list[Recommendation]:
    clients, limit = info.get("connected_clients"), info.get("maxclients")
    if clients is None or not limit or clients <= REDIS_CLIENTS_NEAR_LIMIT * limit:
        return []
    return [
        Recommendation(
            "redis_clients_near_limit",
            "high",
            "cache",
            "Redis is close to maxclients",
            {
                "connected_clients": clients,
                "maxclients": limit,
                "used_share": round(clients / limit, 3),
            },
            'At maxclients Redis refuses new connections ("max number of clients reached"): '
            "the API's cache and the workers' queue fail. Raise maxclients (the open-file "
            "limit of redis-server must allow it) or find who holds the connections with "
            "CLIENT LIST.",
            _external("redis", "maxclients", math.ceil(clients / REDIS_CLIENTS_TARGET), limit),
        )
    ]


# -- application ----------------------------------------------------------------------


def _application(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    app = facts.get("application", {})
    out = []
    if app.get("available"):
        analyses = app["analyses"]
        ended = analyses["completed"] + analyses["failed"]
        if ended >= MIN_ENDED and analyses["failed"] / ended >= ERROR_SHARE:
            out.append(
                Recommendation(
                    "analysis_errors",
                    "high",
                    "application",
                    "Many analyses fail",
                    {
                        "failed": analyses["failed"],
                        "completed": analyses["completed"],
                        "error_share": round(analyses["failed"] / ended, 3),
                    },
                    "A setting will not fix failing analyses; the error types say what does.",
                    _external("command", "bizlogic logs analyze --report errors", "run"),
                )
            )
        p95 = analyses["p95_le_s"]
        if p95 is not None and p95 >= SLOW_P95_SHARE * settings.analysis_timeout_s:
            out.append(
                Recommendation(
                    "slow_analyses",
                    "medium",
                    "application",
                    "Analyses run close to the time limit",
                    {
                        "p95_le_s": p95,
                        "analysis_timeout_s": settings.analysis_timeout_s,
                        "analyses": analyses["duration_count"],
                    },
                    "One analysis in twenty takes at least half the time limit; a larger "
                    "project will start failing with timeouts.",
                    _external(
                        "operator",
                        env_name("analysis_timeout_s"),
                        2 * settings.analysis_timeout_s,
                        settings.analysis_timeout_s,
                    ),
                )
            )
    out.extend(_backlog(facts, settings))
    return out


def _backlog(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    jobs, system = facts.get("jobs", {}), facts.get("system", {})
    if not jobs.get("available") or not system.get("available"):
        return []
    depth = facts.get("application", {}).get("queue_depth")
    queued = max(jobs["queued"], int(depth or 0))
    slots_name, slots = analysis_slots(settings)
    if queued < BACKLOG_FACTOR * slots:
        return []
    cpus, load = system["cpus"], system["load_1m"]
    evidence = {
        "queued": queued,
        "running": jobs["running"],
        slots_name: slots,
        "cpus": cpus,
        "load_1m": load,
    }
    reason = f"{queued} analyses wait for {slots} slot(s)"
    if load < CPU_HEADROOM * cpus and slots < math.floor(cpus):
        return [
            Recommendation(
                "queue_backlog",
                "medium",
                "application",
                "Analyses wait while CPUs are idle",
                evidence,
                reason + " while the CPUs are not busy: more at once finishes sooner.",
                _setting(settings, slots_name, max(slots + 1, min(math.floor(cpus), queued))),
            )
        ]
    return [
        Recommendation(
            "queue_backlog",
            "medium",
            "application",
            "Analyses wait and the CPUs are busy",
            evidence,
            reason + " and this machine has no spare CPU: add worker machines.",
            _external("operator", "bizlogic-worker@N on another host", "add"),
        )
    ]


# -- combined: the guide's rules on two figures at once --------------------------------


def _memory_and_connections(facts: dict[str, Any]) -> tuple[float, int] | None:
    """(memory %, connections) when memory > 70 % and bizlogic's PostgreSQL database has
    more than 30 connections; None otherwise — and always on SQLite, which has none."""
    system, db = facts.get("system", {}), facts.get("database", {})
    if not system.get("available") or not db.get("available"):
        return None
    connections = db.get("database_connections")
    if db.get("dialect") != "postgresql" or connections is None:
        return None
    memory = system["memory"]["used_percent"]
    if memory > MEMORY_WITH_CONNECTIONS_PERCENT and connections > CONNECTIONS_WITH_MEMORY:
        return memory, connections
    return None


def _combined(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    out = []
    crowded = _memory_and_connections(facts)
    if crowded is not None:
        out.append(_crowded(facts, settings, *crowded))
    out.extend(_cpu_and_cache(facts, settings))
    return out


def _crowded(
    facts: dict[str, Any], settings: Settings, memory: float, connections: int
) -> Recommendation:
    db = facts["database"]
    pool = facts.get("application", {}).get("db_pool") or {}
    current = int(pool.get("size") or settings.db_pool_size)
    ours = db["database_our_connections"]
    processes = max(1, round(ours / max(current, 1))) if ours else 0
    excess = connections - CONNECTIONS_WITH_MEMORY
    evidence = {
        "memory_used_percent": memory,
        "memory_source": facts["system"]["memory"]["source"],
        "database": db.get("database"),
        "database_connections": connections,
        "our_connections": ours,
        "pool_size": current,
        "processes": processes,
    }
    reason = (
        f"Memory is {memory:g} % used and {connections} connections are open to the "
        "database. Every PostgreSQL connection is a server process with memory of its own, "
        "and a pool keeps its connections open while idle."
    )
    title = "Memory and database connections are both high"
    if processes and current > 1 and ours - processes >= excess:
        value = max(1, current - math.ceil(excess / processes))
        return Recommendation(
            "memory_and_connections",
            "high",
            "combined",
            title,
            evidence,
            reason + f" bizlogic holds {ours} of them ({processes} process(es), pool of "
            f"{current}): a pool of {value} brings the database to about "
            f"{CONNECTIONS_WITH_MEMORY} connections.",
            _setting(settings, "db_pool_size", value, current),
        )
    return Recommendation(
        "memory_and_connections",
        "high",
        "combined",
        title,
        evidence,
        reason
        + (
            f" bizlogic holds {ours} of them, too few for a smaller pool to bring the "
            f"database to {CONNECTIONS_WITH_MEMORY}"
            if current > 1
            else f" bizlogic holds {ours} of them with a pool of 1 per process already"
        )
        + ": close other clients' idle connections or put a pooler (PgBouncer) in front "
        "of PostgreSQL.",
        _external("operator", "other clients' connections, or a pooler (PgBouncer)", "reduce"),
    )


def _cpu_and_cache(facts: dict[str, Any], settings: Settings) -> list[Recommendation]:
    system = facts.get("system", {})
    cpu = system.get("cpu") if system.get("available") else None
    if not cpu or cpu["usage_percent"] <= CPU_WITH_CACHE_PERCENT:
        return []
    hits, misses, source, redis_info = _lookups(facts)
    lookups = hits + misses
    if lookups < MIN_LOOKUPS or hits / lookups >= CACHE_HIT_RATE_WITH_CPU:
        return []
    evidence: dict[str, Any] = {
        "cpu_usage_percent": cpu["usage_percent"],
        "window_s": cpu["window_s"],
        "hit_rate": round(hits / lookups, 4),
        "hits": int(hits),
        "misses": int(misses),
        "source": source,
        "cache_ttl_s": settings.cache_ttl_s,
    }
    reason = (
        f"The CPUs are {cpu['usage_percent']:g} % busy and {evidence['hit_rate']:.0%} of cache "
        "lookups hit: every miss recomputes a result the cache could have served."
    )
    title = "CPU is busy and the cache hit rate is low"

    def advise(why: str, change: Any, figures: dict[str, Any] | None = None) -> list[Any]:
        shown = figures if figures is not None else evidence
        return [
            Recommendation(
                "cpu_and_cache", "medium", "combined", title, shown, reason + why, change
            )
        ]

    if redis_info is not None:
        expired, evicted = redis_info["expired_keys"], redis_info["evicted_keys"]
        evidence.update(expired_keys=expired, evicted_keys=evicted)
        maxmemory = redis_info["maxmemory"]
        if evicted and maxmemory and redis_info["used_memory"] >= 0.9 * maxmemory:
            return advise(
                " Redis evicts entries at maxmemory before they are reused, so a longer TTL "
                "would not keep them: give Redis more memory.",
                _external("redis", "maxmemory", f"{2 * maxmemory >> 20}mb", maxmemory),
                {**evidence, "used_memory": redis_info["used_memory"], "maxmemory": maxmemory},
            )
        if expired < 0.5 * misses:
            return advise(
                " Most misses are first reads, not expiries: no cache setting serves those, "
                "so the CPU load has to be met with CPUs or worker hosts.",
                _external("operator", "CPU cores or worker hosts", "plan"),
            )
    if settings.cache_ttl_s >= CACHE_TTL_MAX_S:
        return advise(
            f" The TTL is already {CACHE_TTL_MAX_S:g} s, the longest the tuner suggests: "
            "find which requests miss (bl_cache_requests_total).",
            _external("operator", "what is cached", "investigate"),
        )
    return advise(
        " Results only change when a project changes (which invalidates them anyway): a "
        "longer TTL keeps them for reuse and saves the recomputation.",
        _setting(settings, "cache_ttl_s", min(CACHE_TTL_MAX_S, settings.cache_ttl_s * 2)),
    )
