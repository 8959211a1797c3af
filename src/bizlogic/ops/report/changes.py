"""What changed since the previous report: the headline figures of this report against
those stored with the previous one (``summary``), and the items that appeared or went."""

from __future__ import annotations

from typing import Any

from bizlogic.ops.report.stats import delta

# Headline figures (keys of `headline`) compared as numbers.
FIGURES = (
    "requests",
    "error_rate",
    "latency_p95_s",
    "availability",
    "analyses",
    "analysis_success_rate",
    "rules_created",
    "insights_created",
    "curation_actions",
    "alerts_fired",
    "alerts_resolved",
    "maintenance_runs",
    "maintenance_failed",
    "recovery_actions",
    "escalations",
    "open_recommendations",
    "drills",
    "drills_failed",
)
# Lists of names compared as sets: what is new, what cleared.
ITEMS = ("failing_steps", "open_recommendation_ids", "alert_names", "failed_drills")


def headline(body: dict[str, Any]) -> dict[str, Any]:
    """The figures stored as the report's ``summary`` (what the next report compares)."""
    service, analyses = body["service"], body["analyses"]
    latency = service.get("latency_s") or {}
    return {
        "requests": service["requests"],
        "error_rate": service["error_rate"],
        "latency_p95_s": latency.get("p95"),
        "availability": service["availability"],
        "analyses": analyses["total"],
        "analysis_success_rate": analyses["success_rate"],
        "rules_created": body["curation"]["rules"]["created"],
        "insights_created": body["curation"]["insights"]["created"],
        "curation_actions": body["curation"]["curation"]["total"],
        "alerts_fired": body["alerts"]["fired"],
        "alerts_resolved": body["alerts"]["resolved"],
        "maintenance_runs": body["maintenance"]["runs"],
        "maintenance_failed": len(body["maintenance"]["failed_runs"]),
        "recovery_actions": body["recovery"]["actions"],
        "escalations": body["recovery"]["escalations"],
        "open_recommendations": body["tuner"]["open"],
        "drills": body["drills"]["total"],
        "drills_failed": body["drills"]["failed"],
        "failing_steps": body["maintenance"]["failing_steps"],
        "open_recommendation_ids": body["tuner"].get("ids", []),
        "alert_names": body["alerts"]["names"],
        "failed_drills": sorted(
            {str(d["drill"]) for d in body["drills"]["drills"] if d["passed"] is False}
        ),
    }


def changes(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """``previous``: the stored previous report (`ops_reports.latest`), or None."""
    if previous is None:
        return {"previous": None, "figures": {}, "new": {}, "cleared": {}}
    before = previous.get("summary") or {}
    figures = {
        name: {
            "now": current.get(name),
            "before": before.get(name),
            "delta": delta(current.get(name), before.get(name)),
        }
        for name in FIGURES
    }
    new, cleared = {}, {}
    for name in ITEMS:
        now_set, then = set(current.get(name) or []), set(before.get(name) or [])
        new[name] = sorted(now_set - then)
        cleared[name] = sorted(then - now_set)
    return {
        "previous": {
            "id": previous["id"],
            "created_at": previous["created_at"],
            "window_start": previous["window_start"],
            "window_end": previous["window_end"],
            "name": previous["name"],
        },
        "figures": figures,
        "new": new,
        "cleared": cleared,
    }
