import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from bizlogic.mining.evaluate import RuleEvaluator, keyword_rule_counts
from bizlogic.mining.model import Condition, Rule
from bizlogic.mining.ranking import (
    MIN_SIDE_RECORDS,
    REPLICATION_ALPHA,
    confidently_above_bar,
    higher_share_p_value,
    higher_share_replicates,
    holds,
    merge_duplicates,
    rank,
    score_rules,
    wilson_lower,
)
from tests.unit.helpers import keyword_dataset


def _rule(words, value="negative", n_ac=8, n_a=10, n_c=40, n=100, algorithm="a", field="sentiment"):
    return Rule(
        algorithm=algorithm,
        rule_type="keyword_sentiment" if len(words) == 1 else "class_association",
        conditions=tuple(Condition("text", "contains", w) for w in words),
        consequent=Condition(field, "eq", value),
        support_count=n_ac,
        support=n_ac / n,
        antecedent_count=n_a,
        consequent_count=n_c,
        n_records=n,
        confidence=n_ac / n_a,
        lift=1.0,
        leverage=0.0,
        conviction=1.0,
        p_value=0.01,
        q_value=0.01,
    )


def _textbook_wilson(k, n, z=1.959963984540054):
    p = k / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )


@pytest.mark.parametrize(("k", "n"), [(6, 7), (60, 70), (1, 1), (0, 5), (999, 1000)])
def test_wilson_lower_bound_matches_the_textbook_formula(k, n):
    assert wilson_lower(np.array([k]), np.array([n]))[0] == pytest.approx(_textbook_wilson(k, n))


def test_confidence_bar_counts_the_uncertainty():
    small, large = _rule(["a"], n_ac=6, n_a=7), _rule(["b"], n_ac=60, n_a=70)
    assert confidently_above_bar([small, large], 0.7).tolist() == [False, True]


def test_one_rule_per_statement_listing_every_algorithm():
    first = _rule(["refund"], algorithm="sentiment_correlation")
    copy = _rule(["refund"], n_ac=7, algorithm="keyword_cooccurrence")
    other = _rule(["late"], algorithm="keyword_cooccurrence")
    merged = merge_duplicates([first, copy, other])
    assert merged == [first, other]
    assert first.algorithms == ("sentiment_correlation", "keyword_cooccurrence")
    assert first.support_count == 8  # one set of numbers: the first algorithm's
    assert first.to_dict()["algorithms"] == ["sentiment_correlation", "keyword_cooccurrence"]


def test_score_is_the_lift_of_the_lower_bound_over_the_reference():
    single = _rule(["refund"], n_ac=90, n_a=100, n_c=40, n=200)
    combo = _rule(["refund", "box"], n_ac=19, n_a=20, n_c=40, n=200)
    score_rules([single, combo], {1: 0.9})
    low_single = _textbook_wilson(90, 100)
    assert single.score == pytest.approx((low_single - 0.2) / 0.8, abs=1e-6)
    # The combination is measured against its best parent (0.9), not the base rate.
    assert combo.score == pytest.approx(max(0.0, (_textbook_wilson(19, 20) - 0.9) / 0.1), abs=1e-6)
    assert rank([combo, single]) == [single, combo]


def test_holding_is_judged_against_the_claimed_level():
    strong, modest = _rule(["a"], n_ac=9, n_a=10), _rule(["b"], n_ac=4, n_a=10)
    assert holds(strong, 0.65, 0.7) is True and holds(strong, 0.64, 0.7) is False
    assert holds(modest, 0.35, 0.7) is True and holds(modest, 0.34, 0.7) is False
    assert holds(strong, None, 0.7) is None


def _fisher_greater(n, n_a, n_c, n_ac):
    """One-sided Fisher p by hand: exact hypergeometric tail over big integers."""
    tail = sum(
        math.comb(n_c, k) * math.comb(n - n_c, n_a - k) for k in range(n_ac, min(n_a, n_c) + 1)
    )
    return float(Fraction(tail, math.comb(n, n_a)))


def _table(n, n_a, n_c, n_ac):
    """The same counts as a 2×2 table: group A / the rest × value / other values."""
    return [[n_ac, n_a - n_ac], [n_c - n_ac, n - n_a - n_c + n_ac]]


# (n, n_a, n_c, n_ac) of a test part: records with an annotator and a value, the
# annotator's, those with the value, both.
REPLICATED = (3013, 139, 872, 67)  # 0.48 against the rest's 0.28 (the demo's planted bias)
VANISHED = (3000, 140, 840, 39)  # 0.279 against the rest's 0.280: at the base rate
# The same for a temporal rise, counted on the demo (mining/temporal.py: rise_table):
# records with a time and a sentiment, those from t, the negative ones, both.
RISE_SEED_5 = (2979, 1426, 873, 536)  # validation part, 20,000 records, seed 5: 0.376 vs 0.217
RISE_GONE = (863, 406, 249, 118)  # test part, 5,000 records, seed 7: 0.291 vs 0.287


@pytest.mark.parametrize(
    "counts",
    [REPLICATED, VANISHED, RISE_SEED_5, RISE_GONE, (60, 20, 30, 14), (45, 25, 9, 9)],
)
def test_higher_share_p_value_is_the_one_sided_fisher_exact_test(counts):
    by_hand = _fisher_greater(*counts)
    assert higher_share_p_value(*counts) == pytest.approx(by_hand, rel=1e-9, abs=1e-300)
    _odds, p = stats.fisher_exact(_table(*counts), alternative="greater")
    assert higher_share_p_value(*counts) == pytest.approx(p, rel=1e-9, abs=1e-300)


def test_a_replicated_bias_holds_and_a_vanished_one_fails():
    assert _fisher_greater(*REPLICATED) == pytest.approx(7.0193e-7, rel=1e-4)
    assert higher_share_replicates(*REPLICATED) is True
    assert _fisher_greater(*VANISHED) == pytest.approx(0.5486, abs=1e-4)
    assert higher_share_replicates(*VANISHED) is False
    # An annotator using the value less than the rest is no replication either.
    assert higher_share_replicates(3000, 140, 840, 20) is False


def test_a_replicated_rise_holds_and_a_vanished_one_fails():
    # Validation dropped the seed-5 rise by the confidence bar: 536/1426 = 0.376 < 0.427 - 0.05.
    assert 536 / 1426 < 0.427 - 0.05
    assert _fisher_greater(*RISE_SEED_5) == pytest.approx(1.0574e-21, rel=1e-4)
    assert higher_share_replicates(*RISE_SEED_5) is True
    assert _fisher_greater(*RISE_GONE) == pytest.approx(0.4783, abs=1e-4)
    assert higher_share_replicates(*RISE_GONE) is False


def test_bias_verdict_flips_exactly_where_the_p_value_reaches_alpha():
    n, n_a, n_c = 3000, 140, 840
    first = next(k for k in range(n_a + 1) if _fisher_greater(n, n_a, n_c, k) <= REPLICATION_ALPHA)
    assert first == 49  # 0.35 of 140 against 0.28: the smallest over-use that counts
    assert higher_share_replicates(n, n_a, n_c, first - 1) is False
    assert higher_share_replicates(n, n_a, n_c, first) is True


def test_a_tiny_hold_out_leaves_a_behavioural_rule_unmeasured():
    few = MIN_SIDE_RECORDS - 1
    # Even an annotator who used the value every time: too few records to judge.
    assert higher_share_replicates(3000, few, 840, few) is None
    assert higher_share_replicates(3000, MIN_SIDE_RECORDS, 840, MIN_SIDE_RECORDS) is True
    # Too few records of everyone else: nothing to compare with.
    assert higher_share_replicates(100 + few, 100, 50, 50) is None
    assert higher_share_replicates(0, 0, 0, 0) is None


def test_vectorised_counts_equal_the_rule_by_rule_evaluator():
    rng = np.random.default_rng(5)
    words = ["alpha", "beta", "gamma", "delta", "eps"]
    rows = [
        ([w for w in words if rng.random() < 0.35], str(rng.choice(["negative", "positive"])))
        for _ in range(300)
    ]
    data = keyword_dataset(rows, label="product")
    rules = [_rule([w], value=v) for w in words for v in ("negative", "positive", "absent")]
    rules += [_rule([a, b]) for a in words for b in words if a < b]
    rules += [_rule(["alpha", "beta", "gamma"], value="positive"), _rule(["never-seen"])]
    rules += [_rule(["beta"], value="product", field="label")]
    n_a, n_ac, examples = keyword_rule_counts(rules, data, examples=3)
    evaluator = RuleEvaluator(data)
    for i, rule in enumerate(rules):
        a, _c, ac = evaluator.counts(rule)
        assert (n_a[i], n_ac[i]) == (a, ac), rule.pattern
        assert examples[i] == evaluator.examples(rule, 3), rule.pattern
    assert n_a[-2] == 0  # a keyword the data never saw matches nothing
