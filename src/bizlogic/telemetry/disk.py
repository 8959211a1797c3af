"""Filesystem usage as ``df`` reports it: the one definition every bizlogic figure uses.

``df``'s Use% is *used / (used + available)*: used is the filesystem's blocks minus
its free blocks, available what an unprivileged process may still write (the free
blocks minus those reserved for root, 5 % by default on ext4). Dividing used by the
total size instead would count the root reserve as free space nobody but root can
use, and show a lower figure than ``df`` for the same filesystem. The tuner
(``bizlogic tune``), maintenance's disk step and the collector's
``bl_disk_usage_percent`` all read it from here, so they agree with each other and
with ``df`` (which rounds up to a whole percent; this rounds to one decimal).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiskUsage:
    path: str  # the directory measured: the nearest existing one
    total_bytes: int
    used_bytes: int
    available_bytes: int  # what an unprivileged process may still write

    @property
    def percent(self) -> float:
        """``df``'s Use%: used / (used + available), 0–100, one decimal."""
        usable = self.used_bytes + self.available_bytes
        return round(100 * self.used_bytes / usable, 1) if usable else 0.0


def nearest_existing(path: Path) -> Path:
    """The nearest existing directory (the data directory may not exist yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_usage(path: Path | str) -> DiskUsage:
    """Usage of the filesystem holding ``path`` (or its nearest existing parent)."""
    where = nearest_existing(Path(path))
    stat = os.statvfs(where)
    return DiskUsage(
        path=str(where),
        total_bytes=stat.f_blocks * stat.f_frsize,
        used_bytes=(stat.f_blocks - stat.f_bfree) * stat.f_frsize,
        available_bytes=stat.f_bavail * stat.f_frsize,
    )
