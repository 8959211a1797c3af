from itertools import combinations

import numpy as np
import pytest

from bizlogic.mining.cooccurrence import keyword_clusters, keyword_cooccurrence, mine_rules
from bizlogic.mining.measures import association_p_values, benjamini_hochberg
from bizlogic.mining.model import MiningParams

from .helpers import all_rows, keyword_dataset


def _random_rows(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta"]
    rows = []
    for _ in range(n):
        present = [w for w, p in zip(words, (0.3, 0.25, 0.2, 0.4, 0.1, 0.15)) if rng.random() < p]
        # alpha AND beta strongly predict negative; gamma weakly positive.
        if "alpha" in present and "beta" in present:
            sentiment = "negative" if rng.random() < 0.9 else "positive"
        elif "gamma" in present:
            sentiment = "positive" if rng.random() < 0.75 else "negative"
        else:
            sentiment = "negative" if rng.random() < 0.4 else "positive"
        rows.append((present, sentiment))
    return rows


def _reference_rules(rows, params: MiningParams):
    """Plain-Python pipeline: itemsets over keywords + class items, rules, BH, filters."""
    transactions = [set(words) | {f"sentiment={s}"} for words, s in rows]
    n = len(rows)
    items = sorted({i for t in transactions for i in t})

    def count(itemset):
        return sum(set(itemset) <= t for t in transactions)

    frequent = {}
    for k in range(1, params.max_len + 1):
        for combo in combinations(items, k):
            c = count(combo)
            if c >= params.min_support:
                frequent[frozenset(combo)] = c
    candidates = []
    for itemset, n_ac in frequent.items():
        if len(itemset) < 2:
            continue
        for consequent in itemset:
            antecedent = itemset - {consequent}
            # Keywords → class only: keyword → keyword associations are clusters, not rules.
            if not consequent.startswith("sentiment="):
                continue
            if any(a.startswith("sentiment=") for a in antecedent):
                continue
            candidates.append(
                (
                    antecedent,
                    consequent,
                    frequent[antecedent],
                    frequent[frozenset([consequent])],
                    n_ac,
                )
            )
    counts = np.array([c[2:] for c in candidates], dtype=float)
    p = association_p_values(n, counts[:, 0], counts[:, 1], counts[:, 2])
    for i, (antecedent, consequent, _n_a, _n_c, n_ac) in enumerate(candidates):
        if len(antecedent) < 2:
            continue
        for x in antecedent:
            general = antecedent - {x}
            improvement = association_p_values(
                frequent[general], frequent[antecedent], frequent[general | {consequent}], n_ac
            )
            p[i] = max(p[i], float(improvement))
    q = np.ones_like(p)
    sizes = np.array([len(c[0]) for c in candidates])
    for size in set(sizes.tolist()):
        q[sizes == size] = benjamini_hochberg(p[sizes == size])
    kept = {}
    for (antecedent, consequent, n_a, n_c, n_ac), qi in zip(candidates, q):
        confidence = n_ac / n_a
        if confidence < params.min_confidence or qi > params.max_fdr:
            continue
        generals = [
            frozenset(s) for k in range(len(antecedent)) for s in combinations(antecedent, k)
        ]
        general_conf = [
            (frequent[g | {consequent}] / frequent[g]) if g else n_c / n for g in generals
        ]
        if all(confidence > g for g in general_conf):
            kept[(frozenset(antecedent), consequent)] = (n_a, n_c, n_ac, qi)
    return kept


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rules_match_plain_python_pipeline(seed):
    rows = _random_rows(seed)
    data = keyword_dataset(rows)
    params = MiningParams(min_support=10, min_confidence=0.6, max_fdr=0.05, holdout_fraction=0)
    rules, stats = mine_rules(data, params)
    expected = _reference_rules(rows, params)

    def key(rule):
        antecedent = frozenset(str(c.value) for c in rule.conditions)
        c = rule.consequent
        return antecedent, (f"sentiment={c.value}" if c.field == "sentiment" else str(c.value))

    found = {key(r): r for r in rules}
    assert found.keys() == expected.keys()
    for k, rule in found.items():
        n_a, n_c, n_ac, q = expected[k]
        assert (rule.antecedent_count, rule.consequent_count, rule.support_count) == (
            n_a,
            n_c,
            n_ac,
        )
        assert rule.q_value == pytest.approx(q)
    assert any(len(r.conditions) == 2 and r.rule_type == "class_association" for r in rules)
    assert all(r.consequent.field == "sentiment" for r in rules)
    assert stats["rules"] == len(rules)


def test_rule_types_and_conditions():
    rows = _random_rows(0)
    data = keyword_dataset(rows)
    params = MiningParams(min_support=10, min_confidence=0.6, holdout_fraction=0)
    out = keyword_cooccurrence(data, all_rows(data), params)
    combo = [r for r in out.rules if r.rule_type == "class_association" and len(r.conditions) == 2]
    assert {str(c.value) for c in combo[0].conditions} == {"alpha", "beta"}
    assert combo[0].consequent.to_dict() == {
        "field": "sentiment",
        "operator": "eq",
        "value": "negative",
    }
    assert all(c.operator == "contains" for r in out.rules for c in r.conditions)


def test_clusters_link_strongly_cooccurring_keywords():
    rows = [(["ship", "courier", "parcel"], "negative")] * 30
    rows += [(["ship", "courier"], "positive")] * 5
    rows += [(["price"], "positive"), (["cheap"], "positive")] * 20
    rows += [(["price", "ship"], "positive")] * 2
    data = keyword_dataset(rows)
    clusters = keyword_clusters(data, MiningParams(min_support=5))
    assert [c.data["keywords"] for c in clusters] == [["ship", "courier", "parcel"]]
    assert clusters[0].data["counts"] == [37, 35, 30]


def test_a_component_too_large_for_a_topic_is_split_at_a_higher_bar():
    a = [f"a{i}" for i in range(15)]
    b = [f"b{i}" for i in range(15)]
    rows = [(a, "positive")] * 20 + [(b, "negative")] * 20
    rows += [(["a0", "b0"], "positive")] * 15  # a bridge: NPMI(a0, b0) ≈ 0.35
    rows += [(["z"], "neutral")] * 150
    clusters = keyword_clusters(keyword_dataset(rows), MiningParams(min_support=5))
    # At 0.3 the 30 words are one component (> 25); at 0.35 + 0.05 the bridge is gone.
    assert sorted(sorted(c.data["keywords"]) for c in clusters) == [sorted(a), sorted(b)]
    assert all(c.data["min_npmi_threshold"] == 0.4 for c in clusters)
