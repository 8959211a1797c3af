"""Cached JSON reads for the routes: one lookup path for every cached endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from fastapi.concurrency import run_in_threadpool

from bizlogic.api.state import AppState


async def cached_json(
    state: AppState,
    project_id: str,
    endpoint: str,
    params: dict[str, Any],
    compute: Callable[[], Any],
) -> Response:
    """The read's JSON bytes, straight from the cache.

    A hit is answered without decoding and re-encoding the value (otherwise
    the bulk of a hit's cost) — on the event loop for the in-memory cache, in
    the thread pool for Redis, whose calls may block. A miss runs ``compute``
    in the thread pool and stores its encoded result.
    """
    cache = state.cache

    def lookup() -> tuple[str | None, bytes | None]:
        key = cache.key(project_id, endpoint, params)
        return key, cache.get_raw(key)

    key, raw = lookup() if cache.local else await run_in_threadpool(lookup)
    if raw is None:
        raw = await run_in_threadpool(lambda: state.cache.set(key, compute()))
    return Response(raw, media_type="application/json")
