"""The tuner's overrides file, read: ``BL_DATA_DIR/tuning.env``.

It holds ``BL_NAME=value`` lines for the four settings ``bizlogic tune --apply`` may
change, and nothing else. This module only parses the file; it imports nothing of
bizlogic, so that the settings can read the file as one of their sources
(``settings.py``) and the writer (``ops/overrides.py``) can import the settings.
"""

from __future__ import annotations

from pathlib import Path

FILE_NAME = "tuning.env"
TUNABLE = ("db_pool_size", "cache_ttl_s", "worker_threads", "max_concurrent_analyses")


class OverridesError(ValueError):
    """The overrides file cannot be used as it is; the message names the file and line."""


def env_name(setting: str) -> str:
    return f"BL_{setting.upper()}"


def overrides_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def parse_overrides(path: Path) -> dict[str, str]:
    """Setting name → raw value, unvalidated; {} when there is no file. Anything but a
    tunable is an error."""
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
    return values
