"""Errors the store raises for the API to map onto NOT_FOUND and CONFLICT."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: a request the stored state cannot satisfy."""


class NotFoundError(StoreError):
    """No such row; ``kind`` and ``key`` name what was looked for."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class ConflictError(StoreError):
    """The row exists but its state forbids the change (e.g. cancelling a finished job)."""
