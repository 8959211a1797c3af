"""Benchmark Redis mode: analyses per minute with 1 and 2 worker processes, and API latency
while they run; print a table and save JSON.

One run creates a PostgreSQL database of its own (dropped at the end), starts
its own ``redis-server`` on a free port, ``bizlogic serve`` (one process) and
then, for each worker count, ``bizlogic worker --processes N``:

* ``throughput``  ``--jobs`` analyses of one ``--records`` project, all queued at
                  once; analyses per minute = jobs / (last finish − first start),
                  from the job records;
* ``latency``     cached ``GET /rules`` from ``benchmarks/loadgen.py`` (separate
                  process, open loop) at ``--rate`` for ``--duration`` seconds, once
                  with the workers idle (the reference) and once while the queued
                  analyses run. Target (issue 4): busy p95 ≤ 2 × idle p95.

See benchmarks/README.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import (  # a sibling script, not a package
    BASE,
    ROOT,
    Server,
    free_port,
    generate,
    load_project,
    machine,
    run_load,
    wait_for,
    write_requests,
)

PROJECT = "bench"
TARGET_LATENCY_RATIO = 2.0


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("error: redis-server is not on PATH")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Database:
    """A database of this run's own on the server of ``admin_url``."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"bl_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = f"{admin_url.rsplit('/', 1)[0]}/{self.name}"

    def drop(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def start_worker(server: Server, processes: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "bizlogic"), "worker",
         "--processes", str(processes), "--threads", "1", "--metrics-port", "0"],
        env=server.env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def submit(server: Server, count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for i in range(count):  # one user per job: the per-user cap is not what is measured
            auth = {"Authorization": f"Bearer {server.token(f'bench-{uuid.uuid4().hex[:8]}-{i}')}"}
            response = client.post(f"{BASE}/analyze", json={"project_id": PROJECT}, headers=auth)
            response.raise_for_status()
            ids.append(response.json()["job_id"])
    return ids


def wait_all(server: Server, ids: list[str], timeout_s: float) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {server.token('bench-admin')}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=60) as client:

        def states() -> list[dict[str, Any]] | None:
            found = [client.get(f"{BASE}/jobs/{job_id}").json() for job_id in ids]
            done = all(s["status"] in ("completed", "failed", "cancelled") for s in found)
            return found if done else None

        return wait_for(states, timeout_s, "the analyses")


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def throughput(states: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [s["job_id"] for s in states if s["status"] != "completed"]
    first = min(_ts(s["started_at"]) for s in states)
    last = max(_ts(s["finished_at"]) for s in states)
    span = (last - first) / timedelta(seconds=1)
    per_job = [(_ts(s["finished_at"]) - _ts(s["started_at"])).total_seconds() for s in states]
    return {
        "jobs": len(states),
        "not_completed": failed,
        "span_s": round(span, 2),
        "analyses_per_minute": round(len(states) / span * 60, 2),
        "job_seconds_median": round(statistics.median(per_job), 2),
        "workers_seen": sorted({s["worker_id"] for s in states}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--workers", default="1,2", help="worker process counts to compare")
    parser.add_argument("--rate", type=float, default=200.0, help="GET /rules req/s")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per latency phase")
    parser.add_argument(
        "--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL URL allowed to create and drop this run's database",
    )  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bl-workers-bench"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or ROOT / "benchmarks" / "results" / f"workers-{datetime.now(UTC):%Y-%m-%d}.json"
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    records = generate(workdir / "records.jsonl", args.records, seed=7)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {k: str(v) for k, v in vars(args).items() if k != "admin_url"},
        "runs": {},
    }
    redis_server = RedisServer(workdir)
    database = Database(args.admin_url)
    server = None
    try:
        server = Server(workdir, database.url, {"BL_REDIS_URL": redis_server.url})
        result["project"] = load_project_via_worker(server, records, workdir)
        reader = {"Authorization": f"Bearer {server.token('bench-reader', 'viewer')}"}
        reads = write_requests(
            workdir / "reads.jsonl", [{"path": f"{BASE}/rules/{PROJECT}", "headers": reader}]
        )
        run_load(server, reads, 0, 2, 4)  # warm-up: the cache holds the read
        for count in [int(n) for n in args.workers.split(",")]:
            worker = start_worker(server, count, workdir / f"worker-{count}.log")
            try:
                idle = run_load(server, reads, args.rate, args.duration, 8)
                ids = submit(server, args.jobs)
                busy = run_load(server, reads, args.rate, args.duration, 8)
                states = wait_all(server, ids, 3600)
            finally:
                stop_worker(worker)
            ratio = busy["latency_ms"]["p95"] / idle["latency_ms"]["p95"]
            run = {
                "throughput": throughput(states),
                "latency_idle": idle,
                "latency_busy": busy,
                "p95_busy_over_idle": round(ratio, 2),
                "latency_target_met": ratio <= TARGET_LATENCY_RATIO,
            }
            result["runs"][f"{count}_process"] = run
            print(
                f"{count} worker process(es): {run['throughput']['analyses_per_minute']} "
                f"analyses/min ({args.jobs} jobs in {run['throughput']['span_s']} s, median "
                f"{run['throughput']['job_seconds_median']} s each); GET /rules p95 idle "
                f"{idle['latency_ms']['p95']} ms, busy {busy['latency_ms']['p95']} ms "
                f"(×{run['p95_busy_over_idle']})",
                flush=True,
            )
        runs = list(result["runs"].values())
        if len(runs) >= 2:
            result["scaling"] = round(
                runs[-1]["throughput"]["analyses_per_minute"]
                / runs[0]["throughput"]["analyses_per_minute"],
                2,
            )
            names = list(result["runs"])
            print(f"throughput {names[-1]} / {names[0]}: ×{result['scaling']}")
    finally:
        if server is not None:
            server.stop()
        redis_server.stop()
        database.drop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", "utf-8")
    print(f"saved {out}")


def load_project_via_worker(server: Server, records: Path, workdir: Path) -> dict[str, Any]:
    """Import over HTTP and run a first analysis (so reads have rules to return)."""
    worker = start_worker(server, 1, workdir / "worker-setup.log")
    try:
        return load_project(server, PROJECT, records)
    finally:
        stop_worker(worker)  # gone before the measured phases start


if __name__ == "__main__":
    main()
