"""Insights for sentiment_correlation: the keywords behind each sentiment, rating conflicts."""

from __future__ import annotations

from collections.abc import Callable

from bizlogic.mining.algorithm import insight_maker
from bizlogic.mining.insights.common import (
    Wording,
    bilingual,
    impact_score,
    localise,
    pct,
    sentiment_name,
)
from bizlogic.mining.model import AlgorithmOutput, Insight, MiningParams, Rule
from bizlogic.mining.sentiment import NAME

_DRIVERS = {
    "en": "What drives {sentiment} sentiment: {keywords}",
    "zh": "{sentiment}情感的主要驱动词：{keywords}",
}
_DRIVERS_BODY = {
    "en": "{count} keywords make {sentiment} much more likely than its base rate of {base}. "
    "The strongest, '{top}', appears in {top_n} records and {top_conf} of them are {sentiment}.",
    "zh": "有 {count} 个关键词使{sentiment}情感的概率明显高于基准 {base}。"
    "最强的是“{top}”，出现在 {top_n} 条记录中，其中 {top_conf} 为{sentiment}。",
}
_DRIVERS_RECS = {
    "en": [
        "Read a sample of the records containing '{top}' to confirm the cause.",
        "Track the share of records mentioning {keywords_short} week by week.",
        "Use these keywords to pre-label or route new records for review.",
    ],
    "zh": [
        "抽查包含“{top}”的记录，确认其背后的原因。",
        "按周跟踪提及 {keywords_short} 的记录占比。",
        "利用这些关键词对新记录进行预标注或分流复核。",
    ],
}
_AGREEMENT_TITLE = {
    "en": "Ratings contradict the sentiment on {share} of rated records",
    "zh": "{share} 的已评分记录中评分与情感标注不一致",
}
_AGREEMENT_BODY = {
    "en": "Of {n} records with both a rating and a sentiment, only {agree} have a rating in the "
    "band expected for their sentiment (negative 1–2, neutral 3, positive 4–5).",
    "zh": "在 {n} 条同时有评分和情感的记录中，只有 {agree} 的评分落在该情感应有的区间"
    "（负面 1–2，中性 3，正面 4–5）。",
}
_AGREEMENT_RECS = {
    "en": [
        "Clarify in the guidelines how sentiment relates to the star rating.",
        "Re-review records whose rating and sentiment disagree most (e.g. 5 stars, negative).",
    ],
    "zh": [
        "在标注规范中明确情感与星级评分的对应关系。",
        "优先复核评分与情感严重不符的记录（如 5 星却标为负面）。",
    ],
}
# Below this share, rating/sentiment agreement is reported as a quality problem.
AGREEMENT_ALERT = 0.7


@insight_maker(NAME)
def sentiment_insights(output: AlgorithmOutput, params: MiningParams) -> list[Insight]:
    insights = []
    by_sentiment: dict[str, list] = {}
    for rule in output.rules:
        by_sentiment.setdefault(str(rule.consequent.value), []).append(rule)
    for sentiment, rules in sorted(by_sentiment.items()):
        top = rules[0]
        base = top.consequent_count / top.n_records
        effect = (top.confidence - base) / (1.0 - base) if base < 1 else 0.0
        coverage = min(1.0, sum(r.antecedent_count for r in rules) / top.n_records)
        insights.append(
            bilingual(
                "pattern_insight",
                _drivers_wording(sentiment, rules),
                impact_score(effect, coverage),
                NAME,
                {"rules": [r.key for r in rules[:5]], "effect": effect, "coverage": coverage},
                params.lang,
            )
        )
    for pattern in output.patterns:
        if (
            pattern.pattern_type == "rating_agreement"
            and pattern.data["agreement"] < AGREEMENT_ALERT
        ):
            share = pattern.data["agreement"]
            insights.append(
                bilingual(
                    "quality_insight",
                    _agreement_wording(share, pattern.data["n"]),
                    impact_score(1.0 - share, 1.0),
                    NAME,
                    {"agreement": share, "n": pattern.data["n"]},
                    params.lang,
                )
            )
    return insights


def _drivers_wording(sentiment: str, rules: list[Rule]) -> Callable[[str], Wording]:
    """The keyword-driver insight's words; every figure is formatted once, here."""
    top = rules[0]
    names = [str(r.conditions[0].value) for r in rules[:5]]
    figures = {
        "keywords": ", ".join(
            f"{w} ({pct(r.confidence)})" for w, r in zip(names, rules, strict=False)
        ),
        "keywords_short": ", ".join(names[:3]),
        "count": len(rules),
        "base": pct(top.consequent_count / top.n_records),
        "top": names[0],
        "top_n": top.antecedent_count,
        "top_conf": pct(top.confidence),
    }

    def word(lang: str) -> Wording:
        values = {**figures, "sentiment": sentiment_name(sentiment, lang)}
        return (
            localise(_DRIVERS, lang, **values),
            localise(_DRIVERS_BODY, lang, **values),
            [r.format(**values) for r in _DRIVERS_RECS[lang]],
        )

    return word


def _agreement_wording(share: float, n: int) -> Callable[[str], Wording]:
    values = {"share": pct(1 - share), "n": n, "agree": pct(share)}

    def word(lang: str) -> Wording:
        return (
            localise(_AGREEMENT_TITLE, lang, **values),
            localise(_AGREEMENT_BODY, lang, **values),
            list(_AGREEMENT_RECS[lang]),
        )

    return word
