"""Auto-recovery against real failures: a killed Redis, a runaway analysis, an exhausted
budget, dry-run, Alertmanager's webhook, and the leader lock."""

from __future__ import annotations

import contextlib
import http.server
import json
import shlex
import socket
import subprocess
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psutil
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.jobs.identity import WORKER_ARGS, parse_worker_id
from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.checks import Checker
from bizlogic.ops.recovery.engine import Recovery
from bizlogic.ops.recovery.leader import LeaderLock
from bizlogic.ops.recovery.watch import process_pending
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.store import clock, migrations
from bizlogic.store.db import Database
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import fresh_pg_database
from tests.polling import poll
from tests.servers import EXE, Server, admin_headers, bizlogic, clean_env

BASE = "/api/business-logic"


def sqlite_db(data: Path) -> tuple[str, Database]:
    url = f"sqlite:///{data / 'bizlogic.db'}"
    migrations.upgrade(url)
    return url, Database(url)


def events(db: Database, **match: Any) -> list[dict[str, Any]]:
    since = clock.utcnow().replace(year=2000)
    found = history.events_since(db, since)[::-1]  # oldest first
    return [e for e in found if all(e[k] == v for k, v in match.items())]


class WatcherProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [EXE, "recover", "watch"], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        poll(self._leading, 60, "the watcher to lead")

    def _leading(self) -> bool:
        assert self.process.poll() is None, self.log_path.read_text()
        return "recovery_leader" in self.log_path.read_text()

    def stop(self) -> int:
        self.process.terminate()
        code = self.process.wait(30)
        self.log.close()
        return code


def restart_command(server) -> str:
    """What brings the test's Redis back: the same server, daemonized, on the same port."""
    return shlex.join(
        [
            server.binary,
            "--port",
            str(server.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(server.workdir),
            "--pidfile",
            str(server.workdir / "restarted.pid"),
        ]
    )


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def watcher_env(data: Path, redis_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        data,
        BL_REDIS_URL=redis_url,
        BL_RECOVERY_INTERVAL_S="0.2",
        BL_RECOVERY_CONFIRMATIONS="2",
        BL_RECOVERY_VERIFY_TIMEOUT_S="20",
        BL_RECOVERY_CPU_PERCENT="100",
        BL_RECOVERY_MEMORY_PERCENT="100",
        BL_RECOVERY_RESTART_UNITS="redis_connection=redis-server.service",
        **extra,
    )


# -- a killed Redis --------------------------------------------------------------------------------


def test_killed_redis_is_detected_restarted_verified_and_recorded(redis_server, tmp_path):
    data = tmp_path / "data"
    _, db = sqlite_db(data)
    command = restart_command(redis_server)
    env = watcher_env(data, redis_server.url, BL_RECOVERY_MODE="act", BL_RESTART_COMMAND=command)
    watcher = WatcherProcess(env, tmp_path / "watch.log")
    try:
        redis_server.stop()  # killed: SIGKILL
        assert not redis_answers(redis_server.url)
        fixed = poll(
            lambda: events(db, action="restart_service", outcome="succeeded"),
            60,
            "the watcher to restart Redis and verify it",
        )
        assert redis_answers(redis_server.url)
        [detected] = events(db, failure_type="redis_connection", outcome="detected")
        assert detected["trigger"] == "detector" and detected["context"]["consecutive"] == 2
        assert "Connection" in detected["context"]["error"]
        [refused] = events(db, action="clear_cache")
        assert (
            refused["outcome"] == "refused"
            and "Redis does not answer" in (refused["context"]["reason"])
        )
        [restart] = fixed
        assert restart["dry_run"] is False and restart["failure_type"] == "redis_connection"
        assert restart["context"]["plan"]["commands"] == [command]
        assert restart["context"]["result"]["ran"] == [{"command": command, "exit_code": 0}]
        assert restart["context"]["after"] == {}  # the check passed again: verified
        poll(
            lambda: events(db, failure_type="redis_connection", outcome="cleared"),
            30,
            "the watcher to record that the failure cleared",
        )
        # nothing else was acted on
        acted = [e for e in events(db) if e["action"] and e["outcome"] != "refused"]
        assert [e["action"] for e in acted] == ["restart_service"]
    finally:
        assert watcher.stop() == 0
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(redis_server.url).shutdown(nosave=True)


def test_dry_run_changes_nothing_and_says_what_it_would_do(redis_server, tmp_path):
    data = tmp_path / "data"
    _, db = sqlite_db(data)
    marker = tmp_path / "restart-ran"
    command = shlex.join(["touch", str(marker)])
    env = watcher_env(data, redis_server.url, BL_RESTART_COMMAND=command)  # no BL_RECOVERY_MODE
    watcher = WatcherProcess(env, tmp_path / "watch.log")
    try:
        redis_server.stop()
        [planned] = poll(lambda: events(db, action="restart_service"), 60, "the plan")
        assert planned["outcome"] == "dry_run" and planned["dry_run"] is True
        assert planned["context"]["plan"]["commands"] == [command]
        assert [e["outcome"] for e in events(db, action="clear_cache")] == ["refused"]
        assert not marker.exists()
        assert not redis_answers(redis_server.url)
    finally:
        assert watcher.stop() == 0
    assert not marker.exists()
    assert not events(db, outcome="succeeded") and not events(
        db, dry_run=False, action="restart_service"
    )


# -- a runaway analysis ----------------------------------------------------------------------------


def job_counts(api: str) -> dict[str, float]:
    """``bl_jobs_total`` of one scrape of the API at ``api``, by status."""
    text = httpx.get(f"{api}/metrics", timeout=10).text
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "bl_jobs_total"
    }


def _workers(supervisor: psutil.Process) -> list[psutil.Process]:
    return [p for p in supervisor.children() if tuple(p.cmdline()[1:]) == WORKER_ARGS]


def test_runaway_analysis_is_cancelled_and_only_its_worker_terminated(redis_server, tmp_path):
    records = tmp_path / "records.jsonl"
    generate(records, 100_000, seed=11)
    with fresh_pg_database("bl_recover") as (_, _, url):
        data = tmp_path / "data"
        env = clean_env(data, BL_DATABASE_URL=url, BL_REDIS_URL=redis_server.url)
        server = Server(env, tmp_path / "server.log")
        supervisors: list[subprocess.Popen] = []
        watcher = None
        try:
            headers = admin_headers(env)
            imported = httpx.post(
                f"{server.url}{BASE}/projects/p/records",
                content=records.read_bytes(),
                headers={**headers, "Content-Type": "application/x-ndjson"},
                timeout=300,
            )
            assert imported.status_code == 200, imported.text
            for _ in range(2):  # two worker instances, as bizlogic-worker@1 and @2
                supervisors.append(
                    subprocess.Popen(
                        [EXE, "worker", "--processes", "1", "--metrics-port", "0"],
                        env={**env, "BL_ANALYSIS_TIMEOUT_S": "600"},
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            parents = [psutil.Process(s.pid) for s in supervisors]
            poll(lambda: all(len(_workers(p)) == 1 for p in parents), 60, "both workers")
            before = {p.pid: _workers(p)[0].pid for p in parents}

            # Long itemsets at a tiny support keep it running for minutes (the default
            # parameters finish 100 000 records in seconds: before the dry run could see it).
            runaway = {"project_id": "p", "max_len": 5, "min_support": 2, "min_confidence": 0.1}
            job = httpx.post(
                f"{server.url}{BASE}/analyze", json=runaway, headers=headers, timeout=30
            ).json()
            running = poll(
                lambda: (
                    (
                        r := httpx.get(
                            f"{server.url}{BASE}/jobs/{job['job_id']}", headers=headers
                        ).json()
                    )["status"]
                    == "running"
                    and r
                ),
                120,
                "the analysis to start",
            )
            holder = parse_worker_id(running["worker_id"])
            assert holder is not None
            runaway_pid = holder.pid
            assert runaway_pid in before.values()
            [other_supervisor] = [s for s, w in before.items() if w != runaway_pid]
            other_worker = before[other_supervisor]

            # The watcher's time limit is 1 s: this analysis, still running, is past it.
            limits = {
                "BL_ANALYSIS_TIMEOUT_S": "1",
                "BL_JOB_HEARTBEAT_S": "0.5",
                "BL_JOB_STALE_S": "1",
            }
            db = Database(url, pooled=False)
            # The analysis keeps a core busy: a CPU check at 100 % could stop it first; here
            # memory and CPU failures may only notify (refused: no webhook), never terminate.
            watch = watcher_env(
                data,
                redis_server.url,
                BL_DATABASE_URL=url,
                BL_RECOVERY_CHAINS="high_cpu_usage=notify_admin;high_memory_usage=notify_admin",
                **limits,
            )
            limit = Settings(
                data_dir=data, database_url=url, analysis_timeout_s=1, job_heartbeat_s=0.5
            )
            past_limit = Checker(limit, db)
            poll(lambda: past_limit.algorithm_timeout().failing, 30, "the analysis past 1.5 s")
            # dry-run first: it names the job and the process, and touches neither
            planned = bizlogic(watch, "recover", "run", "algorithm_timeout", "--json")
            assert planned.returncode == 0, planned.stderr
            assert json.loads(planned.stdout)["status"] == "planned"
            [dry] = events(db, action="kill_processes", outcome="dry_run")
            assert dry["context"]["plan"]["terminate_pids"] == [runaway_pid]
            assert psutil.Process(runaway_pid).is_running()
            still = httpx.get(f"{server.url}{BASE}/jobs/{job['job_id']}", headers=headers)
            assert still.json()["status"] == "running"

            watch["BL_RECOVERY_MODE"] = "act"
            watcher = WatcherProcess(watch, tmp_path / "watch.log")
            try:
                [kill] = poll(
                    lambda: events(db, action="kill_processes", outcome="succeeded"),
                    60,
                    "the runaway analysis to be stopped",
                )
                assert kill["failure_type"] == "algorithm_timeout"
                plan, result = kill["context"]["plan"], kill["context"]["result"]
                assert [j["job_id"] for j in plan["jobs"]] == [job["job_id"]]
                assert plan["terminate_pids"] == [runaway_pid]
                assert result["cancelled"] == [job["job_id"]]
                assert result["terminated"] == [runaway_pid]
                status = httpx.get(f"{server.url}{BASE}/jobs/{job['job_id']}", headers=headers)
                assert status.json()["status"] == "cancelled"
                assert not psutil.pid_exists(runaway_pid) or (
                    psutil.Process(runaway_pid).status() == psutil.STATUS_ZOMBIE
                )
                # the other worker instance is untouched, and so is the API
                assert psutil.Process(other_supervisor).is_running()
                assert psutil.Process(other_worker).is_running()
                assert _workers(psutil.Process(other_supervisor))[0].pid == other_worker
                assert server.process.poll() is None

                # bl_jobs_total: the job recovery ended (its worker counts nothing: it was
                # terminated; recovery exposes no metrics) is counted once, cancelled, by
                # the API process scraped next; queued = ended. Neither another scrape nor
                # another API process on the same database counts it again.
                assert job_counts(server.url) == {"queued": 1, "cancelled": 1}
                assert job_counts(server.url) == {"queued": 1, "cancelled": 1}
                second = Server(env, tmp_path / "server2.log")
                try:
                    assert job_counts(second.url) == {}
                finally:
                    second.stop()
                assert job_counts(server.url) == {"queued": 1, "cancelled": 1}
            finally:
                db.dispose()
        finally:
            if watcher is not None:
                assert watcher.stop() == 0
            for supervisor in supervisors:
                supervisor.terminate()
            for supervisor in supervisors:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    supervisor.wait(60)
            server.stop()


# -- budget and escalation -------------------------------------------------------------------------


class Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def webhook():
    Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver.received
    finally:
        server.shutdown()


def test_exhausted_budget_escalates_once_and_stops_acting(tmp_path, webhook):
    url, received = webhook
    data = tmp_path / "data"
    db_url, db = sqlite_db(data)
    ran = tmp_path / "ran"
    settings = Settings(
        data_dir=data,
        database_url=db_url,
        redis_url="redis://127.0.0.1:1/0",  # nobody there
        recovery_mode="act",
        recovery_budget=2,
        recovery_backoff_s=0,
        recovery_verify_timeout_s=0.3,
        alert_webhook_url=url,
        restart_command=shlex.join(["touch", str(ran)]),
        recovery_restart_units="redis_connection=redis-server.service",
    )
    recovery = Recovery(settings, db)
    first = recovery.handle("redis_connection", "manual")
    assert first.status == "escalated" and "every action of the chain ran" in first.detail
    assert ran.exists()  # the restart ran; Redis is still not there: unverified
    second = recovery.handle("redis_connection", "manual")
    assert second.status == "suppressed"  # the chain already escalated in this window
    third = recovery.handle("redis_connection", "manual")
    assert third.status == "escalated" and "budget" in third.detail
    fourth = recovery.handle("redis_connection", "manual")
    assert fourth.status == "suppressed"

    restarts = events(db, action="restart_service")
    assert [e["outcome"] for e in restarts] == ["unverified", "unverified"]  # the budget: 2
    assert [(a["alertname"], a["severity"]) for a in received] == [
        ("BusinessLogicRecoveryNeedsAttention", "critical")
    ] * 2
    chain, budget = received
    assert (
        chain["details"]["failure_type"] == budget["details"]["failure_type"] == "redis_connection"
    )
    assert "every action of the chain ran" in chain["summary"]
    assert "stops acting" in budget["summary"]
    # The notice carries what the check saw (it was {} before), so a person reads the cause.
    assert chain["details"]["observation"], chain
    assert "127.0.0.1:1" in chain["details"]["observation"]["error"]
    escalations = events(db, action="notify_admin", outcome="escalated")
    assert [e["target"] for e in escalations] == ["chain", "budget"]


# -- Alertmanager's webhook ------------------------------------------------------------------------


WEBHOOK_TOKEN = "hook-" + "t" * 32
JWT = "recovery-jwt-" + "s" * 40


def alertmanager_payload(
    status: str = "firing",
    name: str = "BusinessLogicCollectorSourceDown",
    fingerprint: str = "3f2a9c0d1e5b7a64",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What Alertmanager 0.2x POSTs to a webhook receiver (payload version 4)."""
    labels = {
        "alertname": name,
        "severity": "warning",
        "instance": "api-1:8000",
        "job": "business_logic",
        **({"source": "redis"} if labels is None else labels),
    }
    return {
        "receiver": "bizlogic-recovery",
        "status": status,
        "version": "4",
        "groupKey": '{}/{alertname=~"BusinessLogic.+"}:' + f'{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "a collector source is down", "runbook_url": "x.md"},
                "startsAt": "2026-11-28T10:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-28T10:20:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": fingerprint,
            }
        ],
    }


def test_alertmanager_payload_acts_once_and_is_authenticated(tmp_path):
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'bizlogic.db'}",
        jwt_secret=JWT,
        webhook_token=WEBHOOK_TOKEN,
        redis_url="redis://127.0.0.1:1/0",  # nobody there: the alert is confirmed here
        recovery_restart_units="redis_connection=redis-server.service",
        restart_command="redis-server --port 6399 --daemonize yes",  # dry-run: never runs
    )
    hook = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        wrong = client.post(
            f"{BASE}/alerts", json=alertmanager_payload(), headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "UNAUTHORIZED"
        assert client.post(f"{BASE}/alerts", content=b"{", headers={}).status_code == 401
        bad = client.post(
            f"{BASE}/alerts", json={**alertmanager_payload(), "version": "3"}, headers=hook
        )
        assert bad.status_code == 422 and "version" in bad.json()["error"]["message"]

        first = client.post(f"{BASE}/alerts", json=alertmanager_payload(), headers=hook)
        assert first.status_code == 200
        assert first.json() == {
            "status": "ok",
            "received": 1,
            "pending": 1,
            "resolved": 0,
            "ignored": 0,
            "duplicates": 0,
        }
        db = client.app.state.bl.db
        recovery = Recovery(settings, db)
        [outcome] = process_pending(recovery)
        assert outcome.failure_type == "redis_connection" and outcome.dry_run
        acted = events(db, trigger="alertmanager", failure_type="redis_connection")
        actions = [(e["action"], e["outcome"], e["fingerprint"]) for e in acted if e["action"]]
        assert actions == [
            ("clear_cache", "refused", "3f2a9c0d1e5b7a64"),
            ("restart_service", "dry_run", "3f2a9c0d1e5b7a64"),
        ]
        [plan] = [e["context"]["plan"] for e in acted if e["action"] == "restart_service"]
        assert plan["commands"] == ["redis-server --port 6399 --daemonize yes"]

        again = client.post(f"{BASE}/alerts", json=alertmanager_payload(), headers=hook)
        assert again.status_code == 200 and again.json()["duplicates"] == 1
        assert process_pending(recovery) == []
        assert len(events(db, trigger="alertmanager")) == len(acted)  # nothing new

        unknown = client.post(
            f"{BASE}/alerts",
            headers=hook,
            json=alertmanager_payload(name="DiskMelting", fingerprint="aa"),
        )
        assert unknown.status_code == 200 and unknown.json()["ignored"] == 1
        resolved = client.post(
            f"{BASE}/alerts", json=alertmanager_payload("resolved"), headers=hook
        )
        assert resolved.json()["resolved"] == 1
        assert [e["outcome"] for e in events(db, alert_name="DiskMelting")] == ["ignored"]
        [handled] = events(db, action=None, outcome="handled")
        assert handled["context"]["outcome"]["status"] == "planned"

        # memory is far below the threshold here: the alert is recorded, nothing is done
        here = {"instance": f"{socket.gethostname()}:9101"}
        memory = alertmanager_payload(
            name="BusinessLogicHighMemoryUsage", fingerprint="bb", labels=here
        )
        assert client.post(f"{BASE}/alerts", json=memory, headers=hook).json()["pending"] == 1
        [unconfirmed] = process_pending(recovery)
        assert unconfirmed.status == "unconfirmed" and unconfirmed.host == socket.gethostname()
        rows = events(db, failure_type="high_memory_usage")
        assert [(e["action"], e["outcome"], e["host"]) for e in rows] == [
            (None, "handled", socket.gethostname()),
            (None, "unconfirmed", socket.gethostname()),
        ]
        # another host's memory is that host's watcher's to handle: untouched here, until
        # nobody has taken it up for four looks — then closed, saying so
        there = alertmanager_payload(
            name="BusinessLogicHighMemoryUsage",
            fingerprint="cc",
            labels={"instance": "worker-9.example.net:9101"},
        )
        assert client.post(f"{BASE}/alerts", json=there, headers=hook).json()["pending"] == 1
        assert process_pending(recovery) == []
        assert process_pending(recovery, deployment=False) == []
        [waiting] = events(db, fingerprint="cc")
        assert (waiting["outcome"], waiting["host"]) == ("pending", "worker-9.example.net")
        missed = timedelta(seconds=4 * settings.recovery_interval_s + 1)
        later = Recovery(settings, db, now=lambda: clock.utcnow() + missed)
        assert process_pending(later, deployment=False) == []  # only the deployment's leader
        assert process_pending(later) == []
        [closed] = events(db, fingerprint="cc")
        assert closed["outcome"] == "unclaimed"
        assert closed["context"]["reason"] == (
            "no recovery watcher on worker-9.example.net took it up"
        )

        admin = {"Authorization": f"Bearer {create_token(JWT, 'ops', 'system_admin')}"}
        shown = client.get(f"{BASE}/recovery/history?hours=1", headers=admin).json()
        assert [e["id"] for e in shown["events"]] == sorted(
            (e["id"] for e in events(db)), reverse=True
        )
        assert client.get(f"{BASE}/recovery/history?hours=0", headers=admin).status_code == 422
        metrics = client.get("/metrics").text
        assert (
            'bl_recovery_actions_total{action="clear_cache",dry_run="true",'
            'failure_type="redis_connection",outcome="refused"} 1.0'
        ) in metrics
        assert "bl_recovery_paused 0.0" in metrics

    unset = Settings(data_dir=data, database_url=settings.database_url, jwt_secret=JWT)
    with TestClient(create_app(unset, metrics=Metrics(50))) as client:
        off = client.post(f"{BASE}/alerts", json=alertmanager_payload(), headers=hook)
        assert off.status_code == 401 and "BL_WEBHOOK_TOKEN" in off.json()["error"]["message"]


# -- pause and the leader lock ---------------------------------------------------------------------


def test_pause_holds_every_action_back(tmp_path):
    data = tmp_path / "data"
    db_url, db = sqlite_db(data)
    env = clean_env(data, BL_RECOVERY_MODE="act")
    assert bizlogic(env, "recover", "pause", "--reason", "deploy").returncode == 0
    settings = Settings(data_dir=data, database_url=db_url, recovery_mode="act")
    outcome = Recovery(settings, db).handle("algorithm_timeout", "manual")
    assert outcome.status == "paused"
    assert [e["action"] for e in events(db)] == ["pause", None]
    run = bizlogic(env, "recover", "run", "algorithm_timeout")
    assert run.returncode == 1 and "paused" in run.stdout
    assert bizlogic(env, "recover", "resume").returncode == 0
    shown = json.loads(bizlogic(env, "recover", "history", "--json").stdout)
    assert shown["paused"] is None
    assert [e["action"] for e in shown["events"]][:2] == ["resume", None]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_leader_at_a_time(tmp_path, backend, request):
    data = tmp_path / "data"
    if backend == "sqlite":
        url, db = sqlite_db(data)
    else:
        url = request.getfixturevalue("postgres_url")
        db = Database(url)
    first, second = LeaderLock(db, data), LeaderLock(Database(url), data)
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire()
    env = clean_env(data, BL_DATABASE_URL=url, BL_RECOVERY_MODE="act")
    if backend == "postgresql":
        migrations.upgrade(url)
    refused = bizlogic(env, "recover", "run", "algorithm_timeout")
    assert refused.returncode == 3 and "another recovery process" in refused.stderr
    # this host's memory and CPU have a lock of their own: free while the deployment's is held
    host = socket.gethostname()
    here = LeaderLock(Database(url), data, host)
    assert here.try_acquire()
    assert not LeaderLock(Database(url), data, host).try_acquire()
    elsewhere = LeaderLock(Database(url), data, "another-host")
    assert elsewhere.try_acquire()
    elsewhere.release()
    refused_here = bizlogic(env, "recover", "run", "high_cpu_usage")
    assert refused_here.returncode == 3 and "another recovery process" in refused_here.stderr
    once = bizlogic(env, "recover", "watch", "--once")
    assert once.returncode == 3  # leads neither scope
    here.release()
    once = bizlogic(env, "recover", "watch", "--once")
    assert once.returncode == 0, once.stderr  # leads this host, stands by for the deployment
    assert "acts on failures of this host" in once.stdout + once.stderr
    assert "of the deployment" not in once.stdout + once.stderr
    # plans need no lock (a chain with an action that can be planned: a restart command)
    plannable = {**env, "BL_RECOVERY_CHAINS": "high_cpu_usage=restart_service"}
    dry = bizlogic(
        {**plannable, "BL_RESTART_COMMAND": "true"}, "recover", "run", "high_cpu_usage", "--dry-run"
    )
    assert dry.returncode == 0 and "planned" in dry.stdout, dry.stderr
    first.release()
    assert second.try_acquire()
    second.release()
    assert (
        Checker(Settings(data_dir=data, database_url=url), db).database_connection().failing
        is False
    )


# -- refusals say their own cause ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "cause"),
    [
        # the restart would be of our own unit while this host cannot reach Redis
        (
            {"BL_SERVICE_UNITS": "bizlogic-api.service", "BL_RESTART_COMMAND": "true"},
            "Redis is unreachable from this host (ConnectionError",
        ),
        # nothing is configured to restart at all
        ({"BL_SERVICE_UNITS": ""}, "no units to restart: set BL_SERVICE_UNITS or BL_RECOVERY_"),
    ],
)
def test_recover_run_states_the_cause_of_each_refusal(tmp_path, setup, cause):
    data = tmp_path / "data"
    sqlite_db(data)
    env = clean_env(
        data,
        BL_REDIS_URL="redis://127.0.0.1:1/0",  # nobody there
        BL_RECOVERY_CHAINS="redis_connection=restart_service",
        **setup,
    )
    run = bizlogic(env, "recover", "run", "redis_connection", "--dry-run")
    assert run.returncode == 1, run.stderr
    assert f"restart_service: {cause}" in run.stdout
    assert "cannot reach the server itself" not in run.stdout


def test_a_lasting_failure_records_each_refusal_once(tmp_path):
    """The watcher hands a lasting failure to the engine at every look (quiet after the
    first); the same refusal is not written again every 15 s (26 rows in four minutes)."""
    data = tmp_path / "data"
    db_url, db = sqlite_db(data)
    settings = Settings(
        data_dir=data,
        database_url=db_url,
        redis_url="redis://127.0.0.1:1/0",  # nobody there
        recovery_mode="act",
        recovery_backoff_s=0,
    )
    recovery = Recovery(settings, db)
    outcomes = [recovery.handle("redis_connection", "detector", quiet=i > 0) for i in range(6)]
    assert {o.status for o in outcomes} == {"escalated"}
    refused = events(db, outcome="refused")
    assert sorted(e["action"] for e in refused) == sorted(
        {e["action"] for e in refused}
    )  # one row per action, not one per look
    assert len(refused) >= 2  # restart_service and notify_admin were both refused


@pytest.mark.parametrize(("mode", "dry"), [("act", False), ("dry-run", True)])
def test_alert_intake_rows_carry_the_recovery_mode(tmp_path, mode, dry):
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'bizlogic.db'}",
        jwt_secret=JWT,
        webhook_token=WEBHOOK_TOKEN,
        recovery_mode=mode,
    )
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        hook = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
        taken = client.post(f"{BASE}/alerts", json=alertmanager_payload(), headers=hook)
        assert taken.status_code == 200
        [intake] = events(client.app.state.bl.db, trigger="alertmanager")
        assert intake["outcome"] == "pending" and intake["dry_run"] is dry
