"""Run a set of algorithms over a dataset: filter, split, mine, validate, explain.

This is the one entry point the CLI (and later the job runner) calls; it is
pure apart from the optional progress callback.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bizlogic import __version__
from bizlogic.mining.behavior import is_behavior_rule, rule_table
from bizlogic.mining.dedup import deduplicate
from bizlogic.mining.evaluate import RuleEvaluator, is_keyword_rule, keyword_rule_counts
from bizlogic.mining.model import (
    AlgorithmOutput,
    Insight,
    MiningParams,
    Pattern,
    Rule,
    auto_min_support,
)
from bizlogic.mining.ranking import (
    confidently_above_bar,
    higher_share_replicates,
    holds,
    merge_duplicates,
    rank,
    score_rules,
)
from bizlogic.mining.registry import ALGORITHM_NAMES, get_algorithm, get_insight_maker
from bizlogic.mining.temporal import is_rise_rule, rise_table
from bizlogic.mining.texts import collapse_texts
from bizlogic.records.dataset import NAT, Dataset
from bizlogic.records.schema import format_timestamp

# stage name, units done, units total
ProgressFn = Callable[[str, int, int], None]

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
        # Insights written before they carried their language are in the run's.
        lang = str((data["meta"].get("params") or {}).get("lang") or "en")
        return cls(
            meta=dict(data["meta"]),
            rules=[Rule.from_dict(r) for r in data.get("rules", [])],
            patterns=[Pattern.from_dict(p) for p in data.get("patterns", [])],
            insights=[Insight.from_dict(i, lang) for i in data.get("insights", [])],
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


TRAIN, VALIDATION, TEST = 0, 1, 2


def split_parts(data: Dataset, fraction: float) -> np.ndarray:
    """TRAIN / VALIDATION / TEST per record, decided by its text group's key.

    Every copy of a text (and its near duplicates) lands on the same side, so a
    rule cannot be confirmed by the duplicates of the texts it was mined from.
    The held-out ``fraction`` is halved: validation selects rules, test measures them.
    """
    bucket = (data.text_key % np.uint64(_HASH_BUCKETS)).astype(np.int64)
    half = round(fraction * _HASH_BUCKETS / 2)
    part = np.full(len(data), TRAIN, dtype=np.int8)
    part[bucket < 2 * half] = TEST
    part[bucket < half] = VALIDATION
    return part


def _measure(rules: list[Rule], data: Dataset, examples: int) -> list[tuple]:
    """(antecedent count, joint count, examples) of every rule on ``data``.

    Keyword rules count distinct texts, as they were mined; other rules count records.
    """
    out: list[tuple] = [(0, 0, ())] * len(rules)
    keyword = [i for i, r in enumerate(rules) if is_keyword_rule(r)]
    if keyword:
        n_a, n_ac, found = keyword_rule_counts(
            [rules[i] for i in keyword], collapse_texts(data), examples
        )
        for j, i in enumerate(keyword):
            out[i] = (int(n_a[j]), int(n_ac[j]), found[j])
    others = [i for i, r in enumerate(rules) if not is_keyword_rule(r)]
    if others:
        evaluator = RuleEvaluator(data)
        for i in others:
            a, _c, ac = evaluator.counts(rules[i])
            out[i] = (a, ac, evaluator.examples(rules[i], examples) if examples else ())
    return out


def verdict(
    rule: Rule, data: Dataset, confidence: float | None, min_confidence: float
) -> bool | None:
    """Does ``data``, which the rule was not mined from, support it? None: cannot tell.

    ``confidence`` is the rule's confidence on ``data``. Behavioural rules (the
    annotator against the others) and temporal rises (from t against before t) are
    judged by ``higher_share_replicates`` on their 2×2 table there, every other rule
    by ``holds`` (mining/ranking.py).
    """
    if is_behavior_rule(rule):
        return higher_share_replicates(*rule_table(rule, data))
    if is_rise_rule(rule):
        return higher_share_replicates(*rise_table(rule, data))
    return holds(rule, confidence, min_confidence)


def _validate(
    rules: list[Rule], parts: dict[int, Dataset], params: MiningParams
) -> tuple[list[Rule], list[Rule], dict[str, bool | None]]:
    """Measure on validation and test, keep the rules the validation part supports.

    Returns (kept, dropped, verdict on the test part by rule key). Rules the
    validation part cannot judge (``verdict`` None) are kept.
    """
    for rule, (_a, _ac, examples) in zip(
        rules, _measure(rules, parts[TRAIN], params.max_examples), strict=True
    ):
        rule.examples = examples
    on_test: dict[str, bool | None] = {}
    for rule, (n_a, n_ac, _e) in zip(rules, _measure(rules, parts[TEST], 0), strict=True):
        rule.holdout_antecedent_count = n_a
        rule.holdout_support_count = n_ac
        rule.holdout_confidence = n_ac / n_a if n_a else None
        on_test[rule.key] = verdict(
            rule, parts[TEST], rule.holdout_confidence, params.min_confidence
        )
    kept, dropped = [], []
    for rule, (n_a, n_ac, _e) in zip(rules, _measure(rules, parts[VALIDATION], 0), strict=True):
        rule.validation_antecedent_count = n_a
        rule.validation_confidence = n_ac / n_a if n_a else None
        judged = verdict(rule, parts[VALIDATION], rule.validation_confidence, params.min_confidence)
        (dropped if judged is False else kept).append(rule)
    return kept, dropped, on_test


def _parent_confidence(rules: list[Rule], train: Dataset) -> dict[int, float]:
    """Best training confidence among each keyword combination's one-fewer-condition rules."""
    parents: list[Rule] = []
    owner: list[int] = []
    for i, rule in enumerate(rules):
        if len(rule.conditions) >= 2 and is_keyword_rule(rule):
            for skip in range(len(rule.conditions)):
                sub = rule.conditions[:skip] + rule.conditions[skip + 1 :]
                parents.append(replace(rule, conditions=sub))
                owner.append(i)
    if not parents:
        return {}
    n_a, n_ac, _ = keyword_rule_counts(parents, collapse_texts(train))
    best: dict[int, float] = {}
    for i, a, ac in zip(owner, n_a.tolist(), n_ac.tolist(), strict=True):
        if a:
            best[i] = max(best.get(i, 0.0), ac / a)
    return best


def pattern_accuracy(verdicts: Iterable[bool | None]) -> float | None:
    """Share of rules that hold on the test part, from their ``verdict`` there.

    Rules the test part cannot judge (None: their antecedent never occurs
    there, or a behavioural or temporal rule has too few records on a side)
    are left out of the denominator; None when no rule could be judged.
    """
    checked = [v for v in verdicts if v is not None]
    return sum(checked) / len(checked) if checked else None


def _count_by_type(rules: Sequence[Rule]) -> dict[str, int]:
    return dict(sorted(Counter(rule.rule_type for rule in rules).items()))


def run_analysis(
    data: Dataset,
    algorithms: Sequence[str] = ALGORITHM_NAMES,
    params: MiningParams | None = None,
    progress: ProgressFn | None = None,
) -> AnalysisResult:
    params = params or MiningParams()
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    selected, dedup = deduplicate(select_records(data, params))
    timings["deduplicate"] = round(time.perf_counter() - t0, 4)
    given_support = params.min_support
    params = replace(
        params,
        min_support=given_support if given_support is not None else auto_min_support(dedup.units),
    )
    part = split_parts(selected, params.holdout_fraction)
    train_mask = part == TRAIN
    parts = {p: selected.take(part == p) for p in (TRAIN, VALIDATION, TEST)}
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
    found = merge_duplicates([rule for out in outputs.values() for rule in out.rules])
    keyword = [r for r in found if is_keyword_rule(r)]
    sure = confidently_above_bar(keyword, params.min_confidence) if keyword else []
    uncertain = [r for r, ok in zip(keyword, sure, strict=True) if not ok]
    dropped = {id(r) for r in uncertain}
    kept, failed, on_test = _validate([r for r in found if id(r) not in dropped], parts, params)
    score_rules(kept, _parent_confidence(kept, parts[TRAIN]))
    ranked = rank(kept)
    rules = ranked if params.max_rules is None else ranked[: params.max_rules]
    beyond_cap = ranked[len(rules) :]
    timings["validate"] = round(time.perf_counter() - t0, 4)

    report("insights", len(algorithms) + 1, steps)
    insights: list[Insight] = []
    for name, out in outputs.items():
        maker = get_insight_maker(name)
        if maker is not None:
            # Insights speak only of rules the result keeps.
            out.rules = [r for r in rules if r.algorithm == name]
            insights.extend(maker(out, params))
    insights.sort(key=lambda i: (-i.impact_score, i.insight_type, i.title))
    report("done", steps, steps)

    accuracy_by_algorithm = {
        name: pattern_accuracy(on_test[r.key] for r in rules if name in r.algorithms)
        for name in outputs
    }
    timestamps = selected.created_at[selected.created_at != NAT]
    meta = {
        "version": __version__,
        "algorithms": list(algorithms),
        "params": _params_dict(params, given_support),
        "n_records": len(selected),
        "n_records_input": len(data),
        "n_train": int(train_mask.sum()),
        "n_validation": len(parts[VALIDATION]),
        "n_holdout": len(parts[TEST]),
        "dedup": dedup.to_dict(),
        "vocabulary_size": len(selected.vocab),
        "time_span": (
            [_iso(int(timestamps.min())), _iso(int(timestamps.max()))] if timestamps.size else None
        ),
        "pattern_accuracy": pattern_accuracy(on_test[r.key] for r in rules),
        "pattern_accuracy_by_algorithm": accuracy_by_algorithm,
        "rules_found": len(found),
        "rules_by_type": _count_by_type(rules),
        "rules_not_kept": {
            "confidence_bound_below_bar": _count_by_type(uncertain),
            "failed_validation": _count_by_type(failed),
            "beyond_max_rules": _count_by_type(beyond_cap),
        },
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


def _params_dict(params: MiningParams, given_support: int | None) -> dict[str, Any]:
    start, end = params.time_range
    return {
        "min_support": params.min_support,
        "min_support_source": "given" if given_support is not None else "auto",
        "max_rules": params.max_rules,
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
