"""One transaction per annotated text: the unit for keyword co-occurrence statistics.

A text annotated by three people appears as three records with identical
keywords. Counting them three times makes chance keyword combinations look
three times as well supported and their p-values far too small, so
co-occurrence mining collapses each task to one transaction whose class
values are the annotators' majority (no class on a tie).
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


def collapse_tasks(data: Dataset) -> Dataset:
    """First record of each task carries the keywords; class columns become majorities."""
    task = data.task.codes.astype(np.int64)
    n = len(data)
    if n == 0 or (task < 0).all() or np.unique(task[task >= 0]).size == int((task >= 0).sum()):
        return data
    # Records without a task are their own group.
    key = np.where(task >= 0, task, data.task.codes.max() + 1 + np.arange(n))
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
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
    )
