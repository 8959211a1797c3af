"""Every protected route × every role × no token, against the real app (SQLite)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import ROLE_PERMISSIONS, Permission, Role, create_token
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics

SECRET = "matrix-secret-" + "y" * 40
P = "/api/business-logic"
# route (method, path template) → (permission, concrete path, JSON body)
ROUTES = {
    ("POST", P + "/projects/{project_id}/records"): (
        Permission.IMPORT_DATA,
        P + "/projects/m/records",
        None,
    ),
    ("POST", P + "/analyze"): (Permission.ANALYZE_DATA, P + "/analyze", {"project_id": "m"}),
    ("GET", P + "/jobs/{job_id}"): (Permission.VIEW_JOBS, P + "/jobs/none", None),
    ("DELETE", P + "/jobs/{job_id}"): (Permission.ANALYZE_DATA, P + "/jobs/none", None),
    ("GET", P + "/rules/{project_id}"): (Permission.VIEW_RULES, P + "/rules/m", None),
    ("PUT", P + "/rules/{rule_id}/confidence"): (
        Permission.MANAGE_RULES,
        P + "/rules/999/confidence",
        {"confidence": 0.5},
    ),
    ("POST", P + "/rules/{rule_id}/toggle"): (
        Permission.MANAGE_RULES,
        P + "/rules/999/toggle",
        None,
    ),
    ("DELETE", P + "/rules/{rule_id}"): (Permission.MANAGE_RULES, P + "/rules/999", None),
    ("GET", P + "/patterns/{project_id}"): (Permission.VIEW_PATTERNS, P + "/patterns/m", None),
    ("GET", P + "/insights/{project_id}"): (Permission.VIEW_INSIGHTS, P + "/insights/m", None),
    ("POST", P + "/insights/{insight_id}/acknowledge"): (
        Permission.ANALYZE_DATA,
        P + "/insights/999/acknowledge",
        None,
    ),
    ("GET", P + "/stats/{project_id}"): (Permission.VIEW_STATS, P + "/stats/m", None),
    ("POST", P + "/detect-changes"): (
        Permission.VIEW_RULES,
        P + "/detect-changes",
        {"project_id": "m"},
    ),
    ("POST", P + "/export"): (Permission.EXPORT_DATA, P + "/export", {"project_id": "m"}),
    ("POST", P + "/rules/import"): (
        Permission.EXTRACT_RULES,
        P + "/rules/import?project_id=m",
        {"rules": []},
    ),
    ("POST", P + "/apply"): (
        Permission.EXTRACT_RULES,
        P + "/apply",
        {"rule_ids": [999], "target_project_id": "m"},
    ),
    ("GET", P + "/recovery/history"): (
        Permission.ADMIN_SYSTEM,
        P + "/recovery/history",
        None,
    ),
    ("POST", P + "/visualization"): (
        Permission.VIEW_RULES,
        P + "/visualization",
        {"project_id": "m", "visualization_type": "rule_network"},
    ),
    ("GET", P + "/projects"): (Permission.VIEW_STATS, P + "/projects", None),
    ("GET", P + "/jobs"): (Permission.VIEW_JOBS, P + "/jobs?project_id=m", None),
    # Without project_id, GET /audit is host-wide (bl.admin_system): HOST_WIDE_AUDIT below.
    ("GET", P + "/audit"): (Permission.VIEW_RULES, P + "/audit?project_id=m", None),
    ("GET", P + "/maintenance/runs"): (
        Permission.ADMIN_SYSTEM,
        P + "/maintenance/runs",
        None,
    ),
    # A conflict (409) is fine here: pause and resume only need to get past auth.
    ("POST", P + "/recovery/pause"): (Permission.ADMIN_SYSTEM, P + "/recovery/pause", None),
    ("POST", P + "/recovery/resume"): (Permission.ADMIN_SYSTEM, P + "/recovery/resume", None),
    ("GET", P + "/rules/{rule_id}/examples"): (
        Permission.VIEW_RULES,
        P + "/rules/999/examples",
        None,
    ),
    ("GET", P + "/console/links"): (Permission.ADMIN_SYSTEM, P + "/console/links", None),
}
# Any valid token, whatever its role or projects: who the caller is (GET /me).
ANY_TOKEN = {("GET", P + "/me")}
PUBLIC = {("GET", "/livez"), ("GET", "/readyz"), ("GET", P + "/health"), ("GET", "/metrics")}
# Alertmanager authenticates with BL_WEBHOOK_TOKEN, not a user's JWT (test_recovery.py,
# test_notify_api.py)
WEBHOOKS = {("POST", P + "/alerts"), ("POST", P + "/alerts/notify/{channel}")}
# A one-time sign-in link's code is the credential (tests/e2e/test_console_browser.py).
SIGNIN_LINK = {("POST", P + "/signin")}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    settings = Settings(data_dir=root, database_url=f"sqlite:///{root / 'm.db'}", jwt_secret=SECRET)
    with TestClient(
        create_app(settings, metrics=Metrics(50)), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def test_the_table_covers_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert routes == set(ROUTES) | PUBLIC | WEBHOOKS | ANY_TOKEN | SIGNIN_LINK


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("route", sorted(ANY_TOKEN), ids=lambda r: f"{r[0]} {r[1]}")
def test_any_token_routes(client, role, route):
    method, path = route
    assert client.request(method, path).status_code == 401
    assert client.request(method, path, headers={"Authorization": "Bearer x"}).status_code == 401
    for projects in (None, ["other"]):
        token = create_token(SECRET, "u", role, projects)
        response = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text


def _call(client, method, path, body, headers):
    return client.request(
        method,
        path,
        json=body,
        headers=headers,
        content=b'{"text": "x"}'
        if body is None and method == "POST" and path.endswith("/records")
        else None,
    )


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_no_or_bad_token_is_401(client, route):
    _, path, body = ROUTES[route]
    assert _call(client, route[0], path, body, {}).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert _call(client, route[0], path, body, bad).status_code == 401


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_role_permissions(client, role, route):
    permission, path, body = ROUTES[route]
    token = create_token(SECRET, "u", role)
    response = _call(client, route[0], path, body, {"Authorization": f"Bearer {token}"})
    if permission in ROLE_PERMISSIONS[role]:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "FORBIDDEN"


PROJECT_ROUTES = sorted(
    r
    for r, (_, path, body) in ROUTES.items()
    if path.endswith(("/m", "/m/records", "project_id=m")) or (body or {}).get("project_id") == "m"
)


# Routes that answer 404 for an unknown project answer a project outside the token
# the same way, so the token cannot tell the two apart (docs/auth.md).
HIDDEN_AS_MISSING = {("GET", P + "/stats/{project_id}")}


@pytest.mark.parametrize("route", PROJECT_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_project_limited_token_cannot_reach_another_project(client, route):
    _, path, body = ROUTES[route]
    token = create_token(SECRET, "u", Role.SYSTEM_ADMIN, projects=["other"])
    response = _call(client, route[0], path, body, {"Authorization": f"Bearer {token}"})
    if route in HIDDEN_AS_MISSING:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "FORBIDDEN"


HOST_WIDE = {
    ("GET", P + "/recovery/history"),
    ("GET", P + "/maintenance/runs"),
    ("POST", P + "/recovery/pause"),
    ("POST", P + "/recovery/resume"),
}


@pytest.mark.parametrize("route", sorted(HOST_WIDE), ids=lambda r: f"{r[0]} {r[1]}")
def test_project_limited_admin_cannot_reach_host_wide_routes(client, route):
    _, path, body = ROUTES[route]
    token = create_token(SECRET, "u", Role.SYSTEM_ADMIN, projects=["m"])
    response = _call(client, route[0], path, body, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_project_limited_token_needs_the_admin_permission_for_the_whole_audit(client):
    """GET /audit without project_id is the host-wide trail: bl.admin_system, no projects."""
    for role in Role:
        for projects in (None, ["m"]):
            token = create_token(SECRET, "u", role, projects)
            response = client.get(P + "/audit", headers={"Authorization": f"Bearer {token}"})
            allowed = role is Role.SYSTEM_ADMIN and projects is None
            assert response.status_code == (200 if allowed else 403), (role, projects)


def test_project_routes_are_the_expected_ones():
    # /apply names its target in target_project_id; /jobs and /audit take ?project_id=
    assert len(PROJECT_ROUTES) == 12
