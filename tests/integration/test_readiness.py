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
