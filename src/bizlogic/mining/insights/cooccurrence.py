"""Insights for keyword_cooccurrence: keyword combinations that predict a class, topics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bizlogic.mining.algorithm import insight_maker
from bizlogic.mining.cooccurrence import NAME
from bizlogic.mining.insights.common import Wording, bilingual, impact_score, localise, pct
from bizlogic.mining.model import AlgorithmOutput, Insight, MiningParams

_COMBO_TITLE = {
    "en": "Keyword combinations that predict {target}",
    "zh": "可预测{target}的关键词组合",
}
_COMBO_BODY = {
    "en": "{count} keyword combinations predict {target} better than any of their parts, "
    "e.g. {example} ({conf} of {n_a} records).",
    "zh": "有 {count} 个关键词组合比其中任一单词更能预测{target}，"
    "例如 {example}（{n_a} 条记录中占 {conf}）。",
}
_COMBO_RECS = {
    "en": [
        "Add the combination {example} to the annotation guidelines as a worked example.",
        "Check whether records matching {example} share a product, channel or time window.",
    ],
    "zh": [
        "将组合 {example} 作为示例写入标注规范。",
        "检查符合 {example} 的记录是否来自同一产品、渠道或时间段。",
    ],
}
_CLUSTER_TITLE = {"en": "Topic cluster: {words}", "zh": "话题簇：{words}"}
_CLUSTER_BODY = {
    "en": "{size} keywords co-occur far more often than chance (mean NPMI {npmi:.2f}); "
    "together they describe one recurring topic.",
    "zh": "{size} 个关键词的共现远高于随机水平（平均 NPMI {npmi:.2f}），"
    "共同构成一个反复出现的话题。",
}
_CLUSTER_RECS = {
    "en": [
        "Consider a dedicated label for this topic.",
        "Review how this topic's sentiment evolves.",
    ],
    "zh": ["考虑为该话题设立专门的标签。", "关注该话题情感随时间的变化。"],
}


@insight_maker(NAME)
def cooccurrence_insights(output: AlgorithmOutput, params: MiningParams) -> list[Insight]:
    insights = []
    combos: dict[str, list] = {}
    for rule in output.rules:
        if rule.rule_type == "class_association" and len(rule.conditions) >= 2:
            target = f"{rule.consequent.field} = {rule.consequent.value}"
            combos.setdefault(target, []).append(rule)
    for target, rules in sorted(combos.items()):
        top = rules[0]
        base = top.consequent_count / top.n_records
        values = {
            "target": target,
            "count": len(rules),
            "example": " + ".join(str(c.value) for c in top.conditions),
            "conf": pct(top.confidence),
            "n_a": top.antecedent_count,
        }
        insights.append(
            bilingual(
                "pattern_insight",
                _wording(_COMBO_TITLE, _COMBO_BODY, _COMBO_RECS, values),
                impact_score(
                    (top.confidence - base) / (1 - base) if base < 1 else 0.0,
                    min(1.0, sum(r.antecedent_count for r in rules) / top.n_records),
                ),
                NAME,
                {"rules": [r.key for r in rules[:5]]},
                params.lang,
            )
        )
    for pattern in output.patterns[:5]:
        words = pattern.data["keywords"]
        values = {
            "words": ", ".join(words[:5]),
            "size": len(words),
            "npmi": pattern.data["mean_npmi"],
        }
        coverage = max(pattern.data["counts"]) / max(1, output.stats.get("n_records", 0) or 1)
        insights.append(
            bilingual(
                "pattern_insight",
                _wording(_CLUSTER_TITLE, _CLUSTER_BODY, _CLUSTER_RECS, values),
                impact_score(pattern.strength, min(1.0, coverage)),
                NAME,
                {"keywords": words},
                params.lang,
            )
        )
    return insights


def _wording(
    title: dict[str, str],
    body: dict[str, str],
    recommendations: dict[str, list[str]],
    values: dict[str, Any],
) -> Callable[[str], Wording]:
    """Both languages fill their templates with the same ``values``: nothing here is worded."""

    def word(lang: str) -> Wording:
        return (
            localise(title, lang, **values),
            localise(body, lang, **values),
            [r.format(**values) for r in recommendations[lang]],
        )

    return word
