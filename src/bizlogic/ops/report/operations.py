"""What the operations tools did in the window: maintenance runs (``maintenance_runs``,
read through `bizlogic.ops.maintenance.history`), recovery's actions and the alerts it
was sent (``recovery_events``), or the alerts Prometheus fired (its ``ALERTS`` series)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bizlogic.ops.maintenance import KIND as MAINTENANCE
from bizlogic.ops.maintenance import history
from bizlogic.ops.recovery.history import SWITCH
from bizlogic.ops.report.prometheus import Prometheus
from bizlogic.ops.report.stats import nearest_rank
from bizlogic.ops.report.window import Window
from bizlogic.store.db import Database
from bizlogic.store.tables import MaintenanceRun, RecoveryEvent

MAX_ERROR = 300


def maintenance(db: Database, window: Window) -> dict[str, Any]:
    """Runs started in the window, and each step's results across them."""
    with db.scope() as session:  # the runs since the window's start, to read that many
        since = session.scalar(
            select(func.count())
            .select_from(MaintenanceRun)
            .where(MaintenanceRun.kind == MAINTENANCE, MaintenanceRun.started_at >= window.start)
        )
    runs = [
        run
        for run in (history(db, int(since) + 1) if since else [])
        if window.start <= datetime.fromisoformat(run["started_at"]) < window.end
    ]
    runs.reverse()  # oldest first
    steps: dict[str, dict[str, Any]] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for step in run["steps"]:
            entry = steps.setdefault(
                step["name"],
                {
                    "name": step["name"],
                    "runs": 0,
                    "by_status": Counter(),
                    "last_status": None,
                    "last_error": None,
                },
            )
            entry["runs"] += 1
            status = step["status"] or "unknown"
            entry["by_status"][status] += 1
            entry["last_status"] = status
            entry["last_error"] = (step["error"] or "")[:MAX_ERROR] or None
            if isinstance(step["duration_s"], int | float):
                durations[step["name"]].append(float(step["duration_s"]))
    by_status = Counter(run["status"] for run in runs)
    return {
        "source": "maintenance_runs",
        "runs": len(runs),
        "dry_runs": sum(1 for run in runs if run["dry_run"]),
        "by_status": dict(sorted(by_status.items())),
        "failed_runs": [
            {
                "run_id": run["run_id"],
                "started_at": run["started_at"],
                "error": (run["error"] or "")[:MAX_ERROR] or None,
            }
            for run in runs
            if run["status"] in ("failed", "interrupted")
        ],
        "steps": [
            {
                **entry,
                "by_status": dict(sorted(entry["by_status"].items())),
                "duration_p50_s": nearest_rank(durations[name], 50),
                "duration_max_s": max(durations[name]) if durations[name] else None,
            }
            for name, entry in sorted(steps.items())
        ],
        "failing_steps": sorted(name for name, e in steps.items() if e["by_status"].get("failed")),
    }


def recovery(db: Database, window: Window) -> dict[str, Any]:
    """Actions recovery took (or, in dry-run, would have taken) in the window."""
    with db.scope() as session:
        rows = list(
            session.execute(
                select(RecoveryEvent.action, RecoveryEvent.status, RecoveryEvent.dry_run)
                .where(RecoveryEvent.created_at >= window.start)
                .where(RecoveryEvent.created_at < window.end)
                .where(RecoveryEvent.action.is_not(None))
                .where(RecoveryEvent.action.not_in(SWITCH))
            )
        )
        detections = session.scalar(
            select(func.count())
            .select_from(RecoveryEvent)
            .where(RecoveryEvent.created_at >= window.start)
            .where(RecoveryEvent.created_at < window.end)
            .where(RecoveryEvent.action.is_(None))
            .where(RecoveryEvent.source != "alertmanager")
        )
    pairs = Counter((action, status) for action, status, _ in rows)
    return {
        "source": "recovery_events",
        "actions": len(rows),
        "dry_run": sum(1 for *_, dry in rows if dry),
        "acted": sum(1 for *_, dry in rows if not dry),
        "escalations": sum(1 for _, status, _ in rows if status == "escalated"),
        "detections": int(detections or 0),
        "by_action_status": [
            {"action": action, "status": status, "count": count}
            for (action, status), count in sorted(pairs.items())
        ],
    }


def alerts_from_recovery(db: Database, window: Window) -> dict[str, Any]:
    """The alerts Alertmanager sent to recovery's webhook: one row each firing and each
    resolution (``dedup_key`` ends with the state Alertmanager gave)."""
    with db.scope() as session:
        rows = list(
            session.execute(
                select(RecoveryEvent.alert_name, RecoveryEvent.severity, RecoveryEvent.dedup_key)
                .where(RecoveryEvent.source == "alertmanager")
                .where(RecoveryEvent.created_at >= window.start)
                .where(RecoveryEvent.created_at < window.end)
            )
        )
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for name, severity, key in rows:
        state = "resolved" if (key or "").endswith("|resolved") else "fired"
        counts[(name or "(no alertname)", severity or "none")][state] += 1
    return _alerts("recovery_events", counts)


def alerts_from_prometheus(prom: Prometheus, window: Window) -> dict[str, Any]:
    """Alert series that fired in the window (``ALERTS{alertstate="firing"}``); those no
    longer firing at its end are counted resolved."""
    span = f"{int(window.span.total_seconds())}s"
    fired = prom.vector(f'max_over_time(ALERTS{{alertstate="firing"}}[{span}])', window.end)
    still = {
        _identity(labels) for labels, _ in prom.vector('ALERTS{alertstate="firing"}', window.end)
    }
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for labels, _ in fired:
        key = (labels.get("alertname", "(no alertname)"), labels.get("severity", "none"))
        counts[key]["fired"] += 1
        if _identity(labels) not in still:
            counts[key]["resolved"] += 1
    return _alerts("prometheus", counts)


def _identity(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def _alerts(source: str, counts: dict[tuple[str, str], Counter[str]]) -> dict[str, Any]:
    listed = sorted(counts.items(), key=lambda item: (-item[1]["fired"], item[0]))
    return {
        "source": source,
        "fired": sum(c["fired"] for c in counts.values()),
        "resolved": sum(c["resolved"] for c in counts.values()),
        "by_alert": [
            {
                "alert_name": name,
                "severity": severity,
                "fired": c["fired"],
                "resolved": c["resolved"],
            }
            for (name, severity), c in listed
        ],
        "names": sorted({name for name, _ in counts}),
    }
