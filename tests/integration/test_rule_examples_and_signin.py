"""The records behind a rule (GET /rules/{id}/examples) and one-time sign-in links
(store and POST /signin), through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.store import clock, migrations
from bizlogic.store.db import Database
from bizlogic.store.signin import Grant, create_link, redeem
from bizlogic.store.tables import SigninLink
from bizlogic.telemetry.metrics import Metrics
from tests.polling import poll

SECRET = "examples-secret-" + "q" * 40
BASE = "/api/business-logic"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ex.db'}"
    url = request.getfixturevalue("postgres_url")
    migrations.downgrade(url, "base")
    return url


@pytest.fixture
def client(database_url, tmp_path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, jwt_secret=SECRET)
    with TestClient(create_app(settings, metrics=Metrics(50))) as test_client:
        yield test_client


def bearer(role: str = "business_expert", projects: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, 'u1', role, projects)}"}


def test_examples_are_the_rules_records_with_their_keywords(client, tmp_path):
    records = tmp_path / "r.jsonl"
    generate(records, 2000, seed=5)
    by_id = {
        row["id"]: row for row in map(json.loads, records.read_text().splitlines())
    }
    sent = client.post(
        f"{BASE}/projects/ex/records",
        content=records.read_bytes(),
        headers={**bearer(), "Content-Type": "application/x-ndjson"},
    )
    assert sent.status_code == 200 and sent.json()["imported"] == len(by_id), sent.text
    job = client.post(f"{BASE}/analyze", json={"project_id": "ex"}, headers=bearer()).json()

    def finished() -> dict[str, Any] | None:
        state = client.get(f"{BASE}/jobs/{job['job_id']}", headers=bearer()).json()
        return state if state["status"] in ("completed", "failed") else None

    assert poll(finished, 120, "the analysis")["status"] == "completed"
    rules = client.get(f"{BASE}/rules/ex", params={"limit": 1000}, headers=bearer()).json()
    keyword_rules = [
        r for r in rules["rules"] if any(c["field"] == "text" for c in r["conditions"])
    ]
    assert keyword_rules
    for rule in keyword_rules[:5]:
        shown = client.get(f"{BASE}/rules/{rule['id']}/examples", headers=bearer()).json()
        words = [c["value"] for c in rule["conditions"] if c["field"] == "text"]
        assert shown["keywords"] == words and shown["missing"] == []
        assert [e["id"] for e in shown["examples"]] == rule["examples"]
        for example in shown["examples"]:
            original = by_id[example["id"]]
            assert example["text"] == original["text"]
            assert example["sentiment"] == original.get("sentiment")
            assert all(w.lower() in example["text"].lower() for w in words)
    rule_id = keyword_rules[0]["id"]
    other = client.get(f"{BASE}/rules/{rule_id}/examples", headers=bearer(projects=["other"]))
    unknown = client.get(f"{BASE}/rules/987654/examples", headers=bearer())
    # a rule of a project outside the token is answered exactly like a missing one
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"]["message"] == f"rule {rule_id} not found"
    viewer = client.get(f"{BASE}/rules/{rule_id}/examples", headers=bearer("viewer"))
    assert viewer.status_code == 200
    assert client.get(f"{BASE}/rules/{rule_id}/examples").status_code == 401


def test_a_sign_in_link_is_redeemed_once_and_expires(client, database_url):
    migrations.upgrade(database_url)
    db = Database(database_url)
    try:
        grant = Grant("alice", "data_analyst", ["p1", "p2"], 3600)
        code = create_link(db, grant)
        with db.scope() as session:
            [stored] = session.query(SigninLink).all()
            assert code not in (stored.code_hash, stored.user_id)  # only its hash is kept
        answer = client.post(f"{BASE}/signin", json={"code": code})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"], audience=None)
        assert (claims["sub"], claims["role"], claims["projects"]) == (
            "alice",
            "data_analyst",
            ["p1", "p2"],
        )
        assert claims["exp"] - claims["iat"] == 3600
        again = client.post(f"{BASE}/signin", json={"code": code})
        assert again.status_code == 401 and again.json()["error"]["code"] == "UNAUTHORIZED"

        late = create_link(db, grant)
        with db.scope() as session:
            session.execute(
                update(SigninLink).values(expires_at=clock.utcnow() - timedelta(seconds=1))
            )
        assert client.post(f"{BASE}/signin", json={"code": late}).status_code == 401
        with db.scope() as session:
            assert session.query(SigninLink).count() == 0  # used and expired: both gone

        raced = create_link(db, grant)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: redeem(db, raced), range(4)))
        assert sum(r is not None for r in results) == 1  # one tab gets the token
    finally:
        db.dispose()
