"""One writer at a time for a check-then-write step, on both databases.

A count or an existence check followed by a write races when two requests
run it at once (under READ COMMITTED both see the same state). PostgreSQL
gets a transaction-scoped advisory lock per (purpose, name); SQLite has a
single writer, so the step's first statement must be a write, which makes
the transaction hold that lock until it ends.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_key(purpose: str, name: str) -> int:
    """A signed 64-bit key, the same in every process (``hash()`` is salted per process)."""
    raw = f"bizlogic.{purpose}\x1f{name}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


def hold_advisory_lock(session: Session, purpose: str, name: str) -> None:
    """On PostgreSQL, wait for and hold (until the transaction ends) the lock of this step.

    On SQLite it does nothing: callers write first, as the module docstring says.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = lock_key(purpose, name)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
