"""Result types shared by every algorithm: parameters, rules, patterns, insights.

They are plain dataclasses with ``to_dict``/``from_dict`` so results travel as
JSON (CLI output, storage, API) without a serialisation framework.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from bizlogic.mining.catalogue import DEFAULT_MAX_RULES
from bizlogic.records.schema import format_timestamp, parse_timestamp

RULE_TYPES = (
    "keyword_sentiment",  # text CONTAINS k -> sentiment = s
    "keyword_association",  # keywords -> keyword (no longer mined; kept for stored/imported rules)
    "class_association",  # keywords -> sentiment/label
    "temporal",  # created_at >= t -> sentiment = s
    "annotator_behavior",  # annotator = a -> sentiment/label = v
)

INSIGHT_TYPES = ("quality_insight", "efficiency_insight", "pattern_insight", "trend_insight")


@dataclass(frozen=True)
class Filters:
    annotators: tuple[str, ...] | None = None
    sentiments: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Filters:
        data = data or {}
        unknown = set(data) - {"annotators", "sentiments"}
        if unknown:
            raise ValueError(f"filters: unknown key(s) {sorted(unknown)}")

        def clean(name: str, lower: bool) -> tuple[str, ...] | None:
            value = data.get(name)
            if value is None:
                return None
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"filters.{name}: expected a list of strings")
            return tuple(v.strip().lower() if lower else v.strip() for v in value)

        return cls(annotators=clean("annotators", False), sentiments=clean("sentiments", True))


# Scaled minimum support: max(AUTO_MIN_SUPPORT_FLOOR, AUTO_MIN_SUPPORT_SHARE × distinct texts).
AUTO_MIN_SUPPORT_FLOOR = 10
AUTO_MIN_SUPPORT_SHARE = 0.0005


def auto_min_support(distinct_texts: int) -> int:
    """The default minimum support: a small share of the distinct texts, never below 10."""
    return max(AUTO_MIN_SUPPORT_FLOOR, math.ceil(AUTO_MIN_SUPPORT_SHARE * distinct_texts))


@dataclass(frozen=True)
class MiningParams:
    """Parameters shared by all algorithms (see docs/mining.md)."""

    # Absolute number of texts; None: scaled to the data (see auto_min_support).
    min_support: int | None = None
    min_confidence: float = 0.7
    max_fdr: float = 0.05  # Benjamini–Hochberg q-value threshold
    max_len: int = 3  # largest itemset for keyword_cooccurrence
    time_range: tuple[datetime | None, datetime | None] = (None, None)
    filters: Filters = field(default_factory=Filters)
    holdout_fraction: float = 0.3  # half validation (selects rules), half test (accuracy)
    max_examples: int = 5
    lang: str = "en"
    max_rules: int | None = DEFAULT_MAX_RULES  # best-scored rules kept; None keeps all

    def __post_init__(self) -> None:
        if self.min_support is not None and (
            isinstance(self.min_support, bool) or not isinstance(self.min_support, int)
        ):
            raise ValueError("min_support: expected an integer count of records")
        if self.min_support is not None and not 1 <= self.min_support <= 2**31 - 1:
            raise ValueError("min_support: must be between 1 and 2147483647")
        if self.max_rules is not None and (
            isinstance(self.max_rules, bool)
            or not isinstance(self.max_rules, int)
            or self.max_rules < 1
        ):
            raise ValueError("max_rules: expected a positive integer")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError("min_confidence: must be between 0 and 1")
        if not 0.0 < self.max_fdr <= 1.0:
            raise ValueError("max_fdr: must be in (0, 1]")
        if not 1 <= self.max_len <= 6:
            raise ValueError("max_len: must be between 1 and 6")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError("holdout_fraction: must be in [0, 1)")
        if self.lang not in ("en", "zh"):
            raise ValueError("lang: must be 'en' or 'zh'")
        start, end = self.time_range
        if start is not None and end is not None and start >= end:
            raise ValueError("time_range: start must be before end")


@dataclass(frozen=True)
class Condition:
    """``field operator value``; operators: contains, eq, gte, lt."""

    field: str
    operator: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        value = format_timestamp(self.value) if isinstance(self.value, datetime) else self.value
        return {"field": self.field, "operator": self.operator, "value": value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        value = data["value"]
        if data["field"] == "created_at":
            value = parse_timestamp(value)
        return cls(data["field"], data["operator"], value)

    def describe(self) -> str:
        value = self.to_dict()["value"]
        symbol = {"contains": "CONTAINS", "eq": "=", "gte": ">=", "lt": "<"}.get(
            self.operator, self.operator
        )
        field_name = "text" if self.operator == "contains" else self.field
        return (
            f"{field_name} {symbol} {value!r}"
            if isinstance(value, str)
            else (f"{field_name} {symbol} {value}")
        )


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass
class Rule:
    algorithm: str
    rule_type: str
    conditions: tuple[Condition, ...]
    consequent: Condition
    support_count: int
    support: float  # fraction of the records mined
    antecedent_count: int
    consequent_count: int
    n_records: int
    confidence: float
    lift: float
    leverage: float
    conviction: float  # math.inf when confidence == 1
    p_value: float
    q_value: float
    pmi: float = 0.0  # log2 lift
    npmi: float = 0.0  # pmi / -log2 support, in [-1, 1]
    holdout_confidence: float | None = None  # on the test part: never used to select rules
    holdout_support_count: int | None = None
    holdout_antecedent_count: int | None = None
    examples: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = ()  # every algorithm that found this rule; first = algorithm
    score: float = 0.0  # interestingness, see mining/ranking.py
    validation_confidence: float | None = None  # on the validation part, which selects rules
    validation_antecedent_count: int | None = None

    @property
    def key(self) -> str:
        """Identity across runs: the same conditions and consequent."""
        parts = sorted(c.describe() for c in self.conditions)
        return " AND ".join(parts) + " => " + self.consequent.describe()

    @property
    def pattern(self) -> str:
        return (
            "IF "
            + " AND ".join(c.describe() for c in self.conditions)
            + (" THEN " + self.consequent.describe())
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "rule_type": self.rule_type,
            "pattern": self.pattern,
            "key": self.key,
            "conditions": [c.to_dict() for c in self.conditions],
            "consequent": self.consequent.to_dict(),
            "support_count": self.support_count,
            "support": self.support,
            "antecedent_count": self.antecedent_count,
            "consequent_count": self.consequent_count,
            "n_records": self.n_records,
            "confidence": self.confidence,
            "lift": _finite_or_none(self.lift),
            "leverage": self.leverage,
            "conviction": _finite_or_none(self.conviction),
            "conviction_infinite": math.isinf(self.conviction),
            "p_value": self.p_value,
            "q_value": self.q_value,
            "pmi": _finite_or_none(self.pmi),
            "npmi": self.npmi,
            "holdout_confidence": self.holdout_confidence,
            "holdout_support_count": self.holdout_support_count,
            "holdout_antecedent_count": self.holdout_antecedent_count,
            "validation_confidence": self.validation_confidence,
            "validation_antecedent_count": self.validation_antecedent_count,
            "score": self.score,
            "algorithms": list(self.algorithms or (self.algorithm,)),
            "examples": list(self.examples),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        conviction = math.inf if data.get("conviction_infinite") else data["conviction"]
        return cls(
            algorithm=data["algorithm"],
            rule_type=data["rule_type"],
            conditions=tuple(Condition.from_dict(c) for c in data["conditions"]),
            consequent=Condition.from_dict(data["consequent"]),
            support_count=int(data["support_count"]),
            support=float(data["support"]),
            antecedent_count=int(data["antecedent_count"]),
            consequent_count=int(data["consequent_count"]),
            n_records=int(data["n_records"]),
            confidence=float(data["confidence"]),
            lift=float(data["lift"]) if data.get("lift") is not None else math.inf,
            leverage=float(data["leverage"]),
            conviction=float(conviction),
            p_value=float(data["p_value"]),
            q_value=float(data["q_value"]),
            pmi=float(data["pmi"]) if data.get("pmi") is not None else -math.inf,
            npmi=float(data.get("npmi", 0.0)),
            holdout_confidence=data.get("holdout_confidence"),
            holdout_support_count=data.get("holdout_support_count"),
            holdout_antecedent_count=data.get("holdout_antecedent_count"),
            examples=tuple(data.get("examples", ())),
            algorithms=tuple(data.get("algorithms") or (data["algorithm"],)),
            score=float(data.get("score", 0.0)),
            validation_confidence=data.get("validation_confidence"),
            validation_antecedent_count=data.get("validation_antecedent_count"),
        )


@dataclass
class Pattern:
    """A statistically backed regularity; ``data`` holds the figures behind it."""

    algorithm: str
    pattern_type: str
    description: str
    strength: float  # 0..1, comparable within a pattern_type
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pattern:
        return cls(
            data["algorithm"],
            data["pattern_type"],
            data["description"],
            float(data["strength"]),
            dict(data.get("data", {})),
        )


INSIGHT_LANGS = ("en", "zh")  # every insight is worded in each of these
InsightLang = Literal["en", "zh"]


@dataclass
class Insight:
    """A finding; ``title``, ``description`` and ``recommendations`` are in ``lang``.

    ``translations`` holds the same finding in the other languages, rendered from
    the same figures: ``{"zh": {"title", "description", "recommendations"}}``
    for an English insight (``texts`` gives every language, its own included).
    """

    insight_type: str
    title: str
    description: str
    impact_score: float  # 0..1, formula in docs/mining.md
    recommendations: list[str]
    algorithm: str
    evidence: dict[str, Any] = field(default_factory=dict)
    lang: str = "en"
    translations: dict[str, dict[str, Any]] = field(default_factory=dict)

    def texts(self) -> dict[str, dict[str, Any]]:
        """Title, description and recommendations by language, its own ``lang`` included."""
        own = {
            "title": self.title,
            "description": self.description,
            "recommendations": list(self.recommendations),
        }
        every = {**self.translations, self.lang: own}
        return {code: every[code] for code in sorted(every)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], lang: str = "en") -> Insight:
        """``lang``: the language of an insight written before insights carried theirs."""
        return cls(
            data["insight_type"],
            data["title"],
            data["description"],
            float(data["impact_score"]),
            list(data["recommendations"]),
            data["algorithm"],
            dict(data.get("evidence", {})),
            str(data.get("lang") or lang),
            {
                code: {
                    "title": text["title"],
                    "description": text["description"],
                    "recommendations": list(text["recommendations"]),
                }
                for code, text in (data.get("translations") or {}).items()
            },
        )


@dataclass
class AlgorithmOutput:
    """What one algorithm returns; ``stats`` holds counts such as pairs tested."""

    rules: list[Rule] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
