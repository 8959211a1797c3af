"""Size-bounded log file (``BL_LOG_FILE``, ``BL_LOG_MAX_BYTES``, ``BL_LOG_BACKUP_COUNT``).

``RotatingFileHandler`` almost fits but compares *characters* with the byte
limit (Chinese text is 3 bytes a character in UTF-8), formats every record
twice, and with ``backupCount=0`` never rotates, so the file grows forever.
This subclass formats once, counts encoded bytes, and with no backups
truncates the file instead. Each file stays ≤ ``max_bytes`` unless a single
line is longer than that, which then gets a file of its own.

Log lines carry user ids, project ids and request details, so every file is
created 0600 (an existing one this user owns is tightened) and a missing
directory 0700, whatever the umask.
"""

from __future__ import annotations

import logging
import os
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
