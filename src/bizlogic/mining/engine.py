"""Run a set of algorithms over a dataset: filter, split, mine, validate, explain.

This is the one entry point the CLI (and later the job runner) calls; it is
pure apart from the optional progress callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bizlogic import __version__
from bizlogic.mining.evaluate import RuleEvaluator
from bizlogic.mining.model import AlgorithmOutput, Insight, MiningParams, Pattern, Rule
from bizlogic.mining.registry import ALGORITHM_NAMES, get_algorithm, get_insight_maker
from bizlogic.records.dataset import NAT, Dataset
from bizlogic.records.schema import format_timestamp

# stage name, units done, units total
ProgressFn = Callable[[str, int, int], None]

# A rule "holds" on hold-out data when its confidence there is at most this
# far below min_confidence (the definition behind bl_pattern_accuracy).
HOLDOUT_TOLERANCE = 0.05
_HASH_BUCKETS = 10_000


@dataclass
class AnalysisResult:
    meta: dict[str, Any]
    rules: list[Rule] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)
    insights: list[Insight] = field(default_factory=list)

    @property
    def pattern_accuracy(self) -> float | None:
        return self.meta.get("pattern_accuracy")

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "rules": [r.to_dict() for r in self.rules],
            "patterns": [p.to_dict() for p in self.patterns],
            "insights": [i.to_dict() for i in self.insights],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisResult:
        return cls(
            meta=dict(data["meta"]),
            rules=[Rule.from_dict(r) for r in data.get("rules", [])],
            patterns=[Pattern.from_dict(p) for p in data.get("patterns", [])],
            insights=[Insight.from_dict(i) for i in data.get("insights", [])],
        )


def select_records(data: Dataset, params: MiningParams) -> Dataset:
    """Apply ``time_range`` and ``filters``; records without a timestamp fail a time range."""
    keep = np.ones(len(data), dtype=bool)
    start, end = params.time_range
    if start is not None or end is not None:
        keep &= data.created_at != NAT
        if start is not None:
            keep &= data.created_at >= int(start.timestamp())
        if end is not None:
            keep &= data.created_at < int(end.timestamp())
    if params.filters.annotators is not None:
        codes = [data.annotator.code_of(a) for a in params.filters.annotators]
        keep &= np.isin(data.annotator.codes, codes)
    if params.filters.sentiments is not None:
        codes = [data.sentiment.code_of(s) for s in params.filters.sentiments]
        keep &= np.isin(data.sentiment.codes, codes)
    return data if keep.all() else data.take(keep)


def holdout_mask(data: Dataset, fraction: float) -> np.ndarray:
    """Deterministic split by crc32(record id): the same record always lands on the same side."""
    if fraction <= 0.0:
        return np.zeros(len(data), dtype=bool)
    return (data.id_hash % _HASH_BUCKETS) < round(fraction * _HASH_BUCKETS)


def _validate(rules: list[Rule], holdout: Dataset, train: Dataset, params: MiningParams) -> None:
    evaluator = RuleEvaluator(holdout)
    train_evaluator = RuleEvaluator(train)
    for rule in rules:
        n_a, _n_c, n_ac = evaluator.counts(rule)
        rule.holdout_antecedent_count = n_a
        rule.holdout_support_count = n_ac
        rule.holdout_confidence = n_ac / n_a if n_a else None
        rule.examples = train_evaluator.examples(rule, params.max_examples)


def pattern_accuracy(rules: Sequence[Rule], min_confidence: float) -> float | None:
    """Share of rules whose hold-out confidence >= min_confidence - tolerance.

    Rules whose antecedent never occurs in the hold-out part cannot be
    checked and are left out of the denominator.
    """
    checked = [r for r in rules if r.holdout_confidence is not None]
    if not checked:
        return None
    held = sum(r.holdout_confidence >= min_confidence - HOLDOUT_TOLERANCE - 1e-12 for r in checked)
    return held / len(checked)


def run_analysis(
    data: Dataset,
    algorithms: Sequence[str] = ALGORITHM_NAMES,
    params: MiningParams | None = None,
    progress: ProgressFn | None = None,
) -> AnalysisResult:
    params = params or MiningParams()
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    selected = select_records(data, params)
    is_holdout = holdout_mask(selected, params.holdout_fraction)
    train_mask = ~is_holdout
    train, holdout = selected.take(train_mask), selected.take(is_holdout)
    timings: dict[str, float] = {}
    outputs: dict[str, AlgorithmOutput] = {}
    steps = len(algorithms) + 2
    for step, name in enumerate(algorithms):
        fn = get_algorithm(name)
        report(name, step, steps)
        t0 = time.perf_counter()
        outputs[name] = fn(selected, train_mask, params)
        timings[name] = round(time.perf_counter() - t0, 4)

    report("validate", len(algorithms), steps)
    t0 = time.perf_counter()
    rules = [rule for out in outputs.values() for rule in out.rules]
    _validate(rules, holdout, train, params)
    timings["validate"] = round(time.perf_counter() - t0, 4)

    report("insights", len(algorithms) + 1, steps)
    insights: list[Insight] = []
    for name, out in outputs.items():
        maker = get_insight_maker(name)
        if maker is not None:
            insights.extend(maker(out, params))
    insights.sort(key=lambda i: (-i.impact_score, i.insight_type, i.title))
    report("done", steps, steps)

    accuracy_by_algorithm = {
        name: pattern_accuracy(out.rules, params.min_confidence) for name, out in outputs.items()
    }
    timestamps = selected.created_at[selected.created_at != NAT]
    meta = {
        "version": __version__,
        "algorithms": list(algorithms),
        "params": _params_dict(params),
        "n_records": len(selected),
        "n_records_input": len(data),
        "n_train": len(train),
        "n_holdout": len(holdout),
        "vocabulary_size": len(selected.vocab),
        "time_span": (
            [_iso(int(timestamps.min())), _iso(int(timestamps.max()))] if timestamps.size else None
        ),
        "pattern_accuracy": pattern_accuracy(rules, params.min_confidence),
        "pattern_accuracy_by_algorithm": accuracy_by_algorithm,
        "stats": {name: out.stats for name, out in outputs.items()},
        "timings_s": timings,
        "duration_s": round(time.perf_counter() - started, 4),
    }
    return AnalysisResult(
        meta=meta,
        rules=rules,
        patterns=[p for out in outputs.values() for p in out.patterns],
        insights=insights,
    )


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return format_timestamp(datetime.fromtimestamp(epoch, tz=UTC))


def _params_dict(params: MiningParams) -> dict[str, Any]:
    start, end = params.time_range
    return {
        "min_support": params.min_support,
        "min_confidence": params.min_confidence,
        "max_fdr": params.max_fdr,
        "max_len": params.max_len,
        "time_range": [start and format_timestamp(start), end and format_timestamp(end)],
        "filters": {
            "annotators": list(params.filters.annotators) if params.filters.annotators else None,
            "sentiments": list(params.filters.sentiments) if params.filters.sentiments else None,
        },
        "holdout_fraction": params.holdout_fraction,
        "lang": params.lang,
    }
