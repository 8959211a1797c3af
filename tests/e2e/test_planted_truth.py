"""Planted-truth recovery: the whole pipeline on generated data finds what was planted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bizlogic.mining.engine import run_analysis
from bizlogic.records.dataset import DatasetBuilder
from bizlogic.records.importers import ImportOptions, Reject, iter_import
from bizlogic.records.synthetic import generate, load_truth, truth_path


@pytest.fixture(scope="module", params=[7, 11])
def analysed(request, tmp_path_factory):
    path: Path = tmp_path_factory.mktemp(f"planted{request.param}") / "records.jsonl"
    generate(path, 20_000, seed=request.param)
    builder = DatasetBuilder()
    for item in iter_import(path, ImportOptions()):
        assert not isinstance(item, Reject), item
        builder.add(item)
    result = run_analysis(builder.build())
    return load_truth(truth_path(path)).to_dict(), result


def test_planted_keyword_rules_precision_and_recall(analysed):
    truth, result = analysed
    planted = {(r["keyword"], r["sentiment"]) for r in truth["planted_rules"]}
    found = {
        (str(r.conditions[0].value), str(r.consequent.value))
        for r in result.rules
        if r.rule_type == "keyword_sentiment"
    }
    true_positives = len(found & planted)
    precision = true_positives / len(found)
    recall = true_positives / len(planted)
    assert precision >= 0.9, sorted(found - planted)
    assert recall >= 0.9, sorted(planted - found)


def test_null_keywords_are_rarely_reported(analysed):
    truth, result = analysed
    nulls = {k["keyword"] for k in truth["null_keywords"]}
    in_rules = {
        str(c.value) for r in result.rules for c in r.conditions if c.operator == "contains"
    } | {str(r.consequent.value) for r in result.rules if r.consequent.operator == "contains"}
    distinctive = {
        k["keyword"]
        for p in result.patterns
        if p.pattern_type == "distinctive_keywords"
        for k in p.data["keywords"]
    }
    reported = nulls & (in_rules | distinctive)
    assert len(reported) <= 0.05 * len(nulls), sorted(reported)


def test_change_point_found_within_two_days(analysed):
    truth, result = analysed
    planted = date.fromisoformat(truth["change_point"]["date"][:10])
    points = [
        p.data
        for p in result.patterns
        if p.pattern_type == "change_point" and p.data["sentiment"] == "negative"
    ]
    assert points, "no change point in the negative share"
    closest = min(points, key=lambda d: abs((date.fromisoformat(d["date"]) - planted).days))
    assert abs((date.fromisoformat(closest["date"]) - planted).days) <= 2
    assert closest["direction"] == "rise"
    assert closest["share_before"] == pytest.approx(truth["change_point"]["share_before"], abs=0.04)
    assert closest["share_after"] == pytest.approx(truth["change_point"]["share_after"], abs=0.04)


def test_biased_and_fast_annotators_flagged_and_nobody_else(analysed):
    truth, result = analysed
    flagged = {
        p.data["annotator"]: set(p.data["reasons"])
        for p in result.patterns
        if p.pattern_type == "annotator_outlier"
    }
    biased = truth["biased_annotators"][0]["annotator"]
    fast = truth["fast_annotators"][0]["annotator"]
    assert "label_skewed" in flagged[biased]
    assert "too_fast" in flagged[fast]
    assert set(flagged) == {biased, fast}
    behaviour_rules = [r for r in result.rules if r.rule_type == "annotator_behavior"]
    assert {(str(r.conditions[0].value), str(r.consequent.value)) for r in behaviour_rules} == {
        (biased, "negative")
    }


def test_trend_and_weekly_seasonality_found(analysed):
    _truth, result = analysed
    types = {p.pattern_type: p for p in result.patterns}
    volume = [p for p in result.patterns if p.pattern_type == "volume_trend"]
    assert volume and volume[0].data["direction"] == "increasing"
    season = types["weekly_seasonality"].data
    assert season["low_weekday"] in ("Saturday", "Sunday")


def test_rules_hold_on_holdout_data(analysed):
    _truth, result = analysed
    keyword_rules = [r for r in result.rules if r.rule_type == "keyword_sentiment"]
    assert all(r.holdout_confidence is not None for r in keyword_rules)
    assert result.meta["pattern_accuracy_by_algorithm"]["sentiment_correlation"] >= 0.9
