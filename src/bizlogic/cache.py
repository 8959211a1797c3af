"""Read cache for the API: keys under ``bl:`` with a per-project version.

Every write to a project bumps its version, so all cached reads of that
project become unreachable at once (they then expire by TTL) — no key scans,
no stale rules after a toggle. Values are JSON bytes, never pickles.

Two backends with one interface: ``MemoryCache`` (embedded default, one
process) and ``RedisCache`` (``BL_REDIS_URL``, shared by every API replica).
Redis is an optimisation, never a dependency: when it does not answer, reads
bypass the cache (``key()`` returns None), the outage is logged once, and a
write's invalidation is remembered and replayed before the cache is trusted
again — so a toggle made during the outage is never hidden by a stale entry.

Every get, set and invalidation is a ``cache_operation`` log event {operation, key,
hit} at DEBUG (`log_cache_operation`): written only with ``BL_LOG_LEVEL=DEBUG``,
and below that a level check is all it costs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import orjson
import redis
from cachetools import TTLCache

from bizlogic.settings import Settings
from bizlogic.telemetry.logging import log_cache_operation

logger = logging.getLogger(__name__)

LookupHook = Callable[[bool, str], None]  # (hit, key)


def _digest(params: dict[str, Any]) -> str:
    encoded = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=8).hexdigest()


class Cache(Protocol):
    local: bool  # True: a lookup never blocks, so the event loop may do it inline

    def key(self, project_id: str, endpoint: str, params: dict[str, Any]) -> str | None: ...
    def get_raw(self, key: str | None) -> bytes | None: ...
    def set(self, key: str | None, value: Any) -> bytes: ...
    def invalidate_project(self, project_id: str) -> int | None: ...
    def status(self) -> dict[str, Any]: ...

    @property
    def hit_rate(self) -> float: ...


def _encode(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


class MemoryCache:
    """Thread-safe in-process TTL cache (the embedded default)."""

    local = True

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
        log_cache_operation("get", key, raw is not None)
        return raw

    def get(self, key: str) -> Any | None:
        raw = self.get_raw(key)
        return None if raw is None else orjson.loads(raw)

    def set(self, key: str, value: Any) -> bytes:
        raw = _encode(value)
        with self._lock:
            self._values[key] = raw
        log_cache_operation("set", key, None)
        return raw

    def invalidate_project(self, project_id: str) -> int:
        """Bump the project's version; returns the new version."""
        with self._lock:
            version = self._versions.get(project_id, 0) + 1
            self._versions[project_id] = version
        log_cache_operation("invalidate", version_key(project_id), None)
        return version

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def status(self) -> dict[str, Any]:
        return {"status": "up", "backend": "memory", "hit_rate": self.hit_rate}


def version_key(project_id: str) -> str:
    return f"bl:{project_id}:version"


class RedisCache:
    """The shared cache of Redis mode; bypassed, not failed, while Redis is unreachable."""

    local = False

    def __init__(
        self,
        url: str,
        ttl_s: float = 300.0,
        on_lookup: LookupHook | None = None,
        timeout_s: float = 0.5,
        retry_after_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._ttl_ms = int(ttl_s * 1000)
        self._on_lookup = on_lookup
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._last_error = ""
        self._pending: set[str] = set()  # projects whose invalidation Redis has not seen
        self.hits = 0
        self.misses = 0

    # -- availability -------------------------------------------------------------

    def _usable(self) -> bool:
        """False while Redis is down (retrying every ``retry_after_s``) or owes invalidations."""
        with self._lock:
            if self._down_since is not None and self._clock() < self._retry_at:
                return False
            pending = sorted(self._pending)
        if pending:
            try:
                with self._redis.pipeline(transaction=False) as pipe:
                    for project_id in pending:
                        pipe.incr(version_key(project_id))
                    pipe.execute()
            except redis.RedisError as exc:
                self._failed(exc)
                return False
            with self._lock:
                self._pending.difference_update(pending)
        return True

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = self._clock()
            self._retry_at = self._clock() + self._retry_after_s
            self._last_error = exc.__class__.__name__
        if first:
            logger.warning("redis cache unreachable (%s); reads bypass the cache", self._last_error)

    def _answered(self) -> None:
        with self._lock:
            was_down = self._down_since is not None
            outage_s = self._clock() - self._down_since if was_down else 0.0
            self._down_since = None
        if was_down:
            logger.warning("redis cache reachable again after %.1f s", outage_s)

    # -- the cache interface ------------------------------------------------------

    def key(self, project_id: str, endpoint: str, params: dict[str, Any]) -> str | None:
        if not self._usable():
            return None
        try:
            version = int(self._redis.get(version_key(project_id)) or 0)
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        self._answered()
        return f"bl:{project_id}:v{version}:{endpoint}:{_digest(params)}"

    def get_raw(self, key: str | None) -> bytes | None:
        raw = None
        if key is not None:
            try:
                raw = self._redis.get(key)
            except redis.RedisError as exc:
                self._failed(exc)
        with self._lock:
            if raw is None:
                self.misses += 1
            else:
                self.hits += 1
        if self._on_lookup is not None:
            self._on_lookup(raw is not None, key or "")
        log_cache_operation("get", key, raw is not None)
        return raw

    def get(self, key: str | None) -> Any | None:
        raw = self.get_raw(key)
        return None if raw is None else orjson.loads(raw)

    def set(self, key: str | None, value: Any) -> bytes:
        raw = _encode(value)
        if key is not None:
            try:
                self._redis.set(key, raw, px=self._ttl_ms)
            except redis.RedisError as exc:
                self._failed(exc)
        log_cache_operation("set", key, None)
        return raw

    def invalidate_project(self, project_id: str) -> int | None:
        """Bump the version in Redis; if it cannot, remember to before the next lookup."""
        log_cache_operation("invalidate", version_key(project_id), None)
        try:
            version = int(self._redis.incr(version_key(project_id)))
        except redis.RedisError as exc:
            with self._lock:
                self._pending.add(project_id)
            self._failed(exc)
            return None
        self._answered()
        return version

    def status(self) -> dict[str, Any]:
        with self._lock:
            down = self._down_since is not None or bool(self._pending)
            error = self._last_error
        if down:  # a fresh probe, so that recovery shows without waiting for traffic
            down = not self._probe()
        result: dict[str, Any] = {
            "status": "degraded" if down else "up",
            "backend": "redis",
            "hit_rate": self.hit_rate,
        }
        if down:
            result["error"] = error
        return result

    def _probe(self) -> bool:
        if not self._usable():
            return False
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            self._failed(exc)
            return False
        self._answered()
        return True

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def close(self) -> None:
        self._redis.close()


def make_cache(settings: Settings, on_lookup: LookupHook | None = None) -> Cache:
    """Redis when configured (shared by every replica and worker), else in-process."""
    if settings.redis_url:
        return RedisCache(settings.redis_url, ttl_s=settings.cache_ttl_s, on_lookup=on_lookup)
    return MemoryCache(ttl_s=settings.cache_ttl_s, on_lookup=on_lookup)


def unlink_in_batches(client: redis.Redis, keys: Iterable[bytes], batch: int = 1000) -> int:
    """UNLINK ``keys`` (freed in the background by Redis) ``batch`` at a time; returns how
    many existed. Callers find the keys with SCAN, never KEYS, so Redis never blocks."""
    removed, pending = 0, []
    for key in keys:
        pending.append(key)
        if len(pending) == batch:
            removed += int(client.unlink(*pending))
            pending = []
    if pending:
        removed += int(client.unlink(*pending))
    return removed
