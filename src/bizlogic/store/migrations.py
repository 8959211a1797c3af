"""Schema migrations through Alembic's API, with no ``alembic.ini`` to ship or find.

The script directory is located next to this module, so migrations work the
same from a source checkout and from an installed wheel. On PostgreSQL an
advisory lock serialises concurrent upgrades (several API workers starting at
once); PostgreSQL's transactional DDL makes each upgrade all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bizlogic.store.db import make_engine, safe_url

SCRIPT_LOCATION = Path(__file__).with_name("alembic")
# pg_advisory_xact_lock key: "bl" + "mig" in ASCII, any constant unique to us would do.
_PG_LOCK_KEY = 0x626C6D6967


class MigrationError(RuntimeError):
    """A migration (or revision lookup) could not run; the message says where and why."""


@contextmanager
def _explained(url: str | URL) -> Iterator[None]:
    """Turn driver and Alembic errors into one-line messages that never show a password."""
    try:
        yield
    except ArgumentError:
        raise MigrationError("not a database URL (expected e.g. sqlite:///path.db)") from None
    except CommandError as exc:
        raise MigrationError(f"{safe_url(url)}: {exc}") from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise MigrationError(f"{safe_url(url)}: {reason}") from None


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


def _run(url: str | URL, action: Callable[[Config, str], None], revision: str) -> None:
    with _explained(url):
        _migrate(url, action, revision)


def _migrate(url: str | URL, action: Callable[[Config, str], None], revision: str) -> None:
    engine = make_engine(url, pooled=False)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                connection.execute(lock, {"key": _PG_LOCK_KEY})
            action(_config(connection), revision)
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` (default: the newest)."""
    _run(url, command.upgrade, revision)


def downgrade(url: str | URL, revision: str) -> None:
    """Take the schema down to ``revision``; ``"base"`` drops every bizlogic table."""
    _run(url, command.downgrade, revision)


def _require_sqlite_file(url: str | URL) -> None:
    """Opening a SQLite URL creates the file (and its directory): an inspection must not."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    if not path.is_file():
        raise MigrationError(f"no database at {path}; create it with `bizlogic db upgrade`")


def current(url: str | URL) -> str | None:
    """The revision the database is at, or ``None`` when it was never migrated.

    Read-only: a SQLite file that does not exist is an error, never created.
    """
    with _explained(url):
        _require_sqlite_file(url)
        engine = make_engine(url, pooled=False)
        try:
            with engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        finally:
            engine.dispose()
