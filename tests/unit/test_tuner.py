"""The tuner's pure parts: overrides file, figures from /metrics, and the rules' numbers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from bizlogic.ops import overrides
from bizlogic.ops.tune_advice import advise
from bizlogic.ops.tune_facts import application_facts, bucket_quantile, cgroup_cpus, usable_cpus
from bizlogic.settings import Settings, get_settings
from bizlogic.telemetry.metrics import Metrics


def healthy_facts(**parts: Any) -> dict[str, Any]:
    """Figures on which no rule fires; each test changes the part it is about."""
    facts: dict[str, Any] = {
        "system": {
            "available": True,
            "cpus": 4.0,
            "cpu_quota": None,
            "load_1m": 0.5,
            "cpu": {
                "window_s": 3.0,
                "busy_percent": 20.0,
                "quota_used_percent": None,
                "usage_percent": 20.0,
                "top_processes": [{"pid": 42, "name": "bizlogic", "cpu_percent": 35.0}],
                "load_per_cpu": 0.12,
            },
            "memory": {
                "source": "host",
                "limit_bytes": 8 << 30,
                "used_bytes": 2 << 30,
                "used_percent": 25.0,
            },
            "disks": {"data": {"path": "/d", "used_percent": 40.0, "free_bytes": 10 << 30}},
            "disk_io": {
                "available": True,
                "window_s": 3.0,
                "read_bytes_per_s": 1000.0,
                "write_bytes_per_s": 2000.0,
                "reads_per_s": 1.0,
                "writes_per_s": 2.0,
                "busy_percent": 1.0,
                "busiest_device": "sda",
            },
        },
        "database": {
            "available": True,
            "dialect": "postgresql",
            "max_connections": 100,
            "reserved_connections": 3,
            "shared_buffers": "128MB",
            "connections": 10,
            "our_connections": 5,
            "database": "bizlogic",
            "database_connections": 8,
            "database_our_connections": 5,
            "buffer_cache": {
                "blks_hit": 999_000,
                "blks_read": 1_000,
                "hit_ratio": 0.999,
                "stats_reset": None,
            },
            "tables": [
                {
                    "table": "business_rules",
                    "live": 500,
                    "dead": 10,
                    "seq_scan": 5,
                    "seq_tup_read": 2500,
                    "idx_scan": 50,
                    "last_vacuum": None,
                    "bytes": 65536,
                }
            ],
            "unused_indexes": [],
            "statements": {"available": True, "slowest": []},
        },
        "jobs": {"available": True, "queued": 0, "running": 0},
        "cache": {"available": True, "backend": "memory"},
        "application": {
            "available": True,
            "endpoints": 1,
            "errors": {},
            "analyses": {
                "completed": 50,
                "failed": 1,
                "cancelled": 0,
                "duration_count": 51,
                "duration_sum_s": 100.0,
                "p95_le_s": 10.0,
            },
            "cache": {"hits": 900, "misses": 100},
            "db_pool": {"size": 5.0, "pooled": 1000.0, "overflow": 0.0},
            "queue_depth": None,
            "active_analyses": 0.0,
        },
    }
    for key, value in parts.items():
        facts[key] = value
    return facts


def ids(recommendations) -> list[str]:
    return [r.id for r in recommendations]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")


# -- overrides file -------------------------------------------------------------------


def test_overrides_round_trip_with_backup_and_diff(tmp_path: Path) -> None:
    path = overrides.overrides_path(tmp_path)
    assert overrides.read_overrides(path) == {}
    assert overrides.write(path, {"db_pool_size": "8"}) is None  # nothing to back up yet
    assert overrides.read_overrides(path) == {"db_pool_size": "8"}
    first = path.read_text()
    text = overrides.diff(path, {"db_pool_size": "8"}, {"cache_ttl_s": "600.0"})
    assert "+BL_CACHE_TTL_S=600.0" in text and "BL_DB_POOL_SIZE=8" in text
    assert "-BL_DB_POOL_SIZE" not in text
    backup = overrides.write(path, {"cache_ttl_s": "600.0"}, now=datetime(2026, 1, 2, tzinfo=UTC))
    assert backup is not None and backup.read_text() == first
    assert backup.name.startswith("tuning.env.20260102T000000")
    assert overrides.read_overrides(path) == {"db_pool_size": "8", "cache_ttl_s": "600.0"}
    assert not list(tmp_path.glob(".tuning.env*"))  # no temporary file left behind


def test_overrides_file_refuses_other_settings_naming_the_line(tmp_path: Path) -> None:
    path = overrides.overrides_path(tmp_path)
    path.write_text("# tuned\nBL_DB_POOL_SIZE=4\n\nBL_DATABASE_URL=postgresql://x/y\n")
    with pytest.raises(overrides.OverridesError, match=r"line 4: BL_DATABASE_URL cannot be set"):
        overrides.read_overrides(path)
    path.write_text("BL_DB_POOL_SIZE\n")
    with pytest.raises(overrides.OverridesError, match=r"line 1: expected BL_NAME=value"):
        overrides.read_overrides(path)
    path.write_text("BL_DB_POOL_SIZE=0\n")
    with pytest.raises(overrides.OverridesError, match=r"tuning.env: BL_DB_POOL_SIZE: .*1"):
        overrides.read_overrides(path)


def test_write_refuses_a_bad_value_and_leaves_the_file(tmp_path: Path) -> None:
    path = overrides.overrides_path(tmp_path)
    overrides.write(path, {"worker_threads": "2"})
    before = path.read_text()
    with pytest.raises(overrides.OverridesError, match="BL_WORKER_THREADS"):
        overrides.write(path, {"worker_threads": "-1"})
    assert path.read_text() == before
    assert len(list(tmp_path.iterdir())) == 1  # no backup of a write that did not happen


def test_settings_read_the_overrides_below_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BL_DATA_DIR", str(tmp_path))
    for name in ("BL_DB_POOL_SIZE", "BL_CACHE_TTL_S", "BL_WORKER_THREADS"):
        monkeypatch.delenv(name, raising=False)
    overrides.write(overrides.overrides_path(tmp_path), {"db_pool_size": "9", "cache_ttl_s": "42"})
    monkeypatch.setenv("BL_CACHE_TTL_S", "77")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.db_pool_size == 9  # from the file
        assert settings.cache_ttl_s == 77  # the environment wins
        assert settings.worker_threads == 1  # neither: the default
    finally:
        get_settings.cache_clear()


# -- figures ----------------------------------------------------------------------------


def test_application_figures_are_summed_over_endpoints() -> None:
    api, worker = Metrics(50), Metrics(50)
    durations = [0.3, 0.7, 2.0, 4.0, 8.0, 20.0, 45.0, 90.0, 400.0, 700.0]
    for n, seconds in enumerate(durations):
        who = api if n % 2 else worker
        who.analysis_started()
        status = "failed" if n == 3 else "completed"
        who.analysis_finished(
            "sentiment_correlation", "p", "viewer", status, seconds, 500, 1, None, "text"
        )
    for hit in (True, True, False):
        api.cache_lookup(hit)
    api.db_pool_size.set(3)
    for overflow in (False, False, True):
        worker.db_checkout(overflow)
    texts = {
        "a": generate_latest(api.registry).decode(),
        "w": generate_latest(worker.registry).decode(),
        "down": OSError("refused"),
    }
    facts = application_facts(texts)
    assert facts["endpoints"] == 2 and facts["errors"] == {"down": "refused"}
    analyses = facts["analyses"]
    assert (analyses["completed"], analyses["failed"], analyses["duration_count"]) == (9, 1, 10)
    assert analyses["duration_sum_s"] == round(sum(durations), 3)
    # nearest rank 10 of 10 → 700 s: above the largest bucket bound (600)
    assert analyses["p95_le_s"] == math.inf
    assert facts["cache"] == {"hits": 2, "misses": 1}
    assert facts["db_pool"] == {"size": 3, "pooled": 2, "overflow": 1}


def test_bucket_quantile_is_the_bound_of_the_bucket_holding_the_rank() -> None:
    cumulative = {0.5: 1, 1.0: 4, 5.0: 19, 10.0: 20, math.inf: 20}
    assert bucket_quantile(cumulative, 20, 0.95) == 5.0  # 19 ≥ 0.95 × 20
    assert bucket_quantile(cumulative, 20, 0.96) == 10.0
    assert bucket_quantile(cumulative, 20, 0.05) == 0.5
    assert bucket_quantile({}, 0, 0.95) is None


def test_cgroup_cpu_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpus(tmp_path) == 1.5
    assert usable_cpus(tmp_path) == min(1.5, len(__import__("os").sched_getaffinity(0)))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpus(tmp_path) is None
    assert cgroup_cpus(tmp_path / "nowhere") is None


# -- rules --------------------------------------------------------------------------------


def test_healthy_figures_give_no_recommendation(settings) -> None:
    assert advise(healthy_facts(), settings) == []


def test_small_pool_is_raised_within_the_free_connections(settings) -> None:
    facts = healthy_facts()
    facts["application"]["db_pool"] = {"size": 2.0, "pooled": 300.0, "overflow": 700.0}
    facts["database"].update(connections=60, our_connections=4)
    [rec] = advise(facts, settings)
    assert (rec.id, rec.priority, rec.applicable) == ("db_pool_too_small", "high", True)
    assert rec.evidence["overflow_share"] == 0.7 and rec.evidence["free_connections"] == 37
    # ceil(2 / (1 - 0.7)) = 7 connections would have served 70 % more checkouts
    assert rec.change == {
        "target": "bizlogic",
        "setting": "BL_DB_POOL_SIZE",
        "name": "db_pool_size",
        "current": 2,
        "value": 7,
    }
    # a small server: two processes (4 connections / pool of 2) share 4 free connections
    facts["database"].update(max_connections=20, connections=13)
    [capped] = advise(facts, settings)
    assert capped.evidence["free_connections"] == 4 and capped.change["value"] == 2 + 4 // 2


def test_near_max_connections_outranks_the_pool(settings) -> None:
    facts = healthy_facts()
    facts["application"]["db_pool"] = {"size": 2.0, "pooled": 300.0, "overflow": 700.0}
    facts["database"].update(connections=85, our_connections=4)
    recs = advise(facts, settings)
    assert ids(recs) == ["db_connections_near_limit", "db_pool_too_small"]
    near, pool = recs
    assert near.priority == "high" and near.evidence["used_share"] == round(85 / 97, 3)
    assert near.change["value"] == math.ceil(85 / 0.6) + 3 and not near.applicable
    assert pool.priority == "info" and not pool.applicable


def test_few_checkouts_are_no_evidence(settings) -> None:
    facts = healthy_facts()
    facts["application"]["db_pool"] = {"size": 1.0, "pooled": 10.0, "overflow": 89.0}
    assert advise(facts, settings) == []


def test_bloat_buffer_cache_unused_index_and_statements(settings) -> None:
    facts = healthy_facts()
    db = facts["database"]
    db["tables"] = [
        {
            "table": "business_patterns",
            "live": 1000,
            "dead": 4000,
            "seq_scan": 3,
            "seq_tup_read": 10,
            "idx_scan": 9,
            "last_vacuum": None,
            "bytes": 1 << 20,
        },
        {
            "table": "business_rules",
            "live": 50_000,
            "dead": 999,
            "seq_scan": 400,
            "seq_tup_read": 20_000_000,
            "idx_scan": 12,
            "last_vacuum": None,
            "bytes": 1 << 24,
        },
    ]
    db["buffer_cache"] = {
        "blks_hit": 90_000,
        "blks_read": 10_000,
        "hit_ratio": 0.9,
        "stats_reset": None,
    }
    db["unused_indexes"] = [
        {"table": "business_rules", "index": "idx_a", "bytes": 2 << 20},
        {"table": "business_rules", "index": "idx_b", "bytes": 8192},
    ]
    db["statements"] = {"available": False, "reason": "not installed"}
    recs = advise(facts, settings)
    assert ids(recs) == [
        "db_buffer_cache",
        "missing_index_business_rules",
        "table_bloat_business_patterns",
        "unused_index_idx_a",
        "pg_stat_statements_missing",
    ]
    bloat = recs[2]
    assert bloat.evidence["dead_share"] == 0.8
    assert bloat.change["setting"] == "bizlogic maintain --only database"
    assert not any(r.applicable for r in recs)


def test_cache_ttl_doubles_when_misses_are_expiries(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", cache_ttl_s=120)
    redis_facts = {
        "available": True,
        "backend": "redis",
        "keyspace_hits": 100,
        "keyspace_misses": 400,
        "expired_keys": 250,
        "evicted_keys": 0,
        "used_memory": 1 << 20,
        "maxmemory": 1 << 30,
        "maxmemory_policy": "volatile-lru",
    }
    facts = healthy_facts(cache=redis_facts)
    facts["application"]["cache"] = {"hits": 10, "misses": 20}  # too few: Redis INFO counts
    [rec] = advise(facts, settings)
    assert rec.id == "cache_ttl_too_short" and rec.evidence["hit_rate"] == 0.2
    assert rec.evidence["source"] == "Redis INFO"
    assert rec.change["value"] == 240
    redis_facts["expired_keys"] = 10  # misses are first reads: a cold cache
    [cold] = advise(facts, settings)
    assert cold.id == "cache_cold" and cold.priority == "info" and not cold.change


def test_redis_memory_policy_and_evictions(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", cache_ttl_s=100)
    redis_facts = {
        "available": True,
        "backend": "redis",
        "keyspace_hits": 10,
        "keyspace_misses": 0,
        "expired_keys": 0,
        "evicted_keys": 7,
        "used_memory": 95 << 20,
        "maxmemory": 100 << 20,
        "maxmemory_policy": "allkeys-lru",
    }
    recs = advise(healthy_facts(cache=redis_facts), settings)
    assert ids(recs) == ["cache_evictions", "redis_eviction_policy"]
    assert recs[0].change["value"] == 50 and recs[0].applicable
    assert recs[1].change["value"] == "volatile-lru" and recs[1].priority == "medium"
    redis_facts.update(maxmemory=0, maxmemory_policy="noeviction", evicted_keys=0)
    [unbounded] = advise(healthy_facts(cache=redis_facts), settings)
    assert unbounded.id == "redis_no_maxmemory" and unbounded.change["value"] == "380mb"


def test_system_rules_pick_the_slots_setting_of_the_mode(tmp_path) -> None:
    embedded = Settings(data_dir=tmp_path, max_concurrent_analyses=6)
    [rec] = advise(healthy_facts(), embedded)
    assert rec.id == "analyses_exceed_cpus"
    assert (rec.change["setting"], rec.change["value"]) == ("BL_MAX_CONCURRENT_ANALYSES", 4)
    facts = healthy_facts()
    facts["system"]["memory"]["used_percent"] = 93.5
    facts["system"]["disks"]["data"]["used_percent"] = 85.0
    redis_mode = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", worker_threads=3)
    recs = advise(facts, redis_mode)
    assert ids(recs) == ["disk_filling_data", "memory_pressure"]
    assert (recs[1].change["setting"], recs[1].change["value"]) == ("BL_WORKER_THREADS", 2)


def test_application_rules(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, analysis_timeout_s=60, max_concurrent_analyses=1)
    facts = healthy_facts()
    facts["application"]["analyses"].update(completed=30, failed=10, p95_le_s=30.0)
    facts["jobs"] = {"available": True, "queued": 5, "running": 1}
    recs = advise(facts, settings)
    assert ids(recs) == ["analysis_errors", "queue_backlog", "slow_analyses"]
    assert recs[0].evidence["error_share"] == 0.25
    # 5 queued for 1 slot, load 0.5 on 4 CPUs: up to the CPUs, at most the queue
    assert recs[1].change["value"] == 4 and recs[1].applicable
    assert recs[2].change["value"] == 120
    facts["system"]["load_1m"] = 3.9  # no spare CPU: scale out instead
    busy = next(r for r in advise(facts, settings) if r.id == "queue_backlog")
    assert busy.change["target"] == "operator" and not busy.applicable


def test_people_see_what_was_measured_even_without_recommendations(capsys, monkeypatch):
    from bizlogic.cli.tune import print_report

    monkeypatch.setenv("COLUMNS", "200")
    facts = {
        "system": {"available": True, "cpus": 2.0, "memory": {"used_percent": 4.2}, "x": None},
        "database": {"available": True, "tables": [{"name": "a"}, {"name": "b"}]},
        "cache": {"available": False, "reason": "no Redis configured"},
    }
    print_report({"mode": "embedded", "facts": facts, "recommendations": []})
    out = " ".join(capsys.readouterr().out.split())
    assert "cache: not measured — no Redis configured" in out
    assert "system cpus=2.0, memory.used_percent=4.2 database tables=2 items" in out
    assert "x=" not in out
    assert out.endswith("No recommendations: every measured figure is within bounds.")


# -- the sampling window, disk usage as df counts it ---------------------------------------


def _times(**busy: float) -> Any:
    """A psutil.cpu_times() value: every field 0 but those given."""
    import psutil

    kind = type(psutil.cpu_times())
    return kind(*[busy.get(name, 0.0) for name in kind._fields])


def _io(read: int, written: int, reads: int, writes: int) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(
        read_bytes=read, write_bytes=written, read_count=reads, write_count=writes
    )


def test_window_figures_from_two_snapshots() -> None:
    from bizlogic.ops.tune_facts import Snapshot, window_facts

    before = Snapshot(
        at=100.0,
        wall=1000.0,
        cpu=_times(user=50.0, idle=50.0),
        cgroup_usage_usec=1_000_000,
        disk_io=_io(0, 0, 0, 0),
        disk_busy_ms={"sda": 500, "sda1": 400, "gone": 1},
        processes={(7, 10.0): ("burner", 1.0), (8, 11.0): ("idle", 5.0), (9, 12.0): ("ended", 1.0)},
    )
    after = Snapshot(
        at=104.0,  # a 4 s window
        wall=1004.0,
        # 2 CPUs × 4 s = 8 s: 6 busy (user 5 + system 1), 1 idle, 1 iowait
        cpu=_times(user=55.0, system=1.0, idle=51.0, iowait=1.0),
        cgroup_usage_usec=4_000_000,  # 3 CPU-seconds against a quota of 1 CPU for 4 s
        disk_io=_io(8 << 20, 4 << 20, 40, 80),
        disk_busy_ms={"sda": 2500, "sda1": 2000},
        processes={
            (7, 10.0): ("burner", 4.9),  # 3.9 s of CPU in 4 s
            (8, 11.0): ("idle", 5.0),  # nothing spent: not listed
            (10, 1002.0): ("new", 0.4),  # started within the window: all its time counts
            (11, 900.0): ("unseen", 9.0),  # older than the window but not seen before: left out
        },
    )
    cpu, disk_io = window_facts(before, after, quota=1.0)
    assert cpu == {
        "window_s": 4.0,
        "busy_percent": 75.0,
        "quota_used_percent": 75.0,
        "usage_percent": 75.0,
        "top_processes": [
            {"pid": 7, "name": "burner", "cpu_percent": 97.5},
            {"pid": 10, "name": "new", "cpu_percent": 10.0},
        ],
    }
    assert disk_io == {
        "available": True,
        "window_s": 4.0,
        "read_bytes_per_s": float(2 << 20),
        "write_bytes_per_s": float(1 << 20),
        "reads_per_s": 10.0,
        "writes_per_s": 20.0,
        "busy_percent": 50.0,  # sda: 2000 ms of 4000 with I/O in flight
        "busiest_device": "sda",
    }
    # a quota the cgroup exceeds the host share of: usage is the larger of the two
    cpu, _ = window_facts(before, after, quota=0.5)
    assert (cpu["quota_used_percent"], cpu["usage_percent"]) == (100.0, 100.0)
    # no quota: the cgroup counter is not read as one
    cpu, _ = window_facts(before, after, quota=None)
    assert cpu["quota_used_percent"] is None and cpu["usage_percent"] == 75.0
    # no disks, or no busy_time counters
    idle_disks = Snapshot(at=104.0, wall=1004.0, cpu=after.cpu, disk_io=_io(0, 0, 0, 0))
    _, figures = window_facts(before, idle_disks, quota=None)
    assert figures["busy_percent"] is None and figures["busiest_device"] is None
    _, none = window_facts(before, Snapshot(at=104.0, wall=1004.0, cpu=after.cpu), quota=None)
    assert none == {"available": False, "reason": "no disk I/O counters on this host"}


def test_system_facts_sample_over_the_window_they_record(tmp_path, monkeypatch) -> None:
    from bizlogic.ops import tune_facts
    from bizlogic.ops.tune_facts import Snapshot

    snapshots = iter(
        [
            Snapshot(at=10.0, wall=0.0, cpu=_times(idle=100.0)),
            Snapshot(at=12.5, wall=2.5, cpu=_times(user=4.0, idle=101.0)),
        ]
    )
    waited: list[float] = []
    monkeypatch.setattr(tune_facts.os, "getloadavg", lambda: (3.0, 2.0, 1.0))
    monkeypatch.setattr(tune_facts, "usable_cpus", lambda root: 2.0)
    facts = tune_facts.system_facts(
        Settings(data_dir=tmp_path),
        root=tmp_path,
        sample_s=2.5,
        take=lambda: next(snapshots),
        wait=waited.append,
    )
    assert waited == [2.5]
    assert facts["cpu"]["window_s"] == 2.5 and facts["cpu"]["usage_percent"] == 80.0
    assert facts["load_1m"] == 3.0 and facts["cpu"]["load_per_cpu"] == 1.5
    assert facts["disk_io"]["available"] is False
    assert facts["disks"]["data"]["path"] == str(tmp_path)


def _statvfs(blocks: int, free: int, available: int) -> Any:
    import os

    return os.statvfs_result((4096, 4096, blocks, free, available, 0, 0, 0, 0, 255))


def test_disk_percent_is_dfs_everywhere(tmp_path, monkeypatch) -> None:
    """used / (used + available), as df: 700 used, 300 free of which 100 reserved for root
    → 700 / 900 = 77.8 % (700 / 1000 = 70 % would hide the reserve)."""
    import os

    from bizlogic.ops import tune_facts
    from bizlogic.ops.maintenance import Maintenance
    from bizlogic.telemetry import disk
    from bizlogic.telemetry.collector import Collector
    from bizlogic.telemetry.metrics import Metrics

    monkeypatch.setattr(os, "statvfs", lambda path: _statvfs(1000, 300, 200))
    usage = disk.disk_usage(tmp_path / "not" / "yet")
    assert usage.path == str(tmp_path)  # the nearest existing directory
    assert (usage.used_bytes, usage.available_bytes) == (700 * 4096, 200 * 4096)
    assert usage.percent == 77.8
    settings = Settings(data_dir=tmp_path, disk_alert_percent=95)
    taken = iter([tune_facts.Snapshot(at=0.0, wall=0.0, cpu=_times(idle=1.0))] * 2)
    facts = tune_facts.system_facts(settings, root=tmp_path, take=lambda: next(taken), wait=id)
    assert facts["disks"]["data"]["used_percent"] == 77.8
    assert facts["disks"]["data"]["free_bytes"] == 200 * 4096
    status, details = Maintenance(settings, None, steps=("disk",))._disk()  # type: ignore[arg-type]
    assert status == "ok" and details["usage_percent"] == {"data": 77.8}
    metrics = Metrics(50)
    Collector(metrics, None, tmp_path)._disk()  # type: ignore[arg-type]
    assert metrics.system.disk_percent._value.get() == 77.8
    monkeypatch.setattr(os, "statvfs", lambda path: _statvfs(0, 0, 0))
    assert disk.disk_usage(tmp_path).percent == 0.0  # an empty pseudo-filesystem


# -- CPU, the guide's combined rules, Redis clients, memory with one slot ----------------------


def _cpu(facts: dict[str, Any], usage: float) -> dict[str, Any]:
    facts["system"]["cpu"].update(busy_percent=usage, usage_percent=usage)
    return facts


@pytest.mark.parametrize(
    ("usage", "priority"),
    [(60.0, None), (60.1, "medium"), (80.0, "medium"), (80.1, "high"), (100.0, "high")],
)
def test_cpu_usage_over_the_window(settings, usage, priority) -> None:
    recs = [r for r in advise(_cpu(healthy_facts(), usage), settings) if r.id == "cpu_busy"]
    if priority is None:
        assert recs == []
        return
    [rec] = recs
    assert rec.priority == priority and rec.area == "system" and not rec.applicable
    assert f"({usage:g} %)" in rec.title
    assert rec.evidence == {
        "usage_percent": usage,
        "window_s": 3.0,
        "busy_percent": usage,
        "quota_used_percent": None,
        "cpus": 4.0,
        "load_1m": 0.5,
        "load_per_cpu": 0.12,
        "top_processes": [{"pid": 42, "name": "bizlogic", "cpu_percent": 35.0}],
        "worker_threads": 1,
    }
    assert "optimise" in rec.reason if priority == "high" else "plan" in rec.reason


def test_cpu_rule_needs_a_measured_window(settings) -> None:
    facts = healthy_facts()
    del facts["system"]["cpu"]  # a report from before the window was measured
    assert advise(facts, settings) == []


def _crowd(facts: dict[str, Any], memory: float, connections: int, ours: int) -> dict[str, Any]:
    facts["system"]["memory"]["used_percent"] = memory
    facts["database"].update(database_connections=connections, database_our_connections=ours)
    return facts


@pytest.mark.parametrize(
    ("memory", "connections", "fires"),
    [(70.0, 31, False), (70.1, 30, False), (70.1, 31, True), (89.0, 60, True)],
)
def test_memory_with_connections_thresholds(tmp_path, memory, connections, fires) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", db_pool_size=10)
    facts = _crowd(healthy_facts(), memory, connections, ours=0)
    recs = [r for r in advise(facts, settings) if r.id == "memory_and_connections"]
    assert bool(recs) == fires
    if fires:
        [rec] = recs
        assert (rec.priority, rec.area) == ("high", "combined")
        assert rec.evidence["memory_used_percent"] == memory
        assert rec.evidence["database_connections"] == connections
        assert rec.evidence["database"] == "bizlogic"


def test_memory_with_connections_lowers_our_pool_when_it_can(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", db_pool_size=10)
    facts = _crowd(healthy_facts(), 75.0, 35, ours=30)
    facts["application"]["db_pool"]["size"] = 10.0  # the service runs a pool of 10
    [rec] = [r for r in advise(facts, settings) if r.id == "memory_and_connections"]
    # 30 ours / pool 10 = 3 processes; 5 too many → 2 fewer each (ceil 5/3)
    assert rec.evidence == {
        "memory_used_percent": 75.0,
        "memory_source": "host",
        "database": "bizlogic",
        "database_connections": 35,
        "our_connections": 30,
        "pool_size": 10,
        "processes": 3,
    }
    assert rec.applicable and rec.change["setting"] == "BL_DB_POOL_SIZE"
    assert (rec.change["current"], rec.change["value"]) == (10, 8)
    # other clients hold most of them: our pool cannot bring it to 30
    facts = _crowd(healthy_facts(), 75.0, 60, ours=4)
    [other] = [r for r in advise(facts, settings) if r.id == "memory_and_connections"]
    assert not other.applicable and "PgBouncer" in other.change["setting"]
    assert "too few for a smaller pool" in other.reason
    facts["application"]["db_pool"]["size"] = 1.0
    facts["database"]["database_our_connections"] = 40
    [one] = [r for r in advise(facts, settings) if r.id == "memory_and_connections"]
    assert not one.applicable and "pool of 1 per process already" in one.reason


def test_memory_with_connections_does_not_apply_to_sqlite(settings) -> None:
    facts = healthy_facts()
    facts["system"]["memory"]["used_percent"] = 85.0
    facts["database"] = {
        "available": True,
        "dialect": "sqlite",
        "file": "/d/bizlogic.db",
        "bytes": 4096,
        "pages": 1,
        "free_pages": 0,
        "free_ratio": 0.0,
    }
    assert advise(facts, settings) == []  # nothing, and nothing saying so


def test_an_overflowing_pool_is_not_grown_when_memory_and_connections_are_high(settings):
    facts = _crowd(healthy_facts(), 75.0, 35, ours=4)
    facts["application"]["db_pool"] = {"size": 2.0, "pooled": 300.0, "overflow": 700.0}
    recs = {r.id: r for r in advise(facts, settings)}
    assert recs["db_pool_too_small"].priority == "info" and not recs["db_pool_too_small"].change
    assert recs["memory_and_connections"].priority == "high"


def _lookups(facts: dict[str, Any], hits: int, misses: int) -> dict[str, Any]:
    facts["application"]["cache"] = {"hits": hits, "misses": misses}
    return facts


@pytest.mark.parametrize(
    ("usage", "hits", "fires"),
    [(60.0, 79, False), (60.1, 80, False), (60.1, 79, True), (95.0, 10, True)],
)
def test_cpu_with_cache_hit_rate_thresholds(tmp_path, usage, hits, fires) -> None:
    settings = Settings(data_dir=tmp_path, cache_ttl_s=300)
    facts = _lookups(_cpu(healthy_facts(), usage), hits, 100 - hits)
    recs = [r for r in advise(facts, settings) if r.id == "cpu_and_cache"]
    assert bool(recs) == fires
    if fires:
        [rec] = recs
        assert (rec.priority, rec.area) == ("medium", "combined")
        assert rec.evidence == {
            "cpu_usage_percent": usage,
            "window_s": 3.0,
            "hit_rate": hits / 100,
            "hits": hits,
            "misses": 100 - hits,
            "source": "bizlogic counters",
            "cache_ttl_s": 300,
        }
        assert rec.applicable and rec.change["value"] == 600


def test_cpu_with_cache_needs_enough_lookups(settings) -> None:
    facts = _lookups(_cpu(healthy_facts(), 90.0), 10, 89)
    assert "cpu_and_cache" not in ids(advise(facts, settings))


def test_cpu_with_cache_says_what_would_help(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", cache_ttl_s=3600)
    redis_facts = {
        "available": True,
        "backend": "redis",
        "keyspace_hits": 50,
        "keyspace_misses": 150,
        "expired_keys": 100,
        "evicted_keys": 0,
        "used_memory": 1 << 20,
        "maxmemory": 1 << 30,
        "maxmemory_policy": "volatile-lru",
    }
    facts = _lookups(_cpu(healthy_facts(cache=redis_facts), 70.0), 0, 0)  # Redis INFO counts

    def rec() -> Any:
        return next(r for r in advise(facts, settings) if r.id == "cpu_and_cache")

    at_max = rec()  # expiries, but the TTL is already the longest suggested
    assert at_max.evidence["source"] == "Redis INFO" and at_max.evidence["hit_rate"] == 0.25
    assert at_max.change["setting"] == "what is cached" and not at_max.applicable
    redis_facts["expired_keys"] = 10  # first reads: no cache setting serves them
    assert rec().change["setting"] == "CPU cores or worker hosts"
    redis_facts.update(evicted_keys=500, used_memory=950 << 20, maxmemory=1000 << 20)
    evicted = rec()  # evicted at maxmemory: a longer TTL would not keep them
    assert evicted.change == {
        "target": "redis",
        "setting": "maxmemory",
        "current": 1000 << 20,
        "value": "2000mb",
    }


@pytest.mark.parametrize(("clients", "fires"), [(8, False), (9, True), (10, True)])
def test_redis_clients_against_maxclients(tmp_path, clients, fires) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    redis_facts = {
        "available": True,
        "backend": "redis",
        "keyspace_hits": 0,
        "keyspace_misses": 0,
        "expired_keys": 0,
        "evicted_keys": 0,
        "used_memory": 1 << 20,
        "maxmemory": 1 << 30,
        "maxmemory_policy": "volatile-lru",
        "connected_clients": clients,
        "maxclients": 10,
    }
    recs = advise(healthy_facts(cache=redis_facts), settings)
    assert ("redis_clients_near_limit" in ids(recs)) == fires
    if fires:
        [rec] = recs
        assert (rec.priority, rec.area, rec.applicable) == ("high", "cache", False)
        assert rec.evidence == {
            "connected_clients": clients,
            "maxclients": 10,
            "used_share": clients / 10,
        }
        assert rec.change["setting"] == "maxclients"
        assert rec.change["value"] == math.ceil(clients / 0.6)
    redis_facts["maxclients"] = None  # CONFIG GET refused: no limit known, no advice
    assert "redis_clients_near_limit" not in ids(advise(healthy_facts(cache=redis_facts), settings))


@pytest.mark.parametrize("embedded", [True, False])
def test_memory_pressure_speaks_with_a_single_analysis_slot(tmp_path, embedded) -> None:
    redis_url = None if embedded else "redis://127.0.0.1:1/0"
    settings = Settings(
        data_dir=tmp_path, redis_url=redis_url, max_concurrent_analyses=1, worker_threads=1
    )
    facts = healthy_facts()
    facts["system"]["memory"].update(used_percent=90.0, top_processes=[{"pid": 1, "rss_bytes": 9}])
    [rec] = advise(facts, settings)
    assert (rec.id, rec.priority, rec.applicable) == ("memory_pressure", "high", False)
    slots = "max_concurrent_analyses" if embedded else "worker_threads"
    assert rec.evidence[slots] == 1 and rec.evidence["used_percent"] == 90.0
    assert rec.evidence["top_processes"] == [{"pid": 1, "rss_bytes": 9}]
    assert ("Redis mode" in rec.reason) == embedded
    facts["system"]["memory"]["used_percent"] = 89.9  # just below: silent
    assert advise(facts, settings) == []
