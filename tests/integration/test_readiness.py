"""Readiness follows the database: 503 while PostgreSQL refuses connections, 200 again after."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import fresh_pg_database


@pytest.fixture
def own_database() -> Iterator[tuple[object, str, str]]:
    """A database of this test's own, since the test locks everyone out of it."""
    with fresh_pg_database("bl_ready") as database:
        yield database


def _poll(client: TestClient, status: int, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/readyz")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readyz_is_503_while_the_database_refuses_and_recovers(own_database, tmp_path) -> None:
    admin, name, url = own_database
    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret="s" * 48)
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        assert _poll(client, 200).status_code == 200
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        down = _poll(client, 503)
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["status"] == "down"
        assert body["checks"]["database"]["error"] == "OperationalError"
        assert client.get("/livez").status_code == 200  # the process itself is fine
        health = client.get("/api/business-logic/health")
        assert health.status_code == 503 and health.json()["status"] == "unhealthy"

        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        up = _poll(client, 200)
        assert up.status_code == 200 and up.json()["checks"]["database"]["status"] == "up"


def test_killed_connections_reconnect_and_an_outage_is_503(own_database, tmp_path) -> None:
    """pg_terminate_backend on the service's connections costs no request (pre-ping);
    while the database refuses connections, requests get 503, never 500."""
    from bizlogic.api.auth import create_token

    admin, name, url = own_database
    secret = "s" * 48
    auth = {"Authorization": f"Bearer {create_token(secret, 'ops', 'system_admin')}"}
    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret=secret)
    records = b'{"id": "a", "text": "refund late", "sentiment": "negative"}\n'
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        imported = client.post(
            "/api/business-logic/projects/p/records",
            content=records,
            headers={**auth, "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchone()[0]
        assert killed >= 1  # the pool held connections, now all dead
        # Distinct parameters: a cached answer would not touch the database.
        after_kill = client.get("/api/business-logic/rules/p?limit=7", headers=auth)
        assert after_kill.status_code == 200

        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        down = client.get("/api/business-logic/rules/p?limit=8", headers=auth)
        assert down.status_code == 503
        assert down.headers["retry-after"] == "5"
        body = down.json()["error"]
        assert body["code"] == "SERVICE_UNAVAILABLE"
        assert body["details"]["request_id"] == down.headers["x-request-id"]
        assert url.split("@")[0] not in down.text  # no connection details leak

        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        back = client.get("/api/business-logic/rules/p?limit=9", headers=auth)
        assert back.status_code == 200
