"""`bizlogic drill` end to end: real drill processes against a sandbox the drill starts
itself (with a test-owned PostgreSQL database, so what it stored can be checked) and
against a test-owned stack described by an env file; and every refusal, proven to have
touched nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from bizlogic.jobs.identity import parse_worker_id
from bizlogic.ops.drills.sandbox import WebhookReceiver
from bizlogic.ops.recovery import history
from bizlogic.store import clock, migrations, ops_reports
from bizlogic.store.db import Database
from bizlogic.store.tables import AnalysisJob, AnnotationRow, MaintenanceRun
from tests.conftest import fresh_pg_database
from tests.polling import poll
from tests.servers import EXE, Server, clean_env

TIMEOUT_S = 90
SUMMARY_KEYS = [
    "drill",
    "target",
    "passed",
    "detect_s",
    "recover_s",
    "recovery_acted",
    "lost_jobs",
    "lost_records",
]
JWT = "drill-test-" + "j" * 40
FAST = {"BL_JOB_HEARTBEAT_S": "0.5", "BL_JOB_STALE_S": "3", "BL_RECONCILE_INTERVAL_S": "3"}


def drill(env: dict[str, str], *args: str, stdin: str = "", timeout_s: float = 240):
    return subprocess.run(
        [EXE, "drill", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.fixture
def pg() -> Iterator[tuple[str, Database]]:
    """A fresh database the sandbox is given; the test reads what the drill left in it."""
    with fresh_pg_database("bl_drill") as (_, _, url):
        db = Database(url, pooled=False)
        try:
            yield url, db
        finally:
            db.dispose()


def sandbox_run(tmp_path: Path, name: str, url: str, *extra: str) -> dict[str, Any]:
    env = clean_env(tmp_path / "cli")
    done = drill(
        env, "run", name, "--sandbox", "--sandbox-database-url", url, "--json",
        "--timeout", str(TIMEOUT_S), *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout)


def check_common(doc: dict[str, Any], db: Database, name: str, target: str = "sandbox") -> None:
    """The headline's contract, and the stored row equal to what was printed."""
    summary = doc["summary"]
    assert list(summary) == SUMMARY_KEYS
    assert summary["drill"] == name and summary["target"] == target
    assert summary["passed"] is True and doc["status"] == "passed"
    assert 0 < summary["detect_s"] <= summary["recover_s"] < TIMEOUT_S
    assert summary["lost_jobs"] == 0 and summary["lost_records"] == 0
    stored = ops_reports.latest(db, "drill", name=name)
    assert stored is not None
    assert stored["id"] == doc["id"] and stored["status"] == "passed"
    assert stored["summary"] == summary
    assert stored["body"] == doc["body"]
    # the record counts it compared are the database's own
    with db.scope() as session:
        records = session.scalar(select(func.count()).select_from(AnnotationRow))
    assert doc["body"]["before"]["records"] == doc["body"]["after"]["records"] == records


def jobs(db: Database) -> dict[str, dict[str, Any]]:
    with db.scope() as session:
        return {row.job_id: row.as_dict() for row in session.scalars(select(AnalysisJob))}


def recovery_events(db: Database, **match: Any) -> list[dict[str, Any]]:
    found = history.events_since(db, clock.utcnow().replace(year=2000))[::-1]
    return [e for e in found if all(e[k] == v for k, v in match.items())]


# -- the sandbox -------------------------------------------------------------------------------


def test_worker_kill_in_the_sandbox_passes_and_is_stored(pg, tmp_path) -> None:
    url, db = pg
    md, page = tmp_path / "drill.md", tmp_path / "drill.html"
    doc = sandbox_run(tmp_path, "worker-kill", url, "--md", str(md), "--html", str(page))
    check_common(doc, db, "worker-kill")
    # the takeover it reports is in the job record: a second attempt by another process
    [job] = jobs(db).values()
    killed = doc["body"]["evidence"]["killed_pid"]
    assert job["status"] == "completed" and job["attempts"] == 2
    holder = parse_worker_id(job["worker_id"])
    assert holder is not None and holder.pid != killed
    assert doc["body"]["evidence"]["taken_over_by"] == job["worker_id"]
    assert doc["summary"]["recovery_acted"] is None  # recovery had nothing to do here
    # the settings shown hide the database password; the renderings are whole
    assert doc["body"]["settings"]["job_stale_s"] == 3
    text = md.read_text()
    assert text.startswith("# Drill worker-kill: passed\n")
    assert "| lost jobs | 0 |" in text
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in html


def test_redis_stop_is_restarted_by_auto_recovery(pg, tmp_path) -> None:
    url, db = pg
    doc = sandbox_run(tmp_path, "redis-stop", url)
    check_common(doc, db, "redis-stop")
    assert doc["summary"]["recovery_acted"] is True
    [restart] = recovery_events(db, action="restart_service", outcome="succeeded")
    assert restart["failure_type"] == "redis_connection" and restart["dry_run"] is False
    assert recovery_events(db, failure_type="redis_connection", outcome="detected")
    analyses = jobs(db)
    assert len(analyses) == 2 and {j["status"] for j in analyses.values()} == {"completed"}
    # the Redis auto-recovery restarted (detached) went with the sandbox
    client = redis.Redis.from_url(doc["body"]["settings"]["redis_url"], socket_connect_timeout=1)
    with pytest.raises(redis.ConnectionError):
        client.ping()
    client.close()


def test_runaway_analysis_is_cancelled_by_auto_recovery(pg, tmp_path) -> None:
    url, db = pg
    doc = sandbox_run(tmp_path, "runaway-analysis", url)
    check_common(doc, db, "runaway-analysis")
    [detected] = recovery_events(db, failure_type="algorithm_timeout", outcome="detected")
    assert doc["body"]["evidence"]["detection_event"] == detected["id"]
    [kill] = recovery_events(db, action="kill_processes", outcome="succeeded")
    runaway, follow_up = sorted(jobs(db).values(), key=lambda j: j["created_at"])
    assert kill["context"]["result"]["cancelled"] == [runaway["job_id"]]
    assert runaway["status"] == "cancelled" and follow_up["status"] == "completed"
    assert doc["summary"]["recovery_acted"] is True


def test_disk_alert_reaches_the_webhook(pg, tmp_path) -> None:
    url, db = pg
    doc = sandbox_run(tmp_path, "disk-alert", url)
    check_common(doc, db, "disk-alert")
    alert = doc["body"]["evidence"]["alert"]
    assert alert["alertname"] == "BusinessLogicDiskUsage"
    threshold = int(
        doc["body"]["evidence"]["injection"]["report"]["steps"][0]["details"]["threshold"]
    )
    assert alert["details"]["threshold"] == threshold
    assert alert["details"]["usage_percent"]["data"] >= threshold
    # maintenance recorded the run, with the alert sent, in the sandbox's database
    with db.scope() as session:
        [run] = session.scalars(select(MaintenanceRun)).all()
        [step] = run.details["steps"]
    assert run.status == "ok" and step["name"] == "disk" and step["details"]["alert"] == "sent"


def test_pg_terminate_reconnects_and_the_analysis_completes(pg, tmp_path) -> None:
    url, db = pg
    doc = sandbox_run(tmp_path, "pg-terminate", url)
    check_common(doc, db, "pg-terminate")
    assert doc["body"]["evidence"]["terminated"] >= 1
    [detected] = [e for e in doc["body"]["timeline"] if e["event"] == "detected"]
    assert detected["new_backends"] >= 1
    [job] = jobs(db).values()
    assert job["status"] == "completed"


def test_cache_fill_is_cleaned_by_maintenance(pg, tmp_path) -> None:
    url, db = pg
    doc = sandbox_run(tmp_path, "cache-fill", url)
    check_common(doc, db, "cache-fill")
    fill = doc["body"]["evidence"]["injection"]
    assert fill["bytes_written"] == fill["keys_written"] * 64 * 1024 == 64 * 1024 * 1024
    assert fill["evicted_keys"] > 0  # past the sandbox's 48 MiB maxmemory: eviction began
    assert fill["used_memory"] <= fill["maxmemory"]
    [detected] = [e for e in doc["body"]["timeline"] if e["event"] == "detected"]
    [restored] = [e for e in doc["body"]["timeline"] if e["event"] == "restored"]
    [step] = restored["result"]["report"]["steps"]
    assert step["name"] == "cache" and step["status"] == "ok"
    # maintenance removed what was there (a key or two may expire or be evicted meanwhile)
    assert 0 < step["details"]["removed"] <= detected["keys"] <= fill["keys_written"]
    with db.scope() as session:
        [run] = session.scalars(select(MaintenanceRun)).all()
    assert run.status == "ok" and run.details["steps"][0]["details"] == step["details"]


def test_pg_terminate_is_refused_on_sqlite(tmp_path) -> None:
    done = drill(clean_env(tmp_path / "cli"), "run", "pg-terminate", "--sandbox")
    assert done.returncode == 2
    assert "pg-terminate needs PostgreSQL" in done.stderr


# -- refusals ----------------------------------------------------------------------------------


def env_file(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_no_target_without_yes_is_refused(tmp_path) -> None:
    done = drill(clean_env(tmp_path / "cli"), "run", "worker-kill")
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "refusing to drill this environment's (production) deployment" in message
    assert "Use --sandbox" in message and "--target ENV_FILE" in message


def test_a_config_without_the_drills_commands_is_refused(tmp_path) -> None:
    target = env_file(tmp_path / "t.env", BL_DATA_DIR=str(tmp_path / "t"))
    config = tmp_path / "drills.yml"
    config.write_text("target_name: staging\ndrills:\n  redis-stop:\n    inject: [/bin/true]\n")
    done = drill(
        clean_env(tmp_path / "cli"), "run", "worker-kill", "--target", str(target),
        "--config", str(config), "--yes",
    )  # fmt: skip
    assert done.returncode == 2
    assert "drills.worker-kill.inject is missing" in " ".join(done.stderr.split())
    assert str(config) in done.stderr.replace("\n", "")


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("target_name: s\ndrills:\n  worker-kill:\n    inject: kill -9 1\n",
         "drills.worker-kill.inject: must be a non-empty list of strings"),
        ("target_name: s\ndrills:\n  worker-kill:\n    inject: [kill, 9]\n",
         "drills.worker-kill.inject: must be a non-empty list of strings"),
        ("target_nam: s\n", "target_nam: unknown key"),
        ("target_name: s\ndrills:\n  worker-kill:\n    injekt: [kill]\n",
         "drills.worker-kill.injekt: unknown key"),
        ("target_name: s\ndrills:\n  worker-kil:\n    inject: [kill]\n",
         "drills.worker-kil: unknown drill"),
        ("target_name: [a]\n", "target_name: must be a non-empty string"),
    ],
)  # fmt: skip
def test_a_bad_config_field_is_named(tmp_path, yaml_text: str, named: str) -> None:
    target = env_file(tmp_path / "t.env", BL_DATA_DIR=str(tmp_path / "t"))
    config = tmp_path / "drills.yml"
    config.write_text(yaml_text)
    done = drill(
        clean_env(tmp_path / "cli"), "run", "worker-kill", "--target", str(target),
        "--config", str(config), "--yes",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert f"{config}: {named}" in message


def test_a_mistyped_confirmation_injects_nothing(tmp_path) -> None:
    target = env_file(tmp_path / "t.env", BL_DATA_DIR=str(tmp_path / "t"))
    marker = tmp_path / "injected"
    config = tmp_path / "drills.yml"
    config.write_text(
        "target_name: staging\ndrills:\n  worker-kill:\n"
        f"    inject: [touch, {json.dumps(str(marker))}]\n"
    )
    done = drill(
        clean_env(tmp_path / "cli"), "run", "worker-kill", "--target", str(target),
        "--config", str(config), stdin="stagign\n",
    )  # fmt: skip
    assert done.returncode == 2
    assert "the confirmation 'stagign' is not 'staging': nothing was done" in done.stderr
    assert "inject: " in done.stderr and "touch" in done.stderr  # it said what it would do
    assert not marker.exists()
    assert not (tmp_path / "t").exists()  # not even the target's data directory was touched


# -- a named target: a test-owned stack ----------------------------------------------------------


# Auto-recovery's settings for the stack's `bizlogic recover watch` (as the sandbox's): it
# looks every 0.5 s and acts after 2 failing looks; CPU and memory may only notify.
WATCH = {
    "BL_RECOVERY_INTERVAL_S": "0.5",
    "BL_RECOVERY_CONFIRMATIONS": "2",
    "BL_RECOVERY_VERIFY_TIMEOUT_S": "20",
    "BL_RECOVERY_BACKOFF_S": "1",
    "BL_RECOVERY_CPU_PERCENT": "100",
    "BL_RECOVERY_MEMORY_PERCENT": "100",
    "BL_RECOVERY_CHAINS": "high_cpu_usage=notify_admin;high_memory_usage=notify_admin",
    "BL_RECOVERY_RESTART_UNITS": "redis_connection=redis-server.service",
}


@contextmanager
def running_stack(
    redis_server,
    tmp_path: Path,
    extra: dict[str, str] | None = None,
    worker_extra: dict[str, str] | None = None,
    watch: bool = False,
) -> Iterator[dict[str, Any]]:
    """PostgreSQL, Redis, `bizlogic serve`, two `bizlogic worker`s and, with ``watch``,
    `bizlogic recover watch`, owned by the test. ``extra`` goes to every process and to
    the env file; ``worker_extra`` to the workers only (what the env file does not say)."""
    with fresh_pg_database("bl_drill_target") as (_, _, url):
        migrations.upgrade(url)
        settings = {
            "BL_DATABASE_URL": url,
            "BL_REDIS_URL": redis_server.url,
            "BL_JWT_SECRET": JWT,
            "BL_LOG_FILE": "",
            **FAST,
            **(extra or {}),
        }
        env = clean_env(tmp_path / "data", **settings)
        server = Server(env, tmp_path / "server.log")
        procs = [
            subprocess.Popen(
                [EXE, "worker", "--processes", "1", "--metrics-port", "0"],
                env={**env, **(worker_extra or {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for _ in range(2)
        ]
        workers = list(procs)
        db = Database(url, pooled=False)
        try:
            if watch:
                log = tmp_path / "watch.log"
                with log.open("ab") as out:
                    procs.append(
                        subprocess.Popen(
                            [EXE, "recover", "watch"],
                            env={**env, "BL_LOG_FORMAT": "json"},
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
                poll(
                    lambda: "recovery_leader" in log.read_text(errors="replace"),
                    60,
                    "the stack's recover watch to lead",
                )
            yield {
                "settings": {
                    **settings,
                    "BL_DATA_DIR": str(tmp_path / "data"),
                    "BL_HEALTH_URL": f"{server.url}/readyz",
                },
                "db": db,
                "workers": workers,
            }
        finally:
            db.dispose()
            for proc in procs:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
            server.stop()


@pytest.fixture
def stack(redis_server, tmp_path) -> Iterator[dict[str, Any]]:
    """PostgreSQL, Redis, `bizlogic serve` and two `bizlogic worker`s owned by the test."""
    with running_stack(redis_server, tmp_path) as running:
        yield running


def test_worker_kill_against_a_named_target(stack, tmp_path) -> None:
    target = env_file(tmp_path / "stack.env", **stack["settings"])
    killed = tmp_path / "killed.txt"
    script = tmp_path / "kill_worker.py"
    script.write_text(
        "import os, signal, sys\n"
        "pid = int(sys.argv[1])\n"
        "open(sys.argv[2], 'w').write(str(pid))\n"
        "os.kill(pid, signal.SIGKILL)\n"
    )
    config = tmp_path / "drills.yml"
    config.write_text(
        "target_name: test-stack\ndrills:\n  worker-kill:\n"
        f"    inject: [{sys.executable}, {script}, '{{worker_pid}}', {killed}]\n"
    )
    # the shell's own BL_* settings name another deployment: the drill must not use them
    env = clean_env(tmp_path / "cli", BL_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/x")
    done = drill(
        env, "run", "worker-kill", "--target", str(target), "--config", str(config), "--json",
        "--timeout", str(TIMEOUT_S), stdin="test-stack\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(done.stdout)
    check_common(doc, stack["db"], "worker-kill", target="test-stack")
    victim = int(killed.read_text())
    [job] = jobs(stack["db"]).values()
    assert job["status"] == "completed" and job["attempts"] == 2
    assert parse_worker_id(job["worker_id"]).pid != victim
    assert doc["body"]["evidence"]["injection"]["command"][2] == str(victim)
    assert doc["body"]["target_kind"] == "target"
    assert JWT not in done.stdout  # no secret in the report
    assert all(w.poll() is None for w in stack["workers"])  # the supervisor replaced the process


def test_drill_list_names_every_drill(tmp_path) -> None:
    done = drill(clean_env(tmp_path / "cli"), "list")
    assert done.returncode == 0
    for name in ("worker-kill", "redis-stop", "pg-terminate", "cache-fill",
                 "runaway-analysis", "disk-alert"):  # fmt: skip
        assert name in done.stdout


def test_production_needs_the_typed_name_even_with_yes(tmp_path) -> None:
    marker = tmp_path / "injected"
    config = tmp_path / "drills.yml"
    config.write_text(
        "target_name: prod-eu\ndrills:\n  worker-kill:\n"
        f"    inject: [touch, {json.dumps(str(marker))}]\n"
    )
    env = clean_env(tmp_path / "cli", BL_DRILL_CONFIG=str(config))
    done = drill(env, "run", "worker-kill", "--yes", stdin="\n")
    assert done.returncode == 2
    assert "drill worker-kill against production" in done.stderr
    assert "the confirmation '' is not 'prod-eu': nothing was done" in done.stderr
    assert not marker.exists()


def test_the_sandbox_needs_redis_server_on_the_path(tmp_path) -> None:
    env = clean_env(tmp_path / "cli", PATH=str(tmp_path / "empty"))
    done = drill(env, "run", "worker-kill", "--sandbox")
    assert done.returncode == 2
    assert "redis-server is not on PATH" in " ".join(done.stderr.split())


# -- the other drills against a named target ------------------------------------------------------

STOP_REDIS = """\
import json, os, signal, sys, time
import redis
pid, url, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.kill(pid, signal.SIGKILL)
client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
deadline = time.monotonic() + 10
while True:  # until the port refuses: the fault has landed
    try:
        client.ping()
    except redis.ConnectionError as exc:
        failed = f"{type(exc).__name__}: {exc}"
        break
    if time.monotonic() > deadline:
        sys.exit("redis still answers")
    time.sleep(0.05)
json.dump({"killed": pid, "ping": failed}, open(marker, "w"))
"""
START_REDIS = """\
import json, subprocess, sys, time
import redis
binary, port, workdir, pidfile, url, marker = sys.argv[1:7]
client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
try:
    client.ping()
    down = False
except redis.ConnectionError:
    down = True
subprocess.run(
    [binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
     "--dir", workdir, "--daemonize", "yes", "--pidfile", pidfile],
    check=True, stdout=subprocess.DEVNULL,
)
deadline = time.monotonic() + 10
while True:
    try:
        client.ping()
        break
    except redis.ConnectionError:
        if time.monotonic() > deadline:
            sys.exit("redis did not start")
        time.sleep(0.05)
json.dump({"was_down": down}, open(marker, "w"))
"""


def yaml_list(*argv: object) -> str:
    return json.dumps([str(a) for a in argv])


def run_against(stack: dict[str, Any], tmp_path: Path, name: str, config: str) -> dict[str, Any]:
    """The drill against the stack as a named target, --yes; its printed JSON report."""
    target = env_file(tmp_path / "stack.env", **stack["settings"])
    path = tmp_path / "drills.yml"
    path.write_text(f"target_name: test-stack\ndrills:\n{config}")
    env = clean_env(tmp_path / "cli", BL_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/x")
    done = drill(
        env, "run", name, "--target", str(target), "--config", str(path), "--yes", "--json",
        "--timeout", str(TIMEOUT_S),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert JWT not in done.stdout
    doc = json.loads(done.stdout)
    assert doc["body"]["target_kind"] == "target"
    return doc


def test_redis_stop_against_a_named_target(redis_server, tmp_path) -> None:
    stopped, started = tmp_path / "stopped.json", tmp_path / "started.json"
    pidfile = tmp_path / "redis-restored.pid"
    (tmp_path / "stop_redis.py").write_text(STOP_REDIS)
    (tmp_path / "start_redis.py").write_text(START_REDIS)
    victim = redis_server.process.pid
    inject = yaml_list(sys.executable, tmp_path / "stop_redis.py", victim, redis_server.url,
                       stopped)  # fmt: skip
    restore = yaml_list(
        sys.executable, tmp_path / "start_redis.py", redis_server.binary, redis_server.port,
        tmp_path, pidfile, redis_server.url, started,
    )  # fmt: skip
    config = f"  redis-stop:\n    inject: {inject}\n    restore: {restore}\n"
    try:
        with running_stack(
            redis_server, tmp_path, extra={"BL_RECOVERY_MODE": "dry-run", **WATCH}, watch=True
        ) as stack:
            doc = run_against(stack, tmp_path, "redis-stop", config)
            check_common(doc, stack["db"], "redis-stop", target="test-stack")
            analyses = jobs(stack["db"])
            planned = recovery_events(stack["db"], action="restart_service")
    finally:
        if pidfile.exists():  # the Redis the restore started runs detached
            with suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
    # Redis really was down: the injection saw a ping refused, the restore found it down
    assert json.loads(stopped.read_text())["killed"] == victim
    assert "ConnectionError" in json.loads(stopped.read_text())["ping"]
    assert json.loads(started.read_text()) == {"was_down": True}
    assert redis_server.process.poll() == -signal.SIGKILL
    timeline = [e["event"] for e in doc["body"]["timeline"]]
    assert timeline.index("fault injected") < timeline.index("detected")
    assert timeline.index("detected") < timeline.index("restored") < timeline.index("recovered")
    # dry-run: auto-recovery planned the restart and the drill restored it
    assert doc["summary"]["recovery_acted"] is False
    assert planned and all(e["dry_run"] for e in planned)
    assert len(analyses) == 2 and {j["status"] for j in analyses.values()} == {"completed"}


def test_runaway_analysis_against_a_named_target(redis_server, tmp_path) -> None:
    # The target's limit is 3 s and its auto-recovery acts; its workers run with a far one,
    # as a step that never reaches a cancellation check would (the sandbox does the same).
    target = {"BL_ANALYSIS_TIMEOUT_S": "3", "BL_RECOVERY_MODE": "act", **WATCH}
    with running_stack(
        redis_server, tmp_path, extra=target, worker_extra={"BL_ANALYSIS_TIMEOUT_S": "600"},
        watch=True,
    ) as stack:  # fmt: skip
        doc = run_against(stack, tmp_path, "runaway-analysis", "")
        check_common(doc, stack["db"], "runaway-analysis", target="test-stack")
        [detected] = recovery_events(
            stack["db"], failure_type="algorithm_timeout", outcome="detected"
        )
        [kill] = recovery_events(stack["db"], action="kill_processes", outcome="succeeded")
        runaway, follow_up = sorted(jobs(stack["db"]).values(), key=lambda j: j["created_at"])
        assert all(w.poll() is None for w in stack["workers"])
    assert doc["body"]["settings"]["analysis_timeout_s"] == 3
    assert doc["body"]["evidence"]["detection_event"] == detected["id"]
    assert kill["context"]["result"]["cancelled"] == [runaway["job_id"]]
    assert runaway["status"] == "cancelled" and follow_up["status"] == "completed"
    assert doc["summary"]["recovery_acted"] is True
    # the time limit was passed before auto-recovery's detection was counted from
    [passed] = [e for e in doc["body"]["timeline"] if e["event"] == "fault injected"]
    assert passed["what"] == "the analysis ran past 3 s"


RUN_MAINTAIN_DISK = """\
import os, subprocess, sys
from dotenv import dotenv_values
exe, env_file = sys.argv[1:3]
env = {k: v for k, v in os.environ.items() if not k.startswith("BL_")}
env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
env["BL_DISK_ALERT_PERCENT"] = "1"  # a threshold the disk is surely above
sys.exit(subprocess.run([exe, "maintain", "--only", "disk", "--json"], env=env).returncode)
"""


def test_disk_alert_against_a_named_target(redis_server, tmp_path) -> None:
    receiver = WebhookReceiver()
    script = tmp_path / "maintain_disk.py"
    script.write_text(RUN_MAINTAIN_DISK)
    inject = yaml_list(sys.executable, script, EXE, tmp_path / "stack.env")
    try:
        with running_stack(
            redis_server, tmp_path, extra={"BL_ALERT_WEBHOOK_URL": receiver.url}
        ) as stack:
            config = f"  disk-alert:\n    inject: {inject}\n"
            doc = run_against(stack, tmp_path, "disk-alert", config)
            check_common(doc, stack["db"], "disk-alert", target="test-stack")
            with stack["db"].scope() as session:
                [run] = session.scalars(select(MaintenanceRun)).all()
                run_id, status, [step] = run.id, run.status, run.details["steps"]
    finally:
        receiver.close()
    assert doc["body"]["evidence"]["maintenance_run"] == run_id and status == "ok"
    assert step["name"] == "disk" and step["details"]["alert"] == "sent"
    # the alert reached the deployment's webhook, once, with the threshold the command set
    [got] = receiver.received
    alert = got["payload"]
    assert alert["alertname"] == "BusinessLogicDiskUsage"
    assert alert["details"]["threshold"] == 1
    # df's Use% of the data directory's filesystem (other processes write meanwhile)
    data = os.statvfs(tmp_path / "data")
    used = data.f_blocks - data.f_bfree
    assert abs(alert["details"]["usage_percent"]["data"] - 100 * used / (used + data.f_bavail)) < 1
    assert doc["body"]["evidence"]["injection"]["exit_code"] == 0
