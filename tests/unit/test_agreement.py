"""Agreement statistics against textbook examples and naive reference implementations."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from bizlogic.mining.agreement import (
    AGREE,
    ALONE,
    DISAGREE,
    MAD_SCALE,
    MEAN_AD_SCALE,
    TIE,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_groups,
    leave_one_out_medians,
    loo_majority_outcomes,
    pair_kappas,
    robust_z,
    two_row_tests,
    within_task_pairs,
)

# --------------------------------------------------------------------------- Cohen


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Wikipedia "Cohen's kappa" worked example: p_o = 0.7, p_e = 0.5.
        ([[20, 5], [10, 15]], Fraction(2, 5)),
        # Wikipedia's equal-p_o examples: p_e = 0.54 and 0.46.
        ([[45, 15], [25, 15]], Fraction(6, 46)),
        ([[25, 35], [5, 35]], Fraction(14, 54)),
        # 3 classes by hand: p_o = 23/30, p_e = (12·11 + 12·11 + 6·8)/900 = 312/900.
        ([[10, 2, 0], [1, 8, 3], [0, 1, 5]], Fraction(9, 14)),
    ],
)
def test_cohen_kappa_textbook(table, expected):
    assert cohen_kappa(np.array(table)) == pytest.approx(float(expected), abs=1e-12)


def test_cohen_kappa_undefined_when_chance_agreement_is_one():
    assert cohen_kappa(np.array([[10, 0], [0, 0]])) is None
    assert cohen_kappa(np.zeros((2, 2))) is None
    with pytest.raises(ValueError):
        cohen_kappa(np.ones((2, 3)))


def _naive_kappa(pairs: list[tuple[int, int]], k: int) -> float | None:
    n = len(pairs)
    p_o = sum(a == b for a, b in pairs) / n
    rows = Counter(a for a, _ in pairs)
    cols = Counter(b for _, b in pairs)
    p_e = sum(rows[c] * cols[c] for c in range(k)) / n**2
    return None if p_e == 1 else (p_o - p_e) / (1 - p_e)


def _random_ratings(seed: int, n_tasks: int, n_raters: int, k: int, max_raters: int):
    rng = np.random.default_rng(seed)
    task, rater, code = [], [], []
    for t in range(n_tasks):
        size = int(rng.integers(1, max_raters + 1))
        for r in rng.choice(n_raters, size, replace=False):
            task.append(t)
            rater.append(int(r))
            code.append(int(rng.integers(0, k)))
    perm = rng.permutation(len(task))  # the functions must not rely on input order
    return (np.array(task)[perm], np.array(rater)[perm], np.array(code)[perm])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_within_task_pairs_and_pair_kappas_match_naive(seed):
    task, rater, code = _random_ratings(seed, 300, 6, 3, 5)
    left, right = within_task_pairs(task, rater)
    found = sorted(
        (int(task[i]), int(rater[i]), int(rater[j])) for i, j in zip(left, right, strict=True)
    )
    by_task: dict[int, dict[int, int]] = {}
    for t, r, c in zip(task.tolist(), rater.tolist(), code.tolist(), strict=True):
        by_task.setdefault(t, {})[r] = c
    expected = sorted(
        (t, a, b) for t, rated in by_task.items() for a, b in combinations(sorted(rated), 2)
    )
    assert found == expected

    result = pair_kappas(rater[left], rater[right], code[left], code[right], 6, 3, min_shared=30)
    naive: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for t, a, b in expected:
        naive.setdefault((a, b), []).append((by_task[t][a], by_task[t][b]))
    kept = {pair: items for pair, items in naive.items() if len(items) >= 30}
    got = list(zip(result.rater_a.tolist(), result.rater_b.tolist(), strict=True))
    assert got == sorted(kept)
    for j, pair in enumerate(got):
        items = kept[pair]
        assert result.shared[j] == len(items)
        assert result.observed[j] == pytest.approx(sum(a == b for a, b in items) / len(items))
        assert result.kappa[j] == pytest.approx(_naive_kappa(items, 3), abs=1e-12)


def test_within_task_pairs_empty_and_single():
    left, right = within_task_pairs(np.array([3]), np.array([1]))
    assert left.size == 0 and right.size == 0


# --------------------------------------------------------------------------- Fleiss

# Wikipedia "Fleiss' kappa" worked example: 10 subjects, 14 raters, 5 categories.
WIKI_FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _fraction_fleiss(table: list[list[int]]) -> Fraction:
    n_sub, n = len(table), sum(table[0])
    p_bar = sum(Fraction(sum(x * x for x in row) - n, n * (n - 1)) for row in table) / n_sub
    p_e = sum(Fraction(sum(col), n_sub * n) ** 2 for col in zip(*table, strict=True))
    return (p_bar - p_e) / (1 - p_e)


def test_fleiss_kappa_textbook():
    value = fleiss_kappa(np.array(WIKI_FLEISS))
    assert value == pytest.approx(float(_fraction_fleiss(WIKI_FLEISS)), abs=1e-12)
    # The published intermediate figures: column totals, P̄ = 0.378, P_e = 0.213, kappa = 0.210.
    assert np.array(WIKI_FLEISS).sum(axis=0).tolist() == [20, 28, 39, 21, 32]
    assert round(value, 3) == 0.210


def test_fleiss_kappa_groups_matches_dense_and_edge_cases():
    table = np.array(WIKI_FLEISS)
    subject, category = np.nonzero(table)
    sparse = fleiss_kappa_groups(subject, category, table[subject, category], 10, 14, 5)
    assert sparse == pytest.approx(fleiss_kappa(table), abs=1e-15)
    assert fleiss_kappa(np.array([[3, 0], [3, 0]])) is None  # everyone always says the same
    assert fleiss_kappa_groups(np.array([], int), np.array([], int), np.array([]), 0, 3, 2) is None
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[2, 1], [1, 1]]))


# --------------------------------------------------------------------------- majority


def _naive_outcome(task: np.ndarray, code: np.ndarray, i: int) -> int:
    others = [int(code[j]) for j in range(len(task)) if task[j] == task[i] and j != i]
    if not others:
        return ALONE
    counts = Counter(others).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return TIE
    return AGREE if counts[0][0] == code[i] else DISAGREE


def test_loo_majority_hand_cases():
    # task 0: a a b -> a-raters tie (others a,b), b disagrees (others a,a)
    # task 1: a b -> both disagree; task 2: c c -> both agree; task 3: alone
    # task 4: a b c -> all tied; task 5: a a b b -> everyone disagrees
    task = np.array([0, 0, 0, 1, 1, 2, 2, 3, 4, 4, 4, 5, 5, 5, 5])
    code = np.array([0, 0, 1, 0, 1, 2, 2, 0, 0, 1, 2, 0, 0, 1, 1])
    expected = [
        TIE,
        TIE,
        DISAGREE,
        DISAGREE,
        DISAGREE,
        AGREE,
        AGREE,
        ALONE,
        TIE,
        TIE,
        TIE,
        DISAGREE,
        DISAGREE,
        DISAGREE,
        DISAGREE,
    ]
    assert loo_majority_outcomes(task, code).tolist() == expected


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_loo_majority_matches_naive(seed):
    task, _rater, code = _random_ratings(seed, 400, 7, 3, 6)
    got = loo_majority_outcomes(task, code)
    assert got.tolist() == [_naive_outcome(task, code, i) for i in range(len(task))]


# --------------------------------------------------------------------------- two-row tests


def test_two_row_tests_chi_square_matches_scipy():
    top = np.array([[120, 80, 50], [30, 60, 90], [200, 10, 40], [55, 45, 0]])
    bottom = np.array([[300, 250, 150], [100, 100, 100], [150, 120, 60], [40, 60, 0]])
    result = two_row_tests(top, bottom)
    assert not result.exact.any()
    for i in range(top.shape[0]):
        keep = (top[i] + bottom[i]) > 0  # scipy refuses empty columns: drop them as we do
        ref = stats.chi2_contingency(np.vstack([top[i], bottom[i]])[:, keep], correction=False)
        assert result.statistic[i] == pytest.approx(ref.statistic, rel=1e-12)
        assert result.p_value[i] == pytest.approx(ref.pvalue, rel=1e-9)
        assert result.df[i] == ref.dof
        n = top[i].sum() + bottom[i].sum()
        assert result.cramers_v[i] == pytest.approx(math.sqrt(ref.statistic / n), rel=1e-12)


def _hypergeom_tails(x: int, total: int, successes: int, draws: int) -> tuple[float, float]:
    denominator = math.comb(total, draws)

    def pmf(j: int) -> float:
        return math.comb(successes, j) * math.comb(total - successes, draws - j) / denominator

    low = max(0, draws - (total - successes))
    high = min(successes, draws)
    return sum(pmf(j) for j in range(low, x + 1)), sum(pmf(j) for j in range(x, high + 1))


def test_two_row_tests_exact_path_matches_hand_computation():
    top, bottom = np.array([[4, 1, 0]]), np.array([[2, 6, 3]])
    result = two_row_tests(top, bottom)
    assert result.exact.tolist() == [True]
    n, n_top = 16, 5
    per_class = []
    for x, col in zip([4, 1, 0], [6, 7, 3], strict=True):
        lower, upper = _hypergeom_tails(x, n, col, n_top)
        per_class.append(min(1.0, 2 * min(lower, upper)))
    assert result.p_value[0] == pytest.approx(min(1.0, 3 * min(per_class)), rel=1e-9)


def test_two_row_tests_untestable_rows_are_nan():
    result = two_row_tests(np.array([[5, 0], [0, 0]]), np.array([[7, 0], [3, 4]]))
    assert np.isnan(result.p_value).all()  # one class only; empty first sample


# --------------------------------------------------------------------------- robust z


def test_robust_z_uses_mad_then_mean_ad():
    z = robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))  # median 3, MAD 1
    assert z.tolist() == pytest.approx([(x - 3) / MAD_SCALE for x in (1, 2, 3, 4, 100)])
    z = robust_z(np.array([5.0, 5.0, 5.0, 5.0, 9.0]))  # MAD 0, mean |dev| 0.8
    assert z[-1] == pytest.approx(4 / (MEAN_AD_SCALE * 0.8))
    assert robust_z(np.full(4, 2.0)).tolist() == [0.0] * 4


@pytest.mark.parametrize("m", [2, 3, 4, 7, 10])
def test_leave_one_out_medians_match_naive(m):
    rng = np.random.default_rng(m)
    values = rng.integers(0, 5, size=(m, 3)).astype(float)  # many ties on purpose
    got = leave_one_out_medians(values)
    for i in range(m):
        others = np.delete(values, i, axis=0)
        assert got[i].tolist() == np.median(others, axis=0).tolist()
    assert np.isnan(leave_one_out_medians(np.ones((1, 2)))).all()
