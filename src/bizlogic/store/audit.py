"""The audit trail: who changed what through the API, in ``audit_events``.

Routes call ``record`` inside the session of the change they make, so the
event commits or rolls back with it: a refused request (403, 422, a store
error) leaves no event, and no committed change lacks one. Where a change is
made by a function that opens its own transaction (recovery pause/resume, and
exports, which change nothing), the event is written right after it succeeded.

``details`` holds counts, ids and before/after values, never credentials; it
is redacted like a log event all the same (``telemetry/redact.py``), a second
net for free text such as a pause reason.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal, Protocol, get_args

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bizlogic.store import clock
from bizlogic.store.paging import fetch_page
from bizlogic.store.tables import AuditEvent
from bizlogic.telemetry.redact import redact

# Every action an API route records; the API's ?action= filter accepts exactly these
# (a Literal, so OpenAPI lists them too).
AuditAction = Literal[
    "records.import",
    "analysis.start",
    "job.cancel",
    "rule.confidence",
    "rule.toggle",
    "rule.delete",
    "rules.import",
    "rules.apply",
    "insight.acknowledge",
    "data.export",
    "recovery.pause",
    "recovery.resume",
]
ACTIONS: tuple[str, ...] = get_args(AuditAction)
TARGET_MAX = 255
USER_MAX = 255


class Actor(Protocol):
    """Whoever acts: the API's ``Principal`` (its role is a ``str`` enum)."""

    @property
    def user_id(self) -> str: ...

    @property
    def role(self) -> str: ...


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    project_id: str | None = None,
    target: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the caller's transaction (it commits or rolls back with the change)."""
    if action not in ACTIONS:
        raise ValueError(f"action: must be one of {', '.join(ACTIONS)}, got {action!r}")
    event = AuditEvent(
        created_at=clock.utcnow(),
        user_id=actor.user_id[:USER_MAX],  # a token's sub is unbounded; the column is not
        role=str(actor.role),
        action=action,
        project_id=project_id,
        target=None if target is None else str(target)[:TARGET_MAX],
        details=redact(dict(details or {})),
    )
    session.add(event)
    session.flush()
    return event


def discard(session: Session, event_id: int) -> None:
    """Remove an event whose change was undone later (a job the queue refused)."""
    session.execute(delete(AuditEvent).where(AuditEvent.id == event_id))


def list_events(
    session: Session,
    *,
    project_ids: Collection[str] | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """A page of events, newest first, and how many match.

    ``project_ids=None`` means every event, host-wide ones (no project) included;
    a collection means only events of those projects.
    """
    if action is not None and action not in ACTIONS:
        raise ValueError(f"action: must be one of {', '.join(ACTIONS)}, got {action!r}")
    statement = select(AuditEvent)
    if project_ids is not None:
        statement = statement.where(AuditEvent.project_id.in_(sorted(project_ids)))
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    order = [AuditEvent.created_at.desc(), AuditEvent.id.desc()]
    return fetch_page(session, statement, order, limit, offset)
