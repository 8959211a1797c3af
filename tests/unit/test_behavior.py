"""user_behavior: exact figures on hand-made data, planted outliers on seeded synthetic data."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from bizlogic.mining import registry
from bizlogic.mining.behavior import (
    FAST_MAX_RATIO,
    FAST_MAX_Z,
    MIN_SHARED_TASKS,
    NAME,
    user_behavior,
)
from bizlogic.mining.engine import TRAIN, split_parts
from bizlogic.mining.insights.behavior import behavior_insights
from bizlogic.mining.insights.common import impact_score
from bizlogic.mining.measures import association_p_values
from bizlogic.mining.model import Condition, MiningParams
from bizlogic.records.dataset import Dataset, DatasetBuilder, build_dataset
from bizlogic.records.schema import Record

START = datetime(2026, 1, 1, tzinfo=UTC)
SENTIMENTS = ("negative", "neutral", "positive")
BIASED, FAST, DRIFTER = "ann00", "ann01", "ann02"
DAY = 86_400


def _build(records: list[Record]) -> Dataset:
    return DatasetBuilder().extend(records).build()


def _patterns(out, kind):
    return [p for p in out.patterns if p.pattern_type == kind]


def _profile(out, annotator):
    return next(p for p in _patterns(out, "annotator_profile") if p.data["annotator"] == annotator)


# --------------------------------------------------------------------------- hand-made


def _rec(i, annotator, task, sentiment, hours=0.0, lead=None, label=None):
    return Record(
        id=f"h{i:03d}",
        text="x",
        keywords=["x"],
        annotator=annotator,
        task_id=task,
        sentiment=sentiment,
        label=label,
        lead_time=lead,
        created_at=START + timedelta(hours=hours),
    )


def _tiny() -> list[Record]:
    rows = [
        ("A", "t1", "positive", 1),
        ("B", "t1", "positive", 1),
        ("C", "t1", "negative", 1),
        (None, "t1", "negative", 1),  # no annotator: ignored
        ("A", "t2", "positive", 0),
        ("A", "t2", "negative", 5),  # A's later answer wins
        ("B", "t2", "negative", 2),
        ("A", "t3", "positive", 30),
        ("C", "t3", "neutral", 30),
        ("A", "t4", "positive", 50),
        ("B", "t4", "positive", 50),
        ("C", "t4", "positive", 50),
        ("B", "t5", "negative", 60),
        ("A", "t6", "neutral", 80),
        ("B", "t6", "positive", 80),
        ("C", "t6", "negative", 80),
        ("D", "t6", "neutral", 80),
        ("A", None, "positive", 90),  # no task: counted in the profile, not in agreement
    ]
    return [_rec(i, a, t, s, h, lead=10.0 + i) for i, (a, t, s, h) in enumerate(rows)]


def test_majority_agreement_on_hand_made_tasks():
    data = _build(_tiny())
    out = user_behavior(data, np.ones(len(data), bool), MiningParams(min_support=1))
    # A: t1 tie, t2 agree, t3 disagree, t4 agree, t6 tie.  B: t1 tie, t2 agree, t4 agree,
    # t6 disagree.  C: t1 disagree, t3 disagree, t4 agree, t6 disagree.  D: t6 tie.
    expected = {"A": (3, 2, 2), "B": (3, 2, 1), "C": (4, 1, 0), "D": (0, 0, 1)}
    for annotator, (judged, agreed, ties) in expected.items():
        g = _profile(out, annotator).data["columns"]["sentiment"]["agreement"]
        assert (g["judgements"], g["agreed"], g["ties_skipped"]) == (judged, agreed, ties)
    a = _profile(out, "A").data["columns"]["sentiment"]["agreement"]
    assert a["rate"] == pytest.approx(2 / 3)
    assert a["rest_rate"] == pytest.approx((5 - 2) / (10 - 3))
    assert _profile(out, "D").data["columns"]["sentiment"]["agreement"]["rate"] is None

    (overall,) = _patterns(out, "annotator_agreement")
    assert overall.data["tasks_with_multiple_annotators"] == 5
    assert (overall.data["judgements"], overall.data["agreed"]) == (10, 5)
    assert overall.data["mean_agreement"] == pytest.approx(0.5)
    # Modal raters per task: 2 (t2, t3) ties with 3 (t1, t4); the smaller wins.
    # t2 = (neg, neg), t3 = (pos, neu): P̄ = 0.5, P_e = 0.5² + 0.25² + 0.25² = 0.375.
    assert (overall.data["fleiss_raters_per_task"], overall.data["fleiss_tasks"]) == (2, 2)
    assert overall.data["fleiss_kappa"] == pytest.approx((0.5 - 0.375) / (1 - 0.375))
    assert overall.data["pairs_compared"] == 0  # nobody shares MIN_SHARED_TASKS tasks
    assert out.stats["tasks_with_multiple_annotators"] == 5
    assert out.stats["annotators"] == 4


def test_profile_activity_on_hand_made_data():
    data = _build(_tiny())
    out = user_behavior(data, np.ones(len(data), bool), MiningParams(min_support=1))
    a = _profile(out, "A").data
    # A's records: rows 0, 4, 5, 7, 9, 13, 17 at hours 1, 0, 5, 30, 50, 80, 90.
    assert a["records"] == 7
    assert a["active_days"] == 4  # days 0 (h 0–5), 1 (h 30), 2 (h 50), 3 (h 80, 90)
    assert a["median_lead_time"] == 10.0 + 7  # leads 10,14,15,17,19,23,27
    assert a["first_seen"] == "2026-01-01T00:00:00Z"
    assert a["last_seen"] == "2026-01-04T18:00:00Z"
    assert a["share_of_records"] == pytest.approx(7 / 17)
    dist = a["columns"]["sentiment"]["distribution"]
    assert dist["counts"] == {"negative": 1, "neutral": 1, "positive": 5}
    assert dist["rest_shares"]["negative"] == pytest.approx(4 / 10)  # B, C, D rows only
    assert dist["test"] == "exact"  # small counts
    assert a["lead_time_robust_z"] is None  # fewer than 5 annotators: no speed comparison


def test_speed_needs_five_annotators():
    def records(n_annotators: int) -> list[Record]:
        out = []
        for i in range(10 * n_annotators):
            a = i // 10
            lead = 1.0 if a == 0 else 40.0 + a  # annotator 0 is 40× faster
            out.append(_rec(i, f"w{a}", f"t{i}", "positive", lead=lead))
        return out

    four = _build(records(4))
    out = user_behavior(four, np.ones(len(four), bool), MiningParams(min_support=5))
    assert out.stats["speed_compared"] == 0 and _patterns(out, "annotator_outlier") == []
    five = _build(records(5))
    out = user_behavior(five, np.ones(len(five), bool), MiningParams(min_support=5))
    assert out.stats["speed_compared"] == 5
    (outlier,) = _patterns(out, "annotator_outlier")
    assert outlier.data["annotator"] == "w0" and outlier.data["reasons"] == ["too_fast"]
    # Medians 1, 41, 42, 43, 44 s: MAD of log1p is tiny, so z is far below FAST_MAX_Z.
    logs = np.log1p([1.0, 41.0, 42.0, 43.0, 44.0])
    mad = np.median(np.abs(logs - np.median(logs)))
    assert outlier.data["findings"][0]["robust_z"] == pytest.approx(
        (logs[0] - np.median(logs)) / (1.4826 * mad)
    )


def test_no_annotators_or_no_classes():
    plain = _build([_rec(i, None, "t", "positive") for i in range(5)])
    out = user_behavior(plain, np.ones(5, bool), MiningParams(min_support=5))
    assert out.patterns == [] and out.rules == []
    assert out.stats["annotators"] == 0
    unlabelled = _build([_rec(i, "A", f"t{i}", None) for i in range(5)])
    out = user_behavior(unlabelled, np.ones(5, bool), MiningParams(min_support=5))
    assert out.stats["columns"] == []
    assert [p.pattern_type for p in out.patterns] == ["annotator_profile"]
    assert _profile(out, "A").data["columns"] == {}


def test_output_is_plain_json(seed0):
    data = _build(_tiny())
    tiny = user_behavior(data, np.ones(len(data), bool), MiningParams(min_support=1))
    for out in (tiny, seed0[3]):
        json.dumps([p.to_dict() for p in out.patterns], allow_nan=False)
        json.dumps([r.to_dict() for r in out.rules], allow_nan=False)
        json.dumps(out.stats, allow_nan=False)


def test_registered_under_its_name():
    assert registry.get_algorithm(NAME) is user_behavior
    assert registry.get_insight_maker(NAME) is behavior_insights


# --------------------------------------------------------------------------- synthetic


def _synthetic(seed: int, n_tasks: int = 10_000, n_annotators: int = 20) -> list[Record]:
    """Tasks with 1–3 annotators; ann00 over-uses negative, ann01 is ~10× faster than
    everyone, ann02 over-uses negative in the first 30 days and positive afterwards."""
    rng = np.random.default_rng(seed)
    speed = 40.0 * np.exp(rng.normal(0.0, 0.3, n_annotators))  # honest: ~22–73 s
    speed[1] = 4.0
    sizes = rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25], size=n_tasks)
    truth = rng.choice(3, p=[0.25, 0.35, 0.40], size=n_tasks)
    times = rng.uniform(0, 60 * DAY, n_tasks)
    records = []
    for t in range(n_tasks):
        for r in rng.choice(n_annotators, sizes[t], replace=False):
            label = truth[t] if rng.random() < 0.85 else (truth[t] + rng.integers(1, 3)) % 3
            if r == 0 and rng.random() < 0.45:
                label = 0
            if r == 2 and rng.random() < 0.4:
                label = 0 if times[t] < 30 * DAY else 2
            records.append(
                Record(
                    id=f"r{len(records):06d}",
                    text=f"task {t}",  # copies of a task stay on one side of the split
                    keywords=["x"],
                    sentiment=SENTIMENTS[label],
                    annotator=f"ann{r:02d}",
                    task_id=f"t{t:05d}",
                    lead_time=float(speed[r] * np.exp(rng.normal(0, 0.5))),
                    created_at=START + timedelta(seconds=float(times[t] + rng.uniform(0, 3600))),
                )
            )
    return records


@pytest.fixture(scope="module")
def seed0():
    records = _synthetic(0)
    data = _build(records)
    train = split_parts(data, 0.2) == TRAIN
    return records, data, train, user_behavior(data, train, MiningParams(min_support=5))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_planted_annotators_flagged_and_nobody_else(seed):
    records = _synthetic(seed)
    data = _build(records)
    out = user_behavior(data, split_parts(data, 0.2) == TRAIN, MiningParams(min_support=5))
    flagged = {p.data["annotator"]: p.data["reasons"] for p in _patterns(out, "annotator_outlier")}
    assert set(flagged) == {BIASED, FAST, DRIFTER}
    assert "label_skewed" in flagged[BIASED]
    assert flagged[FAST] == ["too_fast"]
    assert "drifting" in flagged[DRIFTER]
    # Rules exist exactly for the label-skewed annotators and their most over-used value
    # (the drifter is sometimes skewed overall as well, which is a true finding).
    skewed = {
        (p.data["annotator"], f["value"])
        for p in _patterns(out, "annotator_outlier")
        for f in p.data["findings"]
        if f["reason"] == "label_skewed"
    }
    rules = {(r.conditions[0].value, r.consequent.value) for r in out.rules}
    assert (BIASED, "negative") in rules
    assert rules == skewed


def test_profile_numbers_match_direct_computation(seed0):
    records, _data, _train, out = seed0
    for annotator in (BIASED, "ann07"):
        mine = [r for r in records if r.annotator == annotator]
        rest = [r for r in records if r.annotator != annotator]
        profile = _profile(out, annotator).data
        assert profile["records"] == len(mine)
        assert profile["active_days"] == len({r.created_at.date() for r in mine})
        assert profile["median_lead_time"] == pytest.approx(np.median([r.lead_time for r in mine]))
        dist = profile["columns"]["sentiment"]["distribution"]
        table = [[sum(r.sentiment == s for r in g) for s in SENTIMENTS] for g in (mine, rest)]
        assert list(dist["counts"].values()) == table[0]
        others = sorted({r.annotator for r in rest})
        for s in SENTIMENTS:
            shares = [
                sum(r.sentiment == s for r in records if r.annotator == o)
                / sum(r.annotator == o for r in records)
                for o in others
            ]
            assert dist["typical_shares"][s] == pytest.approx(np.median(shares))
        ref = stats.chi2_contingency(np.array(table), correction=False)
        assert dist["test"] == "chi2"
        assert dist["p_value"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
        assert dist["cramers_v"] == pytest.approx(math.sqrt(ref.statistic / len(records)))
        ordered = sorted(mine, key=lambda r: (r.created_at, r.id))
        half = len(ordered) // 2
        drift = profile["columns"]["sentiment"]["drift"]
        assert drift["first_half"] == dict(Counter(r.sentiment for r in ordered[:half]))
        assert drift["second_half"] == dict(Counter(r.sentiment for r in ordered[half:]))
        split = ordered[half].created_at.replace(microsecond=0)
        assert drift["split_at"] == split.isoformat().replace("+00:00", "Z")


def _naive_agreement(records: list[Record]) -> dict[str, tuple[int, int]]:
    by_task: dict[str, dict[str, str]] = {}
    for r in records:
        by_task.setdefault(r.task_id, {})[r.annotator] = r.sentiment
    result: dict[str, list[int]] = {}
    for rated in by_task.values():
        for annotator, value in rated.items():
            others = Counter(v for a, v in rated.items() if a != annotator).most_common()
            if not others or (len(others) > 1 and others[0][1] == others[1][1]):
                continue
            entry = result.setdefault(annotator, [0, 0])
            entry[0] += 1
            entry[1] += others[0][0] == value
    return {a: (j, g) for a, (j, g) in result.items()}


def _naive_pair_kappas(records: list[Record]) -> dict[tuple[str, str], float]:
    by_task: dict[str, dict[str, str]] = {}
    for r in records:
        by_task.setdefault(r.task_id, {})[r.annotator] = r.sentiment
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for rated in by_task.values():
        names = sorted(rated)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                pairs.setdefault((a, b), []).append((rated[a], rated[b]))
    kappas = {}
    for pair, items in pairs.items():
        if len(items) < MIN_SHARED_TASKS:
            continue
        n = len(items)
        p_o = sum(x == y for x, y in items) / n
        left, right = Counter(x for x, _ in items), Counter(y for _, y in items)
        p_e = sum(left[s] * right[s] for s in SENTIMENTS) / n**2
        kappas[pair] = (p_o - p_e) / (1 - p_e)
    return kappas


def test_agreement_and_kappas_match_naive(seed0):
    records, _data, _train, out = seed0
    naive = _naive_agreement(records)
    for profile in _patterns(out, "annotator_profile"):
        g = profile.data["columns"]["sentiment"]["agreement"]
        assert (g["judgements"], g["agreed"]) == naive[profile.data["annotator"]]
    (overall,) = _patterns(out, "annotator_agreement")
    kappas = _naive_pair_kappas(records)
    assert overall.data["pairs_compared"] == len(kappas) == out.stats["pairs_compared"]
    got = {tuple(p["annotators"]): p["kappa"] for p in overall.data["pairs"]}
    assert got.keys() == kappas.keys()
    for pair, value in kappas.items():
        assert got[pair] == pytest.approx(value, abs=1e-12)
    listed = [p["kappa"] for p in overall.data["pairs"]]
    assert listed == sorted(listed)
    assert overall.data["mean_pair_kappa"] == pytest.approx(np.mean(list(kappas.values())))


def test_too_fast_figures_match_direct_computation(seed0):
    records, _data, _train, out = seed0
    medians = {}
    for r in records:
        medians.setdefault(r.annotator, []).append(r.lead_time)
    names = sorted(medians)
    values = np.array([np.median(medians[a]) for a in names])
    logs = np.log1p(values)
    centre = np.median(logs)
    scale = 1.4826 * np.median(np.abs(logs - centre))
    z = (logs - centre) / scale
    expected = {
        a
        for a, zi, m in zip(names, z, values, strict=True)
        if zi <= FAST_MAX_Z and m <= FAST_MAX_RATIO * np.median(values)
    }
    assert expected == {FAST}
    (outlier,) = [p for p in _patterns(out, "annotator_outlier") if p.data["annotator"] == FAST]
    (finding,) = outlier.data["findings"]
    i = names.index(FAST)
    assert finding["robust_z"] == pytest.approx(z[i])
    assert finding["pool_median_lead_time"] == pytest.approx(np.median(values))
    assert finding["effect"] == pytest.approx(1 - values[i] / np.median(values))


def _naive_bh(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


def test_behavioural_rule_counts_exact(seed0):
    records, data, train, out = seed0
    params = MiningParams(min_support=5)
    train_ids = set(data.ids[train].tolist())
    rows = [r for r in records if r.id in train_ids]
    n = len(rows)
    per_annotator = Counter(r.annotator for r in rows)
    per_value = Counter(r.sentiment for r in rows)
    joint = Counter((r.annotator, r.sentiment) for r in rows)
    tested = [
        (a, v)
        for a in sorted(per_annotator)
        for v in SENTIMENTS
        if per_annotator[a] >= params.min_support and per_value[v] > 0
    ]
    p = association_p_values(
        n,
        [per_annotator[a] for a, _ in tested],
        [per_value[v] for _, v in tested],
        [joint[pair] for pair in tested],
    )
    q = dict(zip(tested, _naive_bh(p.tolist()), strict=True))
    assert out.stats["rule_pairs_tested"] == len(tested)
    (rule,) = out.rules
    pair = (BIASED, "negative")
    assert rule.rule_type == "annotator_behavior" and rule.algorithm == NAME
    assert (rule.n_records, rule.antecedent_count, rule.consequent_count, rule.support_count) == (
        n,
        per_annotator[BIASED],
        per_value["negative"],
        joint[pair],
    )
    assert rule.confidence == pytest.approx(joint[pair] / per_annotator[BIASED])
    expected_lift = joint[pair] * n / (per_annotator[BIASED] * per_value["negative"])
    assert rule.lift == pytest.approx(expected_lift)
    assert rule.lift >= 1.2
    assert rule.p_value == pytest.approx(p[tested.index(pair)], rel=1e-12)
    assert rule.q_value == pytest.approx(q[pair], rel=1e-12)
    assert rule.confidence < params.min_confidence  # min_confidence is not applied


def test_insights_en_and_zh(seed0):
    _records, _data, _train, out = seed0
    en = behavior_insights(out, MiningParams(lang="en"))
    zh = behavior_insights(out, MiningParams(lang="zh"))
    findings = sum(len(p.data["findings"]) for p in _patterns(out, "annotator_outlier"))
    assert len(en) == len(zh) == findings
    by_key = {(i.evidence["annotator"], i.evidence["reason"]): i for i in en}
    skew = by_key[(BIASED, "label_skewed")]
    assert skew.insight_type == "quality_insight"
    assert skew.title == "Annotator ann00 over-uses 'negative' for sentiment"
    assert skew.evidence["rules"] == [out.rules[0].key]
    fast = by_key[(FAST, "too_fast")]
    assert fast.insight_type == "efficiency_insight"
    assert fast.title == "Annotator ann01 works much faster than everyone else"
    drift = by_key[(DRIFTER, "drifting")]
    assert drift.title == "Annotator ann02's sentiment labels drifted over time"
    zh_titles = {(i.evidence["annotator"], i.evidence["reason"]): i.title for i in zh}
    assert zh_titles[(BIASED, "label_skewed")] == "标注员 ann00 的情感标注过多使用“negative”"
    assert zh_titles[(FAST, "too_fast")] == "标注员 ann01 的标注速度远快于其他人"
    assert zh_titles[(DRIFTER, "drifting")] == "标注员 ann02 的情感标注随时间发生漂移"
    for insight in en + zh:
        assert 2 <= len(insight.recommendations) <= 3
        assert "{" not in insight.description + "".join(insight.recommendations)
        finding = insight.evidence["finding"]
        profile = _profile(out, insight.evidence["annotator"]).data
        assert insight.impact_score == impact_score(finding["effect"], profile["share_of_records"])
    skew_finding = skew.evidence["finding"]
    dist = _profile(out, BIASED).data["columns"]["sentiment"]["distribution"]
    assert skew_finding["effect"] == pytest.approx(dist["max_share_diff"])
    assert skew_finding["share"] == pytest.approx(dist["shares"]["negative"])
    assert skew_finding["typical_share"] == pytest.approx(dist["typical_shares"]["negative"])
    assert [i.title for i in behavior_insights(out, MiningParams(min_support=5))] == [
        i.title for i in en
    ]


# --------------------------------------------------------------------------- label column


def test_label_column_skew_gives_label_rule():
    rng = np.random.default_rng(7)
    records = []
    for i in range(1200):
        annotator = f"w{i % 6}"
        p_urgent = 0.75 if annotator == "w3" else 0.3
        label = "urgent" if rng.random() < p_urgent else "normal"
        records.append(_rec(i, annotator, f"t{i}", None, hours=i, lead=20.0, label=label))
    data = _build(records)
    out = user_behavior(data, np.ones(len(data), bool), MiningParams(min_support=5))
    assert out.stats["columns"] == ["label"]
    (outlier,) = _patterns(out, "annotator_outlier")
    assert outlier.data["annotator"] == "w3" and outlier.data["reasons"] == ["label_skewed"]
    (rule,) = out.rules
    assert rule.consequent == Condition("label", "eq", "urgent")
    mine = [r for r in records if r.annotator == "w3"]
    assert rule.support_count == sum(r.label == "urgent" for r in mine)
    assert rule.antecedent_count == len(mine)
    en = behavior_insights(out, MiningParams(min_support=5))
    zh = behavior_insights(out, MiningParams(lang="zh"))
    assert en[0].title == "Annotator w3 over-uses 'urgent' for label"
    assert zh[0].title == "标注员 w3 的标签标注过多使用“urgent”"


def _shift_dataset(everyone_shifts: bool, seed: int = 5):
    """10 annotators over 100 days; negative share 20% -> 50% from day 50."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = []
    for i in range(6000):
        annotator = f"a{i % 10}"
        day = rng.integers(0, 100)
        shifts = everyone_shifts or annotator == "a9"
        p_negative = 0.5 if (shifts and day >= 50) else 0.2
        sentiment = "negative" if rng.random() < p_negative else "positive"
        records.append(
            Record(
                id=f"s{i}",
                text="x",
                keywords=["x"],
                annotator=annotator,
                sentiment=sentiment,
                lead_time=float(rng.uniform(30, 60)),
                created_at=start + timedelta(days=int(day), seconds=int(i)),
            )
        )
    return build_dataset(records)


def test_project_wide_shift_is_not_annotator_drift():
    data = _shift_dataset(everyone_shifts=True)
    out = user_behavior(data, np.ones(len(data), dtype=bool), MiningParams(min_support=5))
    drifting = [
        p.data["annotator"]
        for p in out.patterns
        if p.pattern_type == "annotator_outlier" and "drifting" in p.data["reasons"]
    ]
    assert drifting == []


def test_one_annotator_shifting_alone_is_drifting():
    data = _shift_dataset(everyone_shifts=False)
    out = user_behavior(data, np.ones(len(data), dtype=bool), MiningParams(min_support=5))
    drifting = [
        p.data["annotator"]
        for p in out.patterns
        if p.pattern_type == "annotator_outlier" and "drifting" in p.data["reasons"]
    ]
    assert drifting == ["a9"]
