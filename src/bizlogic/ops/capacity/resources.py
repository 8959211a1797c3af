"""The resources capacity planning follows: their names (a contract: stored in
``capacity_samples.resource`` and read by the tuner and the periodic report), units
and scopes."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

DEPLOYMENT = "deployment"  # the scope of resources every host shares

# resource → unit of its value (and limit)
UNITS: dict[str, str] = {
    "records": "records",
    "rules": "rows",
    "patterns": "rows",
    "insights": "rows",
    "db_bytes": "bytes",
    "db_table_bytes": "bytes",
    "db_connections": "connections",
    "redis_memory": "bytes",
    "queue_depth": "jobs",
    "log_bytes": "bytes",
    "disk_bytes": "bytes",
    "analysis_seconds_per_record": "seconds/record",
}
RESOURCES: tuple[str, ...] = tuple(UNITS)


def host_scope() -> str:
    """The scope of a host's own resources (its log files, its filesystems)."""
    return socket.gethostname()[:255]


@dataclass(frozen=True)
class Sample:
    """One measurement: ``limit`` in the value's unit, ``None`` when it has none."""

    resource: str
    item: str
    scope: str
    value: float
    limit: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "item": self.item,
            "scope": self.scope,
            "value": self.value,
            "limit": self.limit,
        }


def human(value: float, unit: str, *, sign: bool = False) -> str:
    """A figure for people: bytes in binary units, large counts with separators."""
    prefix = "+" if sign and value > 0 else ("-" if value < 0 else "")
    size = abs(value)
    if unit == "bytes":
        for name in ("B", "KiB", "MiB", "GiB", "TiB"):
            if size < 1024 or name == "TiB":
                return f"{prefix}{size:.4g} {name}"
            size /= 1024
    number = f"{size:,.0f}" if size >= 100 else f"{size:.4g}"
    return f"{prefix}{number} {unit}"
