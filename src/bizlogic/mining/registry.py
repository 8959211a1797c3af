"""Algorithms by name: the names are part of the API and the CLI.

The names and the module of each algorithm are listed in ``mining/catalogue.py``;
this module imports those modules when an algorithm or its insights are first
asked for, and checks that each function found there is marked for its name.
"""

from __future__ import annotations

import functools
import importlib

from bizlogic.mining.algorithm import Algorithm, InsightMaker
from bizlogic.mining.catalogue import ALGORITHM_NAMES, CATALOGUE

__all__ = ["ALGORITHM_NAMES", "Algorithm", "InsightMaker", "get_algorithm", "get_insight_maker"]


def get_algorithm(name: str) -> Algorithm:
    algorithms, _ = _loaded()
    try:
        return algorithms[name]
    except KeyError:
        raise ValueError(
            f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHM_NAMES)}"
        ) from None


def get_insight_maker(name: str) -> InsightMaker | None:
    _, insights = _loaded()
    return insights.get(name)


@functools.cache
def _loaded() -> tuple[dict[str, Algorithm], dict[str, InsightMaker]]:
    """Every catalogued algorithm and insight maker, imported on first use."""
    algorithms = {entry.name: _resolve(entry.name, entry.algorithm) for entry in CATALOGUE}
    insights = {entry.name: _resolve(entry.name, entry.insights) for entry in CATALOGUE}
    return algorithms, insights


def _resolve(name: str, path: str):
    """The function at "module:function", which must be marked for ``name``
    (``@algorithm(name)`` or ``@insight_maker(name)`` in ``mining/algorithm.py``)."""
    module, _, attribute = path.partition(":")
    fn = getattr(importlib.import_module(module), attribute)
    if getattr(fn, "algorithm_name", None) != name:
        raise RuntimeError(f"{path} is not marked as an entry point of {name!r}")
    return fn
