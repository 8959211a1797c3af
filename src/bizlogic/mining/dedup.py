"""Which records say the same thing: exact and near-duplicate texts become one observation.

Real review sets repeat themselves: the same text posted twice, a template
with one word changed, a task annotated by three people. Counted separately,
each copy makes its keywords look better supported than they are, and copies
on both sides of the hold-out split make rules look like they generalise.

Three levels, each cheaper than the next is precise:

1. **Exact**: the dataset's ``text_key`` (case and spacing folded).
2. **Same keywords**: texts whose keyword sets are identical ("很好！" / "很好。").
3. **Near**: texts of at least ``NEAR_MIN_KEYWORDS`` keywords whose keyword sets have a
   Jaccard similarity ≥ ``NEAR_THRESHOLD``: candidates from datasketch's MinHash LSH,
   each candidate pair then checked with the exact Jaccard of the two sets.

Near-duplicates are merged transitively (connected components), and every
record of a group gets the group's key: the key of its first text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from datasketch import MinHash, MinHashLSH
from scipy.sparse.csgraph import connected_components

from bizlogic.records.dataset import Dataset

NEAR_THRESHOLD = 0.8
NEAR_MIN_KEYWORDS = 5
NUM_PERM = 128
# Shorter keyword sets say too little to call two different texts the same.
SAME_SET_MIN_KEYWORDS = 2


@dataclass(frozen=True)
class DedupStats:
    records: int
    distinct_texts: int  # after exact matching
    same_keywords_merged: int  # distinct texts merged because their keyword sets are equal
    near_duplicates_merged: int  # further texts merged by MinHash/Jaccard
    units: int  # observations left: what keyword statistics count

    def to_dict(self) -> dict[str, int | float]:
        return {
            "records": self.records,
            "distinct_texts": self.distinct_texts,
            "same_keywords_merged": self.same_keywords_merged,
            "near_duplicates_merged": self.near_duplicates_merged,
            "units": self.units,
            "near_threshold": NEAR_THRESHOLD,
            "near_min_keywords": NEAR_MIN_KEYWORDS,
        }


def _first_of_each(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of each key's first record in input order, group of every record)."""
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    return first, group


def _row_reduce(ufunc: np.ufunc, values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """``ufunc`` over each CSR row's values; 0 for empty rows."""
    out = np.zeros(indptr.size - 1, dtype=values.dtype)
    filled = np.flatnonzero(np.diff(indptr) > 0)
    if filled.size:
        out[filled] = ufunc.reduceat(values, indptr[filled])
    return out


def _keyword_set_keys(tokens: sp.csr_matrix, text_keys: np.ndarray) -> np.ndarray:
    """One uint64 per row, equal for rows with the same non-empty keyword set.

    Rows without keywords keep their own text key: texts that share nothing
    countable are not the same text.
    """
    mixed = (tokens.indices.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    mixed ^= mixed >> np.uint64(29)
    # Order-independent sum and xor of the mixed ids, plus the set size.
    total = _row_reduce(np.add, mixed, tokens.indptr)
    xor = _row_reduce(np.bitwise_xor, mixed * np.uint64(0xBF58476D1CE4E5B9), tokens.indptr)
    size = np.diff(tokens.indptr).astype(np.uint64)
    keys = total ^ (xor << np.uint64(1)) ^ (size * np.uint64(0x94D049BB133111EB))
    return np.where(size >= SAME_SET_MIN_KEYWORDS, keys, text_keys)


def _near_pairs(tokens: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows whose keyword sets have Jaccard ≥ NEAR_THRESHOLD (checked exactly)."""
    sizes = np.diff(tokens.indptr)
    candidates = np.flatnonzero(sizes >= NEAR_MIN_KEYWORDS)
    if candidates.size < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    indices, indptr = tokens.indices, tokens.indptr
    # Candidates are checked exactly, so false positives cost little: weigh misses 9:1.
    lsh = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=NUM_PERM, weights=(0.1, 0.9))
    # Keyword ids are hashed once each; MinHash then needs no per-token hashing.
    words = (np.arange(tokens.shape[1], dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(
        2**32 - 5
    )
    base = MinHash(num_perm=NUM_PERM, hashfunc=int)
    signatures = []
    for row in candidates.tolist():
        signature = base.copy()
        signature.update_batch(words[indices[indptr[row] : indptr[row + 1]]].tolist())
        signatures.append(signature)
    with lsh.insertion_session() as session:
        for row, signature in zip(candidates.tolist(), signatures, strict=True):
            session.insert(row, signature, check_duplication=False)
    left, right = [], []
    for row, signature in zip(candidates.tolist(), signatures, strict=True):
        for other in lsh.query(signature):
            if other > row:
                left.append(row)
                right.append(other)
    if not left:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = np.asarray(left), np.asarray(right)
    shared = np.asarray(tokens[a].multiply(tokens[b]).sum(axis=1)).ravel()
    jaccard = shared / (sizes[a] + sizes[b] - shared)
    close = jaccard >= NEAR_THRESHOLD
    return a[close], b[close]


def deduplicate(data: Dataset) -> tuple[Dataset, DedupStats]:
    """``data`` with ``text_key`` equal across exact, same-keyword and near duplicates."""
    n = len(data)
    if n == 0:
        return data, DedupStats(0, 0, 0, 0, 0)
    first, group = _first_of_each(data.text_key)
    distinct = first.size
    texts = data.tokens[first]
    set_first, set_group = _first_of_each(_keyword_set_keys(texts, data.text_key[first]))
    same_merged = distinct - set_first.size
    left, right = _near_pairs(texts[set_first])
    n_sets = set_first.size
    graph = sp.coo_matrix((np.ones(left.size), (left, right)), shape=(n_sets, n_sets))
    n_units, unit_of_set = connected_components(graph, directed=False)
    near_merged = n_sets - n_units
    # Each unit is named by the text key of its first record in input order.
    unit = unit_of_set[set_group[group]]
    order = np.argsort(unit, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(unit[order]) != 0])
    unit_key = np.empty(n_units, dtype=np.uint64)
    unit_key[unit[order[starts]]] = data.text_key[order[starts]]
    stats = DedupStats(n, distinct, int(same_merged), int(near_merged), int(n_units))
    return replace(data, text_key=unit_key[unit]), stats
