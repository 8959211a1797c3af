"""A project-limited token learns nothing about other projects, nor about the host.

Before the fix, a token limited to project A asking for a rule, insight or job
of project B by id got 403 FORBIDDEN, and 404 for an id that never existed,
so it could probe which ids exist elsewhere. ``GET /stats/{B}`` answered 403
where an unknown project gets 404. And a system_admin limited to projects read
the host-wide recovery history. Now a foreign object is answered exactly as a
missing one, and host-wide routes need a token without projects (docs/auth.md).
"""

from __future__ import annotations

import importlib
import pkgutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

import bizlogic.api.routes as route_modules
from bizlogic.api.app import create_app
from bizlogic.api.auth import Permission, create_token
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import fresh_pg_database

SECRET = "scope-hiding-" + "h" * 40
BASE = "/api/business-logic"
MINE, THEIRS, NEVER = "pa", "pb", "never-existed"
ADMIN = {"Authorization": f"Bearer {create_token(SECRET, 'root', 'system_admin')}"}
# business_expert holds every permission the id routes need, limited to project A.
LIMITED = {"Authorization": f"Bearer {create_token(SECRET, 'eve', 'business_expert', [MINE])}"}
MISSING_ROW_ID = 2_000_000_000  # a valid RowId no test database reaches


@dataclass(frozen=True)
class Theirs:
    """Ids of objects that exist in project B."""

    rule_id: int
    insight_id: int
    job_id: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('hiding') / 'hiding.db'}"
        return
    with fresh_pg_database("bl_hiding") as (_, _, pg_url):
        yield pg_url


@pytest.fixture(scope="module")
def setup(
    url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Theirs]]:
    """The real app; project B imported and analysed once, project A holds a few records."""
    root = tmp_path_factory.mktemp("hiding-data")
    records: Path = root / "records.jsonl"
    generate(records, 3000, seed=5)
    settings = Settings(data_dir=root, database_url=url, jwt_secret=SECRET)
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        lines = records.read_bytes()
        for project, body in ((THEIRS, lines), (MINE, b"\n".join(lines.splitlines()[:20]))):
            imported = client.post(
                f"{BASE}/projects/{project}/records",
                content=body,
                headers={**ADMIN, "Content-Type": "application/x-ndjson"},
            )
            assert imported.status_code == 200, imported.text
        job_id = _analyze(client, THEIRS)
        rules = client.get(f"{BASE}/rules/{THEIRS}", headers=ADMIN).json()["rules"]
        insights = client.get(f"{BASE}/insights/{THEIRS}", headers=ADMIN).json()["insights"]
        assert rules and insights
        yield client, Theirs(rules[0]["id"], insights[0]["id"], job_id)


def _analyze(client: TestClient, project: str) -> str:
    accepted = client.post(f"{BASE}/analyze", json={"project_id": project}, headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    job_id: str = accepted.json()["job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"{BASE}/jobs/{job_id}", headers=ADMIN).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            assert job["status"] == "completed", job["error"]
            return job_id
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _shape(response: Response, name: str) -> tuple[int, bytes, str, list[str]]:
    """Status, body with the requested id masked, content type and header names."""
    volatile = {"content-length", "date", "x-request-id"}
    headers = sorted(k for k in response.headers if k not in volatile)
    body = response.content.replace(name.encode(), b"<ID>")
    return response.status_code, body, response.headers["content-type"], headers


def _assert_same_answer(foreign: Response, missing: Response, ids: tuple[str, str]) -> None:
    assert _shape(foreign, ids[0]) == _shape(missing, ids[1])


def _fill(value: Any, replacement: int | str) -> Any:
    """``value`` with every ``"{x}"`` placeholder (whole string) and ``{x}`` in text replaced."""
    if value == "{x}":
        return replacement
    if isinstance(value, str):
        return value.replace("{x}", str(replacement))
    if isinstance(value, dict):
        return {k: _fill(v, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, replacement) for v in value]
    return value


# (method, path, JSON body, kind of object); {x} is the object's id.
ID_ROUTES: dict[str, tuple[str, str, Any, str]] = {
    "set confidence": ("PUT", "/rules/{x}/confidence", {"confidence": 0.5}, "rule"),
    "toggle": ("POST", "/rules/{x}/toggle", {"is_active": False}, "rule"),
    "delete rule": ("DELETE", "/rules/{x}", None, "rule"),
    "apply": ("POST", "/apply", {"rule_ids": ["{x}"], "target_project_id": MINE}, "rule"),
    "acknowledge": ("POST", "/insights/{x}/acknowledge", None, "insight"),
    "job status": ("GET", "/jobs/{x}", None, "job"),
    "cancel job": ("DELETE", "/jobs/{x}", None, "job"),
    "detect changes": (
        "POST",
        "/detect-changes",
        {"project_id": MINE, "before_job_id": "{x}", "after_job_id": "{x}"},
        "job",
    ),
}


def _existing(theirs: Theirs, case: str) -> int | str:
    kind = ID_ROUTES[case][3]
    return {"rule": theirs.rule_id, "insight": theirs.insight_id, "job": theirs.job_id}[kind]


def _missing(case: str) -> int | str:
    return str(uuid.uuid4()) if ID_ROUTES[case][3] == "job" else MISSING_ROW_ID


def _call(client: TestClient, case: str, object_id: int | str) -> Response:
    method, path, body, _ = ID_ROUTES[case]
    return client.request(
        method, BASE + _fill(path, object_id), json=_fill(body, object_id), headers=LIMITED
    )


@pytest.mark.parametrize("case", sorted(ID_ROUTES))
def test_another_projects_object_answers_like_a_missing_one(
    setup: tuple[TestClient, Theirs], case: str
) -> None:
    client, theirs = setup
    existing, missing = _existing(theirs, case), _missing(case)
    foreign, absent = _call(client, case, existing), _call(client, case, missing)
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["error"]["code"] == "NOT_FOUND"
    _assert_same_answer(foreign, absent, (str(existing), str(missing)))


def test_the_messages_are_those_of_a_missing_object(setup: tuple[TestClient, Theirs]) -> None:
    client, theirs = setup
    expected = {
        "delete rule": f"rule {theirs.rule_id} not found",
        "apply": f"rule {theirs.rule_id} not found",
        "acknowledge": f"insight {theirs.insight_id} not found",
        "job status": f"job {theirs.job_id!r} not found",
    }
    for case, message in expected.items():
        error = _call(client, case, _existing(theirs, case)).json()["error"]
        assert error == {"code": "NOT_FOUND", "message": message, "details": None}


def test_the_hidden_objects_are_untouched(setup: tuple[TestClient, Theirs]) -> None:
    """The refused writes really did nothing in project B (nor in A)."""
    client, theirs = setup
    for case in ("set confidence", "toggle", "delete rule", "acknowledge", "cancel job", "apply"):
        assert _call(client, case, _existing(theirs, case)).status_code == 404
    rules = client.get(f"{BASE}/rules/{THEIRS}", headers=ADMIN).json()["rules"]
    rule = next(r for r in rules if r["id"] == theirs.rule_id)
    assert rule["curated_by"] is None and rule["is_active"] is True
    insights = client.get(f"{BASE}/insights/{THEIRS}", headers=ADMIN).json()["insights"]
    assert next(i for i in insights if i["id"] == theirs.insight_id)["acknowledged"] is False
    job = client.get(f"{BASE}/jobs/{theirs.job_id}", headers=ADMIN).json()
    assert job["status"] == "completed"
    assert client.get(f"{BASE}/rules/{MINE}", headers=ADMIN).json()["total"] == 0


def test_stats_of_another_project_is_the_unknown_project_404(
    setup: tuple[TestClient, Theirs],
) -> None:
    client, _ = setup
    assert client.get(f"{BASE}/stats/{MINE}", headers=LIMITED).status_code == 200
    foreign = client.get(f"{BASE}/stats/{THEIRS}", headers=LIMITED)
    assert foreign.status_code == 404
    assert foreign.json()["error"] == {
        "code": "NOT_FOUND",
        "message": f"project {THEIRS!r} not found",
        "details": None,
    }
    absent = client.get(f"{BASE}/stats/{NEVER}", headers=LIMITED)
    _assert_same_answer(foreign, absent, (THEIRS, NEVER))
    # ... and like what an unlimited token hears about a project that does not exist.
    unknown = client.get(f"{BASE}/stats/{NEVER}", headers=ADMIN)
    _assert_same_answer(foreign, unknown, (THEIRS, NEVER))


# Routes naming the project where a missing project is no error (an empty page, a
# 409 or 422 later, or a write that creates it): 403 naming only the requested id.
# (method, path, JSON body); {x} is the project id.
PROJECT_ROUTES: dict[str, tuple[str, str, Any]] = {
    "rules": ("GET", "/rules/{x}", None),
    "patterns": ("GET", "/patterns/{x}", None),
    "insights": ("GET", "/insights/{x}", None),
    "analyze": ("POST", "/analyze", {"project_id": "{x}"}),
    "detect changes": ("POST", "/detect-changes", {"project_id": "{x}"}),
    "export": ("POST", "/export", {"project_id": "{x}"}),
    "visualization": (
        "POST",
        "/visualization",
        {"project_id": "{x}", "visualization_type": "rule_network"},
    ),
    "rules import": ("POST", "/rules/import?project_id={x}", {"rules": []}),
    "records import": ("POST", "/projects/{x}/records", [{"id": "r", "text": "x"}]),
    "apply target": ("POST", "/apply", {"rule_ids": [MISSING_ROW_ID], "target_project_id": "{x}"}),
}


@pytest.mark.parametrize("case", sorted(PROJECT_ROUTES))
def test_another_project_by_name_answers_like_a_missing_one(
    setup: tuple[TestClient, Theirs], case: str
) -> None:
    client, _ = setup
    method, path, body = PROJECT_ROUTES[case]

    def call(project: str) -> Response:
        return client.request(
            method, BASE + _fill(path, project), json=_fill(body, project), headers=LIMITED
        )

    foreign, absent = call(THEIRS), call(NEVER)
    assert foreign.status_code == 403, foreign.text
    assert foreign.json()["error"] == {
        "code": "FORBIDDEN",
        "message": f"token is not valid for project {THEIRS!r}",
        "details": {"project_id": THEIRS},
    }
    _assert_same_answer(foreign, absent, (THEIRS, NEVER))


# --- host-wide routes ------------------------------------------------------------------

HISTORY = f"{BASE}/recovery/history"


def _bearer(role: str, projects: list[str] | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, 'ops', role, projects)}"}


def test_project_limited_admin_cannot_read_recovery_history(
    setup: tuple[TestClient, Theirs],
) -> None:
    client, _ = setup
    limited = client.get(HISTORY, headers=_bearer("system_admin", [MINE]))
    assert limited.status_code == 403
    assert limited.json() == {
        "error": {
            "code": "FORBIDDEN",
            "message": "a token limited to projects cannot read host-wide recovery history",
            "details": {"scope": "host"},
        }
    }
    unlimited = client.get(HISTORY, headers=_bearer("system_admin", None))
    assert unlimited.status_code == 200
    assert set(unlimited.json()) == {"hours", "paused", "events"}
    # The permission is still checked first, as everywhere else.
    viewer = client.get(HISTORY, headers=_bearer("viewer", [MINE]))
    assert viewer.status_code == 403
    assert viewer.json()["error"]["message"] == "role viewer lacks permission bl.admin_system"


def test_every_admin_route_is_closed_to_project_limited_tokens() -> None:
    """bl.admin_system guards host-wide operations only; a new such route that used the
    plain permission check would let a project-limited admin in."""
    plain = f"require_{Permission.ADMIN_SYSTEM.value.replace('.', '_')}"
    admin_routes = []
    for module in pkgutil.iter_modules(route_modules.__path__):
        router = importlib.import_module(f"{route_modules.__name__}.{module.name}").router
        for route in router.routes:
            assert isinstance(route, APIRoute)
            names = {getattr(d.call, "__name__", "") for d in route.dependant.dependencies}
            assert plain not in names, f"{route.path} uses the plain bl.admin_system check"
            if f"{plain}_host_wide" in names:
                admin_routes.append(route.path)
    assert sorted(admin_routes) == sorted(
        [
            HISTORY,
            f"{BASE}/maintenance/runs",
            f"{BASE}/recovery/pause",
            f"{BASE}/recovery/resume",
        ]
    )
