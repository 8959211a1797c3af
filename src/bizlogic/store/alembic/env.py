"""Alembic environment for bizlogic, driven programmatically by ``bizlogic.store.migrations``.

The caller hands over an open connection in ``config.attributes["connection"]``
so migrations use the same engine setup (SQLite pragmas, psycopg 3) as the
application. SQLite gets ``render_as_batch`` so future ALTERs are emitted as
table rebuilds, which is the only way SQLite can alter constraints.

No ``target_metadata``: revisions are frozen and must not pick up the naming
convention (or anything else) of today's models; tests compare instead.
"""

from __future__ import annotations

from alembic import context

config = context.config

if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")

connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bizlogic.store.migrations (no connection given)")

context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
