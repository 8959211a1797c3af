"""Evaluate a rule's conditions on any dataset: hold-out checks, examples, re-measuring.

Conditions are evaluated as sorted row-index arrays so a keyword condition
costs one sparse column lookup rather than a full-length boolean mask.
"""

from __future__ import annotations

import numpy as np

from bizlogic.mining.model import Condition, Rule
from bizlogic.records.dataset import NAT, Dataset

_NUMERIC = ("rating", "lead_time", "created_at")
_CLASSES = ("sentiment", "label", "annotator")


class RuleEvaluator:
    def __init__(self, data: Dataset) -> None:
        self.data = data
        self._csc = None
        self._vocab_index = None
        self._all = np.arange(len(data), dtype=np.int64)

    def _keyword_rows(self, word: str) -> np.ndarray:
        if self._csc is None:
            self._csc = self.data.tokens.tocsc()
            self._vocab_index = self.data.keyword_index()
        col = self._vocab_index.get(word)
        if col is None:
            return np.empty(0, dtype=np.int64)
        start, end = self._csc.indptr[col], self._csc.indptr[col + 1]
        return np.sort(self._csc.indices[start:end]).astype(np.int64)

    def _filter(self, rows: np.ndarray, cond: Condition) -> np.ndarray:
        if cond.operator == "contains":
            return np.intersect1d(rows, self._keyword_rows(str(cond.value)), assume_unique=True)
        if cond.field in _CLASSES and cond.operator == "eq":
            column = self.data.class_column(cond.field)
            return rows[column.codes[rows] == column.code_of(str(cond.value))]
        if cond.field in _NUMERIC and cond.operator in ("gte", "lt"):
            values = getattr(self.data, cond.field)[rows]
            threshold = cond.value
            if cond.field == "created_at":
                threshold = int(threshold.timestamp())
                present = values != NAT
            else:
                present = ~np.isnan(values)
            keep = values >= threshold if cond.operator == "gte" else values < threshold
            return rows[present & keep]
        raise ValueError(f"unsupported condition {cond.field} {cond.operator}")

    def rows(self, conditions: tuple[Condition, ...] | list[Condition]) -> np.ndarray:
        ordered = sorted(conditions, key=lambda c: c.operator != "contains")
        rows = self._all
        for i, cond in enumerate(ordered):
            if i == 0 and cond.operator == "contains":
                rows = self._keyword_rows(str(cond.value))
            else:
                rows = self._filter(rows, cond)
        return rows

    def counts(self, rule: Rule) -> tuple[int, int, int]:
        """(antecedent, consequent, both) counts of ``rule`` on this dataset."""
        antecedent = self.rows(rule.conditions)
        both = self._filter(antecedent, rule.consequent)
        consequent = self._filter(self._all, rule.consequent)
        return len(antecedent), len(consequent), len(both)

    def examples(self, rule: Rule, limit: int) -> tuple[str, ...]:
        both = self._filter(self.rows(rule.conditions), rule.consequent)
        return tuple(str(i) for i in self.data.ids[both[:limit]])
