"""One transaction per distinct text: the unit for keyword statistics.

A text annotated by three people, posted twice, or repeated from a template
appears as several records with (nearly) identical keywords. Counting each
copy makes chance keyword combinations look far better supported than they
are, so keyword mining collapses every group of records sharing a
``text_key`` (exact and near duplicates, see mining/dedup.py) into one
transaction whose class values are the group's majority (no class on a tie).
"""

from __future__ import annotations

import numpy as np

from bizlogic.records.dataset import Categorical, Dataset


def _majority(codes: np.ndarray, group: np.ndarray, n_groups: int, n_classes: int) -> np.ndarray:
    present = codes >= 0
    if n_classes == 0:
        return np.full(n_groups, -1, dtype=np.int32)
    table = np.bincount(
        group[present] * n_classes + codes[present], minlength=n_groups * n_classes
    ).reshape(n_groups, n_classes)
    best = table.argmax(axis=1)
    top = table.max(axis=1)
    ties = (table == top[:, None]).sum(axis=1) > 1
    return np.where((top == 0) | ties, -1, best).astype(np.int32)


def collapse_texts(data: Dataset) -> Dataset:
    """First record of each text group carries the keywords; class columns become majorities."""
    n = len(data)
    _, first, group = np.unique(data.text_key, return_index=True, return_inverse=True)
    if first.size == n:
        return data
    order = np.argsort(first, kind="stable")  # keep input order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = rank[group]
    first = first[order]
    n_groups = first.size
    collapsed = data.take(first)

    def majority(column: Categorical) -> Categorical:
        codes = _majority(column.codes, group, n_groups, len(column.categories))
        return Categorical(codes, column.categories)

    return Dataset(
        ids=collapsed.ids,
        sentiment=majority(data.sentiment),
        label=majority(data.label),
        annotator=collapsed.annotator,
        task=collapsed.task,
        rating=collapsed.rating,
        lead_time=collapsed.lead_time,
        created_at=collapsed.created_at,
        tokens=collapsed.tokens,
        vocab=collapsed.vocab,
        id_hash=collapsed.id_hash,
        text_key=collapsed.text_key,
    )
