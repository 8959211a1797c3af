"""Which records say the same thing: exact and near-duplicate texts become one observation.

Real review sets repeat themselves: the same text posted twice, a template
with one word changed, a task annotated by three people. Counted separately,
each copy makes its keywords look better supported than they are, and copies
on both sides of the hold-out split make rules look like they generalise.

Three levels, each cheaper than the next is precise:

1. **Exact**: the dataset's ``text_key`` (case and spacing folded).
2. **Same keywords**: texts whose keyword sets are identical ("很好！" / "很好。").
3. **Near**: texts of at least ``NEAR_MIN_KEYWORDS`` keywords whose keyword sets have a
   Jaccard similarity ≥ ``NEAR_THRESHOLD``: candidates from MinHash with LSH banding,
   each candidate pair then checked with the exact Jaccard of the two sets.

MinHash is computed column-wise with numpy: per permutation, one hash per
vocabulary word and one ``minimum.reduceat`` over the sparse rows. A
per-text MinHash object (datasketch's API) cost 73 s and 5 GB on a million
texts; this costs about 3 s and a few hundred MB. Permutations are
multiply-shift hashes of each word's crc32, so signatures depend on the
words, not on their order in the vocabulary. With ``BANDS`` × ``ROWS`` = 16 × 4,
a pair at Jaccard 0.8 becomes a candidate with probability 1 − (1 − 0.8⁴)¹⁶ ≈
0.9998, at 0.5 with 0.64 (then rejected by the exact check).

Near-duplicates are merged transitively (connected components), and every
record of a group gets the group's key: the key of its first text.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from bizlogic.records.dataset import Dataset

NEAR_THRESHOLD = 0.8
NEAR_MIN_KEYWORDS = 5
BANDS, ROWS = 16, 4
MIN_BANDS = 3  # bands a pair must share before its exact Jaccard is computed
SMALL_BUCKET = 32  # buckets up to this size give all their pairs
PERMUTATION_SEED = 20261206
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


def _word_hashes(vocab: tuple[str, ...]) -> np.ndarray:
    return np.fromiter(
        (zlib.crc32(word.encode("utf-8")) for word in vocab), dtype=np.uint64, count=len(vocab)
    )


def _band_keys(tokens: sp.csr_matrix, word_hash: np.ndarray) -> Iterator[np.ndarray]:
    """One uint64 key per row and band: rows with an equal key share ROWS minimum hashes."""
    permutations = np.random.default_rng(PERMUTATION_SEED).integers(
        1, 2**63, size=(BANDS * ROWS, 2), dtype=np.uint64
    )
    starts = tokens.indptr[:-1]
    for band in range(BANDS):
        key = np.zeros(tokens.shape[0], dtype=np.uint64)
        for a, b in permutations[band * ROWS : (band + 1) * ROWS]:
            # Multiply-shift hashing: the high 32 bits of a·x + b (mod 2⁶⁴), a odd.
            hashed = (word_hash * (a | np.uint64(1)) + b) >> np.uint64(32)
            minimum = np.minimum.reduceat(hashed[tokens.indices], starts)
            key = (key * np.uint64(0x100000001B3)) ^ minimum
        yield key


def _bucket_pairs(key: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Pairs of rows (as ``a * n + b``, a < b) sharing ``key``.

    Every pair of a bucket of up to SMALL_BUCKET rows; in larger buckets (rows
    dominated by the commonest words) only neighbours in ``tiebreak`` order,
    so the cost stays linear.
    """
    n = key.size
    order = np.lexsort((tiebreak, key))
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    sizes = np.diff(np.r_[starts, n])
    out = []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= SMALL_BUCKET)]).tolist():
        first = starts[sizes == size]
        i, j = np.triu_indices(size, 1)
        out.append((order[first[:, None] + i], order[first[:, None] + j]))
    for first, size in zip(starts[sizes > SMALL_BUCKET], sizes[sizes > SMALL_BUCKET], strict=True):
        members = order[first : first + size]
        out.append((members[:-1], members[1:]))
    if not out:
        return np.empty(0, dtype=np.int64)
    a = np.concatenate([x.ravel() for x, _ in out]).astype(np.int64)
    b = np.concatenate([y.ravel() for _, y in out]).astype(np.int64)
    return np.minimum(a, b) * n + np.maximum(a, b)


def _near_pairs(tokens: sp.csr_matrix, vocab: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows whose keyword sets have Jaccard ≥ NEAR_THRESHOLD (checked exactly)."""
    sizes = np.diff(tokens.indptr)
    candidates = np.flatnonzero(sizes >= NEAR_MIN_KEYWORDS)
    if candidates.size < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rows = tokens[candidates]
    keys = list(_band_keys(rows, _word_hashes(vocab)))
    found = [_bucket_pairs(key, keys[(band + 1) % BANDS]) for band, key in enumerate(keys)]
    pair, collisions = np.unique(np.concatenate(found), return_counts=True)
    # A pair at Jaccard 0.8 shares a band in 16 · 0.8⁴ ≈ 6.6 of 16 bands; one that
    # shares fewer than MIN_BANDS is almost never that close (P ≈ 0.02) and is not checked.
    pair = pair[collisions >= MIN_BANDS]
    n = candidates.size
    a, b = pair // n, pair % n
    shared = np.asarray(rows[a].multiply(rows[b]).sum(axis=1)).ravel()
    jaccard = shared / (sizes[candidates[a]] + sizes[candidates[b]] - shared)
    close = jaccard >= NEAR_THRESHOLD
    return candidates[a[close]], candidates[b[close]]


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
    left, right = _near_pairs(texts[set_first], data.vocab)
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
