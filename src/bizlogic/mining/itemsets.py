"""Exact frequent itemsets by sparse projection, and single-consequent rules from them.

The miner is a depth-first Eclat variant: within the records containing a
prefix, one sparse product ``Xᵀ X`` counts every pair of extensions at once,
so Python only loops once per frequent itemset of size ≤ max_len − 2 and both
counting and bookkeeping run in compiled numpy/scipy code. Itemsets are kept
as one sorted integer array per size, so million-itemset results stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.sparse as sp

Itemset = tuple[int, ...]


@dataclass(frozen=True)
class Level:
    """All frequent itemsets of one size: rows of ascending item ids, sorted by key."""

    items: np.ndarray  # (m, k) int64
    counts: np.ndarray  # (m,) int64
    keys: np.ndarray  # (m,) int64 mixed-radix encoding, ascending


class Itemsets:
    """Frequent itemsets by size with vectorised count lookup."""

    def __init__(self, n_items: int, levels: list[Level]) -> None:
        self.n_items = n_items
        self.levels = levels  # levels[k - 1] holds itemsets of size k

    def __len__(self) -> int:
        return sum(level.counts.size for level in self.levels)

    @property
    def max_size(self) -> int:
        return len(self.levels)

    def level(self, size: int) -> Level:
        return self.levels[size - 1]

    def count_of(self, rows: np.ndarray) -> np.ndarray:
        """Counts of itemsets given as rows of ascending item ids (all must be frequent)."""
        size = rows.shape[1]
        level = self.level(size)
        keys = encode(rows, self.n_items)
        pos = np.searchsorted(level.keys, keys)
        if rows.shape[0] and (
            pos.max(initial=0) >= level.keys.size or not np.array_equal(level.keys[pos], keys)
        ):
            raise KeyError("itemset is not frequent")
        return level.counts[pos]

    def to_dict(self) -> dict[Itemset, int]:
        return {
            tuple(int(i) for i in row): int(count)
            for level in self.levels
            for row, count in zip(level.items, level.counts, strict=True)
        }


def encode(rows: np.ndarray, base: int) -> np.ndarray:
    """Mixed-radix key of each row; exact while base**k < 2**63 (checked)."""
    size = rows.shape[1]
    if base**size >= 2**63:
        raise OverflowError(f"{base} items and itemsets of size {size} overflow 64-bit keys")
    keys = np.zeros(rows.shape[0], dtype=np.int64)
    for column in range(size):
        keys = keys * base + rows[:, column]
    return keys


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.int32, copy=True)
    out.sum_duplicates()
    out.data[:] = 1
    return out


def frequent_itemsets(matrix: sp.spmatrix, min_count: int, max_len: int = 3) -> Itemsets:
    """Every itemset (column ids, ascending) contained in ≥ min_count rows, up to max_len items."""
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    x = _binary(matrix)
    n_items = x.shape[1]
    counts = np.asarray(x.sum(axis=0)).ravel().astype(np.int64)
    items = np.flatnonzero(counts >= min_count)
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(max_len)]
    found[0].append((items[:, None].astype(np.int64), counts[items]))
    if max_len >= 2 and items.size >= 2:
        _extend(
            np.empty(0, np.int64), x[:, items], items.astype(np.int64), min_count, max_len, found
        )
    levels = []
    for size, parts in enumerate(found, start=1):
        rows = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, size), np.int64)
        cnts = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
        keys = encode(rows, max(n_items, 1))
        order = np.argsort(keys, kind="stable")
        levels.append(Level(rows[order], cnts[order], keys[order]))
    while len(levels) > 1 and levels[-1].counts.size == 0:
        levels.pop()
    return Itemsets(n_items, levels)


def _extend(
    prefix: np.ndarray,
    x: sp.csr_matrix,
    candidates: np.ndarray,
    min_count: int,
    max_len: int,
    found: list[list[tuple[np.ndarray, np.ndarray]]],
) -> None:
    """``x``: the rows containing ``prefix``; columns = ``candidates`` (each frequent with it)."""
    size = prefix.size + 2  # size of the itemsets counted here
    pairs = sp.triu(x.T @ x, k=1, format="csr")
    pairs.data[pairs.data < min_count] = 0
    pairs.eliminate_zeros()
    if pairs.nnz == 0:
        return
    first = np.repeat(np.arange(candidates.size), np.diff(pairs.indptr))
    rows = np.empty((pairs.nnz, size), dtype=np.int64)
    rows[:, : prefix.size] = prefix
    rows[:, -2] = candidates[first]
    rows[:, -1] = candidates[pairs.indices]
    found[size - 1].append((rows, pairs.data.astype(np.int64)))
    if size + 1 > max_len:
        return
    columns = x.tocsc()
    for j in np.flatnonzero(np.diff(pairs.indptr) >= 2):
        ks = pairs.indices[pairs.indptr[j] : pairs.indptr[j + 1]]
        members = columns.indices[columns.indptr[j] : columns.indptr[j + 1]]
        head = np.append(prefix, candidates[j])
        _extend(head, x[members][:, ks], candidates[ks], min_count, max_len, found)


@dataclass(frozen=True)
class RuleCounts:
    """Single-consequent rules A → c as arrays, grouped by antecedent size."""

    antecedents: list[np.ndarray]  # per antecedent size k: (m_k, k) item ids
    consequents: np.ndarray
    n_a: np.ndarray
    n_c: np.ndarray
    n_ac: np.ndarray
    antecedent_size: np.ndarray  # size of each rule's antecedent
    index_in_size: np.ndarray  # row of the rule in antecedents[size - 1]

    def __len__(self) -> int:
        return int(self.consequents.size)

    def antecedent(self, i: int) -> Itemset:
        row = self.antecedents[self.antecedent_size[i] - 1][self.index_in_size[i]]
        return tuple(int(v) for v in row)

    def take(self, index: np.ndarray) -> RuleCounts:
        sizes = self.antecedent_size[index]
        positions = self.index_in_size[index]
        antecedents, new_positions = [], np.empty(index.size, dtype=np.int64)
        for size, block in enumerate(self.antecedents, start=1):
            chosen = np.flatnonzero(sizes == size)
            antecedents.append(block[positions[chosen]])
            new_positions[chosen] = np.arange(chosen.size)
        return RuleCounts(
            antecedents,
            self.consequents[index],
            self.n_a[index],
            self.n_c[index],
            self.n_ac[index],
            sizes,
            new_positions,
        )


def single_consequent_rules(itemsets: Itemsets) -> RuleCounts:
    """All rules I∖{c} → c for frequent itemsets I with ≥ 2 items (every subset is frequent)."""
    antecedents: list[list[np.ndarray]] = [[] for _ in range(max(itemsets.max_size - 1, 0))]
    consequents, n_a, n_c, n_ac, sizes = [], [], [], [], []
    singles = itemsets.level(1)
    single_count = np.zeros(itemsets.n_items, dtype=np.int64)
    single_count[singles.items[:, 0]] = singles.counts
    for size in range(2, itemsets.max_size + 1):
        level = itemsets.level(size)
        for pos in range(size):
            antecedent = np.delete(level.items, pos, axis=1)
            antecedents[size - 2].append(antecedent)
            consequents.append(level.items[:, pos])
            n_a.append(itemsets.count_of(antecedent))
            n_c.append(single_count[level.items[:, pos]])
            n_ac.append(level.counts)
            sizes.append(np.full(level.counts.size, size - 1, dtype=np.int64))
    blocks = [
        np.concatenate(b) if b else np.empty((0, k + 1), np.int64)
        for k, b in enumerate(antecedents)
    ]
    size_arr = np.concatenate(sizes) if sizes else np.empty(0, np.int64)
    index_in_size = np.empty(size_arr.size, dtype=np.int64)
    for size in range(1, len(blocks) + 1):
        chosen = size_arr == size
        index_in_size[chosen] = np.arange(int(chosen.sum()))

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    return RuleCounts(
        blocks, cat(consequents), cat(n_a), cat(n_c), cat(n_ac), size_arr, index_in_size
    )


def generalisation_counts(
    rules: RuleCounts, itemsets: Itemsets, size: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For rules with antecedents of ``size`` ≥ 2: (n_G, n_Gc) for each G = A minus one item."""
    chosen = rules.antecedent_size == size
    antecedents = rules.antecedents[size - 1][rules.index_in_size[chosen]]
    consequents = rules.consequents[chosen]
    out = []
    for pos in range(size):
        general = np.delete(antecedents, pos, axis=1)
        with_consequent = np.sort(np.column_stack([general, consequents]), axis=1)
        out.append((itemsets.count_of(general), itemsets.count_of(with_consequent)))
    return out


def productive_mask(rules: RuleCounts, itemsets: Itemsets, n: int) -> np.ndarray:
    """True where the rule is more confident than every rule with a proper sub-antecedent.

    The empty antecedent counts too (its confidence is the base rate), so a
    productive rule also has lift > 1. Integer cross products avoid float ties.
    """
    keep = rules.n_ac * n > rules.n_c * rules.n_a
    for size in range(2, len(rules.antecedents) + 1):
        chosen = np.flatnonzero(rules.antecedent_size == size)
        if chosen.size == 0:
            continue
        antecedents = rules.antecedents[size - 1][rules.index_in_size[chosen]]
        consequents = rules.consequents[chosen]
        n_a, n_ac = rules.n_a[chosen], rules.n_ac[chosen]
        for sub_size in range(1, size):
            for columns in combinations(range(size), sub_size):
                sub = antecedents[:, list(columns)]
                joint = np.sort(np.column_stack([sub, consequents]), axis=1)
                keep[chosen] &= n_ac * itemsets.count_of(sub) > itemsets.count_of(joint) * n_a
    return keep
