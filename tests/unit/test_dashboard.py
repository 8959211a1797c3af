"""The Grafana dashboard: stable uid, datasource variable, units and descriptions everywhere,
rates over $__rate_interval, and every contract metric on some panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "deploy/grafana/dashboards/business-logic.json").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
CONTRACT = [
    "bl_analysis_requests_total", "bl_analysis_duration_seconds", "bl_active_analyses",
    "bl_rules_extracted_total", "bl_pattern_accuracy", "bl_cache_hit_rate",
    "bl_data_processed_total", "bl_cpu_usage_percent", "bl_memory_usage_bytes",
    "bl_memory_usage_percent", "bl_disk_usage_percent", "bl_disk_io_read_bytes",
    "bl_disk_io_write_bytes", "bl_db_connections_active", "bl_db_connections_idle",
    "bl_db_query_duration_seconds", "bl_redis_connected_clients", "bl_redis_memory_usage_bytes",
    "bl_redis_keyspace_hits", "bl_redis_keyspace_misses", "bl_queue_depth",
    "bl_recovery_actions_total", "bl_http_requests_total", "bl_http_request_duration_seconds",
]  # fmt: skip


def test_identity_and_datasource_variable() -> None:
    assert DASHBOARD["uid"] == "bizlogic-overview"
    [variable] = DASHBOARD["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource", "datasource", "prometheus"
    )  # fmt: skip


def test_every_panel_has_unit_description_and_the_variable_datasource() -> None:
    for panel in PANELS:
        assert panel["description"].strip(), panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


def test_rates_use_the_rate_interval_and_every_metric_is_shown() -> None:
    exprs = [t["expr"] for p in PANELS for t in p["targets"]]
    for expr in exprs:
        for window in re.findall(r"(?:rate|increase)\([^\[]*\[([^\]]+)\]", expr):
            assert window == "$__rate_interval", expr
    text = " ".join(exprs)
    assert [m for m in CONTRACT if m.removesuffix("_total") not in text] == []


def test_panel_ids_are_unique_and_grafana_provisioning_points_at_prometheus() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    datasources = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    assert [d["type"] for d in datasources] == ["prometheus"]


def test_user_experience_and_usage_panels() -> None:
    """HTTP latency per route (p50/p95/p99) and analyses by algorithm, role and project."""
    by_title = {p["title"]: [t["expr"] for t in p["targets"]] for p in PANELS}
    latency = by_title["HTTP latency by route (p50 / p95 / p99)"]
    assert [e.split(",")[0] for e in latency] == [
        "histogram_quantile(0.5", "histogram_quantile(0.95", "histogram_quantile(0.99"
    ]  # fmt: skip
    assert all("sum by (le, route)" in e and "bl_http_request_duration_seconds_bucket" in e
               for e in latency)  # fmt: skip
    assert by_title["Analyses by algorithm and role"] == [
        "sum by (algorithm, user_role, status) "
        "(increase(bl_analysis_requests_total[$__rate_interval]))"
    ]
    assert by_title["Analyses by project"] == [
        "sum by (project_id, status) (increase(bl_analysis_requests_total[$__rate_interval]))"
    ]
