"""Pure statistics on short time series: the UTC grid, trend, weekly cycle, change points.

Every function works on one value per time bin, so its cost depends on the
number of bins (at most a few hundred for real projects), never on the number
of records. The methods and thresholds are described in docs/mining-temporal.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from scipy import stats

from bizlogic.records.schema import format_timestamp

HOUR = 3_600
DAY = 86_400
WEEK = 7 * DAY
HOUR_GRID_MAX_SPAN = 3 * DAY  # spans up to 3 days are binned by hour
DAY_GRID_MAX_SPAN = 180 * DAY  # up to 180 days by day, longer spans by ISO week
# 1970-01-01 was a Thursday: shifting by 3 days puts week boundaries on Mondays.
_MONDAY_SHIFT = 3 * DAY

# Change-point penalty = PENALTY_FACTOR · sigma² · ln(n); see pelt_l2 / change_point_penalty.
PENALTY_FACTOR = 3.0
# Consistency constant: MAD · 1.4826 estimates the standard deviation of normal data.
MAD_TO_SD = 1.4826
MODIFIED_Z_FACTOR = 0.6745  # Iglewicz & Hoaglin's modified z-score
MEAN_AD_TO_SD = 1.253314  # sqrt(pi/2): mean absolute deviation → sd, used when MAD is 0


@dataclass(frozen=True)
class TimeGrid:
    """A regular UTC grid: bin ``i`` covers [start + i·seconds, start + (i+1)·seconds)."""

    name: str  # "hour", "day" or "week"
    seconds: int
    start: int  # epoch seconds of the first bin's start
    n_bins: int

    def index(self, timestamps: np.ndarray) -> np.ndarray:
        return (timestamps - self.start) // self.seconds

    def bin_start(self, i: int) -> int:
        return self.start + int(i) * self.seconds

    def bin_datetime(self, i: int) -> datetime:
        return datetime.fromtimestamp(self.bin_start(i), tz=UTC)

    def label(self, i: int) -> str:
        """'YYYY-MM-DD' for day and week bins, full ISO-8601 for hour bins."""
        moment = self.bin_datetime(i)
        return format_timestamp(moment) if self.name == "hour" else moment.date().isoformat()

    def weekdays(self) -> np.ndarray:
        """Weekday of every bin (Monday = 0); meaningful for day grids only."""
        first_day = self.start // DAY
        return (first_day + np.arange(self.n_bins) + 3) % 7


def choose_bin(span_seconds: int) -> tuple[str, int]:
    """Bin size from the span of the data: hour ≤ 3 days < day ≤ 180 days < week."""
    if span_seconds <= HOUR_GRID_MAX_SPAN:
        return "hour", HOUR
    if span_seconds <= DAY_GRID_MAX_SPAN:
        return "day", DAY
    return "week", WEEK


def _floor(value: int, name: str, seconds: int) -> int:
    if name == "week":
        return (value + _MONDAY_SHIFT) // WEEK * WEEK - _MONDAY_SHIFT
    return value // seconds * seconds


def make_grid(timestamps: np.ndarray) -> TimeGrid:
    """The grid covering ``timestamps`` (epoch seconds, none missing, at least one)."""
    first, last = int(timestamps.min()), int(timestamps.max())
    name, seconds = choose_bin(last - first)
    start = _floor(first, name, seconds)
    n_bins = (_floor(last, name, seconds) - start) // seconds + 1
    return TimeGrid(name, seconds, start, n_bins)


@dataclass(frozen=True)
class TrendTest:
    """Mann–Kendall test and Sen's slope of one series."""

    n: int
    s: int
    var_s: float  # tie-corrected variance of S
    z: float
    p_value: float  # two-sided, normal approximation
    tau: float  # Kendall's tau-b between position and value
    slope: float  # Sen's slope, value units per position unit
    intercept: float  # median of value - slope · position


def mann_kendall_s(values: np.ndarray) -> int:
    """S = Σ_{i<j} sign(x_j − x_i), one lag at a time so memory stays O(n)."""
    x = np.asarray(values, dtype=np.float64)
    total = 0
    for lag in range(1, x.size):
        total += int(np.sign(x[lag:] - x[:-lag]).sum())
    return total


def mann_kendall_variance(values: np.ndarray) -> float:
    """Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18 over groups of t tied values."""
    n = np.asarray(values).size
    _, counts = np.unique(np.asarray(values, dtype=np.float64), return_counts=True)
    t = counts[counts > 1].astype(np.float64)
    return float((n * (n - 1) * (2 * n + 5) - np.sum(t * (t - 1) * (2 * t + 5))) / 18.0)


def sens_slope(values: np.ndarray, positions: np.ndarray | None = None) -> tuple[float, float]:
    """(median pairwise slope, median intercept); positions default to 0..n−1.

    Positions matter when bins are skipped (e.g. shares of empty bins), so the
    slope stays "per bin" rather than "per observation".
    """
    x = np.asarray(values, dtype=np.float64)
    t = (
        np.arange(x.size, dtype=np.float64)
        if positions is None
        else np.asarray(positions, dtype=np.float64)
    )
    slopes = [(x[lag:] - x[:-lag]) / (t[lag:] - t[:-lag]) for lag in range(1, x.size)]
    slope = float(np.median(np.concatenate(slopes))) if slopes else 0.0
    intercept = float(np.median(x - slope * t)) if x.size else 0.0
    return slope, intercept


def mann_kendall(
    values: np.ndarray, positions: np.ndarray | None = None, continuity: bool = True
) -> TrendTest:
    """Mann–Kendall trend test with tie correction, plus Sen's slope.

    ``continuity`` applies the usual ±1 correction to S before the normal
    approximation; without it the p-value equals scipy's asymptotic Kendall
    tau test against time, which the tests use as an independent check.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    s = mann_kendall_s(x)
    var_s = mann_kendall_variance(x)
    if var_s > 0 and s != 0:
        shift = (1 if s > 0 else -1) if continuity else 0
        z = (s - shift) / np.sqrt(var_s)
    else:
        z = 0.0
    p = float(min(1.0, 2.0 * stats.norm.sf(abs(z))))
    pairs = n * (n - 1) / 2.0
    _, counts = np.unique(x, return_counts=True)
    tied_pairs = float(np.sum(counts * (counts - 1) / 2.0))
    denominator = np.sqrt(pairs * (pairs - tied_pairs))
    tau = float(s / denominator) if denominator > 0 else 0.0
    slope, intercept = sens_slope(x, positions)
    return TrendTest(n, s, var_s, float(z), p, tau, slope, intercept)


@dataclass(frozen=True)
class WeeklyTest:
    """Kruskal–Wallis test of detrended daily volume across weekdays (Monday first)."""

    n_days: int
    h: float
    p_value: float
    index: np.ndarray  # mean volume / centred 7-day mean per weekday, normalised to mean 1
    effect: np.ndarray  # mean additive residual per weekday, centred to sum 0
    mean_volume: np.ndarray  # plain mean volume per weekday

    @property
    def amplitude(self) -> float:
        """Gap between the busiest and the quietest weekday, relative to an average day."""
        return float(self.index.max() - self.index.min())


def weekly_test(volume: np.ndarray, weekday: np.ndarray) -> WeeklyTest:
    """Detrend by a centred 7-day moving average, then compare weekdays.

    The moving average spans exactly one week, so it removes the level and any
    trend but none of the weekly cycle; the residuals of each weekday are the
    groups of the Kruskal–Wallis test. Needs at least 21 days (3 full weeks),
    which leaves ≥ 2 residuals per weekday.
    """
    v = np.asarray(volume, dtype=np.float64)
    if v.size < 21:
        raise ValueError("weekly_test needs at least 21 days")
    window = np.convolve(v, np.ones(7), mode="valid")  # 7-day sums centred on days 3 .. n-4
    inner, days = v[3:-3], np.asarray(weekday)[3:-3]
    # 7 × residual is exact for counts, so residuals that tie in theory tie in the ranks.
    residual7 = 7.0 * inner - window
    groups = [residual7[days == d] for d in range(7)]
    if np.ptp(residual7) == 0:
        h, p = 0.0, 1.0
    else:
        h, p = stats.kruskal(*groups)
    ratio = np.divide(7.0 * inner, window, out=np.ones_like(inner), where=window > 0)
    index = np.array([ratio[days == d].mean() for d in range(7)])
    index = index / index.mean()
    effect = np.array([g.mean() for g in groups]) / 7.0
    mean_volume = np.array([v[np.asarray(weekday) == d].mean() for d in range(7)])
    return WeeklyTest(v.size, float(h), float(p), index, effect - effect.mean(), mean_volume)


def robust_z(values: np.ndarray) -> np.ndarray | None:
    """Modified z-scores 0.6745·(x − median)/MAD; None when the series has no spread.

    When more than half the values are equal the MAD is 0; the mean absolute
    deviation (scaled to a standard deviation) takes its place, as Iglewicz and
    Hoaglin suggest.
    """
    x = np.asarray(values, dtype=np.float64)
    deviation = x - np.median(x)
    mad = float(np.median(np.abs(deviation)))
    if mad > 0:
        return MODIFIED_Z_FACTOR * deviation / mad
    mean_ad = float(np.mean(np.abs(deviation)))
    if mean_ad > 0:
        return deviation / (MEAN_AD_TO_SD * mean_ad)
    return None


def poisson_p_values(counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Two-sided Poisson p-values: 2 · min(P(X ≤ c), P(X ≥ c)) for X ~ Poisson(expected), ≤ 1.

    Used next to the robust z-score so that pure counting noise (a quiet day of
    a Poisson process) is not called an anomaly when the MAD is small.
    """
    c = np.asarray(counts, dtype=np.float64)
    mu = np.maximum(np.asarray(expected, dtype=np.float64), 1e-9)
    lower = stats.poisson.cdf(c, mu)
    upper = stats.poisson.sf(c - 1, mu)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


def noise_sigma(values: np.ndarray) -> float:
    """Robust noise level: 1.4826·MAD of first differences / √2.

    Differences cancel the level, so a step change contributes a single outlier
    that the median ignores. When the MAD is 0 (mostly constant series) the
    standard deviation of the differences / √2 is used instead.
    """
    diff = np.diff(np.asarray(values, dtype=np.float64))
    if diff.size == 0:
        return 0.0
    mad = float(np.median(np.abs(diff - np.median(diff))))
    if mad > 0:
        return MAD_TO_SD * mad / np.sqrt(2.0)
    return float(np.std(diff) / np.sqrt(2.0))


def change_point_penalty(values: np.ndarray) -> tuple[float, float]:
    """(sigma, penalty) with penalty = PENALTY_FACTOR · sigma² · ln(n) per change point."""
    x = np.asarray(values, dtype=np.float64)
    sigma = noise_sigma(x)
    return sigma, PENALTY_FACTOR * sigma * sigma * float(np.log(max(x.size, 2)))


def _segment_costs(c1: np.ndarray, c2: np.ndarray, starts: np.ndarray, end: int) -> np.ndarray:
    """Sum of squared deviations from the mean of x[s:end] for every s in ``starts``."""
    length = end - starts
    total = c1[end] - c1[starts]
    return (c2[end] - c2[starts]) - total * total / length


def pelt_l2(values: np.ndarray, penalty: float, min_size: int) -> list[int]:
    """Exact penalised least-squares segmentation (PELT), every segment ≥ ``min_size``.

    Minimises Σ segment sums of squared deviations + penalty · (#change points)
    and returns the indices where new segments start. Pruning is the PELT rule
    F(s) + C(s, t') > F(t') checked against t' = t − min_size, the latest
    position that is already a valid split for every later end, so the
    minimum segment length never makes pruning discard the optimum.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2 * min_size:
        return []
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    previous = np.zeros(n + 1, dtype=np.int64)
    candidates = np.array([0], dtype=np.int64)
    for end in range(min_size, n + 1):
        newest = end - min_size
        if newest >= min_size:
            candidates = np.append(candidates, newest)
        totals = best[candidates] + _segment_costs(c1, c2, candidates, end) + penalty
        pick = int(np.argmin(totals))
        best[end], previous[end] = totals[pick], candidates[pick]
        if newest >= min_size:
            older = candidates < newest
            bound = best[candidates[older]] + _segment_costs(c1, c2, candidates[older], newest)
            keep = np.ones(candidates.size, dtype=bool)
            keep[np.flatnonzero(older)] = bound <= best[newest]
            candidates = candidates[keep]
    return _backtrack(previous, n)


def _backtrack(previous: np.ndarray, n: int) -> list[int]:
    points = []
    end = n
    while end > 0:
        end = int(previous[end])
        if end > 0:
            points.append(end)
    return points[::-1]


def two_proportion_test(
    k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled two-proportion z-test of k1/n1 vs k2/n2: (z, two-sided p)."""
    k1, n1, k2, n2 = (np.asarray(a, dtype=np.float64) for a in (k1, n1, k2, n2))
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (k2 / n2 - k1 / n1) / np.where(se > 0, se, 1.0), 0.0)
    return z, np.minimum(1.0, 2.0 * stats.norm.sf(np.abs(z)))
