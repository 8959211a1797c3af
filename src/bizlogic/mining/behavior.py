"""user_behavior: how each annotator works, how well they agree, and who stands out.

Per annotator: volume, active days, median lead time, class distribution
against everyone else, drift between the first and second half of their own
work, agreement with the leave-one-out majority on shared tasks and Cohen's
kappa with each frequent partner; overall Fleiss' kappa. Outliers (too fast,
label-skewed, drifting, low agreement) become patterns and behavioural rules
(``annotator = a → sentiment = v``); mining/insights/behavior.py words them as
insights. Every threshold is a module constant explained in docs/mining-behavior.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bizlogic.mining.agreement import (
    AGREE,
    DISAGREE,
    TIE,
    PairKappas,
    TwoRowTest,
    fleiss_kappa_groups,
    leave_one_out_medians,
    loo_majority_outcomes,
    pair_kappas,
    robust_z,
    two_row_tests,
    within_task_pairs,
)
from bizlogic.mining.algorithm import algorithm
from bizlogic.mining.insights.common import pct
from bizlogic.mining.measures import association_p_values, benjamini_hochberg, rule_measures
from bizlogic.mining.model import AlgorithmOutput, Condition, MiningParams, Pattern, Rule
from bizlogic.mining.rulebuild import build_rules, rank_rules
from bizlogic.records.dataset import NAT, Categorical, Dataset
from bizlogic.records.schema import format_timestamp

NAME = "user_behavior"
CLASS_COLUMNS = ("sentiment", "label")
REASONS = ("too_fast", "label_skewed", "drifting", "low_agreement")
# Effect-size floors: a flag needs q <= max_fdr AND an effect a reviewer would care about.
SKEW_MIN_DIFF = 0.15  # max |share(annotator) − share(typical annotator)| over classes
DRIFT_MIN_DIFF = 0.15  # max |share(second half) − share(first half)| over classes
LOW_AGREEMENT_GAP = 0.15  # agreement rate of the rest − the annotator's
# Each half of an annotator's timeline needs this many records (and min_support).
MIN_DRIFT_RECORDS = 20
# Cohen's kappa only for pairs that rated at least this many tasks in common.
MIN_SHARED_TASKS = 20
# Too fast: robust z of log(1 + median lead time) at most FAST_MAX_Z and a
# median at most FAST_MAX_RATIO of the typical annotator's, among at least
# MIN_SPEED_ANNOTATORS annotators with min_support timed records each.
FAST_MAX_Z = -3.5
FAST_MAX_RATIO = 0.5
MIN_SPEED_ANNOTATORS = 5
MIN_RULE_LIFT = 1.2
MAX_PAIRS_LISTED = 500
_DAY = 86_400


def _num(value: float) -> float | None:
    """JSON-friendly float: nan (undefined) becomes None."""
    value = float(value)
    return None if np.isnan(value) else value


def _iso(epoch: int) -> str | None:
    if epoch == NAT:
        return None
    return format_timestamp(datetime.fromtimestamp(int(epoch), tz=UTC))


def _shares(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=-1, keepdims=True)
    return counts / np.where(totals > 0, totals, 1)


# --------------------------------------------------------------------------- activity


@dataclass(frozen=True)
class Activity:
    records: np.ndarray  # (A,) records per annotator
    active_days: np.ndarray  # distinct UTC dates with at least one record
    first_seen: np.ndarray  # epoch seconds, NAT when no timestamp
    last_seen: np.ndarray
    lead_n: np.ndarray  # records with a lead time
    lead_median: np.ndarray  # nan when none


def _group_medians(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group via one lexsort (no Python loop over groups)."""
    order = np.lexsort((values, groups))
    ordered = values[order]
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    medians = np.full(n_groups, np.nan)
    ok = counts > 0
    low = starts[ok] + (counts[ok] - 1) // 2
    high = starts[ok] + counts[ok] // 2
    medians[ok] = (ordered[low] + ordered[high]) / 2.0
    return medians


def _activity(data: Dataset) -> Activity:
    codes = data.annotator.codes
    n_ann = len(data.annotator.categories)
    has = codes >= 0
    timed = has & (data.created_at != NAT)
    when, who = data.created_at[timed], codes[timed].astype(np.int64)
    active = np.zeros(n_ann, dtype=np.int64)
    first = np.full(n_ann, np.iinfo(np.int64).max)
    last = np.full(n_ann, NAT)
    if when.size:
        days = when // _DAY  # floor division: UTC calendar date
        span = int(days.max() - days.min()) + 1
        keys = np.unique(who * span + (days - days.min()))
        active = np.bincount(keys // span, minlength=n_ann)
        np.minimum.at(first, who, when)
        np.maximum.at(last, who, when)
    first[first == np.iinfo(np.int64).max] = NAT
    lead = has & ~np.isnan(data.lead_time)
    return Activity(
        records=np.bincount(codes[has], minlength=n_ann),
        active_days=active,
        first_seen=first,
        last_seen=last,
        lead_n=np.bincount(codes[lead], minlength=n_ann),
        lead_median=_group_medians(codes[lead], data.lead_time[lead], n_ann),
    )


@dataclass(frozen=True)
class Speed:
    z: np.ndarray  # robust z of log1p(median lead time); nan when not compared
    pool_median: float | None  # median of the compared annotators' medians (seconds)
    fast: np.ndarray  # (A,) bool


def _speed(activity: Activity, params: MiningParams) -> Speed:
    n_ann = activity.records.shape[0]
    z = np.full(n_ann, np.nan)
    eligible = (activity.lead_n >= params.min_support) & ~np.isnan(activity.lead_median)
    if eligible.sum() < MIN_SPEED_ANNOTATORS:
        return Speed(z, None, np.zeros(n_ann, dtype=bool))
    medians = activity.lead_median[eligible]
    z[eligible] = robust_z(np.log1p(medians))
    pool = float(np.median(medians))
    fast = eligible & (z <= FAST_MAX_Z) & (activity.lead_median <= FAST_MAX_RATIO * pool)
    return Speed(z, pool, np.where(np.isnan(z), False, fast))


# --------------------------------------------------------------------------- distributions


@dataclass
class TwoSample:
    """An annotator-level comparison of two count tables (annotator vs rest, or halves)."""

    top: np.ndarray  # (A, K)
    bottom: np.ndarray  # (A, K)
    test: TwoRowTest
    tested: np.ndarray  # (A,) bool
    reference: np.ndarray  # (A, K) shares the effect is measured against
    diff: np.ndarray  # (A, K) compared shares − reference
    q: np.ndarray  # (A,) nan when untested

    @property
    def max_diff(self) -> np.ndarray:
        return np.abs(self.diff).max(axis=1) if self.diff.shape[1] else np.zeros(self.diff.shape[0])


def _two_sample(
    top: np.ndarray,
    bottom: np.ndarray,
    eligible: np.ndarray,
    compared: np.ndarray,
    reference: np.ndarray,
) -> TwoSample:
    test = two_row_tests(top, bottom)
    tested = eligible & ~np.isnan(test.p_value)
    return TwoSample(
        top, bottom, test, tested, reference, compared - reference, np.full(top.shape[0], np.nan)
    )


def _typical_shares(shares: np.ndarray, eligible: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Per class, the median share among the *other* eligible annotators.

    A robust reference for the effect size: one strongly skewed annotator
    shifts the pooled "rest" distribution and could make honest annotators
    look skewed; it barely moves the median annotator. With fewer than three
    eligible annotators the pooled rest shares are used instead.
    """
    if eligible.sum() < 3:
        return _shares(rest)
    typical = np.broadcast_to(np.median(shares[eligible], axis=0), shares.shape).copy()
    typical[eligible] = leave_one_out_medians(shares[eligible])
    return typical


def _distribution(annotator: np.ndarray, column: Categorical, n_ann: int, min_n: int) -> TwoSample:
    """Annotator's class counts against everyone else's (rows without an annotator excluded)."""
    k = len(column.categories)
    present = (annotator >= 0) & (column.codes >= 0)
    key = annotator[present].astype(np.int64) * k + column.codes[present]
    counts = np.bincount(key, minlength=n_ann * k).reshape(n_ann, k)
    rest = counts.sum(axis=0) - counts
    eligible = counts.sum(axis=1) >= min_n
    shares = _shares(counts)
    return _two_sample(counts, rest, eligible, shares, _typical_shares(shares, eligible, rest))


@dataclass
class Drift:
    sample: TwoSample  # top = first half, bottom = standardised second half; diff = drift
    split_at: np.ndarray  # (A,) epoch of the first record of the second half
    second_raw: np.ndarray  # (A, K) second-half counts as observed


def _expected_by_half(
    who: np.ndarray, days: np.ndarray, cls: np.ndarray, second: np.ndarray, n_ann: int, k: int
) -> np.ndarray:
    """(2A, K) expected class counts per annotator half from the *other* annotators' same days.

    Each record contributes the class shares of everybody else's records on
    its UTC day (the annotator's overall "others" shares when nobody else
    worked that day), so a change that hits the whole project at once is
    expected, not attributed to the annotator.
    """
    n_days = int(days.max()) + 1
    day_counts = np.bincount(days * k + cls, minlength=n_days * k).reshape(n_days, k)
    pair, inverse = np.unique(who * n_days + days, return_inverse=True)
    own = np.bincount(inverse * k + cls, minlength=pair.size * k).reshape(pair.size, k)
    others = day_counts[pair % n_days] - own
    totals = others.sum(axis=1, keepdims=True)
    per_annotator = np.bincount(who * k + cls, minlength=n_ann * k).reshape(n_ann, k)
    fallback = _shares(per_annotator.sum(axis=0) - per_annotator)[pair // n_days]
    shares = np.where(totals > 0, others / np.maximum(totals, 1), fallback)
    half_key = who * 2 + second
    return np.column_stack(
        [np.bincount(half_key, weights=shares[inverse, j], minlength=2 * n_ann) for j in range(k)]
    ).reshape(n_ann, 2, k)


def _drift(data: Dataset, column: Categorical, min_n: int) -> Drift:
    """Each annotator's own records in time order, first half vs second half.

    The second half's counts are first standardised to the first half's
    period: multiplied per class by (others' expected share in the first
    half / in the second half), then rescaled to the same total. What remains
    is the annotator's own drift, not a project-wide shift they lived through.
    """
    a, c, k = data.annotator.codes, column.codes, len(column.categories)
    n_ann = len(data.annotator.categories)
    rows = np.flatnonzero((a >= 0) & (c >= 0) & (data.created_at != NAT))
    rows = rows[np.lexsort((data.created_at[rows], a[rows]))]  # stable: ties keep row order
    who = a[rows].astype(np.int64)
    counts = np.bincount(who, minlength=n_ann)
    starts = np.cumsum(counts) - counts
    half = counts // 2
    early = (np.arange(rows.shape[0]) - starts[who]) < half[who]
    key = who * k + c[rows]
    first = np.bincount(key[early], minlength=n_ann * k).reshape(n_ann, k)
    second = np.bincount(key[~early], minlength=n_ann * k).reshape(n_ann, k)
    split = np.full(n_ann, NAT)
    has = counts >= 2
    split[has] = data.created_at[rows[starts[has] + half[has]]]
    eligible = counts >= 2 * max(MIN_DRIFT_RECORDS, min_n)
    raw = second
    if rows.size:
        days = data.created_at[rows] // _DAY
        expected = _expected_by_half(
            who, days - days.min(), c[rows].astype(np.int64), (~early).astype(np.int64), n_ann, k
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = _shares(expected[:, 0]) / _shares(expected[:, 1])
        ratio = np.where(np.isfinite(ratio), ratio, 1.0)
        adjusted = second * ratio
        totals = adjusted.sum(axis=1, keepdims=True)
        second = np.where(
            totals > 0,
            np.round(
                adjusted * second.sum(axis=1, keepdims=True) / np.where(totals > 0, totals, 1.0)
            ),
            second,
        ).astype(np.int64)
    return Drift(_two_sample(first, second, eligible, _shares(second), _shares(first)), split, raw)


# --------------------------------------------------------------------------- agreement


@dataclass
class Agreement:
    tasks_multi: int  # tasks with >= 2 distinct annotators giving this column
    judged: np.ndarray  # (A,) ratings compared with a leave-one-out majority
    agreed: np.ndarray
    ties: np.ndarray  # ratings skipped because the others were tied
    tested: np.ndarray
    p: np.ndarray
    q: np.ndarray
    pairs: PairKappas
    fleiss: float | None
    fleiss_tasks: int
    fleiss_raters: int | None

    @property
    def rate(self) -> np.ndarray:
        return np.where(self.judged > 0, self.agreed / np.maximum(self.judged, 1), np.nan)

    @property
    def rest_rate(self) -> np.ndarray:
        others = self.judged.sum() - self.judged
        agreed = self.agreed.sum() - self.agreed
        return np.where(others > 0, agreed / np.maximum(others, 1), np.nan)


def _latest_per_task_rater(data: Dataset, rows: np.ndarray) -> np.ndarray:
    """One row per (task, annotator): the latest by created_at (missing = oldest), then by row."""
    if rows.size == 0:
        return rows
    n_ann = len(data.annotator.categories)
    key = data.task.codes[rows].astype(np.int64) * n_ann + data.annotator.codes[rows]
    order = np.lexsort((data.created_at[rows], key))  # stable: equal times keep row order
    ordered = key[order]
    last = np.r_[ordered[1:] != ordered[:-1], True]
    return rows[order[last]]


def _fleiss(task: np.ndarray, code: np.ndarray, k: int) -> tuple[float | None, int, int | None]:
    """Fleiss' kappa over the tasks rated by the modal number (>= 2) of annotators."""
    _, inverse, raters = np.unique(task, return_inverse=True, return_counts=True)
    multi = raters[raters >= 2]
    if multi.size == 0:
        return None, 0, None
    modal = int(np.argmax(np.bincount(multi)))  # smallest rater count on ties
    keep = raters[inverse] == modal
    subject = np.unique(task[keep], return_inverse=True)[1]
    cells, count = np.unique(subject.astype(np.int64) * k + code[keep], return_counts=True)
    n_subjects = int((raters == modal).sum())
    kappa = fleiss_kappa_groups(cells // k, cells % k, count, n_subjects, modal, k)
    return kappa, n_subjects, modal


def _agreement(data: Dataset, column: Categorical, min_n: int) -> Agreement:
    n_ann, k = len(data.annotator.categories), len(column.categories)
    usable = (data.task.codes >= 0) & (data.annotator.codes >= 0) & (column.codes >= 0)
    rows = np.flatnonzero(usable)
    rows = _latest_per_task_rater(data, rows)
    task, who, code = data.task.codes[rows], data.annotator.codes[rows], column.codes[rows]
    outcome = loo_majority_outcomes(task, code)
    judged = np.bincount(who[(outcome == AGREE) | (outcome == DISAGREE)], minlength=n_ann)
    agreed = np.bincount(who[outcome == AGREE], minlength=n_ann)
    ties = np.bincount(who[outcome == TIE], minlength=n_ann)
    left, right = within_task_pairs(task, who)
    pairs = pair_kappas(who[left], who[right], code[left], code[right], n_ann, k, MIN_SHARED_TASKS)
    fleiss, fleiss_tasks, fleiss_raters = _fleiss(task, code, k)
    raters = np.bincount(task, minlength=len(data.task.categories))
    # One-sided test that this annotator disagrees more often than everyone else.
    total, disagreed = judged.sum(), judged - agreed
    tested = (judged >= min_n) & (total - judged > 0)
    p = np.full(n_ann, np.nan)
    if tested.any():
        p[tested] = association_p_values(total, judged[tested], disagreed.sum(), disagreed[tested])
    return Agreement(
        int((raters >= 2).sum()),
        judged,
        agreed,
        ties,
        tested,
        p,
        np.full(n_ann, np.nan),
        pairs,
        fleiss,
        fleiss_tasks,
        fleiss_raters,
    )


# --------------------------------------------------------------------------- per column


@dataclass
class ColumnResult:
    name: str
    categories: tuple[str, ...]
    distribution: TwoSample
    drift: Drift
    agreement: Agreement

    def skewed(self, params: MiningParams) -> np.ndarray:
        d = self.distribution
        return d.tested & (d.q <= params.max_fdr) & (d.max_diff >= SKEW_MIN_DIFF)

    def drifting(self, params: MiningParams) -> np.ndarray:
        d = self.drift.sample
        return d.tested & (d.q <= params.max_fdr) & (d.max_diff >= DRIFT_MIN_DIFF)

    def low_agreement(self, params: MiningParams) -> np.ndarray:
        g = self.agreement
        gap = np.nan_to_num(g.rest_rate - g.rate, nan=-1.0)
        return g.tested & (g.q <= params.max_fdr) & (gap >= LOW_AGREEMENT_GAP)


def _analysed_columns(data: Dataset) -> list[str]:
    """sentiment, and label when any record carries one."""
    return [name for name in CLASS_COLUMNS if (data.class_column(name).codes >= 0).any()]


def _adjust(values: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """BH over every tested entry of several (p, tested) arrays at once; nan where untested."""
    pooled = np.concatenate([p[t] for p, t in values]) if values else np.empty(0)
    q_all = benjamini_hochberg(pooled)
    out, start = [], 0
    for p, tested in values:
        q = np.full(p.shape[0], np.nan)
        q[tested] = q_all[start : start + int(tested.sum())]
        start += int(tested.sum())
        out.append(q)
    return out


def _columns(data: Dataset, params: MiningParams) -> list[ColumnResult]:
    n_ann = len(data.annotator.categories)
    results = []
    for name in _analysed_columns(data):
        column = data.class_column(name)
        results.append(
            ColumnResult(
                name,
                column.categories,
                _distribution(data.annotator.codes, column, n_ann, params.min_support),
                _drift(data, column, params.min_support),
                _agreement(data, column, params.min_support),
            )
        )
    # Three BH families, each over all annotators × columns.
    for family in ("distribution", "drift", "agreement"):
        samples = [_family(r, family) for r in results]
        for sample, q in zip(samples, _adjust([_p_tested(s) for s in samples]), strict=True):
            sample.q = q
    return results


def _p_tested(sample: TwoSample | Agreement) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(sample, TwoSample):
        return sample.test.p_value, sample.tested
    return sample.p, sample.tested


def _family(result: ColumnResult, family: str) -> TwoSample | Agreement:
    if family == "distribution":
        return result.distribution
    if family == "drift":
        return result.drift.sample
    return result.agreement


# --------------------------------------------------------------------------- rules


@dataclass
class _Tested:
    """Annotator × value pairs of one column tested on the training rows."""

    result: ColumnResult
    n: int
    annotator: np.ndarray
    value: np.ndarray
    n_a: np.ndarray
    n_c: np.ndarray
    n_ac: np.ndarray
    p: np.ndarray


def _tested_pairs(
    data: Dataset, train_mask: np.ndarray, result: ColumnResult, min_support: int
) -> _Tested:
    """Every value × annotator with >= min_support training records in this column."""
    who = data.annotator.codes[train_mask].astype(np.int64)
    codes = data.class_column(result.name).codes[train_mask]
    n_ann, k = len(data.annotator.categories), len(result.categories)
    present = (who >= 0) & (codes >= 0)
    joint = np.bincount(who[present] * k + codes[present], minlength=n_ann * k).reshape(n_ann, k)
    n_a, n_c = joint.sum(axis=1), joint.sum(axis=0)
    ann, val = np.nonzero((n_a >= min_support)[:, None] & (n_c > 0)[None, :])
    n = int(present.sum())
    p = association_p_values(n, n_a[ann], n_c[val], joint[ann, val])
    return _Tested(result, n, ann, val, n_a[ann], n_c[val], joint[ann, val], p)


def _rules(
    data: Dataset, train_mask: np.ndarray, results: list[ColumnResult], params: MiningParams
) -> tuple[list[Rule], int]:
    """`annotator = a → column = v` for label-skewed a and its most over-used value v."""
    tested = [_tested_pairs(data, train_mask, r, params.min_support) for r in results]
    q_all = benjamini_hochberg(np.concatenate([t.p for t in tested]) if tested else np.empty(0))
    names = data.annotator.categories
    rules: list[Rule] = []
    start = 0
    for t in tested:
        q = q_all[start : start + t.p.shape[0]]
        start += t.p.shape[0]
        skewed = t.result.skewed(params)
        overused = np.argmax(t.result.distribution.diff, axis=1)
        lift = rule_measures(t.n, t.n_a, t.n_c, t.n_ac).lift
        keep = np.flatnonzero(
            skewed[t.annotator]
            & (t.value == overused[t.annotator])
            & (t.n_ac >= params.min_support)
            & (q <= params.max_fdr)
            & (lift >= MIN_RULE_LIFT)
        )
        rules += build_rules(
            NAME,
            "annotator_behavior",
            [(Condition("annotator", "eq", names[t.annotator[i]]),) for i in keep],
            [Condition(t.result.name, "eq", t.result.categories[t.value[i]]) for i in keep],
            t.n,
            t.n_a[keep],
            t.n_c[keep],
            t.n_ac[keep],
            t.p[keep],
            q[keep],
        )
    return rank_rules(rules), start


def is_behavior_rule(rule: Rule) -> bool:
    """``annotator = a → sentiment|label = v``: the shape ``_rules`` produces."""
    return (
        rule.rule_type == "annotator_behavior"
        and len(rule.conditions) == 1
        and rule.conditions[0].field == "annotator"
        and rule.conditions[0].operator == "eq"
        and rule.consequent.field in CLASS_COLUMNS
        and rule.consequent.operator == "eq"
    )


def rule_table(rule: Rule, data: Dataset) -> tuple[int, int, int, int]:
    """(n, n_a, n_c, n_ac) of a behavioural rule on ``data``, counted as it was mined:
    rows with an annotator and a value in the consequent's column."""
    who = data.annotator.codes
    column = data.class_column(rule.consequent.field)
    present = (who >= 0) & (column.codes >= 0)
    is_a = present & (who == data.annotator.code_of(str(rule.conditions[0].value)))
    is_c = present & (column.codes == column.code_of(str(rule.consequent.value)))
    return int(present.sum()), int(is_a.sum()), int(is_c.sum()), int((is_a & is_c).sum())


# --------------------------------------------------------------------------- patterns


def _counts_dict(categories: tuple[str, ...], values: np.ndarray, cast: type) -> dict[str, Any]:
    return {c: cast(v) for c, v in zip(categories, values, strict=True)}


def _test_dict(sample: TwoSample, i: int) -> dict[str, Any]:
    tested = bool(sample.tested[i])
    test = sample.test
    return {
        "test": ("exact" if test.exact[i] else "chi2") if tested else None,
        "statistic": _num(test.statistic[i]) if tested else None,
        "df": int(test.df[i]) if tested else None,
        "p_value": _num(test.p_value[i]) if tested else None,
        "q_value": _num(sample.q[i]),
        "cramers_v": _num(test.cramers_v[i]) if tested else None,
        "max_share_diff": float(sample.max_diff[i]),
    }


def _distribution_dict(r: ColumnResult, i: int) -> dict[str, Any]:
    d, cats = r.distribution, r.categories
    overused = int(np.argmax(d.diff[i])) if cats else None
    return {
        "n": int(d.top[i].sum()),
        "counts": _counts_dict(cats, d.top[i], int),
        "shares": _counts_dict(cats, _shares(d.top[i]), float),
        "rest_shares": _counts_dict(cats, _shares(d.bottom[i]), float),
        "typical_shares": _counts_dict(cats, d.reference[i], float),
        "overused": cats[overused] if overused is not None and d.diff[i, overused] > 0 else None,
        **_test_dict(d, i),
    }


def _drift_dict(r: ColumnResult, i: int) -> dict[str, Any] | None:
    d, cats = r.drift.sample, r.categories
    if int(d.top[i].sum() + d.bottom[i].sum()) < 2:
        return None
    moved = int(np.argmax(np.abs(d.diff[i])))
    return {
        "n": int(d.top[i].sum() + d.bottom[i].sum()),
        "split_at": _iso(int(r.drift.split_at[i])),
        "first_half": _counts_dict(cats, d.top[i], int),
        "second_half": _counts_dict(cats, r.drift.second_raw[i], int),
        "second_half_standardised": _counts_dict(cats, d.bottom[i], int),
        "value": cats[moved],
        "before": float(_shares(d.top[i])[moved]),
        "after": float(_shares(r.drift.second_raw[i])[moved]),
        "after_standardised": float(_shares(d.bottom[i])[moved]),
        **_test_dict(d, i),
    }


def _agreement_dict(
    r: ColumnResult, i: int, kappa_mean: np.ndarray, kappa_pairs: np.ndarray
) -> dict[str, Any]:
    g = r.agreement
    return {
        "judgements": int(g.judged[i]),
        "agreed": int(g.agreed[i]),
        "ties_skipped": int(g.ties[i]),
        "rate": _num(g.rate[i]),
        "rest_rate": _num(g.rest_rate[i]),
        "p_value": _num(g.p[i]),
        "q_value": _num(g.q[i]),
        "kappa_pairs": int(kappa_pairs[i]),
        "mean_pair_kappa": _num(kappa_mean[i]),
    }


def _pair_means(pairs: PairKappas, n_ann: int) -> tuple[np.ndarray, np.ndarray]:
    """Per annotator: mean Cohen kappa over defined partner kappas, and their number."""
    ok = ~np.isnan(pairs.kappa)
    who = np.r_[pairs.rater_a[ok], pairs.rater_b[ok]]
    values = np.r_[pairs.kappa[ok], pairs.kappa[ok]]
    count = np.bincount(who, minlength=n_ann)
    total = np.bincount(who, weights=values, minlength=n_ann)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


@dataclass
class _Context:
    """Everything the pattern builders need, computed once."""

    names: tuple[str, ...]
    activity: Activity
    speed: Speed
    results: list[ColumnResult]
    kappa: list[tuple[np.ndarray, np.ndarray]]
    total_records: int

    def share(self, i: int) -> float:
        return float(self.activity.records[i] / self.total_records) if self.total_records else 0.0


def _profile(ctx: _Context, i: int) -> Pattern:
    act = ctx.activity
    columns = {
        r.name: {
            "distribution": _distribution_dict(r, i),
            "drift": _drift_dict(r, i),
            "agreement": _agreement_dict(r, i, *ctx.kappa[c]),
        }
        for c, r in enumerate(ctx.results)
    }
    median = _num(act.lead_median[i])
    data = {
        "annotator": ctx.names[i],
        "records": int(act.records[i]),
        "share_of_records": ctx.share(i),
        "active_days": int(act.active_days[i]),
        "first_seen": _iso(int(act.first_seen[i])),
        "last_seen": _iso(int(act.last_seen[i])),
        "lead_time_records": int(act.lead_n[i]),
        "median_lead_time": median,
        "lead_time_robust_z": _num(ctx.speed.z[i]),
        "columns": columns,
    }
    speed = "no lead times" if median is None else f"median lead time {median:.1f} s"
    return Pattern(
        NAME,
        "annotator_profile",
        f"{ctx.names[i]}: {data['records']} records on {data['active_days']} active days, {speed}",
        strength=data["share_of_records"],
        data=data,
    )


def _pairs_list(pairs: PairKappas, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Lowest kappas first (undefined last), then by names; at most MAX_PAIRS_LISTED."""
    sort_kappa = np.where(np.isnan(pairs.kappa), np.inf, pairs.kappa)
    order = np.lexsort((pairs.rater_b, pairs.rater_a, sort_kappa))[:MAX_PAIRS_LISTED]
    return [
        {
            "annotators": [names[pairs.rater_a[j]], names[pairs.rater_b[j]]],
            "shared_tasks": int(pairs.shared[j]),
            "observed_agreement": float(pairs.observed[j]),
            "kappa": _num(pairs.kappa[j]),
        }
        for j in order
    ]


def _agreement_pattern(r: ColumnResult, names: tuple[str, ...]) -> Pattern | None:
    g = r.agreement
    judged, agreed = int(g.judged.sum()), int(g.agreed.sum())
    if g.tasks_multi == 0:
        return None
    rates = g.rate[g.judged > 0]
    kappas = g.pairs.kappa[~np.isnan(g.pairs.kappa)]
    data = {
        "column": r.name,
        "tasks_with_multiple_annotators": g.tasks_multi,
        "judgements": judged,
        "agreed": agreed,
        "ties_skipped": int(g.ties.sum()),
        "mean_agreement": agreed / judged if judged else None,
        "mean_annotator_agreement": float(rates.mean()) if rates.size else None,
        "fleiss_kappa": g.fleiss,
        "fleiss_tasks": g.fleiss_tasks,
        "fleiss_raters_per_task": g.fleiss_raters,
        "min_shared_tasks": MIN_SHARED_TASKS,
        "pairs_compared": int(g.pairs.shared.shape[0]),
        "mean_pair_kappa": float(kappas.mean()) if kappas.size else None,
        "pairs": _pairs_list(g.pairs, names),
    }
    data["pairs_listed"] = len(data["pairs"])
    fleiss = "undefined" if g.fleiss is None else f"{g.fleiss:.2f}"
    share = "n/a" if data["mean_agreement"] is None else pct(data["mean_agreement"])
    return Pattern(
        NAME,
        "annotator_agreement",
        f"{r.name}: annotators agree with the majority of the others on {share} of {judged} "
        f"comparable judgements; Fleiss' kappa {fleiss}",
        strength=float(data["mean_agreement"] or 0.0),
        data=data,
    )


def _too_fast(ctx: _Context, i: int) -> dict[str, Any]:
    median, pool = float(ctx.activity.lead_median[i]), float(ctx.speed.pool_median or 0.0)
    ratio = median / pool if pool > 0 else 0.0
    return {
        "reason": "too_fast",
        "column": None,
        "median_lead_time": median,
        "pool_median_lead_time": pool,
        "ratio": ratio,
        "robust_z": float(ctx.speed.z[i]),
        "lead_time_records": int(ctx.activity.lead_n[i]),
        "effect": 1.0 - ratio,
    }


def _skew(r: ColumnResult, i: int) -> dict[str, Any]:
    d = _distribution_dict(r, i)
    value = d["overused"]
    return {
        "reason": "label_skewed",
        "column": r.name,
        "value": value,
        "share": d["shares"][value],
        "rest_share": d["rest_shares"][value],
        "typical_share": d["typical_shares"][value],
        "n": d["n"],
        **{k: d[k] for k in ("test", "p_value", "q_value", "cramers_v")},
        "max_share_diff": d["max_share_diff"],
        "effect": d["max_share_diff"],
    }


def _drifting(r: ColumnResult, i: int) -> dict[str, Any]:
    d = _drift_dict(r, i)
    assert d is not None  # drifting implies a tested drift comparison
    keep = (
        "value",
        "before",
        "after",
        "split_at",
        "n",
        "test",
        "p_value",
        "q_value",
        "max_share_diff",
    )
    return {
        "reason": "drifting",
        "column": r.name,
        **{k: d[k] for k in keep},
        "effect": d["max_share_diff"],
    }


def _low_agreement(r: ColumnResult, i: int) -> dict[str, Any]:
    g = r.agreement
    rate, rest = float(g.rate[i]), float(g.rest_rate[i])
    return {
        "reason": "low_agreement",
        "column": r.name,
        "judgements": int(g.judged[i]),
        "rate": rate,
        "rest_rate": rest,
        "gap": rest - rate,
        "p_value": float(g.p[i]),
        "q_value": float(g.q[i]),
        "effect": rest - rate,
    }


def _findings(ctx: _Context, i: int, params: MiningParams) -> list[dict[str, Any]]:
    found = [_too_fast(ctx, i)] if ctx.speed.fast[i] else []
    checks = (("skewed", _skew), ("drifting", _drifting), ("low_agreement", _low_agreement))
    for method, make in checks:
        found += [make(r, i) for r in ctx.results if getattr(r, method)(params)[i]]
    return found


def _outlier(ctx: _Context, i: int, findings: list[dict[str, Any]]) -> Pattern:
    reasons = [r for r in REASONS if any(f["reason"] == r for f in findings)]
    data = {
        "annotator": ctx.names[i],
        "reasons": reasons,
        "records": int(ctx.activity.records[i]),
        "share_of_records": ctx.share(i),
        "findings": findings,
    }
    return Pattern(
        NAME,
        "annotator_outlier",
        f"{ctx.names[i]} stands out: {', '.join(reasons)}",
        strength=float(min(1.0, max(f["effect"] for f in findings))),
        data=data,
    )


# --------------------------------------------------------------------------- algorithm


def _tasks_with_multiple_annotators(data: Dataset) -> int:
    ok = (data.task.codes >= 0) & (data.annotator.codes >= 0)
    n_ann = max(len(data.annotator.categories), 1)
    keys = np.sort(data.task.codes[ok].astype(np.int64) * n_ann + data.annotator.codes[ok])
    distinct = keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys
    return int((np.bincount(distinct // n_ann) >= 2).sum()) if distinct.size else 0


def _column_stats(r: ColumnResult, params: MiningParams) -> dict[str, Any]:
    g = r.agreement
    return {
        "tasks_with_multiple_annotators": g.tasks_multi,
        "judgements": int(g.judged.sum()),
        "pairs_compared": int(g.pairs.shared.shape[0]),
        "distribution_tests": int(r.distribution.tested.sum()),
        "drift_tests": int(r.drift.sample.tested.sum()),
        "agreement_tests": int(g.tested.sum()),
        "label_skewed": int(r.skewed(params).sum()),
        "drifting": int(r.drifting(params).sum()),
        "low_agreement": int(r.low_agreement(params).sum()),
    }


@algorithm(NAME)
def user_behavior(data: Dataset, train_mask: np.ndarray, params: MiningParams) -> AlgorithmOutput:
    """Profiles, agreement and outliers on all of ``data``; rules on the training rows."""
    names = data.annotator.categories
    activity = _activity(data)
    results = _columns(data, params)
    ctx = _Context(
        names,
        activity,
        _speed(activity, params),
        results,
        [_pair_means(r.agreement.pairs, len(names)) for r in results],
        int(activity.records.sum()),
    )
    present = [
        i for i in np.lexsort((np.arange(len(names)), -activity.records)) if activity.records[i] > 0
    ]
    patterns = [_profile(ctx, int(i)) for i in present]
    patterns += [p for r in results if (p := _agreement_pattern(r, names)) is not None]
    outliers = [(int(i), f) for i in present if (f := _findings(ctx, int(i), params))]
    patterns += [_outlier(ctx, i, f) for i, f in outliers]
    rules, rule_pairs = _rules(data, train_mask, results, params)
    by_column = {r.name: _column_stats(r, params) for r in results}
    return AlgorithmOutput(
        rules=rules,
        patterns=patterns,
        stats={
            "annotators": len(present),
            "records_with_annotator": ctx.total_records,
            "columns": [r.name for r in results],
            "tasks_with_multiple_annotators": _tasks_with_multiple_annotators(data),
            "pairs_compared": sum(s["pairs_compared"] for s in by_column.values()),
            "speed_compared": int((~np.isnan(ctx.speed.z)).sum()),
            "outliers": len(outliers),
            "flags": {
                reason: sum(any(x["reason"] == reason for x in f) for _, f in outliers)
                for reason in REASONS
            },
            "rule_pairs_tested": rule_pairs,
            "rules": len(rules),
            "by_column": by_column,
        },
    )
