"""Values a database cannot store get a 422 naming the field, never a 500.

PostgreSQL refuses NUL characters in text, VARCHAR(n) overflows and 32-bit
integer overflows with errors that used to surface as 500s (with the
offending record text in the logged SQL parameters). Checked on both
databases, through the real app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics

SECRET = "stored-values-secret-" + "y" * 40
BASE = "/api/business-logic"
WEBHOOK = "hook-" + "z" * 30
HOOK = {"Authorization": f"Bearer {WEBHOOK}"}
ADMIN = {"Authorization": f"Bearer {create_token(SECRET, 'ops', 'system_admin')}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, tmp_path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'values.db'}"
    else:
        from bizlogic.store import migrations

        url = request.getfixturevalue("postgres_url")
        migrations.downgrade(url, "base")
    settings = Settings(
        data_dir=tmp_path, database_url=url, jwt_secret=SECRET, webhook_token=WEBHOOK
    )
    with TestClient(create_app(settings, metrics=Metrics(50)), raise_server_exceptions=False) as c:
        response = c.post(
            f"{BASE}/projects/p/records",
            content=b'{"id": "r1", "text": "good service", "sentiment": "positive"}\n',
            headers={**ADMIN, "Content-Type": "application/x-ndjson"},
        )
        assert response.status_code == 200, response.text
        yield c


def _refused(response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert field in error["message"] or any(
        field in str(d.get("field", "")) for d in (error["details"] or [])
    ), error


@pytest.mark.parametrize("field", ["text", "id", "annotator", "sentiment", "keywords"])
def test_nul_in_record_fields_is_a_reject(client, field):
    record = {"id": "r2", "text": "fine", "annotator": "ann", "sentiment": "neutral"}
    record[field] = ["a\u0000b"] if field == "keywords" else "a\u0000b"
    response = client.post(
        f"{BASE}/projects/p/records",
        content=json.dumps(record).encode() + b"\n",
        headers={**ADMIN, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["imported"], result["rejected"]) == (0, 1)
    assert result["errors"][0]["field"] == field
    assert "NUL character" in result["errors"][0]["reason"]


def test_overlong_record_id_is_a_reject(client):
    record = {"id": "x" * 5000, "text": "fine"}
    response = client.post(
        f"{BASE}/projects/p/records",
        content=json.dumps(record).encode() + b"\n",
        headers={**ADMIN, "Content-Type": "application/x-ndjson"},
    )
    assert response.json()["errors"][0]["reason"] == "longer than 256 characters"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("get", "/rules/p%00x", {}, "path"),
        ("get", "/stats/p%00", {}, "path"),
        ("get", "/jobs/abc%00", {}, "path"),
        ("get", "/rules/p", {"params": {"rule_type": "a\u0000"}}, "query.rule_type"),
        ("post", "/analyze", {"json": {"project_id": "p\u0000"}}, "body.project_id"),
        ("post", "/projects/p%00/records", {"content": b"[]"}, "path"),
        (
            "post",
            "/export",
            {"json": {"project_id": "p", "format": "json", "x": ["ok", {"k": "\u0000"}]}},
            "body.x[1].k",
        ),
    ],
)
def test_nul_in_urls_and_bodies(client, method, path, kwargs, field):
    response = getattr(client, method)(f"{BASE}{path}", headers=ADMIN, **kwargs)
    _refused(response, field)


def test_nul_and_long_values_in_alerts(client):
    alert = {
        "status": "firing",
        "labels": {"alertname": "BLHighMemoryUsage", "severity": "s" * 100_000},
        "annotations": {},
        "startsAt": "2026-12-06T10:00:00+01:00",
        "fingerprint": "f1",
    }
    payload = {"version": "4", "status": "firing", "alerts": [alert]}
    assert client.post(f"{BASE}/alerts", json=payload, headers=HOOK).status_code == 200
    same_instant = {**alert, "startsAt": "2026-12-06T09:00:00Z"}
    again = client.post(f"{BASE}/alerts", json={**payload, "alerts": [same_instant]}, headers=HOOK)
    assert again.json()["duplicates"] == 1  # one instant, spelled two ways: one event
    nul = {**alert, "fingerprint": "f\u0000"}
    refused = client.post(f"{BASE}/alerts", json={**payload, "alerts": [nul]}, headers=HOOK)
    _refused(refused, "fingerprint")


def _rule(**changes) -> dict:
    rule = {
        "algorithm": "sentiment_correlation",
        "rule_type": "keyword_sentiment",
        "conditions": [{"field": "keywords", "operator": "contains", "value": "good"}],
        "consequent": {"field": "sentiment", "operator": "eq", "value": "positive"},
        "support_count": 5, "support": 0.1, "antecedent_count": 6, "consequent_count": 20,
        "n_records": 50, "confidence": 0.8, "lift": 2.0, "leverage": 0.05,
        "conviction": 2.5, "p_value": 0.01, "q_value": 0.02,
    }  # fmt: skip
    rule.update(changes)
    return rule


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rule_type": "t\u0000"}, "rules[0].rule_type"),
        ({"algorithm": "a" * 10_000}, "rules[0].algorithm"),
        ({"support_count": 2**40}, "rules[0].support_count"),
        ({"confidence": "nan"}, "rules[0].confidence"),
        ({"confidence": 1.5}, "rules[0].confidence"),
        ({"lift": "-inf", "leverage": "inf"}, "rules[0].leverage"),
        ({"support_count": "7"}, "rules[0]"),
        ({"examples": ["e\u0000"]}, "rules[0].examples[0]"),
    ],
)
def test_rules_import_refuses_unstorable_values(client, changes, field):
    response = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "p"},
        content=json.dumps({"rules": [_rule(**changes)]}).encode(),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    _refused(response, field)
    listed = client.get(f"{BASE}/rules/p", headers=ADMIN).json()
    assert listed["total"] == 0  # nothing half-imported


def test_the_valid_rule_imports(client):
    response = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "p"},
        content=json.dumps({"rules": [_rule()]}).encode(),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.json()["imported"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_support": 1e23}, "min_support"),
        ({"min_support": 2**40}, "min_support"),
        ({"min_confidence": "nan"}, "min_confidence"),
        ({"max_rules": -1}, "max_rules"),
    ],
)
def test_analysis_parameters_out_of_range(client, changes, field):
    response = client.post(f"{BASE}/analyze", json={"project_id": "p", **changes}, headers=ADMIN)
    _refused(response, field)
