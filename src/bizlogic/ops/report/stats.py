"""The figures every section computes the same way: percentiles, shares, day buckets."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

QUANTILES = (50, 95, 99)


def nearest_rank(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank percentile (a value that occurred), as the log analyzer reports
    them; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


def share(part: int, whole: int) -> float | None:
    """``part / whole``; None (no data) rather than 0 when ``whole`` is 0."""
    return part / whole if whole else None


def day_of(moment: datetime) -> str:
    """The UTC date a moment falls on, the key of the per-day series."""
    return moment.date().isoformat()


def delta(now: float | None, before: float | None) -> float | None:
    """``now - before`` when both are known."""
    if now is None or before is None:
        return None
    return now - before
