"""Size-bounded log files (``BL_LOG_FILE``, ``BL_LOG_MAX_BYTES``, ``BL_LOG_BACKUP_COUNT``),
one writer each.

``RotatingFileHandler`` almost fits but compares *characters* with the byte
limit (Chinese text is 3 bytes a character in UTF-8), formats every record
twice, and with ``backupCount=0`` never rotates, so the file grows forever.
This subclass formats once, counts encoded bytes, and with no backups
truncates the file instead. Each file stays ≤ ``max_bytes`` unless a single
line is longer than that, which then gets a file of its own.

Log lines carry user ids, project ids and request details, so every file is
created 0600 (an existing one this user owns is tightened) and a missing
directory 0700, whatever the umask.

Rotation renames the file: a second process appending to it would go on writing
into the renamed file, rotate it again by its own count and lose lines. So every
process writes a file of its own (`claim`): ``{process}`` in ``BL_LOG_FILE``
becomes the process's role (``api``, ``worker``, ``maintenance``, ``recover``), and
of several processes of one role the first holds ``api.log``, the next
``api-2.log`` and so on, each file held by a lock (``.api.log.lock``) for the
life of its process. `live_files` finds them all for the analyzer and the
maintenance.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

from bizlogic.private_fs import make_private_dir, open_private


class SizeRotatingFileHandler(RotatingFileHandler):
    def __init__(self, filename: Path, max_bytes: int, backup_count: int) -> None:
        make_private_dir(filename.parent)
        super().__init__(filename, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            size = len(line.encode("utf-8", errors="replace"))
            if self.stream is None:
                self.stream = self._open()
            written = os.fstat(self.stream.fileno()).st_size
            if written > 0 and written + size > self.maxBytes:
                self.doRollover()
            self.stream.write(line)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def doRollover(self) -> None:
        if self.backupCount > 0:
            super().doRollover()
            return
        if self.stream:
            self.stream.close()
        self.stream = self._open_private(truncate=True)

    def _open(self) -> TextIO:
        """The handler's stream, opened owner-only (``logging`` would use the umask)."""
        return self._open_private(truncate=False)

    def _open_private(self, truncate: bool) -> TextIO:
        flags = os.O_WRONLY | (os.O_TRUNC if truncate else os.O_APPEND)
        fd = open_private(self.baseFilename, flags)
        return os.fdopen(fd, "w" if truncate else "a", encoding="utf-8", errors=self.errors)


# -- one writer per file ----------------------------------------------------------------

PROCESS = "{process}"
# What `{process}` becomes, by command: `serve` and its server processes, `worker` and its
# worker processes, `maintain`, `recover`; anything else that logs is "bizlogic".
ROLES = ("api", "worker", "maintenance", "recover", "bizlogic")
_MAX_SLOTS = 10_000
_NUMBERED = re.compile(r"^(?P<head>.+)-(?P<slot>[1-9][0-9]*)$")


def expand(template: Path, process: str) -> Path:
    """``BL_LOG_FILE`` for a process: ``{process}`` in the file name becomes its role."""
    return template.with_name(template.name.replace(PROCESS, process))


def slot_path(path: Path, slot: int) -> Path:
    """The file of the ``slot``-th process sharing ``path``: the path itself for the first,
    then ``name-2.log``, ``name-3.log`` … (before the suffix, apart from rotations' ``.N``)."""
    if slot == 1:
        return path
    suffix = path.suffix
    return path.with_name(f"{path.name[: len(path.name) - len(suffix)]}-{slot}{suffix}")


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


class LogSlot:
    """A log file this process alone writes, held by an exclusive lock on its lock file
    (``.name.lock`` beside it) until `release` or the process's end."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd
        self.pid = os.getpid()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = -1


def claim(template: Path, process: str = "bizlogic") -> LogSlot:
    """The first file of ``template`` (``{process}`` expanded) no live process writes.

    Size rotation renames the file under every other process that appends to it, so
    each process must be the only writer of its file: the one whose lock it holds. A
    lock dies with its process, so a restarted process takes a free slot again (the
    lowest: names stay few and stable). The lock file is checked to be the one at its
    path after locking, so that a lock file removed and created anew cannot give one
    slot to two processes."""
    base = expand(template, process)
    make_private_dir(base.parent)
    for slot in range(1, _MAX_SLOTS + 1):
        path = slot_path(base, slot)
        lock = lock_path(path)
        while True:
            fd = open_private(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                break  # a live process writes this one: the next slot
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return LogSlot(path, fd)
            os.close(fd)  # removed or replaced meanwhile: lock the file now at the path
    raise RuntimeError(f"{base}: {_MAX_SLOTS} processes already write its slots")


def is_written(path: Path) -> bool:
    """Whether a live process holds the slot of this log file."""
    try:
        fd = os.open(lock_path(path), os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _family_pattern(template: Path) -> re.Pattern[str]:
    """File names of every slot of every role of ``template``, live or rotated
    (``.N``, ``.N.gz``): group ``base`` is the live file's name."""
    names = sorted({expand(template, role).name for role in ROLES})
    bases = []
    for name in names:
        suffix = Path(name).suffix
        stem = name[: len(name) - len(suffix)]
        bases.append(f"{re.escape(stem)}(?:-[1-9][0-9]*)?{re.escape(suffix)}")
    return re.compile(rf"^(?P<base>{'|'.join(bases)})(?:\.[0-9]+(?:\.gz)?)?$")


def live_files(template: Path) -> list[Path]:
    """Every live log file ``template`` stands for — each role's (with ``{process}``) and
    each slot's — that exists or has rotations, by name (slots by number)."""
    directory = template.parent
    if not directory.is_dir():
        return []
    pattern = _family_pattern(template)
    bases = set()
    for entry in directory.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_file():
            bases.add(match["base"])

    def order(name: str) -> tuple[str, int]:  # api.log, api-2.log, api-10.log, worker.log
        suffix = Path(name).suffix
        numbered = _NUMBERED.match(name[: len(name) - len(suffix)])
        if numbered:
            return numbered["head"] + suffix, int(numbered["slot"])
        return name, 1

    return [directory / name for name in sorted(bases, key=order)]
