"""One-time console sign-in links: made by the CLI, redeemed once by the console.

A person who can run ``bizlogic`` on the server can already mint tokens; the
link only saves pasting one. What the link grants is stored, the code itself
is not (only its SHA-256), and redeeming deletes the row in the same
statement that finds it, so two tabs racing for one link get one token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete

from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import SigninLink

LINK_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class Grant:
    user_id: str
    role: str
    projects: list[str] | None
    ttl_s: int


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def create_link(db: Database, grant: Grant) -> str:
    """A new code for ``grant``; expired links are swept at the same time."""
    code = secrets.token_urlsafe(32)
    now = clock.utcnow()
    with db.scope() as session:
        session.execute(delete(SigninLink).where(SigninLink.expires_at < now))
        session.add(
            SigninLink(
                code_hash=_hash(code),
                user_id=grant.user_id,
                role=grant.role,
                projects=grant.projects,
                ttl_s=grant.ttl_s,
                created_at=now,
                expires_at=now + LINK_LIFETIME,
            )
        )
    return code


def redeem(db: Database, code: str) -> Grant | None:
    """The grant of a live link, consumed; None for an unknown, used or expired code."""
    with db.scope() as session:
        row = session.execute(
            delete(SigninLink)
            .where(SigninLink.code_hash == _hash(code))
            .returning(
                SigninLink.user_id,
                SigninLink.role,
                SigninLink.projects,
                SigninLink.ttl_s,
                SigninLink.expires_at,
            )
        ).first()
    if row is None or row.expires_at < clock.utcnow():
        return None
    return Grant(row.user_id, row.role, row.projects, row.ttl_s)
