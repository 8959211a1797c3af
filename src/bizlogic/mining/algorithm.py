"""How an algorithm module declares its entry points, without importing the registry.

``@algorithm(NAME)`` marks the function the catalogue names for ``NAME`` and gives it
the default minimum support; ``@insight_maker(NAME)`` marks the function turning that
algorithm's output into insights. The registry (``mining/registry.py``) finds both
through the catalogue (``mining/catalogue.py``) and checks the marks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from bizlogic.mining.catalogue import ALGORITHM_NAMES
from bizlogic.mining.model import AlgorithmOutput, MiningParams, auto_min_support
from bizlogic.records.dataset import Dataset

# fn(data, train_mask, params): patterns describe all of ``data``; rules are
# mined on ``data.take(train_mask)`` so the engine can validate them on the rest.
Algorithm = Callable[[Dataset, np.ndarray, MiningParams], AlgorithmOutput]
# fn(output, params) -> insights for that algorithm's patterns and rules.
InsightMaker = Callable[[AlgorithmOutput, MiningParams], list]


def _known(name: str) -> None:
    if name not in ALGORITHM_NAMES:
        raise ValueError(f"unknown algorithm name {name!r}")


def algorithm(name: str) -> Callable[[Algorithm], Algorithm]:
    _known(name)

    def decorate(fn: Algorithm) -> Algorithm:
        @functools.wraps(fn)
        def run(data: Dataset, train_mask: np.ndarray, params: MiningParams) -> AlgorithmOutput:
            # Algorithms always see a number; the engine resolves it from the deduplicated
            # data, a direct call from the distinct texts it is given.
            if params.min_support is None:
                texts = int(np.unique(data.text_key).size)
                params = replace(params, min_support=auto_min_support(texts))
            return fn(data, train_mask, params)

        run.algorithm_name = name  # type: ignore[attr-defined]
        return run

    return decorate


def insight_maker(name: str) -> Callable[[InsightMaker], InsightMaker]:
    _known(name)

    def decorate(fn: InsightMaker) -> InsightMaker:
        fn.algorithm_name = name  # type: ignore[attr-defined]
        return fn

    return decorate
