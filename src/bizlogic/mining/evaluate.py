"""Evaluate a rule's conditions on any dataset: hold-out checks, examples, re-measuring.

Conditions are evaluated as sorted row-index arrays so a keyword condition
costs one sparse column lookup rather than a full-length boolean mask.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

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


def is_keyword_rule(rule: Rule) -> bool:
    """Keywords → one class value: the shape every keyword algorithm produces."""
    return (
        all(c.operator == "contains" for c in rule.conditions)
        and rule.consequent.operator == "eq"
        and rule.consequent.field in _CLASSES
    )


def keyword_rule_counts(
    rules: list[Rule], data: Dataset, examples: int = 0
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
    """(antecedent counts, joint counts, example ids) of keyword rules, all rules at once.

    Conditions become a rules × vocabulary matrix; one sparse product with the
    records' keyword matrix counts, per record and rule, the conditions met.
    Example ids are the first ``examples`` records (in data order) matching both sides.
    """
    n_rules = len(rules)
    index = data.keyword_index()
    rows, cols = [], []
    need = np.zeros(n_rules, dtype=np.int64)
    target = np.full(n_rules, -2, dtype=np.int64)
    field_of = np.zeros(n_rules, dtype=np.int64)
    for r, rule in enumerate(rules):
        words = {str(c.value) for c in rule.conditions}
        need[r] = len(words)
        for word in words:
            col = index.get(word)
            if col is None:
                need[r] = np.iinfo(np.int64).max  # a keyword this data never saw
            else:
                rows.append(r)
                cols.append(col)
        field_of[r] = _CLASSES.index(rule.consequent.field)
        target[r] = data.class_column(rule.consequent.field).code_of(str(rule.consequent.value))
    conditions = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(n_rules, len(data.vocab))
    )
    met = (data.tokens @ conditions.T).tocsr()  # records × rules: conditions met
    record = np.repeat(np.arange(met.shape[0]), np.diff(met.indptr))
    rule = met.indices
    matched = met.data == need[rule]
    record, rule = record[matched], rule[matched]
    codes = np.stack([data.class_column(name).codes for name in _CLASSES])
    hit = codes[field_of[rule], record] == target[rule]
    n_a = np.bincount(rule, minlength=n_rules)
    n_ac = np.bincount(rule[hit], minlength=n_rules)
    found: list[tuple[str, ...]] = [() for _ in range(n_rules)]
    if examples > 0 and hit.any():
        both_rule, both_record = rule[hit], record[hit]
        order = np.lexsort((both_record, both_rule))
        both_rule, both_record = both_rule[order], both_record[order]
        starts = np.flatnonzero(np.r_[True, np.diff(both_rule) != 0])
        ends = np.r_[starts[1:], both_rule.size]
        ids = data.ids
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            picked = both_record[start : min(end, start + examples)]
            found[int(both_rule[start])] = tuple(str(i) for i in ids[picked])
    return n_a, n_ac, found
