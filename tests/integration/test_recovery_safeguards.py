"""Recovery's safeguards one by one: whom kill_processes may signal, the target bound,
backoff between attempts, and scale_up's preconditions."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select, update

from bizlogic.jobs.identity import format_worker_id, new_nonce
from bizlogic.ops.recovery.actions import (
    ActionContext,
    Refused,
    plan_kill,
    plan_scale_up,
    run_kill,
)
from bizlogic.ops.recovery.checks import Checker, Observation
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.ops.recovery.engine import Recovery
from bizlogic.settings import Settings
from bizlogic.store import clock, migrations
from bizlogic.store.db import Database
from bizlogic.store.jobs import claim_job, create_job, get_job
from bizlogic.store.tables import AnalysisJob, RecoveryEvent
from tests.polling import poll
from tests.servers import clean_env, worker_process

HOST = socket.gethostname()


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []

    def start(*marker: str) -> subprocess.Popen:
        """A real process; with the marker its command line reads like one of our workers."""
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *marker])
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture
def workers(tmp_path, redis_server):
    """Real worker processes as `bizlogic worker` starts them, each with its worker_id."""
    env = clean_env(tmp_path / "data", BL_REDIS_URL=redis_server.url, BL_LOG_FILE="")
    started: list[subprocess.Popen] = []

    def start() -> tuple[subprocess.Popen, str]:
        nonce = new_nonce()
        process = worker_process(env, nonce)
        started.append(process)
        return process, format_worker_id(HOST, process.pid, nonce)

    yield start
    for process in started:
        process.kill()
        process.wait()


def running_job(db: Database, worker_id: str) -> str:
    with db.scope() as session:
        job = create_job(session, "p", ["sentiment_correlation"], {})
        assert claim_job(session, job.job_id, worker_id) is not None
        return job.job_id


def settings_for(tmp_path: Path, **values) -> Settings:
    return Settings(
        data_dir=tmp_path,
        analysis_timeout_s=0.01,
        job_heartbeat_s=0.01,
        job_stale_s=0.02,
        recovery_mode="act",
        **values,
    )


def context(settings: Settings, db: Database, jobs: int) -> ActionContext:
    """An algorithm_timeout context once all ``jobs`` running jobs are past the limit."""

    def past() -> Observation | None:
        observation = Checker(settings, db).algorithm_timeout()
        return observation if len(observation.details["jobs"]) == jobs else None

    observation = poll(past, 10, "the jobs to be past their limit")
    config = RecoveryConfig.from_settings(settings)
    return ActionContext(settings, db, config, "algorithm_timeout", observation, "manual")


def test_kill_signals_only_recorded_worker_processes(tmp_path, db, processes, workers) -> None:
    ours, ours_id = workers()
    stranger = processes("bizlogic.jobs.worker")  # reads like a worker, without its nonce
    jobs = {
        "ours": running_job(db, ours_id),
        "stranger": running_job(db, f"{HOST}:{stranger.pid}"),
        "elsewhere": running_job(db, "otherhost:4242"),
        "myself": running_job(db, f"{HOST}:{os.getpid()}"),
    }
    ctx = context(settings_for(tmp_path), db, 4)
    plan = plan_kill(ctx)
    why = {t["job_id"]: t["why"] for t in plan["jobs"]}
    assert plan["terminate_pids"] == [ours.pid]
    assert why[jobs["ours"]] == "worker process"
    assert "not a dedicated worker" in why[jobs["stranger"]]
    assert why[jobs["elsewhere"]] == "runs on otherhost: that host's recovery acts on it"
    assert why[jobs["myself"]] == "that is this process"

    result = run_kill(ctx, plan)
    assert result["terminated"] == [ours.pid] and sorted(result["cancelled"]) == sorted(
        jobs.values()
    )
    assert ours.wait(10) is not None  # ended
    assert stranger.poll() is None  # never signalled
    with db.scope() as session:
        assert {get_job(session, j).status for j in jobs.values()} == {"cancelled"}


def test_a_reused_pid_is_not_signalled(tmp_path, db, workers) -> None:
    later, later_id = workers()
    job = running_job(db, later_id)
    started = psutil.Process(later.pid).create_time()
    with db.scope() as session:  # the job started well before this process existed
        session.execute(
            update(AnalysisJob)
            .where(AnalysisJob.job_id == job)
            .values(
                started_at=clock.utcnow()
                - timedelta(seconds=60 + clock.utcnow().timestamp() - started)
            )
        )
    plan = plan_kill(context(settings_for(tmp_path), db, 1))
    assert plan["terminate_pids"] == []
    assert "PID reused" in plan["jobs"][0]["why"]


def test_more_targets_than_the_bound_is_refused(tmp_path, db, workers) -> None:
    for _ in range(3):
        running_job(db, workers()[1])
    ctx = context(settings_for(tmp_path, recovery_max_targets=2), db, 3)
    with pytest.raises(
        Refused,
        match=r"3 worker processes to terminate exceed "
        r"BL_RECOVERY_MAX_TARGETS \(2\)",
    ):
        plan_kill(ctx)


def test_backoff_doubles_between_attempts(tmp_path, db) -> None:
    ran = tmp_path / "ran"
    settings = Settings(
        data_dir=tmp_path,
        redis_url="redis://127.0.0.1:1/0",
        recovery_mode="act",
        recovery_backoff_s=100,
        recovery_budget=5,
        recovery_verify_timeout_s=0.2,
        restart_command=shlex.join(["touch", str(ran)]),
        recovery_restart_units="redis_connection=redis-server.service",
    )
    shift = [0.0]
    recovery = Recovery(settings, db, now=lambda: clock.utcnow() + timedelta(seconds=shift[0]))
    statuses = []
    for offset in (0, 1, 99, 101, 250, 302):  # the waits: 100 s after one action, 200 after two
        shift[0] = offset
        statuses.append(recovery.handle("redis_connection", "manual").status)
    # attempts at 0 s, 101 s and 302 s, each ending with an escalation that reaches nobody
    # (no BL_ALERT_WEBHOOK_URL: recorded as refused, so the next one tries again)
    assert statuses == ["escalated", "deferred", "deferred", "escalated", "deferred", "escalated"]
    assert ran.exists()


def test_scale_up_preconditions(tmp_path, db, monkeypatch) -> None:
    settings = Settings(data_dir=tmp_path)
    config = RecoveryConfig.from_settings(settings)
    ctx = ActionContext(settings, db, config, "high_cpu_usage", Observation(True), "manual")
    with pytest.raises(Refused, match="BL_RECOVERY_SCALE_UNITS is empty"):
        plan_scale_up(ctx)
    with_units = Settings(data_dir=tmp_path, recovery_scale_units="bizlogic-worker@3.service")
    ctx = ActionContext(
        with_units,
        db,
        RecoveryConfig.from_settings(with_units),
        "high_cpu_usage",
        Observation(True),
        "manual",
    )
    monkeypatch.setenv("PATH", str(tmp_path))  # no systemctl on this PATH
    with pytest.raises(Refused, match="systemctl is not available"):
        plan_scale_up(ctx)


def test_a_dry_run_where_every_action_refuses_is_not_a_plan(tmp_path, db) -> None:
    # Redis unreachable, no server unit named: clear_cache and restart_service both refuse
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    outcome = Recovery(settings, db).handle("redis_connection", "manual")
    assert (outcome.dry_run, outcome.status) == (True, "unresolved")
    assert "every action of the chain refused" in outcome.detail
    with db.scope() as session:
        rows = session.execute(
            select(RecoveryEvent.action, RecoveryEvent.status).order_by(RecoveryEvent.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("clear_cache", "refused"),
        ("restart_service", "refused"),
    ]


def test_memory_and_cpu_budgets_are_counted_per_host(tmp_path, db) -> None:
    """Each host's watcher acts on its own CPU: one host using up its budget does not stop
    another's, while the deployment-wide failure types keep one budget for all hosts."""
    settings = Settings(
        data_dir=tmp_path,
        recovery_budget=2,
        recovery_backoff_s=0,
        restart_command="true",  # dry run: planned, never run
        recovery_chains="high_cpu_usage=restart_service;algorithm_timeout=restart_service",
    )
    busy = Observation(True, {"busy_percent": 99.0, "threshold": 95})
    a, b = Recovery(settings, db, host="host-a"), Recovery(settings, db, host="host-b")
    on_a = [a.handle("high_cpu_usage", "detector", busy).status for _ in range(3)]
    on_b = [b.handle("high_cpu_usage", "detector", busy).status for _ in range(3)]
    assert on_a == on_b == ["planned", "planned", "escalated"]
    with db.scope() as session:
        rows = session.execute(
            select(RecoveryEvent.host, RecoveryEvent.action, RecoveryEvent.status)
            .where(RecoveryEvent.failure_type == "high_cpu_usage")
            .order_by(RecoveryEvent.id)
        ).all()
    per_host = [("restart_service", "dry_run")] * 2 + [("notify_admin", "refused")]
    assert [tuple(r) for r in rows] == [("host-a", *r) for r in per_host] + [
        ("host-b", *r) for r in per_host
    ]
    slow = Observation(True, {"jobs": [{"job_id": "j1"}]})
    shared = [
        recovery.handle("algorithm_timeout", "detector", slow).status for recovery in (a, b, a)
    ]
    assert shared == ["planned", "planned", "escalated"]
    with db.scope() as session:
        hosts = session.scalars(
            select(RecoveryEvent.host).where(RecoveryEvent.failure_type == "algorithm_timeout")
        ).all()
    assert set(hosts) == {None}
