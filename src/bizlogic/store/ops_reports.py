"""Documents of the operations routine, kept in ``ops_reports``.

A periodic report reads the previous one to say what changed, and the drills and
tuner runs of its window to include them; so each of those is stored when it is
made, with its headline figures (``summary``) apart from the whole document
(``body``), which listings do not load.
"""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import defer

from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import OpsReport

Kind = Literal["report", "drill", "tune"]
KINDS: tuple[str, ...] = get_args(Kind)
# The summary of a drill document: written by ``bizlogic drill``, read by the report.
DRILL_SUMMARY_KEYS = (
    "drill",
    "target",
    "passed",
    "detect_s",
    "recover_s",
    "recovery_acted",
    "lost_jobs",
    "lost_records",
)


def save(
    db: Database,
    kind: Kind,
    name: str,
    status: str,
    summary: dict[str, Any],
    body: dict[str, Any],
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    created_at: datetime | None = None,
) -> int:
    """Store one document; returns its id."""
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {list(KINDS)}")
    row = OpsReport(
        kind=kind,
        name=name[:64],
        status=status[:32],
        summary=summary,
        body=body,
        window_start=window_start,
        window_end=window_end,
        created_at=created_at or clock.utcnow(),
        host=socket.gethostname()[:255],
    )
    with db.scope() as session:
        session.add(row)
        session.flush()
        return row.id


def latest(
    db: Database, kind: Kind, *, name: str | None = None, before: datetime | None = None
) -> dict[str, Any] | None:
    """The newest document of ``kind`` (and ``name``), made before ``before``; with its body."""
    query = select(OpsReport).where(OpsReport.kind == kind)
    if name is not None:
        query = query.where(OpsReport.name == name)
    if before is not None:
        query = query.where(OpsReport.created_at < before)
    with db.scope() as session:
        row = session.scalars(
            query.order_by(OpsReport.created_at.desc(), OpsReport.id.desc()).limit(1)
        ).first()
        return None if row is None else row.as_dict(with_body=True)


def made_between(db: Database, kind: Kind, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Documents of ``kind`` made in ``[start, end)``, oldest first, without their bodies."""
    query = (
        select(OpsReport)
        .options(defer(OpsReport.body))
        .where(OpsReport.kind == kind, OpsReport.created_at >= start, OpsReport.created_at < end)
        .order_by(OpsReport.created_at, OpsReport.id)
    )
    with db.scope() as session:
        return [row.as_dict() for row in session.scalars(query)]
