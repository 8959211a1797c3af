"""The system metrics collector against independent computations and real backends."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bizlogic.store.db import Database
from bizlogic.telemetry.collector import CgroupMemory, Collector, cgroup_memory, cpu_busy_percent
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import fresh_pg_database


def gauges(metrics: Metrics) -> dict[str, float]:
    body, _ = metrics.render()
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            label = sample.labels.get("source")
            found[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
    return found


def test_cpu_share_is_busy_time_over_elapsed_time() -> None:
    kind = type(psutil.cpu_times())
    fields = kind._fields
    before = kind(*[100.0] * len(fields))
    # 10 s elapsed across all fields: 2 s idle + 1 s iowait, the other 7 s busy.
    deltas = {name: 0.0 for name in fields}
    deltas.update(user=5.0, system=2.0, idle=2.0, iowait=1.0)
    after = kind(*[100.0 + deltas[name] for name in fields])
    assert cpu_busy_percent(before, after) == pytest.approx(70.0)
    assert cpu_busy_percent(after, after) == 0.0


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def test_cgroup_v2_limit_and_working_set(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "memory.max": "1073741824\n",
            "memory.current": "600000000\n",
            "memory.stat": "anon 400000000\ninactive_file 100000000\nactive_file 5\n",
        },
    )
    assert cgroup_memory(root) == CgroupMemory(1073741824, 500000000)


def test_cgroup_v1_limit_and_no_limit(tmp_path: Path) -> None:
    limited = _write(
        tmp_path / "a",
        {
            "memory/memory.limit_in_bytes": "2147483648\n",
            "memory/memory.usage_in_bytes": "1000\n",
            "memory/memory.stat": "total_inactive_file 400\n",
        },
    )
    assert cgroup_memory(limited) == CgroupMemory(2147483648, 600)
    unlimited = _write(
        tmp_path / "b",
        {"memory/memory.limit_in_bytes": "9223372036854771712\n", "memory.max": "max\n"},
    )
    assert cgroup_memory(unlimited) is None
    assert cgroup_memory(tmp_path / "none") is None


def _meminfo() -> tuple[int, int]:
    values = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, rest = line.split(":", 1)
        values[name] = int(rest.split()[0]) * 1024
    return values["MemTotal"], values["MemAvailable"]


def test_host_memory_disk_and_sqlite_pool(tmp_path: Path) -> None:
    metrics = Metrics()
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    collector = Collector(metrics, db, tmp_path, cgroup_root=tmp_path / "no-cgroup")
    held = db.engine.connect()  # one connection checked out of the pool
    try:
        assert collector.collect_once() == {
            "cpu": True, "memory": True, "disk": True, "database": True
        }  # fmt: skip
    finally:
        held.close()
        db.dispose()
    values = gauges(metrics)
    total, available = _meminfo()
    assert values["bl_memory_usage_percent"] == pytest.approx(
        100 * (total - available) / total, abs=1.0
    )
    stat = os.statvfs(tmp_path)
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    percent = 100 * used / (used + stat.f_bavail * stat.f_frsize)
    assert values["bl_disk_usage_percent"] == pytest.approx(percent, abs=0.2)
    assert (values["bl_db_connections_active"], values["bl_db_connections_idle"]) == (1, 1)
    assert 0 < values["bl_db_query_duration_seconds"] < 5
    assert 0 <= values["bl_cpu_usage_percent"] <= 100
    assert values["bl_disk_io_read_bytes"] == pytest.approx(
        psutil.disk_io_counters().read_bytes, rel=0.05
    )
    assert values["bl_collector_up{database}"] == 1


def test_postgresql_connections_by_state(tmp_path: Path) -> None:
    with fresh_pg_database("bl_collect") as (_, _, url):
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        idle = [psycopg.connect(plain) for _ in range(3)]
        busy = psycopg.connect(plain, autocommit=True)
        started = threading.Event()

        def sleep() -> None:
            started.set()
            busy.execute("SELECT pg_sleep(3)")

        sleeper = threading.Thread(target=sleep)
        sleeper.start()
        metrics = Metrics()
        db = Database(url)
        try:
            started.wait(5)
            collector = Collector(metrics, db, tmp_path)

            deadline = time.monotonic() + 2.5  # pg_sleep(3) is running meanwhile
            while True:  # the sleeping query shows as active once the server started it
                collector.collect_once()
                values = gauges(metrics)
                if values["bl_db_connections_active"] == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            # active: the sleeping session and the collector's own query; idle: the three.
            assert (values["bl_db_connections_active"], values["bl_db_connections_idle"]) == (2, 3)
        finally:
            sleeper.join()
            for connection in [*idle, busy]:
                connection.close()
            db.dispose()


def test_redis_info_and_an_outage_logged_once(redis_server, tmp_path, caplog) -> None:
    client = redis_server.client()
    client.set("a", "1")
    client.get("a"), client.get("a"), client.get("missing")
    metrics = Metrics()
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    collector = Collector(metrics, db, tmp_path, redis_url=redis_server.url)
    try:
        assert collector.collect_once()["redis"] is True
        values = gauges(metrics)
        assert (values["bl_redis_keyspace_hits"], values["bl_redis_keyspace_misses"]) == (2, 1)
        assert values["bl_redis_connected_clients"] == 2  # the test's client and the collector
        assert values["bl_redis_memory_usage_bytes"] == pytest.approx(
            client.info()["used_memory"], rel=0.1
        )
        client.close()

        caplog.set_level(logging.WARNING, logger="bizlogic.collector")
        redis_server.stop()
        first, second = collector.collect_once(), collector.collect_once()
        assert first["redis"] is False and second["redis"] is False
        assert first["cpu"] and first["database"]  # the others go on
        assert gauges(metrics)["bl_collector_up{redis}"] == 0
        outage = [r for r in caplog.records if "redis failed" in r.getMessage()]
        assert len(outage) == 1 and "ConnectionError" in outage[0].getMessage()

        redis_server.start()
        assert collector.collect_once()["redis"] is True
        assert gauges(metrics)["bl_collector_up{redis}"] == 1
        assert [r.getMessage() for r in caplog.records][-1] == "collector source redis is back"
    finally:
        collector.stop()
        db.dispose()
