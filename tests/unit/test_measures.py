import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from bizlogic.mining.measures import (
    association_p_values,
    benjamini_hochberg,
    hypergeom_upper_tail,
    rule_measures,
)


def test_measures_match_hand_computation():
    m = rule_measures(100, 20, 30, 15)
    assert m.support[()] == pytest.approx(0.15)
    assert m.confidence[()] == pytest.approx(0.75)
    assert m.lift[()] == pytest.approx(2.5)
    assert m.leverage[()] == pytest.approx(0.15 - 0.2 * 0.3)
    assert m.conviction[()] == pytest.approx(0.7 / 0.25)
    assert m.pmi[()] == pytest.approx(math.log2(2.5))
    assert m.npmi[()] == pytest.approx(math.log2(2.5) / -math.log2(0.15))


def test_conviction_is_infinite_for_certain_rules_and_npmi_bounds():
    m = rule_measures([50, 50], [10, 10], [20, 10], [10, 0])
    assert math.isinf(m.conviction[0])
    assert m.npmi[1] == -1.0
    perfect = rule_measures(10, 4, 4, 4)
    assert perfect.npmi[()] == pytest.approx(1.0)


def test_small_counts_use_fisher_exact_upper_tail():
    # expected count n_a*n_c/n = 1 < 5 -> Fisher
    p = association_p_values(20, 4, 5, 3)
    table = [[3, 1], [2, 14]]
    assert p[()] == pytest.approx(stats.fisher_exact(table, alternative="greater")[1])


def test_large_counts_use_one_sided_g_test():
    table = np.array([[15, 5], [15, 65]])
    _g, p_two, _, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert association_p_values(100, 20, 30, 15)[()] == pytest.approx(p_two / 2)
    # Negative association: the upper-tail p-value is close to one.
    assert association_p_values(100, 20, 30, 1)[()] > 0.99


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=50), rng.uniform(0, 0.001, size=10)])
    expected = stats.false_discovery_control(p, method="bh")
    assert np.allclose(benjamini_hochberg(p), expected)
    assert benjamini_hochberg(np.array([])).size == 0


def test_benjamini_hochberg_hand_example():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5]))
    assert q.tolist() == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])


tables = st.tuples(
    st.integers(1, 60), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)
).map(lambda t: (t[0] + t[1] + t[2] + t[3], t[0] + t[1], t[0] + t[2], t[0]))


@given(tables)
def test_measure_invariants(counts):
    n, n_a, n_c, n_ac = counts
    m = rule_measures(n, n_a, n_c, n_ac)
    assert 0.0 <= m.confidence[()] <= 1.0
    assert -0.25 <= m.leverage[()] <= 0.25
    assert -1.0 - 1e-9 <= m.npmi[()] <= 1.0 + 1e-9
    if n_c < n:
        assert (m.lift[()] > 1) == (m.leverage[()] > 1e-12) or abs(m.leverage[()]) < 1e-12
    p = association_p_values(n, n_a, n_c, n_ac)[()]
    assert 0.0 <= p <= 1.0


@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_bh_is_monotone_and_dominates_p(p_list):
    p = np.array(p_list)
    q = benjamini_hochberg(p)
    assert np.all(q >= p - 1e-15)
    assert np.all(q <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= -1e-15)


@given(
    st.integers(1, 400).flatmap(
        lambda n: st.tuples(
            st.just(n), st.integers(0, n), st.integers(0, n), st.integers(-2, n + 2)
        )
    )
)
def test_hypergeometric_tail_matches_scipy(args):
    n, successes, draws, k = args
    expected = stats.hypergeom.sf(k - 1, n, successes, draws)
    assert hypergeom_upper_tail(n, successes, draws, k)[()] == pytest.approx(expected, abs=1e-12)


def test_hypergeometric_tail_vectorised_and_extreme():
    n = np.array([1_000_000, 1_000_000, 50])
    successes = np.array([2_000, 10, 25])
    draws = np.array([1_500, 999_990, 25])
    k = np.array([40, 10, 20])
    expected = stats.hypergeom.sf(k - 1, n, successes, draws)
    assert hypergeom_upper_tail(n, successes, draws, k) == pytest.approx(expected, rel=1e-9)
