"""Owner-only files and directories for what the service keeps on disk.

``BL_DATA_DIR`` holds the database, the JWT signing secret, locks and often
the log file: records, rules and anything that lets a reader mint tokens.
Directories are created 0700 and files 0600 whatever the process umask, so
another local user can read none of it.

Modes are passed at creation (``mkdir``/``open`` with a mode), never set by
changing the umask around a call: the umask is process-wide, and the API
server creates files from several threads at once. Server processes also
narrow their umask once, at start-up (``restrict_umask``), for files that
libraries create without a mode we could pass (prometheus_client's metric
files).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = 0o077  # any permission bit for group or others

logger = logging.getLogger(__name__)


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700; existing ones are left alone.

    For directories that may be shared on purpose (the parent of a log file or
    of a SQLite file named by URL): only what this call creates is made private.
    """
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process created it meanwhile
        os.chmod(directory, DIR_MODE)  # mkdir's mode is reduced by the umask
    return path


def ensure_private_dir(path: Path) -> Path:
    """Create the data directory 0700, or tighten an existing one this user owns.

    An existing directory opened to group or others (an older version created
    it 0755) loses those bits, with a warning. A directory owned by another
    user is left as it is: its owner set it up, and chmod would fail anyway.
    """
    make_private_dir(path)
    info = path.stat()
    if info.st_uid == os.geteuid() and info.st_mode & _OTHERS:
        before, after = _owner_only(info.st_mode)
        os.chmod(path, after)
        logger.warning("data directory %s had mode %04o; set it to %04o", path, before, after)
    return path


def _owner_only(st_mode: int) -> tuple[int, int]:
    """(mode, mode without group/other bits): the owner's own bits are never widened, so a
    file its owner made read-only stays read-only."""
    before = stat.S_IMODE(st_mode)
    return before, before & ~_OTHERS


def tighten_fd(fd: int, path: Path | str) -> None:
    """Remove group/other access from an opened file this user owns.

    ``open``'s mode applies only when the file is created; this covers files
    left world-readable by an earlier version (0644 becomes 0600).
    """
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and info.st_mode & _OTHERS:
        before, after = _owner_only(info.st_mode)
        os.fchmod(fd, after)
        logger.warning("%s had mode %04o; set it to %04o", path, before, after)


def open_private(path: Path | str, flags: int) -> int:
    """``os.open`` creating the file 0600 (and tightening an existing one); returns the fd."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        tighten_fd(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_private_file(path: Path | str) -> None:
    """Create an empty 0600 file at ``path`` if missing, or tighten the existing one."""
    os.close(open_private(path, os.O_RDONLY))


def write_private_file(path: Path, data: bytes) -> None:
    """Write a new file, 0600 from the first byte (for temporary files renamed into place)."""
    fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def restrict_umask() -> int:
    """Add group/other bits to the umask of a server process; returns the previous umask.

    Call once at start-up, before any thread or child process exists: children
    inherit it, and no other thread can be creating a file meanwhile. Only for
    ``serve`` and ``worker``, which write nothing but service-private files; a
    one-shot command writing a report keeps the user's umask.
    """
    previous = os.umask(0o077)
    os.umask(previous | 0o077)
    return previous
