"""Capacity samples in ``capacity_samples``: write a set, read the series, forget the old."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, func, select

from bizlogic.ops.capacity.resources import Sample
from bizlogic.store.db import Database
from bizlogic.store.tables import CapacitySample


class SeriesKey(NamedTuple):
    resource: str
    item: str
    scope: str


class Point(NamedTuple):
    taken_at: datetime
    value: float
    limit: float | None


def write(db: Database, samples: Iterable[Sample], taken_at: datetime) -> int:
    """Store one set of samples, all stamped ``taken_at``, in one transaction."""
    rows = [
        CapacitySample(
            taken_at=taken_at,
            scope=s.scope,
            resource=s.resource,
            item=s.item,
            value=s.value,
            limit_value=s.limit,
        )
        for s in samples
    ]
    with db.scope() as session:
        session.add_all(rows)
    return len(rows)


def series(
    db: Database, *, resource: str | None = None, since: datetime | None = None
) -> dict[SeriesKey, list[Point]]:
    """Every series (or one resource's), each oldest sample first."""
    query = select(
        CapacitySample.resource,
        CapacitySample.item,
        CapacitySample.scope,
        CapacitySample.taken_at,
        CapacitySample.value,
        CapacitySample.limit_value,
    )
    if resource is not None:
        query = query.where(CapacitySample.resource == resource)
    if since is not None:
        query = query.where(CapacitySample.taken_at >= since)
    query = query.order_by(CapacitySample.taken_at, CapacitySample.id)
    found: dict[SeriesKey, list[Point]] = defaultdict(list)
    with db.scope() as session:
        for res, item, scope, taken, value, limit in session.execute(query):
            found[SeriesKey(res, item, scope)].append(Point(taken, value, limit))
    return dict(found)


def _older(retention_days: int, now: datetime) -> object:
    return CapacitySample.taken_at < now - timedelta(days=retention_days)


def count_old(db: Database, retention_days: int, now: datetime) -> int:
    """How many samples are older than ``retention_days`` (what `prune` would remove)."""
    with db.scope() as session:
        query = select(func.count()).select_from(CapacitySample)
        return int(session.scalar(query.where(_older(retention_days, now))) or 0)


def prune(db: Database, retention_days: int, now: datetime) -> int:
    """Delete samples older than ``retention_days``; returns how many went."""
    with db.scope() as session:
        result = session.execute(delete(CapacitySample).where(_older(retention_days, now)))
        return int(result.rowcount or 0)
