"""The algorithms by name, and where each one lives, without importing any of them.

The names are part of the API and the CLI, which show and check them before (or
without) running an analysis: importing this module costs nothing. The registry
(``mining/registry.py``) imports the modules named here when an algorithm is first
run; the algorithm modules themselves never import the registry.
"""

from __future__ import annotations

from typing import NamedTuple

# The largest number of rules an analysis keeps by default (best interestingness first).
DEFAULT_MAX_RULES = 500


class Entry(NamedTuple):
    name: str
    algorithm: str  # "module:function", fn(data, train_mask, params) -> AlgorithmOutput
    insights: str  # "module:function", fn(output, params) -> list of insights


CATALOGUE: tuple[Entry, ...] = (
    Entry(
        "sentiment_correlation",
        "bizlogic.mining.sentiment:sentiment_correlation",
        "bizlogic.mining.insights.sentiment:sentiment_insights",
    ),
    Entry(
        "keyword_cooccurrence",
        "bizlogic.mining.cooccurrence:keyword_cooccurrence",
        "bizlogic.mining.insights.cooccurrence:cooccurrence_insights",
    ),
    Entry(
        "temporal_trends",
        "bizlogic.mining.temporal:temporal_trends",
        "bizlogic.mining.insights.temporal:temporal_insights",
    ),
    Entry(
        "user_behavior",
        "bizlogic.mining.behavior:user_behavior",
        "bizlogic.mining.insights.behavior:behavior_insights",
    ),
)

ALGORITHM_NAMES: tuple[str, ...] = tuple(entry.name for entry in CATALOGUE)
