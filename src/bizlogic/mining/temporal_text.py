"""Bilingual wording of temporal findings.

Shared by the algorithm (each pattern's description) and its insights, which
repeat the same sentence, so it lives apart from both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bizlogic.mining.insights.common import localise, pct, sentiment_name

WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
}
BIN_WORDS = {
    "en": {"hour": "hour", "day": "day", "week": "week"},
    "zh": {"hour": "小时", "day": "天", "week": "周"},
}


def format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


_SENTENCES: dict[str, dict[str, str]] = {
    "volume_trend": {
        "en": "Annotation volume {verb} from about {a:.0f} to {b:.0f} records per {bin} "
        "between {start} and {end} (Mann–Kendall p {p}).",
        "zh": "{start} 至 {end} 期间，每{bin}标注量从约 {a:.0f} 条{verb}至 {b:.0f} 条"
        "（Mann–Kendall 检验 p {p}）。",
    },
    "sentiment_trend": {
        "en": "The {s} share {verb} from {a} to {b} between {start} and {end} "
        "({pp:+.1f} percentage points per week, Mann–Kendall p {p}).",
        "zh": "{start} 至 {end} 期间，{s}占比从 {a} {verb}至 {b}"
        "（每周 {pp:+.1f} 个百分点，Mann–Kendall 检验 p {p}）。",
    },
    "rating_trend": {
        "en": "The mean rating {verb} from {a:.2f} to {b:.2f} between {start} and {end} "
        "({slope:+.3f} per day, Mann–Kendall p {p}).",
        "zh": "{start} 至 {end} 期间，平均评分从 {a:.2f} {verb}至 {b:.2f}"
        "（每天 {slope:+.3f}，Mann–Kendall 检验 p {p}）。",
    },
    "change_point": {
        "en": "From {date} the {s} share {verb} from {a} to {b}.",
        "zh": "自 {date} 起，{s}占比从 {a} {verb}至 {b}。",
    },
    "weekly_seasonality": {
        "en": "Volume follows a weekly cycle: {peak} is the busiest day ({hi} of an average "
        "day) and {low} the quietest ({lo}) (Kruskal–Wallis p {p}).",
        "zh": "标注量存在每周周期：{peak}最忙（为平均日的 {hi}），{low}最闲（{lo}）"
        "（Kruskal–Wallis 检验 p {p}）。",
    },
    "volume_anomaly": {
        "en": "{date}: {count} records against about {expected:.0f} expected "
        "(robust z = {z:+.1f}).",
        "zh": "{date}：{count} 条记录，预期约 {expected:.0f} 条（稳健 z 值 {z:+.1f}）。",
    },
}

VERBS = {
    "en": {True: "rose", False: "fell"},
    "zh": {True: "升", False: "降"},
}


def sentence(pattern_type: str, d: dict[str, Any], lang: str) -> str:
    """The one-sentence finding of a pattern, in ``lang``."""
    values = _sentence_values(pattern_type, d, lang)
    return localise(_SENTENCES[pattern_type], lang, **values)


def _sentence_values(pattern_type: str, d: dict[str, Any], lang: str) -> dict[str, Any]:
    if pattern_type == "weekly_seasonality":
        names, index = WEEKDAYS[lang], d["weekday_index"]
        return {
            "peak": names[int(np.argmax(index))],
            "hi": pct(max(index)),
            "low": names[int(np.argmin(index))],
            "lo": pct(min(index)),
            "p": format_p(d["p_value"]),
        }
    if pattern_type == "volume_anomaly":
        return {"date": d["date"], "count": d["count"], "expected": d["expected"], "z": d["z"]}
    if pattern_type == "change_point":
        return {
            "date": d["date"],
            "s": sentiment_name(d["sentiment"], lang),
            "verb": VERBS[lang][d["direction"] == "rise"],
            "a": pct(d["share_before"]),
            "b": pct(d["share_after"]),
        }
    rising = d["direction"] == "increasing"
    a, b = d["start_value"], d["end_value"]
    values = {
        "verb": VERBS[lang][rising],
        "start": d["start"],
        "end": d["end"],
        "p": format_p(d["p_value"]),
        "bin": BIN_WORDS[lang][d["bin_size"]],
        "a": a,
        "b": b,
        "slope": d["slope_per_day"],
    }
    if pattern_type == "sentiment_trend":
        values.update(
            s=sentiment_name(d["sentiment"], lang),
            a=pct(a),
            b=pct(b),
            pp=100.0 * 7.0 * d["slope_per_day"],
        )
    return values
