"""`bizlogic tune` against real conditions: a bloated table, a tiny pool under load, a
crowded PostgreSQL, a cold and an expiring Redis cache, --apply in embedded mode, CPUs
kept busy by the test's own burner processes, more than 30 connections to bizlogic's
database, and Redis clients up to its maxclients."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import psycopg
import pytest
import redis
from prometheus_client import generate_latest
from sqlalchemy import text

from bizlogic.cache import RedisCache
from bizlogic.ops import tune_advice
from bizlogic.ops.tune_advice import advise
from bizlogic.ops.tune_facts import (
    application_facts,
    cache_facts,
    database_facts,
    system_facts,
    usable_cpus,
)
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.db import Database
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import PG_ADMIN_URL, fresh_pg_database
from tests.polling import poll
from tests.servers import EXE, Server, bizlogic, clean_env, free_port


def tune(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`bizlogic tune`, over a short sampling window unless the test names one."""
    window = () if "--sample-seconds" in args else ("--sample-seconds", "0.5")
    return bizlogic(env, "tune", *args, *window)


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in report["recommendations"]}


# -- a bloated table ---------------------------------------------------------------------


def test_dead_rows_are_reported_until_maintenance_vacuums_them(tmp_path) -> None:
    with fresh_pg_database("bl_tune") as (_, _, url):
        migrations.upgrade(url)
        db = Database(url, pooled=False)
        settings = Settings(data_dir=tmp_path, database_url=url)
        try:
            with db.engine.begin() as conn:
                conn.execute(text("ALTER TABLE maintenance_runs SET (autovacuum_enabled = off)"))
                conn.execute(
                    text(
                        "INSERT INTO maintenance_runs (kind, status, dry_run, started_at) "
                        "SELECT 'bulk', 'ok', false, now() FROM generate_series(1, 5000)"
                    )
                )
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM maintenance_runs WHERE id % 5 <> 0"))

            def table(dead_at_least: int, dead_at_most: int) -> dict[str, Any] | None:
                facts = database_facts(db)
                row = next(t for t in facts["tables"] if t["table"] == "maintenance_runs")
                return facts if dead_at_least <= row["dead"] <= dead_at_most else None

            facts = poll(lambda: table(4000, 4000), 30, "the statistics to show 4000 dead rows")
            bloat = {r.id: r for r in advise({"database": facts}, settings)}[
                "table_bloat_maintenance_runs"
            ]
            assert bloat.evidence["dead_tuples"] == 4000
            assert bloat.evidence["live_tuples"] == 1000
            assert bloat.evidence["dead_share"] == 0.8
            assert bloat.change["setting"] == "bizlogic maintain --only database"

            done = subprocess.run(
                [EXE, "maintain", "--only", "database"],
                env=clean_env(tmp_path, BL_DATABASE_URL=url),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            # the run's own record was inserted, then updated when it finished: one dead row
            facts = poll(lambda: table(0, 1), 30, "VACUUM to clear the dead rows")
            assert not [r for r in advise({"database": facts}, settings) if "bloat" in r.id]
        finally:
            db.dispose()


# -- a tiny pool under load, then a crowded server -----------------------------------------


def _hammer(server: Server, headers: dict[str, str], threads: int, each: int) -> None:
    """Concurrent requests that each take a database connection (an unknown job: 404)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(_: int) -> list[int]:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            return [client.get("/api/business-logic/jobs/none").status_code for _ in range(each)]

    with ThreadPoolExecutor(threads) as pool:
        statuses = [s for batch in pool.map(run, range(threads)) for s in batch]
    assert statuses == [404] * threads * each


def _expected_pool(evidence: dict[str, Any], max_connections: int, reserved: int) -> int:
    current = evidence["pool_size"]
    share = evidence["overflow_checkouts"] / evidence["checkouts"]
    wanted = min(current + 10, max(current + 1, math.ceil(current / (1 - share))))
    processes = max(1, round(evidence["our_connections"] / current))
    return min(wanted, current + evidence["free_connections"] // processes)


def test_tiny_pool_is_raised_by_apply_and_crowding_is_reported(tmp_path) -> None:
    with fresh_pg_database("bl_tune") as (_, _, url):
        data = tmp_path / "data"
        env = clean_env(data, BL_DATABASE_URL=url)
        server = Server({**env, "BL_DB_POOL_SIZE": "1"}, tmp_path / "server.log")
        crowd: list[psycopg.Connection] = []
        try:
            assert server.metric("bl_db_pool_size") == 1
            made = subprocess.run(
                [EXE, "token", "create", "--user", "ops", "--role", "system_admin"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            headers = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
            _hammer(server, headers, threads=8, each=30)

            metrics = f"{server.url}/metrics"
            done = tune(env, "--json", "--metrics-url", metrics)
            assert done.returncode == 0, done.stderr
            report = json.loads(done.stdout)
            db = report["facts"]["database"]
            pool = by_id(report)["db_pool_too_small"]
            evidence = pool["evidence"]
            assert evidence["pool_size"] == 1 and evidence["checkouts"] >= 240
            assert evidence["overflow_checkouts"] / evidence["checkouts"] >= 0.1
            expected = _expected_pool(evidence, db["max_connections"], db["reserved_connections"])
            assert expected > 1
            assert pool["applicable"] and pool["change"]["setting"] == "BL_DB_POOL_SIZE"
            assert (pool["change"]["current"], pool["change"]["value"]) == (1, expected)

            applied = tune(env, "--apply", "--yes", "--metrics-url", metrics, "--json")
            assert applied.returncode == 0, applied.stderr
            assert "+BL_DB_POOL_SIZE=" in applied.stderr and "wrote " in applied.stderr
            written = (data / "tuning.env").read_text()
            [line] = [x for x in written.splitlines() if x.startswith("BL_DB_POOL_SIZE=")]
            value = int(line.split("=")[1])
            assert (
                value == by_id(json.loads(applied.stdout))["db_pool_too_small"]["change"]["value"]
            )
            server.stop()  # the restarted service reads the overrides file
            server = Server(env, tmp_path / "server.log")
            assert server.metric("bl_db_pool_size") == value

            # a crowded PostgreSQL: connections up to 85 % of what clients may use
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                limit = int(admin.execute("SHOW max_connections").fetchone()[0])
                reserved = int(admin.execute("SHOW superuser_reserved_connections").fetchone()[0])
                used = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                ).fetchone()[0]
            needed = math.ceil(0.85 * (limit - reserved)) - used
            if needed > 400:
                pytest.skip(f"max_connections={limit}: too many connections to open for a test")
            crowd = [psycopg.connect(url.replace("+psycopg", "")) for _ in range(needed)]
            _hammer(server, headers, threads=8, each=30)
            # Default metrics URL: BL_HEALTH_URL's host, here a free port nothing listens on
            # (the default, 127.0.0.1:8000, may be taken on a developer's machine).
            unused = f"http://127.0.0.1:{free_port()}/readyz"
            crowded = tune({**env, "BL_HEALTH_URL": unused}, "--json")
            report = json.loads(crowded.stdout)
            assert report["facts"]["application"]["available"] is False
            near = by_id(report)["db_connections_near_limit"]
            facts = report["facts"]["database"]
            assert near["priority"] == "high" and not near["applicable"]
            assert facts["connections"] >= used + needed - 1  # the tuner's own is left out
            assert near["change"]["value"] == math.ceil(facts["connections"] / 0.6) + reserved
        finally:
            for conn in crowd:
                conn.close()
            server.stop()


# -- Redis: a cold cache, then entries that expire before they are read again ---------------


def test_cold_and_expiring_cache(redis_server, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=redis_server.url, cache_ttl_s=0.2)
    metrics = Metrics(50)
    cache = RedisCache(redis_server.url, ttl_s=settings.cache_ttl_s, on_lookup=metrics.cache_lookup)

    def figures() -> dict[str, Any]:
        ours = application_facts({"api": generate_latest(metrics.registry).decode()})
        return {"cache": cache_facts(settings), "application": ours}

    keys = [cache.key("p", "rules", {"page": n}) for n in range(150)]
    assert all(cache.get_raw(k) is None for k in keys)  # 150 first reads: all miss
    facts = figures()
    assert facts["application"]["cache"] == {"hits": 0, "misses": 150}
    [cold] = [r for r in advise(facts, settings) if r.id.startswith("cache_")]
    assert cold.id == "cache_cold" and not cold.applicable
    assert (cold.evidence["hit_rate"], cold.evidence["source"]) == (0.0, "bizlogic counters")

    for k in keys:
        cache.set(k, {"rules": []})
    client = redis_server.client()
    poll(lambda: client.info("stats")["expired_keys"] >= 150, 30, "the entries to expire")
    assert all(cache.get_raw(k) is None for k in keys)  # asked for again: expired
    facts = figures()
    recs = {r.id: r for r in advise(facts, settings)}
    ttl = recs["cache_ttl_too_short"]
    assert ttl.evidence["expired_keys"] == facts["cache"]["expired_keys"] >= 150
    assert (ttl.evidence["hits"], ttl.evidence["misses"]) == (0, 300)
    assert ttl.change == {
        "target": "bizlogic",
        "setting": "BL_CACHE_TTL_S",
        "name": "cache_ttl_s",
        "current": 0.2,
        "value": 0.4,
    }
    assert recs["redis_no_maxmemory"].change["target"] == "redis"

    client.config_set("maxmemory", "100mb")
    client.config_set("maxmemory-policy", "allkeys-lru")
    policy = {r.id: r for r in advise(figures(), settings)}
    assert policy["redis_eviction_policy"].change["value"] == "volatile-lru"
    assert "redis_no_maxmemory" not in policy
    cache.close()


# -- embedded mode from the command line ------------------------------------------------------


def test_embedded_cli_recommends_applies_and_refuses_bad_input(tmp_path) -> None:
    data = tmp_path / "data"
    env = clean_env(data, BL_HEALTH_URL=f"http://127.0.0.1:{free_port()}/readyz")
    assert subprocess.run([EXE, "db", "upgrade"], env=env, capture_output=True).returncode == 0
    cpus = max(1, math.floor(usable_cpus()))
    overrides = data / "tuning.env"
    overrides.write_text(f"BL_MAX_CONCURRENT_ANALYSES={cpus + 2}\n")

    done = tune(env, "--output", str(tmp_path / "out" / "report.json"))
    assert done.returncode == 0, done.stderr
    assert "More analyses at once than CPUs" in done.stdout
    assert "application: not measured" in done.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["mode"] == "embedded" and report["facts"]["database"]["dialect"] == "sqlite"
    assert report["settings"]["from_overrides"] == ["BL_MAX_CONCURRENT_ANALYSES"]
    rec = by_id(report)["analyses_exceed_cpus"]
    assert (rec["change"]["current"], rec["change"]["value"]) == (cpus + 2, cpus)

    refused = tune(env, "--apply")  # stdin is not a terminal
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert overrides.read_text() == f"BL_MAX_CONCURRENT_ANALYSES={cpus + 2}\n"

    shadowed = tune({**env, "BL_MAX_CONCURRENT_ANALYSES": str(cpus + 2)}, "--apply", "--yes")
    assert shadowed.returncode == 0
    assert "is set in the environment" in shadowed.stderr
    assert f"-BL_MAX_CONCURRENT_ANALYSES={cpus + 2}" in shadowed.stderr
    assert f"+BL_MAX_CONCURRENT_ANALYSES={cpus}" in shadowed.stderr
    assert f"BL_MAX_CONCURRENT_ANALYSES={cpus}\n" in overrides.read_text()
    [backup] = data.glob("tuning.env.*.bak")
    assert backup.read_text() == f"BL_MAX_CONCURRENT_ANALYSES={cpus + 2}\n"

    again = tune(env, "--apply", "--yes", "--json")
    assert "analyses_exceed_cpus" not in by_id(json.loads(again.stdout))
    assert "nothing to apply" in again.stderr

    assert tune(env, "--yes").returncode == 2
    overrides.write_text("BL_REDIS_URL=redis://elsewhere\n")
    bad = tune(env)
    assert bad.returncode == 2
    assert f"{overrides}: line 1: BL_REDIS_URL cannot be set here" in " ".join(bad.stderr.split())


# -- busy CPUs: burner processes owned by the test ---------------------------------------------


@pytest.fixture
def cpu_burners() -> Iterator[list[int]]:
    """One busy loop per CPU this process may use (at least two), killed afterwards."""
    count = max(2, math.ceil(usable_cpus()))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        poll(
            lambda: all(psutil.Process(b.pid).cpu_times().user >= 0.2 for b in burners),
            30,
            "every burner to have spent CPU time",
        )
        yield [b.pid for b in burners]
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait(10)


def test_busy_cpus_are_named_with_the_measured_window(tmp_path, cpu_burners) -> None:
    env = clean_env(tmp_path / "data", BL_HEALTH_URL=f"http://127.0.0.1:{free_port()}/readyz")
    done = tune(env, "--json", "--sample-seconds", "2")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    system = report["facts"]["system"]
    cpu = system["cpu"]
    assert 2.0 <= cpu["window_s"] < 30 and cpu["usage_percent"] > 80
    rec = by_id(report)["cpu_busy"]
    assert rec["priority"] == "high" and not rec["applicable"]
    evidence = rec["evidence"]
    assert (evidence["usage_percent"], evidence["window_s"]) == (
        cpu["usage_percent"],
        cpu["window_s"],
    )
    assert evidence["load_per_cpu"] == cpu["load_per_cpu"] and evidence["cpus"] == system["cpus"]
    # the evidence names who spent it: a burner is among the busiest processes
    assert set(cpu_burners) & {p["pid"] for p in evidence["top_processes"]}
    # disk I/O is measured over the same window (figures only, no rule)
    if system["disk_io"]["available"]:
        assert system["disk_io"]["window_s"] == cpu["window_s"]
        assert system["disk_io"]["write_bytes_per_s"] >= 0
    people = tune(env, "--sample-seconds", "1")
    assert "CPU usage is too high" in " ".join(people.stdout.split())


def test_busy_cpus_and_expiring_cache_entries_ask_for_a_longer_ttl(
    redis_server, tmp_path, cpu_burners
) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=redis_server.url, cache_ttl_s=0.2)
    metrics = Metrics(50)
    cache = RedisCache(redis_server.url, ttl_s=settings.cache_ttl_s, on_lookup=metrics.cache_lookup)
    try:
        keys = [cache.key("p", "rules", {"page": n}) for n in range(150)]
        for k in keys:
            cache.set(k, {"rules": []})
        client = redis_server.client()
        poll(lambda: client.info("stats")["expired_keys"] >= 150, 30, "the entries to expire")
        assert all(cache.get_raw(k) is None for k in keys)  # asked for again: expired
        facts = {
            "system": system_facts(settings, sample_s=1.0),
            "cache": cache_facts(settings),
            "application": application_facts({"api": generate_latest(metrics.registry).decode()}),
        }
    finally:
        cache.close()
    rec = {r.id: r for r in advise(facts, settings)}["cpu_and_cache"]
    assert rec.priority == "medium" and rec.evidence["cpu_usage_percent"] > 60
    assert (rec.evidence["hit_rate"], rec.evidence["source"]) == (0.0, "bizlogic counters")
    assert rec.evidence["expired_keys"] >= 150 and rec.evidence["evicted_keys"] == 0
    assert rec.applicable and (rec.change["setting"], rec.change["value"]) == (
        "BL_CACHE_TTL_S",
        0.4,
    )


# -- more than 30 connections to bizlogic's database while memory is high --------------------


def test_memory_with_crowded_connections(tmp_path, monkeypatch) -> None:
    """Memory cannot be filled to 70 % on a shared test host: the threshold is lowered to
    just below the memory measured here (a test-only monkeypatch of the constant); the
    connections are real."""
    with fresh_pg_database("bl_tune") as (_, _, url):
        settings = Settings(data_dir=tmp_path, database_url=url, db_pool_size=10)
        system = system_facts(settings, sample_s=0.5)
        memory = system["memory"]["used_percent"]
        if memory <= tune_advice.MEMORY_WITH_CONNECTIONS_PERCENT:
            monkeypatch.setattr(tune_advice, "MEMORY_WITH_CONNECTIONS_PERCENT", memory - 0.1)
        db = Database(url, pooled=False)
        plain = url.replace("+psycopg", "")
        crowd: list[psycopg.Connection] = []

        def open_until(count: int, name: str) -> dict[str, Any]:
            while len(crowd) < count:
                crowd.append(psycopg.connect(plain, application_name=name, autocommit=True))
            return poll(
                lambda: (f := database_facts(db))["database_connections"] == count and f,
                30,
                f"{count} connections to the test database",
            )

        def crowded(facts: dict[str, Any]) -> Any:
            found = {r.id: r for r in advise({"system": system, "database": facts}, settings)}
            return found.get("memory_and_connections")

        try:
            assert crowded(open_until(30, "crowd")) is None  # 30 is not more than 30
            rec = crowded(open_until(31, "crowd"))
            assert rec is not None and rec.priority == "high" and not rec.applicable
            assert rec.evidence["database_connections"] == 31
            assert rec.evidence["database"] == url.rsplit("/", 1)[1]
            assert rec.evidence["memory_used_percent"] == memory
            assert rec.evidence["our_connections"] == 0  # other clients: a pooler, not our pool
            for conn in crowd:
                conn.close()
            crowd.clear()
            # 35 connections named as bizlogic's: 35 / pool 10 → 4 processes; 5 too many
            ours = crowded(open_until(35, "bizlogic"))
            assert ours.evidence["our_connections"] == 35 and ours.evidence["processes"] == 4
            assert ours.applicable and ours.change["setting"] == "BL_DB_POOL_SIZE"
            assert (ours.change["current"], ours.change["value"]) == (10, 8)
        finally:
            for conn in crowd:
                conn.close()
            db.dispose()


# -- Redis clients against maxclients ---------------------------------------------------------


def test_redis_clients_near_maxclients(redis_server, tmp_path) -> None:
    admin = redis_server.client()
    admin.config_set("maxclients", 10)
    env = clean_env(
        tmp_path / "data",
        BL_REDIS_URL=redis_server.url,
        BL_HEALTH_URL=f"http://127.0.0.1:{free_port()}/readyz",
    )
    held: list[redis.Redis] = []

    def report_with(others: int) -> dict[str, Any]:
        """`bizlogic tune` with ``others`` clients connected besides this test's and its own."""
        while len(held) < others:
            held.append(redis_server.client())
            held[-1].ping()
        poll(
            lambda: admin.info("clients")["connected_clients"] == others + 1,
            30,
            f"{others + 1} Redis clients",
        )
        done = tune(env, "--json", "--sample-seconds", "0.5")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    try:
        report = report_with(6)  # 6 + this test's + the tuner's = 8: 80 %, not above
        assert report["facts"]["cache"]["connected_clients"] == 8
        assert report["facts"]["cache"]["maxclients"] == 10
        assert "redis_clients_near_limit" not in by_id(report)
        report = report_with(7)  # 9 of 10
        rec = by_id(report)["redis_clients_near_limit"]
        assert rec["priority"] == "high" and not rec["applicable"]
        assert rec["evidence"] == {"connected_clients": 9, "maxclients": 10, "used_share": 0.9}
        assert rec["change"] == {
            "target": "redis",
            "setting": "maxclients",
            "current": 10,
            "value": math.ceil(9 / 0.6),
        }
    finally:
        for client in held:
            client.close()
        admin.close()
