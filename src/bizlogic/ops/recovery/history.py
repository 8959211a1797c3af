"""``recovery_events``: what recovery saw and did, and the state its safeguards read.

One row per detection (``action`` NULL) and per action, with the trigger
(``source``: detector, alertmanager, manual), failure type, outcome
(``status``), dry-run flag, the host it concerns (memory and CPU are per host),
context (``details``) and times. Budgets, backoff,
the pause switch and ``bl_recovery_actions_total`` are all read from here, so
they hold across restarts, processes and hosts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import RecoveryEvent

TRIGGERS = ("detector", "alertmanager", "manual")
EXECUTED = ("succeeded", "unverified", "failed")  # actions that count against the budget
SWITCH = ("pause", "resume")


def record(db: Database, **fields: Any) -> int | None:
    """Insert one event; None when its ``dedup_key`` was already recorded."""
    fields.setdefault("created_at", clock.utcnow())
    try:
        with db.scope() as session:
            row = RecoveryEvent(**fields)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        if fields.get("dedup_key") is None:
            raise
        return None


def finish(db: Database, event_id: int, status: str, **fields: Any) -> None:
    with db.scope() as session:
        session.execute(
            update(RecoveryEvent)
            .where(RecoveryEvent.id == event_id)
            .values(status=status, finished_at=clock.utcnow(), **fields)
        )


def pause_state(db: Database) -> dict[str, Any] | None:
    """The latest pause, if recovery is paused now; None when it acts."""
    with db.scope() as session:
        row = session.scalars(
            select(RecoveryEvent)
            .where(RecoveryEvent.action.in_(SWITCH))
            .order_by(RecoveryEvent.id.desc())
            .limit(1)
        ).first()
        if row is None or row.action == "resume":
            return None
        return {"since": row.created_at.isoformat(), **(row.details or {})}


def _on(query: Any, host: str | None) -> Any:
    """Rows of one host when ``host`` is given (memory, CPU); of the deployment otherwise."""
    return query if host is None else query.where(RecoveryEvent.host == host)


def executed_since(
    db: Database, failure_type: str, since: datetime, dry_run: bool, host: str | None = None
) -> list[datetime]:
    """When actions for ``failure_type`` ran (or, in dry-run, would have run) since ``since``."""
    statuses = ("dry_run",) if dry_run else EXECUTED
    with db.scope() as session:
        return list(
            session.scalars(
                _on(select(RecoveryEvent.created_at), host)
                .where(RecoveryEvent.failure_type == failure_type)
                .where(RecoveryEvent.action.is_not(None))
                .where(RecoveryEvent.action != "notify_admin")
                .where(RecoveryEvent.status.in_(statuses))
                .where(RecoveryEvent.dry_run.is_(dry_run))
                .where(RecoveryEvent.created_at >= since)
                .order_by(RecoveryEvent.created_at)
            )
        )


def last_refusal(
    db: Database, failure_type: str, action: str, dry_run: bool, host: str | None = None
) -> str | None:
    """The reason of the latest refusal of ``action`` for ``failure_type``, if any."""
    with db.scope() as session:
        row = session.scalars(
            _on(select(RecoveryEvent), host)
            .where(RecoveryEvent.failure_type == failure_type)
            .where(RecoveryEvent.action == action)
            .where(RecoveryEvent.status == "refused")
            .where(RecoveryEvent.dry_run.is_(dry_run))
            .order_by(RecoveryEvent.id.desc())
            .limit(1)
        ).first()
        return None if row is None else str((row.details or {}).get("reason"))


def escalated_since(
    db: Database,
    failure_type: str,
    since: datetime,
    dry_run: bool,
    kind: str,
    host: str | None = None,
) -> bool:
    """Whether a person was already told about ``failure_type`` for this ``kind`` of
    escalation (``chain``: the actions did not fix it; ``budget``: recovery stopped)."""
    with db.scope() as session:
        found = session.scalar(
            _on(select(func.count()).select_from(RecoveryEvent), host)
            .where(RecoveryEvent.failure_type == failure_type)
            .where(RecoveryEvent.status == "escalated")
            .where(RecoveryEvent.target == kind)
            .where(RecoveryEvent.dry_run.is_(dry_run))
            .where(RecoveryEvent.created_at >= since)
        )
    return bool(found)


def claim(db: Database, event_id: int) -> bool:
    """Take a pending alert for handling; False when another watcher took it first."""
    with db.scope() as session:
        taken = session.execute(
            update(RecoveryEvent)
            .where(RecoveryEvent.id == event_id)
            .where(RecoveryEvent.status == "pending")
            .values(status="handling")
        )
        return taken.rowcount == 1


def pending_alerts(db: Database) -> list[RecoveryEvent]:
    with db.scope() as session:
        return list(
            session.scalars(
                select(RecoveryEvent)
                .where(RecoveryEvent.source == "alertmanager")
                .where(RecoveryEvent.status == "pending")
                .order_by(RecoveryEvent.id)
            )
        )


def as_dict(row: RecoveryEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "trigger": row.source,
        "failure_type": row.failure_type,
        "action": row.action,
        "outcome": row.status,
        "dry_run": row.dry_run,
        "alert_name": row.alert_name,
        "fingerprint": row.fingerprint,
        "target": row.target,
        "host": row.host,
        "context": row.details or {},
        "error": row.error,
    }


def events_since(db: Database, since: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    """Newest first."""
    with db.scope() as session:
        rows = session.scalars(
            select(RecoveryEvent)
            .where(RecoveryEvent.created_at >= since)
            .order_by(RecoveryEvent.id.desc())
            .limit(limit)
        )
        return [as_dict(row) for row in rows]


def recovery_metric_families(db: Database) -> list[Any]:
    """``bl_recovery_actions_total`` and ``bl_recovery_paused``, read at scrape time; absent
    when the database does not answer."""
    try:
        with db.scope() as session:
            counts = session.execute(
                select(
                    RecoveryEvent.failure_type,
                    RecoveryEvent.action,
                    RecoveryEvent.status,
                    RecoveryEvent.dry_run,
                    func.count(),
                )
                .where(RecoveryEvent.action.is_not(None))
                .where(RecoveryEvent.action.not_in(SWITCH))
                .group_by(
                    RecoveryEvent.failure_type,
                    RecoveryEvent.action,
                    RecoveryEvent.status,
                    RecoveryEvent.dry_run,
                )
            ).all()
        paused = pause_state(db) is not None
    except Exception:  # the database check reports the outage
        return []
    actions = CounterMetricFamily(
        "bl_recovery_actions",
        "Recovery actions by failure type, action, outcome and mode (dry_run=true: planned "
        "in dry-run mode, nothing was done).",
        labels=("failure_type", "action", "outcome", "dry_run"),
    )
    for failure_type, action, status, dry_run, count in counts:
        mode = "true" if dry_run else "false"
        actions.add_metric((failure_type or "", action, status, mode), count)
    switch = GaugeMetricFamily(
        "bl_recovery_paused", "1 while `bizlogic recover pause` holds recovery back."
    )
    switch.add_metric((), 1.0 if paused else 0.0)
    return [actions, switch]
