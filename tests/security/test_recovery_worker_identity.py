"""Recovery signals only its own worker processes, whatever a job row claims.

Before the fix, ``kill_processes`` trusted a job row's ``worker_id`` (host:pid) as
soon as that PID's command line *contained* ``bizlogic.jobs.worker``: a forged row
pointing at ``tail -f …/bizlogic.jobs.worker.log`` had that tail terminated. Now
the process must hold the job's per-process nonce in its own environment (given
at exec by `bizlogic worker`), run exactly ``python -m bizlogic.jobs.worker_process``
and be older than the job; anything else is cancel-only, with the reason recorded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from bizlogic.jobs.identity import NONCE_ENV, format_worker_id, new_nonce
from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.engine import Recovery
from bizlogic.settings import Settings
from bizlogic.store import clock, migrations
from bizlogic.store.db import Database
from bizlogic.store.jobs import claim_job, create_job, get_job
from tests.polling import poll
from tests.servers import clean_env, worker_process

HOST = socket.gethostname()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def started() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env={**os.environ, **env})
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


def running_job(db: Database, worker_id: str) -> str:
    with db.scope() as session:
        job = create_job(session, "p", ["sentiment_correlation"], {})
        assert claim_job(session, job.job_id, worker_id) is not None
        return job.job_id


def act_on_timeouts(tmp_path: Path, db: Database, jobs: int) -> dict[str, Any]:
    """Recovery in act mode on ``jobs`` analyses past their limit; its kill_processes event."""
    settings = Settings(
        data_dir=tmp_path,
        analysis_timeout_s=0.01,
        job_heartbeat_s=0.01,
        job_stale_s=0.02,
        recovery_mode="act",
        recovery_verify_timeout_s=5,
        recovery_chains="algorithm_timeout=kill_processes",
    )
    checker = Recovery(settings, db).checker
    poll(lambda: len(checker.algorithm_timeout().details["jobs"]) == jobs, 10, "the limit")
    outcome = Recovery(settings, db).handle("algorithm_timeout", "manual")
    assert outcome.status == "resolved", outcome.detail  # the jobs are cancelled
    since = clock.utcnow().replace(year=2000)
    [event] = [e for e in history.events_since(db, since) if e["action"] == "kill_processes"]
    return event


def test_lookalike_processes_named_by_forged_job_rows_are_not_terminated(
    tmp_path, db, started
) -> None:
    log = tmp_path / "x" / "bizlogic.jobs.worker.log"
    log.parent.mkdir()
    log.touch()
    tail = started(["tail", "-f", str(log)])
    lookalike = started(
        [sys.executable, "-c", "import time; time.sleep(60)", "bizlogic.jobs.worker"]
    )
    guessed = new_nonce()
    # The nonce alone is not enough either: what a worker starts inherits its environment.
    inherited = started(
        [sys.executable, "-c", "import time; time.sleep(60)"], **{NONCE_ENV: guessed}
    )
    forged = {
        running_job(db, format_worker_id(HOST, tail.pid, None)): "not a dedicated worker",
        running_job(db, format_worker_id(HOST, tail.pid, new_nonce())): "worker nonce",
        running_job(db, format_worker_id(HOST, lookalike.pid, new_nonce())): "worker nonce",
        running_job(db, format_worker_id(HOST, inherited.pid, guessed)): "does not run exactly",
    }

    event = act_on_timeouts(tmp_path, db, len(forged))

    for process in (tail, lookalike, inherited):
        assert process.poll() is None, "a process a forged job row names was signalled"
        assert psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE
    plan, result = event["context"]["plan"], event["context"]["result"]
    assert event["outcome"] == "succeeded" and plan["terminate_pids"] == []
    assert result["terminated"] == [] and result["killed"] == []
    why = {target["job_id"]: target["why"] for target in plan["jobs"]}
    for job_id, reason in forged.items():
        assert reason in why[job_id], why[job_id]
    with db.scope() as session:  # cancel-only: the analyses themselves are stopped
        assert {get_job(session, j).status for j in forged} == {"cancelled"}


def test_a_worker_process_with_its_nonce_is_still_terminated(tmp_path, db, redis_server) -> None:
    env = clean_env(tmp_path / "data", BL_REDIS_URL=redis_server.url, BL_LOG_FILE="")
    nonce = new_nonce()
    worker = worker_process(env, nonce)
    try:
        job_id = running_job(db, format_worker_id(HOST, worker.pid, nonce))

        event = act_on_timeouts(tmp_path, db, 1)

        plan, result = event["context"]["plan"], event["context"]["result"]
        assert [t["why"] for t in plan["jobs"]] == ["worker process"]
        assert plan["terminate_pids"] == [worker.pid] == result["terminated"]
        assert worker.wait(10) is not None
        with db.scope() as session:
            assert get_job(session, job_id).status == "cancelled"
    finally:
        worker.kill()
        worker.wait()
