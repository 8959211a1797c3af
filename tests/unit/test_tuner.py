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
            "memory": {
                "source": "host",
                "limit_bytes": 8 << 30,
                "used_bytes": 2 << 30,
                "used_percent": 25.0,
            },
            "disks": {"data": {"path": "/d", "used_percent": 40.0, "free_bytes": 10 << 30}},
        },
        "database": {
            "available": True,
            "dialect": "postgresql",
            "max_connections": 100,
            "reserved_connections": 3,
            "shared_buffers": "128MB",
            "connections": 10,
            "our_connections": 5,
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
