"""Read cache for the API: keys under ``bl:`` with a per-project version.

Every write to a project bumps its version, so all cached reads of that
project become unreachable at once (they then expire by TTL) — no key scans,
no stale rules after a toggle. Values are JSON bytes, never pickles, so the
same keys and values work in Redis later.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from cachetools import TTLCache

LookupHook = Callable[[bool, str], None]  # (hit, key)


def _digest(params: dict[str, Any]) -> str:
    encoded = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=8).hexdigest()


class MemoryCache:
    """Thread-safe in-process TTL cache (the embedded default)."""

    def __init__(
        self,
        maxsize: int = 10_000,
        ttl_s: float = 300.0,
        on_lookup: LookupHook | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._values: TTLCache[str, bytes] = TTLCache(maxsize=maxsize, ttl=ttl_s, timer=timer)
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self._on_lookup = on_lookup
        self.hits = 0
        self.misses = 0

    def version(self, project_id: str) -> int:
        with self._lock:
            return self._versions.get(project_id, 0)

    def key(self, project_id: str, endpoint: str, params: dict[str, Any]) -> str:
        return f"bl:{project_id}:v{self.version(project_id)}:{endpoint}:{_digest(params)}"

    def get_raw(self, key: str) -> bytes | None:
        """The stored JSON bytes: the API sends them as they are, without re-encoding."""
        with self._lock:
            raw = self._values.get(key)
            if raw is None:
                self.misses += 1
            else:
                self.hits += 1
        if self._on_lookup is not None:
            self._on_lookup(raw is not None, key)
        return raw

    def get(self, key: str) -> Any | None:
        raw = self.get_raw(key)
        return None if raw is None else orjson.loads(raw)

    def set(self, key: str, value: Any) -> bytes:
        raw = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        with self._lock:
            self._values[key] = raw
        return raw

    def invalidate_project(self, project_id: str) -> int:
        """Bump the project's version; returns the new version."""
        with self._lock:
            version = self._versions.get(project_id, 0) + 1
            self._versions[project_id] = version
            return version

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
