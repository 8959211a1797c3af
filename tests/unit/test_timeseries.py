"""Time-series statistics against hand computations, naive references and scipy/ruptures."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import ruptures
from scipy import stats

from bizlogic.mining.timeseries import (
    DAY,
    HOUR,
    PENALTY_FACTOR,
    WEEK,
    change_point_penalty,
    choose_bin,
    make_grid,
    mann_kendall,
    mann_kendall_s,
    mann_kendall_variance,
    noise_sigma,
    pelt_l2,
    poisson_p_values,
    robust_z,
    sens_slope,
    two_proportion_test,
    weekly_test,
)

MONDAY_2026_03_02 = 1_772_409_600  # 2026-03-02T00:00:00Z


def _naive_mann_kendall(x: list[float]) -> tuple[int, float, float]:
    """S, tie-corrected Var(S) and the continuity-corrected two-sided p, by the textbook."""
    n = len(x)
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += (x[j] > x[i]) - (x[j] < x[i])
    ties = [t for t in Counter(x).values() if t > 1]
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    z = 0.0 if s == 0 else (s - math.copysign(1, s)) / math.sqrt(var)
    p = 2 * (1 - stats.norm.cdf(abs(z)))
    return s, var, p


def _naive_sen(x: list[float], t: list[float]) -> float:
    slopes = [(x[j] - x[i]) / (t[j] - t[i]) for i in range(len(x)) for j in range(i + 1, len(x))]
    return float(np.median(slopes))


def test_mann_kendall_hand_computed_with_ties():
    # pairs of [1, 2, 2, 3]: five increases and one tie → S = 5; one tie group of 2
    test = mann_kendall(np.array([1.0, 2.0, 2.0, 3.0]))
    assert test.s == 5
    assert test.var_s == pytest.approx((4 * 3 * 13 - 2 * 1 * 9) / 18)
    assert test.z == pytest.approx(4 / math.sqrt(138 / 18))
    assert test.p_value == pytest.approx(2 * stats.norm.sf(4 / math.sqrt(138 / 18)))
    assert test.tau == pytest.approx(5 / math.sqrt(6 * 5))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_mann_kendall_matches_naive_reference_on_tied_series(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=25).astype(float) + 0.2 * np.arange(25) * (seed % 2)
    s, var, p = _naive_mann_kendall(x.tolist())
    test = mann_kendall(x)
    assert test.s == s == mann_kendall_s(x)
    assert test.var_s == pytest.approx(var, rel=1e-12)
    assert mann_kendall_variance(x) == pytest.approx(var, rel=1e-12)
    assert test.p_value == pytest.approx(p, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_tau_and_uncorrected_p_equal_scipy_kendalltau_against_time(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=30) + 0.05 * np.arange(30), 1)  # rounding creates ties
    reference = stats.kendalltau(np.arange(30), x, method="asymptotic")
    test = mann_kendall(x, continuity=False)
    assert test.tau == pytest.approx(reference.statistic, rel=1e-12)
    assert test.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_constant_series_has_no_trend():
    test = mann_kendall(np.full(10, 0.3))
    assert (test.s, test.var_s, test.z, test.p_value, test.tau, test.slope) == (
        0,
        0.0,
        0.0,
        1.0,
        0.0,
        0.0,
    )


def test_sens_slope_hand_computed():
    # slopes of [1, 3, 2, 5]: 2, 0.5, 4/3, -1, 1, 3 → median (1 + 4/3) / 2
    slope, intercept = sens_slope(np.array([1.0, 3.0, 2.0, 5.0]))
    assert slope == pytest.approx(7 / 6)
    # residuals 1, 3 - 7/6, 2 - 14/6, 5 - 21/6 → median of (-1/3, 1, 3/2, 11/6) = 5/4
    assert intercept == pytest.approx(1.25)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sens_slope_with_gaps_matches_naive_and_scipy(seed):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.choice(60, size=20, replace=False)).astype(float)
    x = np.round(0.3 * t + rng.normal(size=20), 1)
    slope, _ = sens_slope(x, t)
    assert slope == pytest.approx(_naive_sen(x.tolist(), t.tolist()), rel=1e-12)
    assert slope == pytest.approx(stats.theilslopes(x, t).slope, rel=1e-12)
    assert mann_kendall(x, t).slope == slope


def test_bin_choice_boundaries():
    assert choose_bin(0) == ("hour", HOUR)
    assert choose_bin(3 * DAY) == ("hour", HOUR)
    assert choose_bin(3 * DAY + 1) == ("day", DAY)
    assert choose_bin(180 * DAY) == ("day", DAY)
    assert choose_bin(180 * DAY + 1) == ("week", WEEK)


def test_grids_are_aligned_in_utc():
    ten = MONDAY_2026_03_02 + 10 * HOUR
    hours = make_grid(np.array([ten + 900, ten + 3 * HOUR]))
    assert (hours.name, hours.start, hours.n_bins) == ("hour", MONDAY_2026_03_02 + 10 * HOUR, 4)
    assert hours.label(0) == "2026-03-02T10:00:00Z"
    days = make_grid(np.array([MONDAY_2026_03_02 + 5, MONDAY_2026_03_02 + 4 * DAY - 1]))
    assert (days.name, days.start, days.n_bins) == ("day", MONDAY_2026_03_02, 4)
    assert days.label(3) == "2026-03-05"
    assert days.weekdays().tolist() == [0, 1, 2, 3]
    # Thursday 2026-03-05 .. 200 days later: weeks start on Monday 2026-03-02
    weeks = make_grid(np.array([MONDAY_2026_03_02 + 3 * DAY, MONDAY_2026_03_02 + 203 * DAY]))
    assert (weeks.name, weeks.start, weeks.label(0), weeks.n_bins) == (
        "week",
        MONDAY_2026_03_02,
        "2026-03-02",
        30,
    )
    assert weeks.index(np.array([MONDAY_2026_03_02 + 7 * DAY - 1])).tolist() == [0]


def test_robust_z_hand_computed_and_mean_ad_fallback():
    # median 3, absolute deviations 2, 1, 0, 1, 7 → MAD 1
    z = robust_z(np.array([1.0, 2.0, 3.0, 4.0, 10.0]))
    assert z.tolist() == pytest.approx([-1.349, -0.6745, 0.0, 0.6745, 4.7215])
    # MAD 0 (most values equal): mean absolute deviation 10/5 = 2, scaled by sqrt(pi/2)
    z = robust_z(np.array([5.0, 5.0, 5.0, 5.0, 15.0]))
    assert z.tolist() == pytest.approx([0, 0, 0, 0, 10 / (math.sqrt(math.pi / 2) * 2)], rel=1e-6)
    assert robust_z(np.full(6, 2.0)) is None


def test_noise_sigma_and_penalty_hand_computed():
    x = np.array([0.0, 1.0, 0.0, 1.0, 5.0, 6.0, 5.0])
    # differences 1, -1, 1, 4, 1, -1 → median 1, |d - 1| = 0, 2, 0, 3, 0, 2 → MAD 1
    assert noise_sigma(x) == pytest.approx(1.4826 / math.sqrt(2))
    sigma, penalty = change_point_penalty(x)
    assert penalty == pytest.approx(PENALTY_FACTOR * sigma**2 * math.log(7))
    # MAD 0 falls back to the standard deviation of the differences
    y = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    assert noise_sigma(y) == pytest.approx(np.std(np.diff(y)) / math.sqrt(2))
    assert noise_sigma(np.full(5, 0.4)) == 0.0


def _brute_force_segmentation(x: np.ndarray, penalty: float, min_size: int) -> tuple[float, list]:
    n = x.size
    best = (math.inf, [])
    for k in range(n):
        for points in itertools.combinations(range(1, n), k):
            bounds = [0, *points, n]
            if any(b - a < min_size for a, b in itertools.pairwise(bounds)):
                continue
            cost = sum(((x[a:b] - x[a:b].mean()) ** 2).sum() for a, b in itertools.pairwise(bounds))
            cost += penalty * k
            if cost < best[0]:
                best = (cost, list(points))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_pelt_finds_the_exact_optimum(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=13) + np.repeat(rng.normal(scale=2.0, size=3), [4, 5, 4])
    min_size = 2 + seed % 2
    penalty = [0.5, 2.0, 6.0][seed % 3]
    _, expected = _brute_force_segmentation(x, penalty, min_size)
    assert pelt_l2(x, penalty, min_size) == expected


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_pelt_agrees_with_ruptures(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate(
        [rng.normal(0.2, 0.03, 40), rng.normal(0.35, 0.03, 30), rng.normal(0.25, 0.03, 50)]
    )
    _, penalty = change_point_penalty(x)
    reference = ruptures.Pelt(model="l2", min_size=7, jump=1).fit(x).predict(pen=penalty)[:-1]
    found = pelt_l2(x, penalty, 7)
    assert found == reference
    assert len(found) == 2 and abs(found[0] - 40) <= 2 and abs(found[1] - 70) <= 2


def test_pelt_needs_two_minimum_segments():
    assert pelt_l2(np.array([0.0, 0.0, 1.0, 1.0, 1.0]), 0.01, 3) == []


def test_two_proportion_test_equals_chi_square_without_correction():
    z, p = two_proportion_test(
        np.array([18, 5]), np.array([100, 40]), np.array([41, 9]), np.array([100, 60])
    )
    for i, table in enumerate(([[18, 82], [41, 59]], [[5, 35], [9, 51]])):
        chi2, p_ref, _, _ = stats.chi2_contingency(table, correction=False)
        assert z[i] ** 2 == pytest.approx(chi2, rel=1e-12)
        assert p[i] == pytest.approx(p_ref, rel=1e-9)
    assert z[0] == pytest.approx(0.23 / math.sqrt(0.295 * 0.705 * 0.02))
    z, p = two_proportion_test(np.array([0]), np.array([10]), np.array([0]), np.array([12]))
    assert (z[0], p[0]) == (0.0, 1.0)


def _poisson_cdf(c: int, mu: float) -> float:
    return sum(math.exp(-mu) * mu**k / math.factorial(k) for k in range(c + 1))


def test_poisson_p_values_match_summed_probabilities():
    counts, expected = np.array([3, 10, 40, 0]), np.array([10.0, 10.0, 20.0, 2.0])
    p = poisson_p_values(counts, expected)
    for i, (c, mu) in enumerate(zip(counts.tolist(), expected.tolist(), strict=True)):
        lower = _poisson_cdf(c, mu)
        upper = 1.0 - (_poisson_cdf(c - 1, mu) if c > 0 else 0.0)
        assert p[i] == pytest.approx(min(1.0, 2 * min(lower, upper)), rel=1e-9)
    assert p[1] == 1.0  # both tails of 10 vs 10 exceed one half → capped at 1


def _naive_weekly_residuals(v: list[int], weekday: np.ndarray) -> list[list[int]]:
    """Residuals from the centred 7-day mean, times 7 so integer counts stay exact."""
    groups = [[] for _ in range(7)]
    for i in range(3, len(v) - 3):
        groups[weekday[i]].append(7 * v[i] - sum(v[i - 3 : i + 4]))
    return groups


def test_weekly_test_matches_kruskal_on_naive_residuals():
    rng = np.random.default_rng(3)
    weekday = (np.arange(35) + 2) % 7
    profile = np.array([1.2, 1.1, 1.0, 1.0, 1.1, 0.5, 0.4])
    v = rng.poisson(100 * profile[weekday]).astype(float)
    test = weekly_test(v, weekday)
    groups = _naive_weekly_residuals([int(c) for c in v], weekday)
    h, p = stats.kruskal(*groups)
    assert (test.h, test.p_value) == pytest.approx((h, p), rel=1e-12)
    means = [sum(g) / len(g) / 7 for g in groups]
    assert test.effect.tolist() == pytest.approx([m - sum(means) / 7 for m in means])
    assert test.n_days == 35
    assert int(np.argmin(test.index)) == 6 and int(np.argmax(test.index)) == 0
    assert test.index.mean() == pytest.approx(1.0)
    assert test.effect.sum() == pytest.approx(0.0, abs=1e-9)
    assert test.mean_volume[5] == pytest.approx(v[weekday == 5].mean())
    with pytest.raises(ValueError):
        weekly_test(v[:20], weekday[:20])
