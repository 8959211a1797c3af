"""Shared pieces of insight generation: the impact formula and bilingual templates."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bizlogic.mining.model import INSIGHT_LANGS, Insight

# A finding that touches this share of the records counts as fully broad.
FULL_COVERAGE = 0.2


def impact_score(effect: float, coverage: float) -> float:
    """Impact = sqrt(effect × min(1, coverage / FULL_COVERAGE)), rounded to 3 places.

    ``effect`` is an algorithm-specific effect size already scaled to 0..1
    (e.g. the change in a share, or how far a rule's confidence exceeds the
    base rate); ``coverage`` is the share of records the finding concerns.
    The geometric mean keeps a strong effect on a handful of records, and a
    weak effect on everything, both below a strong, broad one.
    """
    e = min(max(effect, 0.0), 1.0)
    c = min(max(coverage, 0.0) / FULL_COVERAGE, 1.0)
    return round(math.sqrt(e * c), 3)


# A finding's title, description and recommendations in one language.
Wording = tuple[str, str, list[str]]


def bilingual(
    insight_type: str,
    word: Callable[[str], Wording],
    impact: float,
    algorithm: str,
    evidence: dict[str, Any],
    lang: str,
) -> Insight:
    """One insight worded by ``word(code)`` in every language of ``INSIGHT_LANGS``.

    Its own fields are the run's ``lang`` wording, ``translations`` the others.
    ``word`` closes over figures computed once, before it is called, so the
    wordings cannot disagree on them; only the words differ.
    """
    wordings = {code: word(code) for code in INSIGHT_LANGS}
    title, description, recommendations = wordings[lang]
    return Insight(
        insight_type,
        title,
        description,
        impact,
        recommendations,
        algorithm,
        evidence,
        lang,
        {
            code: {"title": t, "description": d, "recommendations": r}
            for code, (t, d, r) in wordings.items()
            if code != lang
        },
    )


def localise(templates: dict[str, str], lang: str, **values: object) -> str:
    """Pick the ``lang`` template (falling back to English) and fill it in."""
    return templates.get(lang, templates["en"]).format(**values)


ZH_SENTIMENTS = {"positive": "正面", "negative": "负面", "neutral": "中性", "mixed": "混合"}


def sentiment_name(sentiment: str, lang: str) -> str:
    """Sentiment values are stored in English; Chinese text names the common ones in Chinese."""
    if lang == "zh":
        return ZH_SENTIMENTS.get(sentiment, f"“{sentiment}”")
    return sentiment


def pct(value: float) -> str:
    return f"{100.0 * value:.0f}%"
