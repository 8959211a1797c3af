"""Engines and sessions from a database URL, tuned per backend.

SQLite (the embedded default) runs in WAL mode so API reads never wait for an
analysis writing its results, with foreign keys enforced like on PostgreSQL.
PostgreSQL gets a pre-pinged pool so a restarted server costs one retry, not
a failed request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bizlogic.private_fs import ensure_private_file, make_private_dir

# SQLite: how long a writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0
PG_POOL_SIZE = 5  # the default of BL_DB_POOL_SIZE
PG_MAX_OVERFLOW = 10
APPLICATION_NAME = "bizlogic"  # how the tuner finds our connections in pg_stat_activity
CheckoutHook = Callable[[bool], None]  # called with True when a checkout went past the pool
PG_POOL_RECYCLE_S = 1800
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _json_dumps(value: Any) -> str:
    # orjson: several times faster than json for the token lists of big imports, and
    # mining results may carry numpy scalars.
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def is_connection_error(exc: BaseException) -> bool:
    """The database was unreachable or dropped the connection: worth a retry, not a bug."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalize_url(url: str | URL) -> URL:
    """``postgresql://`` means psycopg 3 here (the only PostgreSQL driver we install)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with its password masked, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _prepare_sqlite_file(url: URL) -> None:
    """Create the database file 0600 before SQLite opens it, in a 0700 directory if new.

    SQLite creates a new database with the umask's mode (0644 usually), but
    gives its -wal, -shm and -journal files the mode of the database file. So
    creating the (empty, hence valid) database file 0600 ourselves makes all
    of them private. That works whatever the umask, and unlike changing the
    umask around the connect (it is process-wide) it cannot affect files other
    threads create meanwhile. An existing database this user owns loses its
    group/other access, and so do its -wal/-shm files.
    """
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        make_private_dir(path.parent)
        try:
            ensure_private_file(path)
            for suffix in SQLITE_SIDE_FILES:
                side = path.with_name(path.name + suffix)
                if side.exists():
                    ensure_private_file(side)
        except OSError:
            pass  # unreadable or read-only: SQLite meets the same problem and reports it


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
    finally:
        cursor.close()


def _count_checkouts(engine: Engine, on_checkout: CheckoutHook) -> None:
    """Report each checkout, and whether it needed a connection beyond the pool's size
    (an overflow connection, opened and closed for that one use): the tuner's evidence
    that the pool is too small."""
    pool = engine.pool

    def checkout(_dbapi: Any, _record: Any, _proxy: Any) -> None:
        size = pool.size() if hasattr(pool, "size") else 0
        on_checkout(bool(size) and pool.checkedout() > size)  # type: ignore[attr-defined]

    event.listen(engine, "checkout", checkout)


def make_engine(
    url: str | URL,
    *,
    pooled: bool = True,
    pool_size: int = PG_POOL_SIZE,
    on_checkout: CheckoutHook | None = None,
) -> Engine:
    """An engine for ``url``; ``pooled=False`` for one-shot tools such as migrations."""
    parsed = normalize_url(url)
    options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
        # A database error's message would otherwise carry the statement's parameters
        # (record text, annotator names) into logs and tracebacks.
        "hide_parameters": True,
    }
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed)
        options["connect_args"] = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_S,
        }
        if not pooled:
            options["poolclass"] = NullPool
        engine = create_engine(parsed, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # A server that does not answer fails a connection in 10 s instead of hanging.
        options["connect_args"] = {"application_name": APPLICATION_NAME, "connect_timeout": 10}
        if pooled:
            options.update(
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=PG_MAX_OVERFLOW,
                pool_recycle=PG_POOL_RECYCLE_S,
            )
        else:
            options["poolclass"] = NullPool
        engine = create_engine(parsed, **options)
    if on_checkout is not None:
        _count_checkouts(engine, on_checkout)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (the API serialises them then)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """An engine and its session factory, created once per process from one URL."""

    def __init__(
        self,
        url: str | URL,
        *,
        pooled: bool = True,
        pool_size: int = PG_POOL_SIZE,
        on_checkout: CheckoutHook | None = None,
    ) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(
            self.url, pooled=pooled, pool_size=pool_size, on_checkout=on_checkout
        )
        self.sessions = make_session_factory(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def scope(self) -> AbstractContextManager[Session]:
        """``with db.scope() as session:`` — see :func:`session_scope`."""
        return session_scope(self.sessions)

    def dispose(self) -> None:
        self.engine.dispose()
