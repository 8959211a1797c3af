"""Rules and insights made in the window, and what people did to them (``audit_events``).

"Created" is ``created_at`` in the window; "updated" a row made before it whose
``updated_at`` falls in it (a re-run that refreshed it, a curation).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from bizlogic.ops.report.window import Window
from bizlogic.store.db import Database
from bizlogic.store.tables import AuditEvent, InsightRow, RuleRow

CURATION_ACTIONS = (
    "rule.toggle",
    "rule.confidence",
    "rule.delete",
    "rules.import",
    "rules.apply",
    "insight.acknowledge",
)
TOP_USERS = 10


def _made(session: Any, table: Any, window: Window) -> dict[str, int]:
    inside = (table.created_at >= window.start) & (table.created_at < window.end)
    touched = (
        (table.created_at < window.start)
        & (table.updated_at >= window.start)
        & (table.updated_at < window.end)
    )
    created = session.scalar(select(func.count()).select_from(table).where(inside))
    updated = session.scalar(select(func.count()).select_from(table).where(touched))
    return {"created": int(created or 0), "updated": int(updated or 0)}


def curation(db: Database, window: Window) -> dict[str, Any]:
    with db.scope() as session:
        rules = _made(session, RuleRow, window)
        insights = _made(session, InsightRow, window)
        acknowledged = session.scalar(
            select(func.count())
            .select_from(InsightRow)
            .where(InsightRow.acknowledged_at >= window.start)
            .where(InsightRow.acknowledged_at < window.end)
        )
        events = list(
            session.execute(
                select(AuditEvent.action, AuditEvent.user_id)
                .where(AuditEvent.created_at >= window.start, AuditEvent.created_at < window.end)
                .where(AuditEvent.action.in_(CURATION_ACTIONS))
            )
        )
    by_action = Counter(action for action, _ in events)
    by_user = Counter(user for _, user in events)
    return {
        "source": "business_rules, business_insights, audit_events",
        "rules": rules,
        "insights": {**insights, "acknowledged": int(acknowledged or 0)},
        "curation": {
            "total": len(events),
            "by_action": {
                action: by_action[action] for action in CURATION_ACTIONS if by_action[action]
            },
            "by_user": dict(sorted(by_user.items(), key=lambda i: (-i[1], i[0]))[:TOP_USERS]),
            "users": len(by_user),
        },
    }
