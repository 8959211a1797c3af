"""One acting recovery process at a time, per scope.

Two scopes: the deployment (database, Redis, analyses' time limits: one leader
among all hosts) and each host (its own memory and CPU: one leader on every
host, since only a process on that host can see and stop its workers).

PostgreSQL: a session advisory lock held on a connection of its own for as
long as the process leads — if the process dies, its connection closes and the
lock goes with it. SQLite (one machine): an exclusive ``flock`` on a file in
``BL_DATA_DIR``, released by the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import zlib
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bizlogic.private_fs import ensure_private_dir, open_private
from bizlogic.store.db import Database

ADVISORY_KEY = 0x626C7265636F76  # "blrecov"
HOST_ADVISORY_CLASS = 0x626C7268  # "blrh"; (class, crc32(host)): the two-key space


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


class LeaderLock:
    """``host=None``: the deployment's lock; ``host="name"``: that host's lock."""

    def __init__(self, db: Database, data_dir: Path, host: str | None = None) -> None:
        self.db, self.host = db, host
        if host is None:
            self.path = data_dir / "recovery.lock"
            self._args, self._keys = "(:a)", {"a": ADVISORY_KEY}
        else:
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:100]
            self.path = data_dir / f"recovery-host-{safe}.lock"
            key = _signed32(zlib.crc32(host.encode()))
            self._args = "(:a, :b)"
            self._keys = {"a": HOST_ADVISORY_CLASS, "b": key}
        self._conn: Any = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fd is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.db.dialect == "postgresql":
            conn = self.db.engine.connect()
            try:
                got = conn.execute(text(f"SELECT pg_try_advisory_lock{self._args}"), self._keys)
                if got.scalar():
                    conn.commit()
                    self._conn = conn
                    return True
            except Exception:
                conn.close()
                raise
            conn.close()
            return False
        ensure_private_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        """False once the lock's database connection is gone (and with it the lock)."""
        if self._conn is None:
            return self._fd is not None
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except Exception:
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text(f"SELECT pg_advisory_unlock{self._args}"), self._keys)
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
