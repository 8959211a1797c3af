from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from mlxtend.frequent_patterns import association_rules, fpgrowth

from bizlogic.mining.itemsets import (
    frequent_itemsets,
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
    assert found == _brute_force(x, 12, max_len)


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_itemsets_and_rules_identical_to_mlxtend(seed):
    x = _random_transactions(seed, n=300, m=12)
    n, min_count = x.shape[0], 15
    frame = pd.DataFrame(x, columns=[f"c{j}" for j in range(x.shape[1])])
    reference = fpgrowth(frame, min_support=min_count / n, max_len=3)
    expected = {tuple(sorted(s)): round(v * n) for s, v in zip(reference.itemsets, reference.support)}
    found = frequent_itemsets(sp.csr_matrix(x.astype(np.int32)), min_count, 3)
    assert found == expected

    ref_rules = association_rules(reference, metric="confidence", min_threshold=0.0)
    ref_rules = ref_rules[ref_rules.consequents.apply(len) == 1]
    expected_rules = {
        (tuple(sorted(a)), next(iter(c))): (row_conf, row_lift, row_lev)
        for a, c, row_conf, row_lift, row_lev in zip(
            ref_rules.antecedents, ref_rules.consequents, ref_rules.confidence,
            ref_rules.lift, ref_rules.leverage,
        )
    }
    counts = single_consequent_rules(found)
    m = rule_measures(n, counts.n_a, counts.n_c, counts.n_ac)
    ours = {
        (a, int(c)): (m.confidence[i], m.lift[i], m.leverage[i])
        for i, (a, c) in enumerate(zip(counts.antecedents, counts.consequents))
    }
    assert ours.keys() == expected_rules.keys()
    for key, values in ours.items():
        assert values == pytest.approx(expected_rules[key])


def test_itemsets_ignore_duplicate_entries_and_validate_threshold():
    x = sp.csr_matrix((np.array([2, 1, 1]), (np.array([0, 0, 1]), np.array([0, 1, 0]))), shape=(2, 2))
    assert frequent_itemsets(x, 1, 2) == {(0,): 2, (1,): 1, (0, 1): 1}
    with pytest.raises(ValueError, match="min_count"):
        frequent_itemsets(x, 0)


def test_productive_rules_hand_example():
    # 10 records: a in 6, b in 5, ab in 4; c (consequent) with a: 4, with b: 4, with ab: 4, c total 5.
    itemsets = {
        (0,): 6, (1,): 5, (2,): 5,
        (0, 1): 4, (0, 2): 4, (1, 2): 4, (0, 1, 2): 4,
    }
    rules = single_consequent_rules(itemsets)
    keep = productive_mask(rules, itemsets, 10)
    kept = {(a, int(c)) for a, c, k in zip(rules.antecedents, rules.consequents, keep) if k}
    # {a,b} -> c has confidence 1.0 > conf(a->c)=0.667 and conf(b->c)=0.8: productive.
    assert ((0, 1), 2) in kept
    # {b,c} -> a: confidence 1.0 vs conf(b->a)=0.8, conf(c->a)=0.8: productive.
    assert ((1, 2), 0) in kept
    # a -> c: conf 0.667 > base 0.5: productive; remove by making the base rate higher.
    assert ((0,), 2) in kept
    keep_high_base = productive_mask(rules, {**itemsets, (2,): 5}, 7)
    # with n=7 the base rate of c is 5/7 = 0.714 > 0.667, so a -> c is not productive.
    index = next(i for i, (a, c) in enumerate(zip(rules.antecedents, rules.consequents))
                 if a == (0,) and c == 2)
    assert not keep_high_base[index]
