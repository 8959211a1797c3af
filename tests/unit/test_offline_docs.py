"""The interactive API docs work without internet: no CDN in the page, assets served locally."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.settings import Settings


def test_docs_pages_load_their_assets_from_the_service(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, jwt_secret="s" * 40))
    with TestClient(app) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            assert "cdn." not in html and "https://" not in html.split("<body>")[0]
        docs = client.get("/docs").text
        assert "/static-offline-docs/swagger-ui-bundle.js" in docs
        script = client.get("/static-offline-docs/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000
        assert client.get("/static-offline-docs/swagger-ui.css").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"].startswith("bizlogic")
