from itertools import combinations

import numpy as np
import pytest

from bizlogic.mining.dedup import NEAR_MIN_KEYWORDS, NEAR_THRESHOLD, deduplicate
from bizlogic.records.dataset import build_dataset
from bizlogic.records.schema import Record


def _data(texts):
    return build_dataset(Record(id=f"r{i}", text=t) for i, t in enumerate(texts))


def _groups(data):
    keys = data.text_key.tolist()
    return [sorted(i for i, k in enumerate(keys) if k == key) for key in dict.fromkeys(keys)]


def test_exact_copies_differing_in_case_and_spacing_are_one_text():
    data, stats = deduplicate(_data(["Great  courier", "great courier", "GREAT courier ", "late"]))
    assert _groups(data) == [[0, 1, 2], [3]]
    assert (stats.records, stats.distinct_texts, stats.units) == (4, 2, 2)
    # The group is named by its first record's key.
    assert data.text_key[0] == _data(["Great  courier"]).text_key[0]


def test_same_keywords_merge_only_with_two_or_more():
    texts = ["质量很好，物流很快", "质量很好！物流很快。", "早餐!", "早餐..."]
    data, stats = deduplicate(_data(texts))
    assert _groups(data) == [[0, 1], [2], [3]]  # one shared keyword says too little
    assert stats.same_keywords_merged == 1


def _jaccard(a, b):
    return len(a & b) / len(a | b)


def test_near_duplicates_match_exact_jaccard_on_random_texts():
    rng = np.random.default_rng(3)
    words = [f"w{i:03d}" for i in range(60)]
    texts = []
    for _ in range(150):
        base = list(rng.choice(words, size=12, replace=False))
        texts.append(" ".join(base))
        if rng.random() < 0.5:  # an edited copy: one word swapped
            edited = [*base[:-1], str(rng.choice(words))]
            texts.append(" ".join(edited))
    data, stats = deduplicate(_data(texts))
    sets = [set(t.split()) for t in texts]
    # Independent answer: connected components of pairs with exact Jaccard >= threshold.
    parent = list(range(len(texts)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in combinations(range(len(texts)), 2):
        if sets[i] == sets[j] or (
            min(len(sets[i]), len(sets[j])) >= NEAR_MIN_KEYWORDS
            and _jaccard(sets[i], sets[j]) >= NEAR_THRESHOLD
        ):
            parent[find(i)] = find(j)
    expected = {}
    for i in range(len(texts)):
        expected.setdefault(find(i), []).append(i)
    found = _groups(data)
    # LSH may miss a true pair (it never adds a false one: every pair is checked exactly).
    found_pairs = {(a, b) for g in found for a, b in combinations(g, 2)}
    expected_pairs = {(a, b) for g in expected.values() for a, b in combinations(sorted(g), 2)}
    assert found_pairs <= expected_pairs
    assert len(found_pairs) >= 0.95 * len(expected_pairs) and len(expected_pairs) > 40
    assert stats.units == len(found)
    assert stats.near_duplicates_merged > 20


def test_unrelated_texts_stay_apart_and_empty_data_is_fine():
    data, stats = deduplicate(_data(["refund late box", "great sturdy kettle", "courier lost"]))
    assert stats.units == 3 and len(set(data.text_key.tolist())) == 3
    empty, stats = deduplicate(_data([]))
    assert stats.units == 0 and len(empty) == 0


@pytest.mark.parametrize("copies", [1, 3])
def test_texts_without_keywords_are_not_merged_with_each_other(copies):
    texts = ["!!!", "???", "100"] * copies
    _, stats = deduplicate(_data(texts))
    assert stats.units == 3
