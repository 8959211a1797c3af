"""The tuner's overrides file: the only settings `bizlogic tune --apply` may change.

``BL_DATA_DIR/tuning.env`` holds ``BL_NAME=value`` lines for the four tunable
settings and nothing else. Every bizlogic process reads it at start-up, below
the environment: a variable set in the environment (or the systemd
``EnvironmentFile``) still wins, and the tuner says so when that hides a
change. Writing keeps the previous file as a timestamped backup and is atomic
(a temporary file renamed over the old one), so a crash never leaves half a file.
"""

from __future__ import annotations

import difflib
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from bizlogic.private_fs import ensure_private_dir, write_private_file
from bizlogic.settings import Settings, env_name

FILE_NAME = "tuning.env"
TUNABLE = ("db_pool_size", "cache_ttl_s", "worker_threads", "max_concurrent_analyses")
HEADER = (
    "# Written by `bizlogic tune --apply`; read by every bizlogic process at start-up.\n"
    "# Environment variables take precedence over these lines.\n"
)


class OverridesError(ValueError):
    """The overrides file cannot be used as it is; the message names the file and line."""


def overrides_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def read_overrides(path: Path) -> dict[str, str]:
    """Setting name → raw value; {} when there is no file. Anything but a tunable is an error."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    names = {env_name(name): name for name in TUNABLE}
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise OverridesError(f"{path}: line {number}: expected BL_NAME=value, got {raw!r}")
        if key not in names:
            raise OverridesError(
                f"{path}: line {number}: {key} cannot be set here; the overrides file holds "
                f"only {', '.join(names)}"
            )
        values[names[key]] = value.strip()
    _validate(path, values)
    return values


def _validate(path: Path, values: dict[str, str]) -> None:
    try:
        Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(str(error['loc'][0]))}: {error['msg']}"
            for error in exc.errors()
            if error["loc"]
        )
        raise OverridesError(f"{path}: {problems or exc}") from None


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
    _validate(path, merged)
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
