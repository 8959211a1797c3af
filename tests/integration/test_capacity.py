"""Capacity planning on real backends: each sampled figure against a measurement taken
here by other means, retention, projections over a stored history, and a real service
whose data grows while `bizlogic maintain` samples it and `bizlogic tune` projects it."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
from scipy import stats
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from bizlogic.cli import app
from bizlogic.ops.capacity import store
from bizlogic.ops.capacity.project import projections
from bizlogic.ops.capacity.resources import Sample, host_scope
from bizlogic.ops.capacity.sample import measure
from bizlogic.ops.maintenance import DEFAULT_STEPS, Maintenance
from bizlogic.ops.tune_advice import advise
from bizlogic.ops.tune_facts import usable_cpus
from bizlogic.records.schema import Record
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.annotations import upsert_records
from bizlogic.store.db import Database
from bizlogic.store.projects import get_or_create_project
from bizlogic.store.tables import (
    TABLE_NAMES,
    AnalysisJob,
    CapacitySample,
    InsightRow,
    OpsReport,
    PatternRow,
    RuleRow,
)
from tests.conftest import fresh_pg_database
from tests.servers import Server, admin_headers, bizlogic, clean_env

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TIMEOUT_S = 60.0
DISK_SLACK = 256 << 20  # other processes write to the same disk between two readings
REDIS_SLACK = 64 << 10  # a client connection's buffers: the sampler's own is gone after


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.db'}"
        migrations.upgrade(url)
        db = Database(url)
        yield db
        db.dispose()
        return
    with fresh_pg_database("bl_capacity") as (_, _, url):
        migrations.upgrade(url)
        db = Database(url)
        yield db
        db.dispose()


def settings_for(db: Database, tmp_path: Path, **extra: Any) -> Settings:
    url = db.url.render_as_string(hide_password=False)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        jwt_secret="s" * 48,
        log_file=tmp_path / "logs" / "{process}.log",
        analysis_timeout_s=TIMEOUT_S,
        **extra,
    )


# -- seeded content ------------------------------------------------------------------------


def _rule(project: str, key: str) -> RuleRow:
    return RuleRow(
        project_id=project, algorithm="association", rule_type="association", rule_key=key,
        pattern=key, conditions=[], consequent={}, support_count=1, support=0.1,
        antecedent_count=1, consequent_count=1, n_records=10, confidence=0.5, lift=1.0,
        leverage=0.0, conviction=1.0, p_value=0.5, q_value=0.5, pmi=0.0, npmi=0.0, examples=[],
    )  # fmt: skip


def _job(job_id: str, project: str, status: str, finished: datetime | None, **extra: Any):
    return AnalysisJob(
        job_id=job_id, project_id=project, status=status, parameters={},
        algorithms=["association"], attempts=1, created_at=NOW - 10 * DAY,
        finished_at=finished, progress=1.0 if finished else 0.0, **extra,
    )  # fmt: skip


def seed(db: Database) -> None:
    """Two projects (30 and 12 records), rules, patterns, insights and jobs of each kind."""
    with db.scope() as session:
        for project, n in (("big", 30), ("small", 12)):
            get_or_create_project(session, project)
            records = [Record(id=f"{project}-{i}", text=f"record {i}") for i in range(n)]
            upsert_records(session, project, records, [["record"]] * n)
        session.add_all(_rule("big", f"r{i}") for i in range(3))
        session.add_all(
            PatternRow(project_id="big", algorithm="association", pattern_type="t",
                       description=f"p{i}", strength=0.5, data={})
            for i in range(2)
        )  # fmt: skip
        session.add_all(
            InsightRow(project_id="small", algorithm="association", insight_key=f"i{i}",
                       insight_type="t", title="t", description="d", impact_score=0.5,
                       recommendations=[], evidence={})
            for i in range(4)
        )  # fmt: skip
        session.add_all(
            [
                _job("q1", "big", "queued", None),
                _job("q2", "small", "queued", None),
                _job("run", "big", "running", None),
                # the last 7 days: 6 s for 30 records, 1.2 s for 12, and 9 s (start to
                # finish: no duration of its own) for 30
                _job("c1", "big", "completed", NOW - 2 * DAY,
                     results={"n_records": 30, "duration_s": 6.0}),
                _job("c2", "small", "completed", NOW - 3 * DAY,
                     results={"n_records": 12, "duration_s": 1.2}),
                _job("c3", "big", "completed", NOW - DAY,
                     started_at=NOW - DAY - timedelta(seconds=9), results={"n_records": 30}),
                # not counted: older than 7 days, failed
                _job("old", "big", "completed", NOW - 8 * DAY,
                     results={"n_records": 30, "duration_s": 100.0}),
                _job("f1", "big", "failed", NOW - DAY,
                     results={"n_records": 30, "duration_s": 50.0}),
            ]
        )  # fmt: skip


def write_logs(settings: Settings) -> int:
    """Live files, rotations and bystanders; returns the bytes that count."""
    logs = settings.log_file.parent
    logs.mkdir(parents=True)
    counted = {"api.log": 100, "api.log.1": 200, "api.log.2.gz": 50, "worker-2.log": 70}
    for name, size in {**counted, "notes.txt": 999, ".api.log.lock": 0}.items():
        (logs / name).write_bytes(b"x" * size)
    return sum(counted.values())


def by_key(samples: list[Sample]) -> dict[tuple[str, str], Sample]:
    return {(s.resource, s.item): s for s in samples}


def mount_of(path: Path) -> str:
    """The mount point as `df` names it."""
    out = subprocess.run(["df", "--output=target", str(path)], capture_output=True, text=True)
    return out.stdout.splitlines()[-1].strip()


def count(db: Database, table: str, where: str = "") -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar())


# -- sampling ------------------------------------------------------------------------------


def test_each_sample_equals_an_independent_measurement(database, tmp_path) -> None:
    settings = settings_for(database, tmp_path)
    seed(database)
    log_bytes = write_logs(settings)
    settings.data_dir.mkdir()
    probe = None
    if database.dialect == "postgresql":  # our own connection, counted with the sampler's
        probe = psycopg.connect(database.url.set(drivername="postgresql").render_as_string(False))
        probe.autocommit = True
    try:
        measured = measure(database, settings, now=NOW)
        if probe is not None:  # read at once, the sampler's pooled connection still open
            pg = {
                "connections": probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                ).fetchone()[0],
                "max_connections": int(probe.execute("SHOW max_connections").fetchone()[0]),
                "db_bytes": probe.execute("SELECT pg_database_size(current_database())").fetchone()[
                    0
                ],
                "tables": dict(
                    probe.execute(
                        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind = 'r'"
                    ).fetchall()
                ),
            }
    finally:
        if probe is not None:
            probe.close()
    assert measured.errors == {}
    got = by_key(measured.samples)

    tables_of = {
        "records": "annotations",
        "rules": "business_rules",
        "patterns": "business_patterns",
        "insights": "business_insights",
    }
    for resource, table in tables_of.items():
        assert got[(resource, "")].value == count(database, table)
    assert [got[(r, "")].value for r in ("records", "rules", "patterns", "insights")] == [
        42,
        3,
        2,
        4,
    ]
    queued = count(database, "business_logic_analysis_history", "WHERE status = 'queued'")
    assert got[("queue_depth", "")].value == queued == 2

    speed = got[("analysis_seconds_per_record", "")]
    assert speed.value == pytest.approx((6.0 + 1.2 + 9.0) / (30 + 12 + 30))
    assert speed.limit == pytest.approx(TIMEOUT_S / 30)  # the largest project: 30 records

    log = got[("log_bytes", "")]
    assert (log.value, log.scope) == (log_bytes, host_scope())

    mount = mount_of(settings.data_dir)
    disk = got[("disk_bytes", mount)]
    usage = shutil.disk_usage(mount)
    assert disk.limit == usage.used + usage.free  # df's size for Use%: used + available
    assert abs(disk.value - usage.used) <= DISK_SLACK
    assert [s.item for s in measured.samples if s.resource == "disk_bytes"] == [mount]

    tables = {s.item: s.value for s in measured.samples if s.resource == "db_table_bytes"}
    if database.dialect == "postgresql":
        assert got[("db_bytes", "")].value == pg["db_bytes"]
        assert tables == {name: pg["tables"][name] for name in TABLE_NAMES}
        connections = got[("db_connections", "")]
        assert (connections.value, connections.limit) == (pg["connections"], pg["max_connections"])
        assert connections.value >= 2  # the probe and the sampler
        assert set(measured.skipped) == {"redis_memory"}
    else:
        path = Path(database.url.database)
        wal = Path(f"{path}-wal")
        expected = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        assert got[("db_bytes", "")].value == expected
        import sqlite3

        with sqlite3.connect(path) as conn:
            pages = dict(
                conn.execute(
                    "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d "
                    "JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name"
                ).fetchall()
            )
        assert tables == {name: pages[name] for name in TABLE_NAMES}
        assert set(measured.skipped) == {"redis_memory", "db_connections"}


def test_redis_memory_and_its_limit(redis_server, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    db = Database(url)
    client = redis_server.client()
    try:
        client.config_set("maxmemory", str(256 << 20))
        settings = Settings(data_dir=tmp_path, database_url=url, redis_url=redis_server.url)
        [before] = [s for s in measure(db, settings).samples if s.resource == "redis_memory"]
        used = client.info("memory")["used_memory"]
        assert before.limit == 256 << 20 == int(client.config_get("maxmemory")["maxmemory"])
        assert abs(before.value - used) <= REDIS_SLACK
        client.set("bl:capacity-test", b"x" * (8 << 20))  # 8 MiB more
        [after] = [s for s in measure(db, settings).samples if s.resource == "redis_memory"]
        grown = client.info("memory")["used_memory"]
        assert abs(after.value - grown) <= REDIS_SLACK
        assert after.value - before.value >= 8 << 20
        client.config_set("maxmemory", "0")  # unbounded: no limit
        [unbounded] = [s for s in measure(db, settings).samples if s.resource == "redis_memory"]
        assert unbounded.limit is None
    finally:
        client.close()
        db.dispose()


def test_retention_deletes_exactly_the_old_samples(database, tmp_path) -> None:
    ages = [0, 10, 399, 400, 401, 800]  # days before NOW; 400 is the cut-off, kept
    for age in ages:
        store.write(database, [Sample("records", "", "deployment", float(age))], NOW - age * DAY)
    assert store.count_old(database, 400, NOW) == 2
    assert store.prune(database, 400, NOW) == 2
    with database.scope() as session:
        kept = sorted(session.scalars(select(CapacitySample.value)))
    assert kept == [0.0, 10.0, 399.0, 400.0]
    assert store.prune(database, 400, NOW) == 0


def test_the_maintenance_step_stores_and_prunes_a_dry_run_only_measures(database, tmp_path) -> None:
    settings = settings_for(database, tmp_path, capacity_retention_days=30)
    seed(database)
    store.write(database, [Sample("records", "", "deployment", 1.0)], NOW - 31 * DAY)
    assert "capacity" in DEFAULT_STEPS
    dry = Maintenance(settings, database, dry_run=True, steps=("capacity",), now=lambda: NOW)
    [step] = dry.run().steps
    assert step.status == "ok"
    assert (step.details["stored"], step.details["would_remove_old"]) == (0, 1)
    assert count(database, "capacity_samples") == 1
    sampled = {(s["resource"], s["item"]) for s in step.details["sampled"]}
    assert {("records", ""), ("queue_depth", ""), ("db_bytes", "")} <= sampled

    [step] = Maintenance(settings, database, steps=("capacity",), now=lambda: NOW).run().steps
    assert step.status == "ok" and step.details["removed_old"] == 1
    assert (
        step.details["stored"]
        == len(step.details["sampled"])
        == count(database, "capacity_samples")
    )
    with database.scope() as session:
        stamps = set(session.scalars(select(CapacitySample.taken_at)))
    assert stamps == {NOW}


# -- projections over a stored history ------------------------------------------------------


def test_projections_name_the_dates_of_a_stored_history(database, tmp_path) -> None:
    """Disk: +2 GiB a day from 100 GiB on a 200 GiB filesystem reaches 80 % (160 GiB) on
    day 30 and 90 % on day 40. Records: +100 a day from 1000; at 0.001 s a record, the
    largest project (30 of the 42 records in the database) takes the 60 s timeout when
    the records reach 60 / (0.001 × 30/42) = 84 000, on day 830."""
    settings = settings_for(database, tmp_path, capacity_horizon_days=35)
    seed(database)  # 42 records, 30 in the largest project
    gib = float(1 << 30)
    start = NOW - 20 * DAY
    rng = np.random.default_rng(5)
    host = host_scope()
    for day in range(21):  # daily samples, day 0 … day 20 (= NOW)
        moment = start + day * DAY
        noise = rng.normal(0, 0.02 * gib)
        store.write(
            database,
            [
                Sample("disk_bytes", "/srv", host, 100 * gib + 2 * gib * day + noise, 200 * gib),
                Sample("records", "", "deployment", 1000.0 + 100 * day),
                Sample("rules", "", "deployment", 7.0),
                # 0.001 s a record: the largest project's share (30/42) of the records
                # reaches 60 s when records = 60 / (0.001 × 30/42) = 84 000
                Sample("analysis_seconds_per_record", "", "deployment", 0.001, 60 / 30 / 0.001),
            ],
            moment,
        )
    store.write(database, [Sample("queue_depth", "", "deployment", 3.0)], NOW)
    section = projections(database, settings, now=NOW)
    assert json.loads(json.dumps(section)) == section  # JSON-ready as it is
    assert section["horizon_days"] == 35 and section["taken_at"] == NOW.isoformat()
    series = {(s["resource"], s["item"], s.get("threshold_percent")): s for s in section["series"]}

    def day_of(iso: str) -> float:
        return (datetime.fromisoformat(iso) - start) / DAY

    eighty, ninety = series[("disk_bytes", "/srv", 80)], series[("disk_bytes", "/srv", 90)]
    assert eighty["limit"] == 160 * gib and ninety["limit"] == 180 * gib
    assert eighty["model"] == "linear" and eighty["growth_per_day"] == pytest.approx(
        2 * gib, rel=0.01
    )
    assert abs(day_of(eighty["reaches_at"]) - 30) < 1 and abs(day_of(ninety["reaches_at"]) - 40) < 1
    for entry in (eighty, ninety):
        assert day_of(entry["reaches_at_earliest"]) < day_of(entry["reaches_at"])
        assert day_of(entry["reaches_at"]) < day_of(entry["reaches_at_latest"])
        assert entry["days_left"] == pytest.approx(day_of(entry["reaches_at"]) - 20, abs=0.01)
    assert (eighty["status"], ninety["status"]) == ("within_horizon", "within_horizon")
    assert eighty["scope"] == host and eighty["samples"] == 21

    records = series[("records", "", None)]
    assert (records["status"], records["model"]) == ("no_limit", "linear")
    assert records["growth_per_day"] == pytest.approx(100.0)
    assert records["current"] == 3000.0 and records["limit"] is None
    rules = series[("rules", "", None)]
    assert (rules["status"], rules["growth_per_day"]) == ("no_limit", pytest.approx(0))
    assert series[("queue_depth", "", None)]["status"] == "not_enough_history"

    analysis = series[("analysis_seconds_per_record", "", None)]
    share = 30 / 42
    assert analysis["records_share"] == pytest.approx(share)
    assert analysis["current"] == pytest.approx(3000 * share * 0.001)
    assert analysis["limit"] == TIMEOUT_S and analysis["unit"] == "seconds"
    assert analysis["growth_per_day"] == pytest.approx(100 * share * 0.001)
    crossing_day = (TIMEOUT_S / (share * 0.001) - 1000) / 100  # records reach 84 000
    assert abs(day_of(analysis["reaches_at"]) - crossing_day) < 1
    assert analysis["status"] == "ok"  # 810 days on: beyond the horizon

    recs = {r["id"]: r for r in section["recommendations"]}
    assert set(recs) == {
        f"capacity_disk_bytes_{host}_/srv_80pct",
        f"capacity_disk_bytes_{host}_/srv_90pct",
    }
    # 10 days left ≤ a third of the 35-day horizon: high; 20 days: medium
    assert recs[f"capacity_disk_bytes_{host}_/srv_80pct"]["priority"] == "high"
    assert recs[f"capacity_disk_bytes_{host}_/srv_90pct"]["priority"] == "medium"
    assert [r["priority"] for r in section["recommendations"]] == ["high", "medium"]
    assert "80% of filesystem size" in recs[f"capacity_disk_bytes_{host}_/srv_80pct"]["message"]

    # the tuner's terms: area capacity, for a person (never --apply), sorted with the rest
    advised = advise({}, settings, section)
    assert [(r.id, r.priority, r.area) for r in advised] == [
        (f"capacity_disk_bytes_{host}_/srv_80pct", "high", "capacity"),
        (f"capacity_disk_bytes_{host}_/srv_90pct", "medium", "capacity"),
    ]
    assert not any(r.applicable for r in advised)
    assert advised[0].evidence["days_left"] == eighty["days_left"]
    assert advised[0].evidence["reaches_at"] == eighty["reaches_at"]


# -- the command line ------------------------------------------------------------------------


def test_maintain_and_tune_cli(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("BL_DATA_DIR", str(data))
    monkeypatch.setenv("BL_HEALTH_URL", "http://127.0.0.1:9/readyz")  # nothing listens
    for name in ("BL_DATABASE_URL", "BL_REDIS_URL", "BL_LOG_FILE"):
        monkeypatch.delenv(name, raising=False)
    from bizlogic.settings import get_settings

    get_settings.cache_clear()
    url = f"sqlite:///{data / 'bizlogic.db'}"
    migrations.upgrade(url)
    runner = CliRunner()
    shown = runner.invoke(app, ["maintain", "--help"])
    assert "capacity" in " ".join(shown.output.split())
    dry = runner.invoke(app, ["maintain", "--json", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    steps = {s["name"]: s for s in json.loads(dry.stdout)["steps"]}
    assert list(steps) == ["cache", "retention", "database", "logs", "disk", "capacity"]
    assert steps["capacity"]["details"]["stored"] == 0
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CapacitySample)).scalar() == 0
    done = runner.invoke(app, ["maintain", "--json", "--only", "capacity"])
    assert done.exit_code == 0, done.output
    stored = json.loads(done.stdout)["steps"][0]["details"]["stored"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CapacitySample)).scalar() == stored

    tuned = runner.invoke(app, ["tune", "--json", "--sample-seconds", "0.5"])
    assert tuned.exit_code == 0, tuned.output
    report = json.loads(tuned.stdout)
    capacity = report["capacity"]
    assert capacity["available"] and capacity["horizon_days"] == 30
    assert {s["status"] for s in capacity["series"]} == {"not_enough_history"}  # one sample
    table = runner.invoke(app, ["tune", "--sample-seconds", "0.5"])
    assert table.exit_code == 0 and "capacity (horizon 30 days" in table.stdout
    with engine.connect() as conn:
        columns = (OpsReport.kind, OpsReport.name, OpsReport.status, OpsReport.summary)
        rows = conn.execute(select(*columns, OpsReport.body).order_by(OpsReport.id)).all()
    assert len(rows) == 2 and {(r.kind, r.name) for r in rows} == {("tune", "tune")}
    first = rows[0]
    by_priority = {p: 0 for p in ("high", "medium", "low", "info")}
    for rec in report["recommendations"]:
        by_priority[rec["priority"]] += 1
    assert first.summary == {
        "recommendations": len(report["recommendations"]),
        "by_priority": by_priority,
    }
    assert first.status == next((p for p, n in by_priority.items() if n), "ok")
    assert first.body == report
    # a change to apply, refused (no terminal to confirm on): not a finished run, not stored
    cpus = max(1, math.floor(usable_cpus()))
    (data / "tuning.env").write_text(f"BL_MAX_CONCURRENT_ANALYSES={cpus + 2}\n")
    declined = runner.invoke(app, ["tune", "--apply", "--sample-seconds", "0.5"])
    assert declined.exit_code == 2 and "add --yes" in declined.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OpsReport)).scalar() == 2
    engine.dispose()
    get_settings.cache_clear()


# -- a real service whose data grows ---------------------------------------------------------


def test_a_growing_service_is_sampled_and_projected(tmp_path) -> None:
    data = tmp_path / "data"
    env = clean_env(data)
    assert bizlogic(env, "db", "upgrade").returncode == 0
    server = Server(env, tmp_path / "server.log")
    env = {**env, "BL_HEALTH_URL": f"{server.url}/readyz"}
    batches = [40, 25, 60, 35, 50]
    imported = 0
    try:
        headers = {**admin_headers(env), "Content-Type": "application/x-ndjson"}
        for size in batches:
            body = "".join(
                json.dumps({"id": f"r{imported + i}", "text": f"order {imported + i} shipped late"})
                + "\n"
                for i in range(size)
            )
            response = httpx.post(
                f"{server.url}/api/business-logic/projects/shop/records",
                content=body.encode(), headers=headers, timeout=30,
            )  # fmt: skip
            assert response.status_code == 200, response.text
            imported += size
            sampled = bizlogic(env, "maintain", "--only", "capacity", "--json")
            assert sampled.returncode == 0, sampled.stderr
        tuned = bizlogic(env, "tune", "--json", "--sample-seconds", "0.5")
        assert tuned.returncode == 0, tuned.stderr
    finally:
        server.stop()
    report = json.loads(tuned.stdout)
    [records] = [s for s in report["capacity"]["series"] if s["resource"] == "records"]

    engine = create_engine(f"sqlite:///{data / 'bizlogic.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            select(CapacitySample.taken_at, CapacitySample.value)
            .where(CapacitySample.resource == "records")
            .order_by(CapacitySample.taken_at)
        ).all()
        stored = conn.execute(text("SELECT count(*) FROM annotations")).scalar()
    engine.dispose()
    values = [v for _, v in rows]
    assert values == list(np.cumsum(batches)) and stored == imported == records["current"]
    # the fit, done here: days since the first sample, numpy's least squares, and the
    # F-test of the quadratic term (α = 0.05, kept only when accelerating)
    moments = [t.replace(tzinfo=UTC) for t, _ in rows]
    days = np.array([(m - moments[0]).total_seconds() / 86400 for m in moments])
    line, parabola = np.polyfit(days, values, 1), np.polyfit(days, values, 2)
    rss = [float(((values - np.polyval(c, days)) ** 2).sum()) for c in (line, parabola)]
    p = stats.f.sf((rss[0] - rss[1]) / (rss[1] / (len(days) - 3)), 1, len(days) - 3)
    quadratic = p < 0.05 and parabola[0] > 0
    expected = parabola[1] + 2 * parabola[0] * days[-1] if quadratic else line[0]
    assert records["model"] == ("quadratic" if quadratic else "linear")
    assert records["growth_per_day"] == pytest.approx(expected, rel=1e-6)
    assert records["samples"] == len(batches) and records["status"] == "no_limit"
    assert records["last_at"] == moments[-1].isoformat(timespec="seconds")
    assert os.path.exists(data / "bizlogic.db")
