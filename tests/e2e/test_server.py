"""`bizlogic serve` as a real process on a free port, driven over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bizlogic.records.synthetic import generate

BASE = "/api/business-logic"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _until(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path):
    exe = str(Path(sys.executable).with_name("bizlogic"))
    port = _free_port()
    env = {**os.environ, "BL_DATA_DIR": str(tmp_path / "data")}
    env.pop("BL_DATABASE_URL", None)
    env.pop("BL_JWT_SECRET", None)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [exe, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def alive():
        try:
            return httpx.get(f"{url}/livez", timeout=1).status_code == 200
        except httpx.TransportError:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            return False

    try:
        _until(alive, 60, "the server to start")
        token = (
            subprocess.run(
                [exe, "token", "create", "--user", "e2e", "--role", "business_expert"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        yield url, {"Authorization": f"Bearer {token}"}, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_import_analyze_read_over_http(server):
    url, auth, tmp_path = server
    data = tmp_path / "records.jsonl"
    generate(data, 8000, seed=9)
    with httpx.Client(base_url=url, headers=auth, timeout=60) as client:
        imported = client.post(
            f"{BASE}/projects/shop/records",
            content=data.read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200 and imported.json()["imported"] == 8000
        accepted = client.post(f"{BASE}/analyze", json={"project_id": "shop"})
        assert accepted.status_code == 202
        status_url = accepted.json()["status_url"]

        def done():
            job = client.get(status_url).json()
            return job if job["status"] in ("completed", "failed", "cancelled") else None

        job = _until(done, 120, "the analysis")
        assert job["status"] == "completed", job["error"]
        rules = client.get(f"{BASE}/rules/shop", params={"rule_type": "keyword_sentiment"})
        assert {"refund", "excellent"} <= {
            r["conditions"][0]["value"] for r in rules.json()["rules"]
        }
        unauthorized = httpx.get(f"{url}{BASE}/rules/shop")
        assert unauthorized.status_code == 401
        assert unauthorized.json()["error"]["code"] == "UNAUTHORIZED"
        metrics = httpx.get(f"{url}/metrics").text
        assert 'bl_analysis_requests_total{algorithm="user_behavior",project_id="shop"' in metrics
        total = client.get(f"{BASE}/rules/shop").json()["total"]
    # The rules verbs of the CLI, as a user runs them against this server.
    exe = str(Path(sys.executable).with_name("bizlogic"))
    env = {**os.environ, "BL_URL": url, "BL_TOKEN": auth["Authorization"].split()[1]}
    listed = subprocess.run(
        [exe, "rules", "list", "shop", "--json"], env=env, capture_output=True, check=True
    )
    assert json.loads(listed.stdout)["total"] == total
    export = tmp_path / "shop-rules.yaml"
    subprocess.run(
        [exe, "rules", "export", "shop", "--format", "yaml", "--include", "rules", "-o", export],
        env=env,
        check=True,
    )
    imported = subprocess.run(
        [exe, "rules", "import", export, "--project", "copy"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == f"copy: {total} imported, 0 replaced, 0 skipped"
    secret = tmp_path / "data" / "jwt_secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    log_text = (tmp_path / "server.log").read_text()
    assert auth["Authorization"].split()[1] not in log_text  # the token never reaches a log


def test_health_and_import_commands(server, tmp_path):
    url, _auth, _ = server
    exe = str(Path(sys.executable).with_name("bizlogic"))
    healthy = subprocess.run(
        [exe, "health", "--url", url], capture_output=True, text=True, check=False
    )
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy — database up")
    down = subprocess.run(
        [exe, "health", "--url", "http://127.0.0.1:9"], capture_output=True, text=True, check=False
    )
    assert down.returncode == 1 and "no health answer" in down.stderr

    data = tmp_path / "cli.jsonl"
    data.write_text('{"id": "a", "text": "refund now"}\n{"id": "b", "text": ""}\n', "utf-8")
    env = {**os.environ, "BL_DATA_DIR": str(tmp_path / "cli-data")}
    env.pop("BL_DATABASE_URL", None)
    strict = subprocess.run(
        [exe, "import", str(data), "--project", "p", "--strict"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert strict.returncode == 1 and "nothing was imported" in strict.stderr
    first = subprocess.run(
        [exe, "import", str(data), "--project", "p"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 3  # partial: one row rejected, the other stored
    assert first.stdout.strip() == "p: 1 imported, 0 updated, 0 unchanged, 1 rejected"
    again = subprocess.run(
        [exe, "import", str(data), "--project", "p"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 3
    assert again.stdout.strip() == "p: 0 imported, 0 updated, 1 unchanged, 1 rejected"


def test_schemathesis_finds_no_server_error(server):
    """Property-based requests from the OpenAPI schema: no input may produce a 5xx."""
    url, auth, tmp_path = server
    data = tmp_path / "few.jsonl"
    generate(data, 1000, seed=2)
    httpx.post(
        f"{url}{BASE}/projects/demo/records",
        content=data.read_bytes(),
        headers={**auth, "Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    exe = str(Path(sys.executable).with_name("schemathesis"))
    done = subprocess.run(
        [
            exe,
            "run",
            f"{url}/openapi.json",
            "-H",
            f"Authorization: {auth['Authorization']}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "20261128",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout
