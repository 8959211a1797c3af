"""sentiment_correlation: which keywords make a sentiment more likely, and how sure we are.

Keyword statistics count each annotated text once: a task annotated by
several people is one observation whose sentiment is their majority, so
duplicated texts cannot make chance associations look significant.
Every (keyword, sentiment) pair whose keyword occurs in at least
``min_support`` records is one tested hypothesis; p-values come from a
one-sided Fisher/G test and are corrected together with Benjamini–Hochberg.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from bizlogic.mining.algorithm import algorithm
from bizlogic.mining.contingency import KeywordClassCounts, keyword_class_counts
from bizlogic.mining.insights.common import pct
from bizlogic.mining.measures import association_p_values, benjamini_hochberg, rule_measures
from bizlogic.mining.model import AlgorithmOutput, Condition, MiningParams, Pattern
from bizlogic.mining.rulebuild import build_rules, rank_rules
from bizlogic.mining.texts import collapse_texts
from bizlogic.records.dataset import Dataset

NAME = "sentiment_correlation"
TOP_DISTINCTIVE = 20
# Ordinal reading of common sentiment names, for rating agreement.
SENTIMENT_ORDER = {
    "negative": -1,
    "neg": -1,
    "负面": -1,
    "消极": -1,
    "neutral": 0,
    "neu": 0,
    "中性": 0,
    "positive": 1,
    "pos": 1,
    "正面": 1,
    "积极": 1,
}
# A rating agrees with a sentiment when it falls in that sentiment's band (1–5 scale).
RATING_BANDS = {-1: (1.0, 2.0), 0: (3.0, 3.0), 1: (4.0, 5.0)}


def _tested_pairs(
    counts: KeywordClassCounts, min_support: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(keyword idx, class idx, p, q) for every keyword with at least min_support records."""
    keywords = np.flatnonzero(counts.keyword >= min_support)
    n_classes = counts.klass.shape[0]
    kw = np.repeat(keywords, n_classes)
    cls = np.tile(np.arange(n_classes), keywords.shape[0])
    p = association_p_values(counts.n, counts.keyword[kw], counts.klass[cls], counts.joint[kw, cls])
    return kw, cls, p, benjamini_hochberg(p)


def _distinctive(data: Dataset, params: MiningParams) -> list[Pattern]:
    counts = keyword_class_counts(data, data.sentiment)
    kw, cls, _p, q = _tested_pairs(counts, params.min_support)
    n_ac = counts.joint[kw, cls]
    m = rule_measures(counts.n, counts.keyword[kw], counts.klass[cls], n_ac)
    significant = (q <= params.max_fdr) & (m.lift > 1.0) & (n_ac >= params.min_support)
    patterns = []
    for c, sentiment in enumerate(data.sentiment.categories):
        idx = np.flatnonzero(significant & (cls == c))
        if idx.size == 0:
            continue
        order = idx[np.lexsort((kw[idx], -m.npmi[idx]))][:TOP_DISTINCTIVE]
        keywords = [
            {
                "keyword": data.vocab[kw[i]],
                "count": int(n_ac[i]),
                "confidence": float(m.confidence[i]),
                "lift": float(m.lift[i]),
                "npmi": float(m.npmi[i]),
                "q_value": float(q[i]),
            }
            for i in order
        ]
        patterns.append(
            Pattern(
                NAME,
                "distinctive_keywords",
                f"Keywords over-represented in {sentiment} records: "
                + ", ".join(k["keyword"] for k in keywords[:5]),
                strength=float(max(0.0, m.npmi[order[0]])),
                data={
                    "sentiment": sentiment,
                    "base_rate": float(counts.klass[c] / counts.n),
                    "keywords": keywords,
                },
            )
        )
    return patterns


def _distribution(data: Dataset) -> Pattern:
    counts = data.sentiment.counts()
    total = int(counts.sum())
    shares = counts / total if total else counts.astype(float)
    nonzero = shares[shares > 0]
    k = len(data.sentiment.categories)
    entropy = float(-(nonzero * np.log(nonzero)).sum())
    concentration = 1.0 - entropy / np.log(k) if k > 1 else 1.0
    top = int(np.argmax(counts)) if total else -1
    description = (
        f"{total} records carry a sentiment; most common: {data.sentiment.categories[top]} "
        f"({pct(float(shares[top]))})"
        if total
        else "No record carries a sentiment"
    )
    return Pattern(
        NAME,
        "sentiment_distribution",
        description,
        strength=float(concentration),
        data={
            "n": total,
            "missing": len(data) - total,
            "counts": {c: int(v) for c, v in zip(data.sentiment.categories, counts, strict=True)},
            "shares": {c: float(v) for c, v in zip(data.sentiment.categories, shares, strict=True)},
        },
    )


def _rating_agreement(data: Dataset) -> Pattern | None:
    order = np.array(
        [SENTIMENT_ORDER.get(c, 99) for c in data.sentiment.categories] + [99], dtype=np.int64
    )
    ordinal = order[data.sentiment.codes]  # code -1 picks the trailing 99
    usable = (ordinal != 99) & ~np.isnan(data.rating)
    if usable.sum() < 3:
        return None
    ratings, levels = data.rating[usable], ordinal[usable]
    agree = np.zeros(ratings.shape[0], dtype=bool)
    for level, (low, high) in RATING_BANDS.items():
        agree |= (levels == level) & (ratings >= low) & (ratings <= high)
    with warnings.catch_warnings():  # one sentiment or one rating: rho is NaN, stored as None
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho, p_value = stats.spearmanr(ratings, levels)
    per_sentiment = {}
    for c, name in enumerate(data.sentiment.categories):
        mask = (data.sentiment.codes == c) & ~np.isnan(data.rating)
        if mask.any():
            per_sentiment[name] = {
                "count": int(mask.sum()),
                "mean_rating": float(data.rating[mask].mean()),
            }
    share = float(agree.mean())
    return Pattern(
        NAME,
        "rating_agreement",
        f"Ratings agree with the sentiment on {pct(share)} of {int(usable.sum())} rated records",
        strength=share,
        data={
            "n": int(usable.sum()),
            "agreement": share,
            "spearman_rho": None if np.isnan(rho) else float(rho),
            "spearman_p": None if np.isnan(p_value) else float(p_value),
            "bands": {"negative": [1, 2], "neutral": [3, 3], "positive": [4, 5]},
            "per_sentiment": per_sentiment,
        },
    )


@algorithm(NAME)
def sentiment_correlation(
    data: Dataset, train_mask: np.ndarray, params: MiningParams
) -> AlgorithmOutput:
    # Keyword statistics count each text once (see mining/texts.py).
    train = collapse_texts(data.take(train_mask))
    counts = keyword_class_counts(train, train.sentiment)
    kw, cls, p, q = _tested_pairs(counts, params.min_support)
    n_a, n_c, n_ac = counts.keyword[kw], counts.klass[cls], counts.joint[kw, cls]
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = np.where(n_a > 0, n_ac / np.maximum(n_a, 1), 0.0)
    keep = (
        (n_ac >= params.min_support) & (confidence >= params.min_confidence) & (q <= params.max_fdr)
    )
    idx = np.flatnonzero(keep)
    rules = build_rules(
        NAME,
        "keyword_sentiment",
        [(Condition("text", "contains", train.vocab[kw[i]]),) for i in idx],
        [Condition("sentiment", "eq", train.sentiment.categories[cls[i]]) for i in idx],
        counts.n,
        n_a[idx],
        n_c[idx],
        n_ac[idx],
        p[idx],
        q[idx],
    )
    patterns = [_distribution(data), *_distinctive(collapse_texts(data), params)]
    agreement = _rating_agreement(data)
    if agreement is not None:
        patterns.append(agreement)
    return AlgorithmOutput(
        rules=rank_rules(rules),
        patterns=patterns,
        stats={
            "texts_with_sentiment": counts.n,
            "keywords_tested": int(np.unique(kw).size),
            "pairs_tested": int(kw.size),
            "rules": len(rules),
        },
    )
