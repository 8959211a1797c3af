"""Inter-annotator agreement, two-sample distribution tests and robust z-scores.

Everything works on integer code arrays and is vectorised over annotators,
annotator pairs or tasks, so the ``user_behavior`` algorithm can run it on a
million judgements at once. The textbook single-table functions
(:func:`cohen_kappa`, :func:`fleiss_kappa`) share the arithmetic of the
vectorised ones, so testing them against published examples tests both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

# Cochran's rule: below this expected cell count the chi-square approximation
# is not trusted and the exact per-class test is used instead.
MIN_EXPECTED = 5.0
# Scale factors that make the MAD (resp. mean absolute deviation) estimate the
# standard deviation of a normal distribution (Iglewicz & Hoaglin; IBM's
# modified z-score uses the mean-AD fallback when the MAD is zero).
MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.253314

# Outcomes of the leave-one-out majority comparison.
AGREE, DISAGREE, TIE, ALONE = 1, 0, -1, -2

_UNDEFINED_EPS = 1e-12


# --------------------------------------------------------------------------- kappas


def kappa_from_margins(
    n: np.ndarray, agreed: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Cohen's kappa from ``n`` items, ``agreed`` diagonal counts and (…, K) marginals.

    nan where chance agreement is 1 (both raters always used one and the same
    class): kappa is 0/0 there, not "perfect".
    """
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_o = np.asarray(agreed, dtype=np.float64) / n
        p_e = (np.asarray(rows, np.float64) * np.asarray(cols, np.float64)).sum(axis=-1) / n**2
        kappa = (p_o - p_e) / (1.0 - p_e)
    return np.where((n > 0) & (p_e < 1.0 - _UNDEFINED_EPS), kappa, np.nan)


def cohen_kappa(confusion: np.ndarray) -> float | None:
    """Cohen's kappa of one K×K table (rows rater A, columns rater B); None if undefined."""
    table = np.asarray(confusion, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise ValueError("confusion: expected a square K×K table")
    value = kappa_from_margins(table.sum(), np.trace(table), table.sum(axis=1), table.sum(axis=0))
    return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class PairKappas:
    """One entry per rater pair (rater_a < rater_b) that shares enough items."""

    rater_a: np.ndarray
    rater_b: np.ndarray
    shared: np.ndarray  # items both rated
    observed: np.ndarray  # share of those items with the same class
    kappa: np.ndarray  # nan where undefined


def within_task_pairs(task: np.ndarray, rater: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index pairs (i, j) of different rows on the same task, rater[i] < rater[j].

    Expects at most one row per (task, rater). Works on the rows sorted by
    (task, rater): step ``d`` pairs each row with the row ``d`` places later
    while both still belong to the same task, so the work is proportional to
    the number of pairs.
    """
    order = np.lexsort((rater, task))
    t = task[order]
    n = t.shape[0]
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    sizes = np.diff(np.r_[starts, n])
    size = np.repeat(sizes, sizes)
    rank = np.arange(n) - np.repeat(starts, sizes)
    left, right = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    candidates = np.flatnonzero(size >= 2)
    d = 1
    while candidates.size:
        candidates = candidates[rank[candidates] + d < size[candidates]]
        left.append(order[candidates])
        right.append(order[candidates + d])
        d += 1
    return np.concatenate(left), np.concatenate(right)


def pair_kappas(
    rater_a: np.ndarray,
    rater_b: np.ndarray,
    code_a: np.ndarray,
    code_b: np.ndarray,
    n_raters: int,
    n_classes: int,
    min_shared: int,
) -> PairKappas:
    """Cohen's kappa for every rater pair with at least ``min_shared`` items in common.

    Inputs are one entry per item rated by both raters of the pair. Marginals
    are accumulated with bincount over pair × class, never a dense K×K table
    per pair, so large label sets stay cheap.
    """
    key = rater_a.astype(np.int64) * n_raters + rater_b
    pairs, inverse, shared = np.unique(key, return_inverse=True, return_counts=True)
    keep = shared >= min_shared
    index = np.full(pairs.shape[0], -1, dtype=np.int64)
    index[keep] = np.arange(int(keep.sum()))
    slot = index[inverse]
    used = slot >= 0
    slot, ca, cb = slot[used], code_a[used], code_b[used]
    m = int(keep.sum())
    rows = np.bincount(slot * n_classes + ca, minlength=m * n_classes).reshape(m, n_classes)
    cols = np.bincount(slot * n_classes + cb, minlength=m * n_classes).reshape(m, n_classes)
    agreed = np.bincount(slot[ca == cb], minlength=m)
    n = shared[keep]
    return PairKappas(
        rater_a=pairs[keep] // n_raters,
        rater_b=pairs[keep] % n_raters,
        shared=n,
        observed=agreed / np.maximum(n, 1),
        kappa=kappa_from_margins(n, agreed, rows, cols),
    )


def fleiss_kappa_groups(
    subject: np.ndarray,
    category: np.ndarray,
    count: np.ndarray,
    n_subjects: int,
    n_raters: int,
    n_categories: int,
) -> float | None:
    """Fleiss' kappa from sparse (subject, category, count) cells; every subject has n_raters.

    P_i = (Σ_j n_ij² − n) / (n(n−1)), P̄ = mean P_i, p_j = Σ_i n_ij / (N n),
    P_e = Σ p_j², kappa = (P̄ − P_e) / (1 − P_e); None when P_e = 1 or there
    is nothing to compare.
    """
    if n_subjects == 0 or n_raters < 2:
        return None
    counts = np.asarray(count, dtype=np.float64)
    sum_sq = np.bincount(subject, weights=counts**2, minlength=n_subjects)
    p_i = (sum_sq - n_raters) / (n_raters * (n_raters - 1))
    p_j = np.bincount(category, weights=counts, minlength=n_categories) / (n_subjects * n_raters)
    p_e = float((p_j**2).sum())
    if p_e >= 1.0 - _UNDEFINED_EPS:
        return None
    return float((p_i.mean() - p_e) / (1.0 - p_e))


def fleiss_kappa(table: np.ndarray) -> float | None:
    """Fleiss' kappa of a dense subjects × categories table of rating counts."""
    table = np.asarray(table, dtype=np.int64)
    totals = table.sum(axis=1)
    if table.ndim != 2 or table.shape[0] == 0 or (totals != totals[0]).any():
        raise ValueError("table: every subject must have the same number of ratings")
    subject, category = np.nonzero(table)
    return fleiss_kappa_groups(
        subject, category, table[subject, category], table.shape[0], int(totals[0]), table.shape[1]
    )


# --------------------------------------------------------------------------- majority


def loo_majority_outcomes(task: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Compare each rating with the majority of the *other* ratings of its task.

    Expects one rating per (task, rater). Returns AGREE, DISAGREE, TIE (the
    others' top classes are tied, so there is no majority) or ALONE (nobody
    else rated the task). Instead of building a tasks × classes matrix it uses
    per-task facts about the class counts: the top count m1, how many classes
    reach it, and the largest count below it (m2). Removing one vote of class
    l (count c_l) then leaves a unique majority exactly when:

    * c_l < m1: the others' top is unchanged; unique iff one class reaches m1
      (and it is not l → DISAGREE);
    * c_l = m1 with two top classes: the other top class wins → DISAGREE;
    * c_l = m1 with three or more top classes: a tie remains → TIE;
    * c_l = m1 alone on top: l keeps the majority iff m1 − 1 > m2 → AGREE,
      otherwise l ties with the runner-up → TIE.
    """
    n = task.shape[0]
    outcome = np.full(n, ALONE, dtype=np.int8)
    if n == 0:
        return outcome
    order = np.lexsort((code, task))
    t, c = task[order], code[order]
    new_group = np.r_[True, (t[1:] != t[:-1]) | (c[1:] != c[:-1])]
    group_start = np.flatnonzero(new_group)
    group_size = np.diff(np.r_[group_start, n])
    group_task = t[group_start]
    task_start = np.flatnonzero(np.r_[True, group_task[1:] != group_task[:-1]])
    task_groups = np.diff(np.r_[task_start, group_task.shape[0]])
    m1 = np.maximum.reduceat(group_size, task_start)
    m1_g = np.repeat(m1, task_groups)
    n_top = np.add.reduceat((group_size == m1_g).astype(np.int64), task_start)
    m2 = np.maximum.reduceat(np.where(group_size < m1_g, group_size, 0), task_start)
    raters = np.add.reduceat(group_size, task_start)
    # Broadcast group facts to rows, then task facts to rows.
    row_group = np.cumsum(new_group) - 1
    row_task = np.repeat(np.arange(task_start.shape[0]), task_groups)[row_group]
    c_l, top, ties, second = group_size[row_group], m1[row_task], n_top[row_task], m2[row_task]
    alone_on_top = np.where(top - 1 > second, AGREE, TIE)
    on_top = np.where(ties == 2, DISAGREE, np.where(ties >= 3, TIE, alone_on_top))
    result = np.where(c_l < top, np.where(ties >= 2, TIE, DISAGREE), on_top)
    result = np.where(raters[row_task] >= 2, result, ALONE)
    outcome[order] = result
    return outcome


# --------------------------------------------------------------------------- two-row tests


@dataclass(frozen=True)
class TwoRowTest:
    """Per-row result of comparing two count vectors over the same classes."""

    statistic: np.ndarray  # Pearson chi-square (also reported when the exact test decided)
    df: np.ndarray  # classes present in the pair − 1
    p_value: np.ndarray  # nan where there is nothing to test
    exact: np.ndarray  # True where the exact per-class test was used
    cramers_v: np.ndarray  # sqrt(chi2 / n) for a 2 × K table


def two_row_tests(top: np.ndarray, bottom: np.ndarray) -> TwoRowTest:
    """Test, row by row, whether two samples (R×K counts) share one class distribution.

    Pearson's chi-square test of homogeneity on the 2 × K' table (K' classes
    present in the pair) when every expected count is at least MIN_EXPECTED;
    otherwise an exact test: for each class, Fisher's exact test of "this class
    vs the rest" (hypergeometric, two-sided by doubling the smaller tail),
    combined over the K' classes with Bonferroni (p = min(1, K' · min p_j)).
    """
    top = np.atleast_2d(np.asarray(top, dtype=np.float64))
    bottom = np.atleast_2d(np.asarray(bottom, dtype=np.float64))
    col = top + bottom
    present = col > 0
    n_top, n_bottom = top.sum(axis=1), bottom.sum(axis=1)
    n = n_top + n_bottom
    safe_n = np.where(n > 0, n, 1.0)[:, None]
    e_top, e_bottom = n_top[:, None] * col / safe_n, n_bottom[:, None] * col / safe_n
    with np.errstate(divide="ignore", invalid="ignore"):
        cells = np.where(
            present, (top - e_top) ** 2 / e_top + (bottom - e_bottom) ** 2 / e_bottom, 0.0
        )
    statistic = np.nan_to_num(cells).sum(axis=1)
    df = present.sum(axis=1) - 1
    testable = (df >= 1) & (n_top > 0) & (n_bottom > 0)
    min_expected = np.where(present, np.minimum(e_top, e_bottom), np.inf).min(axis=1)
    exact = testable & (min_expected < MIN_EXPECTED)
    p = np.full(top.shape[0], np.nan)
    chi = testable & ~exact
    p[chi] = stats.chi2.sf(statistic[chi], df[chi])
    if exact.any():
        p[exact] = _exact_per_class(top[exact], col[exact], n_top[exact], n[exact])
    v = np.where(testable, np.sqrt(statistic / safe_n[:, 0]), np.nan)
    return TwoRowTest(statistic, df, p, exact, v)


def _exact_per_class(
    top: np.ndarray, col: np.ndarray, n_top: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """Bonferroni-combined per-class Fisher tests (doubled smaller hypergeometric tail)."""
    big_n = np.broadcast_to(n[:, None], top.shape)
    draws = np.broadcast_to(n_top[:, None], top.shape)
    lower = stats.hypergeom.cdf(top, big_n, col, draws)
    upper = stats.hypergeom.sf(top - 1, big_n, col, draws)
    per_class = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    present = col > 0
    k = present.sum(axis=1)
    smallest = np.where(present, per_class, 1.0).min(axis=1)
    return np.minimum(1.0, k * smallest)


# --------------------------------------------------------------------------- robust location


def leave_one_out_medians(values: np.ndarray) -> np.ndarray:
    """Per row and column, the median of that column over all *other* rows.

    One sort per column: removing the row of rank r from the sorted column
    shifts every later position by one, so the median of the rest is read
    directly from the sorted values; O(m log m) instead of O(m²).
    """
    x = np.asarray(values, dtype=np.float64)
    m = x.shape[0]
    if m < 2:
        return np.full(x.shape, np.nan)
    order = np.argsort(x, axis=0, kind="stable")
    ordered = np.take_along_axis(x, order, axis=0)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(m)[:, None], x.shape), axis=0)

    def at(position: int) -> np.ndarray:
        shifted = np.where(position < rank, position, position + 1)
        return np.take_along_axis(ordered, shifted, axis=0)

    rest = m - 1
    return (at((rest - 1) // 2) + at(rest // 2)) / 2.0


def robust_z(values: np.ndarray) -> np.ndarray:
    """(x − median) / (1.4826 · MAD); falls back to 1.2533 · mean |x − median| when MAD = 0.

    All zeros when the values do not vary at all (nobody stands out).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    centre = np.median(x)
    deviation = np.abs(x - centre)
    scale = MAD_SCALE * np.median(deviation)
    if scale <= 0:
        scale = MEAN_AD_SCALE * deviation.mean()
    if scale <= 0:
        return np.zeros_like(x)
    return (x - centre) / scale
