"""Insights for user_behavior: one readable finding per reason an annotator stands out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bizlogic.mining.algorithm import insight_maker
from bizlogic.mining.behavior import NAME
from bizlogic.mining.insights.common import Wording, bilingual, impact_score, localise, pct
from bizlogic.mining.model import AlgorithmOutput, Insight, MiningParams, Rule

_COLUMN_NAMES = {
    "en": {"sentiment": "sentiment", "label": "label"},
    "zh": {"sentiment": "情感", "label": "标签"},
}
_INSIGHT_TYPE = {
    "too_fast": "efficiency_insight",
    "label_skewed": "quality_insight",
    "drifting": "quality_insight",
    "low_agreement": "quality_insight",
}
_TITLES = {
    "label_skewed": {
        "en": "Annotator {a} over-uses '{value}' for {column}",
        "zh": "标注员 {a} 的{column}标注过多使用“{value}”",
    },
    "drifting": {
        "en": "Annotator {a}'s {column} labels drifted over time",
        "zh": "标注员 {a} 的{column}标注随时间发生漂移",
    },
    "low_agreement": {
        "en": "Annotator {a} often disagrees with co-annotators on {column}",
        "zh": "标注员 {a} 的{column}标注常与其他标注员不一致",
    },
    "too_fast": {
        "en": "Annotator {a} works much faster than everyone else",
        "zh": "标注员 {a} 的标注速度远快于其他人",
    },
}
_BODIES = {
    "label_skewed": {
        "en": "{a} gave '{value}' to {share} of their {n} records, against {rest} for everyone "
        "else and {typical} for the typical annotator (q = {q}, Cramér's V = {v}).",
        "zh": "{a} 的 {n} 条记录中有 {share} 标为“{value}”，其他标注员合计为 {rest}，"
        "典型标注员为 {typical}（q = {q}，Cramér's V = {v}）。",
    },
    "drifting": {
        "en": "Between the first and the second half of their {n} records (split at {split}), "
        "the share of '{value}' moved from {before} to {after} (q = {q}).",
        "zh": "在其 {n} 条记录的前后两半之间（分界 {split}），“{value}”的占比从 {before} "
        "变为 {after}（q = {q}）。",
    },
    "low_agreement": {
        "en": "On {judgements} tasks shared with other annotators, {a} matched the majority of "
        "the others {rate} of the time, against {rest} for everyone else (q = {q}).",
        "zh": "在与其他标注员共同标注的 {judgements} 个任务中，{a} 与其他人多数意见一致的比例为 "
        "{rate}，其他标注员为 {rest}（q = {q}）。",
    },
    "too_fast": {
        "en": "{a}'s median time per record is {median} s, against {pool} s for the typical "
        "annotator (robust z = {z}); {a} produced {coverage} of all annotated records.",
        "zh": "{a} 每条记录的中位用时为 {median} 秒，典型标注员为 {pool} 秒（稳健 z = {z}）；"
        "其标注量占全部已标注记录的 {coverage}。",
    },
}
_RECOMMENDATIONS = {
    "label_skewed": {
        "en": [
            "Review a random sample of {a}'s '{value}' records against the guidelines.",
            "Give {a} calibration examples that separate '{value}' from the neighbouring classes.",
            "Double-annotate part of {a}'s next batch until the share of '{value}' is back "
            "in line.",
        ],
        "zh": [
            "随机抽查 {a} 标为“{value}”的记录，对照标注规范复核。",
            "为 {a} 提供区分“{value}”与相近类别的校准示例。",
            "对 {a} 的下一批任务进行部分双人标注，直到“{value}”的占比恢复正常。",
        ],
    },
    "drifting": {
        "en": [
            "Check whether the guidelines or the task mix changed around {split}.",
            "Re-review a sample of {a}'s records from after {split}.",
            "Hold a calibration session with {a} on the '{value}' class.",
        ],
        "zh": [
            "核查 {split} 前后标注规范或任务构成是否发生了变化。",
            "抽样复核 {a} 在 {split} 之后的记录。",
            "针对“{value}”类别与 {a} 进行一次校准培训。",
        ],
    },
    "low_agreement": {
        "en": [
            "Review {a}'s disagreements with the majority to find systematic confusions.",
            "Pair {a} with an experienced reviewer for the next batch.",
            "Clarify the guideline examples for the classes {a} confuses most.",
        ],
        "zh": [
            "复核 {a} 与多数意见不一致的记录，找出系统性混淆。",
            "下一批任务为 {a} 安排一名资深审核员配对复核。",
            "针对 {a} 最常混淆的类别，完善标注规范中的示例。",
        ],
    },
    "too_fast": {
        "en": [
            "Spot-check a random sample of {a}'s records for accuracy.",
            "Add gold-standard items to {a}'s queue to measure quality at this speed.",
            "If quality holds, share {a}'s workflow with the team; otherwise set a minimum "
            "time per record.",
        ],
        "zh": [
            "随机抽查 {a} 的记录，检查准确性。",
            "在 {a} 的任务队列中加入标准答案题，衡量此速度下的标注质量。",
            "若质量达标，向团队推广其工作方法；否则为每条记录设置最短用时。",
        ],
    },
}


def _template_values(data: dict[str, Any], finding: dict[str, Any]) -> dict[str, Any]:
    """Format a finding's figures for the templates (shares as %, q to 2 significant digits).

    The same for every language; only the column's name is worded (``_wording``).
    """
    values: dict[str, Any] = {"a": data["annotator"], "coverage": pct(data["share_of_records"])}
    reason = finding["reason"]
    if reason == "too_fast":
        values.update(
            median=f"{finding['median_lead_time']:.1f}",
            pool=f"{finding['pool_median_lead_time']:.1f}",
            z=f"{finding['robust_z']:.1f}",
        )
        return values
    values["q"] = f"{finding['q_value']:.2g}"
    if reason == "label_skewed":
        v = finding["cramers_v"]
        values.update(
            value=finding["value"],
            share=pct(finding["share"]),
            n=finding["n"],
            rest=pct(finding["rest_share"]),
            typical=pct(finding["typical_share"]),
            v="n/a" if v is None else f"{v:.2f}",
        )
    elif reason == "drifting":
        values.update(
            value=finding["value"],
            n=finding["n"],
            split=(finding["split_at"] or "")[:10],
            before=pct(finding["before"]),
            after=pct(finding["after"]),
        )
    else:
        values.update(
            judgements=finding["judgements"],
            rate=pct(finding["rate"]),
            rest=pct(finding["rest_rate"]),
        )
    return values


def _wording(data: dict[str, Any], finding: dict[str, Any]) -> Callable[[str], Wording]:
    reason = finding["reason"]
    figures = _template_values(data, finding)
    column = finding.get("column")

    def word(lang: str) -> Wording:
        values = dict(figures)
        if column is not None:
            values["column"] = _COLUMN_NAMES[lang].get(column, column)
        return (
            localise(_TITLES[reason], lang, **values),
            localise(_BODIES[reason], lang, **values),
            [text.format(**values) for text in _RECOMMENDATIONS[reason][lang]],
        )

    return word


def _insight(
    data: dict[str, Any], finding: dict[str, Any], lang: str, rule_keys: list[str]
) -> Insight:
    reason = finding["reason"]
    coverage = float(data["share_of_records"])
    return bilingual(
        _INSIGHT_TYPE[reason],
        _wording(data, finding),
        impact_score(float(finding["effect"]), coverage),
        NAME,
        {
            "annotator": data["annotator"],
            "reason": reason,
            "column": finding.get("column"),
            "effect": float(finding["effect"]),
            "coverage": coverage,
            "rules": rule_keys,
            "finding": finding,
        },
        lang,
    )


def _rule_keys(rules: list[Rule], annotator: str, finding: dict[str, Any]) -> list[str]:
    """Behavioural rules backing a label-skew finding (same annotator, column and value)."""
    if finding["reason"] != "label_skewed":
        return []
    return [
        r.key
        for r in rules
        if r.conditions[0].value == annotator
        and r.consequent.field == finding["column"]
        and r.consequent.value == finding["value"]
    ]


@insight_maker(NAME)
def behavior_insights(output: AlgorithmOutput, params: MiningParams) -> list[Insight]:
    """One insight per outlier finding: efficiency for too fast, quality for the rest."""
    insights = []
    for pattern in output.patterns:
        if pattern.pattern_type != "annotator_outlier":
            continue
        for finding in pattern.data["findings"]:
            keys = _rule_keys(output.rules, pattern.data["annotator"], finding)
            insights.append(_insight(pattern.data, finding, params.lang, keys))
    return insights
