"""Auth: tokens, the signing secret, the permission matrix over HTTP, and `token create`."""

import base64
import json
import multiprocessing
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import jwt
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from bizlogic.api import secrets as secret_store
from bizlogic.api.auth import (
    MAX_TTL_S,
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    TokenError,
    create_token,
    decode_token,
    parse_ttl,
    principal_for,
    require,
    require_project,
    require_project_access,
)
from bizlogic.api.errors import install_error_handlers
from bizlogic.api.secrets import SecretError, jwt_secret
from bizlogic.cli import app as cli_app
from bizlogic.settings import Settings, get_settings

SECRET = "unit-test-signing-secret-0123456789abcdef"
OTHER_SECRET = "another-signing-secret-fedcba9876543210"
T0 = 1_800_000_000  # a fixed "now" (2027-01-15) so expiry tests need no clock

VIEW = {"bl.view_rules", "bl.view_patterns", "bl.view_insights", "bl.view_stats", "bl.view_jobs"}
ANALYST = VIEW | {"bl.analyze_data", "bl.import_data", "bl.export_data"}
EXPERT = ANALYST | {"bl.extract_rules", "bl.manage_rules"}
# Written out by hand (not derived from ROLE_PERMISSIONS) so a change to the table shows up here.
EXPECTED_GRANTS: dict[str, set[str]] = {
    "viewer": VIEW,
    "data_analyst": ANALYST,
    "business_expert": EXPERT,
    "system_admin": EXPERT | {"bl.admin_system"},
}


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _valid_claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": "bizlogic",
        "sub": "alice",
        "role": "viewer",
        "projects": None,
        "iat": T0,
        "exp": T0 + 3600,
        "jti": "0" * 32,
    }
    claims.update(overrides)
    return claims


def _reason(token: str, secret: str = SECRET, now: float = T0 + 1) -> tuple[str, str]:
    with pytest.raises(TokenError) as caught:
        decode_token(secret, token, now=now)
    return caught.value.reason, caught.value.message


# ---------------------------------------------------------------- roles and tokens


def test_role_permission_table() -> None:
    assert {r.value for r in Role} == set(EXPECTED_GRANTS)
    assert {p.value for p in Permission} == EXPECTED_GRANTS["system_admin"]
    for role, permissions in ROLE_PERMISSIONS.items():
        assert {p.value for p in permissions} == EXPECTED_GRANTS[role.value], role


def test_token_round_trip() -> None:
    token = create_token(SECRET, "alice", "data_analyst", ["p2", "p1"], ttl_s=3600, now=T0)
    principal = decode_token(SECRET, token, now=T0 + 10)
    claims = _claims(token)
    assert principal == Principal(
        user_id="alice",
        role=Role.DATA_ANALYST,
        permissions=ROLE_PERMISSIONS[Role.DATA_ANALYST],
        projects=frozenset({"p1", "p2"}),
        token_id=claims["jti"],
        expires_at=T0 + 3600,
    )
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert re.fullmatch(r"[0-9a-f]{32}", claims.pop("jti"))
    assert claims == {
        "iss": "bizlogic",
        "sub": "alice",
        "role": "data_analyst",
        "projects": ["p1", "p2"],
        "iat": T0,
        "exp": T0 + 3600,
    }
    assert principal.has("bl.export_data") and not principal.has(Permission.MANAGE_RULES)
    assert principal.can_access("p1") and not principal.can_access("p3")


def test_unlimited_token_has_null_projects_and_reaches_every_project() -> None:
    token = create_token(SECRET, "root", Role.SYSTEM_ADMIN, now=T0)
    assert _claims(token)["projects"] is None
    principal = decode_token(SECRET, token, now=T0)
    assert principal.projects is None and principal.can_access("anything")


def test_principal_for_uses_the_role_table() -> None:
    principal = principal_for("dana", "business_expert", ["p1"])
    assert principal == Principal(
        "dana", Role.BUSINESS_EXPERT, frozenset(EXPERT), frozenset({"p1"})
    )
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        principal_for("dana", "boss")


def test_each_token_has_its_own_id() -> None:
    first = create_token(SECRET, "alice", "viewer", now=T0)
    second = create_token(SECRET, "alice", "viewer", now=T0)
    assert _claims(first)["jti"] != _claims(second)["jti"]


def test_expiry_is_exact() -> None:
    token = create_token(SECRET, "alice", "viewer", ttl_s=60, now=T0)
    assert decode_token(SECRET, token, now=T0 + 59).user_id == "alice"
    assert _reason(token, now=T0 + 60) == ("expired", "token expired")


def test_token_minted_in_the_past_is_expired_now() -> None:
    token = create_token(SECRET, "alice", "viewer", ttl_s=3600, now=time.time() - 7200)
    with pytest.raises(TokenError, match="token expired"):
        decode_token(SECRET, token)


def test_tampered_signature_is_rejected() -> None:
    token = create_token(SECRET, "alice", "viewer", now=T0)
    header, payload, signature = token.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    bad = ("bad_signature", "token signature is invalid")
    assert _reason(f"{header}.{payload}.{flipped}") == bad


def test_tampered_payload_is_rejected() -> None:
    token = create_token(SECRET, "alice", "viewer", now=T0)
    header, _, signature = token.split(".")
    promoted = _b64({**_claims(token), "role": "system_admin"})
    assert _reason(f"{header}.{promoted}.{signature}")[0] == "bad_signature"


def test_wrong_secret_is_rejected() -> None:
    token = create_token(OTHER_SECRET, "alice", "viewer", now=T0)
    assert _reason(token) == ("bad_signature", "token signature is invalid")


def test_unknown_role_is_rejected() -> None:
    token = _signed(_valid_claims(role="root"))
    assert _reason(token) == ("unknown_role", "token has unknown role 'root'")


@pytest.mark.parametrize(
    ("token", "reason", "message"),
    [
        ("not-a-jwt", "malformed", "token is not a well-formed JWT"),
        ("", "malformed", "token is not a well-formed JWT"),
        (
            _signed(_valid_claims(), SECRET * 2, algorithm="HS512"),
            "malformed",
            "token must be signed with HS256",
        ),
        (
            f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_valid_claims())}.",
            "malformed",
            "token must be signed with HS256",
        ),
        (
            _signed({k: v for k, v in _valid_claims().items() if k != "exp"}),
            "malformed",
            "token lacks the 'exp' claim",
        ),
        (
            _signed({k: v for k, v in _valid_claims().items() if k != "projects"}),
            "malformed",
            "token lacks the 'projects' claim",
        ),
        (
            _signed(_valid_claims(projects=[])),
            "malformed",
            "token projects must be null or a list of project ids",
        ),
        (
            _signed(_valid_claims(projects="p1")),
            "malformed",
            "token projects must be null or a list of project ids",
        ),
        (
            _signed(_valid_claims(exp=str(T0 + 3600))),
            "malformed",
            "token iat and exp must be integers",
        ),
        (
            _signed(_valid_claims(iss="someone-else")),
            "wrong_issuer",
            "token was not issued by bizlogic",
        ),
        (
            _signed(_valid_claims(iat=T0 + 3600, exp=T0 + 7200)),
            "not_yet_valid",
            "token was issued in the future",
        ),
    ],
    ids=[
        "garbage",
        "empty",
        "hs512",
        "alg-none",
        "no-exp",
        "no-projects",
        "empty-projects",
        "projects-string",
        "exp-string",
        "wrong-issuer",
        "issued-in-future",
    ],
)
def test_malformed_tokens_say_why(token: str, reason: str, message: str) -> None:
    assert _reason(token) == (reason, message)


def test_issue_time_tolerates_a_minute_of_clock_skew() -> None:
    token = _signed(_valid_claims(iat=T0 + 60))
    assert decode_token(SECRET, token, now=T0).user_id == "alice"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user": " "}, "user must not be empty"),
        (
            {"role": "root"},
            "unknown role 'root'; choose from system_admin, business_expert, data_analyst, viewer",
        ),
        ({"projects": []}, "projects must be non-empty ids"),
        ({"projects": ["p1", " "]}, "projects must be non-empty ids"),
        ({"ttl_s": 0}, "ttl must be positive"),
        ({"ttl_s": MAX_TTL_S + 1}, "ttl must be at most 366 days"),
        ({"secret": "short"}, "the signing secret must be at least 32 bytes"),
    ],
)
def test_create_token_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"secret": SECRET, "user": "alice", "role": "viewer"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        create_token(**arguments)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3600s", 3600), ("90m", 5400), ("12h", 43_200), ("30d", 2_592_000), ("2W", 1_209_600)],
)
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3600", "invalid ttl '3600'; use a number with a unit s, m, h, d or w (e.g. 30d)"),
        ("-1d", "invalid ttl '-1d'"),
        ("1.5h", "invalid ttl '1.5h'"),
        ("0s", "ttl must be positive"),
        ("367d", "ttl must be at most 366 days"),
    ],
)
def test_parse_ttl_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_ttl(text)


# ---------------------------------------------------------------- the secret


def _settings(data_dir: Path, secret: str | None = None) -> Settings:
    return Settings(data_dir=data_dir, jwt_secret=None if secret is None else SecretStr(secret))


def test_secret_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = jwt_secret(_settings(data_dir))
    path = data_dir / "jwt_secret"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first)  # token_urlsafe(32): 256 bits
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert path.read_text() == first + "\n"
    assert jwt_secret(_settings(data_dir)) == first
    assert os.listdir(data_dir) == ["jwt_secret"]  # no temporary files left behind


def test_secret_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o777)
    try:
        jwt_secret(_settings(tmp_path))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode) == 0o600


def test_environment_secret_wins_and_writes_nothing(tmp_path: Path) -> None:
    assert jwt_secret(_settings(tmp_path, f"  {SECRET}\n")) == SECRET
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "BL_JWT_SECRET is empty"),
        ("too-short", "BL_JWT_SECRET is 9 bytes long; HS256 needs at least 32"),
    ],
)
def test_weak_environment_secret_is_refused(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(SecretError, match=re.escape(message)):
        jwt_secret(_settings(tmp_path, value))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secret_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "jwt_secret"
    path.write_text(SECRET)
    path.chmod(mode)
    expected = (
        f"{path} has mode {mode:04o}; it must be accessible by its owner only "
        f"(run: chmod 600 {path})"
    )
    with pytest.raises(SecretError) as caught:
        jwt_secret(_settings(tmp_path))
    assert str(caught.value) == expected
    assert path.read_text() == SECRET  # never replaced


@pytest.mark.parametrize(("content", "message"), [("", "is empty"), ("short\n", "is 5 bytes long")])
def test_unusable_secret_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "jwt_secret"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(SecretError, match=re.escape(f"{path} {message}")):
        jwt_secret(_settings(tmp_path))


def test_secret_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jwt_secret").mkdir(mode=0o700)
    with pytest.raises(SecretError, match="is not a regular file"):
        jwt_secret(_settings(tmp_path))


def test_loser_of_a_creation_race_adopts_the_winners_secret(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    winner = jwt_secret(_settings(tmp_path))
    assert secret_store._publish(path, "x" * 43) == winner
    assert path.read_text() == winner + "\n"
    assert os.listdir(tmp_path) == ["jwt_secret"]


def _race(data_dir: str, barrier: Any, results: Any) -> None:
    barrier.wait(timeout=60)
    results.put(jwt_secret(_settings(Path(data_dir))))


def test_processes_racing_to_create_the_secret_agree(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = 4
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_race, args=(str(tmp_path / "data"), barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    secrets_seen = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    on_disk = (tmp_path / "data" / "jwt_secret").read_text().strip()
    assert secrets_seen == [on_disk] * workers
    assert os.listdir(tmp_path / "data") == ["jwt_secret"]


# ---------------------------------------------------------------- over HTTP


def _guarded_app(secret: str | None = SECRET) -> FastAPI:
    app = FastAPI()
    if secret is not None:
        app.state.jwt_secret = secret
    install_error_handlers(app)

    def add(permission: Permission) -> None:
        async def endpoint(
            principal: Annotated[Principal, Depends(require(permission))],
        ) -> dict[str, str]:
            return {"user": principal.user_id, "permission": permission.value}

        app.add_api_route(f"/guarded/{permission.value}", endpoint, methods=["GET"])

    for permission in Permission:
        add(permission)

    @app.get("/projects/{project_id}/rules")
    async def project_rules(
        project_id: str,
        principal: Annotated[Principal, Depends(require_project(Permission.VIEW_RULES))],
    ) -> dict[str, str]:
        return {"project_id": project_id, "user": principal.user_id}

    @app.post("/projects/{project_id}/export")
    async def project_export(
        request: Request,
        project_id: str,
        principal: Annotated[Principal, Depends(require(Permission.EXPORT_DATA))],
    ) -> dict[str, str]:
        require_project_access(principal, project_id)
        assert request.state.principal is principal  # kept for access logs
        return {"project_id": project_id}

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_guarded_app())


def _bearer(role: str, projects: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, 'u-' + role, role, projects)}"}


def _envelope(code: str, message: str, details: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details}}


@pytest.mark.parametrize("permission", sorted(EXPECTED_GRANTS["system_admin"]))
@pytest.mark.parametrize("role", sorted(EXPECTED_GRANTS))
def test_every_role_on_every_guarded_route(client: TestClient, role: str, permission: str) -> None:
    response = client.get(f"/guarded/{permission}", headers=_bearer(role))
    if permission in EXPECTED_GRANTS[role]:
        assert response.status_code == 200
        assert response.json() == {"user": f"u-{role}", "permission": permission}
    else:
        assert response.status_code == 403
        assert response.json() == _envelope(
            "FORBIDDEN",
            f"role {role} lacks permission {permission}",
            {"permission": permission, "role": role},
        )


@pytest.mark.parametrize("permission", sorted(EXPECTED_GRANTS["system_admin"]))
def test_every_guarded_route_without_a_token(client: TestClient, permission: str) -> None:
    response = client.get(f"/guarded/{permission}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == _envelope(
        "UNAUTHORIZED", "missing bearer token", {"reason": "missing"}
    )


BAD_CREDENTIALS = [
    ("Bearer not-a-jwt", "token is not a well-formed JWT", "malformed"),
    (
        f"Bearer {create_token(OTHER_SECRET, 'eve', 'system_admin')}",
        "token signature is invalid",
        "bad_signature",
    ),
    (
        f"Bearer {create_token(SECRET, 'bob', 'viewer', now=time.time() - 7200, ttl_s=3600)}",
        "token expired",
        "expired",
    ),
    ("Basic YWxpY2U6c2VjcmV0", "Authorization header must be 'Bearer <token>'", "malformed"),
    ("Bearer", "Authorization header must be 'Bearer <token>'", "malformed"),
]


@pytest.mark.parametrize("permission", sorted(EXPECTED_GRANTS["system_admin"]))
@pytest.mark.parametrize(
    ("authorization", "message", "reason"),
    BAD_CREDENTIALS,
    ids=["garbage", "wrong-secret", "expired", "basic", "empty-bearer"],
)
def test_every_guarded_route_with_a_bad_token(
    client: TestClient, permission: str, authorization: str, message: str, reason: str
) -> None:
    response = client.get(f"/guarded/{permission}", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == _envelope("UNAUTHORIZED", message, {"reason": reason})


def test_project_token_reads_its_project(client: TestClient) -> None:
    response = client.get("/projects/p-a/rules", headers=_bearer("viewer", ["p-a"]))
    assert response.status_code == 200
    assert response.json() == {"project_id": "p-a", "user": "u-viewer"}


@pytest.mark.parametrize("role", sorted(EXPECTED_GRANTS))
def test_project_a_token_cannot_read_project_b(client: TestClient, role: str) -> None:
    response = client.get("/projects/p-b/rules", headers=_bearer(role, ["p-a"]))
    assert response.status_code == 403
    assert response.json() == _envelope(
        "FORBIDDEN", "token is not valid for project 'p-b'", {"project_id": "p-b"}
    )


def test_unlimited_token_reads_any_project(client: TestClient) -> None:
    for project in ("p-a", "p-b"):
        response = client.get(f"/projects/{project}/rules", headers=_bearer("viewer"))
        assert response.status_code == 200


def test_project_check_inside_a_handler(client: TestClient) -> None:
    limited = _bearer("data_analyst", ["p-a", "p-c"])
    assert client.post("/projects/p-c/export", headers=limited).status_code == 200
    response = client.post("/projects/p-b/export", headers=limited)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "token is not valid for project 'p-b'"


def test_permission_is_checked_before_the_project(client: TestClient) -> None:
    response = client.post("/projects/p-b/export", headers=_bearer("viewer", ["p-a"]))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "role viewer lacks permission bl.export_data"


def test_app_without_a_secret_fails_closed_with_500() -> None:
    client = TestClient(_guarded_app(secret=None), raise_server_exceptions=False)
    response = client.get("/guarded/bl.view_rules", headers=_bearer("system_admin"))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "jwt_secret" not in response.text


def test_openapi_declares_the_bearer_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "JWT from `bizlogic token create`",
    }


def test_require_rejects_unknown_permissions_at_definition_time() -> None:
    with pytest.raises(
        ValueError, match=re.escape("'bl.view_everything' is not a valid Permission")
    ):
        require("bl.view_everything")


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BL_JWT_SECRET", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["token", "create", *args])


def _flat(text: str) -> str:
    return " ".join(text.split())  # Rich wraps stderr at the terminal width


def test_cli_prints_only_the_token_on_stdout(data_dir: Path) -> None:
    result = _invoke("--user", "alice", "--role", "business_expert", "--ttl", "12h")
    assert result.exit_code == 0, result.output
    [token] = result.stdout.splitlines()
    secret = jwt_secret(_settings(data_dir))
    principal = decode_token(secret, token)
    assert (principal.user_id, principal.role, principal.projects) == (
        "alice",
        Role.BUSINESS_EXPERT,
        None,
    )
    claims = _claims(token)
    assert claims["exp"] - claims["iat"] == 12 * 3600
    assert stat.S_IMODE((data_dir / "jwt_secret").stat().st_mode) == 0o600
    assert _flat(result.stderr) == (
        "token for user 'alice', role business_expert, every project, valid for 12h"
        " — send it as 'Authorization: Bearer <token>'"
    )


def test_cli_limits_projects_and_defaults_to_thirty_days(data_dir: Path) -> None:
    result = _invoke("--user", "bob", "--role", "viewer", "--project", "p3", "--projects", "p1,p2")
    assert result.exit_code == 0, result.output
    token = result.stdout.splitlines()[-1]
    principal = decode_token(jwt_secret(_settings(data_dir)), token)
    assert principal.projects == frozenset({"p1", "p2", "p3"})
    claims = _claims(token)
    assert claims["exp"] - claims["iat"] == 30 * 86_400


def test_cli_uses_the_environment_secret(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BL_JWT_SECRET", SECRET)
    result = _invoke("--user", "carol", "--role", "system_admin")
    assert result.exit_code == 0, result.output
    assert decode_token(SECRET, result.stdout.splitlines()[-1]).user_id == "carol"
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--role", "root"],
            "error: --role: unknown role 'root'; choose from system_admin, business_expert, "
            "data_analyst, viewer",
        ),
        (
            ["--role", "viewer", "--ttl", "3600"],
            "error: --ttl: invalid ttl '3600'; use a number with a unit s, m, h, d or w (e.g. 30d)",
        ),
        (["--role", "viewer", "--ttl", "400d"], "error: --ttl: ttl must be at most 366 days"),
        (
            ["--role", "viewer", "--projects", "p1,,p2"],
            "error: --project: project ids must not be empty",
        ),
    ],
)
def test_cli_rejects_bad_options(data_dir: Path, args: list[str], message: str) -> None:
    result = _invoke("--user", "alice", *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert _flat(result.stderr) == message
    assert not data_dir.exists()  # nothing generated for a request that fails


def test_cli_refuses_a_world_readable_secret_file(data_dir: Path) -> None:
    data_dir.mkdir()
    path = data_dir / "jwt_secret"
    path.write_text(SECRET)
    path.chmod(0o644)
    result = _invoke("--user", "alice", "--role", "viewer")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert _flat(result.stderr) == (
        f"error: {path} has mode 0644; it must be accessible by its owner only "
        f"(run: chmod 600 {path})"
    )


def test_cli_help_has_examples() -> None:
    result = CliRunner().invoke(cli_app, ["token", "create", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "bizlogic token create --user alice --role system_admin" in result.stdout
