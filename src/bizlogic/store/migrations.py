"""Schema migrations through Alembic's API, with no ``alembic.ini`` to ship or find.

The script directory is located next to this module, so migrations work the
same from a source checkout and from an installed wheel. On PostgreSQL an
advisory lock serialises concurrent upgrades (several API workers starting at
once); PostgreSQL's transactional DDL makes each upgrade all-or-nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from bizlogic.store.db import make_engine

SCRIPT_LOCATION = Path(__file__).with_name("alembic")
# pg_advisory_xact_lock key: "bl" + "mig" in ASCII, any constant unique to us would do.
_PG_LOCK_KEY = 0x626C6D6967


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version of bizlogic knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations found in {SCRIPT_LOCATION}")
    return revision


def _run(url: str | URL, action: str, revision: str) -> None:
    engine = make_engine(url, pooled=False)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                connection.execute(lock, {"key": _PG_LOCK_KEY})
            config = _config(connection)
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` (default: the newest)."""
    _run(url, "upgrade", revision)


def downgrade(url: str | URL, revision: str) -> None:
    """Take the schema down to ``revision``; ``"base"`` drops every bizlogic table."""
    _run(url, "downgrade", revision)


def current(url: str | URL) -> str | None:
    """The revision the database is at, or ``None`` when it was never migrated."""
    engine = make_engine(url, pooled=False)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
