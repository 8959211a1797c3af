"""The one clock the store stamps rows with: timezone-aware UTC.

Repositories call ``clock.utcnow()`` through the module so tests can pin time
by patching this function instead of sleeping or comparing ranges.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
