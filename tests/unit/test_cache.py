import orjson

from bizlogic.cache import MemoryCache


def read_through(cache: MemoryCache, project: str, endpoint: str, params: dict, compute):
    """What the API does: the cached value, computed and stored on a miss."""
    key = cache.key(project, endpoint, params)
    raw = cache.get_raw(key)
    return orjson.loads(raw if raw is not None else cache.set(key, compute()))


def test_hit_miss_and_values_round_trip_as_json():
    seen = []
    cache = MemoryCache(on_lookup=lambda hit, key: seen.append((hit, key.split(":")[1])))
    calls = []

    def compute():
        calls.append(1)
        return {"rules": [{"id": 1, "confidence": 0.9}], "total": 1}

    first = read_through(cache, "p1", "rules", {"limit": 10}, compute)
    second = read_through(cache, "p1", "rules", {"limit": 10}, compute)
    assert first == second == {"rules": [{"id": 1, "confidence": 0.9}], "total": 1}
    assert len(calls) == 1
    assert (cache.hits, cache.misses, cache.hit_rate) == (1, 1, 0.5)
    assert seen == [(False, "p1"), (True, "p1")]


def test_keys_are_namespaced_and_parameter_order_does_not_matter():
    cache = MemoryCache()
    a = cache.key("p1", "rules", {"limit": 10, "offset": 0})
    b = cache.key("p1", "rules", {"offset": 0, "limit": 10})
    assert a == b and a.startswith("bl:p1:v0:rules:")
    assert cache.key("p1", "rules", {"limit": 11}) != a


def test_invalidating_a_project_hides_all_its_reads_but_not_others():
    cache = MemoryCache()
    read_through(cache, "p1", "rules", {}, lambda: 1)
    read_through(cache, "p1", "patterns", {}, lambda: 2)
    read_through(cache, "p2", "rules", {}, lambda: 3)
    assert cache.invalidate_project("p1") == 1
    assert read_through(cache, "p1", "rules", {}, lambda: 10) == 10
    assert read_through(cache, "p1", "patterns", {}, lambda: 20) == 20
    assert read_through(cache, "p2", "rules", {}, lambda: 30) == 3


def test_entries_expire_after_ttl():
    clock = [1000.0]
    cache = MemoryCache(ttl_s=60, timer=lambda: clock[0])
    key = cache.key("p", "x", {})
    cache.set(key, 5)
    assert cache.get(key) == 5
    clock[0] += 61
    assert cache.get(key) is None


def test_raw_bytes_are_what_was_stored():
    cache = MemoryCache()
    key = cache.key("p", "rules", {})
    stored = cache.set(key, {"b": 1, "a": [1.5, None]})
    assert cache.get_raw(key) == stored == b'{"b":1,"a":[1.5,null]}'
