"""Service availability, requests, errors and latency: from Prometheus when
``BL_PROMETHEUS_URL`` is set, else from the service's own JSON log.

Prometheus knows what the log cannot: whether the API was up (``up`` of the
``business_logic`` job) and how long requests took (the
``bl_http_request_duration_seconds`` histogram). From the log, the access lines
(``http_request``) give requests, statuses and durations; availability is then the
share of requests answered without a 5xx (``availability_basis``), and latency is "no
data" only for a log written before the service logged durations.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bizlogic.ops.report.logpass import ServiceLogPass
from bizlogic.ops.report.prometheus import Prometheus
from bizlogic.ops.report.stats import QUANTILES, day_of, nearest_rank, share
from bizlogic.ops.report.window import Window

API_JOB = "business_logic"  # deploy/prometheus/prometheus.yml
REQUESTS = "bl_http_requests_total"
DURATION = "bl_http_request_duration_seconds_bucket"
TOP_ENDPOINTS = 5


def _range(span: timedelta) -> str:
    return f"{int(span.total_seconds())}s"


def _quantile(q: float, span: timedelta, by: str = "") -> str:
    return f"histogram_quantile({q}, sum by (le{by}) (increase({DURATION}[{_range(span)}])))"


def from_prometheus(prom: Prometheus, window: Window) -> dict[str, Any]:
    """The section from the API's metrics; None figures where a series is absent."""
    span, end = _range(window.span), window.end
    requests = prom.scalar(f"sum(increase({REQUESTS}[{span}]))", end)
    errors = prom.scalar(f'sum(increase({REQUESTS}{{status=~"5.."}}[{span}]))', end)
    latency = {f"p{q}": prom.scalar(_quantile(q / 100, window.span), end) for q in QUANTILES}
    by_route = f"sum by (method, route) (increase({REQUESTS}[{span}]))"
    errors_by_route = {
        _endpoint(labels): value
        for labels, value in prom.vector(
            f'sum by (method, route) (increase({REQUESTS}{{status=~"5.."}}[{span}]))', end
        )
    }
    p95_by_route = {
        _endpoint(labels): value
        for labels, value in prom.vector(_quantile(0.95, window.span, ", method, route"), end)
    }
    endpoints = sorted(
        ((_endpoint(labels), value or 0.0) for labels, value in prom.vector(by_route, end)),
        key=lambda item: (-item[1], item[0]),
    )[:TOP_ENDPOINTS]
    per_day = []
    for day in window.days():
        start, stop = max(day, window.start), min(day + timedelta(days=1), window.end)
        per_day.append(
            {
                "day": day_of(day),
                "requests": prom.scalar(f"sum(increase({REQUESTS}[{_range(stop - start)}]))", stop),
                "p95_s": prom.scalar(_quantile(0.95, stop - start), stop),
            }
        )
    has_requests = requests is not None
    return {
        "source": "prometheus",
        "source_detail": prom.where,
        "availability": prom.scalar(f'avg(avg_over_time(up{{job="{API_JOB}"}}[{span}]))', end),
        "availability_basis": "up",
        "requests": requests,
        "errors_5xx": (errors or 0.0) if has_requests else None,
        "error_rate": share_f(errors or 0.0, requests) if has_requests else None,
        "latency_s": latency if any(v is not None for v in latency.values()) else None,
        "latency_note": None,
        "endpoints": [
            {
                "endpoint": name,
                "requests": count,
                "errors_5xx": errors_by_route.get(name, 0.0),
                "error_rate": share_f(errors_by_route.get(name, 0.0), count),
                "p95_s": p95_by_route.get(name),
            }
            for name, count in endpoints
        ],
        "per_day": per_day,
    }


def share_f(part: float, whole: float | None) -> float | None:
    return part / whole if whole else None


def _endpoint(labels: dict[str, str]) -> str:
    return f"{labels.get('method', '?')} {labels.get('route', '?')}"


def from_log(found: ServiceLogPass | None, files: list[str], window: Window) -> dict[str, Any]:
    """The section from the access lines of the log pass (None: no log to read)."""
    total = sum(found.requests.values()) if found is not None else 0
    errors = sum(found.errors_5xx.values()) if found is not None else 0
    endpoints = found.requests.most_common() if found is not None else []
    endpoints.sort(key=lambda item: (-item[1], item[0]))
    durations = found.durations_s if found is not None else []
    by_endpoint = found.durations_by_endpoint if found is not None else {}
    by_day = found.durations_by_day if found is not None else {}
    errors_5xx = found.errors_5xx if found is not None else {}
    success = share(total - errors, total)
    return {
        "source": "log" if found is not None else "none",
        "source_detail": ", ".join(files) if files else None,
        "availability": success,
        "availability_basis": "non_5xx_share" if success is not None else None,
        "requests": total or None,
        "errors_5xx": errors if total else None,
        "error_rate": share(errors, total),
        "statuses": dict(sorted(found.statuses.items())) if found is not None and total else {},
        "latency_s": {f"p{q}": nearest_rank(durations, q) for q in QUANTILES}
        if durations
        else None,
        "latency_note": "the access log records no request durations; set BL_PROMETHEUS_URL"
        if total and not durations
        else None,
        "endpoints": [
            {
                "endpoint": name,
                "requests": count,
                "errors_5xx": errors_5xx.get(name, 0),
                "error_rate": share(errors_5xx.get(name, 0), count),
                "p95_s": nearest_rank(by_endpoint.get(name, []), 95),
            }
            for name, count in endpoints[:TOP_ENDPOINTS]
        ],
        "per_day": [
            {
                "day": day_of(day),
                "requests": found.requests_by_day.get(day_of(day)) if found is not None else None,
                "p95_s": nearest_rank(by_day.get(day_of(day), []), 95),
            }
            for day in window.days()
        ],
    }


def log_figures(found: ServiceLogPass) -> dict[str, Any]:
    """The log analyzer's summary of the window, cut to what a report shows."""
    result = found.report()
    perf, errors, users = result["performance"], result["errors"], result["users"]
    return {
        "source": "log",
        "files": result["files"],
        "lines": result["lines"],
        "lines_in_window": result["lines_in_window"],
        "malformed": result["malformed"]["count"],
        "levels": dict(sorted(found.levels.items())),
        "analyses": {key: perf[key] for key in ("started", "completed", "failed", "success_rate")},
        "analysis_duration_s": {
            key: perf["duration_s"][key] for key in ("count", "p50", "p95", "max")
        },
        "slowest_algorithms": sorted(
            (
                {
                    "algorithm": name,
                    "p95_s": stats["duration_s"]["p95"],
                    "max_s": stats["duration_s"]["max"],
                }
                for name, stats in perf["by_algorithm"].items()
                if stats["duration_s"]["count"]
            ),
            key=lambda item: -item["max_s"],
        )[:3],
        "analysis_errors": errors["analysis_errors"],
        "errors_by_type": dict(list(errors["by_type"].items())[:5]),
        "error_lines_by_logger": dict(list(errors["error_lines_by_logger"].items())[:5]),
        "recent_errors": [
            {k: entry[k] for k in ("timestamp", "level", "logger", "event", "error")}
            for entry in errors["recent"][:5]
        ],
        "active_users": users["active_users"],
        "user_actions": users["actions"],
    }
