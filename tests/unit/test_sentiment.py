import math

import numpy as np
import pytest
from scipy import stats

from bizlogic.mining.insights.sentiment import sentiment_insights
from bizlogic.mining.measures import association_p_values, benjamini_hochberg
from bizlogic.mining.model import MiningParams
from bizlogic.mining.sentiment import sentiment_correlation
from bizlogic.records.dataset import build_dataset
from bizlogic.records.schema import Record

from .helpers import all_rows, keyword_dataset


def _rows():
    rows = []
    rows += [(["refund", "late"], "negative")] * 18
    rows += [(["refund"], "positive")] * 2
    rows += [(["great"], "positive")] * 30
    rows += [(["late"], "positive")] * 10
    rows += [(["box"], "negative")] * 10
    rows += [(["box"], "positive")] * 30
    return rows


def _reference(rows, keyword, sentiment):
    n = len(rows)
    n_a = sum(keyword in words for words, _ in rows)
    n_c = sum(s == sentiment for _, s in rows)
    n_ac = sum(keyword in words and s == sentiment for words, s in rows)
    return n, n_a, n_c, n_ac


def test_rules_have_exact_counts_and_measures():
    rows = _rows()
    data = keyword_dataset(rows)
    params = MiningParams(min_support=5, min_confidence=0.7, max_fdr=0.05, holdout_fraction=0)
    out = sentiment_correlation(data, all_rows(data), params)
    found = {(r.conditions[0].value, r.consequent.value): r for r in out.rules}
    assert set(found) == {("refund", "negative"), ("great", "positive")}
    rule = found[("refund", "negative")]
    n, n_a, n_c, n_ac = _reference(rows, "refund", "negative")
    assert (rule.n_records, rule.antecedent_count, rule.consequent_count, rule.support_count) == (
        n,
        n_a,
        n_c,
        n_ac,
    )
    assert rule.confidence == pytest.approx(18 / 20)
    assert rule.lift == pytest.approx((18 / 20) / (28 / 100))
    assert rule.conviction == pytest.approx((1 - 0.28) / (1 - 0.9))
    assert rule.pmi == pytest.approx(math.log2((18 / 20) / (28 / 100)))
    assert rule.npmi == pytest.approx(rule.pmi / -math.log2(18 / 100))
    assert rule.pattern == "IF text CONTAINS 'refund' THEN sentiment = 'negative'"
    # p-values: every keyword with >= 5 records (box, great, late, refund) x 2 sentiments.
    assert out.stats["pairs_tested"] == 8
    table = [[18, 2], [10, 70]]
    _g, p_two, _, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert rule.p_value == pytest.approx(p_two / 2)
    # great -> positive is certain: conviction is infinite, represented explicitly.
    great = found[("great", "positive")].to_dict()
    assert great["conviction"] is None and great["conviction_infinite"] is True


def test_q_values_are_bh_over_all_tested_pairs():
    rows = _rows()
    data = keyword_dataset(rows)
    params = MiningParams(min_support=5, min_confidence=0.0, max_fdr=1.0, holdout_fraction=0)
    out = sentiment_correlation(data, all_rows(data), params)
    pairs = [(k, s) for k in ("box", "great", "late", "refund") for s in ("negative", "positive")]
    counts = np.array([_reference(rows, k, s) for k, s in pairs])
    p = association_p_values(*counts.T)
    q = dict(zip(pairs, benjamini_hochberg(p)))
    # great/negative (0 records) and refund/positive (2) fall below min_support but were tested.
    assert len(out.rules) == 6
    for rule in out.rules:
        assert rule.q_value == pytest.approx(q[(rule.conditions[0].value, rule.consequent.value)])


def test_min_support_counts_joint_records():
    rows = [(["rare"], "negative")] * 4 + [(["other"], "positive")] * 40
    data = keyword_dataset(rows)
    out = sentiment_correlation(
        data, all_rows(data), MiningParams(min_support=5, holdout_fraction=0)
    )
    assert [r for r in out.rules if r.conditions[0].value == "rare"] == []


def test_rules_are_counted_on_training_rows_only():
    rows = _rows()
    data = keyword_dataset(rows)
    mask = np.arange(len(rows)) % 2 == 0
    params = MiningParams(min_support=3, min_confidence=0.7, holdout_fraction=0)
    out = sentiment_correlation(data, mask, params)
    train = [rows[i] for i in range(len(rows)) if mask[i]]
    rule = next(r for r in out.rules if r.conditions[0].value == "refund")
    n, n_a, _n_c, n_ac = _reference(train, "refund", "negative")
    assert (rule.n_records, rule.antecedent_count, rule.support_count) == (n, n_a, n_ac)


def test_patterns_distribution_distinctive_and_rating_agreement():
    records = []
    sentiments = ["positive"] * 6 + ["negative"] * 3 + ["neutral"]
    ratings = [5, 4, 4, 5, 2, None, 1, 2, 4, 3]
    for i, (s, r) in enumerate(zip(sentiments, ratings)):
        records.append(Record(id=f"x{i}", text="word", sentiment=s, rating=r, keywords=["word"]))
    records.append(Record(id="nos", text="word", keywords=["word"]))
    data = build_dataset(records)
    out = sentiment_correlation(
        data, all_rows(data), MiningParams(min_support=1, holdout_fraction=0)
    )
    by_type = {p.pattern_type: p for p in out.patterns}
    dist = by_type["sentiment_distribution"].data
    assert dist["counts"] == {"negative": 3, "neutral": 1, "positive": 6}
    assert dist["missing"] == 1
    agreement = by_type["rating_agreement"].data
    # rated: 9 records; agreeing: pos 5,4,4,5 (4) + pos 2 (no) + neg 1,2 (2)
    # + neg 4 (no) + neu 3 (1)
    assert agreement["n"] == 9
    assert agreement["agreement"] == pytest.approx(7 / 9)
    rho, _ = stats.spearmanr([5, 4, 4, 5, 2, 1, 2, 4, 3], [1, 1, 1, 1, 1, -1, -1, -1, 0])
    assert agreement["spearman_rho"] == pytest.approx(rho)
    assert agreement["per_sentiment"]["positive"] == {"count": 5, "mean_rating": pytest.approx(4.0)}


def test_distinctive_keywords_and_insights_in_both_languages():
    rows = _rows()
    data = keyword_dataset(rows)
    params = MiningParams(min_support=5, holdout_fraction=0)
    out = sentiment_correlation(data, all_rows(data), params)
    distinctive = {
        p.data["sentiment"]: [k["keyword"] for k in p.data["keywords"]]
        for p in out.patterns
        if p.pattern_type == "distinctive_keywords"
    }
    assert distinctive["negative"][0] == "refund"
    assert "great" in distinctive["positive"]
    en = sentiment_insights(out, params)
    zh = sentiment_insights(out, MiningParams(min_support=5, holdout_fraction=0, lang="zh"))
    assert [i.insight_type for i in en] == ["pattern_insight", "pattern_insight"]
    assert en[0].title == "What drives negative sentiment: refund (90%)"
    assert zh[0].title == "负面情感的主要驱动词：refund (90%)"
    assert all(0.0 <= i.impact_score <= 1.0 for i in en)
    assert en[0].recommendations[0] == (
        "Read a sample of the records containing 'refund' to confirm the cause."
    )
