"""Which rules a person sees first, and which are not worth keeping.

- **One rule per statement**: the same conditions and consequent found by
  several algorithms become one rule, numbered by the first algorithm that
  found it, with ``algorithms`` listing them all.
- **Confidence bar with its uncertainty**: a keyword rule (keywords → class)
  is kept only when the 95% Wilson lower bound of its training confidence is
  at least ``min_confidence − TOLERANCE``: 6 of 7 texts (0.86) does not pass
  a 0.7 bar, 60 of 70 does. Temporal and behavioural rules have their own
  tests (docs/mining-temporal.md, docs/mining-behavior.md).
- **Holding on new data**: a keyword rule holds on records it was not mined
  from when its confidence there is at least its claimed level minus
  ``TOLERANCE``; the claimed level is ``min(min_confidence, training
  confidence)`` (``holds``). Behavioural and temporal rules claim a comparison,
  not a rate (annotator a uses v more than the others do; the share from t is
  higher than before t): they hold when that comparison replicates
  (``higher_share_replicates``).
- **Interestingness score**: how far the rule lifts its consequent above
  what was already known, measured with the 95% Wilson lower bound of its
  confidence so that a rule seen 6 times cannot outrank one seen 600 times at
  the same rate, and scaled to the room left:
  ``score = max(0, (wilson_low − reference) / (1 − reference))``. The
  reference of a one-condition rule is the consequent's base rate; that of a
  combination is the best confidence of the rules with one condition fewer,
  so "不错 + 配置 → positive" scores only what it adds to "不错 → positive".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from bizlogic.mining.model import Rule

TOLERANCE = 0.05
_Z = 1.959963984540054  # two-sided 95%
# Behavioural and temporal rules on new data (``higher_share_replicates``): one-sided
# level of the test, and the records each side (the annotator / everyone else; from t /
# before t) needs for a verdict.
REPLICATION_ALPHA = 0.05
MIN_SIDE_RECORDS = 20


def merge_duplicates(rules: Sequence[Rule]) -> list[Rule]:
    """First rule of each key, with the algorithms of all its copies, in input order."""
    merged: dict[str, Rule] = {}
    for rule in rules:
        kept = merged.get(rule.key)
        if kept is None:
            rule.algorithms = (rule.algorithm,)
            merged[rule.key] = rule
        elif rule.algorithm not in kept.algorithms:
            kept.algorithms = (*kept.algorithms, rule.algorithm)
    return list(merged.values())


def wilson_lower(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    n = np.maximum(trials, 1).astype(float)
    p = successes / n
    z2 = _Z * _Z
    centre = p + z2 / (2 * n)
    margin = _Z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.where(trials > 0, (centre - margin) / (1 + z2 / n), 0.0)


def score_rules(rules: Sequence[Rule], parent_confidence: dict[int, float] | None = None) -> None:
    """Fill ``rule.score`` (module docstring); ``parent_confidence`` maps rule index → reference."""
    if not rules:
        return
    n_ac = np.array([r.support_count for r in rules], dtype=float)
    n_a = np.array([r.antecedent_count for r in rules], dtype=float)
    base = np.array([r.consequent_count / max(r.n_records, 1) for r in rules])
    for i, reference in (parent_confidence or {}).items():
        base[i] = max(base[i], reference)
    low = wilson_lower(n_ac, n_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(base < 1, (low - base) / (1 - base), 0.0)
    for rule, value in zip(rules, np.clip(score, 0.0, 1.0).tolist(), strict=True):
        rule.score = round(value, 6)


def confidently_above_bar(rules: Sequence[Rule], min_confidence: float) -> np.ndarray:
    """Per rule: does the Wilson lower bound of its confidence clear the bar (module docstring)?"""
    n_ac = np.array([r.support_count for r in rules], dtype=float)
    n_a = np.array([r.antecedent_count for r in rules], dtype=float)
    return wilson_lower(n_ac, n_a) >= min_confidence - TOLERANCE - 1e-12


def claimed_level(rule: Rule, min_confidence: float) -> float:
    return min(min_confidence, rule.confidence)


def holds(rule: Rule, confidence: float | None, min_confidence: float) -> bool | None:
    """Whether ``confidence`` measured elsewhere supports the rule; None when unmeasured."""
    if confidence is None:
        return None
    return confidence >= claimed_level(rule, min_confidence) - TOLERANCE - 1e-12


def higher_share_p_value(n: int, n_a: int, n_c: int, n_ac: int) -> float:
    """One-sided Fisher exact p-value that group A has the value more often than the rest.

    ``n`` records in the comparison, ``n_a`` of them in group A, ``n_c`` with the
    value, ``n_ac`` both: P(X >= n_ac), X ~ Hypergeometric(n, n_c, n_a), which is
    ``scipy.stats.fisher_exact`` with ``alternative="greater"`` on the 2×2 table
    (A, rest) × (value, other).
    """
    return float(stats.hypergeom.sf(n_ac - 1, n, n_c, n_a))


def higher_share_replicates(n: int, n_a: int, n_c: int, n_ac: int) -> bool | None:
    """Whether records a rule was not mined from show its group A with the value more often
    than the rest, counted as in ``higher_share_p_value``; None when A or the rest has
    fewer than ``MIN_SIDE_RECORDS`` records.

    One test serves two rule kinds because both claim a comparison of two disjoint
    sets of records, not a rate near a bar:

    - behavioural, ``annotator = a → v`` (mining/behavior.py: ``rule_table``): a
      labels v more often than the other annotators do, on the records with an
      annotator and a value in v's column;
    - temporal, ``created_at >= t [< t'] → sentiment = s`` (mining/temporal.py:
      ``rise_table``): the share of s among the records from t (up to t') is higher
      than among those before t, on the records with a time and a sentiment.

    Why not ``holds``: for both, the rate a new part shows for group A moves far
    more than 0.05 while the comparison stands. A behavioural rule's training rate
    is inflated by selection (only the most skewed annotators become rules): the
    demo's planted bias shows 0.56 on the training part and 0.48 on 139 test
    records, where the other annotators' rate is 0.28. A temporal rule's rate after
    t scatters from part to part because every copy of a text lands on the same
    side of the split (the validation part of the 20,000-record demo with seed 5
    has 1,426 records from t, 684 distinct texts): there it is 0.376 against 0.217
    before t (p ≈ 1e-21), below the training rate 0.427 − 0.05. A tolerance around
    the training rate fails such replicated claims, and one wide enough to pass
    them would also pass a difference that vanished. So the claim itself is
    tested: A against the rest, one-sided, at ``REPLICATION_ALPHA``; A at the
    rest's rate or below fails. Fisher's exact test because a hold-out part gives
    one annotator tens to hundreds of records, where a normal approximation is
    rough, and because its null (the value spread over A and the rest at random)
    is the one the miners rejected on the training rows; against the rest, not
    against a base rate that includes A's own records. Below
    ``MIN_SIDE_RECORDS`` on a side the test is too weak for a failure to mean
    anything (even the demo's annotator bias would be missed one time in three
    with 15 records, one in five with 20), so the rule counts as unmeasured, like a
    rule whose antecedent does not occur. Records are counted as the rules were
    mined, not distinct texts; where copies of a text agree with each other the test
    takes them as independent, so its p-value is on the optimistic side.
    """
    if n_a < MIN_SIDE_RECORDS or n - n_a < MIN_SIDE_RECORDS:
        return None
    return higher_share_p_value(n, n_a, n_c, n_ac) <= REPLICATION_ALPHA


def rank(rules: Sequence[Rule]) -> list[Rule]:
    """Best score first; then better supported; then by key, so the order is deterministic."""
    return sorted(rules, key=lambda r: (-r.score, -r.support_count, r.key))
