"""JWT bearer auth: roles, permissions, project-limited tokens and FastAPI dependencies.

Tokens are HS256 JWTs signed with the secret from ``bizlogic.api.secrets``.
A token names a role, never a list of permissions: the permissions come from
``ROLE_PERMISSIONS`` at decode time, so changing the table changes what every
outstanding token may do. See docs/auth.md for the reasoning behind the table.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency objects
# in the closures' annotations (a string annotation cannot reach a closure variable).

import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.secrets import MIN_SECRET_BYTES

ISSUER = "bizlogic"
ALGORITHM = "HS256"
DEFAULT_TTL_S = 30 * 86_400
# No revocation list exists (rotating the secret revokes everything), so lifetimes are bounded.
MAX_TTL_S = 366 * 86_400
# Tokens minted on another host may carry an iat slightly ahead of this clock.
CLOCK_SKEW_S = 60


class Role(StrEnum):
    SYSTEM_ADMIN = "system_admin"
    BUSINESS_EXPERT = "business_expert"
    DATA_ANALYST = "data_analyst"
    VIEWER = "viewer"


class Permission(StrEnum):
    VIEW_RULES = "bl.view_rules"
    VIEW_PATTERNS = "bl.view_patterns"
    VIEW_INSIGHTS = "bl.view_insights"
    VIEW_STATS = "bl.view_stats"
    VIEW_JOBS = "bl.view_jobs"
    ANALYZE_DATA = "bl.analyze_data"
    IMPORT_DATA = "bl.import_data"
    EXPORT_DATA = "bl.export_data"
    EXTRACT_RULES = "bl.extract_rules"
    MANAGE_RULES = "bl.manage_rules"
    ADMIN_SYSTEM = "bl.admin_system"


_VIEW = frozenset(p for p in Permission if p.value.startswith("bl.view_"))
_ANALYST = _VIEW | {Permission.ANALYZE_DATA, Permission.IMPORT_DATA, Permission.EXPORT_DATA}
_EXPERT = _ANALYST | {Permission.EXTRACT_RULES, Permission.MANAGE_RULES}

# Each role includes the one below it; docs/auth.md explains the cut between them.
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEW,
    Role.DATA_ANALYST: _ANALYST,
    Role.BUSINESS_EXPERT: _EXPERT,
    Role.SYSTEM_ADMIN: frozenset(Permission),
}


class TokenError(Exception):
    """A token that must not be honoured; ``reason`` is a stable machine-readable word."""

    REASONS = frozenset(
        {"expired", "bad_signature", "malformed", "unknown_role", "wrong_issuer", "not_yet_valid"}
    )

    def __init__(self, reason: str, message: str) -> None:
        assert reason in self.REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what they may do; ``projects=None`` means every project."""

    user_id: str
    role: Role
    permissions: frozenset[Permission]
    projects: frozenset[str] | None = None
    token_id: str | None = None
    expires_at: int | None = None  # epoch seconds

    def has(self, permission: Permission | str) -> bool:
        return Permission(permission) in self.permissions

    def can_access(self, project_id: str) -> bool:
        return self.projects is None or project_id in self.projects


def principal_for(
    user_id: str, role: Role | str, projects: Iterable[str] | None = None
) -> Principal:
    """A principal without a token, e.g. for ``app.dependency_overrides`` in API tests."""
    known = parse_role(role)
    return Principal(
        user_id=user_id,
        role=known,
        permissions=ROLE_PERMISSIONS[known],
        projects=None if projects is None else frozenset(projects),
    )


def parse_role(value: Role | str) -> Role:
    """The role named ``value``; ``ValueError`` lists the valid names."""
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}; choose from {choices}") from None


_TTL = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def parse_ttl(text: str) -> int:
    """Seconds in ``30d`` / ``12h`` / ``90m`` / ``3600s`` / ``2w``; ``ValueError`` otherwise."""
    match = _TTL.match(text.lower())
    if not match:
        raise ValueError(
            f"invalid ttl {text!r}; use a number with a unit s, m, h, d or w (e.g. 30d)"
        )
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    _check_ttl(seconds)
    return seconds


def _check_ttl(ttl_s: int) -> None:
    if ttl_s <= 0:
        raise ValueError("ttl must be positive")
    if ttl_s > MAX_TTL_S:
        raise ValueError(f"ttl must be at most {MAX_TTL_S // 86_400} days")


def _check_key(secret: str) -> None:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"the signing secret must be at least {MIN_SECRET_BYTES} bytes")


def _epoch(now: datetime | float | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return int(now.timestamp())
    return int(now)


def create_token(
    secret: str,
    user: str,
    role: Role | str,
    projects: Iterable[str] | None = None,
    ttl_s: int = DEFAULT_TTL_S,
    *,
    now: datetime | float | None = None,
) -> str:
    """Sign a token for ``user``; ``projects`` limits it to those project ids (None: all)."""
    _check_key(secret)
    if not user.strip():
        raise ValueError("user must not be empty")
    known = parse_role(role)
    _check_ttl(ttl_s)
    project_list: list[str] | None = None
    if projects is not None:
        project_list = sorted({p.strip() for p in projects})
        if not project_list or "" in project_list:
            raise ValueError("projects must be non-empty ids (or None for every project)")
    issued = _epoch(now)
    claims = {
        "iss": ISSUER,
        "sub": user.strip(),
        "role": known.value,
        "projects": project_list,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


_REQUIRED = ["iss", "sub", "role", "iat", "exp", "jti"]


def decode_token(secret: str, token: str, *, now: datetime | float | None = None) -> Principal:
    """Verify ``token`` and return its principal, or raise ``TokenError`` saying why not."""
    _check_key(secret)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": _REQUIRED,
                "verify_exp": False,  # checked below against ``now``
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature", "token signature is invalid") from None
    except jwt.InvalidAlgorithmError:
        raise TokenError("malformed", f"token must be signed with {ALGORITHM}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("malformed", f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidIssuerError:
        raise TokenError("wrong_issuer", f"token was not issued by {ISSUER}") from None
    except jwt.InvalidTokenError:
        raise TokenError("malformed", "token is not a well-formed JWT") from None
    return _principal(claims, _epoch(now))


def _principal(claims: dict[str, Any], now: int) -> Principal:
    if "projects" not in claims:
        raise TokenError("malformed", "token lacks the 'projects' claim")
    sub, role, projects = claims["sub"], claims["role"], claims["projects"]
    iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise TokenError("malformed", "token iat and exp must be integers")
    if not all(isinstance(v, str) and v for v in (sub, role, jti)):
        raise TokenError("malformed", "token sub, role and jti must be non-empty strings")
    if projects is not None and not (
        isinstance(projects, list) and projects and all(isinstance(p, str) and p for p in projects)
    ):
        raise TokenError("malformed", "token projects must be null or a list of project ids")
    _check_lifetime(iat, exp)
    if now >= exp:
        raise TokenError("expired", "token expired")
    if iat > now + CLOCK_SKEW_S:
        raise TokenError("not_yet_valid", "token was issued in the future")
    try:
        known = Role(role)
    except ValueError:
        raise TokenError("unknown_role", f"token has unknown role {role!r}") from None
    return Principal(
        user_id=sub,
        role=known,
        permissions=ROLE_PERMISSIONS[known],
        projects=None if projects is None else frozenset(projects),
        token_id=jti,
        expires_at=exp,
    )


def _check_lifetime(iat: int, exp: int) -> None:
    """Refuse lifetimes ``create_token`` never issues.

    The cap bounds how long a leaked token stays useful, as there is no
    revocation list; enforcing it only when signing would let anyone holding
    the key (another tool, an old version) mint tokens that never die.
    """
    if exp <= iat:
        raise TokenError("malformed", "token exp must be after its iat")
    if exp - iat > MAX_TTL_S:
        raise TokenError(
            "malformed", f"token lifetime exceeds the maximum of {MAX_TTL_S // 86_400} days"
        )


# ---------------------------------------------------------------- FastAPI dependencies

# Declared for the OpenAPI "Authorize" button; the header is checked below with our messages.
bearer_scheme = HTTPBearer(auto_error=False, description="JWT from `bizlogic token create`")


def _unauthorized(message: str, reason: str, invalid_token: bool) -> ApiError:
    # RFC 6750 §3: no error attribute when credentials are missing, invalid_token otherwise.
    challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
    return ApiError(
        401,
        ErrorCode.UNAUTHORIZED,
        message,
        details={"reason": reason},
        headers={"WWW-Authenticate": challenge},
    )


def missing_token() -> ApiError:
    return _unauthorized("missing bearer token", "missing", invalid_token=False)


def app_secret(request: Request) -> str:
    """The signing secret the app factory put in ``app.state.jwt_secret``."""
    secret = getattr(request.app.state, "jwt_secret", None)
    if not isinstance(secret, str) or not secret:
        raise RuntimeError("app.state.jwt_secret is not set; the app factory must set it")
    return secret


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller named by the ``Authorization: Bearer`` token, or 401 UNAUTHORIZED."""
    if credentials is None:
        header = request.headers.get("authorization")
        if header is None:
            raise missing_token()
        raise _unauthorized(
            "Authorization header must be 'Bearer <token>'", "malformed", invalid_token=True
        )
    try:
        principal = decode_token(app_secret(request), credentials.credentials)
    except TokenError as exc:
        raise _unauthorized(exc.message, exc.reason, invalid_token=True) from None
    request.state.principal = principal  # for access logs and user_action events
    return principal


def _forbidden(message: str, **details: str) -> ApiError:
    return ApiError(403, ErrorCode.FORBIDDEN, message, details=details)


def require(permission: Permission | str) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the caller, if their role grants ``permission``; otherwise 403 FORBIDDEN."""
    needed = Permission(permission)  # a typo fails at import time, not per request

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if needed not in principal.permissions:
            raise _forbidden(
                f"role {principal.role.value} lacks permission {needed.value}",
                permission=needed.value,
                role=principal.role.value,
            )
        return principal

    dependency.__name__ = f"require_{needed.value.replace('.', '_')}"
    return dependency


def not_found(message: str) -> ApiError:
    """404 NOT_FOUND as every route answers a missing object; shared so a hidden one matches."""
    return ApiError(404, ErrorCode.NOT_FOUND, message)


def project_not_found(project_id: str) -> ApiError:
    return not_found(f"project {project_id!r} not found")


def require_project_access(
    principal: Principal, project_id: str, *, missing: ApiError | None = None
) -> None:
    """Refuse a project outside the token without revealing whether it exists.

    ``missing`` is the error the route gives when the object (or project) does
    not exist; a foreign one gets exactly that error, so the answer cannot tell
    "exists elsewhere" from "never existed". Routes for which a missing project
    is no error pass nothing and get 403, whose message names only the
    requested id. The one place that decides, so no route can differ.
    """
    if principal.can_access(project_id):
        return
    if missing is not None:
        raise missing
    raise _forbidden(
        f"token is not valid for project {project_id!r}",
        project_id=project_id,
    )


def require_project(
    permission: Permission | str, missing: Callable[[str], ApiError] | None = None
) -> Callable[..., Awaitable[Principal]]:
    """Dependency for routes with a ``{project_id}`` path parameter: permission and project.

    Pass ``missing`` (e.g. ``project_not_found``) when the route answers 404 for
    an unknown project, so that a project outside the token gets the same 404.
    """
    guard = require(permission)

    async def dependency(
        project_id: str, principal: Annotated[Principal, Depends(guard)]
    ) -> Principal:
        hidden = missing(project_id) if missing is not None else None
        require_project_access(principal, project_id, missing=hidden)
        return principal

    dependency.__name__ = f"{guard.__name__}_on_project"
    return dependency


def require_host_wide(
    permission: Permission | str, action: str
) -> Callable[..., Awaitable[Principal]]:
    """Dependency for host-wide data or actions: the permission and a token without projects.

    Host-wide data (recovery history, pause state) belongs to no project, so a
    token limited to projects must not see it, whatever its role. ``action``
    completes "a token limited to projects cannot ...".
    """
    guard = require(permission)

    async def dependency(principal: Annotated[Principal, Depends(guard)]) -> Principal:
        check_host_wide(principal, permission, action)
        return principal

    dependency.__name__ = f"{guard.__name__}_host_wide"
    return dependency


def check_host_wide(principal: Principal, permission: Permission | str, action: str) -> None:
    """``require_host_wide``'s checks, for a route that is host-wide only for some requests
    (``GET /audit`` without ``project_id``): the permission first, then the scope."""
    needed = Permission(permission)
    if needed not in principal.permissions:
        raise _forbidden(
            f"role {principal.role.value} lacks permission {needed.value}",
            permission=needed.value,
            role=principal.role.value,
        )
    if principal.projects is not None:
        raise _forbidden(f"a token limited to projects cannot {action}", scope="host")
