"""Alertmanager's webhook (payload version 4) → recovery detections, idempotently.

Alertmanager sends one alert state many times (group and repeat intervals,
retries, every API replica behind a load balancer). Each alert is keyed by
fingerprint + startsAt + status; the key is unique in ``recovery_events``, so
a copy is acknowledged and changes nothing. A firing alert that maps to a
failure type becomes a ``pending`` detection that a leading recovery process
takes up (memory, CPU: the alert's host's watcher); a resolved one is
recorded; one that maps to nothing is recorded as ``ignored`` and logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.ops.recovery.hosts import HOST_FAILURES, alert_host
from bizlogic.store.db import Database
from bizlogic.telemetry.logging import get_logger

logger = get_logger("bizlogic.recovery")


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # camelCase: Alertmanager's own field names
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=128)


class AlertmanagerPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""
    alerts: list[Alert] = Field(max_length=1000)


@dataclass
class Intake:
    received: int = 0
    pending: list[int] = field(default_factory=list)
    resolved: int = 0
    ignored: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "pending": len(self.pending),
            "resolved": self.resolved,
            "ignored": self.ignored,
            "duplicates": self.duplicates,
        }


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def take_in(
    db: Database, config: RecoveryConfig, payload: AlertmanagerPayload, *, dry_run: bool
) -> Intake:
    """Record each alert once; ``dry_run`` is the mode recovery runs in (what the rows of
    its episode will be marked with, so `recover history` shows one mode per episode)."""
    intake = Intake(received=len(payload.alerts))
    for alert in payload.alerts:
        name = alert.labels.get("alertname", "")
        failure = config.failure_for_alert(name, alert.labels)
        # One instant, one key: "+01:00" and "Z" spellings of the same time are one event.
        starts = _utc_iso(alert.startsAt)
        status = "resolved" if alert.status == "resolved" else "pending" if failure else "ignored"
        event = history.record(
            db,
            source="alertmanager",
            failure_type=failure,
            alert_name=name[:255],
            fingerprint=alert.fingerprint,
            severity=(alert.labels.get("severity") or "")[:32] or None,  # a VARCHAR(32) column
            status=status,
            dry_run=dry_run,
            host=alert_host(alert.labels) if failure in HOST_FAILURES else None,
            details={
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": starts,
                "generatorURL": alert.generatorURL,
            },
            dedup_key=f"{alert.fingerprint}|{starts}|{alert.status}",
        )
        if event is None:
            intake.duplicates += 1
        elif status == "pending":
            intake.pending.append(event)
        elif status == "resolved":
            intake.resolved += 1
        else:
            intake.ignored += 1
            logger.warning(
                "recovery_alert_ignored",
                alertname=name,
                fingerprint=alert.fingerprint,
                message=f"alert {name!r} maps to no failure type: acknowledged",
            )
    return intake
