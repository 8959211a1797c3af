"""Which rules a person sees first, and which are not worth keeping.

- **One rule per statement**: the same conditions and consequent found by
  several algorithms become one rule, numbered by the first algorithm that
  found it, with ``algorithms`` listing them all.
- **Confidence bar with its uncertainty**: a keyword rule (keywords → class)
  is kept only when the 95% Wilson lower bound of its training confidence is
  at least ``min_confidence − TOLERANCE``: 6 of 7 texts (0.86) does not pass
  a 0.7 bar, 60 of 70 does. Temporal and behavioural rules have their own
  tests (docs/mining-temporal.md, docs/mining-behavior.md).
- **Holding on new data**: a rule holds on records it was not mined from when
  its confidence there is at least its claimed level minus ``TOLERANCE``; the
  claimed level is ``min(min_confidence, training confidence)`` (keyword rules
  passed the ``min_confidence`` bar; temporal and behavioural rules claim the
  rate they observed).
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

from bizlogic.mining.model import Rule

TOLERANCE = 0.05
_Z = 1.959963984540054  # two-sided 95%


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


def rank(rules: Sequence[Rule]) -> list[Rule]:
    """Best score first; then better supported; then by key, so the order is deterministic."""
    return sorted(rules, key=lambda r: (-r.score, -r.support_count, r.key))
