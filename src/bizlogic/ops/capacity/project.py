"""The capacity section: each series' trend, when it reaches its limit, and what to do.

``projections`` is what ``bizlogic tune`` and the periodic report call; its result is
plain JSON (ISO-8601 UTC strings for moments).

Limits: a filesystem has two, 80 % and 90 % of its size (so each ``disk_bytes``
series appears twice); Redis its ``maxmemory``; PostgreSQL connections the server's
``max_connections``. The analysis time is projected from the growth of ``records``:
the largest project's analysis takes ``records × share × seconds_per_record``
seconds, where ``share`` is the largest project's share of all records now and
``seconds_per_record`` the latest sampled speed; its limit is
``BL_ANALYSIS_TIMEOUT_S``. Rows, records, database and log sizes and the queue have
no limit of their own (the disk holding them has): they get their growth per day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bizlogic.ops.capacity import fit as fitting
from bizlogic.ops.capacity import store
from bizlogic.ops.capacity.resources import DEPLOYMENT, UNITS, human
from bizlogic.settings import Settings
from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import AnnotationRow

DISK_SHARES = (0.8, 0.9)
URGENT_SHARE = 1 / 3  # within this share of the horizon: high priority
PRIORITIES = ("high", "medium", "low")
LIMIT_LABELS = {
    "redis_memory": "Redis maxmemory",
    "db_connections": "PostgreSQL max_connections",
    "analysis_seconds_per_record": "BL_ANALYSIS_TIMEOUT_S",
}
ACTIONS = {
    "disk_bytes": "free space (logs, old exports, BL_RETENTION_DAYS) or grow the filesystem",
    "redis_memory": "raise Redis maxmemory, or shorten BL_CACHE_TTL_S",
    "db_connections": "raise max_connections, or lower BL_DB_POOL_SIZE or the number of "
    "API/worker processes (or pool connections with PgBouncer)",
    "analysis_seconds_per_record": "raise BL_ANALYSIS_TIMEOUT_S, or analyse the largest "
    "project in smaller parts (fewer algorithms, a narrower date range)",
}
_DAY = 86400.0


def projections(db: Database, settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """Every stored series projected to its limit, with recommendations for the limits
    nearer than ``BL_CAPACITY_HORIZON_DAYS``."""
    now = now or clock.utcnow()
    horizon = settings.capacity_horizon_days
    found = store.series(db)
    latest = max((p.taken_at for points in found.values() for p in points), default=None)
    entries: list[dict[str, Any]] = []
    for key in sorted(found):
        points = found[key]
        if key.resource == "disk_bytes":
            size = points[-1].limit
            for share in DISK_SHARES:
                label = f"{share:.0%} of filesystem size"
                limit = None if size is None else share * size
                entry = project_series(key, points, limit, label, now, horizon)
                entries.append({**entry, "threshold_percent": round(100 * share)})
        elif key.resource == "analysis_seconds_per_record":
            records = found.get(store.SeriesKey("records", "", DEPLOYMENT), [])
            entries.append(_analysis(db, settings, key, points, records, now, horizon))
        else:
            label = LIMIT_LABELS.get(key.resource)
            entries.append(project_series(key, points, points[-1].limit, label, now, horizon))
    recommendations = [r for e in entries if (r := recommendation(e, horizon, now)) is not None]
    recommendations.sort(
        key=lambda r: (PRIORITIES.index(r["priority"]), r["days_left"] is None, r["days_left"] or 0)
    )
    return {
        "horizon_days": horizon,
        "taken_at": _iso(latest),
        "series": entries,
        "recommendations": recommendations,
    }


def project_series(
    key: store.SeriesKey,
    points: list[store.Point],
    limit: float | None,
    label: str | None,
    now: datetime,
    horizon: int,
    *,
    unit: str | None = None,
) -> dict[str, Any]:
    times = [p.taken_at for p in points]
    values = [float(p.value) for p in points]
    fit = fitting.fit_series(times, values)
    current = values[-1]
    entry: dict[str, Any] = {
        "resource": key.resource,
        "item": key.item,
        "scope": key.scope,
        "unit": unit or UNITS.get(key.resource, ""),
        "samples": len(points),
        "first_at": _iso(times[0]),
        "last_at": _iso(times[-1]),
        "current": current,
        "limit": limit,
        "limit_label": label if limit is not None else None,
        "model": fit.model if fit else None,
        "growth_per_day": fit.growth_per_day if fit else None,
        "reaches_at": None,
        "reaches_at_earliest": None,
        "reaches_at_latest": None,
        "days_left": None,
    }
    if limit is not None and current >= limit:
        since = _reached_since(times, values, limit)
        entry.update(status="reached", reaches_at=_iso(since), days_left=0.0)
    elif fit is None:
        entry["status"] = "not_enough_history"
    elif limit is None:
        entry["status"] = "no_limit"
    elif not fit.growing:
        entry["status"] = "not_growing"
    else:
        cross = fitting.crossing(fit, limit)
        entry.update(
            reaches_at=_iso(cross.reaches_at),
            reaches_at_earliest=_iso(cross.earliest),
            reaches_at_latest=_iso(cross.latest),
        )
        if cross.reaches_at is None:
            entry["status"] = "ok"  # not within fitting.MAX_DAYS
        else:
            days = round((cross.reaches_at - now).total_seconds() / _DAY, 2)
            entry["days_left"] = days
            entry["status"] = "within_horizon" if days <= horizon else "ok"
    return entry


def _reached_since(times: list[datetime], values: list[float], limit: float) -> datetime:
    """The first sample of the latest unbroken run at or above the limit."""
    since = times[-1]
    for moment, value in zip(reversed(times), reversed(values), strict=True):
        if value < limit:
            break
        since = moment
    return since


def _analysis(
    db: Database,
    settings: Settings,
    key: store.SeriesKey,
    speed: list[store.Point],
    records: list[store.Point],
    now: datetime,
    horizon: int,
) -> dict[str, Any]:
    """The largest project's analysis time, projected with the growth of ``records``."""
    seconds_per_record = float(speed[-1].value)
    with db.scope() as session:
        total = int(session.scalar(select(func.count()).select_from(AnnotationRow)) or 0)
        largest = int(
            session.scalar(
                select(func.count())
                .select_from(AnnotationRow)
                .group_by(AnnotationRow.project_id)
                .order_by(func.count().desc())
                .limit(1)
            )
            or 0
        )
    share = largest / total if total else 0.0
    factor = share * seconds_per_record  # analysis seconds per record of the whole store
    label = LIMIT_LABELS[key.resource]
    timeout = float(settings.analysis_timeout_s)
    extra = {
        "seconds_per_record": seconds_per_record,
        "largest_project_records": largest,
        "records_share": share,
    }
    if not records or not factor:
        points = [store.Point(speed[-1].taken_at, largest * seconds_per_record, timeout)]
    else:  # records(t) × factor: the same fit as records, in seconds
        points = [store.Point(p.taken_at, p.value * factor, timeout) for p in records]
    entry = project_series(key, points, timeout, label, now, horizon, unit="seconds")
    return {**entry, **extra}


def recommendation(entry: dict[str, Any], horizon: int, now: datetime) -> dict[str, Any] | None:
    """What to do about one series, when its limit is reached or in sight."""
    status, label = entry["status"], entry["limit_label"]
    where = entry["resource"] + (f" {entry['item']}" if entry["item"] else "")
    if entry["resource"] == "analysis_seconds_per_record":
        where = "the largest project's analysis time"
    if entry["scope"] != DEPLOYMENT:
        where += f" on {entry['scope']}"
    days = entry["days_left"]
    if status == "reached":
        priority = "high"
        message = f"{where} has reached {label} ({_figure(entry)})"
    elif status == "within_horizon":
        priority = "high" if days <= horizon * URGENT_SHARE else "medium"
        message = (
            f"{where} is projected to reach {label} on {entry['reaches_at'][:10]} "
            f"(in {max(days, 0):.1f} days; 90% interval {_span(entry, now)})"
        )
    elif status == "ok" and entry["reaches_at_earliest"] is not None:
        earliest = datetime.fromisoformat(entry["reaches_at_earliest"])
        if (earliest - now).total_seconds() / _DAY > horizon:
            return None
        priority = "low"
        message = (
            f"{where} may reach {label} as early as {entry['reaches_at_earliest'][:10]} "
            f"(central estimate {_date(entry['reaches_at'])})"
        )
    else:
        return None
    host = entry["scope"] if entry["scope"] != DEPLOYMENT else ""
    ident = "_".join(p for p in ("capacity", entry["resource"], host, entry["item"]) if p)
    if entry["resource"] == "disk_bytes":
        ident += f"_{entry['threshold_percent']}pct"
    return {
        "id": ident,
        "priority": priority,
        "resource": entry["resource"],
        "item": entry["item"],
        "scope": entry["scope"],
        "message": message,
        "action": ACTIONS.get(entry["resource"], ""),
        "limit": entry["limit"],
        "limit_label": label,
        "current": entry["current"],
        "growth_per_day": entry["growth_per_day"],
        "reaches_at": entry["reaches_at"],
        "reaches_at_earliest": entry["reaches_at_earliest"],
        "reaches_at_latest": entry["reaches_at_latest"],
        "days_left": days,
    }


def _figure(entry: dict[str, Any]) -> str:
    unit = entry["unit"]
    return f"{human(entry['current'], unit)} of {human(entry['limit'], unit)}"


def _span(entry: dict[str, Any], now: datetime) -> str:
    """The interval as days from now: 'earliest–latest days' ('… or later' when the
    lower edge never gets there)."""

    def days(iso: str) -> str:
        return f"{max((datetime.fromisoformat(iso) - now).total_seconds() / _DAY, 0):.1f}"

    earliest, latest = entry["reaches_at_earliest"], entry["reaches_at_latest"]
    if latest is None:
        return f"{days(earliest)} days or later"
    return f"{days(earliest)}–{days(latest)} days"


def _date(iso: str | None) -> str:
    return iso[:10] if iso else "not within 10 years"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds")
