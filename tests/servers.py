"""Real bizlogic processes for tests: the CLI, a server, workers, driven from outside."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.polling import poll

EXE = str(Path(sys.executable).with_name("bizlogic"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment without any BL_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BL_")}
    return {**env, "BL_DATA_DIR": str(data_dir), "COLUMNS": "200", **extra}


def worker_process(env: dict[str, str], nonce: str | None) -> subprocess.Popen[bytes]:
    """One worker process as `bizlogic worker` starts it, ``nonce`` in its exec environment."""
    from bizlogic.jobs.identity import NONCE_ENV, WORKER_ARGS

    proof = {NONCE_ENV: nonce} if nonce else {}
    return subprocess.Popen(
        [sys.executable, *WORKER_ARGS],
        env={**env, **proof},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def bizlogic(env: dict[str, str], *args: str, timeout_s: float = 120):
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=timeout_s)


def admin_headers(env: dict[str, str]) -> dict[str, str]:
    made = bizlogic(env, "token", "create", "--user", "ops", "--role", "system_admin")
    assert made.returncode == 0, made.stderr
    return {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}


class Server:
    """`bizlogic serve` on a free port, started and stopped as a real process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [EXE, "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        poll(self._alive, 60, "the server to start")

    def _alive(self) -> bool:
        assert self.process.poll() is None, "the server exited"
        try:
            return httpx.get(f"{self.url}/livez", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def metric(self, name: str) -> float:
        for line in httpx.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.log.close()


def system_tool(name: str, package: str) -> str:
    """The path of a system binary the test needs; with CI=true a missing one fails the run
    (scripts/test-prereqs.sh installs it), otherwise the test is skipped."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is missing; CI=true requires it (Debian package {package})")
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return found
