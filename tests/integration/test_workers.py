"""Redis mode end to end: the API queues, `bizlogic worker` processes run the analyses.

Real PostgreSQL (a database per test), a test-owned redis-server and worker
processes started with the CLI. Timings are shortened through the settings
(heartbeat 0.5 s, a worker silent for 3 s is presumed dead).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.jobs.broker import make_broker
from bizlogic.jobs.identity import parse_worker_id
from bizlogic.jobs.reconcile import reconcile
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.db import Database
from bizlogic.store.tables import InsightRow, PatternRow, RuleRow
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import fresh_pg_database
from tests.polling import poll

SECRET = "workers-" + "w" * 40
BASE = "/api/business-logic"
AUTH = {"Authorization": f"Bearer {create_token(SECRET, 'ops', 'system_admin')}"}
FAST = {"BL_JOB_STALE_S": "3", "BL_JOB_HEARTBEAT_S": "0.5", "BL_RECONCILE_INTERVAL_S": "3600"}


class Stack:
    """PostgreSQL + Redis + the settings every process of the test shares."""

    def __init__(self, database_url: str, redis_server, tmp_path: Path) -> None:
        self.redis = redis_server
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "BL_DATABASE_URL": database_url,
            "BL_REDIS_URL": redis_server.url,
            "BL_JWT_SECRET": SECRET,
            "BL_DATA_DIR": str(tmp_path / "data"),
            "BL_LOG_FILE": "",
            **FAST,
        }
        self.settings = Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            redis_url=redis_server.url,
            jwt_secret=SECRET,
            job_stale_s=3,
            job_heartbeat_s=0.5,
            reconcile_interval_s=3600,
        )
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self, **extra_env: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "bizlogic"), "worker", "--processes", "1"],
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def client(self) -> TestClient:
        return TestClient(create_app(self.settings, metrics=Metrics(50)))

    def db(self) -> Database:
        return Database(self.settings.effective_database_url)


@pytest.fixture
def stack(redis_server, tmp_path) -> Iterator[Stack]:
    with fresh_pg_database("bl_workers") as (_, _, url):
        migrations.upgrade(url)
        stack = Stack(url, redis_server, tmp_path)
        try:
            yield stack
        finally:
            stack.stop_workers()


def import_demo(client: TestClient, tmp_path: Path, project: str, records: int) -> None:
    path = tmp_path / f"{project}.jsonl"
    generate(path, records, seed=11)
    response = client.post(
        f"{BASE}/projects/{project}/records",
        content=path.read_bytes(),
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text


def job_state(client: TestClient, job_id: str) -> dict[str, Any]:
    return client.get(f"{BASE}/jobs/{job_id}", headers=AUTH).json()


def finished(client: TestClient, job_id: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        state = job_state(client, job_id)
        return state if state["status"] in ("completed", "failed", "cancelled") else None

    return check


def stored_results(stack: Stack, project: str) -> tuple[int, int, int]:
    """(rules, patterns, insights) stored for the project, to compare with a job's summary."""
    db = stack.db()
    try:
        with db.scope() as session:
            return tuple(  # type: ignore[return-value]
                int(session.scalar(
                    select(func.count()).select_from(table).where(table.project_id == project)
                ) or 0)
                for table in (RuleRow, PatternRow, InsightRow)
            )  # fmt: skip
    finally:
        db.dispose()


def worker_pid(job: dict[str, Any]) -> int:
    holder = parse_worker_id(job["worker_id"])
    assert holder is not None, job
    return holder.pid


def summary(job: dict[str, Any]) -> tuple[int, int, int]:
    return job["results"]["rules"], job["results"]["patterns"], job["results"]["insights"]


def test_a_worker_runs_the_queued_analysis(stack) -> None:
    stack.start_worker()
    with stack.client() as client:
        import_demo(client, stack.tmp_path, "p", 3000)
        accepted = client.post(f"{BASE}/analyze", json={"project_id": "p"}, headers=AUTH)
        assert accepted.status_code == 202
        job = poll(finished(client, accepted.json()["job_id"]), 60, "the analysis")
        assert job["status"] == "completed" and job["attempts"] == 1
        holder = parse_worker_id(job["worker_id"])
        assert holder is not None and holder.nonce is not None  # a worker process's id
        assert holder.pid != os.getpid()  # run by the worker, not by the API
        assert stored_results(stack, "p") == summary(job)
        ready = client.get("/readyz").json()["checks"]
        assert ready["queue"] == {"status": "up", "backend": "dramatiq", "pending": 0}


def test_a_worker_killed_mid_analysis_loses_nothing(stack) -> None:
    first = stack.start_worker()
    with stack.client() as client:
        import_demo(client, stack.tmp_path, "big", 60_000)
        job_id = client.post(f"{BASE}/analyze", json={"project_id": "big"}, headers=AUTH).json()[
            "job_id"
        ]
        running = poll(
            lambda: (s := job_state(client, job_id))["status"] == "running" and s, 60, "a start"
        )
        victim = worker_pid(running)
        second = stack.start_worker()  # the survivor, started once the first holds the job
        os.kill(victim, signal.SIGKILL)
        job = poll(finished(client, job_id), 120, "the redelivered analysis")
        assert job["status"] == "completed", job
        assert job["attempts"] == 2
        assert worker_pid(job) != victim
        assert stored_results(stack, "big") == summary(job)  # written once
        assert first.poll() is None  # its supervisor replaced the killed process
        assert second.poll() is None


def test_the_time_limit_fails_the_job_with_the_reason(stack) -> None:
    stack.start_worker(BL_ANALYSIS_TIMEOUT_S="0.2")
    with stack.client() as client:
        import_demo(client, stack.tmp_path, "slow", 20_000)
        job_id = client.post(f"{BASE}/analyze", json={"project_id": "slow"}, headers=AUTH).json()[
            "job_id"
        ]
        job = poll(finished(client, job_id), 60, "the time limit")
        assert job["status"] == "failed"
        assert job["error"] == "timeout: the analysis ran past 0.2 s"
        assert stored_results(stack, "slow") == (0, 0, 0)


def test_no_analysis_is_accepted_while_redis_is_down(stack) -> None:
    with stack.client() as client:
        import_demo(client, stack.tmp_path, "p", 500)
        stack.redis.stop()
        refused = client.post(f"{BASE}/analyze", json={"project_id": "p"}, headers=AUTH)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "10"
        assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert client.get(f"{BASE}/rules/p", headers=AUTH).status_code == 200  # reads go on
        queue = client.get("/readyz").json()["checks"]["queue"]
        assert queue["status"] == "degraded"
        db = stack.db()
        with db.scope() as session:
            from bizlogic.store.jobs import count_active_jobs

            assert count_active_jobs(session, project_id="p") == 0  # nothing half-accepted
        db.dispose()
        stack.redis.start()
        accepted = client.post(f"{BASE}/analyze", json={"project_id": "p"}, headers=AUTH)
        assert accepted.status_code == 202


def test_the_reconciler_resends_jobs_redis_lost(stack) -> None:
    with stack.client() as client:
        import_demo(client, stack.tmp_path, "p", 2000)
        job_id = client.post(f"{BASE}/analyze", json={"project_id": "p"}, headers=AUTH).json()[
            "job_id"
        ]
        stack.redis.client().flushdb()  # Redis lost everything, the database still says queued
        broker = make_broker(stack.settings)
        db = stack.db()
        try:
            early = reconcile(db, broker, stack.settings)
            assert early.examined == 0  # not stale yet: its worker may just be slow
            time.sleep(stack.settings.job_stale_s)  # the staleness window itself is the subject
            report = reconcile(db, broker, stack.settings)
            assert report.requeued == [job_id] and report.failed == []
            assert reconcile(db, broker, stack.settings).requeued == []  # held now: not twice
        finally:
            broker.close()
            db.dispose()
        stack.start_worker()
        job = poll(finished(client, job_id), 60, "the resent analysis")
        assert job["status"] == "completed" and job["attempts"] == 1


def _database_outage_during_the_analysis(stack, admin, name, worker_log: Path, project: str):
    """Refuse connections once the job runs, until the worker reports a retry; then allow."""
    with stack.client() as client:
        import_demo(client, stack.tmp_path, project, 60_000)
        job_id = client.post(f"{BASE}/analyze", json={"project_id": project}, headers=AUTH).json()[
            "job_id"
        ]
        poll(lambda: job_state(client, job_id)["status"] == "running", 60, "the start")
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            poll(lambda: "Retrying message" in worker_log.read_text(), 60, "a retry")
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        return poll(finished(client, job_id), 120, "the retried analysis")


@pytest.fixture
def stack_with_admin(redis_server, tmp_path) -> Iterator[tuple[Stack, Any, str]]:
    with fresh_pg_database("bl_retry") as (admin, name, url):
        migrations.upgrade(url)
        stack = Stack(url, redis_server, tmp_path)
        try:
            yield stack, admin, name
        finally:
            stack.stop_workers()


def test_a_database_outage_mid_analysis_is_retried_and_completes(stack_with_admin) -> None:
    stack, admin, name = stack_with_admin
    stack.start_worker()
    job = _database_outage_during_the_analysis(
        stack, admin, name, stack.tmp_path / "worker-0.log", "retry"
    )
    assert job["status"] == "completed", job
    assert job["attempts"] == 2
    assert stored_results(stack, "retry") == summary(job)


def test_retries_end_when_the_attempts_are_used_up(stack_with_admin) -> None:
    stack, admin, name = stack_with_admin
    stack.start_worker(BL_JOB_MAX_ATTEMPTS="1")
    job = _database_outage_during_the_analysis(
        stack, admin, name, stack.tmp_path / "worker-0.log", "exhausted"
    )
    assert job["status"] == "failed"
    assert job["error"] == "attempts exhausted: interrupted 1 times"
    assert stored_results(stack, "exhausted") == (0, 0, 0)


def ready_lines(log: Path) -> list[dict[str, Any]]:
    """The worker processes' start-up lines from a `bizlogic worker` log."""
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and "worker_process_ready" in line.values():
            lines.append(line)
    return lines


def test_the_worker_runs_the_thread_count_of_tuning_env(stack) -> None:
    data = stack.tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "tuning.env").write_text("BL_WORKER_THREADS=3\n")
    stack.env.pop("BL_WORKER_THREADS", None)  # the environment would win over the file
    stack.start_worker()
    log = stack.tmp_path / "worker-0.log"
    ready = poll(lambda: ready_lines(log), 60, "the worker process to start")
    assert [line["threads"] for line in ready] == [3]


def test_cancelling_a_running_job_stops_its_worker_and_stores_nothing(stack) -> None:
    stack.start_worker()
    log = stack.tmp_path / "worker-0.log"
    with stack.client() as client:
        import_demo(client, stack.tmp_path, "big", 60_000)
        job_id = client.post(f"{BASE}/analyze", json={"project_id": "big"}, headers=AUTH).json()[
            "job_id"
        ]
        poll(
            lambda: (s := job_state(client, job_id))["status"] == "running" and s["progress"] > 0,
            60,
            "the analysis to make progress",
        )
        cancelled = client.delete(f"{BASE}/jobs/{job_id}", headers=AUTH)
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json() == {"job_id": job_id, "status": "cancelling"}
        poll(lambda: job_state(client, job_id)["status"] == "cancelled", 60, "the cancel")
        # the worker itself stops at its next progress report or heartbeat
        poll(
            lambda: f"job {job_id} cancelled: its analysis stopped" in log.read_text(),
            60,
            "the worker to stop the analysis",
        )
        job = job_state(client, job_id)
        assert job["status"] == "cancelled" and job["results"] is None, job
        assert stored_results(stack, "big") == (0, 0, 0)
