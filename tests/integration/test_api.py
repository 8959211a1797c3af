"""The HTTP API on SQLite and on PostgreSQL: import → analyze → read → curate.

The app runs with its real lifespan (migrations, runner) through TestClient;
jobs run on the in-process runner and are polled with a timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics

SECRET = "test-secret-" + "x" * 40
BASE = "/api/business-logic"


@pytest.fixture(scope="module")
def demo_lines(tmp_path_factory) -> bytes:
    path: Path = tmp_path_factory.mktemp("api") / "records.jsonl"
    generate(path, 3000, seed=5)
    return path.read_bytes()


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, tmp_path) -> Iterator[TestClient]:
    url = (
        f"sqlite:///{tmp_path / 'api.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    if request.param == "postgresql":
        from bizlogic.store import migrations

        migrations.downgrade(url, "base")  # a clean schema for every test
    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret=SECRET, max_user_analyses=1)
    app = create_app(settings, metrics=Metrics(50))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _auth(role: str = "system_admin", user: str = "alice", projects=None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, user, role, projects)}"}


def _wait(client: TestClient, job_id: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"{BASE}/jobs/{job_id}", headers=_auth()).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s}s")


def _import(client: TestClient, body: bytes, project: str = "demo", **params) -> dict:
    response = client.post(
        f"{BASE}/projects/{project}/records",
        content=body,
        params=params,
        headers={**_auth(), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_import_is_idempotent_and_reports_counts(client, demo_lines):
    first = _import(client, demo_lines)
    assert (first["imported"], first["updated"], first["rejected"]) == (3000, 0, 0)
    lines = demo_lines.splitlines()
    changed = json.loads(lines[0])
    changed["sentiment"] = "neutral"
    again = _import(client, b"\n".join([json.dumps(changed).encode(), *lines[1:10]]))
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 1, 9)
    stats = client.get(f"{BASE}/stats/demo", headers=_auth()).json()
    assert stats["records"]["total"] == 3000


def test_bad_rows_default_and_strict(client):
    body = b'{"id": "a", "text": "fine"}\n{"id": "b", "text": ""}\nnot json\n'
    lenient = _import(client, body, project="p")
    assert (lenient["imported"], lenient["rejected"]) == (1, 2)
    assert [(e["location"], e["field"]) for e in lenient["errors"]] == [(2, "text"), (3, "json")]
    strict = client.post(
        f"{BASE}/projects/q/records",
        content=body,
        params={"strict": "true"},
        headers={**_auth(), "Content-Type": "application/x-ndjson"},
    )
    assert strict.status_code == 422
    assert strict.json()["error"]["code"] == "INVALID_REQUEST"
    assert client.get(f"{BASE}/stats/q", headers=_auth()).status_code == 404  # nothing created


def test_analysis_job_end_to_end_and_curation(client, demo_lines):
    _import(client, demo_lines)
    accepted = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert accepted.json()["status_url"] == f"{BASE}/jobs/{job_id}"
    job = _wait(client, job_id)
    assert job["status"] == "completed", job["error"]
    assert job["progress"] == 1.0 and job["results"]["rules"] > 0

    page = client.get(
        f"{BASE}/rules/demo", params={"rule_type": "keyword_sentiment"}, headers=_auth()
    ).json()
    assert page["total"] == len(page["rules"]) > 0
    keywords = {r["conditions"][0]["value"] for r in page["rules"]}
    assert {"refund", "excellent"} <= keywords
    rule_id = page["rules"][0]["id"]

    toggled = client.post(f"{BASE}/rules/{rule_id}/toggle", headers=_auth()).json()
    assert toggled["is_active"] is False
    active = client.get(
        f"{BASE}/rules/demo",
        params={"active_only": "true", "rule_type": "keyword_sentiment"},
        headers=_auth(),
    ).json()
    assert active["total"] == page["total"] - 1  # the cached read was invalidated

    bad = client.put(
        f"{BASE}/rules/{rule_id}/confidence", json={"confidence": 1.5}, headers=_auth()
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_REQUEST"
    ok = client.put(f"{BASE}/rules/{rule_id}/confidence", json={"confidence": 0.5}, headers=_auth())
    assert ok.status_code == 200 and ok.json()["confidence"] == 0.5

    insights = client.get(f"{BASE}/insights/demo", headers=_auth()).json()["insights"]
    acked = client.post(
        f"{BASE}/insights/{insights[0]['id']}/acknowledge", headers=_auth(user="bob")
    ).json()
    assert acked["acknowledged"] is True and acked["acknowledged_by"] == "bob"
    remaining = client.get(
        f"{BASE}/insights/demo", params={"unacknowledged_only": "true"}, headers=_auth()
    ).json()
    assert remaining["total"] == len(insights) - 1

    assert client.delete(f"{BASE}/rules/{rule_id}", headers=_auth()).status_code == 200
    assert client.delete(f"{BASE}/rules/{rule_id}", headers=_auth()).status_code == 404
    patterns = client.get(
        f"{BASE}/patterns/demo", params={"pattern_type": "change_point"}, headers=_auth()
    ).json()
    assert patterns["total"] >= 1

    metrics = client.get("/metrics").text
    assert (
        'bl_rules_extracted_total{algorithm="sentiment_correlation",project_id="demo"}' in metrics
    )
    assert 'route="/api/business-logic/rules/{project_id}"' in metrics


def test_per_user_cap_and_cancel(client, demo_lines):
    from bizlogic.store.jobs import create_job

    _import(client, demo_lines)
    state = client.app.state.bl
    with state.db.scope() as session:  # a queued job of alice's that no runner holds
        waiting = create_job(session, "demo", ["temporal_trends"], {}, requested_by="alice")
        waiting_id = waiting.job_id
    limited = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert limited.headers["Retry-After"] == "30"
    other_user = client.post(
        f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth(user="carol")
    )
    assert other_user.status_code == 202  # the cap is per user

    cancelled = client.delete(f"{BASE}/jobs/{waiting_id}", headers=_auth())
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert client.get(f"{BASE}/jobs/{waiting_id}", headers=_auth()).json()["status"] == "cancelled"
    job = _wait(client, other_user.json()["job_id"])
    assert job["status"] == "completed"
    finished = client.delete(f"{BASE}/jobs/{job['job_id']}", headers=_auth())
    assert finished.status_code == 409 and finished.json()["error"]["code"] == "CONFLICT"
    accepted = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"project_id": "demo", "min_confidence": 2}, "body.min_confidence"),
        ({"project_id": "demo", "analysis_types": []}, "body.analysis_types"),
        ({"min_support": 5}, "body.project_id"),
    ],
)
def test_analyze_validation_names_the_field(client, body, field):
    response = client.post(f"{BASE}/analyze", json=body, headers=_auth())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert field in [d["field"] for d in error["details"]]


def test_auth_and_project_limits(client, demo_lines):
    _import(client, demo_lines)
    assert client.get(f"{BASE}/rules/demo").status_code == 401
    viewer = _auth("viewer", projects=["demo"])
    assert client.get(f"{BASE}/rules/demo", headers=viewer).status_code == 200
    assert client.get(f"{BASE}/rules/other", headers=viewer).status_code == 403
    denied = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=viewer)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "FORBIDDEN"
    assert client.get(f"{BASE}/jobs/nope", headers=_auth()).status_code == 404
    assert client.get("/livez").json() == {"status": "ok"}
    health = client.get(f"{BASE}/health").json()
    assert health["service"] == "business-logic" and health["checks"]["database"]["status"] == "up"
    assert client.get("/readyz").status_code == 200


def test_upload_limit_answers_413(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'l.db'}",
        jwt_secret=SECRET,
        max_upload_mb=1,
    )
    with TestClient(create_app(settings, metrics=Metrics(50))) as small:
        big = b'{"text": "' + b"x" * (1024 * 1024) + b'"}\n'
        response = small.post(
            f"{BASE}/projects/p/records",
            content=big,
            headers={**_auth(), "Content-Type": "application/x-ndjson"},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "INVALID_REQUEST"
        assert small.get(f"{BASE}/stats/p", headers=_auth()).status_code == 404


def test_jobs_left_running_by_a_crash_are_rerun_or_failed(tmp_path, demo_lines):
    from bizlogic.records.importers import ImportOptions, iter_import
    from bizlogic.records.tokenizer import Tokenizer
    from bizlogic.store import migrations
    from bizlogic.store.annotations import upsert_records
    from bizlogic.store.db import Database
    from bizlogic.store.jobs import create_job, mark_running

    url = f"sqlite:///{tmp_path / 'crash.db'}"
    migrations.upgrade(url)
    db = Database(url)
    source = tmp_path / "r.jsonl"
    source.write_bytes(demo_lines)
    records = list(iter_import(source, ImportOptions()))
    tokenizer = Tokenizer()
    with db.scope() as session:
        upsert_records(
            session, "demo", records, [tokenizer.record_tokens(r.text, r.keywords) for r in records]
        )
        crashed = create_job(session, "demo", ["sentiment_correlation"], {}, requested_by="a")
        mark_running(session, crashed.job_id, "dead-host:1")
        hopeless = create_job(session, "demo", ["sentiment_correlation"], {}, requested_by="a")
        hopeless.attempts = 3
        mark_running(session, hopeless.job_id, "dead-host:1")
        ids = (crashed.job_id, hopeless.job_id)
    db.dispose()

    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret=SECRET)
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        rerun = _wait(client, ids[0])
        assert rerun["status"] == "completed" and rerun["attempts"] == 2
        failed = client.get(f"{BASE}/jobs/{ids[1]}", headers=_auth()).json()
        assert failed["status"] == "failed"
        assert failed["error"] == "interrupted 4 times (server restarts); giving up"


def test_detect_changes_between_stored_runs(client, demo_lines):
    _import(client, demo_lines)
    early = client.post(
        f"{BASE}/analyze",
        headers=_auth(),
        json={"project_id": "demo", "time_range": {"end": "2026-03-01T00:00:00Z"}},
    )
    _wait(client, early.json()["job_id"])
    none_yet = client.post(f"{BASE}/detect-changes", json={"project_id": "demo"}, headers=_auth())
    assert none_yet.status_code == 409 and none_yet.json()["error"]["code"] == "CONFLICT"
    full = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    _wait(client, full.json()["job_id"])
    changes = client.post(
        f"{BASE}/detect-changes", json={"project_id": "demo"}, headers=_auth()
    ).json()
    assert changes["before_job_id"] == early.json()["job_id"]
    assert changes["after_job_id"] == full.json()["job_id"]
    # The negative-share jump on 2026-03-16 only exists in the full period.
    assert any(p["data"]["sentiment"] == "negative" for p in changes["new_change_points"])
    same = client.post(
        f"{BASE}/detect-changes",
        headers=_auth(),
        json={
            "project_id": "demo",
            "before_job_id": full.json()["job_id"],
            "after_job_id": full.json()["job_id"],
        },
    ).json()
    assert same["has_changes"] is False
    missing = client.post(
        f"{BASE}/detect-changes",
        headers=_auth(),
        json={"project_id": "demo", "before_job_id": "nope", "after_job_id": full.json()["job_id"]},
    )
    assert missing.status_code == 404


def test_export_json_csv_yaml(client, demo_lines):
    import csv
    import io

    import yaml

    _import(client, demo_lines)
    job = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    _wait(client, job.json()["job_id"])
    rules = client.get(f"{BASE}/rules/demo", params={"limit": 1000}, headers=_auth()).json()

    as_json = client.post(f"{BASE}/export", json={"project_id": "demo"}, headers=_auth())
    assert as_json.status_code == 200
    assert as_json.headers["content-disposition"].startswith(
        'attachment; filename="bizlogic-demo.json"'
    )
    document = as_json.json()
    assert [r["id"] for r in document["rules"]] == [r["id"] for r in rules["rules"]]
    assert len(document["patterns"]) > 0 and len(document["insights"]) > 0

    as_yaml = client.post(
        f"{BASE}/export",
        json={"project_id": "demo", "format": "yaml", "include": ["rules"]},
        headers=_auth(),
    )
    parsed = yaml.safe_load(as_yaml.text)
    assert list(parsed) == ["project_id", "rules"] and len(parsed["rules"]) == rules["total"]

    as_csv = client.post(
        f"{BASE}/export", json={"project_id": "demo", "format": "csv"}, headers=_auth()
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert sum(r["kind"] == "rules" for r in rows) == rules["total"]
    viewer = client.post(f"{BASE}/export", json={"project_id": "demo"}, headers=_auth("viewer"))
    assert viewer.status_code == 403


def test_visualizations_from_stored_results(client, demo_lines):
    _import(client, demo_lines)
    job = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    _wait(client, job.json()["job_id"])
    views = {}
    for kind in ("rule_network", "pattern_timeline", "insight_dashboard", "correlation_matrix"):
        response = client.post(
            f"{BASE}/visualization",
            headers=_auth(),
            json={"project_id": "demo", "visualization_type": kind},
        )
        assert response.status_code == 200, response.text
        views[kind] = response.json()
    rules = client.get(f"{BASE}/rules/demo", params={"limit": 1000}, headers=_auth()).json()
    edges = sum(len(r["conditions"]) for r in rules["rules"])
    assert len(views["rule_network"]["edges"]) == edges
    assert "refund" in views["correlation_matrix"]["rows"]
    assert any(e["type"] == "change_point" for e in views["pattern_timeline"]["events"])
    insights = client.get(f"{BASE}/insights/demo", headers=_auth()).json()
    assert views["insight_dashboard"]["total"] == insights["total"]
    bad = client.post(
        f"{BASE}/visualization",
        headers=_auth(),
        json={"project_id": "demo", "visualization_type": "pie"},
    )
    assert bad.status_code == 422


def test_apply_copy_and_adapt(client, demo_lines):
    _import(client, demo_lines)
    job = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    _wait(client, job.json()["job_id"])
    rules = client.get(
        f"{BASE}/rules/demo", params={"rule_type": "keyword_sentiment"}, headers=_auth()
    ).json()["rules"]
    refund = next(r for r in rules if r["conditions"][0]["value"] == "refund")

    copied = client.post(
        f"{BASE}/apply",
        headers=_auth(),
        json={"rule_ids": [refund["id"]], "target_project_id": "copy-target", "mode": "copy"},
    )
    assert copied.status_code == 200, copied.text
    assert copied.json()["applied"][0]["confidence"] == refund["confidence"]
    target = client.get(f"{BASE}/rules/copy-target", headers=_auth()).json()
    assert target["total"] == 1 and target["rules"][0]["key"] == refund["key"]

    # adapt: re-measure on a project where 'refund' is positive in 3 of 4 texts
    other = b"\n".join(
        json.dumps(
            {
                "id": f"o{i}",
                "text": f"refund item {i}",
                "sentiment": "positive" if i % 4 else "negative",
            }
        ).encode()
        for i in range(40)
    )
    _import(client, other, project="other")
    adapted = client.post(
        f"{BASE}/apply",
        headers=_auth(),
        json={"rule_ids": [refund["id"]], "target_project_id": "other", "mode": "adapt"},
    ).json()
    measured = adapted["applied"][0]
    assert measured["confidence"] == 10 / 40 and measured["support_count"] == 10
    assert measured["source_confidence"] == refund["confidence"]
    stored = client.get(f"{BASE}/rules/other", headers=_auth()).json()["rules"][0]
    assert stored["confidence"] == 10 / 40 and stored["antecedent_count"] == 40

    empty = client.post(
        f"{BASE}/apply",
        headers=_auth(),
        json={"rule_ids": [refund["id"]], "target_project_id": "nothing-here", "mode": "adapt"},
    )
    assert empty.status_code == 422
    missing = client.post(
        f"{BASE}/apply", headers=_auth(), json={"rule_ids": [999999], "target_project_id": "other"}
    )
    assert missing.status_code == 404
    limited = _auth("business_expert", projects=["demo"])
    assert (
        client.post(
            f"{BASE}/apply",
            headers=limited,
            json={"rule_ids": [refund["id"]], "target_project_id": "other"},
        ).status_code
        == 403
    )


def test_rules_import_from_export(client, demo_lines):
    _import(client, demo_lines)
    job = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=_auth())
    _wait(client, job.json()["job_id"])
    total = client.get(f"{BASE}/rules/demo", headers=_auth()).json()["total"]
    exported = client.post(
        f"{BASE}/export",
        headers=_auth(),
        json={"project_id": "demo", "format": "yaml", "include": ["rules"]},
    )
    yaml_body = exported.content

    first = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "copy"},
        content=yaml_body,
        headers={**_auth(), "Content-Type": "application/yaml"},
    )
    assert first.status_code == 200, first.text
    assert (first.json()["imported"], first.json()["skipped"]) == (total, 0)
    again = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "copy"},
        content=yaml_body,
        headers={**_auth(), "Content-Type": "application/yaml"},
    )
    assert (again.json()["imported"], again.json()["skipped"]) == (0, total)
    override = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "copy", "conflict": "override"},
        content=yaml_body,
        headers={**_auth(), "Content-Type": "application/yaml"},
    )
    assert override.json()["replaced"] == total
    copied = client.get(f"{BASE}/rules/copy", params={"limit": 1000}, headers=_auth()).json()
    original = client.get(f"{BASE}/rules/demo", params={"limit": 1000}, headers=_auth()).json()
    assert sorted(r["key"] for r in copied["rules"]) == sorted(r["key"] for r in original["rules"])

    broken = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "fresh"},
        content=b'{"rules": [{"algorithm": "x"}]}',
        headers={**_auth(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["details"][0]["field"] == "rules[0]"
    assert client.get(f"{BASE}/rules/fresh", headers=_auth()).json()["total"] == 0
