"""Rule interestingness measures and significance, vectorised over many rules.

All functions take absolute counts: ``n`` records, ``n_a`` records matching
the antecedent, ``n_c`` matching the consequent, ``n_ac`` matching both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

# Cochran's rule: below this expected cell count the chi-square family is
# unreliable and we use Fisher's exact test instead of the G-test.
MIN_EXPECTED_FOR_G = 5.0


@dataclass(frozen=True)
class Measures:
    support: np.ndarray
    confidence: np.ndarray
    lift: np.ndarray
    leverage: np.ndarray
    conviction: np.ndarray  # inf where confidence == 1
    pmi: np.ndarray  # log2 lift; -inf where n_ac == 0
    npmi: np.ndarray  # pmi / -log2 P(a,c); in [-1, 1]


def _arrays(*values: np.ndarray | int) -> list[np.ndarray]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def rule_measures(n: np.ndarray | int, n_a, n_c, n_ac) -> Measures:
    n, n_a, n_c, n_ac = np.broadcast_arrays(*_arrays(n, n_a, n_c, n_ac))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_c, p_ac = n_a / n, n_c / n, n_ac / n
        confidence = np.where(n_a > 0, n_ac / np.where(n_a > 0, n_a, 1), 0.0)
        lift = p_ac / (p_a * p_c)
        leverage = p_ac - p_a * p_c
        conviction = np.where(
            confidence >= 1.0, np.inf, (1.0 - p_c) / np.where(confidence >= 1.0, 1.0, 1.0 - confidence)
        )
        pmi = np.log2(lift)
        npmi = np.where(
            n_ac == 0, -1.0, np.where(p_ac >= 1.0, 1.0, pmi / -np.log2(np.where(p_ac > 0, p_ac, 1.0)))
        )
    return Measures(p_ac, confidence, lift, leverage, conviction, pmi, npmi)


def _g_test_upper(n, n_a, n_c, n_ac) -> np.ndarray:
    """One-sided G-test p-value for positive association (n_ac above its expectation)."""
    observed = np.stack([n_ac, n_a - n_ac, n_c - n_ac, n - n_a - n_c + n_ac])
    expected = np.stack(
        [n_a * n_c / n, n_a * (n - n_c) / n, (n - n_a) * n_c / n, (n - n_a) * (n - n_c) / n]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(observed > 0, observed * np.log(observed / expected), 0.0)
    g = np.maximum(2.0 * terms.sum(axis=0), 0.0)
    two_sided = stats.chi2.sf(g, df=1)
    positive = n_ac > expected[0]
    return np.where(positive, two_sided / 2.0, 1.0 - two_sided / 2.0)


def association_p_values(n, n_a, n_c, n_ac) -> np.ndarray:
    """P(count >= n_ac) under independence: Fisher exact for small expected counts, else G-test.

    Fisher's one-sided test is the hypergeometric upper tail; the G-test is
    used when every expected cell count is at least MIN_EXPECTED_FOR_G.
    """
    n, n_a, n_c, n_ac = np.broadcast_arrays(*_arrays(n, n_a, n_c, n_ac))
    if n.size == 0:
        return np.empty(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        min_expected = np.minimum.reduce(
            [n_a * n_c, n_a * (n - n_c), (n - n_a) * n_c, (n - n_a) * (n - n_c)]
        ) / n
    small = min_expected < MIN_EXPECTED_FOR_G
    p = np.empty(n.shape, dtype=np.float64)
    if small.any():
        p[small] = stats.hypergeom.sf(n_ac[small] - 1, n[small], n_c[small], n_a[small])
    if (~small).any():
        big = ~small
        p[big] = _g_test_upper(n[big], n_a[big], n_c[big], n_ac[big])
    return np.clip(p, 0.0, 1.0)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH step-up adjusted p-values (q-values), monotone and capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    return q
