"""/metrics names projects in its labels: behind BL_METRICS_TOKEN when that is set."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics

TOKEN = "scrape-" + "m" * 32


def _client(tmp_path, **settings) -> TestClient:
    app_settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'm.db'}", jwt_secret="j" * 40,
        **settings,
    )  # fmt: skip
    return TestClient(create_app(app_settings, metrics=Metrics(50)), raise_server_exceptions=False)


def test_metrics_are_open_without_a_token_setting(tmp_path):
    with _client(tmp_path) as client:
        assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong", 401), (f"Basic {TOKEN}", 401), (f"Bearer {TOKEN}", 200)],
)
def test_metrics_token(tmp_path, header, status):
    with _client(tmp_path, metrics_token=TOKEN) as client:
        response = client.get("/metrics", headers={"Authorization": header} if header else {})
        assert response.status_code == status
        if status == 401:
            assert response.json()["error"]["code"] == "UNAUTHORIZED"
            assert TOKEN not in response.text
        else:
            assert "bl_db_pool_size 5.0" in response.text
