"""Algorithms by name: the names are part of the API and the CLI."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from bizlogic.mining.model import AlgorithmOutput, MiningParams, auto_min_support
from bizlogic.records.dataset import Dataset

# fn(data, train_mask, params): patterns describe all of ``data``; rules are
# mined on ``data.take(train_mask)`` so the engine can validate them on the rest.
Algorithm = Callable[[Dataset, np.ndarray, MiningParams], AlgorithmOutput]

ALGORITHM_NAMES = (
    "sentiment_correlation",
    "keyword_cooccurrence",
    "temporal_trends",
    "user_behavior",
)
_REGISTRY: dict[str, Algorithm] = {}


def register(name: str) -> Callable[[Algorithm], Algorithm]:
    if name not in ALGORITHM_NAMES:
        raise ValueError(f"unknown algorithm name {name!r}")

    def decorate(fn: Algorithm) -> Algorithm:
        @functools.wraps(fn)
        def run(data: Dataset, train_mask: np.ndarray, params: MiningParams) -> AlgorithmOutput:
            # Algorithms always see a number; the engine resolves it from the deduplicated
            # data, a direct call from the distinct texts it is given.
            if params.min_support is None:
                texts = int(np.unique(data.text_key).size)
                params = replace(params, min_support=auto_min_support(texts))
            return fn(data, train_mask, params)

        _REGISTRY[name] = run
        return run

    return decorate


def get_algorithm(name: str) -> Algorithm:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHM_NAMES)}"
        ) from None


def _load() -> None:
    # Importing the modules runs their decorators: @register in each algorithm
    # module, @register_insights in its insight module under mining/insights/.
    from bizlogic.mining import behavior, cooccurrence, sentiment, temporal  # noqa: F401
    from bizlogic.mining.insights import behavior as behavior_insights  # noqa: F401
    from bizlogic.mining.insights import cooccurrence as cooccurrence_insights  # noqa: F401
    from bizlogic.mining.insights import sentiment as sentiment_insights  # noqa: F401
    from bizlogic.mining.insights import temporal as temporal_insights  # noqa: F401


# fn(output, params) -> insights for that algorithm's patterns and rules.
InsightMaker = Callable[[AlgorithmOutput, MiningParams], list]
_INSIGHTS: dict[str, InsightMaker] = {}


def register_insights(name: str) -> Callable[[InsightMaker], InsightMaker]:
    def decorate(fn: InsightMaker) -> InsightMaker:
        _INSIGHTS[name] = fn
        return fn

    return decorate


def get_insight_maker(name: str) -> InsightMaker | None:
    _load()
    return _INSIGHTS.get(name)
