"""One writer per log file: real processes writing while their files rotate, and the
shipped commands (API server processes, worker supervisor and process, maintenance)
each writing a file of its own, which the analyzer and the maintenance then all find."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from subprocess import PIPE

import httpx
import psutil
import pytest

from bizlogic.ops.logs import family_files
from bizlogic.settings import Settings
from bizlogic.store import migrations
from tests.conftest import fresh_pg_database
from tests.polling import poll
from tests.servers import EXE, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
LINES = 3000  # per process; ~330 bytes each
MAX_BYTES = 16 * 1024  # so each file rotates about 60 times while both processes write

WRITER = """
import os, sys, time
from pathlib import Path
import structlog
from bizlogic.settings import Settings
from bizlogic.telemetry.logging import configure_logging, log_file_in_use

template, role, writer, count, go = sys.argv[1:]
settings = Settings(log_file=template, log_max_bytes={max_bytes}, log_backup_count=1000,
                    log_level="INFO", log_format="json")
configure_logging(settings, stream=open(os.devnull, "w"), process=role)
print(log_file_in_use(), flush=True)
while not Path(go).exists():  # both ready: they write at the same time
    time.sleep(0.001)
log = structlog.get_logger("bizlogic.test")
for n in range(int(count)):
    log.info("tick", writer=writer, n=n, pad="x" * 120)
"""


def write_concurrently(template: Path, roles: list[str], tmp_path: Path) -> list[str]:
    """Start one writer process per role, let them write LINES lines each at once; return
    the file each said it writes."""
    go = tmp_path / "go"
    script = WRITER.format(max_bytes=MAX_BYTES)
    args = [[str(template), role, f"w{k}", str(LINES), str(go)] for k, role in enumerate(roles)]
    writers = [
        subprocess.Popen([sys.executable, "-c", script, *a], stdout=PIPE, stderr=PIPE, text=True)
        for a in args
    ]
    files = [writer.stdout.readline().strip() for writer in writers]  # each configured
    go.touch()
    for writer in writers:
        assert writer.wait(120) == 0, writer.stderr.read()
    return files


@pytest.mark.parametrize(
    ("name", "roles", "expected"),
    [
        ("{process}.log", ["worker", "worker"], ["worker.log", "worker-2.log"]),
        ("bizlogic.log", ["api", "worker"], ["bizlogic.log", "bizlogic-2.log"]),  # no placeholder
    ],
)
def test_two_processes_writing_through_rotations_lose_and_repeat_nothing(
    tmp_path: Path, name: str, roles: list[str], expected: list[str]
) -> None:
    """Two processes of one role (or one BL_LOG_FILE without a placeholder) write at the
    same time while their files rotate: every line is found exactly once across the files,
    and each file holds one writer's lines, in order."""
    template = tmp_path / "logs" / name
    files = write_concurrently(template, roles, tmp_path)
    assert sorted(Path(f).name for f in files) == sorted(expected)
    paths = family_files(template)
    rotated = [p for p in paths if p.name not in expected]
    assert len(rotated) > 2 * 40  # both files rotated many times while both wrote
    seen: Counter[tuple[str, int]] = Counter()
    for path in paths:
        lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        writers = {line["writer"] for line in lines}
        assert len(writers) == 1, f"{path.name} has lines of {writers}"
        numbers = [line["n"] for line in lines]
        assert numbers == sorted(numbers)  # one writer, appending
        assert path.stat().st_size <= MAX_BYTES
        seen.update((line["writer"], line["n"]) for line in lines)
    assert seen == Counter({(f"w{k}", n): 1 for k in range(2) for n in range(LINES)})


def test_the_environment_example_gives_each_process_a_file(monkeypatch) -> None:
    """The shipped BL_LOG_FILE names one file per role (the units' processes run as
    several of each role: the lock gives each process its own slot)."""
    values = dict(
        line.split("=", 1)
        for line in (DEPLOY / "bizlogic.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert values["BL_LOG_FILE"] == "/var/log/bizlogic/{process}.log"
    monkeypatch.setenv("BL_LOG_FILE", values["BL_LOG_FILE"])
    assert Settings().log_file == Path("/var/log/bizlogic/{process}.log")


def log_files_open(pids: set[int], directory: Path) -> dict[str, set[int]]:
    """Log file (not lock file) → the processes that have it open."""
    holders: dict[str, set[int]] = {}
    for pid in pids:
        for opened in psutil.Process(pid).open_files():
            path = Path(opened.path)
            if path.parent == directory and not path.name.startswith("."):
                holders.setdefault(path.name, set()).add(pid)
    return holders


def tree(process: subprocess.Popen[bytes]) -> set[int]:
    root = psutil.Process(process.pid)
    return {root.pid, *(child.pid for child in root.children(recursive=True))}


def test_the_shipped_commands_each_write_a_file_of_their_own(redis_server, tmp_path) -> None:
    """`serve --workers 2` (a supervisor and two server processes) and `worker` (a
    supervisor and a worker process) with the shipped BL_LOG_FILE: five processes, five
    files, none open in two processes; `maintain` adds maintenance.log with one line a
    step; `logs analyze` and `maintain history` then read them all."""
    logs = tmp_path / "logs"
    with fresh_pg_database("bl_logw") as (_, _, url):
        migrations.upgrade(url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BL_")},
            "BL_DATABASE_URL": url, "BL_REDIS_URL": redis_server.url,
            "BL_JWT_SECRET": "w" * 48, "BL_DATA_DIR": str(tmp_path / "data"),
            "BL_LOG_FILE": str(logs / "{process}.log"), "BL_LOG_FORMAT": "json",
        }  # fmt: skip
        port = free_port()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        started = [
            subprocess.Popen([EXE, *args], env=env, start_new_session=True, **quiet)
            for args in (
                ["serve", "--workers", "2", "--port", str(port)],
                ["worker", "--metrics-port", str(free_port())],
            )
        ]
        api, worker = started
        try:
            poll(
                lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200,
                60, "the API",
            )  # fmt: skip
            for _ in range(20):  # new connections: both server processes log some
                with httpx.Client() as client:
                    client.get(f"http://127.0.0.1:{port}/livez")

            def five_files() -> dict[str, set[int]] | None:
                holders = log_files_open(tree(api) | tree(worker), logs)
                return holders if len(holders) == 5 else None

            holders = poll(five_files, 60, "every process to open its log file")
            assert sorted(holders) == [
                "api-2.log", "api-3.log", "api.log", "worker-2.log", "worker.log"
            ]  # fmt: skip
            assert all(len(pids) == 1 for pids in holders.values()), holders
            assert len(set().union(*holders.values())) == 5  # five processes, one file each
        finally:
            for process in started:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in started:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        done = subprocess.run(
            [EXE, "maintain", "--only", "logs,disk", "--json"], env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        run_id = json.loads(done.stdout)["run_id"]
        lines = [json.loads(x) for x in (logs / "maintenance.log").read_text().splitlines()]
        steps = [x for x in lines if x["event"] == "maintenance_step"]
        assert [(x["step"], x["status"], x["run_id"]) for x in steps] == [
            ("logs", "ok", run_id), ("disk", "ok", run_id)
        ]  # fmt: skip
        assert all(x["duration_s"] >= 0 and isinstance(x["details"], dict) for x in steps)
        assert steps[0]["details"]["rotated_files"] == 0
        history = subprocess.run(
            [EXE, "maintain", "history", "--json"], env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert history.returncode == 0, history.stderr
        assert [r["run_id"] for r in json.loads(history.stdout)] == [run_id]
        analyzed = subprocess.run(
            [EXE, "logs", "analyze", "--json", "--since", "2000-01-01"], env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert analyzed.returncode == 0, analyzed.stderr
        report = json.loads(analyzed.stdout)
        assert sorted(Path(f).name for f in report["files"]) == [
            "api-2.log", "api-3.log", "api.log", "maintenance.log", "worker-2.log", "worker.log"
        ]  # fmt: skip
        assert report["malformed"]["count"] == 0
        assert report["lines"] == sum(
            len(path.read_text().splitlines()) for path in logs.glob("*.log")
        )
