"""`bizlogic maintain` on real PostgreSQL, SQLite and a test-owned Redis."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from bizlogic.cli import app
from bizlogic.ops.maintenance import (
    ADVISORY_LOCK_KEY,
    AlreadyRunning,
    Maintenance,
    maintenance_metric_families,
)
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.db import Database
from bizlogic.store.projects import get_or_create_project
from bizlogic.store.tables import AnalysisJob, InsightRow, MaintenanceRun, PatternRow, ProjectRow
from tests.conftest import fresh_pg_database

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)  # beyond the 30-day retention
RECENT = NOW - timedelta(days=2)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
        migrations.upgrade(url)
        db = Database(url)
        yield db
        db.dispose()
        return
    with fresh_pg_database("bl_maint") as (_, _, url):
        migrations.upgrade(url)
        db = Database(url)
        yield db
        db.dispose()


def settings_for(db: Database, tmp_path: Path, **extra) -> Settings:
    url = db.url.render_as_string(hide_password=False)
    return Settings(data_dir=tmp_path, database_url=url, jwt_secret="s" * 48, **extra)


def job(session, job_id: str, project: str, status: str, finished: datetime) -> None:
    get_or_create_project(session, project)
    session.add(
        AnalysisJob(
            job_id=job_id, project_id=project, status=status, parameters={},
            algorithms=["sentiment_correlation"], attempts=1, created_at=finished,
            finished_at=finished, progress=1.0,
        )
    )  # fmt: skip
    session.flush()


def results(session, job_id: str, project: str, created: datetime, key: str) -> None:
    session.add(
        PatternRow(
            project_id=project, job_id=job_id, algorithm="sentiment_correlation",
            pattern_type="keyword_sentiment", description=key, strength=0.5, data={},
            created_at=created,
        )
    )  # fmt: skip
    session.add(
        InsightRow(
            project_id=project, job_id=job_id, algorithm="sentiment_correlation",
            insight_key=key, insight_type="pattern_insight", title=key, description=key,
            impact_score=0.5, recommendations=[], evidence={}, created_at=created,
        )
    )  # fmt: skip


def seed(db: Database) -> None:
    """Project a: an old run that is its latest (kept) and an older one (goes).
    Project b: an old failed job (goes) and a recent completed run (kept)."""
    with db.scope() as session:
        job(session, "a-older", "a", "completed", OLD - timedelta(days=5))
        job(session, "a-latest", "a", "completed", OLD)
        job(session, "b-failed", "b", "failed", OLD)
        job(session, "b-recent", "b", "completed", RECENT)
        results(session, "a-older", "a", OLD - timedelta(days=5), "a1")
        results(session, "a-latest", "a", OLD, "a2")
        results(session, "b-recent", "b", RECENT, "b1")


def remaining(db: Database) -> tuple[list[str], list[str], list[str]]:
    with db.scope() as session:
        jobs = sorted(session.scalars(select(AnalysisJob.job_id)))
        patterns = sorted(session.scalars(select(PatternRow.description)))
        insights = sorted(session.scalars(select(InsightRow.insight_key)))
    return jobs, patterns, insights


def test_retention_keeps_each_projects_latest_run_and_dry_run_changes_nothing(
    database, tmp_path
) -> None:
    seed(database)
    before = remaining(database)
    settings = settings_for(database, tmp_path)
    dry = Maintenance(settings, database, dry_run=True, steps=("retention",), now=lambda: NOW)
    [step] = dry.run().steps
    assert step.status == "ok"
    assert (step.details["patterns"], step.details["insights"], step.details["job_records"]) == (
        1, 1, 2
    )  # fmt: skip
    assert remaining(database) == before
    [step] = Maintenance(settings, database, steps=("retention",), now=lambda: NOW).run().steps
    assert (step.details["patterns"], step.details["insights"], step.details["job_records"]) == (
        1, 1, 2
    )  # fmt: skip
    assert remaining(database) == (["a-latest", "b-recent"], ["a2", "b1"], ["a2", "b1"])
    with database.scope() as session:
        runs = session.scalars(select(MaintenanceRun).order_by(MaintenanceRun.id)).all()
        assert [(r.dry_run, r.status) for r in runs] == [(True, "ok"), (False, "ok")]


def test_database_step_and_the_exported_run(database, tmp_path) -> None:
    report = Maintenance(settings_for(database, tmp_path), database, steps=("database",)).run()
    [step] = report.steps
    assert step.status == "ok", step.error
    ran = list(step.details["ran"])
    if database.dialect == "postgresql":
        assert ran[-1] == "REINDEX INDEX CONCURRENTLY idx_business_rules_project_confidence"
        assert 'VACUUM (ANALYZE) "business_rules"' in ran
    else:
        assert ran == ["VACUUM", "ANALYZE"]
    families = {f.name: f for f in maintenance_metric_families(database)}
    with database.scope() as session:
        finished = session.scalar(select(func.max(MaintenanceRun.finished_at)))
    [sample] = families["bl_maintenance_last_success_timestamp_seconds"].samples
    assert sample.value == finished.timestamp()
    [duration] = families["bl_maintenance_step_duration_seconds"].samples
    assert duration.labels == {"step": "database", "status": "ok"}


def test_maintenance_is_due_before_its_first_success(database, tmp_path) -> None:
    """An install where maintenance never succeeded (or never ran) still gets a clock for
    BusinessLogicMaintenanceStale: the first project, or the first run attempt."""
    assert maintenance_metric_families(database) == []  # empty: nothing is due yet
    with database.scope() as session:
        get_or_create_project(session, "shop")
    with database.scope() as session:
        created = session.scalar(select(func.min(ProjectRow.created_at)))
    families = {f.name: f for f in maintenance_metric_families(database)}
    [due] = families["bl_maintenance_due_since_timestamp_seconds"].samples
    assert due.value == created.timestamp()
    assert "bl_maintenance_last_success_timestamp_seconds" not in families

    Maintenance(settings_for(database, tmp_path), database, steps=("database",)).run()
    families = {f.name: f for f in maintenance_metric_families(database)}
    assert "bl_maintenance_due_since_timestamp_seconds" not in families  # succeeded since
    assert families["bl_maintenance_last_success_timestamp_seconds"].samples


def test_a_second_run_is_refused_while_one_holds_the_lock(database, tmp_path) -> None:
    settings = settings_for(database, tmp_path)
    if database.dialect == "postgresql":
        holder = database.engine.connect()  # another session: a real second process's view
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})

        def release() -> None:  # a pooled connection outlives close(): unlock explicitly
            holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            holder.close()
    else:
        handle = open(tmp_path / "maintenance.lock", "w")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX)
        release = handle.close
    try:
        with pytest.raises(AlreadyRunning):
            Maintenance(settings, database, steps=("disk",)).run()
        with database.scope() as session:
            assert session.scalar(select(func.count()).select_from(MaintenanceRun)) == 0
    finally:
        release()
    assert Maintenance(settings, database, steps=("disk",)).run().ok


def test_cache_step_removes_only_obsolete_bl_keys(redis_server, tmp_path) -> None:
    client = redis_server.client()
    client.set("bl:p:version", 2)
    client.set("bl:p:v1:rules:0123456789abcdef", b"old")
    client.set("bl:p:v2:rules:0123456789abcdef", b"current")
    client.set("bl:q:v0:stats:fedcba9876543210", b"never invalidated")
    client.set("other:app:key", b"not ours")
    client.set("dramatiq:analyses.msgs", b"queue data")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrations.upgrade(url)
    db = Database(url)
    settings = Settings(data_dir=tmp_path, database_url=url, redis_url=redis_server.url)
    try:
        [dry] = Maintenance(settings, db, dry_run=True, steps=("cache",)).run().steps
        assert (dry.details["scanned"], dry.details["to_remove"], dry.details["removed"]) == (
            4, 1, 0
        )  # fmt: skip
        assert client.exists("bl:p:v1:rules:0123456789abcdef") == 1
        [step] = Maintenance(settings, db, steps=("cache",)).run().steps
        assert step.details["removed"] == 1
        assert sorted(k.decode() for k in client.keys("*")) == [
            "bl:p:v2:rules:0123456789abcdef", "bl:p:version",
            "bl:q:v0:stats:fedcba9876543210", "dramatiq:analyses.msgs", "other:app:key",
        ]  # fmt: skip
        [flush] = Maintenance(settings, db, flush_cache=True, steps=("cache",)).run().steps
        assert flush.details["removed"] == 3
        assert sorted(k.decode() for k in client.keys("*")) == [
            "dramatiq:analyses.msgs", "other:app:key"
        ]  # fmt: skip
    finally:
        db.dispose()


def test_rotated_logs_past_retention_go_the_live_file_stays(tmp_path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "bizlogic.log"
    names = ["bizlogic.log", "bizlogic.log.1", "bizlogic.log.2", "bizlogic.log.3.gz", "other.log.1"]
    for name in names:
        (logs / name).write_text("x")
    old = time.time() - 40 * 86400
    for name in ("bizlogic.log", "bizlogic.log.2", "bizlogic.log.3.gz", "other.log.1"):
        os.utime(logs / name, (old, old))
    url = f"sqlite:///{tmp_path / 'l.db'}"
    migrations.upgrade(url)
    db = Database(url)
    settings = Settings(data_dir=tmp_path, database_url=url, log_file=live, log_retention_days=30)
    try:
        [step] = Maintenance(settings, db, steps=("logs",)).run().steps
    finally:
        db.dispose()
    assert step.details["removed"] == ["bizlogic.log.2", "bizlogic.log.3.gz"]
    assert sorted(p.name for p in logs.iterdir()) == [
        "bizlogic.log",
        "bizlogic.log.1",
        "other.log.1",
    ]


class Receiver:
    """A local webhook: records every POSTed JSON body, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.mark.parametrize("status", [200, 500])
def test_disk_over_the_threshold_alerts_the_webhook(tmp_path, status) -> None:
    receiver = Receiver(status)
    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrations.upgrade(url)
    db = Database(url)
    settings = Settings(
        data_dir=tmp_path, database_url=url, disk_alert_percent=1, alert_webhook_url=receiver.url
    )
    try:
        [step] = Maintenance(settings, db, steps=("disk",)).run().steps
    finally:
        db.dispose()
        receiver.close()
    if status == 200:
        assert step.status == "ok" and step.details["alert"] == "sent"
        [body] = receiver.bodies
        assert body["alertname"] == "BusinessLogicDiskUsage"
        assert body["details"]["threshold"] == 1
        assert body["details"]["usage_percent"]["data"] == step.details["usage_percent"]["data"]
    else:  # bounded retries, then the step fails and says why
        assert step.status == "failed" and len(receiver.bodies) == 3
        assert "after 3 attempts" in step.details["alert"]


def test_cli_exit_codes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BL_DATABASE_URL", raising=False)
    monkeypatch.delenv("BL_REDIS_URL", raising=False)
    from bizlogic.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    unmigrated = runner.invoke(app, ["maintain", "--dry-run"])
    assert unmigrated.exit_code == 1 and "bizlogic db upgrade" in unmigrated.output
    migrations.upgrade(f"sqlite:///{tmp_path / 'bizlogic.db'}")
    ok = runner.invoke(app, ["maintain", "--json", "--only", "retention,disk"])
    assert ok.exit_code == 0, ok.output
    assert [s["name"] for s in json.loads(ok.stdout)["steps"]] == ["retention", "disk"]
    bad = runner.invoke(app, ["maintain", "--only", "retention,nope"])
    assert bad.exit_code == 1 and "unknown step(s) ['nope']" in bad.output
    with open(tmp_path / "maintenance.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        locked = runner.invoke(app, ["maintain", "--only", "disk"])
    assert locked.exit_code == 3 and "holds the lock" in locked.output
    get_settings.cache_clear()


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_restart_runs_the_configured_command_per_unit_then_waits_for_health(tmp_path) -> None:
    import shlex
    import sys

    health = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=health.serve_forever, daemon=True).start()
    receiver = Receiver()
    marker = tmp_path / "restarted"
    script = f"import sys; open({str(marker)!r}, 'a').write(sys.argv[1] + '\\n')"
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    db = Database(url)

    def run(command: str):
        settings = Settings(
            data_dir=tmp_path, database_url=url, service_units="api.service, worker@1.service",
            restart_command=command, alert_webhook_url=receiver.url,
            health_url=f"http://127.0.0.1:{health.server_port}/readyz",
        )  # fmt: skip
        [step] = Maintenance(settings, db, steps=("restart",)).run().steps
        return step

    try:
        ok = run(f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} {{unit}}")
        assert ok.status == "ok" and ok.details["healthy"] is True
        assert marker.read_text().splitlines() == ["api.service", "worker@1.service"]
        assert receiver.bodies == []
        failing = run(f"{shlex.quote(sys.executable)} -c 'raise SystemExit(4)' {{unit}}")
        assert failing.status == "failed"
        assert failing.details["ran"][0]["exit_code"] == 4
        [alert] = receiver.bodies
        assert alert["alertname"] == "BusinessLogicRestartFailed"
        assert alert["severity"] == "critical"
    finally:
        db.dispose()
        health.shutdown()
        receiver.close()


# -- one log line a step, the history, every process's log files ---------------------------


def test_each_step_is_one_structured_log_line(tmp_path) -> None:
    """The run's start, each step (name, outcome, duration, figures; ERROR when it failed)
    and its end are JSON lines of the maintenance's own log file."""
    from bizlogic.telemetry.logging import configure_logging, log_file_in_use, reset_logging

    url = f"sqlite:///{tmp_path / 's.db'}"
    migrations.upgrade(url)
    db = Database(url)
    settings = Settings(
        data_dir=tmp_path, database_url=url, redis_url="redis://127.0.0.1:1/0",
        log_file=tmp_path / "logs" / "{process}.log", log_level="INFO", log_format="json",
    )  # fmt: skip
    configure_logging(settings, stream=open(os.devnull, "w"), process="maintenance")  # noqa: SIM115
    try:
        assert log_file_in_use() == tmp_path / "logs" / "maintenance.log"
        report = Maintenance(settings, db, steps=("logs", "cache", "disk")).run()
    finally:
        reset_logging()
        db.dispose()
    written = (tmp_path / "logs" / "maintenance.log").read_text()
    lines = [json.loads(x) for x in written.splitlines()]
    ours = [x for x in lines if x["logger"] == "bizlogic.maintenance"]
    assert [x["event"] for x in ours] == [
        "maintenance_start", "maintenance_step", "maintenance_step", "maintenance_step",
        "maintenance_end",
    ]  # fmt: skip
    start, logs, cache, disk, end = ours
    assert start["steps"] == ["logs", "cache", "disk"] and start["run_id"] == report.run_id
    for line, step in zip((logs, cache, disk), report.steps, strict=True):
        assert (line["step"], line["status"], line["duration_s"], line["details"]) == (
            step.name, step.status, step.duration_s, json.loads(json.dumps(step.details))
        )  # fmt: skip
        assert line["run_id"] == report.run_id and line["dry_run"] is False
    assert (logs["level"], logs["status"], logs["error"]) == ("INFO", "ok", None)
    assert (cache["level"], cache["status"]) == ("ERROR", "failed")
    assert cache["error"].startswith("ConnectionError: ")
    assert cache["message"].startswith("Maintenance step cache: failed in ")
    assert (end["level"], end["status"], end["failed_steps"]) == ("ERROR", "failed", ["cache"])


def test_history_lists_runs_newest_first_and_names_interrupted_ones(
    tmp_path, monkeypatch
) -> None:
    from bizlogic.ops.maintenance import history

    url = f"sqlite:///{tmp_path / 'h.db'}"
    migrations.upgrade(url)
    db = Database(url)
    settings = Settings(data_dir=tmp_path, database_url=url, redis_url="redis://127.0.0.1:1/0")
    try:
        with db.scope() as session:  # a run killed three days ago: it never recorded its end
            session.add(MaintenanceRun(kind="maintenance", status="running", dry_run=False,
                                       started_at=NOW - timedelta(days=3),
                                       details={"steps": ["database"]}))  # fmt: skip
        dry = Maintenance(settings, db, dry_run=True, steps=("retention",),
                          now=lambda: NOW - timedelta(days=2)).run()  # fmt: skip
        failed = Maintenance(settings, db, steps=("cache", "disk"),
                             now=lambda: NOW - timedelta(days=1)).run()  # fmt: skip
        with db.scope() as session:  # one running now
            session.add(MaintenanceRun(kind="maintenance", status="running", dry_run=False,
                                       started_at=NOW, details={"steps": ["logs"]}))  # fmt: skip
        runs = history(db)
    finally:
        db.dispose()
    assert [(r["status"], r["dry_run"]) for r in runs] == [
        ("running", False), ("failed", False), ("ok", True), ("interrupted", False)
    ]  # fmt: skip
    assert runs[1]["run_id"] == failed.run_id and runs[2]["run_id"] == dry.run_id
    assert [(s["name"], s["status"]) for s in runs[1]["steps"]] == [
        ("cache", "failed"), ("disk", "ok")
    ]  # fmt: skip
    assert runs[1]["error"] == "failed step(s): cache"
    assert runs[1]["steps"][0]["error"].startswith("ConnectionError")
    assert runs[1]["report"]["steps"][1]["details"]["threshold"] == 80
    assert runs[3]["steps"] == [
        {"name": "database", "status": None, "duration_s": None, "error": None}
    ]  # fmt: skip
    assert runs[0]["finished_at"] is None and runs[0]["duration_s"] is None
    assert runs[2]["duration_s"] == 0.0  # the clock of that run stood still

    monkeypatch.setenv("BL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BL_DATABASE_URL", url)
    from bizlogic.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    try:
        listed = runner.invoke(app, ["maintain", "history", "--json", "--limit", "2"])
        assert listed.exit_code == 0, listed.output
        assert [r["run_id"] for r in json.loads(listed.stdout)] == [runs[0]["run_id"],
                                                                   failed.run_id]  # fmt: skip
        table = runner.invoke(app, ["maintain", "history"])
        assert table.exit_code == 0, table.output
        for word in ("running", "failed", "ok (dry run)", "interrupted", "cache failed",
                     "disk ok", "failed step(s): cache"):  # fmt: skip
            assert word in table.output, (word, table.output)
        misplaced = runner.invoke(app, ["maintain", "--dry-run", "history"])
        assert misplaced.exit_code == 2 and "go without a command" in misplaced.output
        monkeypatch.setenv("BL_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
        get_settings.cache_clear()
        unmigrated = runner.invoke(app, ["maintain", "history"])
        assert unmigrated.exit_code == 1 and "bizlogic db upgrade" in unmigrated.output
    finally:
        get_settings.cache_clear()


def test_logs_step_cleans_the_rotations_of_every_process_file(tmp_path) -> None:
    """With one file per process (`{process}`, slots -2, -3 …), old rotations of each go;
    live files, recent rotations and files of no bizlogic process stay."""
    logs = tmp_path / "logs"
    logs.mkdir()
    old = time.time() - 40 * 86400
    names = {
        "api.log": True, "api.log.1": False, "api.log.2.gz": True, "api-2.log": True,
        "api-2.log.1": True, "worker.log.3": True, "maintenance.log.1": False,
        "recover.log": True, "syslog.1": True, "other.log.1": True, ".api.log.lock": True,
    }  # name → made old  # fmt: skip
    for name, aged in names.items():
        (logs / name).write_text("x")
        if aged:
            os.utime(logs / name, (old, old))
    url = f"sqlite:///{tmp_path / 'l.db'}"
    migrations.upgrade(url)
    db = Database(url)
    settings = Settings(data_dir=tmp_path, database_url=url, log_file=logs / "{process}.log")
    try:
        [dry] = Maintenance(settings, db, dry_run=True, steps=("logs",)).run().steps
        [step] = Maintenance(settings, db, steps=("logs",)).run().steps
    finally:
        db.dispose()
    gone = ["api-2.log.1", "api.log.2.gz", "worker.log.3"]
    assert sorted(dry.details["would_remove"]) == gone
    assert sorted(step.details["removed"]) == gone and step.details["rotated_files"] == 5
    assert sorted(p.name for p in logs.iterdir()) == sorted(set(names) - set(gone))
