import math
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest
from scipy import stats

from bizlogic.mining.engine import (
    TEST,
    TRAIN,
    VALIDATION,
    AnalysisResult,
    pattern_accuracy,
    run_analysis,
    select_records,
    split_parts,
    verdict,
)
from bizlogic.mining.model import Condition, Filters, MiningParams, Rule
from bizlogic.records.dataset import NAT, build_dataset
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
    # Share of the judged rules that hold; a rule that could not be judged (None) is not counted.
    assert pattern_accuracy([True, True, False, None]) == pytest.approx(2 / 3)
    assert pattern_accuracy([None]) is None
    assert pattern_accuracy([]) is None


def test_keyword_rules_keep_the_confidence_bar():
    data = build_dataset(_records(10))  # unused by these rules: only their confidence counts
    rules = [_rule(0.9), _rule(0.65), _rule(0.6499), _rule(None)]
    # min_confidence 0.7: a rule holds when hold-out confidence >= 0.65; None is not counted.
    verdicts = [verdict(r, data, r.holdout_confidence, 0.7) for r in rules]
    assert verdicts == [True, True, False, None]
    # A rule that claims less than min_confidence is held to its own rate.
    modest = [_rule(0.36, confidence=0.4), _rule(0.34, confidence=0.4)]
    assert [verdict(r, data, r.holdout_confidence, 0.7) for r in modest] == [True, False]


def _behaviour_rule(annotator="u0", value="negative", confidence=0.6):
    rule = _rule(None, confidence=confidence)
    rule.rule_type = "annotator_behavior"
    rule.conditions = (Condition("annotator", "eq", annotator),)
    rule.consequent = Condition("sentiment", "eq", value)
    return rule


def _annotated(rows):
    """Records from (annotator, sentiment, count) rows; None for a missing value."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records, i = [], 0
    for annotator, sentiment, count in rows:
        for _ in range(count):
            records.append(
                Record(
                    id=f"r{i}",
                    text=f"text {i}",
                    keywords=[f"w{i}"],
                    sentiment=sentiment,
                    annotator=annotator,
                    created_at=start + timedelta(hours=i),
                )
            )
            i += 1
    return build_dataset(records)


def test_a_behavioural_rule_is_judged_by_whether_its_bias_replicates():
    rule = _behaviour_rule(confidence=0.6)
    # u0: 14 of 30 negative (0.47, far below the claimed 0.6 - 0.05); the rest: 30 of 120.
    # Records without an annotator or a sentiment take no part.
    replicated = _annotated(
        [
            ("u0", "negative", 14),
            ("u0", "positive", 16),
            ("u1", "negative", 30),
            ("u1", "positive", 90),
            (None, "negative", 50),
            ("u0", None, 7),
        ]
    )
    _odds, p = stats.fisher_exact([[14, 16], [30, 90]], alternative="greater")
    assert p == pytest.approx(0.0196, abs=1e-4)  # <= 0.05: the over-use replicates
    assert verdict(rule, replicated, 14 / 37, 0.7) is True
    # u0 at the rest's rate: 8 of 30 against 32 of 120.
    vanished = _annotated(
        [
            ("u0", "negative", 8),
            ("u0", "positive", 22),
            ("u1", "negative", 32),
            ("u1", "positive", 88),
        ]
    )
    _odds, p = stats.fisher_exact([[8, 22], [32, 88]], alternative="greater")
    assert p == pytest.approx(0.5829, abs=1e-4)
    assert verdict(rule, vanished, 8 / 30, 0.7) is False
    # 19 records of u0: too few to judge, whatever they say.
    tiny = _annotated([("u0", "negative", 19), ("u1", "negative", 30), ("u1", "positive", 90)])
    assert verdict(rule, tiny, 1.0, 0.7) is None


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _rise_rule(value="negative", start_day=10, end_day=None, confidence=0.6):
    """created_at >= T0 + start_day [< T0 + end_day] → sentiment = value, as temporal mines it."""
    rule = _rule(None, confidence=confidence)
    rule.algorithm, rule.rule_type = "temporal_trends", "temporal"
    rule.conditions = (Condition("created_at", "gte", T0 + timedelta(days=start_day)),)
    if end_day is not None:
        rule.conditions += (Condition("created_at", "lt", T0 + timedelta(days=end_day)),)
    rule.consequent = Condition("sentiment", "eq", value)
    return rule


def _timed(rows):
    """Records from (day or None, sentiment or None, count) rows, a minute apart within a day."""
    records = []
    for day, sentiment, count in rows:
        for j in range(count):
            i = len(records)
            at = None if day is None else T0 + timedelta(days=day, minutes=j)
            records.append(
                Record(
                    id=f"r{i}",
                    text=f"text {i}",
                    keywords=[f"w{i}"],
                    sentiment=sentiment,
                    created_at=at,
                )
            )
    return build_dataset(records)


def _rise_recount(rule, data):
    """The 2×2 table a rise rule claims, recounted from the records' own values."""
    t = rule.conditions[0].value
    end = rule.conditions[1].value if len(rule.conditions) > 1 else None
    cells = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for at, sentiment in zip(data.created_at.tolist(), data.sentiment.values(), strict=True):
        if at == NAT or sentiment is None:
            continue
        when = datetime.fromtimestamp(at, tz=UTC)
        if end is not None and when >= end:
            continue
        cells[(when >= t, sentiment == rule.consequent.value)] += 1
    return [
        [cells[(True, True)], cells[(True, False)]],
        [cells[(False, True)], cells[(False, False)]],
    ]


def test_a_temporal_rise_is_judged_by_whether_it_replicates():
    rule = _rise_rule(confidence=0.6)
    # From day 10: 24 of 60 negative (0.4, far below the claimed 0.6 - 0.05); before:
    # 12 of 60. Records without a time or a sentiment take no part.
    replicated = _timed(
        [
            (2, "negative", 12),
            (3, "positive", 48),
            (12, "negative", 24),
            (13, "positive", 36),
            (None, "negative", 50),
            (14, None, 7),
        ]
    )
    table = _rise_recount(rule, replicated)
    assert table == [[24, 36], [12, 48]]
    _odds, p = stats.fisher_exact(table, alternative="greater")
    assert p == pytest.approx(0.0138, abs=1e-4)  # <= 0.05: the rise replicates
    assert verdict(rule, replicated, 24 / 67, 0.7) is True
    # The rise gone: 12 of 60 from day 10, as before.
    vanished = _timed(
        [(2, "negative", 12), (3, "positive", 48), (12, "negative", 12), (13, "positive", 48)]
    )
    table = _rise_recount(rule, vanished)
    assert table == [[12, 48], [12, 48]]
    _odds, p = stats.fisher_exact(table, alternative="greater")
    assert p == pytest.approx(0.5901, abs=1e-4)
    assert verdict(rule, vanished, 0.2, 0.7) is False
    # A fall is no rise either.
    fell = _timed(
        [(2, "negative", 24), (3, "positive", 36), (12, "negative", 12), (13, "positive", 48)]
    )
    assert verdict(rule, fell, 0.2, 0.7) is False
    # 19 records from day 10 (or before it): too few to judge, whatever they say.
    few_after = _timed([(2, "negative", 12), (3, "positive", 48), (12, "negative", 19)])
    assert verdict(rule, few_after, 1.0, 0.7) is None
    few_before = _timed([(2, "positive", 19), (12, "negative", 40), (13, "positive", 20)])
    assert verdict(rule, few_before, 40 / 60, 0.7) is None


def test_a_bounded_rise_is_compared_with_before_its_start_only():
    rule = _rise_rule(start_day=10, end_day=20)
    # Inside [day 10, day 20) the share is what it was before day 10 (0.2): the rise
    # vanished, though the share fell to 0.025 from day 20 on. Against every record
    # outside the window it would look like a rise; against before t it is none.
    data = _timed(
        [
            (2, "negative", 12),
            (3, "positive", 48),
            (12, "negative", 12),
            (13, "positive", 48),
            (22, "negative", 5),
            (23, "positive", 195),
        ]
    )
    table = _rise_recount(rule, data)
    assert table == [[12, 48], [12, 48]]
    assert verdict(rule, data, 0.2, 0.7) is False
    outside = [[12, 48], [12 + 5, 48 + 195]]
    assert stats.fisher_exact(outside, alternative="greater").pvalue < 0.05
    # With the rise in place inside the window it holds.
    risen = _timed(
        [
            (2, "negative", 12),
            (3, "positive", 48),
            (12, "negative", 30),
            (13, "positive", 30),
            (22, "negative", 5),
            (23, "positive", 195),
        ]
    )
    table = _rise_recount(rule, risen)
    assert table == [[30, 30], [12, 48]]
    assert stats.fisher_exact(table, alternative="greater").pvalue < 0.05
    assert verdict(rule, risen, 0.5, 0.7) is True


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


def test_an_algorithm_without_rules_has_no_accuracy_figure():
    """None, not 0: nothing was judged (``bl_pattern_accuracy`` is then not set for it)."""
    data = build_dataset(_records())
    algorithms = ["sentiment_correlation", "temporal_trends", "user_behavior"]
    result = run_analysis(data, algorithms, MiningParams(min_support=5))
    assert {r.algorithm for r in result.rules} == {"sentiment_correlation"}
    assert result.meta["pattern_accuracy_by_algorithm"] == {
        "sentiment_correlation": 1.0,
        "temporal_trends": None,
        "user_behavior": None,
    }
