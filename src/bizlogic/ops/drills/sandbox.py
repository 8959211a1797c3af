"""A throwaway Redis-mode deployment for one drill: its own redis-server, database,
`bizlogic serve`, two `bizlogic worker` supervisors and `bizlogic recover watch`, all
in a temporary directory and with detection settings of a few seconds.

Every process is started as an argument list, in a session of its own (so its whole
group can be stopped), its output kept in a log file in the temporary directory. The
sandbox's faults touch only what it started; ``close`` stops it all and removes the
directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import redis

from bizlogic.ops.drills import faults
from bizlogic.ops.drills.measure import wait_for
from bizlogic.ops.drills.target import Deployment, TargetError
from bizlogic.settings import Settings

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
CLI = (sys.executable, "-m", "bizlogic.cli")
# Short detection settings: a drill takes tens of seconds, not the minutes of production.
FAST = {
    "BL_JOB_HEARTBEAT_S": "0.5",
    "BL_JOB_STALE_S": "3",
    "BL_RECONCILE_INTERVAL_S": "3",
    "BL_RECOVERY_INTERVAL_S": "0.5",
    "BL_RECOVERY_CONFIRMATIONS": "2",
    "BL_RECOVERY_VERIFY_TIMEOUT_S": "20",
    "BL_RECOVERY_BACKOFF_S": "1",
    # The drills' analyses keep a core busy: memory and CPU may only notify here, never
    # terminate a process the drill is measuring.
    "BL_RECOVERY_CPU_PERCENT": "100",
    "BL_RECOVERY_MEMORY_PERCENT": "100",
    "BL_RECOVERY_CHAINS": "high_cpu_usage=notify_admin;high_memory_usage=notify_admin",
    "BL_RECOVERY_RESTART_UNITS": "redis_connection=redis-server.service",
}
# runaway-analysis: the workers' own limit is far away (so they never stop the analysis
# themselves, as a step that never reaches a cancellation check would not); recovery's
# watcher applies this one.
RUNAWAY_LIMIT_S = 6.0
WORKER_LIMIT_S = 600.0
# cache-fill: a small maxmemory, and eviction only of keys with a TTL (cache entries), never
# of the broker's queues.
CACHE_MAXMEMORY = 48 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"raw": body[:500].decode("utf-8", "replace")}
        self.server.received.append({"at": time.monotonic(), "payload": payload})  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


class WebhookReceiver:
    """A local HTTP endpoint standing in for BL_ALERT_WEBHOOK_URL: what it receives."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        self.server.received = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/drill-alert"

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.server.received  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class _Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    handle: Any = field(repr=False, default=None)


class Sandbox(Deployment):
    kind = "sandbox"

    def __init__(
        self, drill: str, *, database_url: str | None = None, recovery_mode: str = "act"
    ) -> None:
        self.drill = drill
        self.recovery_mode = recovery_mode
        self.given_database_url = database_url
        self.redis_binary = shutil.which("redis-server")
        if self.redis_binary is None:
            raise TargetError(
                "redis-server is not on PATH: the sandbox runs its own Redis (install the "
                "redis-server package) — or drill an existing deployment with --target"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="bizlogic-drill-"))
        self.data = self.dir / "data"
        self.redis_port = free_port()
        self.api_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        database = database_url or f"sqlite:///{self.data / 'bizlogic.db'}"
        self.jwt = secrets.token_urlsafe(48)
        self.procs: list[_Proc] = []
        self.redis_proc: _Proc | None = None
        self.receiver: WebhookReceiver | None = None
        limit = RUNAWAY_LIMIT_S if drill == "runaway-analysis" else WORKER_LIMIT_S
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BL_")},
            "BL_DATA_DIR": str(self.data),
            "BL_DATABASE_URL": database,
            "BL_REDIS_URL": self.redis_url,
            "BL_JWT_SECRET": self.jwt,
            "BL_LOG_FILE": "",
            "BL_LOG_FORMAT": "json",
            "BL_HEALTH_URL": f"http://127.0.0.1:{self.api_port}/readyz",
            "BL_RECOVERY_MODE": recovery_mode,
            "BL_RESTART_COMMAND": shlex.join(self._redis_argv(daemonize=True)),
            "BL_ANALYSIS_TIMEOUT_S": str(WORKER_LIMIT_S),
            **FAST,
        }
        self.watcher_limit_s = limit
        super().__init__(
            "sandbox",
            Settings(
                data_dir=self.data,
                database_url=database,
                redis_url=self.redis_url,
                jwt_secret=self.jwt,
                health_url=self.env["BL_HEALTH_URL"],
                recovery_mode=recovery_mode,  # type: ignore[arg-type]
                analysis_timeout_s=limit,
                job_heartbeat_s=0.5,
                job_stale_s=3,
                reconcile_interval_s=3,
                recovery_interval_s=0.5,
                recovery_confirmations=2,
            ),
        )

    # -- bring-up and teardown ---------------------------------------------------------

    def _redis_argv(self, daemonize: bool = False) -> list[str]:
        argv = [
            str(self.redis_binary), "--port", str(self.redis_port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir),
        ]  # fmt: skip
        if self.drill == "cache-fill":
            argv += ["--maxmemory", str(CACHE_MAXMEMORY), "--maxmemory-policy", "volatile-lru"]
        if daemonize:  # how auto-recovery's restart brings it back: detached, same port
            argv += ["--daemonize", "yes", "--pidfile", str(self.dir / "redis-restarted.pid")]
        return argv

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> _Proc:
        log = self.dir / f"{name}.log"
        handle = log.open("ab")
        process = subprocess.Popen(
            argv,
            env=env or self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        proc = _Proc(name, process, log, handle)
        self.procs.append(proc)
        return proc

    def _log_has(self, proc: _Proc, text: str) -> bool:
        if proc.process.poll() is not None:
            raise TargetError(f"sandbox {proc.name} exited {proc.process.returncode}")
        return text in proc.log.read_text(errors="replace")

    def redis_answers(self) -> bool:
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start_redis(self) -> None:
        self.redis_proc = self._spawn("redis", self._redis_argv())
        if not wait_for(self.redis_answers, 15):
            raise TargetError(f"the sandbox redis-server on port {self.redis_port} did not start")

    def start(self) -> None:
        from bizlogic.store import migrations

        self.data.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.start_redis()
        migrations.upgrade(self.env["BL_DATABASE_URL"])
        api = self._spawn("api", [*CLI, "serve", "--port", str(self.api_port)])

        def live() -> bool:
            if api.process.poll() is not None:
                raise TargetError(f"sandbox api exited {api.process.returncode}")
            return httpx.get(f"{self.api_url}/livez", timeout=1).status_code == 200

        if not wait_for(live, START_TIMEOUT_S):
            raise TargetError("the sandbox API did not start")
        if self.drill == "disk-alert":
            self.receiver = WebhookReceiver()
        workers = [
            self._spawn(f"worker-{n}", [*CLI, "worker", "--processes", "1", "--metrics-port", "0"])
            for n in (1, 2)
        ]
        watch_env = {**self.env, "BL_ANALYSIS_TIMEOUT_S": str(self.watcher_limit_s)}
        watcher = self._spawn("recover", [*CLI, "recover", "watch"], env=watch_env)
        waits = [*((w, "worker_process_ready") for w in workers), (watcher, "recovery_leader")]
        for proc, line in waits:
            if not wait_for(lambda p=proc, t=line: self._log_has(p, t), START_TIMEOUT_S):
                raise TargetError(f"the sandbox {proc.name} did not get ready")

    def supervisors(self) -> list[int]:
        return [p.process.pid for p in self.procs if p.name.startswith("worker-")]

    def close(self) -> None:
        if self.receiver is not None:
            self.receiver.close()
        for proc in reversed(self.procs):
            if proc.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.process.pid, signal.SIGTERM)
                try:
                    proc.process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.process.pid, signal.SIGKILL)
                    proc.process.wait(STOP_TIMEOUT_S)
            with contextlib.suppress(ProcessLookupError):  # a worker process left behind
                os.killpg(proc.process.pid, signal.SIGKILL)
            proc.handle.close()
        self._shutdown_restarted_redis()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _shutdown_restarted_redis(self) -> None:
        """A Redis auto-recovery restarted runs detached: its pid file names it. Redis
        rewrites its process title to "redis-server 127.0.0.1:PORT"."""
        pidfile = self.dir / "redis-restarted.pid"
        if not pidfile.exists():
            return
        with contextlib.suppress(ValueError, OSError):
            pid = int(pidfile.read_text().strip())
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
            if f":{self.redis_port}".encode() in title:  # still ours, not a reused pid
                os.kill(pid, signal.SIGKILL)

    def log_excerpts(self, lines: int = 40) -> dict[str, str]:
        excerpts = {}
        for proc in self.procs:
            with contextlib.suppress(OSError):
                text = proc.log.read_text(errors="replace").splitlines()
                excerpts[proc.name] = "\n".join(text[-lines:])
        return excerpts

    def settings_shown(self) -> dict[str, Any]:
        shown = super().settings_shown()
        shown["analysis_timeout_s"] = {"workers": WORKER_LIMIT_S, "recovery": self.watcher_limit_s}
        shown["database"] = "given" if self.given_database_url else "sqlite in the sandbox"
        return shown

    # -- faults ---------------------------------------------------------------------------

    def can_inject(self, drill: str) -> bool:
        return drill != "runaway-analysis"  # its fault is the analysis itself

    def inject(self, drill: str, values: dict[str, str]) -> dict[str, Any]:
        if drill == "worker-kill":
            return faults.kill_worker(int(values["worker_pid"]), self.supervisors())
        if drill == "redis-stop":
            assert self.redis_proc is not None
            self.redis_proc.process.kill()
            self.redis_proc.process.wait(STOP_TIMEOUT_S)
            return {"stopped": "redis-server", "pid": self.redis_proc.process.pid}
        if drill == "pg-terminate":
            return faults.pg_terminate(self.env["BL_DATABASE_URL"])
        if drill == "disk-alert":
            return self._maintain("disk", **values)
        if drill == "cache-fill":
            return faults.fill_cache(
                self.redis_url, values["project"], int(values["amount_bytes"]), CACHE_MAXMEMORY
            )
        raise TargetError(f"{drill}: the sandbox has no injection for it")

    def can_restore(self, drill: str) -> bool:
        return drill in ("redis-stop", "cache-fill", "runaway-analysis")

    def restore(self, drill: str, values: dict[str, str]) -> dict[str, Any]:
        if drill == "redis-stop":
            if self.redis_answers():
                return {"restored": "nothing to do: Redis answers"}
            self.start_redis()
            return {"restored": "redis-server started again"}
        if drill == "cache-fill":
            return self._maintain("cache")
        if drill == "runaway-analysis":
            return faults.kill_worker(int(values["worker_pid"]), self.supervisors())
        raise TargetError(f"{drill}: the sandbox has nothing to restore")

    def _maintain(self, step: str, **env: str) -> dict[str, Any]:
        """`bizlogic maintain --only STEP --json` as the deployment's timer would run it."""
        argv = [*CLI, "maintain", "--only", step, "--json"]
        done = subprocess.run(
            argv,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = {"stderr": done.stderr[-500:]}
        return {
            "command": "bizlogic " + shlex.join(argv[3:]),
            "exit_code": done.returncode,
            "report": report,
        }
