from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from mlxtend.frequent_patterns import association_rules, fpgrowth

from bizlogic.mining.itemsets import (
    Itemsets,
    Level,
    encode,
    frequent_itemsets,
    generalisation_counts,
    productive_mask,
    single_consequent_rules,
)
from bizlogic.mining.measures import rule_measures


def _random_transactions(seed: int, n: int = 400, m: int = 14) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((n, m)) < rng.uniform(0.05, 0.5, size=m)


def _brute_force(x: np.ndarray, min_count: int, max_len: int) -> dict:
    out = {}
    for k in range(1, max_len + 1):
        for items in combinations(range(x.shape[1]), k):
            count = int(x[:, list(items)].all(axis=1).sum())
            if count >= min_count:
                out[items] = count
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_len", [1, 2, 3, 4])
def test_itemsets_equal_brute_force(seed, max_len):
    x = _random_transactions(seed)
    found = frequent_itemsets(sp.csr_matrix(x.astype(np.int32)), 12, max_len)
    assert found.to_dict() == _brute_force(x, 12, max_len)


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_itemsets_and_rules_identical_to_mlxtend(seed):
    x = _random_transactions(seed, n=300, m=12)
    n, min_count = x.shape[0], 15
    frame = pd.DataFrame(x, columns=[f"c{j}" for j in range(x.shape[1])])
    reference = fpgrowth(frame, min_support=min_count / n, max_len=3)
    expected = {
        tuple(sorted(s)): round(v * n) for s, v in zip(reference.itemsets, reference.support)
    }
    found = frequent_itemsets(sp.csr_matrix(x.astype(np.int32)), min_count, 3)
    assert found.to_dict() == expected

    ref_rules = association_rules(reference, metric="confidence", min_threshold=0.0)
    ref_rules = ref_rules[ref_rules.consequents.apply(len) == 1]
    expected_rules = {
        (tuple(sorted(a)), next(iter(c))): (row_conf, row_lift, row_lev)
        for a, c, row_conf, row_lift, row_lev in zip(
            ref_rules.antecedents,
            ref_rules.consequents,
            ref_rules.confidence,
            ref_rules.lift,
            ref_rules.leverage,
        )
    }
    counts = single_consequent_rules(found)
    m = rule_measures(n, counts.n_a, counts.n_c, counts.n_ac)
    ours = {
        (counts.antecedent(i), int(c)): (m.confidence[i], m.lift[i], m.leverage[i])
        for i, c in enumerate(counts.consequents)
    }
    assert ours.keys() == expected_rules.keys()
    for key, values in ours.items():
        assert values == pytest.approx(expected_rules[key])


def test_itemsets_ignore_duplicate_entries_and_validate_threshold():
    x = sp.csr_matrix(
        (np.array([2, 1, 1]), (np.array([0, 0, 1]), np.array([0, 1, 0]))), shape=(2, 2)
    )
    assert frequent_itemsets(x, 1, 2).to_dict() == {(0,): 2, (1,): 1, (0, 1): 1}
    with pytest.raises(ValueError, match="min_count"):
        frequent_itemsets(x, 0)


def _itemsets_from(counts: dict, n_items: int) -> Itemsets:
    """Build an Itemsets object from a hand-written {itemset: count} table."""
    levels = []
    for size in range(1, max(len(k) for k in counts) + 1):
        rows = np.array(sorted(k for k in counts if len(k) == size), dtype=np.int64)
        keys = encode(rows, n_items)
        levels.append(Level(rows, np.array([counts[tuple(r)] for r in rows.tolist()]), keys))
    return Itemsets(n_items, levels)


def test_productive_rules_hand_example():
    # a=0 in 6 records, b=1 in 5, c=2 in 5; every pair and the triple in 4.
    table = {(0,): 6, (1,): 5, (2,): 5, (0, 1): 4, (0, 2): 4, (1, 2): 4, (0, 1, 2): 4}
    itemsets = _itemsets_from(table, 3)
    rules = single_consequent_rules(itemsets)

    def kept(n):
        keep = productive_mask(rules, itemsets, n)
        return {(rules.antecedent(i), int(rules.consequents[i])) for i in np.flatnonzero(keep)}

    with_ten = kept(10)
    # {a,b} -> c: confidence 1.0 beats a -> c (0.667) and b -> c (0.8).
    assert ((0, 1), 2) in with_ten
    assert ((1, 2), 0) in with_ten
    # a -> c: 0.667 > base rate 5/10.
    assert ((0,), 2) in with_ten
    # With n = 7 the base rate of c is 5/7 = 0.714 > 0.667: a -> c is not productive.
    assert ((0,), 2) not in kept(7)


def test_generalisation_counts_and_lookup():
    table = {(0,): 6, (1,): 5, (2,): 5, (0, 1): 4, (0, 2): 4, (1, 2): 3, (0, 1, 2): 3}
    itemsets = _itemsets_from(table, 3)
    rules = single_consequent_rules(itemsets)
    pair_rules = [i for i in range(len(rules)) if len(rules.antecedent(i)) == 2]
    assert [(rules.antecedent(i), int(rules.consequents[i])) for i in pair_rules] == [
        ((1, 2), 0),
        ((0, 2), 1),
        ((0, 1), 2),
    ]
    general = generalisation_counts(rules, itemsets, 2)
    # Rule {1,2} -> 0: drop 1 -> G={2}: n_G=5, n_G0=count{0,2}=4; drop 2 -> G={1}: 5, count{0,1}=4.
    assert general[0][0].tolist()[0] == 5 and general[0][1].tolist()[0] == 4
    assert general[1][0].tolist()[0] == 5 and general[1][1].tolist()[0] == 4
    assert itemsets.count_of(np.array([[0, 2]])).tolist() == [4]
    with pytest.raises(KeyError):
        itemsets.count_of(np.array([[1, 1]]))
