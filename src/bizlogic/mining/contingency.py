"""Keyword × class count tables, the input of every keyword ↔ class test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bizlogic.records.dataset import Categorical, Dataset


@dataclass(frozen=True)
class KeywordClassCounts:
    """Counts over the records whose class value is present."""

    n: int  # records with a class value
    keyword: np.ndarray  # (V,) records containing each keyword
    klass: np.ndarray  # (K,) records of each class value
    joint: np.ndarray  # (V, K) records with keyword and class value


def one_hot(column: Categorical, rows: np.ndarray | None = None) -> sp.csr_matrix:
    """n × K indicator matrix; missing values get an empty row."""
    codes = column.codes if rows is None else column.codes[rows]
    present = codes >= 0
    n = codes.shape[0]
    return sp.csr_matrix(
        (np.ones(int(present.sum()), dtype=np.int32), (np.flatnonzero(present), codes[present])),
        shape=(n, len(column.categories)),
    )


def keyword_class_counts(data: Dataset, column: Categorical) -> KeywordClassCounts:
    present = np.flatnonzero(column.codes >= 0)
    tokens = data.tokens[present]
    indicator = one_hot(column, present)
    joint = (tokens.T @ indicator).toarray().astype(np.int64)
    return KeywordClassCounts(
        n=int(present.size),
        keyword=np.asarray(tokens.sum(axis=0)).ravel().astype(np.int64),
        klass=np.asarray(indicator.sum(axis=0)).ravel().astype(np.int64),
        joint=joint,
    )
