"""One worker process killed with SIGKILL (an OOM kill) no longer stops `bizlogic worker`.

Before the fix, `bizlogic worker` ran Dramatiq's CLI, which stops every worker
process and exits when one dies: one OOM-killed analysis took all of a host's
analysis capacity down. Now its supervisor restarts only the dead process (logged
with its PID and signal), its job is taken over once its heartbeat is stale, and
the supervisor gives up only after 5 deaths within 60 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from bizlogic.jobs.identity import parse_worker_id
from bizlogic.store import migrations
from tests.conftest import fresh_pg_database
from tests.integration.test_workers import AUTH, BASE, Stack, finished, import_demo, job_state
from tests.polling import poll
from tests.servers import EXE, clean_env


@pytest.fixture
def stack(redis_server, tmp_path) -> Iterator[Stack]:
    with fresh_pg_database("bl_child_death") as (_, _, url):
        migrations.upgrade(url)
        stack = Stack(url, redis_server, tmp_path)
        try:
            yield stack
        finally:
            stack.stop_workers()


def start_worker(stack: Stack, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [EXE, "worker", "--processes", "2", "--metrics-port", "0"],
        env=stack.env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # stop_workers kills the whole group
    )
    stack.workers.append(process)
    return process


def worker_children(supervisor: subprocess.Popen[bytes], log: Path) -> set[int]:
    assert supervisor.poll() is None, f"the worker exited:\n{log.read_text()}"
    return {p.pid for p in psutil.Process(supervisor.pid).children()}  # no metrics: workers only


def events(log: Path, name: str) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("event") == name]


def test_a_killed_worker_process_is_replaced_and_its_job_completes(stack) -> None:
    log = stack.tmp_path / "worker.log"
    supervisor = start_worker(stack, log)
    before = poll(lambda: len(c := worker_children(supervisor, log)) == 2 and c, 60, "2 workers")
    with stack.client() as client:
        import_demo(client, stack.tmp_path, "big", 60_000)
        import_demo(client, stack.tmp_path, "small", 2_000)
        job_id = client.post(f"{BASE}/analyze", json={"project_id": "big"}, headers=AUTH).json()[
            "job_id"
        ]
        running = poll(
            lambda: (s := job_state(client, job_id))["status"] == "running" and s, 60, "a start"
        )
        holder = parse_worker_id(running["worker_id"])
        assert holder is not None and holder.pid in before
        (sibling,) = before - {holder.pid}

        os.kill(holder.pid, signal.SIGKILL)  # what the OOM killer does

        after = poll(
            lambda: len(c := worker_children(supervisor, log)) == 2 and holder.pid not in c and c,
            60,
            "a new worker process in place of the killed one",
        )
        assert sibling in after  # the other worker process was left alone
        [died] = poll(lambda: events(log, "worker_process_died"), 10, "the death logged")
        assert (died["pid"], died["signal"]) == (holder.pid, "SIGKILL")

        job = poll(finished(client, job_id), 120, "the taken-over analysis")
        assert job["status"] == "completed", job
        assert job["attempts"] == 2
        later = client.post(f"{BASE}/analyze", json={"project_id": "small"}, headers=AUTH)
        assert later.status_code == 202
        done = poll(finished(client, later.json()["job_id"]), 60, "an analysis after the kill")
        assert done["status"] == "completed", done
        assert supervisor.poll() is None


def test_the_supervisor_gives_up_when_worker_processes_keep_dying(tmp_path) -> None:
    """A worker process that cannot start would otherwise be restarted forever."""
    script = (
        "import subprocess, sys\n"
        "from bizlogic.jobs.supervisor import Supervisor\n"
        "from bizlogic.settings import get_settings\n"
        "from bizlogic.telemetry.logging import configure_logging\n"
        "configure_logging(get_settings())\n"
        "dies = lambda: subprocess.Popen([sys.executable, '-c', 'raise SystemExit(3)'])\n"
        "sys.exit(Supervisor(2, spawn=dies).run())\n"
    )
    env = clean_env(tmp_path, BL_LOG_FILE="")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    log = tmp_path / "supervisor.log"
    log.write_text(done.stdout)
    died = events(log, "worker_process_died")
    assert [(d["exit_code"], d["signal"]) for d in died] == [(3, None)] * 5
    assert [d["recent_deaths"] for d in died] == [1, 2, 3, 4, 5]
    assert len(events(log, "worker_restarts_exhausted")) == 1
