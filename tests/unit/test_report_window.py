"""The report's window: spans, their names and days, and the errors that name the option."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bizlogic.ops.report.stats import nearest_rank
from bizlogic.ops.report.window import SpanError, Window, parse_since, window_for

NOW = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "span"),
    [("7d", timedelta(days=7)), ("36h", timedelta(hours=36)), (" 1d ", timedelta(days=1))],
)
def test_spans(text: str, span: timedelta) -> None:
    assert parse_since(text) == span


@pytest.mark.parametrize("text", ["3x", "7", "d", "0d", "-1d", "1.5d", "7dd", "7 d", "1w", ""])
def test_bad_spans_name_the_option(text: str) -> None:
    with pytest.raises(SpanError, match=r"^--since: .* is not a span"):
        parse_since(text)


def test_window_bounds_and_names() -> None:
    weekly = window_for(NOW, None, None)
    assert (weekly.start, weekly.end, weekly.name) == (NOW - timedelta(days=7), NOW, "weekly")
    assert window_for(NOW, None, 24).name == "daily"
    assert window_for(NOW, "1d", None).name == "daily"
    assert window_for(NOW, "3d", None).name == "custom"
    with pytest.raises(SpanError, match=r"^--since and --hours: give one of them"):
        window_for(NOW, "7d", 3)
    with pytest.raises(SpanError, match=r"^--hours: must be between 1"):
        window_for(NOW, None, 0)
    with pytest.raises(SpanError, match="longer than"):
        parse_since("4000d")


def test_days_cover_the_window() -> None:
    window = Window(NOW - timedelta(days=2), NOW)  # starts at 06:30: three calendar days
    assert [d.date().isoformat() for d in window.days()] == [
        "2026-12-05",
        "2026-12-06",
        "2026-12-07",
    ]
    assert window.as_dict()["span_s"] == 2 * 86400


def test_nearest_rank_is_numpy_inverted_cdf() -> None:
    import numpy as np

    values = list(np.random.default_rng(3).uniform(0, 100, 37))
    for q in (1, 50, 95, 99, 100):
        assert nearest_rank(values, q) == np.percentile(values, q, method="inverted_cdf")
    assert nearest_rank([], 50) is None
