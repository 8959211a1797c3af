import math

from bizlogic.mining.changes import detect_changes
from bizlogic.mining.engine import AnalysisResult
from bizlogic.mining.model import Condition, Pattern, Rule


def _rule(word: str, confidence: float) -> Rule:
    return Rule(
        algorithm="sentiment_correlation",
        rule_type="keyword_sentiment",
        conditions=(Condition("text", "contains", word),),
        consequent=Condition("sentiment", "eq", "negative"),
        support_count=10,
        support=0.1,
        antecedent_count=12,
        consequent_count=30,
        n_records=100,
        confidence=confidence,
        lift=2.0,
        leverage=0.05,
        conviction=math.inf,
        p_value=0.001,
        q_value=0.01,
    )


def _change_point(day: str, series: str = "negative") -> Pattern:
    return Pattern(
        "temporal_trends",
        "change_point",
        f"{series} share shifted on {day}",
        0.5,
        {"date": day, "sentiment": series},
    )


def _result(rules, patterns=()):
    return AnalysisResult(meta={}, rules=list(rules), patterns=list(patterns))


def test_new_vanished_and_shifted_rules():
    before = _result([_rule("refund", 0.8), _rule("late", 0.75), _rule("box", 0.9)])
    after = _result([_rule("refund", 0.95), _rule("late", 0.8), _rule("broken", 0.9)])
    changes = detect_changes(before, after, threshold=0.1)
    assert [r["pattern"] for r in changes.new_rules] == [
        "IF text CONTAINS 'broken' THEN sentiment = 'negative'"
    ]
    assert [r["pattern"] for r in changes.vanished_rules] == [
        "IF text CONTAINS 'box' THEN sentiment = 'negative'"
    ]
    assert [(s.pattern, s.before, s.after) for s in changes.confidence_shifts] == [
        ("IF text CONTAINS 'refund' THEN sentiment = 'negative'", 0.8, 0.95)
    ]
    assert changes.confidence_shifts[0].delta == 0.95 - 0.8
    assert changes.has_changes
    assert changes.to_dict()["confidence_shifts"][0]["key"] == (
        "text CONTAINS 'refund' => sentiment = 'negative'"
    )


def test_change_points_within_tolerance_are_not_new():
    before = _result([], [_change_point("2026-03-14")])
    after = _result(
        [],
        [
            _change_point("2026-03-16"),
            _change_point("2026-04-20"),
            _change_point("2026-03-14", "positive"),
        ],
    )
    changes = detect_changes(before, after)
    assert [(p["data"]["date"], p["data"]["sentiment"]) for p in changes.new_change_points] == [
        ("2026-04-20", "negative"),
        ("2026-03-14", "positive"),
    ]


def test_identical_results_have_no_changes():
    result = _result([_rule("refund", 0.8)], [_change_point("2026-03-14")])
    assert not detect_changes(result, result).has_changes
