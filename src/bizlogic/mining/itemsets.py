"""Exact frequent itemsets by sparse projection, and single-consequent rules from them.

The miner is a depth-first Eclat variant: within the records containing a
prefix, one sparse product ``Xᵀ X`` counts every pair of extensions at once,
so Python only loops once per frequent itemset of size ≤ max_len − 2 and the
counting runs in scipy's compiled sparse kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.sparse as sp

Itemset = tuple[int, ...]


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.int32, copy=True)
    out.data[:] = 1
    out.sum_duplicates()
    out.data[:] = 1
    return out


def frequent_itemsets(matrix: sp.spmatrix, min_count: int, max_len: int = 3) -> dict[Itemset, int]:
    """Every itemset (column ids, ascending) contained in ≥ min_count rows, up to max_len items."""
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    x = _binary(matrix)
    counts = np.asarray(x.sum(axis=0)).ravel()
    items = np.flatnonzero(counts >= min_count)
    out: dict[Itemset, int] = {(int(i),): int(counts[i]) for i in items}
    if max_len >= 2 and items.size >= 2:
        _extend((), x[:, items], items, min_count, max_len, out)
    return out


def _extend(
    prefix: Itemset,
    x: sp.csr_matrix,
    candidates: np.ndarray,
    min_count: int,
    max_len: int,
    out: dict[Itemset, int],
) -> None:
    """``x`` holds the rows containing ``prefix``, columns = ``candidates`` (all frequent with it)."""
    depth = len(prefix) + 2  # size of the itemsets counted here
    pairs = sp.triu(x.T @ x, k=1, format="csr")
    pairs.data[pairs.data < min_count] = 0
    pairs.eliminate_zeros()
    if pairs.nnz == 0:
        return
    recurse = depth + 1 <= max_len
    columns = x.tocsc() if recurse else None
    indptr, indices, data = pairs.indptr, pairs.indices, pairs.data
    cand = candidates.tolist()
    for j in range(candidates.size):
        start, end = indptr[j], indptr[j + 1]
        if start == end:
            continue
        ks = indices[start:end]
        head = (*prefix, cand[j])
        for k, count in zip(ks.tolist(), data[start:end].tolist(), strict=True):
            out[(*head, cand[k])] = count
        if recurse and ks.size >= 2:
            rows = columns.indices[columns.indptr[j] : columns.indptr[j + 1]]
            _extend(head, x[rows][:, ks], candidates[ks], min_count, max_len, out)


@dataclass(frozen=True)
class RuleCounts:
    """Single-consequent rules A → c, with the counts every measure needs."""

    antecedents: list[Itemset]
    consequents: np.ndarray
    n_a: np.ndarray
    n_c: np.ndarray
    n_ac: np.ndarray


def single_consequent_rules(itemsets: dict[Itemset, int]) -> RuleCounts:
    """All rules I∖{c} → c for frequent itemsets I with ≥ 2 items (every subset is frequent)."""
    antecedents: list[Itemset] = []
    consequents, n_a, n_c, n_ac = [], [], [], []
    for itemset, count in itemsets.items():
        if len(itemset) < 2:
            continue
        for pos, item in enumerate(itemset):
            antecedent = itemset[:pos] + itemset[pos + 1 :]
            antecedents.append(antecedent)
            consequents.append(item)
            n_a.append(itemsets[antecedent])
            n_c.append(itemsets[(item,)])
            n_ac.append(count)
    return RuleCounts(
        antecedents,
        np.asarray(consequents, dtype=np.int64),
        np.asarray(n_a, dtype=np.int64),
        np.asarray(n_c, dtype=np.int64),
        np.asarray(n_ac, dtype=np.int64),
    )


def productive_mask(rules: RuleCounts, itemsets: dict[Itemset, int], n: int) -> np.ndarray:
    """True where the rule is more confident than every rule with a proper sub-antecedent.

    The empty antecedent counts too (its confidence is the base rate), so a
    productive rule also has lift > 1. Comparisons are done on integer cross
    products to avoid floating-point ties.
    """
    keep = np.ones(len(rules.antecedents), dtype=bool)
    for i, antecedent in enumerate(rules.antecedents):
        consequent = int(rules.consequents[i])
        n_a, n_ac = int(rules.n_a[i]), int(rules.n_ac[i])
        if n_ac * n <= int(rules.n_c[i]) * n_a:
            keep[i] = False
            continue
        for size in range(1, len(antecedent)):
            for sub in combinations(antecedent, size):
                joint = tuple(sorted((*sub, consequent)))
                if n_ac * itemsets[sub] <= itemsets[joint] * n_a:
                    keep[i] = False
                    break
            if not keep[i]:
                break
    return keep
