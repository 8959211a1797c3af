"""How figures are written in every rendering (HTML, Markdown, terminal): one place, so
that the three show the same text for the same figure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Translate = Callable[[str], str]


def count(value: float | None, _: Translate) -> str:
    """A count (Prometheus' ``increase`` is fractional: rounded for reading)."""
    return _("no data") if value is None else f"{round(value):,}"


def percent(value: float | None, _: Translate) -> str:
    return _("no data") if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None, _: Translate) -> str:
    if value is None:
        return _("no data")
    return f"{value:.3f} s" if value < 10 else f"{value:,.1f} s"


def signed(value: float | None, kind: str, _: Translate) -> str:
    """A change: ``+12``, ``-0.4 pt`` (shares in percentage points), ``+0.120 s``."""
    if value is None:
        return "–"
    if kind == "percent":
        return f"{value * 100:+.1f} pt"
    if kind == "seconds":
        return f"{value:+.3f} s"
    return f"{value:+,.0f}"


# How each headline figure is written, and its label.
FIGURE_KINDS = {
    "error_rate": "percent",
    "availability": "percent",
    "analysis_success_rate": "percent",
    "latency_p95_s": "seconds",
}


def figure(name: str, value: Any, _: Translate) -> str:
    kind = FIGURE_KINDS.get(name, "count")
    if kind == "percent":
        return percent(value, _)
    if kind == "seconds":
        return seconds(value, _)
    return count(value, _)


def figure_label(name: str, _: Translate) -> str:
    labels = {
        "requests": _("HTTP requests"),
        "error_rate": _("5xx error rate"),
        "latency_p95_s": _("p95 latency"),
        "availability": _("availability"),
        "analyses": _("analyses"),
        "analysis_success_rate": _("analysis success rate"),
        "rules_created": _("rules created"),
        "insights_created": _("insights created"),
        "curation_actions": _("curation actions"),
        "alerts_fired": _("alerts fired"),
        "alerts_resolved": _("alerts resolved"),
        "maintenance_runs": _("maintenance runs"),
        "maintenance_failed": _("failed maintenance runs"),
        "recovery_actions": _("recovery actions"),
        "escalations": _("escalations"),
        "open_recommendations": _("open tuner recommendations"),
        "drills": _("drills"),
        "drills_failed": _("failed drills"),
        "failing_steps": _("failing maintenance steps"),
        "open_recommendation_ids": _("tuner recommendations"),
        "alert_names": _("alerts"),
        "failed_drills": _("failed drills"),
    }
    return labels.get(name, name)


def source_label(source: str, _: Translate) -> str:
    """A section's source as the report states it."""
    names = {
        "prometheus": _("Prometheus"),
        "log": _("the service's JSON log"),
        "none": _("none (neither BL_PROMETHEUS_URL nor BL_LOG_FILE is set)"),
    }
    return names.get(source, source)


def title(body: dict[str, Any], _: Translate) -> str:
    names = {"weekly": _("Weekly operations report"), "daily": _("Daily operations report")}
    return names.get(body["window"]["name"], _("Operations report"))


def window_text(body: dict[str, Any]) -> str:
    window = body["window"]
    return f"{window['start'][:16].replace('T', ' ')} → {window['end'][:16].replace('T', ' ')} UTC"
