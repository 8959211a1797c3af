"""bizlogic's own alerts (maintenance, recovery escalation) to ``BL_ALERT_WEBHOOK_URL``, with
bounded, jittered retries.

Any webhook gets the alert as one JSON object. A URL ending in ``/api/v2/alerts`` is
an Alertmanager: it gets the alert in Alertmanager's own format, labelled
``service="business_logic"``, so it takes the same routes, receivers (e-mail, chat,
SMS), silences and inhibitions as the Prometheus alerts.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryError,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

ATTEMPTS = 3
ALERTMANAGER_PATH = "/api/v2/alerts"


class DeliveryError(Exception):
    """The webhook did not accept the alert after every attempt."""


def alert_payload(name: str, severity: str, summary: str, **details: Any) -> dict[str, Any]:
    return {
        "alertname": name,
        "severity": severity,
        "summary": summary,
        "host": socket.gethostname(),
        "service": "business-logic",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "details": details,
    }


def alertmanager_alerts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The alert as Alertmanager's API takes it: labels route it, annotations describe it."""
    labels = {
        "alertname": payload["alertname"],
        "severity": payload["severity"],
        "service": "business_logic",
        "instance": payload["host"],
    }
    details = payload.get("details") or {}
    if isinstance(details.get("failure_type"), str):
        labels["failure_type"] = details["failure_type"]
    annotations = {
        "summary": payload["summary"],
        "description": json.dumps(details, ensure_ascii=False, default=str, sort_keys=True),
    }
    return [{"labels": labels, "annotations": annotations, "startsAt": payload["timestamp"]}]


def send_alert(
    url: str, payload: dict[str, Any], *, timeout_s: float = 5.0, max_wait_s: float = 4.0
) -> int:
    """POST the alert; returns the attempts it took, or raises DeliveryError."""
    attempts = [0]
    body: Any = payload
    if httpx.URL(url).path.rstrip("/") == ALERTMANAGER_PATH:
        body = alertmanager_alerts(payload)

    @retry(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_random_exponential(multiplier=0.5, max=max_wait_s),
        retry=retry_if_exception_type(httpx.HTTPError),
    )
    def post() -> None:
        attempts[0] += 1
        response = httpx.post(url, json=body, timeout=timeout_s)
        response.raise_for_status()

    try:
        post()
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise DeliveryError(
            f"webhook did not accept the alert after {ATTEMPTS} attempts: {last.__class__.__name__}"
        ) from None
    return attempts[0]
