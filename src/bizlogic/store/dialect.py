"""``INSERT … ON CONFLICT`` for the session's backend (SQLite ≥ 3.24 and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_insert(session: Session, table: Table) -> Any:
    """The dialect's ``insert(table)``, which has ``on_conflict_do_update/nothing``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database backend {name!r}: use SQLite or PostgreSQL")
