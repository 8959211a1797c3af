"""temporal_trends: how volume, sentiment shares and ratings move over time.

Records are binned on a regular UTC grid with np.bincount (a million records
cost milliseconds); every test then runs on the short per-bin series from
:mod:`bizlogic.mining.timeseries`. Methods, thresholds and the change-point
penalty are described in docs/mining-temporal.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from bizlogic.mining.algorithm import algorithm
from bizlogic.mining.measures import association_p_values, benjamini_hochberg
from bizlogic.mining.model import AlgorithmOutput, Condition, MiningParams, Pattern, Rule
from bizlogic.mining.rulebuild import build_rules, rank_rules
from bizlogic.mining.temporal_text import WEEKDAYS, sentence
from bizlogic.mining.timeseries import (
    DAY,
    TimeGrid,
    TrendTest,
    WeeklyTest,
    change_point_penalty,
    make_grid,
    mann_kendall,
    pelt_l2,
    poisson_p_values,
    robust_z,
    two_proportion_test,
    weekly_test,
)
from bizlogic.records.dataset import NAT, Dataset
from bizlogic.records.schema import format_timestamp, parse_timestamp

NAME = "temporal_trends"
MIN_TREND_BINS = 8  # the normal approximation of Mann–Kendall needs n ≥ 8
MIN_SEASONAL_DAYS = 21  # three full weeks of complete days
MIN_WEEKLY_AMPLITUDE = 0.10  # busiest vs quietest weekday, relative to an average day
MIN_SHARE_SHIFT = 0.05  # a confirmed change point moves a share by ≥ 5 percentage points
MIN_SEGMENT_BINS = {"hour": 6, "day": 7, "week": 4}
ANOMALY_Z = 3.5  # Iglewicz–Hoaglin cut-off for modified z-scores
MIN_ANOMALY_DEVIATION = 0.20  # and ≥ 20% away from the expected count
# A significant trend must also move the series this much over the analysed span:
MIN_TREND_CHANGE = {
    "volume_trend": 0.10,  # relative to the mean volume per bin
    "sentiment_trend": 0.05,  # share, absolute (5 percentage points)
    "rating_trend": 0.05,  # relative to the observed rating range
}
MIN_ANOMALY_LEVEL = 5.0  # median records per bin below which counts are too discrete


@dataclass(frozen=True)
class TemporalSeries:
    """Zero-filled per-bin counts of the records that have a ``created_at``."""

    grid: TimeGrid
    volume: np.ndarray  # records per bin
    sentiments: tuple[str, ...]
    sentiment_counts: np.ndarray  # bins × sentiments
    rating_sum: np.ndarray
    rating_count: np.ndarray
    rating_range: float  # max − min of the individual ratings, scales rating effects
    records_with_time: int
    records_without_time: int

    @property
    def with_sentiment(self) -> np.ndarray:
        return self.sentiment_counts.sum(axis=1)

    def shares(self) -> np.ndarray:
        """Share of each sentiment among the bin's records with a sentiment; nan if none."""
        totals = self.with_sentiment[:, None].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(totals > 0, self.sentiment_counts / totals, np.nan)

    def mean_rating(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.rating_count > 0, self.rating_sum / self.rating_count, np.nan)

    def interior(self) -> np.ndarray:
        """Bins other than the first and last, which the observation window usually cuts."""
        return np.arange(1, max(self.grid.n_bins - 1, 1))

    def to_dict(self) -> dict[str, Any]:
        """The series as JSON-ready lists (None where a bin has no value)."""
        shares = self.shares()
        return {
            "bin_size": self.grid.name,
            "bins": [self.grid.label(i) for i in range(self.grid.n_bins)],
            "volume": self.volume.tolist(),
            "shares": {s: _nullable(shares[:, k]) for k, s in enumerate(self.sentiments)},
            "mean_rating": _nullable(self.mean_rating()),
        }


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]


def build_series(data: Dataset) -> TemporalSeries | None:
    """Bin every timed record; None when no record has a ``created_at``."""
    timed = data.created_at != NAT
    timestamps = data.created_at[timed]
    if timestamps.size == 0:
        return None
    grid = make_grid(timestamps)
    bins = grid.index(timestamps)
    n_bins, k = grid.n_bins, len(data.sentiment.categories)
    codes = data.sentiment.codes[timed]
    has = codes >= 0
    counts = np.bincount(bins[has] * k + codes[has], minlength=n_bins * k)
    rating = data.rating[timed]
    rated = ~np.isnan(rating)
    return TemporalSeries(
        grid=grid,
        volume=np.bincount(bins, minlength=n_bins),
        sentiments=data.sentiment.categories,
        sentiment_counts=counts.reshape(n_bins, k),
        rating_sum=np.bincount(bins[rated], weights=rating[rated], minlength=n_bins),
        rating_count=np.bincount(bins[rated], minlength=n_bins),
        rating_range=float(np.ptp(rating[rated])) if rated.any() else 0.0,
        records_with_time=int(timestamps.size),
        records_without_time=int(len(data) - timestamps.size),
    )


def _no_tests() -> dict[str, int]:
    """Counters of the tests one run performed, reported in the stats."""
    names = (
        "mann_kendall",
        "kruskal_wallis",
        "pelt_series",
        "two_proportion",
        "robust_z_bins",
        "rule_association",
    )
    return dict.fromkeys(names, 0)


@dataclass
class _Run:
    """State shared by the analysis steps of one call."""

    series: TemporalSeries
    params: MiningParams
    patterns: list[Pattern] = field(default_factory=list)
    tests: dict[str, int] = field(default_factory=_no_tests)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def grid(self) -> TimeGrid:
        return self.series.grid

    def per_day(self, per_bin: float) -> float:
        return per_bin * DAY / self.grid.seconds


# ---------------------------------------------------------------- trends


@dataclass(frozen=True)
class _TrendInput:
    pattern_type: str
    series: str
    sentiment: str | None
    positions: np.ndarray  # grid bins
    values: np.ndarray


def _trend_inputs(run: _Run) -> list[_TrendInput]:
    s = run.series
    inputs = []
    if run.grid.name != "hour":
        inner = s.interior()
        inputs.append(_TrendInput("volume_trend", "volume", None, inner, s.volume[inner]))
    else:
        run.skipped["volume_trend"] = "hour grids are dominated by the daily cycle"
    present = np.flatnonzero(s.with_sentiment > 0)
    shares = s.shares()
    for k, sentiment in enumerate(s.sentiments):
        values = shares[present, k]
        inputs.append(_TrendInput("sentiment_trend", "sentiment_share", sentiment, present, values))
    rated = np.flatnonzero(s.rating_count > 0)
    inputs.append(_TrendInput("rating_trend", "mean_rating", None, rated, s.mean_rating()[rated]))
    # Constant series (one sentiment only, one rating value) carry no trend to test.
    return [t for t in inputs if t.positions.size >= MIN_TREND_BINS and np.ptp(t.values) > 0]


def _trend_pattern(run: _Run, item: _TrendInput, test: TrendTest, q: float) -> Pattern:
    first, last = int(item.positions[0]), int(item.positions[-1])
    data = {
        "series": item.series,
        "sentiment": item.sentiment,
        "bin_size": run.grid.name,
        "n_bins": test.n,
        "start": run.grid.label(first),
        "end": run.grid.label(last),
        "direction": "increasing" if test.s > 0 else "decreasing",
        "mann_kendall_s": test.s,
        "variance_s": test.var_s,
        "z": test.z,
        "tau": test.tau,
        "p_value": test.p_value,
        "q_value": q,
        "slope_per_bin": test.slope,
        "slope_per_day": run.per_day(test.slope),
        "start_value": test.intercept + test.slope * first,
        "end_value": test.intercept + test.slope * last,
        "mean": float(np.mean(item.values)),
    }
    if item.sentiment is None:
        del data["sentiment"]
    data["change"] = _trend_change(
        item.pattern_type, test, float(last - first), data["mean"], run.series.rating_range
    )
    if item.series == "mean_rating":
        data["rating_range"] = run.series.rating_range
    return Pattern(
        NAME,
        item.pattern_type,
        sentence(item.pattern_type, data, run.params.lang),
        strength=abs(test.tau),
        data=data,
    )


def _trend_change(
    item_type: str, test: TrendTest, span: float, mean: float, rating_range: float
) -> float:
    """Change of the Sen line over ``span`` bins, scaled as MIN_TREND_CHANGE expects."""
    change = abs(test.slope) * span
    if item_type == "volume_trend":
        return change / mean if mean > 0 else 0.0
    if item_type == "rating_trend":
        return change / rating_range if rating_range > 0 else 0.0
    return change


def _large_enough(run: _Run, item: _TrendInput, test: TrendTest) -> bool:
    span = float(item.positions[-1] - item.positions[0])
    change = _trend_change(
        item.pattern_type, test, span, float(np.mean(item.values)), run.series.rating_range
    )
    return change >= MIN_TREND_CHANGE[item.pattern_type]


def _trends(run: _Run) -> TrendTest | None:
    """Mann–Kendall on every series, BH across them; returns the volume test if significant."""
    inputs = _trend_inputs(run)
    tests = [mann_kendall(t.values, t.positions) for t in inputs]
    run.tests["mann_kendall"] += len(tests)
    q = benjamini_hochberg(np.array([t.p_value for t in tests]))
    volume = None
    for item, test, q_value in zip(inputs, tests, q, strict=True):
        if q_value > run.params.max_fdr or test.s == 0 or not _large_enough(run, item, test):
            continue
        run.patterns.append(_trend_pattern(run, item, test, float(q_value)))
        if item.pattern_type == "volume_trend":
            volume = test
    return volume


# ---------------------------------------------------------- seasonality


def _seasonality(run: _Run) -> WeeklyTest | None:
    """Weekly cycle of daily volume; returned only when significant and large enough."""
    if run.grid.name != "day":
        run.skipped["weekly_seasonality"] = "needs a day grid"
        return None
    inner = run.series.interior()
    if inner.size < MIN_SEASONAL_DAYS:
        run.skipped["weekly_seasonality"] = (
            f"needs {MIN_SEASONAL_DAYS} complete days, have {inner.size}"
        )
        return None
    test = weekly_test(run.series.volume[inner], run.grid.weekdays()[inner])
    run.tests["kruskal_wallis"] += 1
    if test.p_value > run.params.max_fdr or test.amplitude < MIN_WEEKLY_AMPLITUDE:
        return None
    data = {
        "bin_size": "day",
        "n_days": test.n_days,
        "full_weeks": test.n_days // 7,
        "weekdays": list(WEEKDAYS["en"]),
        "weekday_index": test.index.tolist(),
        "weekday_mean_volume": test.mean_volume.tolist(),
        "weekday_effect": test.effect.tolist(),
        "peak_weekday": WEEKDAYS["en"][int(np.argmax(test.index))],
        "low_weekday": WEEKDAYS["en"][int(np.argmin(test.index))],
        "amplitude": test.amplitude,
        "h_statistic": test.h,
        "p_value": test.p_value,
    }
    run.patterns.append(
        Pattern(
            NAME,
            "weekly_seasonality",
            sentence("weekly_seasonality", data, run.params.lang),
            strength=min(1.0, test.amplitude),
            data=data,
        )
    )
    return test


# ------------------------------------------------------------- anomalies


def _anomalies(run: _Run, weekly: WeeklyTest | None, trend: TrendTest | None) -> None:
    """Robust z-scores of interior volume after removing the weekday profile and trend.

    A bin is an anomaly when |z| ≥ 3.5, its count is ≥ 20% away from the
    expected count, and a Poisson test against the expected count survives BH
    over all bins (so counting noise alone is never reported).
    """
    if run.grid.name == "hour":
        run.skipped["volume_anomaly"] = "hour grids cover too few days to model the daily cycle"
        return
    inner = run.series.interior()
    volume = run.series.volume[inner].astype(np.float64)
    if inner.size < MIN_TREND_BINS or np.median(volume) < MIN_ANOMALY_LEVEL:
        run.skipped["volume_anomaly"] = "too few bins or too few records per bin"
        return
    adjusted = volume.copy()
    if weekly is not None:
        adjusted -= weekly.effect[run.grid.weekdays()[inner]]
    if trend is not None:
        adjusted -= trend.slope * inner
    run.tests["robust_z_bins"] += int(inner.size)
    z = robust_z(adjusted)
    if z is None:
        return
    expected = volume - (adjusted - np.median(adjusted))
    deviation = np.abs(volume - expected) / np.maximum(expected, 1.0)
    p = poisson_p_values(volume, expected)
    q = benjamini_hochberg(p)
    flagged = (np.abs(z) >= ANOMALY_Z) & (deviation >= MIN_ANOMALY_DEVIATION)
    for i in np.flatnonzero(flagged & (q <= run.params.max_fdr)):
        data = {
            "bin_size": run.grid.name,
            "date": run.grid.label(int(inner[i])),
            "count": int(volume[i]),
            "expected": float(expected[i]),
            "z": float(z[i]),
            "poisson_p_value": float(p[i]),
            "q_value": float(q[i]),
            "direction": "spike" if z[i] > 0 else "drop",
            "weekday_adjusted": weekly is not None,
            "trend_adjusted": trend is not None,
        }
        run.patterns.append(
            Pattern(
                NAME,
                "volume_anomaly",
                sentence("volume_anomaly", data, run.params.lang),
                strength=min(1.0, abs(float(z[i])) / 10.0),
                data=data,
            )
        )


# --------------------------------------------------------- change points


@dataclass(frozen=True)
class _Candidate:
    sentiment: str
    segments: tuple[int, int, int, int]  # grid bins: before first, before last, after first, last
    counts: tuple[int, int, int, int]  # k_before, n_before, k_after, n_after
    sigma: float
    penalty: float

    @property
    def shift(self) -> float:
        k1, n1, k2, n2 = self.counts
        return k2 / n2 - k1 / n1


def _sentiment_candidates(run: _Run, k: int, present: np.ndarray) -> list[_Candidate]:
    """PELT on one sentiment's share series (empty bins left out); every split is a candidate."""
    s = run.series
    counts, totals = s.sentiment_counts[present, k], s.with_sentiment[present]
    share = counts / totals
    sigma, penalty = change_point_penalty(share)
    run.tests["pelt_series"] += 1
    if sigma == 0:
        return []
    bounds = [0, *pelt_l2(share, penalty, MIN_SEGMENT_BINS[run.grid.name]), present.size]
    ck = np.concatenate(([0], np.cumsum(counts)))
    cn = np.concatenate(([0], np.cumsum(totals)))
    out = []
    for a, b, c in zip(bounds, bounds[1:-1], bounds[2:], strict=False):
        out.append(
            _Candidate(
                s.sentiments[k],
                (int(present[a]), int(present[b - 1]), int(present[b]), int(present[c - 1])),
                (int(ck[b] - ck[a]), int(cn[b] - cn[a]), int(ck[c] - ck[b]), int(cn[c] - cn[b])),
                sigma,
                penalty,
            )
        )
    return out


def _candidates(run: _Run) -> list[_Candidate]:
    present = np.flatnonzero(run.series.with_sentiment > 0)
    needed = 2 * MIN_SEGMENT_BINS[run.grid.name]
    if present.size < needed:
        run.skipped["change_point"] = (
            f"needs {needed} bins with sentiment records, have {present.size}"
        )
        return []
    out = []
    for k in range(len(run.series.sentiments)):
        if run.series.sentiment_counts[present, k].sum() > 0:
            out.extend(_sentiment_candidates(run, k, present))
    return out


def _change_points(run: _Run) -> list[Pattern]:
    """Confirm PELT candidates: two-proportion test, BH over all of them, and a minimum shift."""
    candidates = _candidates(run)
    if not candidates:
        return []
    k1, n1, k2, n2 = (np.array(v) for v in zip(*(c.counts for c in candidates), strict=True))
    z, p = two_proportion_test(k1, n1, k2, n2)
    q = benjamini_hochberg(p)
    run.tests["two_proportion"] += len(candidates)
    confirmed = []
    for i, cand in enumerate(candidates):
        if q[i] <= run.params.max_fdr and abs(cand.shift) >= MIN_SHARE_SHIFT:
            confirmed.append(_change_pattern(run, cand, float(z[i]), float(p[i]), float(q[i])))
    run.patterns.extend(confirmed)
    return confirmed


def _change_pattern(run: _Run, cand: _Candidate, z: float, p: float, q: float) -> Pattern:
    k1, n1, k2, n2 = cand.counts
    b0, b1, a0, a1 = cand.segments
    grid = run.grid
    data = {
        "sentiment": cand.sentiment,
        "bin_size": grid.name,
        "date": grid.label(a0),
        "time": format_timestamp(grid.bin_datetime(a0)),
        "direction": "rise" if cand.shift > 0 else "fall",
        "share_before": k1 / n1,
        "share_after": k2 / n2,
        "shift": cand.shift,
        "count_before": k1,
        "n_before": n1,
        "count_after": k2,
        "n_after": n2,
        "segment_before": [grid.label(b0), grid.label(b1)],
        "segment_after": [grid.label(a0), grid.label(a1)],
        "z": z,
        "p_value": p,
        "q_value": q,
        "noise_sigma": cand.sigma,
        "penalty": cand.penalty,
        "min_segment_bins": MIN_SEGMENT_BINS[grid.name],
    }
    return Pattern(
        NAME,
        "change_point",
        sentence("change_point", data, run.params.lang),
        strength=min(1.0, abs(cand.shift)),
        data=data,
    )


# ----------------------------------------------------------------- rules


def _rule_antecedents(points: list[Pattern]) -> list[tuple[str, tuple[Condition, ...]]]:
    """created_at >= t for each rise, bounded by < t' when the next change of s is a fall."""
    out = []
    for point in points:
        d = point.data
        if d["direction"] != "rise":
            continue
        later = sorted(
            (p.data["time"], p.data["direction"])
            for p in points
            if p.data["sentiment"] == d["sentiment"] and p.data["time"] > d["time"]
        )
        conditions = [Condition("created_at", "gte", parse_timestamp(d["time"]))]
        if later and later[0][1] == "fall":
            conditions.append(Condition("created_at", "lt", parse_timestamp(later[0][0])))
        out.append((d["sentiment"], tuple(conditions)))
    return out


def _window(created: np.ndarray, conditions: tuple[Condition, ...]) -> np.ndarray:
    """Timed records inside ``created_at >= t`` (and ``< t'`` when bounded)."""
    inside = (created != NAT) & (created >= int(conditions[0].value.timestamp()))
    if len(conditions) > 1:
        inside &= created < int(conditions[1].value.timestamp())
    return inside


def is_rise_rule(rule: Rule) -> bool:
    """``created_at >= t [and < t'] → sentiment = s``: the shape ``_temporal_rules`` produces."""
    conditions = rule.conditions
    return (
        rule.rule_type == "temporal"
        and len(conditions) in (1, 2)
        and all(c.field == "created_at" for c in conditions)
        and [c.operator for c in conditions] == ["gte", "lt"][: len(conditions)]
        and all(isinstance(c.value, datetime) for c in conditions)
        and rule.consequent.field == "sentiment"
        and rule.consequent.operator == "eq"
    )


def rise_table(rule: Rule, data: Dataset) -> tuple[int, int, int, int]:
    """(n, n_a, n_c, n_ac) of a rise rule on ``data``: what it claims, as a 2×2 table.

    Among the records with a ``created_at`` and a sentiment, before t or inside the
    rule's window (from t, up to t' when bounded): ``n`` of them, ``n_a`` inside,
    ``n_c`` with the rule's sentiment, ``n_ac`` both. Records from t' on take no
    part: a bounded rule claims the rise at t, and the fall at t' is a claim of its
    own (a fall back below the old level would otherwise pass a rise that vanished).
    """
    created = data.created_at
    present = (created != NAT) & (data.sentiment.codes >= 0)
    inside = present & _window(created, rule.conditions)
    before = present & (created < int(rule.conditions[0].value.timestamp()))
    is_s = data.sentiment.codes == data.sentiment.code_of(str(rule.consequent.value))
    return (
        int((inside | before).sum()),
        int(inside.sum()),
        int(((inside | before) & is_s).sum()),
        int((inside & is_s).sum()),
    )


def _temporal_rules(
    run: _Run, data: Dataset, train_mask: np.ndarray, points: list[Pattern]
) -> list[Rule]:
    """Count each rise's rule on the training rows; keep supported, BH-significant ones."""
    specs = _rule_antecedents(points)
    if not specs or not train_mask.any():
        return []
    created = data.created_at[train_mask]
    codes = data.sentiment.codes[train_mask]
    n_a, n_c, n_ac = [], [], []
    for sentiment, conditions in specs:
        a = _window(created, conditions)
        c = codes == data.sentiment.code_of(sentiment)
        n_a.append(int(a.sum()))
        n_c.append(int(c.sum()))
        n_ac.append(int((a & c).sum()))
    n = int(created.size)
    counts = [np.array(v, dtype=np.int64) for v in (n_a, n_c, n_ac)]
    p = association_p_values(n, *counts)
    q = benjamini_hochberg(p)
    run.tests["rule_association"] += len(specs)
    consequents = [Condition("sentiment", "eq", s) for s, _ in specs]
    rules = build_rules(NAME, "temporal", [c for _, c in specs], consequents, n, *counts, p, q)
    return rank_rules(
        [
            r
            for r in rules
            if r.support_count >= run.params.min_support and r.q_value <= run.params.max_fdr
        ]
    )


# ------------------------------------------------------------- algorithm


@algorithm(NAME)
def temporal_trends(data: Dataset, train_mask: np.ndarray, params: MiningParams) -> AlgorithmOutput:
    """Trends, weekly cycle, anomalies and change points of all ``data``; rules on train rows."""
    series = build_series(data)
    if series is None:
        return AlgorithmOutput(
            stats={
                "bins": 0,
                "bin_size": None,
                "records_with_time": 0,
                "records_without_time": len(data),
                "tests_run": _no_tests(),
                "skipped": {"all": "no record has a created_at"},
            }
        )
    run = _Run(series, params)
    volume_trend = _trends(run)
    weekly = _seasonality(run)
    _anomalies(run, weekly, volume_trend)
    points = _change_points(run)
    rules = _temporal_rules(run, data, train_mask, points)
    return AlgorithmOutput(rules=rules, patterns=run.patterns, stats=_stats(run, points, rules))


def _stats(run: _Run, points: list[Pattern], rules: list[Rule]) -> dict[str, Any]:
    grid = run.grid
    return {
        "bins": grid.n_bins,
        "bin_size": grid.name,
        "bin_seconds": grid.seconds,
        "start": grid.label(0),
        "end": grid.label(grid.n_bins - 1),
        "records_with_time": run.series.records_with_time,
        "records_without_time": run.series.records_without_time,
        "tests_run": dict(run.tests),
        "change_point_candidates": run.tests["two_proportion"],
        "change_points_confirmed": len(points),
        "rules_tested": run.tests["rule_association"],
        "rules_kept": len(rules),
        "skipped": dict(run.skipped),
    }
