"""The audit trail through the real app, SQLite and PostgreSQL: every mutating route
writes exactly one ``audit_events`` row naming who did what, a refused request writes
none, and GET /audit shows each caller the events it may see.

Rows are read straight from the table, not through the code that writes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, get_args

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.jobs.queue import QueueUnavailable
from bizlogic.mining.model import Condition, Rule
from bizlogic.mining.registry import ALGORITHM_NAMES
from bizlogic.settings import Settings
from bizlogic.store import audit, migrations
from bizlogic.store.audit import AuditAction
from bizlogic.store.jobs import create_job
from bizlogic.store.results import upsert_rule
from bizlogic.store.tables import AnalysisJob, AuditEvent, InsightRow
from bizlogic.telemetry.metrics import Metrics

SECRET = "audit-secret-" + "q" * 40
BASE = "/api/business-logic"
RECORDS = "\n".join(
    json.dumps({"id": f"r{i}", "text": f"late refund {i}", "sentiment": "negative"})
    for i in range(3)
).encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, tmp_path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        migrations.downgrade(url, "base")  # a clean schema for every test
    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret=SECRET)
    with TestClient(
        create_app(settings, metrics=Metrics(50)), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def _token(role: str, user: str, projects=None) -> str:
    return create_token(SECRET, user, role, projects)


def _auth(role: str = "system_admin", user: str = "alice", projects=None) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(role, user, projects)}"}


def _rows(client: TestClient) -> list[dict[str, Any]]:
    """Every audit row, oldest first, read from the table itself."""
    with client.app.state.bl.db.scope() as session:
        result = session.execute(sa.select(AuditEvent.__table__).order_by(AuditEvent.id))
        return [dict(row._mapping) for row in result]


class Trail:
    """The rows added since the last look."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seen = len(_rows(client))

    def new(self) -> list[dict[str, Any]]:
        rows = _rows(self.client)
        added, self.seen = rows[self.seen :], len(rows)
        return added

    def one(self, **expected: Any) -> dict[str, Any]:
        """Exactly one new row, with these column values."""
        added = self.new()
        assert len(added) == 1, added
        row = added[0]
        assert {key: row[key] for key in expected} == expected
        return row

    def none(self) -> None:
        assert self.new() == []


def _rule(word: str, confidence: float = 0.8) -> Rule:
    return Rule(
        algorithm="sentiment_correlation",
        rule_type="keyword_sentiment",
        conditions=(Condition("text", "contains", word),),
        consequent=Condition("sentiment", "eq", "negative"),
        support_count=10,
        support=0.1,
        antecedent_count=12,
        consequent_count=40,
        n_records=100,
        confidence=confidence,
        lift=2.0,
        leverage=0.05,
        conviction=3.0,
        p_value=1e-4,
        q_value=1e-3,
    )


def _seed(client: TestClient) -> tuple[list[int], int]:
    """Two rules and one open insight in project r; (rule ids, insight id)."""
    with client.app.state.bl.db.scope() as session:
        ids = [upsert_rule(session, "r", _rule(word)).id for word in ("late", "refund")]
        insight = InsightRow(
            project_id="r",
            algorithm="sentiment_correlation",
            insight_key="k",
            insight_type="pattern_insight",
            title="t",
            description="d",
            impact_score=0.5,
            recommendations=[],
            evidence={},
        )
        session.add(insight)
        session.flush()
        return ids, insight.id


def _queued_job(client: TestClient, project: str) -> str:
    """A queued job no runner holds, so it can be cancelled deterministically."""
    with client.app.state.bl.db.scope() as session:
        return create_job(session, project, ["temporal_trends"], {}, requested_by="ann").job_id


def _wait_finished(client: TestClient, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with client.app.state.bl.db.scope() as session:
            if session.get(AnalysisJob, job_id).status not in ("queued", "running"):
                return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_every_mutating_route_writes_one_event(client):
    (late, refund), insight_id = _seed(client)
    trail = Trail(client)
    analyst, expert, admin = "data_analyst", "business_expert", "system_admin"

    imported = client.post(
        f"{BASE}/projects/a/records",
        content=RECORDS,
        headers={**_auth(analyst, "ann"), "Content-Type": "application/x-ndjson"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["format"] == "jsonl"
    trail.one(
        user_id="ann",
        role=analyst,
        action="records.import",
        project_id="a",
        target=None,
        details={
            "format": "jsonl",
            "strict": False,
            "received": 3,
            "imported": 3,
            "updated": 0,
            "rejected": 0,
        },
    )

    started = client.post(
        f"{BASE}/analyze",
        json={"project_id": "a", "min_confidence": 0.6},
        headers=_auth(analyst, "ann"),
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    row = trail.one(
        user_id="ann", role=analyst, action="analysis.start", project_id="a", target=job_id
    )
    shown = client.get(f"{BASE}/jobs/{job_id}", headers=_auth()).json()
    assert row["details"] == {
        "algorithms": list(ALGORITHM_NAMES),
        "parameters": shown["parameters"],
    }
    assert row["details"]["parameters"]["min_confidence"] == 0.6
    assert "_role" not in row["details"]["parameters"]
    _wait_finished(client, job_id)

    waiting = _queued_job(client, "a")
    cancelled = client.delete(f"{BASE}/jobs/{waiting}", headers=_auth(analyst, "ann"))
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    trail.one(
        user_id="ann",
        action="job.cancel",
        project_id="a",
        target=waiting,
        details={"before": "queued", "after": "cancelled"},
    )

    confidence = client.put(
        f"{BASE}/rules/{late}/confidence", json={"confidence": 0.5}, headers=_auth(expert, "exp")
    )
    assert confidence.status_code == 200
    trail.one(
        user_id="exp",
        role=expert,
        action="rule.confidence",
        project_id="r",
        target=str(late),
        details={"before": 0.8, "after": 0.5},
    )

    toggled = client.post(f"{BASE}/rules/{late}/toggle", headers=_auth(expert, "exp"))
    assert toggled.status_code == 200 and toggled.json()["is_active"] is False
    trail.one(
        user_id="exp",
        action="rule.toggle",
        project_id="r",
        target=str(late),
        details={"before": True, "after": False},
    )
    set_on = client.post(
        f"{BASE}/rules/{late}/toggle", json={"is_active": True}, headers=_auth(expert, "exp")
    )
    assert set_on.status_code == 200
    trail.one(action="rule.toggle", target=str(late), details={"before": False, "after": True})

    acknowledged = client.post(
        f"{BASE}/insights/{insight_id}/acknowledge", headers=_auth(analyst, "ann")
    )
    assert acknowledged.status_code == 200
    trail.one(
        user_id="ann",
        action="insight.acknowledge",
        project_id="r",
        target=str(insight_id),
        details={"before": False, "after": True},
    )

    exported = client.post(
        f"{BASE}/export",
        json={"project_id": "r", "format": "json", "include": ["rules", "insights"]},
        headers=_auth(analyst, "ann"),
    )
    assert exported.status_code == 200
    trail.one(
        user_id="ann",
        action="data.export",
        project_id="r",
        target=None,
        details={
            "format": "json",
            "include": ["rules", "insights"],
            "counts": {"rules": 2, "insights": 1},
        },
    )

    rules_import = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "r2"},
        content=exported.content,
        headers={**_auth(expert, "exp"), "Content-Type": "application/json"},
    )
    assert rules_import.status_code == 200, rules_import.text
    trail.one(
        user_id="exp",
        action="rules.import",
        project_id="r2",
        target=None,
        details={
            "format": "json",
            "conflict": "skip",
            "received": 2,
            "imported": 2,
            "replaced": 0,
            "skipped": 0,
        },
    )

    applied = client.post(
        f"{BASE}/apply",
        json={"rule_ids": [refund, late, refund], "target_project_id": "r3"},
        headers=_auth(expert, "exp"),
    )
    assert applied.status_code == 200, applied.text
    trail.one(
        user_id="exp",
        action="rules.apply",
        project_id="r3",
        target=None,
        details={
            "rule_ids": [refund, late],
            "target_project_id": "r3",
            "mode": "copy",
            "target_rule_ids": [a["target_rule_id"] for a in applied.json()["applied"]],
        },
    )

    key = client.get(f"{BASE}/rules/r", headers=_auth()).json()["rules"]
    refund_rule = next(r for r in key if r["id"] == refund)
    deleted = client.delete(f"{BASE}/rules/{refund}", headers=_auth(expert, "exp"))
    assert deleted.status_code == 200
    trail.one(
        user_id="exp",
        action="rule.delete",
        project_id="r",
        target=str(refund),
        details={
            "rule_key": refund_rule["key"],
            "algorithm": "sentiment_correlation",
            "pattern": refund_rule["pattern"],
        },
    )

    paused = client.post(
        f"{BASE}/recovery/pause", json={"reason": "upgrade"}, headers=_auth(admin, "ops")
    )
    assert paused.status_code == 200
    switch_id = client.get(f"{BASE}/recovery/history", headers=_auth()).json()["events"][0]["id"]
    trail.one(
        user_id="ops",
        role=admin,
        action="recovery.pause",
        project_id=None,
        target=str(switch_id),
        details={"reason": "upgrade"},
    )
    resumed = client.post(f"{BASE}/recovery/resume", headers=_auth(admin, "ops"))
    assert resumed.status_code == 200
    resume_id = client.get(f"{BASE}/recovery/history", headers=_auth()).json()["events"][0]["id"]
    trail.one(action="recovery.resume", project_id=None, target=str(resume_id), details={})

    # every action was exercised, and no credential reached a row
    rows = _rows(client)
    assert {row["action"] for row in rows} == set(audit.ACTIONS) == set(get_args(AuditAction))
    dumped = json.dumps([row["details"] for row in rows])
    for word in ("Bearer", "eyJ", SECRET):
        assert word not in dumped


def test_refused_requests_write_no_event(client, monkeypatch):
    (late, _), insight_id = _seed(client)
    finished = _queued_job(client, "r")
    client.delete(f"{BASE}/jobs/{finished}", headers=_auth())  # cancelled: finished now
    trail = Trail(client)
    trail.new()
    ndjson = {"Content-Type": "application/x-ndjson"}
    viewer = _auth("viewer", "v")
    elsewhere = _auth("system_admin", "x", projects=["other"])
    refused = [
        # 401: no token
        ("POST", "/projects/r/records", {"content": RECORDS, "headers": ndjson}, 401),
        ("PUT", f"/rules/{late}/confidence", {"json": {"confidence": 0.1}}, 401),
        # 403: permission, then project
        ("POST", "/projects/r/records", {"content": RECORDS, "headers": {**viewer, **ndjson}}, 403),
        (
            "POST",
            "/projects/r/records",
            {"content": RECORDS, "headers": {**elsewhere, **ndjson}},
            403,
        ),
        ("POST", "/analyze", {"json": {"project_id": "r"}, "headers": viewer}, 403),
        ("POST", f"/rules/{late}/toggle", {"headers": _auth("data_analyst")}, 403),
        ("DELETE", f"/rules/{late}", {"headers": viewer}, 403),
        ("POST", f"/insights/{insight_id}/acknowledge", {"headers": viewer}, 403),
        ("POST", "/export", {"json": {"project_id": "r"}, "headers": viewer}, 403),
        ("POST", "/export", {"json": {"project_id": "r"}, "headers": elsewhere}, 403),
        ("POST", "/rules/import?project_id=r", {"json": {"rules": []}, "headers": viewer}, 403),
        (
            "POST",
            "/apply",
            {"json": {"rule_ids": [late], "target_project_id": "z"}, "headers": elsewhere},
            403,
        ),
        ("POST", "/recovery/pause", {"headers": elsewhere}, 403),
        ("POST", "/recovery/pause", {"headers": viewer}, 403),
        # 404: a rule of a project outside the token looks missing
        ("POST", f"/rules/{late}/toggle", {"headers": elsewhere}, 404),
        ("DELETE", "/rules/999999", {"headers": _auth()}, 404),
        ("DELETE", f"/jobs/{'0' * 36}", {"headers": _auth()}, 404),
        # 422: refused by validation, or inside the change's transaction
        (
            "PUT",
            f"/rules/{late}/confidence",
            {"json": {"confidence": 1.5}, "headers": _auth()},
            422,
        ),
        (
            "POST",
            "/projects/r/records?strict=true",
            {"content": RECORDS + b"\nnot json", "headers": {**_auth(), **ndjson}},
            422,
        ),
        (
            "POST",
            "/projects/r/records?format=nope",
            {"content": RECORDS, "headers": {**_auth(), **ndjson}},
            422,
        ),
        ("POST", "/analyze", {"json": {"project_id": "empty"}, "headers": _auth()}, 422),
        (
            "POST",
            "/analyze",
            {"json": {"project_id": "r", "analysis_types": ["x"]}, "headers": _auth()},
            422,
        ),
        (
            "POST",
            "/apply",
            {
                "json": {"rule_ids": [late], "target_project_id": "t", "mode": "adapt"},
                "headers": _auth(),
            },
            422,
        ),
        (
            "POST",
            "/rules/import?project_id=r",
            {"json": {"rules": [{"x": 1}]}, "headers": _auth()},
            422,
        ),
        (
            "POST",
            "/export",
            {"json": {"project_id": "r", "format": "xls"}, "headers": _auth()},
            422,
        ),
        ("POST", "/recovery/pause", {"json": {"reason": 5}, "headers": _auth()}, 422),
        # 409: conflicts
        ("DELETE", f"/jobs/{finished}", {"headers": _auth()}, 409),
        ("POST", "/recovery/resume", {"headers": _auth()}, 409),
    ]
    for method, path, options, status in refused:
        response = client.request(method, f"{BASE}{path}", **options)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["error"]["code"] in (
            "UNAUTHORIZED",
            "FORBIDDEN",
            "NOT_FOUND",
            "INVALID_REQUEST",
            "CONFLICT",
        )
        trail.none()

    # the job queue refusing the job: 503, and neither the job nor its event remains
    def unreachable(job_id: str) -> None:
        raise QueueUnavailable("redis down")

    monkeypatch.setattr(client.app.state.bl.runner, "submit", unreachable)
    client.post(f"{BASE}/projects/q/records", content=RECORDS, headers={**_auth(), **ndjson})
    trail.one(action="records.import", project_id="q")
    down = client.post(f"{BASE}/analyze", json={"project_id": "q"}, headers=_auth())
    assert down.status_code == 503 and down.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    trail.none()
    with client.app.state.bl.db.scope() as session:
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(AnalysisJob)
                .where(AnalysisJob.project_id == "q")
            )
            == 0
        )


def test_audit_listing_by_project_and_host_wide(client):
    (late, refund), _ = _seed(client)
    done = [
        (
            "exp",
            "rule.toggle",
            "r",
            lambda: client.post(
                f"{BASE}/rules/{late}/toggle", headers=_auth("business_expert", "exp")
            ),
        ),
        (
            "ann",
            "records.import",
            "a",
            lambda: client.post(
                f"{BASE}/projects/a/records",
                content=RECORDS,
                headers={**_auth("data_analyst", "ann"), "Content-Type": "application/x-ndjson"},
            ),
        ),
        (
            "exp",
            "rule.confidence",
            "r",
            lambda: client.put(
                f"{BASE}/rules/{refund}/confidence",
                json={"confidence": 0.3},
                headers=_auth("business_expert", "exp"),
            ),
        ),
        (
            "ops",
            "recovery.pause",
            None,
            lambda: client.post(f"{BASE}/recovery/pause", headers=_auth(user="ops")),
        ),
        (
            "exp",
            "rule.toggle",
            "r",
            lambda: client.post(
                f"{BASE}/rules/{refund}/toggle", headers=_auth("business_expert", "exp")
            ),
        ),
    ]
    for *_, call in done:
        assert call().status_code == 200
    newest_first = [(user, action, project) for user, action, project, _ in reversed(done)]

    def seen(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
        return [(e["user_id"], e["action"], e["project_id"]) for e in body["events"]]

    everything = client.get(f"{BASE}/audit", headers=_auth())
    assert everything.status_code == 200
    body = everything.json()
    assert seen(body) == newest_first
    assert (body["total"], body["limit"], body["offset"]) == (5, 100, 0)
    stored = {row["id"]: row for row in _rows(client)}
    for event in body["events"]:
        row = stored[event["id"]]
        assert event == {
            "id": row["id"],
            "created_at": row["created_at"].isoformat().replace("+00:00", "Z"),
            "user_id": row["user_id"],
            "role": row["role"],
            "action": row["action"],
            "project_id": row["project_id"],
            "target": row["target"],
            "details": row["details"],
        }

    only_r = client.get(
        f"{BASE}/audit", params={"project_id": "r"}, headers=_auth("viewer", projects=["r"])
    )
    assert only_r.status_code == 200
    assert seen(only_r.json()) == [e for e in newest_first if e[2] == "r"]
    assert only_r.json()["total"] == 3
    toggles = client.get(
        f"{BASE}/audit",
        params={"project_id": "r", "action": "rule.toggle"},
        headers=_auth("viewer"),
    ).json()
    assert seen(toggles) == [e for e in newest_first if e[1] == "rule.toggle"]
    assert [e["target"] for e in toggles["events"]] == [str(refund), str(late)]
    host_pauses = client.get(
        f"{BASE}/audit", params={"action": "recovery.pause"}, headers=_auth()
    ).json()
    assert seen(host_pauses) == [("ops", "recovery.pause", None)]
    page = client.get(f"{BASE}/audit", params={"limit": 2, "offset": 1}, headers=_auth()).json()
    assert seen(page) == newest_first[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)

    other = client.get(
        f"{BASE}/audit", params={"project_id": "a"}, headers=_auth("viewer", projects=["r"])
    )
    assert other.status_code == 403
    assert other.json() == {
        "error": {
            "code": "FORBIDDEN",
            "message": "token is not valid for project 'a'",
            "details": {"project_id": "a"},
        }
    }
    viewer_all = client.get(f"{BASE}/audit", headers=_auth("viewer"))
    assert viewer_all.status_code == 403
    assert viewer_all.json() == {
        "error": {
            "code": "FORBIDDEN",
            "message": "role viewer lacks permission bl.admin_system",
            "details": {"permission": "bl.admin_system", "role": "viewer"},
        }
    }
    scoped_admin = client.get(f"{BASE}/audit", headers=_auth(projects=["r"]))
    assert scoped_admin.status_code == 403
    assert scoped_admin.json() == {
        "error": {
            "code": "FORBIDDEN",
            "message": "a token limited to projects cannot read the host-wide audit trail",
            "details": {"scope": "host"},
        }
    }
    bad = client.get(f"{BASE}/audit", params={"action": "rule.explode"}, headers=_auth())
    assert bad.status_code == 422
    assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.action"]
    missing = client.get(f"{BASE}/audit")
    assert missing.status_code == 401
    assert missing.json()["error"] == {
        "code": "UNAUTHORIZED",
        "message": "missing bearer token",
        "details": {"reason": "missing"},
    }
    assert len(_rows(client)) == 5  # reading the trail adds nothing to it
