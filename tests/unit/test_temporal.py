"""temporal_trends on generated projects: grids, trends, weekly cycle, anomalies, change points."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from bizlogic.mining.engine import AnalysisResult, run_analysis
from bizlogic.mining.evaluate import RuleEvaluator
from bizlogic.mining.insights.common import impact_score
from bizlogic.mining.insights.temporal import temporal_insights
from bizlogic.mining.measures import benjamini_hochberg
from bizlogic.mining.model import AlgorithmOutput, MiningParams, Rule
from bizlogic.mining.temporal import build_series, is_rise_rule, rise_table, temporal_trends
from bizlogic.mining.timeseries import DAY
from bizlogic.records.dataset import NAT, Dataset, DatasetBuilder
from bizlogic.records.schema import Record

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
STEP_DAY = 68  # 2026-03-14
PARAMS = MiningParams(min_support=5, max_fdr=0.05)


def _dataset(
    day_counts: np.ndarray,
    negative_share: np.ndarray | float,
    rng: np.random.Generator,
    untimed: int = 0,
    rating: np.ndarray | None = None,
) -> Dataset:
    """Records spread uniformly within each day; sentiment negative with the day's share."""
    share = np.broadcast_to(np.asarray(negative_share, dtype=float), day_counts.shape)
    builder = DatasetBuilder()
    i = 0
    for day, count in enumerate(day_counts.tolist()):
        seconds = np.sort(rng.integers(0, DAY, count))
        negative = rng.random(count) < share[day]
        for second, is_negative in zip(seconds.tolist(), negative.tolist(), strict=True):
            builder.add(
                Record(
                    id=f"r{i:06d}",
                    text=f"record {i}",  # distinct texts: records spread over the split
                    keywords=["x"],
                    sentiment="negative" if is_negative else "positive",
                    rating=None if rating is None else float(rating[day]),
                    created_at=START + timedelta(days=day, seconds=second),
                )
            )
            i += 1
    for j in range(untimed):
        builder.add(Record(id=f"u{j:04d}", text="x", keywords=["x"], sentiment="negative"))
    return builder.build()


def _all(data: Dataset) -> np.ndarray:
    return np.ones(len(data), dtype=bool)


def _of_type(out: AlgorithmOutput, pattern_type: str) -> list:
    return [p for p in out.patterns if p.pattern_type == pattern_type]


def _step_dataset(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(20_000 / 120, size=120)
    share = np.where(np.arange(120) >= STEP_DAY, 0.41, 0.18)
    return _dataset(counts, share, rng)


# ------------------------------------------------------------------ series


def test_day_series_is_zero_filled_and_ignores_untimed_records():
    builder = DatasetBuilder()
    rows = [(0, "negative", 4.0), (0, "positive", 2.0), (2, None, None), (5, "negative", 5.0)]
    for i, (day, sentiment, rating) in enumerate(rows):
        builder.add(
            Record(
                id=f"r{i}",
                text="x",
                sentiment=sentiment,
                rating=rating,
                created_at=START + timedelta(days=day, hours=3),
            )
        )
    builder.add(Record(id="no-time", text="x", sentiment="negative", rating=1.0))
    series = build_series(builder.build())
    assert (series.grid.name, series.grid.n_bins) == ("day", 6)
    assert series.volume.tolist() == [2, 0, 1, 0, 0, 1]
    assert (series.records_with_time, series.records_without_time) == (4, 1)
    table = series.to_dict()
    assert table["bins"] == [f"2026-01-{d:02d}" for d in range(5, 11)]
    assert table["shares"]["negative"] == [0.5, None, None, None, None, 1.0]
    assert table["mean_rating"] == [3.0, None, None, None, None, 5.0]


def test_short_span_uses_hour_bins_and_long_span_week_bins():
    hours = [START + timedelta(hours=h, minutes=m) for h, m in ((10, 15), (10, 45), (13, 5))]
    data = (
        DatasetBuilder()
        .extend(Record(id=f"h{i}", text="x", created_at=t) for i, t in enumerate(hours))
        .build()
    )
    series = build_series(data)
    assert series.grid.name == "hour"
    assert series.volume.tolist() == [2, 0, 0, 1]
    assert series.to_dict()["bins"][0] == "2026-01-05T10:00:00Z"
    weeks = [START + timedelta(days=d) for d in (3, 10, 200)]  # Thursday first
    data = (
        DatasetBuilder()
        .extend(Record(id=f"w{i}", text="x", created_at=t) for i, t in enumerate(weeks))
        .build()
    )
    series = build_series(data)
    assert series.grid.name == "week"
    assert series.grid.label(0) == "2026-01-05"  # the Monday of the first record's week
    assert series.volume.tolist()[:2] == [1, 1] and series.volume.sum() == 3


def test_no_timestamps_returns_empty_output():
    data = DatasetBuilder().extend(Record(id=f"r{i}", text="x") for i in range(4)).build()
    out = temporal_trends(data, _all(data), PARAMS)
    assert (out.rules, out.patterns) == ([], [])
    assert out.stats["records_without_time"] == 4 and out.stats["bins"] == 0


# ----------------------------------------------------------- change points


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_step_change_is_located_within_two_days(seed):
    data = _step_dataset(seed)
    out = temporal_trends(data, _all(data), PARAMS)
    points = [p for p in _of_type(out, "change_point") if p.data["sentiment"] == "negative"]
    assert len(points) == 1
    found = datetime.fromisoformat(points[0].data["date"]).date()
    assert abs((found - (START + timedelta(days=STEP_DAY)).date()).days) <= 2
    assert points[0].data["direction"] == "rise"
    assert points[0].data["share_before"] == pytest.approx(0.18, abs=0.02)
    assert points[0].data["share_after"] == pytest.approx(0.41, abs=0.02)
    assert points[0].data["q_value"] <= PARAMS.max_fdr
    assert [r.consequent.value for r in out.rules] == ["negative"]


@pytest.mark.parametrize("seed", [10, 11, 12, 13, 14])
def test_stationary_series_has_no_change_points(seed):
    rng = np.random.default_rng(seed)
    data = _dataset(rng.poisson(20_000 / 120, size=120), 0.18, rng)
    out = temporal_trends(data, _all(data), PARAMS)
    assert _of_type(out, "change_point") == []
    assert out.rules == []
    assert out.stats["tests_run"]["pelt_series"] == 2


def test_change_point_counts_and_test_are_exact():
    data = _step_dataset(1)
    out = temporal_trends(data, _all(data), PARAMS)
    d = next(p.data for p in _of_type(out, "change_point") if p.data["sentiment"] == "negative")
    days = (data.created_at - int(START.timestamp())) // DAY
    negative = data.sentiment.codes == data.sentiment.code_of("negative")
    first, last = (
        int((datetime.fromisoformat(v).replace(tzinfo=UTC) - START).days)
        for v in d["segment_after"]
    )
    after = (days >= first) & (days <= last)
    assert d["n_after"] == int(after.sum())
    assert d["count_after"] == int((after & negative).sum())
    table = [
        [d["count_before"], d["n_before"] - d["count_before"]],
        [d["count_after"], d["n_after"] - d["count_after"]],
    ]
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert d["z"] ** 2 == pytest.approx(chi2, rel=1e-9)
    assert d["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)


# ------------------------------------------------------------------- rules


def test_temporal_rule_counts_match_a_direct_count_on_training_rows():
    data = _step_dataset(2)
    train = np.random.default_rng(0).random(len(data)) < 0.8
    params = MiningParams(min_support=5, min_confidence=0.9, max_fdr=0.05)
    out = temporal_trends(data, train, params)
    (rule,) = out.rules
    assert rule.rule_type == "temporal"
    threshold = rule.conditions[0].value
    assert (rule.conditions[0].field, rule.conditions[0].operator) == ("created_at", "gte")
    created = data.created_at[train]
    negative = data.sentiment.codes[train] == data.sentiment.code_of("negative")
    a = created >= int(threshold.timestamp())
    n, n_a = int(train.sum()), int(a.sum())
    n_c, n_ac = int(negative.sum()), int((a & negative).sum())
    assert (rule.n_records, rule.antecedent_count, rule.consequent_count, rule.support_count) == (
        n,
        n_a,
        n_c,
        n_ac,
    )
    assert RuleEvaluator(data.take(train)).counts(rule) == (n_a, n_c, n_ac)
    # min_confidence (0.9) is not applied: the rule's confidence is the new share
    assert rule.confidence == pytest.approx(n_ac / n_a) and rule.confidence < 0.5
    # all expected cells ≥ 5: one-sided G-test, as in measures.association_p_values
    table = [[n_ac, n_a - n_ac], [n_c - n_ac, n - n_a - n_c + n_ac]]
    _, p_two, _, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert rule.p_value == pytest.approx(p_two / 2, rel=1e-6, abs=1e-300)
    assert rule.q_value == pytest.approx(benjamini_hochberg(np.array([rule.p_value]))[0])


def test_min_support_filters_temporal_rules():
    data = _step_dataset(2)
    out = temporal_trends(data, _all(data), MiningParams(min_support=1_000_000))
    assert out.rules == [] and _of_type(out, "change_point")
    assert out.stats["rules_tested"] == 1 and out.stats["rules_kept"] == 0


def test_rise_followed_by_fall_gives_a_bounded_rule():
    rng = np.random.default_rng(4)
    share = np.where((np.arange(120) >= 40) & (np.arange(120) < 80), 0.45, 0.15)
    data = _dataset(rng.poisson(150, size=120), share, rng)
    out = temporal_trends(data, _all(data), PARAMS)
    (rule,) = [r for r in out.rules if r.consequent.value == "negative"]
    gte, lt = rule.conditions
    assert (gte.operator, lt.operator) == ("gte", "lt")
    assert abs((gte.value - (START + timedelta(days=40))).days) <= 2
    assert abs((lt.value - (START + timedelta(days=80))).days) <= 2
    assert RuleEvaluator(data).counts(rule) == (
        rule.antecedent_count,
        rule.consequent_count,
        rule.support_count,
    )
    # positive falls at day 40 and recovers at day 80: an open-ended rule from the recovery
    (recovery,) = [r for r in out.rules if r.consequent.value == "positive"]
    assert [c.operator for c in recovery.conditions] == ["gte"]
    assert recovery.conditions[0].value == lt.value


def test_rise_rules_are_recognised_and_tabled_as_they_claim():
    """``rise_table``: from t (up to t') against before t, on timed records with a sentiment."""
    rng = np.random.default_rng(4)
    share = np.where((np.arange(120) >= 40) & (np.arange(120) < 80), 0.45, 0.15)
    data = _dataset(rng.poisson(150, size=120), share, rng, untimed=30)
    out = temporal_trends(data, _all(data), PARAMS)
    assert out.rules and all(is_rise_rule(r) for r in out.rules)
    assert all(is_rise_rule(Rule.from_dict(r.to_dict())) for r in out.rules)
    (bounded,) = [r for r in out.rules if len(r.conditions) == 2]
    t, end = (int(c.value.timestamp()) for c in bounded.conditions)
    when = data.created_at.tolist()
    negative = [v == "negative" for v in data.sentiment.values()]
    timed = [w != NAT for w in when]
    inside = [ok and t <= w < end for ok, w in zip(timed, when, strict=True)]
    before = [ok and w < t for ok, w in zip(timed, when, strict=True)]
    both = [a or b for a, b in zip(inside, before, strict=True)]
    assert rise_table(bounded, data) == (
        sum(both),
        sum(inside),
        sum(b and c for b, c in zip(both, negative, strict=True)),
        sum(a and c for a, c in zip(inside, negative, strict=True)),
    )
    keyword = replace(bounded, rule_type="keyword_sentiment")
    assert not is_rise_rule(keyword)


# -------------------------------------------------------------- seasonality


def _weekly_dataset(seed: int, profile: list[float], spike: tuple[int, int] | None = None):
    rng = np.random.default_rng(seed)
    weekday = np.arange(84) % 7  # START is a Monday
    counts = rng.poisson(100 * np.asarray(profile)[weekday])
    if spike is not None:
        counts[spike[0]] = spike[1]
    return _dataset(counts, 0.2, rng)


def test_planted_weekday_profile_is_detected():
    profile = [1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.4]
    data = _weekly_dataset(5, profile)
    out = temporal_trends(data, _all(data), PARAMS)
    (pattern,) = _of_type(out, "weekly_seasonality")
    d = pattern.data
    assert d["low_weekday"] in ("Saturday", "Sunday")
    assert d["peak_weekday"] not in ("Saturday", "Sunday")
    assert d["weekday_index"][5] == pytest.approx(0.4 / (5.8 / 7), abs=0.08)
    assert d["n_days"] == 82 and d["full_weeks"] == 11 and d["p_value"] < 1e-6
    assert _of_type(out, "volume_anomaly") == []


@pytest.mark.parametrize("seed", [20, 21, 22, 23, 24])
def test_flat_weekday_profile_is_not_seasonal(seed):
    data = _weekly_dataset(seed, [1.0] * 7)
    out = temporal_trends(data, _all(data), PARAMS)
    assert _of_type(out, "weekly_seasonality") == []
    assert out.stats["tests_run"]["kruskal_wallis"] == 1


def test_short_projects_skip_seasonality():
    rng = np.random.default_rng(1)
    data = _dataset(rng.poisson(100, size=20), 0.2, rng)
    out = temporal_trends(data, _all(data), PARAMS)
    assert out.stats["tests_run"]["kruskal_wallis"] == 0
    assert "weekly_seasonality" in out.stats["skipped"]


# --------------------------------------------------------------- anomalies


def test_planted_spike_is_the_only_anomaly():
    data = _weekly_dataset(6, [1.0] * 7, spike=(50, 300))
    out = temporal_trends(data, _all(data), PARAMS)
    (pattern,) = _of_type(out, "volume_anomaly")
    assert pattern.data["date"] == (START + timedelta(days=50)).date().isoformat()
    assert (pattern.data["count"], pattern.data["direction"]) == (300, "spike")
    assert pattern.data["z"] >= 3.5 and not pattern.data["weekday_adjusted"]


def test_spike_is_measured_against_its_own_weekday():
    # 100 records on a Sunday is an ordinary weekday volume but 2.5× a usual Sunday.
    profile = [1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.4]
    data = _weekly_dataset(7, profile, spike=(41, 100))
    out = temporal_trends(data, _all(data), PARAMS)
    assert _of_type(out, "weekly_seasonality")
    (pattern,) = _of_type(out, "volume_anomaly")
    assert pattern.data["date"] == "2026-02-15" and pattern.data["weekday_adjusted"]
    assert pattern.data["expected"] == pytest.approx(40, abs=8)


def test_planted_drop_is_reported_with_drop_advice():
    data = _weekly_dataset(6, [1.0] * 7, spike=(30, 10))
    out = temporal_trends(data, _all(data), PARAMS)
    (pattern,) = _of_type(out, "volume_anomaly")
    assert (pattern.data["date"], pattern.data["direction"]) == ("2026-02-04", "drop")
    (insight,) = [
        i for i in temporal_insights(out, PARAMS) if i.evidence["pattern_type"] == "volume_anomaly"
    ]
    assert insight.recommendations[0].startswith(
        "Check the unusual days (largest on 2026-02-04) for outages"
    )


def test_hour_grid_skips_volume_trend_and_anomalies():
    rng = np.random.default_rng(2)
    builder = DatasetBuilder()
    for i, second in enumerate(np.sort(rng.integers(0, 2 * DAY, 3000)).tolist()):
        builder.add(
            Record(
                id=f"h{i}",
                text="x",
                sentiment="negative" if i % 5 else "positive",
                created_at=START + timedelta(seconds=second),
            )
        )
    out = temporal_trends(builder.build(), np.ones(3000, dtype=bool), PARAMS)
    assert (out.stats["bin_size"], out.stats["bins"]) == ("hour", 48)
    assert {"volume_trend", "volume_anomaly", "weekly_seasonality"} <= set(out.stats["skipped"])
    assert out.stats["tests_run"]["robust_z_bins"] == 0


def test_robust_z_of_the_spike_matches_a_direct_computation():
    data = _weekly_dataset(6, [1.0] * 7, spike=(50, 300))
    out = temporal_trends(data, _all(data), PARAMS)
    days = Counter(((data.created_at - int(START.timestamp())) // DAY).tolist())
    inner = np.array([days.get(d, 0) for d in range(1, 83)], dtype=float)
    median = np.median(inner)
    mad = np.median(np.abs(inner - median))
    (pattern,) = _of_type(out, "volume_anomaly")
    assert pattern.data["z"] == pytest.approx(0.6745 * (300 - median) / mad)
    assert pattern.data["expected"] == pytest.approx(median)


# ------------------------------------------------------------------ trends


def _naive_s(x: list[float]) -> int:
    return sum((x[j] > x[i]) - (x[j] < x[i]) for i in range(len(x)) for j in range(i + 1, len(x)))


def test_volume_trend_statistics_match_a_naive_computation():
    rng = np.random.default_rng(8)
    counts = rng.poisson(np.linspace(60, 140, 90))
    data = _dataset(counts, 0.2, rng)
    out = temporal_trends(data, _all(data), PARAMS)
    (pattern,) = _of_type(out, "volume_trend")
    inner = counts[1:-1].astype(float).tolist()
    d = pattern.data
    assert d["mann_kendall_s"] == _naive_s(inner)
    assert d["direction"] == "increasing" and d["n_bins"] == 88
    assert d["slope_per_bin"] == pytest.approx(
        stats.theilslopes(inner, np.arange(1, 89)).slope, rel=1e-12
    )
    assert d["slope_per_day"] == d["slope_per_bin"]
    assert (d["start"], d["end"]) == ("2026-01-06", "2026-04-03")
    assert d["q_value"] <= PARAMS.max_fdr


def test_rating_trend_uses_bins_with_ratings_only():
    rng = np.random.default_rng(9)
    counts = rng.poisson(80, size=60)
    counts[10:13] = 0  # empty days are left out, not treated as zero ratings
    rating = np.linspace(4.5, 3.0, 60)
    data = _dataset(counts, 0.2, rng, rating=rating)
    out = temporal_trends(data, _all(data), PARAMS)
    (pattern,) = _of_type(out, "rating_trend")
    d = pattern.data
    assert d["n_bins"] == 57 and d["direction"] == "decreasing"
    assert d["slope_per_day"] == pytest.approx(-1.5 / 59, rel=1e-9)
    assert d["rating_range"] == pytest.approx(1.5)


def test_stats_report_bins_and_records_without_time():
    rng = np.random.default_rng(3)
    data = _dataset(rng.poisson(50, size=30), 0.2, rng, untimed=7)
    out = temporal_trends(data, _all(data), PARAMS)
    s = out.stats
    assert (s["bins"], s["bin_size"], s["bin_seconds"]) == (30, "day", DAY)
    assert (s["records_without_time"], s["records_with_time"]) == (7, len(data) - 7)
    assert set(s["tests_run"]) == {
        "mann_kendall",
        "kruskal_wallis",
        "pelt_series",
        "two_proportion",
        "robust_z_bins",
        "rule_association",
    }
    assert s["tests_run"]["mann_kendall"] == 3  # volume and two sentiment shares


# ---------------------------------------------------------------- insights


def _clean_step() -> Dataset:
    """40 days × 100 records: negative exactly 18 per day, then 41 per day from 2026-03-14."""
    first = datetime(2026, 2, 22, tzinfo=UTC)
    builder = DatasetBuilder()
    for day in range(40):
        negatives = 18 if day < 20 else 41
        for i in range(100):
            builder.add(
                Record(
                    id=f"d{day}-{i}",
                    text="x",
                    keywords=["x"],
                    sentiment="negative" if i < negatives else "positive",
                    created_at=first + timedelta(days=day, minutes=10 * i),
                )
            )
    return builder.build()


def test_change_point_insight_in_english_and_chinese():
    data = _clean_step()
    out = temporal_trends(data, _all(data), PARAMS)
    en = {i.title: i for i in temporal_insights(out, PARAMS)}
    insight = en["Negative share rose on 2026-03-14"]
    assert insight.insight_type == "trend_insight"
    assert insight.description.startswith(
        "From 2026-03-14 the negative share rose from 18% to 41%. Two-proportion test of "
        "2026-02-22 to 2026-03-13 against 2026-03-14 to 2026-04-02 (2000 and 2000 records"
    )
    assert "Rule: IF created_at >= '2026-03-14T00:00:00Z' THEN sentiment = 'negative'" in (
        insight.description
    )
    assert insight.impact_score == impact_score(0.41 - 0.18, 0.5) == round(math.sqrt(0.23), 3)
    assert 2 <= len(insight.recommendations) <= 3
    assert insight.evidence["rule"] == out.rules[0].key
    zh = {i.title: i for i in temporal_insights(out, MiningParams(lang="zh"))}
    insight = zh["负面占比于 2026-03-14 上升"]
    assert insight.description.startswith("自 2026-03-14 起，负面占比从 18% 升至 41%。")
    assert 2 <= len(insight.recommendations) <= 3
    assert all("2026-03-14" in r for r in insight.recommendations)
    assert (
        "规则“IF created_at >= '2026-03-14T00:00:00Z' THEN sentiment = 'negative'”"
        in (insight.recommendations[1])
    )
    falling = zh["正面占比于 2026-03-14 下降"]
    assert falling.description.startswith("自 2026-03-14 起，正面占比从 82% 降至 59%。")


def test_clean_step_rule_is_exact():
    data = _clean_step()
    (rule,) = temporal_trends(data, _all(data), PARAMS).rules
    assert (rule.n_records, rule.antecedent_count, rule.consequent_count, rule.support_count) == (
        4000,
        2000,
        1180,
        820,
    )
    assert rule.confidence == pytest.approx(0.41)
    assert rule.lift == pytest.approx(0.41 / (1180 / 4000))


def test_every_pattern_gets_a_bilingual_insight():
    data = _weekly_dataset(7, [1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.4], spike=(41, 100))
    out = temporal_trends(data, _all(data), PARAMS)
    for lang in ("en", "zh"):
        insights = temporal_insights(out, MiningParams(lang=lang))
        types = {i.evidence["pattern_type"] for i in insights}
        assert {"weekly_seasonality", "volume_anomaly"} <= types
        for insight in insights:
            assert insight.insight_type in ("trend_insight", "pattern_insight")
            assert 2 <= len(insight.recommendations) <= 3
            assert 0.0 <= insight.impact_score <= 1.0
    en = {i.evidence["pattern_type"]: i for i in temporal_insights(out, PARAMS)}
    assert en["volume_anomaly"].title == "Unusual annotation volume in 1 day"
    assert en["volume_anomaly"].description.startswith("2026-02-15: 100 records against about")
    assert en["weekly_seasonality"].description.startswith("Volume follows a weekly cycle:")
    zh = {i.evidence["pattern_type"]: i for i in temporal_insights(out, MiningParams(lang="zh"))}
    assert zh["volume_anomaly"].title == "1 天的标注量异常"
    assert zh["weekly_seasonality"].title == "标注量存在每周规律"


def test_insights_are_deterministic():
    data = _step_dataset(3)
    out = temporal_trends(data, _all(data), PARAMS)
    first = [i.to_dict() for i in temporal_insights(out, PARAMS)]
    again = temporal_trends(data, _all(data), PARAMS)
    assert [i.to_dict() for i in temporal_insights(again, PARAMS)] == first


def test_engine_runs_temporal_trends_and_results_are_json_clean():
    data = _step_dataset(1)
    result = run_analysis(data, ["temporal_trends"], MiningParams(holdout_fraction=0.4))
    text = json.dumps(result.to_dict(), allow_nan=False)
    again = AnalysisResult.from_dict(json.loads(text))
    assert [p.pattern_type for p in again.patterns] == [p.pattern_type for p in result.patterns]
    (rule,) = result.rules
    assert rule.holdout_confidence == pytest.approx(0.41, abs=0.03)
    assert result.meta["stats"]["temporal_trends"]["records_with_time"] == len(data)
