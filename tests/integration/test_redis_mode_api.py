"""The API with BL_REDIS_URL: reads cached in Redis, and a Redis outage costs no request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics
from tests.polling import poll

SECRET = "redis-mode-" + "s" * 40
BASE = "/api/business-logic"
AUTH = {"Authorization": f"Bearer {create_token(SECRET, 'ops', 'system_admin')}"}
RECORDS = b"".join(
    b'{"id": "r%d", "text": "refund broken item %d", "sentiment": "negative"}\n' % (i, i)
    for i in range(20)
)


def test_reads_are_cached_in_redis_and_survive_an_outage(redis_server, tmp_path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'r.db'}",
        jwt_secret=SECRET,
        redis_url=redis_server.url,
    )
    metrics = Metrics(50)
    with TestClient(create_app(settings, metrics=metrics)) as client:
        imported = client.post(
            f"{BASE}/projects/p/records",
            content=RECORDS,
            headers={**AUTH, "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200 and imported.json()["imported"] == 20
        first = client.get(f"{BASE}/stats/p", headers=AUTH)
        second = client.get(f"{BASE}/stats/p", headers=AUTH)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        keys = {k.decode() for k in redis_server.client().keys("bl:*")}
        [value_key] = keys - {"bl:p:version"}
        assert "bl:p:version" in keys and value_key.startswith("bl:p:v1:stats:")
        assert client.app.state.bl.cache.hits == 1

        redis_server.stop()
        during = client.get(f"{BASE}/stats/p", headers=AUTH)
        assert during.status_code == 200 and during.json() == first.json()
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["cache"]["status"] == "degraded"
        health = client.get(f"{BASE}/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"

        redis_server.start()
        poll(
            lambda: client.get("/readyz").json()["checks"]["cache"]["status"] == "up",
            20,
            "the cache to report up after Redis returned",
        )
        assert client.get(f"{BASE}/stats/p", headers=AUTH).json() == first.json()
