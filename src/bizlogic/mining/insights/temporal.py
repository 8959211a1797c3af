"""Insights for temporal_trends: each pattern's sentence plus what to do about it.

One insight per trend, change point and weekly cycle; one for all volume anomalies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bizlogic.mining.algorithm import insight_maker
from bizlogic.mining.insights.common import (
    Wording,
    bilingual,
    impact_score,
    localise,
    sentiment_name,
)
from bizlogic.mining.model import AlgorithmOutput, Insight, MiningParams, Pattern, Rule
from bizlogic.mining.temporal import MIN_TREND_CHANGE, NAME
from bizlogic.mining.temporal_text import (
    BIN_WORDS,
    VERBS,
    WEEKDAYS,
    format_p,
    sentence,
)
from bizlogic.records.schema import format_timestamp

_TITLES: dict[str, dict[str, str]] = {
    "volume_trend": {"en": "Annotation volume is {dir}", "zh": "标注量呈{dir}趋势"},
    "sentiment_trend": {"en": "{S} share is {dir}", "zh": "{s}占比呈{dir}趋势"},
    "rating_trend": {"en": "Average rating is {dir}", "zh": "平均评分呈{dir}趋势"},
    "change_point": {"en": "{S} share {verb} on {date}", "zh": "{s}占比于 {date} {dir}"},
    "weekly_seasonality": {"en": "Weekly rhythm in annotation volume", "zh": "标注量存在每周规律"},
    "volume_anomaly": {
        "en": "Unusual annotation volume in {n} {bins}",
        "zh": "{n} {bins}的标注量异常",
    },
}
_DIRECTION_WORDS = {"en": {True: "rising", False: "falling"}, "zh": {True: "上升", False: "下降"}}

_RECOMMENDATIONS: dict[tuple[str, bool], dict[str, list[str]]] = {
    ("volume_trend", True): {
        "en": [
            "Plan annotator capacity for the higher load before a backlog builds up.",
            "Spot-check the quality of the most recent records, which suffers first when "
            "volume grows faster than the team.",
            "Watch review turnaround times and add reviewers if they lengthen.",
        ],
        "zh": [
            "在积压形成之前，按更高的工作量规划标注人力。",
            "抽查最近记录的质量，当标注量增长快于团队能力时质量最先受影响。",
            "关注审核周转时间，如有延长请增加审核人员。",
        ],
    },
    ("volume_trend", False): {
        "en": [
            "Check whether the decline is planned (the project is winding down) or a supply "
            "problem such as fewer tasks being released.",
            "If it is unplanned, review task assignment and annotator availability for the "
            "recent period.",
        ],
        "zh": [
            "确认下降是否在计划之内（项目收尾），还是任务发放减少等供给问题。",
            "如非计划内下降，请检查近期的任务分配和标注员可用情况。",
        ],
    },
    ("sentiment_trend", True): {
        "en": [
            "Read a sample of recent {s} records to find what drives the increase.",
            "Compare the keywords of {s} records at the start and the end of the period to "
            "see which topics grew.",
            "Share the trend with the product or service owner if it reflects real customer "
            "experience rather than a labelling change.",
        ],
        "zh": [
            "抽读近期的{s}记录，找出占比上升的原因。",
            "对比期初与期末{s}记录的关键词，找出增长的主题。",
            "如趋势反映的是真实客户体验而非标注变化，请同步给产品或服务负责人。",
        ],
    },
    ("sentiment_trend", False): {
        "en": [
            "Confirm the decline is genuine by checking that the annotation guidelines did "
            "not change during the period.",
            "Sample recent records to see which topics replaced the {s} feedback.",
        ],
        "zh": [
            "确认期间标注规范没有变化，以核实下降是真实的。",
            "抽样近期记录，查看哪些主题取代了{s}反馈。",
        ],
    },
    ("rating_trend", True): {
        "en": [
            "Identify what changed when the rise began and keep it in place.",
            "Check that the rise is not caused by a guideline change or by new annotators "
            "rating more leniently.",
        ],
        "zh": [
            "找出评分开始上升时发生的变化，并保持下去。",
            "确认上升不是由标注规范变化或新标注员评分偏宽松造成的。",
        ],
    },
    ("rating_trend", False): {
        "en": [
            "Read the lowest-rated recent records to find the cause of the decline.",
            "Check whether the rating scale or guidelines changed; if not, raise the decline "
            "with the product owner.",
        ],
        "zh": [
            "阅读近期评分最低的记录，找出下降原因。",
            "检查评分标准或规范是否有变化；如无变化，请向产品负责人反馈。",
        ],
    },
    ("change_point", True): {
        "en": [
            "Read {s} records created since {date} to find the event behind the jump "
            "(a release, an incident, a campaign or a new data source).",
            "Compare the keywords of {s} records before and after {date} to see which "
            "topics drive the shift{rule_en}.",
            "If the shift comes from a guideline or annotator change rather than the data, "
            "re-check a sample of records around {date}.",
        ],
        "zh": [
            "阅读 {date} 以来的{s}记录，找出导致跃升的事件（版本发布、故障、活动或新数据源）。",
            "对比 {date} 前后{s}记录的关键词，找出推动变化的主题{rule_zh}。",
            "如变化来自标注规范或标注员变动而非数据本身，请复核 {date} 前后的记录样本。",
        ],
    },
    ("change_point", False): {
        "en": [
            "Find what changed around {date} (a fix shipped, a guideline change, a new data "
            "source) that lowered the {s} share.",
            "Confirm with a sample of records from both sides of {date} that the drop is "
            "real before reporting it.",
        ],
        "zh": [
            "找出 {date} 前后导致{s}占比下降的变化（修复上线、规范调整或新数据源）。",
            "在汇报前，抽样 {date} 前后的记录确认下降是真实的。",
        ],
    },
    ("weekly_seasonality", True): {
        "en": [
            "Schedule annotator shifts to match the weekly cycle, with most capacity on {peak}.",
            "Compare daily figures with the same weekday of earlier weeks, not with the "
            "previous day, so the cycle is not mistaken for a change.",
        ],
        "zh": [
            "按每周周期安排标注排班，在{peak}投入最多人力。",
            "将每日数据与往周同一天比较，而不是与前一天比较，避免把周期误判为变化。",
        ],
    },
    ("volume_anomaly", True): {
        "en": [
            "Check the unusual {bin}s (largest on {date}) for duplicate imports or bulk "
            "uploads before using the volume figures.",
            "If the spikes are real, spot-check the quality of records from those {bin}s, "
            "since rushed batches often have lower agreement.",
            "Mark the unusual {bin}s when reporting volumes so they do not distort averages.",
        ],
        "zh": [
            "在使用标注量数据前，检查异常时段（最大异常在 {date}）是否存在重复导入或批量上传。",
            "如峰值真实存在，请抽查这些时段的记录质量，赶工批次的一致性通常较低。",
            "汇报标注量时标注这些异常时段，避免拉偏平均值。",
        ],
    },
    ("volume_anomaly", False): {
        "en": [
            "Check the unusual {bin}s (largest on {date}) for outages, import gaps or "
            "paused task releases.",
            "If the gap was unintended, plan catch-up capacity for the backlog it left.",
            "Mark the unusual {bin}s when reporting volumes so they do not distort averages.",
        ],
        "zh": [
            "检查异常时段（最大异常在 {date}）是否存在系统故障、导入缺口或任务暂停发放。",
            "如缺口并非有意为之，请为由此产生的积压安排补救人力。",
            "汇报标注量时标注这些异常时段，避免拉偏平均值。",
        ],
    },
}


def _insight_type(pattern_type: str) -> str:
    return (
        "pattern_insight"
        if pattern_type in ("weekly_seasonality", "volume_anomaly")
        else ("trend_insight")
    )


def _effect_coverage(p: Pattern, out: AlgorithmOutput) -> tuple[float, float]:
    """Impact inputs per pattern type; definitions in docs/mining-temporal.md."""
    d = p.data
    total = max(int(out.stats.get("records_with_time", 0)), 1)
    if p.pattern_type in MIN_TREND_CHANGE:
        return d["change"], 1.0
    if p.pattern_type == "change_point":
        return abs(d["shift"]), d["n_after"] / max(d["n_before"] + d["n_after"], 1)
    if p.pattern_type == "weekly_seasonality":
        return d["amplitude"], 1.0
    # volume_anomaly: relative deviation from the expected count, share of records involved
    return (
        abs(d["count"] - d["expected"]) / max(d["expected"], 1.0),
        max(d["count"], d["expected"]) / total,
    )


def _title(p: Pattern, lang: str, **extra: Any) -> str:
    d = p.data
    up = d.get("direction") in ("increasing", "rise")
    s = d.get("sentiment") or ""
    return localise(
        _TITLES[p.pattern_type],
        lang,
        dir=_DIRECTION_WORDS[lang][up],
        S=sentiment_name(s, lang).capitalize(),
        s=sentiment_name(s, lang),
        verb=VERBS["en"][up],
        date=d.get("date", ""),
        **extra,
    )


def _recommendations(p: Pattern, lang: str, rule: Rule | None = None, **extra: Any) -> list[str]:
    d = p.data
    up = d.get("direction") in ("increasing", "rise", "spike") or (
        p.pattern_type == "weekly_seasonality"
    )
    values = {
        "s": sentiment_name(d.get("sentiment") or "", lang),
        "date": d.get("date", ""),
        "rule_en": f"; the rule '{rule.pattern}' tracks whether it persists" if rule else "",
        "rule_zh": f"；规则“{rule.pattern}”可用于跟踪这一变化是否持续" if rule else "",
        **extra,
    }
    if p.pattern_type == "weekly_seasonality":
        values["peak"] = WEEKDAYS[lang][int(np.argmax(d["weekday_index"]))]
    templates = _RECOMMENDATIONS[(p.pattern_type, up)]
    return [line.format(**values) for line in templates.get(lang, templates["en"])]


def _details(p: Pattern, lang: str, rule: Rule | None) -> str:
    """What follows the finding in an insight: the test behind it."""
    d = p.data
    if p.pattern_type != "change_point":
        return ""
    (b0, b1), (a0, a1) = d["segment_before"], d["segment_after"]
    q = format_p(d["q_value"])
    if lang == "zh":
        text = (
            f"双比例检验（{b0} 至 {b1} 与 {a0} 至 {a1} 两段，分别有 {d['n_before']} 和 "
            f"{d['n_after']} 条带情感记录）：q {q}。"
        )
        return text + (f"规则：{rule.pattern}。" if rule else "")
    text = (
        f" Two-proportion test of {b0} to {b1} against {a0} to {a1} ({d['n_before']} and "
        f"{d['n_after']} records with a sentiment): q {q}."
    )
    return text + (f" Rule: {rule.pattern}." if rule else "")


def _matching_rule(p: Pattern, rules: list[Rule]) -> Rule | None:
    if p.pattern_type != "change_point":
        return None
    for rule in rules:
        start = rule.conditions[0].value
        if rule.consequent.value == p.data["sentiment"] and (
            format_timestamp(start) == p.data["time"]
        ):
            return rule
    return None


def _single_insight(p: Pattern, out: AlgorithmOutput, lang: str) -> Insight:
    rule = _matching_rule(p, out.rules)
    effect, coverage = _effect_coverage(p, out)
    evidence = {"pattern_type": p.pattern_type, **p.data}
    if rule is not None:
        evidence["rule"] = rule.key

    def word(code: str) -> Wording:  # every language from the same pattern and rule
        return (
            _title(p, code),
            sentence(p.pattern_type, p.data, code) + _details(p, code, rule),
            _recommendations(p, code, rule),
        )

    return bilingual(
        _insight_type(p.pattern_type), word, impact_score(effect, coverage), NAME, evidence, lang
    )


def _anomaly_insight(anomalies: list[Pattern], out: AlgorithmOutput, lang: str) -> Insight:
    """All volume anomalies of a run in one insight, the largest first."""
    ordered = sorted(anomalies, key=lambda a: (-abs(a.data["z"]), a.data["date"]))
    top = ordered[0]
    effect, _ = _effect_coverage(top, out)
    total = max(int(out.stats.get("records_with_time", 0)), 1)
    coverage = sum(max(a.data["count"], a.data["expected"]) for a in anomalies) / total

    def word(code: str) -> Wording:  # every language from the same ordered anomalies
        bin_word = BIN_WORDS[code][top.data["bin_size"]]
        lines = [sentence("volume_anomaly", a.data, code) for a in ordered[:3]]
        if len(ordered) > 3:
            lines.append(
                f"另有 {len(ordered) - 3} 个。" if code == "zh" else f"And {len(ordered) - 3} more."
            )
        title = _title(
            top,
            code,
            n=len(anomalies),
            bins=bin_word if len(anomalies) == 1 or code == "zh" else bin_word + "s",
        )
        description = ("" if code == "zh" else " ").join(lines)
        return title, description, _recommendations(top, code, bin=bin_word)

    evidence = {
        "pattern_type": "volume_anomaly",
        "anomalies": [
            {
                "date": a.data["date"],
                "count": a.data["count"],
                "expected": a.data["expected"],
                "z": a.data["z"],
            }
            for a in ordered
        ],
    }
    return bilingual("pattern_insight", word, impact_score(effect, coverage), NAME, evidence, lang)


@insight_maker(NAME)
def temporal_insights(out: AlgorithmOutput, params: MiningParams) -> list[Insight]:
    """One insight per trend, change point and weekly cycle; one for all volume anomalies."""
    mine = [p for p in out.patterns if p.algorithm == NAME]
    insights = [
        _single_insight(p, out, params.lang) for p in mine if p.pattern_type != "volume_anomaly"
    ]
    anomalies = [p for p in mine if p.pattern_type == "volume_anomaly"]
    if anomalies:
        insights.append(_anomaly_insight(anomalies, out, params.lang))
    return sorted(insights, key=lambda i: (-i.impact_score, i.insight_type, i.title))
