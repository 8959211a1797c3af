"""Waiting for something a test started: poll with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def poll(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.05) -> Any:
    """``check()``'s first truthy result; a server not answering yet counts as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)
