"""The tuner's overrides file, written: the only settings `bizlogic tune --apply` may change.

``BL_DATA_DIR/tuning.env`` holds ``BL_NAME=value`` lines for the four tunable
settings and nothing else. Every bizlogic process reads it at start-up, below
the environment: a variable set in the environment (or the systemd
``EnvironmentFile``) still wins, and the tuner says so when that hides a
change. Writing keeps the previous file as a timestamped backup and is atomic
(a temporary file renamed over the old one), so a crash never leaves half a file.

The file is parsed in ``overrides_file.py`` and read, as a source of the settings
below the environment, in ``settings.py``; this module imports the settings, never
the other way round.
"""

from __future__ import annotations

import difflib
import os
from datetime import UTC, datetime
from pathlib import Path

from bizlogic.overrides_file import FILE_NAME, TUNABLE, OverridesError, overrides_path
from bizlogic.private_fs import ensure_private_dir, write_private_file
from bizlogic.settings import check_overrides, env_name, read_overrides

__all__ = [
    "FILE_NAME",
    "TUNABLE",
    "OverridesError",
    "diff",
    "overrides_path",
    "read_overrides",
    "render",
    "write",
]

HEADER = (
    "# Written by `bizlogic tune --apply`; read by every bizlogic process at start-up.\n"
    "# Environment variables take precedence over these lines.\n"
)


def render(values: dict[str, str]) -> str:
    lines = [f"{env_name(name)}={values[name]}\n" for name in TUNABLE if name in values]
    return HEADER + "".join(lines)


def diff(path: Path, old: dict[str, str], new: dict[str, str]) -> str:
    """A unified diff of the file as it is and as it would be."""
    before = path.read_text() if path.exists() else ""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            render({**old, **new}).splitlines(keepends=True),
            fromfile=f"{path} (current)",
            tofile=f"{path} (new)",
        )
    )


def write(path: Path, changes: dict[str, str], now: datetime | None = None) -> Path | None:
    """Merge ``changes`` into the file; returns the backup of the previous file, if any."""
    current = read_overrides(path)
    merged = {**current, **changes}
    check_overrides(path, merged)
    ensure_private_dir(path.parent)
    backup = None
    if path.exists():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        _private_copy(path, backup)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_private_file(temporary, render(merged).encode())
    temporary.replace(path)
    return backup


def _private_copy(source: Path, target: Path) -> None:
    """Copy content and times like ``shutil.copy2``, but create the copy 0600: copying the
    mode too would carry over the 0644 of a file an older version wrote."""
    write_private_file(target, source.read_bytes())
    info = source.stat()
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
