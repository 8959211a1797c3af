"""Fit a growth curve to one series of samples and say when it reaches a limit.

Time is counted in days since the series' first sample. Two models:

* ``linear``: value = a + b·t, by least squares;
* ``quadratic``: value = a + b·t + c·t², chosen only when the extra term is
  significant by an F-test (α = ``ALPHA``) **and** accelerating (c > 0). A
  significant deceleration keeps the linear model: extrapolating a downward
  parabola would promise a peak nobody has seen, and the line is the safer
  (earlier) estimate.

The uncertainty is a two-sided ``LEVEL`` (90 %) prediction interval for a future
sample: the date the central curve reaches the limit is flanked by the date its
upper edge does (earliest) and the date its lower edge does (latest, ``None``
when the lower edge never gets there within ``MAX_DAYS``).

A series needs ``MIN_SAMPLES`` samples over at least two distinct times; the
quadratic needs one more sample and three distinct times (one degree of freedom
left for the residual). Anything less is "not enough history".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05  # significance of the quadratic term and of growth
LEVEL = 0.90  # prediction interval
MIN_SAMPLES = 3
MAX_DAYS = 3650.0  # crossings further than this from the last sample are not reported
GRID_PER_DAY = 24  # search resolution before the exact root is refined
_DAY = 86400.0


@dataclass(frozen=True)
class Fit:
    """A fitted series: coefficients highest power first (``numpy.polyval`` order)."""

    model: str  # linear | quadratic
    coef: np.ndarray
    cov: np.ndarray  # (XᵀX)⁻¹ in coefficient space, unscaled
    residual_std: float
    dof: int
    origin: datetime  # t = 0
    t_last: float  # days from origin to the last sample
    samples: int
    p_quadratic: float | None  # F-test p-value of the quadratic term (None: not testable)
    p_growth: float  # one-sided p-value that the linear slope is > 0

    def days(self, moment: datetime) -> float:
        return (moment - self.origin).total_seconds() / _DAY

    def moment(self, days: float) -> datetime:
        return self.origin + timedelta(days=float(days))

    def predict(self, t: np.ndarray | float) -> np.ndarray:
        return np.polyval(self.coef, t)

    def interval(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper edges of the prediction interval for a sample taken at ``t``."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        powers = np.vander(t, len(self.coef))  # highest power first, like coef
        leverage = np.einsum("ij,jk,ik->i", powers, self.cov, powers)
        quantile = stats.t.ppf(0.5 + LEVEL / 2, self.dof) if self.dof > 0 else np.inf
        half = quantile * self.residual_std * np.sqrt(1.0 + leverage)
        if self.residual_std == 0:  # an exact fit: no spread to speak of
            half = np.zeros_like(t)
        mean = self.predict(t)
        return mean - half, mean + half

    @property
    def growth_per_day(self) -> float:
        """The slope at the last sample (the line's slope; the parabola's tangent)."""
        return float(np.polyval(np.polyder(self.coef), self.t_last))

    @property
    def growing(self) -> bool:
        """Growth that is real, not noise: a linear slope significantly above 0 (one-sided
        t-test at ``ALPHA``), or an accelerating curve still rising at the last sample."""
        if self.growth_per_day <= 0:
            return False
        return self.model == "quadratic" or self.p_growth < ALPHA


@dataclass(frozen=True)
class Crossing:
    """When the curve (and the edges of its interval) first reach a limit; ``None``:
    not within ``MAX_DAYS`` of the last sample."""

    reaches_at: datetime | None
    earliest: datetime | None
    latest: datetime | None


def enough_history(times: Sequence[datetime]) -> bool:
    return len(times) >= MIN_SAMPLES and len(set(times)) >= 2


def fit_series(times: Sequence[datetime], values: Sequence[float]) -> Fit | None:
    """The chosen model for these samples, or ``None`` when there is not enough history."""
    if len(times) != len(values):
        raise ValueError("times and values: not the same length")
    if not enough_history(times):
        return None
    origin = min(times)
    t = np.array([(m - origin).total_seconds() / _DAY for m in times])
    y = np.asarray(values, dtype=float)
    linear = _least_squares(t, y, 1)
    p_quadratic = None
    chosen = linear
    if len(t) >= MIN_SAMPLES + 1 and len(set(times)) >= 3:
        quadratic = _least_squares(t, y, 2)
        p_quadratic = _f_test(linear[1], quadratic[1], len(t), y)
        if p_quadratic < ALPHA and quadratic[0][0] > 0:
            chosen = quadratic
    coef, rss, cov = chosen
    dof = len(t) - len(coef)
    std = float(np.sqrt(rss / dof)) if dof > 0 and rss > 0 else 0.0
    return Fit(
        model="linear" if len(coef) == 2 else "quadratic",
        coef=coef,
        cov=cov,
        residual_std=std,
        dof=dof,
        origin=origin,
        t_last=float(t.max()),
        samples=len(t),
        p_quadratic=p_quadratic,
        p_growth=_p_growth(linear, len(t)),
    )


def _least_squares(t: np.ndarray, y: np.ndarray, degree: int) -> tuple[np.ndarray, float, Any]:
    coef, cov = np.polyfit(t, y, degree, cov="unscaled")
    residuals = y - np.polyval(coef, t)
    return coef, float(residuals @ residuals), cov


def _tolerance(y: np.ndarray) -> float:
    """Residual sums below this are rounding, not misfit."""
    spread = float(((y - y.mean()) ** 2).sum())
    return 1e-10 * max(spread, float((y**2).sum()), 1.0)


def _f_test(rss_linear: float, rss_quadratic: float, n: int, y: np.ndarray) -> float:
    """p-value of the quadratic term: F = (RSS₁ − RSS₂) / (RSS₂ / (n − 3))."""
    tolerance = _tolerance(y)
    if rss_linear <= tolerance:
        return 1.0  # the line is already exact
    if rss_quadratic <= tolerance:
        return 0.0  # the parabola is exact, the line is not
    f = (rss_linear - rss_quadratic) / (rss_quadratic / (n - 3))
    return float(stats.f.sf(f, 1, n - 3))


def _p_growth(linear: tuple[np.ndarray, float, Any], n: int) -> float:
    coef, rss, cov = linear
    slope, dof = float(coef[0]), n - 2
    if dof <= 0 or rss <= 0:
        return 0.0 if slope > 0 else 1.0
    error = np.sqrt(rss / dof * cov[0, 0])
    if error == 0:
        return 0.0 if slope > 0 else 1.0
    return float(stats.t.sf(slope / error, dof))


def crossing(fit: Fit, limit: float) -> Crossing:
    """First moments, from the last sample on, at which the central curve and the upper
    and lower edges of its prediction interval reach ``limit``."""
    grid = fit.t_last + np.linspace(0.0, MAX_DAYS, int(MAX_DAYS * GRID_PER_DAY) + 1)
    low, high = fit.interval(grid)
    curves = {
        "reaches_at": (fit.predict(grid), lambda x: float(fit.predict(x)) - limit),
        "earliest": (high, lambda x: float(fit.interval(x)[1][0]) - limit),
        "latest": (low, lambda x: float(fit.interval(x)[0][0]) - limit),
    }
    found: dict[str, datetime | None] = {}
    for name, (values, gap) in curves.items():
        above = np.nonzero(values >= limit)[0]
        if not len(above):
            found[name] = None
            continue
        index = int(above[0])
        if index == 0:
            found[name] = fit.moment(grid[0])
            continue
        root = optimize.brentq(gap, grid[index - 1], grid[index], xtol=1e-6)
        found[name] = fit.moment(root)
    return Crossing(**found)
