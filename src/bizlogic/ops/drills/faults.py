"""Fault injection: the configured commands of a target (argument lists, no shell) and
the sandbox's own injections, each returning what it did for the timeline."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any

import psutil
from sqlalchemy.engine import make_url

from bizlogic.ops.drills.config import expand

COMMAND_TIMEOUT_S = 120
TERMINATE_SQL = (
    "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = "
    "'client backend'"
)
BACKENDS_SQL = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
    "AND application_name <> 'bizlogic-drill'"
)


class InjectionError(RuntimeError):
    """A fault could not be injected (the command failed, the process is not ours)."""


def run_configured(argv: list[str], values: dict[str, str]) -> dict[str, Any]:
    """Run one configured command with its placeholders filled; InjectionError unless
    it exits 0. Its output is kept (the tail), for the report."""
    command = expand(argv, values)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InjectionError(f"{command[0]}: {exc}") from None
    result = {
        "command": command,
        "exit_code": done.returncode,
        "output": (done.stdout + done.stderr)[-500:],
    }
    if done.returncode != 0:
        raise InjectionError(f"{' '.join(command)} exited {done.returncode}: {result['output']}")
    return result


def kill_worker(pid: int, supervisors: list[int]) -> dict[str, Any]:
    """SIGKILL a worker process, only if one of ``supervisors`` (the sandbox's) is its parent."""
    try:
        parent = psutil.Process(pid).ppid()
    except psutil.NoSuchProcess:
        raise InjectionError(f"worker process {pid} is gone already") from None
    if parent not in supervisors:
        raise InjectionError(f"process {pid} is not a worker of this sandbox; not touched")
    os.kill(pid, signal.SIGKILL)
    return {"signal": "SIGKILL", "pid": pid}


def _conninfo(database_url: str) -> str:
    """A libpq URL from the SQLAlchemy one (``postgresql+psycopg://`` → ``postgresql://``)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def pg_backends(database_url: str) -> set[int]:
    """The client connections to the database now, besides the one asking."""
    import psycopg

    with psycopg.connect(
        _conninfo(database_url),
        autocommit=True,
        connect_timeout=5,
        application_name="bizlogic-drill",
    ) as conn:
        return {int(row[0]) for row in conn.execute(BACKENDS_SQL)}


def pg_terminate(database_url: str) -> dict[str, Any]:
    """pg_terminate_backend on every client connection to the database but our own."""
    import psycopg

    with psycopg.connect(
        _conninfo(database_url),
        autocommit=True,
        connect_timeout=5,
        application_name="bizlogic-drill",
    ) as conn:
        rows = conn.execute(TERMINATE_SQL).fetchall()
    return {"terminated": sorted(int(pid) for pid, done in rows if done)}


CACHE_VALUE_BYTES = 64 * 1024  # about an analysis result's cached page
CACHE_TTL_MS = 3_600_000  # like every cache entry, the drill's keys expire


def fill_cache(redis_url: str, project: str, amount_bytes: int, maxmemory: int) -> dict[str, Any]:
    """Cache-sized ``bl:`` keys of version 1 of ``project``, whose current version is made
    2: every key written is obsolete, which maintain's cache step removes. Stops at
    ``amount_bytes`` or when Redis refuses more (maxmemory with nothing evictable)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    value = os.urandom(CACHE_VALUE_BYTES)
    written = keys = 0
    stopped = "amount"
    try:
        evicted_before = int(client.info("stats").get("evicted_keys", 0))
        client.set(f"bl:{project}:version", 2)
        with contextlib.suppress(redis.ResponseError):
            while written < amount_bytes:
                with client.pipeline(transaction=False) as pipe:
                    for _ in range(16):
                        pipe.set(f"bl:{project}:v1:drill:{keys:016x}", value, px=CACHE_TTL_MS)
                        keys += 1
                    pipe.execute()
                written += 16 * CACHE_VALUE_BYTES
        if written < amount_bytes:
            stopped = "maxmemory"
        evicted = int(client.info("stats").get("evicted_keys", 0)) - evicted_before
        used = int(client.info("memory").get("used_memory", 0))
    finally:
        client.close()
    return {
        "keys_written": keys,
        "bytes_written": written,
        "stopped_by": stopped,
        "evicted_keys": evicted,
        "used_memory": used,
        "maxmemory": maxmemory,
    }


def obsolete_keys(redis_url: str, project: str) -> int:
    """The project's cache keys of a version older than its current one (SCAN, never KEYS)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        current = int(client.get(f"bl:{project}:version") or 0)
        count = 0
        for key in client.scan_iter(match=f"bl:{project}:v*", count=1000):
            version = key.decode().split(":")[2][1:]
            if version.isdigit() and int(version) < current:
                count += 1
        return count
    finally:
        client.close()
