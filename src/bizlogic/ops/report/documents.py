"""The documents other tools store in ``ops_reports``: the newest tuner run's open
recommendations, and the drills made in the window."""

from __future__ import annotations

from typing import Any

from bizlogic.ops.report.stats import share
from bizlogic.ops.report.window import Window
from bizlogic.ops.tune_advice import PRIORITIES
from bizlogic.store import ops_reports
from bizlogic.store.db import Database

TOP_RECOMMENDATIONS = 10
DRILL_KEYS = ops_reports.DRILL_SUMMARY_KEYS


def tuner(db: Database, window: Window) -> dict[str, Any]:
    """The newest `bizlogic tune` run made before the window's end; ``run`` None when none."""
    found = ops_reports.latest(db, "tune", before=window.end)
    if found is None:
        return {
            "source": "ops_reports (tune)",
            "run": None,
            "open": 0,
            "by_priority": {},
            "recommendations": [],
        }
    items = [r for r in (found.get("body") or {}).get("recommendations", []) if isinstance(r, dict)]
    rank = {name: index for index, name in enumerate(PRIORITIES)}
    items.sort(key=lambda r: (rank.get(str(r.get("priority")), len(rank)), str(r.get("id"))))
    by_priority: dict[str, int] = {}
    for item in items:
        by_priority[str(item.get("priority"))] = by_priority.get(str(item.get("priority")), 0) + 1
    return {
        "source": "ops_reports (tune)",
        "run": {"id": found["id"], "created_at": found["created_at"], "host": found["host"]},
        "open": len(items),
        "by_priority": by_priority,
        "recommendations": [
            {
                "id": r.get("id"),
                "priority": r.get("priority"),
                "area": r.get("area"),
                "title": r.get("title"),
                "why": r.get("reason") or r.get("why"),
            }
            for r in items[:TOP_RECOMMENDATIONS]
        ],
        "ids": sorted(str(r.get("id")) for r in items),
    }


def drills(db: Database, window: Window) -> dict[str, Any]:
    made = ops_reports.made_between(db, "drill", window.start, window.end)
    listed = [
        {
            "id": doc["id"],
            "created_at": doc["created_at"],
            "status": doc["status"],
            **{key: (doc.get("summary") or {}).get(key) for key in DRILL_KEYS},
        }
        for doc in made
    ]
    passed = sum(1 for d in listed if d["passed"] is True)
    return {
        "source": "ops_reports (drill)",
        "total": len(listed),
        "passed": passed,
        "failed": sum(1 for d in listed if d["passed"] is False),
        "pass_rate": share(passed, len(listed)),
        "lost_jobs": sum(d["lost_jobs"] or 0 for d in listed),
        "lost_records": sum(d["lost_records"] or 0 for d in listed),
        "drills": listed,
    }
