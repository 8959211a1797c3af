import math
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from bizlogic.mining.engine import (
    TEST,
    TRAIN,
    VALIDATION,
    AnalysisResult,
    pattern_accuracy,
    run_analysis,
    select_records,
    split_parts,
)
from bizlogic.mining.model import Condition, Filters, MiningParams, Rule
from bizlogic.records.dataset import build_dataset
from bizlogic.records.schema import Record


def _rule(holdout_confidence, confidence=1.0):
    return Rule(
        algorithm="x",
        rule_type="keyword_sentiment",
        conditions=(Condition("text", "contains", "a"),),
        consequent=Condition("sentiment", "eq", "s"),
        support_count=1,
        support=0.1,
        antecedent_count=1,
        consequent_count=1,
        n_records=10,
        confidence=confidence,
        lift=1.0,
        leverage=0.0,
        conviction=math.inf,
        p_value=0.5,
        q_value=0.5,
        holdout_confidence=holdout_confidence,
    )


def test_pattern_accuracy_definition():
    rules = [_rule(0.9), _rule(0.65), _rule(0.6499), _rule(None)]
    # min_confidence 0.7: a rule holds when hold-out confidence >= 0.65; None is not counted.
    assert pattern_accuracy(rules, 0.7) == pytest.approx(2 / 3)
    assert pattern_accuracy([_rule(None)], 0.7) is None
    # A rule that claims less than min_confidence (temporal, behaviour) is held to its own rate.
    assert pattern_accuracy([_rule(0.36, confidence=0.4), _rule(0.34, confidence=0.4)], 0.7) == 0.5


def _records(n=400):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        negative = i % 4 == 0
        # A keyword of its own per record: distinct texts, not one template repeated.
        words = ["refund", "box", f"n{i}"] if negative else ["great", "box", f"n{i}"]
        out.append(
            Record(
                id=f"id-{i}",
                text=" ".join(words),
                keywords=words,
                sentiment="negative" if negative else "positive",
                annotator=f"u{i % 3}",
                created_at=datetime.fromtimestamp(start.timestamp() + i * 3600, tz=UTC),
            )
        )
    return out


def test_split_is_deterministic_and_keeps_copies_of_a_text_together():
    records = _records()
    copies = [
        Record(id=f"copy-{i}", text=r.text, keywords=r.keywords, sentiment=r.sentiment)
        for i, r in enumerate(records)
    ]
    data = build_dataset(records + copies)
    part = split_parts(data, 0.3)
    assert 0.09 < (part == VALIDATION).mean() < 0.21
    assert 0.09 < (part == TEST).mean() < 0.21
    assert part[:400].tolist() == part[400:].tolist()  # each copy beside its original
    shuffled = build_dataset(list(reversed(records)))
    by_id = dict(zip(shuffled.ids.tolist(), split_parts(shuffled, 0.3).tolist()))
    assert [by_id[i] for i in data.ids[:400].tolist()] == part[:400].tolist()
    assert (split_parts(data, 0.0) == TRAIN).all()


def test_filters_and_time_range():
    data = build_dataset(_records())
    params = MiningParams(
        time_range=(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)),
        filters=Filters(annotators=("u1",), sentiments=("positive",)),
    )
    selected = select_records(data, params)
    hours = range(24, 48)
    expected = [f"id-{i}" for i in hours if i % 3 == 1 and i % 4 != 0]
    assert selected.ids.tolist() == expected


def test_filters_validation_messages():
    with pytest.raises(ValueError, match=r"filters: unknown key\(s\) \['users'\]"):
        Filters.from_dict({"users": ["a"]})
    with pytest.raises(ValueError, match=r"filters\.annotators: expected a list of strings"):
        Filters.from_dict({"annotators": "a"})
    assert Filters.from_dict({"sentiments": [" Neg "]}).sentiments == ("neg",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_support": 0}, "min_support: must be between 1 and 2147483647"),
        ({"min_support": 2**40}, "min_support: must be between 1 and 2147483647"),
        ({"max_rules": 0}, "max_rules: expected a positive integer"),
        ({"min_support": 2.5}, "min_support: expected an integer"),
        ({"min_confidence": 1.5}, "min_confidence: must be between 0 and 1"),
        ({"max_fdr": 0}, r"max_fdr: must be in \(0, 1\]"),
        ({"holdout_fraction": 1.0}, r"holdout_fraction: must be in \[0, 1\)"),
        ({"lang": "fr"}, "lang: must be 'en' or 'zh'"),
        (
            {"time_range": (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))},
            "time_range: start must be before end",
        ),
    ],
)
def test_params_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MiningParams(**kwargs)


def test_run_analysis_validates_rules_on_holdout_and_round_trips():
    data = build_dataset(_records())
    params = MiningParams(min_support=5)
    result = run_analysis(data, ["sentiment_correlation"], params)
    rule = next(r for r in result.rules if r.conditions[0].value == "refund")
    part = split_parts(data, 0.3)
    refund = np.array([int(i[3:]) % 4 == 0 for i in data.ids.tolist()])
    assert rule.holdout_antecedent_count == int((refund & (part == TEST)).sum())
    assert rule.validation_antecedent_count == int((refund & (part == VALIDATION)).sum())
    assert rule.holdout_confidence == 1.0
    assert rule.support_count == int((refund & (part == TRAIN)).sum())
    assert rule.examples == tuple(data.ids[refund & (part == TRAIN)][:5].tolist())
    assert rule.algorithms == ("sentiment_correlation",)
    meta = result.meta
    assert meta["n_train"] + meta["n_validation"] + meta["n_holdout"] == len(data)
    assert meta["pattern_accuracy"] == 1.0
    assert meta["dedup"]["units"] == 400
    encoded = orjson.dumps(result.to_dict())
    again = AnalysisResult.from_dict(orjson.loads(encoded))
    assert [r.to_dict() for r in again.rules] == [r.to_dict() for r in result.rules]
    assert orjson.dumps(again.to_dict()) == encoded


def test_unknown_algorithm_is_rejected():
    data = build_dataset(_records(10))
    with pytest.raises(ValueError, match="unknown algorithm 'magic'"):
        run_analysis(data, ["magic"])


def test_progress_callback_sees_every_stage():
    data = build_dataset(_records(50))
    stages = []
    run_analysis(
        data,
        ["sentiment_correlation", "temporal_trends"],
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    assert stages == [
        ("sentiment_correlation", 0, 4),
        ("temporal_trends", 1, 4),
        ("validate", 2, 4),
        ("insights", 3, 4),
        ("done", 4, 4),
    ]
    assert np.all(np.diff([s[1] for s in stages]) >= 0)
