"""The console's read routes and admin actions through the real app, SQLite and PostgreSQL:
GET /me, /projects, /jobs, the /rules filters, /maintenance/runs, recovery pause/resume.

Expected bodies are built from what each test seeded, not read back from the
functions under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import jwt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import ROLE_PERMISSIONS, Role, create_token
from bizlogic.api.routes.analysis import JobStatus
from bizlogic.mining.model import Condition, Rule
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.projects import get_or_create_project
from bizlogic.store.results import upsert_rule
from bizlogic.store.tables import (
    JOB_STATUSES,
    AnalysisJob,
    InsightRow,
    MaintenanceRun,
    PatternRow,
    RuleRow,
)
from bizlogic.telemetry.metrics import Metrics
from tests.servers import bizlogic, clean_env

SECRET = "console-secret-" + "z" * 40
BASE = "/api/business-logic"
T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> tuple[str, str]:
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path / 'console.db'}"
    url = request.getfixturevalue("postgres_url")
    migrations.downgrade(url, "base")  # a clean schema for every test
    return "postgresql", url


@pytest.fixture
def client(backend, tmp_path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=backend[1], jwt_secret=SECRET)
    with TestClient(
        create_app(settings, metrics=Metrics(50)), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def _auth(role: str = "system_admin", user: str = "alice", projects=None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, user, role, projects)}"}


def _db(client: TestClient):
    return client.app.state.bl.db


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _envelope(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


MISSING_TOKEN = _envelope("UNAUTHORIZED", "missing bearer token", {"reason": "missing"})


def _import(client: TestClient, project: str, n: int) -> None:
    lines = [json.dumps({"id": f"{project}-{i}", "text": f"text {i}"}) for i in range(n)]
    response = client.post(
        f"{BASE}/projects/{project}/records",
        content="\n".join(lines).encode(),
        headers={**_auth(), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == n


def _rule(
    algorithm: str,
    conditions: list[tuple[str, str, Any]],
    consequent: tuple[str, str, Any],
    confidence: float = 0.8,
) -> Rule:
    return Rule(
        algorithm=algorithm,
        rule_type="keyword_sentiment",
        conditions=tuple(Condition(*c) for c in conditions),
        consequent=Condition(*consequent),
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


def _store_rules(client: TestClient, project: str, rules: list[Rule]) -> list[int]:
    with _db(client).scope() as session:
        return [upsert_rule(session, project, rule).id for rule in rules]


# --- GET /me -----------------------------------------------------------------------------


def test_me_describes_the_token(client):
    token = create_token(SECRET, "alice", "data_analyst", ["p2", "p1"], ttl_s=3600)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    response = client.get(f"{BASE}/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {
        "user": "alice",
        "role": "data_analyst",
        "projects": ["p1", "p2"],
        "permissions": [
            "bl.analyze_data",
            "bl.export_data",
            "bl.import_data",
            "bl.view_insights",
            "bl.view_jobs",
            "bl.view_patterns",
            "bl.view_rules",
            "bl.view_stats",
        ],
        "expires_at": datetime.fromtimestamp(exp, UTC).isoformat().replace("+00:00", "Z"),
    }
    for role in Role:
        body = client.get(f"{BASE}/me", headers=_auth(role.value, user="u")).json()
        assert body["projects"] is None and body["role"] == role.value
        assert body["permissions"] == sorted(p.value for p in ROLE_PERMISSIONS[role])
    missing = client.get(f"{BASE}/me")
    assert missing.status_code == 401 and missing.json() == MISSING_TOKEN
    bad = client.get(f"{BASE}/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json() == _envelope(
        "UNAUTHORIZED", "token is not a well-formed JWT", {"reason": "malformed"}
    )


# --- GET /projects and GET /jobs ---------------------------------------------------------

# job id → (project, status, created minutes after T0, finished minutes after T0 or None)
JOBS = {
    "j-p1-old": ("p1", "completed", 0, 5),
    "j-p1-new": ("p1", "queued", 60, None),
    "j-p2": ("p2", "failed", 30, 31),
    "j-p4": ("p4", "cancelled", 90, 91),
}


def _seed_projects(client: TestClient) -> None:
    """p1: 3 records, 3 rules (1 inactive), 2 patterns, 2 insights (1 open), 2 jobs;
    p2: 2 records, 1 rule, 1 failed job; p3: no records, 1 open insight, no job;
    p4: 1 cancelled job only."""
    _import(client, "p1", 3)
    _import(client, "p2", 2)
    ids = _store_rules(
        client,
        "p1",
        [
            _rule("sentiment_correlation", [("text", "contains", w)], ("sentiment", "eq", "neg"))
            for w in ("a", "b", "c")
        ],
    )
    _store_rules(
        client,
        "p2",
        [_rule("sentiment_correlation", [("text", "contains", "a")], ("sentiment", "eq", "neg"))],
    )
    with _db(client).scope() as session:
        for project in ("p3", "p4"):
            get_or_create_project(session, project)
        session.get(RuleRow, ids[0]).is_active = False
        for strength in (0.5, 0.7):
            session.add(
                PatternRow(
                    project_id="p1",
                    algorithm="temporal_trends",
                    pattern_type="trend",
                    description="d",
                    strength=strength,
                    data={},
                )
            )
        for project, key, acknowledged in (
            ("p1", "i1", True),
            ("p1", "i2", False),
            ("p3", "i3", False),
        ):
            session.add(
                InsightRow(
                    project_id=project,
                    algorithm="sentiment_correlation",
                    insight_key=key,
                    insight_type="pattern_insight",
                    title=key,
                    description=key,
                    impact_score=0.5,
                    recommendations=[],
                    evidence={},
                    acknowledged=acknowledged,
                )
            )
        for job_id, (project, status, created, finished) in JOBS.items():
            session.add(
                AnalysisJob(
                    job_id=job_id,
                    project_id=project,
                    status=status,
                    parameters={"min_support": 5, "_role": "system_admin"},
                    algorithms=["sentiment_correlation"],
                    attempts=0,
                    requested_by="alice",
                    created_at=T0 + timedelta(minutes=created),
                    finished_at=None if finished is None else T0 + timedelta(minutes=finished),
                    progress=0.0,
                )
            )


def _last(job_id: str) -> dict[str, Any]:
    _, status, created, finished = JOBS[job_id]
    return {
        "job_id": job_id,
        "status": status,
        "created_at": _iso(T0 + timedelta(minutes=created)),
        "finished_at": None if finished is None else _iso(T0 + timedelta(minutes=finished)),
    }


EXPECTED_PROJECTS = [
    {
        "project_id": "p1",
        "records": 3,
        "rules": 3,
        "active_rules": 2,
        "patterns": 2,
        "insights": 2,
        "open_insights": 1,
        "last_analysis": _last("j-p1-new"),
    },
    {
        "project_id": "p2",
        "records": 2,
        "rules": 1,
        "active_rules": 1,
        "patterns": 0,
        "insights": 0,
        "open_insights": 0,
        "last_analysis": _last("j-p2"),
    },
    {
        "project_id": "p3",
        "records": 0,
        "rules": 0,
        "active_rules": 0,
        "patterns": 0,
        "insights": 1,
        "open_insights": 1,
        "last_analysis": None,
    },
    {
        "project_id": "p4",
        "records": 0,
        "rules": 0,
        "active_rules": 0,
        "patterns": 0,
        "insights": 0,
        "open_insights": 0,
        "last_analysis": _last("j-p4"),
    },
]


def test_projects_lists_counts_per_project(client):
    _seed_projects(client)
    everything = client.get(f"{BASE}/projects", headers=_auth("viewer"))
    assert everything.status_code == 200
    assert everything.json() == {
        "projects": EXPECTED_PROJECTS,
        "total": 4,
        "limit": 100,
        "offset": 0,
    }
    page = client.get(f"{BASE}/projects", params={"limit": 2, "offset": 1}, headers=_auth())
    assert page.json() == {"projects": EXPECTED_PROJECTS[1:3], "total": 4, "limit": 2, "offset": 1}
    scoped = client.get(f"{BASE}/projects", headers=_auth("viewer", projects=["p3", "p1", "nope"]))
    assert scoped.json() == {
        "projects": [EXPECTED_PROJECTS[0], EXPECTED_PROJECTS[2]],
        "total": 2,
        "limit": 100,
        "offset": 0,
    }
    alone = client.get(f"{BASE}/projects", headers=_auth("viewer", projects=["nope"]))
    assert alone.json() == {"projects": [], "total": 0, "limit": 100, "offset": 0}
    assert client.get(f"{BASE}/projects").json() == MISSING_TOKEN
    bad = client.get(f"{BASE}/projects", params={"limit": 0}, headers=_auth())
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert [d["field"] for d in error["details"]] == ["query.limit"]


def test_projects_costs_the_same_queries_for_any_number_of_projects(client):
    """One query per count kind over the page, never one per project."""
    engine = _db(client).engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    def selects() -> int:
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            assert client.get(f"{BASE}/projects", headers=_auth()).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
        return len(statements)

    _seed_projects(client)
    with_four = selects()
    with _db(client).scope() as session:
        for i in range(12):
            get_or_create_project(session, f"q{i:02d}")
    assert client.get(f"{BASE}/projects", headers=_auth()).json()["total"] == 16
    assert selects() == with_four == 7  # page count, page ids, 4 count kinds, latest jobs


def _expected_jobs(projects: set[str] | None = None, status: str | None = None) -> list[str]:
    rows = [
        (created, job_id)
        for job_id, (project, job_status, created, _) in JOBS.items()
        if (projects is None or project in projects) and status in (None, job_status)
    ]
    return [job_id for _, job_id in sorted(rows, key=lambda r: (-r[0], r[1]))]


def test_jobs_lists_recent_jobs_in_the_shape_of_one_job(client):
    _seed_projects(client)
    listed = client.get(f"{BASE}/jobs", headers=_auth("viewer"))
    assert listed.status_code == 200
    body = listed.json()
    assert (
        [job["job_id"] for job in body["jobs"]]
        == _expected_jobs()
        == [
            "j-p4",
            "j-p1-new",
            "j-p2",
            "j-p1-old",
        ]
    )
    assert (body["total"], body["limit"], body["offset"]) == (4, 50, 0)
    for job in body["jobs"]:
        assert job == client.get(f"{BASE}/jobs/{job['job_id']}", headers=_auth()).json()
        assert job["parameters"] == {"min_support": 5}  # internal ones stay inside
    failed = client.get(f"{BASE}/jobs", params={"status": "failed"}, headers=_auth()).json()
    assert [j["job_id"] for j in failed["jobs"]] == _expected_jobs(status="failed")
    assert failed["total"] == 1
    p1 = client.get(f"{BASE}/jobs", params={"project_id": "p1"}, headers=_auth()).json()
    assert [j["job_id"] for j in p1["jobs"]] == _expected_jobs({"p1"})
    page = client.get(f"{BASE}/jobs", params={"limit": 2, "offset": 1}, headers=_auth()).json()
    assert [j["job_id"] for j in page["jobs"]] == _expected_jobs()[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)

    scoped = _auth("viewer", projects=["p2", "p4"])
    mine = client.get(f"{BASE}/jobs", headers=scoped).json()
    assert [j["job_id"] for j in mine["jobs"]] == _expected_jobs({"p2", "p4"})
    assert mine["total"] == 2
    foreign = client.get(f"{BASE}/jobs", params={"project_id": "p1"}, headers=scoped)
    assert foreign.status_code == 403
    assert foreign.json() == _envelope(
        "FORBIDDEN", "token is not valid for project 'p1'", {"project_id": "p1"}
    )

    bad = client.get(f"{BASE}/jobs", params={"status": "exploded"}, headers=_auth())
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "INVALID_REQUEST" and error["message"].startswith("query.status: ")
    assert [d["field"] for d in error["details"]] == ["query.status"]
    assert client.get(f"{BASE}/jobs").json() == MISSING_TOKEN
    assert set(get_args(JobStatus)) == set(JOB_STATUSES)


# --- GET /rules/{project_id} filters -----------------------------------------------------

FILTER_RULES = [
    _rule(
        "sentiment_correlation", [("text", "contains", "refund")], ("sentiment", "eq", "negative")
    ),
    _rule(
        "sentiment_correlation",
        [("text", "contains", "Late"), ("annotator", "eq", "ann_1")],
        ("sentiment", "eq", "negative"),
        confidence=0.9,
    ),
    _rule("user_behavior", [("annotator", "eq", "annex")], ("label", "eq", "spam"), 0.7),
    _rule(
        "keyword_cooccurrence", [("text", "contains", "50%_off")], ("sentiment", "eq", "positive")
    ),
    _rule("user_behavior", [("rating", "gte", 4)], ("label", "eq", "LATE delivery"), 0.6),
]


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [rule["id"] for rule in response.json()["rules"]]


@pytest.mark.parametrize(
    ("params", "keep", "count"),
    [
        ({"algorithm": "user_behavior"}, lambda r: r["algorithm"] == "user_behavior", 2),
        ({"algorithm": "user"}, lambda r: False, 0),  # exact, not a prefix
        (
            {"field": "annotator"},
            lambda r: any(c["field"] == "annotator" for c in r["conditions"]),
            2,
        ),
        ({"field": "text"}, lambda r: any(c["field"] == "text" for c in r["conditions"]), 3),
        ({"field": "label"}, lambda r: False, 0),  # a consequent is not a condition
        ({"q": "late"}, lambda r: "late" in r["pattern"].lower(), 2),
        ({"q": "50%_"}, lambda r: "50%_" in r["pattern"], 1),  # % and _ are literal
        ({"q": "ann_"}, lambda r: "ann_" in r["pattern"], 1),  # not "annex"
        ({"q": "%"}, lambda r: "%" in r["pattern"], 1),  # not a wildcard
        (
            {"q": "LATE", "field": "annotator", "algorithm": "sentiment_correlation"},
            lambda r: (
                r["algorithm"] == "sentiment_correlation"
                and "late" in r["pattern"].lower()
                and any(c["field"] == "annotator" for c in r["conditions"])
            ),
            1,
        ),
    ],
)
def test_rule_filters(client, params, keep, count):
    _store_rules(client, "r", FILTER_RULES)
    everything = client.get(f"{BASE}/rules/r", params={"limit": 1000}, headers=_auth()).json()
    assert everything["total"] == len(FILTER_RULES)
    expected = [rule["id"] for rule in everything["rules"] if keep(rule)]
    assert len(expected) == count
    filtered = client.get(f"{BASE}/rules/r", params=params, headers=_auth("viewer"))
    assert _ids(filtered) == expected
    assert filtered.json()["total"] == count


def test_rule_filters_page_and_are_part_of_the_cache_key(client):
    ids = _store_rules(client, "r", FILTER_RULES)
    auth = _auth("viewer", projects=["r"])
    # the first filtered read is cached; a second one with other filters must not get it
    text_rules = client.get(f"{BASE}/rules/r", params={"field": "text"}, headers=auth)
    annotator = client.get(f"{BASE}/rules/r", params={"field": "annotator"}, headers=auth)
    assert sorted(_ids(text_rules)) == [ids[0], ids[1], ids[3]]
    assert sorted(_ids(annotator)) == [ids[1], ids[2]]
    late = client.get(f"{BASE}/rules/r", params={"field": "text", "q": "late"}, headers=auth)
    assert _ids(late) == [ids[1]]
    refund = client.get(f"{BASE}/rules/r", params={"field": "text", "q": "refund"}, headers=auth)
    assert _ids(refund) == [ids[0]]
    # confidence 0.9 (Late), then 0.8 twice (refund, 50%_off: ties by id)
    page = client.get(
        f"{BASE}/rules/r",
        params={"field": "text", "limit": 1, "offset": 1, "sort": "confidence"},
        headers=auth,
    ).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [r["id"] for r in page["rules"]] == [ids[0]]
    # a write invalidates the filtered reads too
    rule_id = _ids(annotator)[0]
    assert client.delete(f"{BASE}/rules/{rule_id}", headers=_auth()).status_code == 200
    again = client.get(f"{BASE}/rules/r", params={"field": "annotator"}, headers=auth).json()
    assert again["total"] == 1 and rule_id not in [r["id"] for r in again["rules"]]

    foreign = client.get(
        f"{BASE}/rules/r", params={"q": "x"}, headers=_auth("viewer", projects=["s"])
    )
    assert foreign.status_code == 403
    assert foreign.json() == _envelope(
        "FORBIDDEN", "token is not valid for project 'r'", {"project_id": "r"}
    )
    empty = client.get(f"{BASE}/rules/r", params={"q": ""}, headers=auth)
    assert empty.status_code == 422
    assert [d["field"] for d in empty.json()["error"]["details"]] == ["query.q"]
    assert client.get(f"{BASE}/rules/r", params={"q": "x"}).json() == MISSING_TOKEN


# --- GET /maintenance/runs ---------------------------------------------------------------


def _env(client: TestClient, backend: tuple[str, str]) -> dict[str, str]:
    settings = client.app.state.bl.settings
    return clean_env(Path(settings.data_dir), BL_DATABASE_URL=backend[1])


def test_maintenance_runs_are_what_the_cli_shows(client, backend):
    report = {"run_id": 1, "steps": [{"name": "cache", "status": "ok", "duration_s": 0.5}]}
    with _db(client).scope() as session:
        session.add_all(
            [
                MaintenanceRun(
                    kind="maintenance",
                    status="ok",
                    dry_run=False,
                    started_at=T0,
                    finished_at=T0 + timedelta(seconds=2),
                    details=report,
                ),
                MaintenanceRun(
                    kind="maintenance",
                    status="running",
                    dry_run=True,
                    started_at=T0 - timedelta(hours=1),
                    details={"steps": ["cache", "logs"]},
                ),
            ]
        )
    response = client.get(f"{BASE}/maintenance/runs", headers=_auth())
    assert response.status_code == 200
    body = response.json()
    step = {"name": "cache", "status": "ok", "duration_s": 0.5, "error": None}
    assert body == {
        "limit": 20,
        "runs": [
            {
                "run_id": body["runs"][0]["run_id"],
                "status": "ok",
                "dry_run": False,
                "started_at": T0.isoformat(),
                "finished_at": (T0 + timedelta(seconds=2)).isoformat(),
                "duration_s": 2.0,
                "steps": [step],
                "error": None,
                "report": report,
            },
            {
                "run_id": body["runs"][1]["run_id"],
                "status": "interrupted",
                "dry_run": True,
                "started_at": (T0 - timedelta(hours=1)).isoformat(),
                "finished_at": None,
                "duration_s": None,
                "steps": [
                    {"name": n, "status": None, "duration_s": None, "error": None}
                    for n in ("cache", "logs")
                ],
                "error": None,
                "report": None,
            },
        ],
    }
    one = client.get(f"{BASE}/maintenance/runs", params={"limit": 1}, headers=_auth()).json()
    assert one == {"limit": 1, "runs": body["runs"][:1]}
    shown = bizlogic(_env(client, backend), "maintain", "history", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == body["runs"]

    limited = client.get(f"{BASE}/maintenance/runs", headers=_auth(projects=["p"]))
    assert limited.status_code == 403
    assert limited.json() == _envelope(
        "FORBIDDEN",
        "a token limited to projects cannot read host-wide maintenance runs",
        {"scope": "host"},
    )
    expert = client.get(f"{BASE}/maintenance/runs", headers=_auth("business_expert"))
    assert expert.status_code == 403
    assert expert.json() == _envelope(
        "FORBIDDEN",
        "role business_expert lacks permission bl.admin_system",
        {"permission": "bl.admin_system", "role": "business_expert"},
    )
    bad = client.get(f"{BASE}/maintenance/runs", params={"limit": 5000}, headers=_auth())
    assert bad.status_code == 422
    assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.limit"]
    assert client.get(f"{BASE}/maintenance/runs").json() == MISSING_TOKEN


# --- POST /recovery/pause and /recovery/resume -------------------------------------------


def test_pause_and_resume_like_the_cli(client, backend):
    pause = client.post(
        f"{BASE}/recovery/pause", json={"reason": "db migration"}, headers=_auth(user="ops")
    )
    assert pause.status_code == 200, pause.text
    paused = pause.json()["paused"]
    assert set(paused) == {"since", "reason", "by"}
    assert (paused["reason"], paused["by"]) == ("db migration", "ops")
    history = client.get(f"{BASE}/recovery/history", headers=_auth()).json()
    assert history["paused"] == paused
    switch = history["events"][0]
    assert (switch["action"], switch["trigger"], switch["outcome"], switch["dry_run"]) == (
        "pause",
        "manual",
        "ok",
        False,
    )
    cli = bizlogic(_env(client, backend), "recover", "history", "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["paused"] == paused  # the CLI sees the API's pause

    again = client.post(f"{BASE}/recovery/pause", headers=_auth())
    assert again.status_code == 409
    assert again.json() == _envelope(
        "CONFLICT", f"recovery is already paused (since {paused['since']})", {"paused": paused}
    )
    resumed = client.post(f"{BASE}/recovery/resume", headers=_auth(user="ops"))
    assert resumed.status_code == 200 and resumed.json() == {"paused": None}
    assert client.get(f"{BASE}/recovery/history", headers=_auth()).json()["paused"] is None
    twice = client.post(f"{BASE}/recovery/resume", headers=_auth())
    assert twice.status_code == 409
    assert twice.json() == _envelope("CONFLICT", "recovery is not paused", {"paused": None})

    # pause without a body, as `bizlogic recover pause` without --reason
    bare = client.post(f"{BASE}/recovery/pause", headers=_auth(user="ops"))
    assert bare.status_code == 200 and set(bare.json()["paused"]) == {"since", "by"}
    resumed_by_cli = bizlogic(_env(client, backend), "recover", "resume")
    assert resumed_by_cli.returncode == 0, resumed_by_cli.stderr
    assert client.post(f"{BASE}/recovery/resume", headers=_auth()).status_code == 409

    for path in ("/recovery/pause", "/recovery/resume"):
        limited = client.post(f"{BASE}{path}", headers=_auth(projects=["p"]))
        assert limited.status_code == 403
        assert limited.json() == _envelope(
            "FORBIDDEN",
            "a token limited to projects cannot pause or resume host-wide recovery",
            {"scope": "host"},
        )
        viewer = client.post(f"{BASE}{path}", headers=_auth("viewer"))
        assert viewer.status_code == 403
        assert viewer.json()["error"]["details"] == {
            "permission": "bl.admin_system",
            "role": "viewer",
        }
        assert client.post(f"{BASE}{path}").json() == MISSING_TOKEN
    unknown = client.post(f"{BASE}/recovery/pause", json={"why": "x"}, headers=_auth())
    assert unknown.status_code == 422
    assert [d["field"] for d in unknown.json()["error"]["details"]] == ["body.why"]
    long = client.post(f"{BASE}/recovery/pause", json={"reason": "x" * 1001}, headers=_auth())
    assert long.status_code == 422
    assert [d["field"] for d in long.json()["error"]["details"]] == ["body.reason"]


def test_concurrent_pauses_pause_once(client):
    """The check and the switch are one step: of pauses racing, exactly one wins."""
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(
            pool.map(
                lambda i: client.post(
                    f"{BASE}/recovery/pause", json={"reason": f"r{i}"}, headers=_auth()
                ).status_code,
                range(4),
            )
        )
    assert statuses == [200, 409, 409, 409]
    events = client.get(f"{BASE}/recovery/history", headers=_auth()).json()["events"]
    assert [e["action"] for e in events] == ["pause"]
