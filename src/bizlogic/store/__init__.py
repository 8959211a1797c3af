"""Persistence: SQLAlchemy tables, Alembic migrations and the repository functions.

Import what you need from the submodules (``bizlogic.store.repositories`` has
every repository function in one place); this package itself imports nothing,
so ``bizlogic db upgrade`` does not pull in the mining stack. See
docs/storage.md.
"""
