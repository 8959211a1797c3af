"""Capacity fits on synthetic histories whose slope and crossing date are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from bizlogic.ops.capacity import fit
from bizlogic.ops.capacity.project import project_series
from bizlogic.ops.capacity.store import Point, SeriesKey

T0 = datetime(2026, 9, 1, tzinfo=UTC)
DAY = timedelta(days=1)
DAYS = np.arange(60.0)
TIMES = [T0 + i * DAY for i in range(60)]
KEY = SeriesKey("redis_memory", "", "deployment")


def days(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - T0) / DAY


def linear_history(seed: int) -> np.ndarray:
    """1000 + 10/day with noise σ = 5: reaches 1900 on day 90."""
    return 1000 + 10 * DAYS + np.random.default_rng(seed).normal(0, 5, DAYS.size)


def points(values, limit=None) -> list[Point]:
    return [Point(moment, float(v), limit) for moment, v in zip(TIMES, values, strict=False)]


def test_linear_growth_is_projected_within_a_day_and_inside_its_interval() -> None:
    values = linear_history(seed=1)
    fitted = fit.fit_series(TIMES, values)
    assert fitted is not None and fitted.model == "linear"
    slope, _ = np.polyfit(DAYS, values, 1)
    assert fitted.growth_per_day == pytest.approx(slope, rel=1e-9)
    assert fitted.growing
    cross = fit.crossing(fitted, 1900.0)
    assert abs(days(cross.reaches_at) - 90) < 1
    assert days(cross.earliest) <= 90 <= days(cross.latest)
    assert days(cross.earliest) < days(cross.reaches_at) < days(cross.latest)


def test_the_f_test_rarely_mistakes_noise_for_acceleration() -> None:
    """α = 0.05 on the quadratic term, which must also be positive: on straight lines with
    noise, at most about one history in twenty is taken for an accelerating one."""
    chosen = [fit.fit_series(TIMES, linear_history(seed)).model for seed in range(200)]
    assert chosen.count("quadratic") / len(chosen) <= 0.06


def test_accelerating_growth_chooses_the_quadratic() -> None:
    """1000 + 2t + 0.5t² reaches 4360 on day 80."""
    rng = np.random.default_rng(3)
    values = 1000 + 2 * DAYS + 0.5 * DAYS**2 + rng.normal(0, 5, DAYS.size)
    fitted = fit.fit_series(TIMES, values)
    assert fitted is not None and fitted.model == "quadratic"
    # the F statistic, computed here from numpy's own fits
    rss = [
        float(((values - np.polyval(np.polyfit(DAYS, values, d), DAYS)) ** 2).sum()) for d in (1, 2)
    ]
    f_stat = (rss[0] - rss[1]) / (rss[1] / (DAYS.size - 3))
    assert fitted.p_quadratic == pytest.approx(stats.f.sf(f_stat, 1, DAYS.size - 3), rel=1e-6)
    c2, c1, _ = np.polyfit(DAYS, values, 2)
    assert fitted.growth_per_day == pytest.approx(c1 + 2 * c2 * 59, rel=1e-9)
    cross = fit.crossing(fitted, 4360.0)
    assert abs(days(cross.reaches_at) - 80) < 1
    assert days(cross.earliest) <= 80 <= days(cross.latest)
    # the line would have promised much more time: the model choice matters
    slope, intercept = np.polyfit(DAYS, values, 1)
    assert (4360 - intercept) / slope > 85


def test_decelerating_growth_keeps_the_line() -> None:
    values = 1000 + 40 * DAYS - 0.3 * DAYS**2
    fitted = fit.fit_series(TIMES, values)
    assert fitted.model == "linear" and fitted.p_quadratic == 0.0


def test_not_enough_history() -> None:
    assert fit.fit_series(TIMES[:2], [1.0, 2.0]) is None
    assert fit.fit_series([T0, T0, T0], [1.0, 2.0, 3.0]) is None  # one moment
    two_moments = fit.fit_series([T0, T0, T0 + DAY], [1.0, 1.0, 2.0])
    assert two_moments is not None and two_moments.model == "linear"
    entry = project_series(KEY, points([1.0, 2.0], 100.0), 100.0, "Redis maxmemory", T0, 30)
    assert entry["status"] == "not_enough_history"
    assert entry["model"] is None and entry["reaches_at"] is None and entry["samples"] == 2
    with pytest.raises(ValueError, match="not the same length"):
        fit.fit_series(TIMES[:3], [1.0, 2.0])


@pytest.mark.parametrize("slope", [0.0, -10.0], ids=["flat", "shrinking"])
def test_flat_and_shrinking_series_are_not_growing(slope: float) -> None:
    values = 1000 + slope * DAYS + np.random.default_rng(11).normal(0, 5, DAYS.size)
    now = TIMES[-1]
    entry = project_series(KEY, points(values, 2000.0), 2000.0, "Redis maxmemory", now, 30)
    assert entry["status"] == "not_growing"
    assert entry["growth_per_day"] == pytest.approx(np.polyfit(DAYS, values, 1)[0], rel=1e-9)
    assert entry["reaches_at"] is None and entry["days_left"] is None
    exact = project_series(KEY, points([5.0] * 10, 9.0), 9.0, "x", now, 30)
    assert exact["status"] == "not_growing" and exact["growth_per_day"] == pytest.approx(0)


def test_a_limit_already_reached() -> None:
    values = 1000 + 10 * DAYS  # 1590 on the last day; the limit 1500 was passed on day 50
    now = TIMES[-1]
    entry = project_series(KEY, points(values, 1500.0), 1500.0, "Redis maxmemory", now, 30)
    assert entry["status"] == "reached" and entry["days_left"] == 0.0
    assert entry["reaches_at"] == TIMES[50].isoformat()
    assert entry["current"] == 1590.0 and entry["limit"] == 1500.0


def test_within_the_horizon_and_beyond_it() -> None:
    values = linear_history(seed=1)
    now = TIMES[-1]  # day 59: the limit 1900 is 31 days away
    near = project_series(KEY, points(values, 1900.0), 1900.0, "Redis maxmemory", now, 40)
    far = project_series(KEY, points(values, 1900.0), 1900.0, "Redis maxmemory", now, 20)
    assert near["status"] == "within_horizon" and far["status"] == "ok"
    assert near["reaches_at"] == far["reaches_at"]
    expected = (datetime.fromisoformat(near["reaches_at"]) - now) / DAY
    assert near["days_left"] == pytest.approx(expected, abs=0.01)
    assert abs(near["days_left"] - 31) < 1
    unbounded = project_series(KEY, points(values), None, None, now, 30)
    assert unbounded["status"] == "no_limit" and unbounded["model"] == "linear"
    assert unbounded["growth_per_day"] == pytest.approx(np.polyfit(DAYS, values, 1)[0])
