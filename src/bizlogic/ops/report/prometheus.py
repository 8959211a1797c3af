"""A small reader of Prometheus' HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

Answers are checked for the documented envelope (``status``, ``data.resultType``,
``data.result``); an error names the query, never the URL's credentials.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import httpx

TIMEOUT_S = 30.0


class PrometheusError(Exception):
    """Prometheus could not answer a query (unreachable, an error, an unexpected shape)."""


def _float(text: Any) -> float | None:
    value = float(text)
    return None if math.isnan(value) or math.isinf(value) else value


class Prometheus:
    def __init__(self, url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base = url.rstrip("/")
        self.client = httpx.Client(timeout=TIMEOUT_S, transport=transport)

    @property
    def where(self) -> str:
        """Scheme, host and port: what the report names as its source."""
        url = httpx.URL(self.base)
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.host}{port}"

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: dict[str, str], query: str) -> list[dict[str, Any]]:
        try:
            response = self.client.get(f"{self.base}{path}", params=params)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusError(
                f"Prometheus at {self.where} did not answer {query!r}: {type(exc).__name__}"
            ) from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error", "") if isinstance(answer, dict) else ""
            raise PrometheusError(
                f"Prometheus at {self.where} refused {query!r} (HTTP {response.status_code}): "
                f"{error}"
            )
        data = answer.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise PrometheusError(f"Prometheus at {self.where}: no data.result for {query!r}")
        return data["result"]

    def vector(self, query: str, at: datetime) -> list[tuple[dict[str, str], float | None]]:
        """An instant query evaluated at ``at``: (labels, value) per series."""
        result = self._get("/api/v1/query", {"query": query, "time": _stamp(at)}, query)
        return [(item.get("metric", {}), _float(item["value"][1])) for item in result]

    def scalar(self, query: str, at: datetime) -> float | None:
        """The single value of an aggregated query; None when it has no series (no data)."""
        found = self.vector(query, at)
        return found[0][1] if found else None


def _stamp(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"
