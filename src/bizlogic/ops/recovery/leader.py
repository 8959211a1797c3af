"""One acting recovery process at a time, across hosts.

PostgreSQL: a session advisory lock held on a connection of its own for as
long as the process leads — if the process dies, its connection closes and the
lock goes with it. SQLite (one machine): an exclusive ``flock`` on
``BL_DATA_DIR/recovery.lock``, released by the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bizlogic.private_fs import ensure_private_dir, open_private
from bizlogic.store.db import Database

ADVISORY_KEY = 0x626C7265636F76  # "blrecov"


class LeaderLock:
    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db, self.path = db, data_dir / "recovery.lock"
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
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
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
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
