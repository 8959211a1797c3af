"""Chart-ready views of stored results (the dicts the store's ``as_dict`` produces).

Pure functions: the API feeds them a project's rules, patterns or insights and
returns the result as JSON; nothing here is recomputed from records.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

VISUALIZATIONS = ("rule_network", "pattern_timeline", "insight_dashboard", "correlation_matrix")
IMPACT_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def _node(condition: dict[str, Any]) -> tuple[str, str, str]:
    """(id, label, kind) of a rule condition or consequent."""
    field, operator, value = condition["field"], condition["operator"], condition["value"]
    if operator == "contains":
        return f"keyword:{value}", str(value), "keyword"
    if field == "created_at":
        symbol = "≥" if operator == "gte" else "<"
        return f"time:{operator}:{value}", f"created_at {symbol} {value}", "time"
    return f"{field}:{value}", f"{field} = {value}", field


def rule_network(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Nodes are condition and consequent values; one edge per (condition, rule)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges = []
    for rule in rules:
        target_id, target_label, target_kind = _node(rule["consequent"])
        nodes.setdefault(
            target_id, {"id": target_id, "label": target_label, "kind": target_kind, "degree": 0}
        )
        for condition in rule["conditions"]:
            source_id, label, kind = _node(condition)
            nodes.setdefault(
                source_id, {"id": source_id, "label": label, "kind": kind, "degree": 0}
            )
            nodes[source_id]["degree"] += 1
            nodes[target_id]["degree"] += 1
            edges.append(
                {
                    "source": source_id,
                    "target": target_id,
                    "rule_id": rule.get("id"),
                    "confidence": rule["confidence"],
                    "lift": rule["lift"],
                    "support_count": rule["support_count"],
                    "rule_type": rule["rule_type"],
                }
            )
    ordered = sorted(nodes.values(), key=lambda n: (-n["degree"], n["id"]))
    return {"nodes": ordered, "edges": edges}


def pattern_timeline(patterns: list[dict[str, Any]]) -> dict[str, Any]:
    """Dated temporal findings in time order: change points, anomalies, trends."""
    events = []
    for pattern in patterns:
        data, kind = pattern["data"], pattern["pattern_type"]
        if kind in ("change_point", "volume_anomaly"):
            events.append(
                {
                    "date": data["date"],
                    "end": None,
                    "type": kind,
                    "description": pattern["description"],
                    "strength": pattern["strength"],
                }
            )
        elif kind in ("volume_trend", "sentiment_trend", "rating_trend"):
            events.append(
                {
                    "date": data["start"],
                    "end": data["end"],
                    "type": kind,
                    "description": pattern["description"],
                    "strength": pattern["strength"],
                }
            )
    events.sort(key=lambda e: (e["date"], e["type"], e["description"]))
    return {"events": events}


def insight_dashboard(insights: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by type and state, an impact histogram, the open items that matter most."""
    by_type = Counter(i["insight_type"] for i in insights)
    histogram = [0] * (len(IMPACT_BINS) - 1)
    for insight in insights:
        index = min(int(insight["impact_score"] * (len(IMPACT_BINS) - 1)), len(histogram) - 1)
        histogram[index] += 1
    open_items = sorted(
        (i for i in insights if not i["acknowledged"]),
        key=lambda i: (-i["impact_score"], i["title"]),
    )
    return {
        "total": len(insights),
        "acknowledged": sum(1 for i in insights if i["acknowledged"]),
        "by_type": dict(sorted(by_type.items())),
        "impact_histogram": {"bins": list(IMPACT_BINS), "counts": histogram},
        "top_open": [
            {
                "id": i.get("id"),
                "title": i["title"],
                "impact_score": i["impact_score"],
                "insight_type": i["insight_type"],
            }
            for i in open_items[:5]
        ],
    }


def correlation_matrix(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Keyword × class-value lift from single-keyword rules (null where no rule was kept)."""
    cells: dict[tuple[str, str], float] = {}
    for rule in rules:
        conditions = rule["conditions"]
        if len(conditions) != 1 or conditions[0]["operator"] != "contains":
            continue
        consequent = rule["consequent"]
        if consequent["operator"] != "eq":
            continue
        column = f"{consequent['field']}={consequent['value']}"
        key = (str(conditions[0]["value"]), column)
        cells[key] = max(cells.get(key, 0.0), rule["lift"] or 0.0)
    rows = sorted({k for k, _ in cells})
    columns = sorted({c for _, c in cells})
    return {
        "rows": rows,
        "columns": columns,
        "lift": [[cells.get((r, c)) for c in columns] for r in rows],
    }
