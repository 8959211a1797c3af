"""What the service writes under BL_DATA_DIR is readable by its owner only.

The CLI runs as a real subprocess with umask 022 (the usual default), so a
mode that merely follows the umask shows up as 0755/0644 and fails.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from bizlogic.ops.overrides import overrides_path, write
from bizlogic.private_fs import ensure_private_dir, make_private_dir, restrict_umask
from bizlogic.store.db import make_engine
from bizlogic.telemetry.logfile import SizeRotatingFileHandler

BIZLOGIC = Path(sys.executable).with_name("bizlogic")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def _umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def _bizlogic(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BL_")}
    env.update(BL_DATA_DIR=str(data_dir), BL_LOG_FILE=str(data_dir / "bizlogic.log"))
    done = subprocess.run(
        [str(BIZLOGIC), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_cli_creates_data_dir_0700_and_its_files_0600(tmp_path):
    data = tmp_path / "fresh" / "data"
    _bizlogic(data, "db", "upgrade")
    assert _mode(data) == 0o700
    assert _mode(data / "bizlogic.db") == 0o600

    _bizlogic(data, "maintain", "--dry-run", "--only", "cache")  # logs to BL_LOG_FILE
    _bizlogic(data, "token", "create", "--user", "alice", "--role", "viewer")
    assert _mode(data / "bizlogic.log") == 0o600
    assert _mode(data / "maintenance.lock") == 0o600
    assert _mode(data / "jwt_secret") == 0o600
    loose = {
        str(p.relative_to(data)): oct(_mode(p))
        for p in data.rglob("*")
        if _mode(p) != (0o700 if p.is_dir() else 0o600)
    }
    assert loose == {}


def test_sqlite_wal_and_shm_files_are_0600(tmp_path):
    database = tmp_path / "new" / "bizlogic.db"
    with _umask(0o022):
        engine = make_engine(f"sqlite:///{database}")
        try:
            with engine.connect() as connection:
                connection.execute(text("CREATE TABLE t (x INTEGER)"))
                connection.execute(text("INSERT INTO t VALUES (1)"))
                connection.commit()
                sides = [database.with_name(database.name + s) for s in ("-wal", "-shm")]
                assert all(side.exists() for side in sides)  # still open: WAL mode
                modes = {p.name: _mode(p) for p in (database, *sides)}
        finally:
            engine.dispose()
    assert modes == {"bizlogic.db": 0o600, "bizlogic.db-wal": 0o600, "bizlogic.db-shm": 0o600}
    assert _mode(database.parent) == 0o700


def test_existing_world_readable_database_is_tightened(tmp_path):
    database = tmp_path / "old.db"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600


def test_existing_open_data_dir_is_tightened_with_a_warning(tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)
    with caplog.at_level(logging.WARNING, logger="bizlogic.private_fs"):
        ensure_private_dir(data)
    assert _mode(data) == 0o700
    assert f"data directory {data} had mode 0755; set it to 0700" in caplog.text
    caplog.clear()
    ensure_private_dir(data)  # already private: nothing to say
    assert caplog.text == ""


def test_make_private_dir_creates_missing_parents_0700_and_leaves_existing_ones(tmp_path):
    os.chmod(tmp_path, 0o755)
    with _umask(0o022):
        make_private_dir(tmp_path / "a" / "b")
    assert (_mode(tmp_path), _mode(tmp_path / "a"), _mode(tmp_path / "a" / "b")) == (
        0o755,
        0o700,
        0o700,
    )


@pytest.mark.parametrize("backups", [0, 2])
def test_log_files_are_0600_also_after_rotation(tmp_path, backups):
    log = tmp_path / "logs" / "bizlogic.log"
    with _umask(0o022):
        handler = SizeRotatingFileHandler(log, max_bytes=1024, backup_count=backups)
        try:
            for n in range(40):
                handler.emit(logging.makeLogRecord({"msg": f"line {n} " + "x" * 100}))
        finally:
            handler.close()
    files = sorted(log.parent.iterdir())
    assert len(files) == backups + 1
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(log.parent) == 0o700


def test_existing_world_readable_log_file_is_tightened(tmp_path):
    log = tmp_path / "bizlogic.log"
    log.write_text("old line\n")
    os.chmod(log, 0o644)
    SizeRotatingFileHandler(log, max_bytes=1024, backup_count=1).close()
    assert _mode(log) == 0o600


def test_tuning_overrides_and_backups_are_0600(tmp_path):
    path = overrides_path(tmp_path / "data")
    with _umask(0o022):
        assert write(path, {"cache_ttl_s": "120"}) is None
        os.chmod(path, 0o644)  # as an older version left it
        backup = write(path, {"worker_threads": "2"})
    assert backup is not None
    assert (_mode(path.parent), _mode(path), _mode(backup)) == (0o700, 0o600, 0o600)
    assert "BL_CACHE_TTL_S=120" in backup.read_text()


def test_restrict_umask_adds_group_and_other_bits():
    with _umask(0o002):
        assert restrict_umask() == 0o002
        assert os.umask(0o002) == 0o077
