"""The report's window: ``--since 7d`` / ``--hours N`` made one half-open interval."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_SPAN = re.compile(r"([1-9][0-9]{0,4})([dh])")
MAX_SPAN = timedelta(days=3660)  # ten years: beyond it a typo, not a report


class SpanError(ValueError):
    """A span that cannot be used; the message names the option."""


@dataclass(frozen=True)
class Window:
    """``[start, end)``; ``name`` says what kind of report the span makes."""

    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    @property
    def name(self) -> str:
        """``weekly`` and ``daily`` for the spans the timers use, else ``custom``: the
        previous report of the same name is the one a report compares with."""
        if self.span == timedelta(days=7):
            return "weekly"
        if self.span == timedelta(days=1):
            return "daily"
        return "custom"

    def days(self) -> list[datetime]:
        """The starts of the window's days (UTC), the first one partial when the window
        does not start at midnight: the buckets of the per-day charts."""
        first = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        found, day = [], first
        while day < self.end:
            found.append(day)
            day += timedelta(days=1)
        return found

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "span_s": int(self.span.total_seconds()),
            "name": self.name,
        }


def parse_since(text: str) -> timedelta:
    """``7d`` or ``36h``: a whole number of days or hours, nothing else."""
    match = _SPAN.fullmatch(text.strip())
    if match is None:
        raise SpanError(
            f"--since: {text!r} is not a span; write a whole number of days or hours, "
            "such as 7d or 36h"
        )
    count, unit = int(match.group(1)), match.group(2)
    span = timedelta(days=count) if unit == "d" else timedelta(hours=count)
    if span > MAX_SPAN:
        raise SpanError(f"--since: {text!r} is longer than {MAX_SPAN.days} days")
    return span


def window_for(now: datetime, since: str | None, hours: int | None) -> Window:
    """The window ending at ``now``: ``since`` or ``hours`` (not both), default 7 days."""
    if since is not None and hours is not None:
        raise SpanError("--since and --hours: give one of them, not both")
    if hours is not None:
        if hours < 1 or timedelta(hours=hours) > MAX_SPAN:
            raise SpanError(f"--hours: must be between 1 and {MAX_SPAN.days * 24}, not {hours}")
        span = timedelta(hours=hours)
    else:
        span = parse_since(since) if since is not None else timedelta(days=7)
    return Window(now - span, now)
