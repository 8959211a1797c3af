"""The Redis cache on a real, test-owned redis-server: same contract as the memory cache,
and an outage is bypassed, never an error, with invalidations replayed afterwards."""

from __future__ import annotations

import os
import signal

import orjson

from bizlogic.cache import RedisCache, version_key


def read_through(cache, project, endpoint, params, compute):
    key = cache.key(project, endpoint, params)
    raw = cache.get_raw(key)
    return orjson.loads(raw if raw is not None else cache.set(key, compute()))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_values_are_json_under_bl_with_a_ttl(redis_server) -> None:
    seen = []
    cache = RedisCache(redis_server.url, ttl_s=300, on_lookup=lambda hit, key: seen.append(hit))
    value = {"rules": [{"id": 1, "confidence": 0.9}], "total": 1}
    assert read_through(cache, "p1", "rules", {"limit": 10}, lambda: value) == value
    assert read_through(cache, "p1", "rules", {"limit": 10}, lambda: {"other": 1}) == value
    assert seen == [False, True] and (cache.hits, cache.misses) == (1, 1)
    client = redis_server.client()
    keys = [k.decode() for k in client.keys("*")]
    assert len(keys) == 1 and keys[0].startswith("bl:p1:v0:rules:")
    assert orjson.loads(client.get(keys[0])) == value
    assert 0 < client.pttl(keys[0]) <= 300_000


def test_invalidation_is_shared_by_every_replica(redis_server) -> None:
    replica_a, replica_b = RedisCache(redis_server.url), RedisCache(redis_server.url)
    read_through(replica_a, "p1", "rules", {}, lambda: "old")
    read_through(replica_a, "p2", "rules", {}, lambda: "other")
    assert read_through(replica_b, "p1", "rules", {}, lambda: "never") == "old"
    assert replica_b.invalidate_project("p1") == 1
    assert read_through(replica_a, "p1", "rules", {}, lambda: "new") == "new"
    assert read_through(replica_a, "p2", "rules", {}, lambda: "never") == "other"
    assert redis_server.client().get(version_key("p1")) == b"1"


def test_a_dead_redis_is_bypassed_and_reported(redis_server) -> None:
    clock = Clock()
    cache = RedisCache(redis_server.url, timeout_s=0.2, retry_after_s=5, clock=clock)
    read_through(cache, "p", "rules", {}, lambda: 1)
    redis_server.stop()
    assert cache.key("p", "rules", {}) is None
    assert read_through(cache, "p", "rules", {}, lambda: 2) == 2  # computed, not cached
    assert cache.invalidate_project("p") is None
    status = cache.status()
    assert status["status"] == "degraded" and status["error"] == "ConnectionError"
    redis_server.start()
    assert cache.key("p", "rules", {}) is None  # still inside the retry delay
    clock.now += 5
    assert cache.status()["status"] == "up"
    # The invalidation made during the outage reached Redis before any read.
    assert redis_server.client().get(version_key("p")) == b"1"
    assert read_through(cache, "p", "rules", {}, lambda: 3) == 3
    assert read_through(cache, "p", "rules", {}, lambda: 4) == 3


def test_a_write_during_a_hang_is_not_hidden_by_a_stale_entry(redis_server) -> None:
    """Redis stops answering (SIGSTOP) but keeps its data: the entry cached before the
    write must not be served after Redis is back."""
    clock = Clock()
    cache = RedisCache(redis_server.url, timeout_s=0.2, retry_after_s=1, clock=clock)
    assert read_through(cache, "p", "rules", {}, lambda: "before") == "before"
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        assert cache.invalidate_project("p") is None  # the write happened; Redis missed it
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    clock.now += 1
    assert read_through(cache, "p", "rules", {}, lambda: "after") == "after"


def test_entries_get_the_configured_ttl(redis_server) -> None:
    cache = RedisCache(redis_server.url, ttl_s=0.05)
    key = cache.key("p", "x", {})
    cache.set(key, 5)
    client = redis_server.client()
    assert 0 < client.pttl(key) <= 50
