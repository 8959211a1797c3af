"""Metrics across processes: two API processes add up in one scrape; a worker's scrape port
shows its jobs and the queue depth; gauges of dead processes go away, counters stay."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bizlogic.api.auth import create_token
from bizlogic.store import migrations
from tests.conftest import fresh_pg_database
from tests.polling import poll

SECRET = "metrics-" + "m" * 40
BIN = Path(sys.executable).parent / "bizlogic"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def samples(text: str, name: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN), *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_api_processes_and_a_worker_add_up(redis_server, tmp_path) -> None:
    with fresh_pg_database("bl_metrics") as (_, _, url):
        migrations.upgrade(url)
        env = {
            **os.environ,
            "BL_DATABASE_URL": url,
            "BL_REDIS_URL": redis_server.url,
            "BL_JWT_SECRET": SECRET,
            "BL_DATA_DIR": str(tmp_path / "data"),
            "BL_LOG_FILE": "",
            "BL_COLLECT_INTERVAL_S": "1",
        }
        api_port, worker_port = free_port(), free_port()
        api = start(["serve", "--workers", "2", "--port", str(api_port)], env, tmp_path / "a.log")
        worker = start(["worker", "--metrics-port", str(worker_port)], env, tmp_path / "w.log")
        base = f"http://127.0.0.1:{api_port}"
        try:
            poll(lambda: httpx.get(f"{base}/readyz").status_code == 200, 60, "the API")

            def livez(_: int) -> int:  # a new connection each time: both processes get some
                with httpx.Client() as client:
                    return client.get(f"{base}/livez").status_code

            metrics_dir = tmp_path / "data" / "metrics" / f"api-{api_port}"

            def pids() -> set[int]:
                return {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("counter_*.db")}

            # The kernel decides which process accepts a connection: send batches until both
            # processes have served some (almost always within the first batch).
            sent = 0
            with ThreadPoolExecutor(16) as pool:
                while sent == 0 or (len(pids()) < 2 and sent < 2000):
                    assert set(pool.map(livez, range(200))) == {200}
                    sent += 200
            assert len(pids()) == 2, f"one process served all {sent} requests: {pids()}"
            scrape = httpx.get(f"{base}/metrics").text
            key = (("method", "GET"), ("route", "/livez"), ("status", "200"))
            assert samples(scrape, "bl_http_requests_total")[key] == sent  # summed, exactly

            auth = {"Authorization": f"Bearer {create_token(SECRET, 'ops', 'system_admin')}"}
            records = b"".join(
                b'{"id": "r%d", "text": "refund broken %d", "sentiment": "negative"}\n' % (i, i)
                for i in range(300)
            )
            imported = httpx.post(
                f"{base}/api/business-logic/projects/p/records", content=records,
                headers={**auth, "Content-Type": "application/x-ndjson"},
            )  # fmt: skip
            assert imported.status_code == 200
            job = httpx.post(
                f"{base}/api/business-logic/analyze", json={"project_id": "p"}, headers=auth
            ).json()
            done = poll(
                lambda: (
                    (s := httpx.get(f"{base}{job['status_url']}", headers=auth).json())["status"]
                    in ("completed", "failed")
                    and s
                ),
                60,
                "the analysis",
            )
            assert done["status"] == "completed"

            def jobs(_: int) -> dict[tuple, float]:
                with httpx.Client() as client:  # a new connection: either process answers
                    return samples(client.get(f"{base}/metrics").text, "bl_jobs_total")

            # The worker's end of the job is counted once, by the API process that serves
            # the first scrape after it; scrapes served by either process then agree.
            counted = {(("status", "queued"),): 1.0, (("status", "completed"),): 1.0}
            assert jobs(0) == counted  # this scrape takes the end from the database
            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(jobs, range(40))) == [counted] * 40
            worker_scrape = poll(
                lambda: httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text, 30, "worker"
            )
            # The worker host's own figures, measured by its supervisor (not the API's).
            def host_figures() -> dict | None:
                text = httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text
                cpu = samples(text, "bl_cpu_usage_percent").get(())
                up = samples(text, "bl_collector_up")
                ready = cpu is not None and cpu == cpu and up.get((("source", "cpu"),)) == 1
                return {"cpu": cpu, "up": up, "text": text} if ready else None

            host = poll(host_figures, 30, "the worker host's CPU figure")
            assert 0 <= host["cpu"] <= 100
            assert {dict(k)["source"] for k in host["up"]} == {"cpu", "memory", "disk"}
            memory = samples(host["text"], "bl_memory_usage_percent")[()]
            assert 0 < memory <= 100
            outcomes = samples(worker_scrape, "bl_worker_jobs_total")
            assert outcomes[(("outcome", "started"),)] == 1
            assert outcomes[(("outcome", "succeeded"),)] == 1
            assert samples(worker_scrape, "bl_jobs_total") == {}  # the API counts job ends
            assert samples(worker_scrape, "bl_queue_depth") == {(): 0.0}
            assert samples(scrape, "bl_queue_depth") == {(): 0.0}
            assert httpx.get(f"http://127.0.0.1:{worker_port}/other").status_code == 404
        finally:
            stop(api)
            stop(worker)
