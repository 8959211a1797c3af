"""Alerts to an operator's webhook (JSON, alert-style fields), with bounded, jittered retries.

Shared by the maintenance job (disk alerts) and, later, auto-recovery (notify_admin).
"""

from __future__ import annotations

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


def send_alert(
    url: str, payload: dict[str, Any], *, timeout_s: float = 5.0, max_wait_s: float = 4.0
) -> int:
    """POST the alert; returns the attempts it took, or raises DeliveryError."""
    attempts = [0]

    @retry(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_random_exponential(multiplier=0.5, max=max_wait_s),
        retry=retry_if_exception_type(httpx.HTTPError),
    )
    def post() -> None:
        attempts[0] += 1
        response = httpx.post(url, json=payload, timeout=timeout_s)
        response.raise_for_status()

    try:
        post()
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise DeliveryError(
            f"webhook did not accept the alert after {ATTEMPTS} attempts: {last.__class__.__name__}"
        ) from None
    return attempts[0]
