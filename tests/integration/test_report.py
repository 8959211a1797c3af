"""`bizlogic report` on seeded data: every figure of the JSON report against a computation
of its own here (plain counting, numpy percentiles), on SQLite and PostgreSQL; the HTML,
Markdown and terminal outputs; --send to a local SMTP server and a local (signed) chat
webhook; Prometheus as the source through a local server answering its HTTP API.

Percentiles are nearest-rank, as the log analyzer's: numpy's ``inverted_cdf`` method."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
import pytest
from aiosmtpd.controller import Controller

from bizlogic.ops.report.gather import gather
from bizlogic.ops.report.html import render_html
from bizlogic.ops.report.markdown import MAX_BYTES, render_markdown
from bizlogic.ops.report.window import Window
from bizlogic.settings import Settings
from bizlogic.store import migrations, ops_reports
from bizlogic.store.db import Database
from bizlogic.store.projects import get_or_create_project
from bizlogic.store.tables import (
    AnalysisJob,
    AuditEvent,
    CapacitySample,
    InsightRow,
    MaintenanceRun,
    RecoveryEvent,
    RuleRow,
)
from tests.conftest import fresh_pg_database
from tests.servers import bizlogic, clean_env, free_port

END = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ALGORITHMS = (["apriori"], ["fpgrowth"], ["apriori", "fpgrowth"])
PROJECTS = ("alpha", "beta", "gamma")
DING_SECRET = "SECtest-report-signing-secret"
DING_TOKEN = "report-ding-token-0123456789"


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q, method="inverted_cdf")) if values else None


# -- the seeded truth ----------------------------------------------------------------------


def seed(db: Database, end: datetime, log_dir: Path) -> dict[str, Any]:
    """Rows of every kind, inside the window [end - 7d, end) and outside it, and a log
    family (live file and a rotation); returns what was seeded, for the expectations."""
    rng = np.random.default_rng(20261207)
    start = end - 7 * DAY
    truth: dict[str, Any] = {
        "jobs": [],
        "rules": [],
        "insights": [],
        "audit": [],
        "runs": [],
        "recovery": [],
        "log": [],
    }

    def moment(inside: bool) -> datetime:  # at least an hour from either edge
        if inside:
            return start + timedelta(seconds=int(rng.integers(3600, 7 * 86400 - 3600)))
        return start - timedelta(seconds=int(rng.integers(3600, 5 * 86400)))

    with db.scope() as session:
        for project in PROJECTS:
            get_or_create_project(session, project)
        statuses = ["completed"] * 18 + ["failed"] * 6 + ["cancelled"] * 2 + ["queued"] * 2
        statuses += ["completed"] * 4  # outside the window
        for index, status in enumerate(statuses):
            inside = index < 28
            created = moment(inside)
            algorithms = list(ALGORITHMS[int(rng.integers(0, 3))])
            project = PROJECTS[int(rng.integers(0, 3))]
            duration = round(float(rng.uniform(0.5, 120)), 3)
            started = created + timedelta(seconds=2) if status != "queued" else None
            finished = started + timedelta(seconds=duration) if started else None
            records = int(rng.integers(100, 9000))
            error = f"timeout: ran past {index} s" if status == "failed" else None
            session.add(
                AnalysisJob(
                    job_id=f"job-{index:03d}",
                    project_id=project,
                    status=status,
                    parameters={},
                    algorithms=algorithms,
                    attempts=1,
                    created_at=created,
                    started_at=started,
                    finished_at=finished,
                    progress=1.0 if finished else 0.0,
                    error=error,
                    results={"n_records": records, "rules": 3} if status == "completed" else None,
                )
            )
            truth["jobs"].append(
                {
                    "id": f"job-{index:03d}",
                    "project": project,
                    "status": status,
                    "algorithms": "+".join(sorted(algorithms)),
                    "created": created,
                    "duration": duration,
                    "records": records,
                    "error": error,
                    "finished": finished,
                }
            )
        for index in range(14):
            created = moment(index < 9)
            updated = created if index % 3 else created + timedelta(days=2)
            if index >= 9 and index % 2:  # made before, refreshed inside
                updated = start + timedelta(hours=5 + index)
            session.add(
                RuleRow(
                    project_id="alpha",
                    algorithm="apriori",
                    rule_type="association",
                    rule_key=f"r{index}",
                    pattern=f"r{index}",
                    conditions=[],
                    consequent={},
                    support_count=1,
                    support=0.1,
                    antecedent_count=1,
                    consequent_count=1,
                    n_records=10,
                    confidence=0.5,
                    lift=1.0,
                    leverage=0.0,
                    conviction=1.0,
                    p_value=0.5,
                    q_value=0.5,
                    pmi=0.0,
                    npmi=0.0,
                    examples=[],
                    created_at=created,
                    updated_at=min(updated, end - timedelta(minutes=5)),
                )
            )
            truth["rules"].append((created, min(updated, end - timedelta(minutes=5))))
        for index in range(8):
            created = moment(index < 5)
            acknowledged = created + timedelta(hours=1) if index % 2 == 0 else None
            session.add(
                InsightRow(
                    project_id="beta",
                    algorithm="apriori",
                    insight_key=f"i{index}",
                    insight_type="t",
                    title="t",
                    description="d",
                    impact_score=0.5,
                    recommendations=[],
                    evidence={},
                    created_at=created,
                    updated_at=created,
                    acknowledged=acknowledged is not None,
                    acknowledged_at=acknowledged,
                )
            )
            truth["insights"].append((created, created, acknowledged))
        actions = (
            "rule.toggle",
            "rule.confidence",
            "rule.delete",
            "rules.import",
            "rules.apply",
            "insight.acknowledge",
            "job.cancel",
        )
        for index in range(25):
            created = moment(index < 20)
            action = actions[int(rng.integers(0, len(actions)))]
            user = ("ana", "bo", "chen")[int(rng.integers(0, 3))]
            session.add(
                AuditEvent(
                    created_at=created,
                    user_id=user,
                    role="project_admin",
                    action=action,
                    details={},
                )
            )
            truth["audit"].append((created, action, user))
        steps_names = ("cache", "retention", "database", "logs", "disk")
        for index in range(6):
            started = moment(index < 5)
            steps = []
            for name in steps_names:
                failed = name == "database" and index in (1, 3)
                steps.append(
                    {
                        "name": name,
                        "status": "failed" if failed else "ok",
                        "duration_s": round(float(rng.uniform(0.01, 9)), 3),
                        "error": "VACUUM failed: disk full" if failed else None,
                    }
                )
            status = "failed" if index in (1, 3) else "ok"
            session.add(
                MaintenanceRun(
                    kind="maintenance",
                    status=status,
                    dry_run=index == 4,
                    started_at=started,
                    finished_at=started + timedelta(seconds=30),
                    details={"steps": steps},
                    error="step database failed" if status == "failed" else None,
                )
            )
            truth["runs"].append(
                {"started": started, "status": status, "dry_run": index == 4, "steps": steps}
            )
        kinds = [
            ("restart_service", "succeeded", False),
            ("restart_service", "dry_run", True),
            ("flush_cache", "failed", False),
            ("notify_admin", "escalated", False),
            ("restart_service", "succeeded", False),
            ("pause", "paused", False),
            (None, "unresolved", True),
            ("flush_cache", "dry_run", True),
        ]
        for index, (action, status, dry) in enumerate(kinds * 2):
            created = moment(index < len(kinds))
            session.add(
                RecoveryEvent(
                    created_at=created,
                    source="detector",
                    failure_type="api_down",
                    action=action,
                    status=status,
                    dry_run=dry,
                )
            )
            truth["recovery"].append((created, action, status, dry, "detector", None))
        alerts = [
            ("BusinessLogicServiceDown", "critical", "firing"),
            ("BusinessLogicServiceDown", "critical", "resolved"),
            ("BusinessLogicHighLatency", "warning", "firing"),
            ("RedisDown", "critical", "firing"),
        ]
        for index, (name, severity, state) in enumerate(alerts * 2):
            created = moment(index < len(alerts))
            status = "resolved" if state == "resolved" else "pending"
            session.add(
                RecoveryEvent(
                    created_at=created,
                    source="alertmanager",
                    alert_name=name,
                    severity=severity,
                    status=status,
                    dry_run=True,
                    dedup_key=f"fp{index}|{created.isoformat()}|{state}",
                )
            )
            truth["recovery"].append(
                (created, None, status, True, "alertmanager", (name, severity, state))
            )
    truth["tune"] = {
        "recommendations": [
            {
                "id": "db_pool",
                "priority": "medium",
                "area": "database",
                "title": "Raise pool",
                "evidence": {},
                "reason": "checkouts wait",
                "change": {},
                "applicable": False,
            },
            {
                "id": "workers",
                "priority": "high",
                "area": "application",
                "title": "More workers",
                "evidence": {},
                "reason": "queue grows",
                "change": {},
                "applicable": True,
            },
            {
                "id": "cache_ttl",
                "priority": "low",
                "area": "cache",
                "title": "Longer TTL",
                "evidence": {},
                "reason": "hit rate low",
                "change": {},
                "applicable": True,
            },
        ]
    }
    ops_reports.save(
        db, "tune", "tune", "ok", {"recommendations": 3}, truth["tune"], created_at=start + 2 * DAY
    )
    truth["drills"] = [
        {
            "drill": "redis_down",
            "target": "redis",
            "passed": True,
            "detect_s": 4.5,
            "recover_s": 12.0,
            "recovery_acted": True,
            "lost_jobs": 0,
            "lost_records": 0,
        },
        {
            "drill": "worker_kill",
            "target": "worker",
            "passed": False,
            "detect_s": 9.0,
            "recover_s": None,
            "recovery_acted": None,
            "lost_jobs": 2,
            "lost_records": 150,
        },
    ]
    for offset, summary in zip((1, 3), truth["drills"], strict=True):
        ops_reports.save(
            db,
            "drill",
            summary["drill"],
            "passed" if summary["passed"] else "failed",
            summary,
            {},
            created_at=start + offset * DAY,
        )
    ops_reports.save(
        db,
        "drill",
        "old",
        "passed",
        {**truth["drills"][0], "drill": "old"},
        {},
        created_at=start - DAY,
    )
    truth["previous"] = {
        "requests": 40,
        "error_rate": 0.5,
        "latency_p95_s": None,
        "availability": None,
        "analyses": 10,
        "analysis_success_rate": 0.9,
        "rules_created": 2,
        "insights_created": 1,
        "curation_actions": 3,
        "alerts_fired": 1,
        "alerts_resolved": 0,
        "maintenance_runs": 7,
        "maintenance_failed": 0,
        "recovery_actions": 2,
        "escalations": 0,
        "open_recommendations": 1,
        "drills": 0,
        "drills_failed": 0,
        "failing_steps": ["logs"],
        "open_recommendation_ids": ["db_pool", "old_one"],
        "alert_names": ["RedisDown"],
        "failed_drills": [],
    }
    ops_reports.save(
        db,
        "report",
        "weekly",
        "ok",
        truth["previous"],
        {},
        window_start=start - 7 * DAY,
        window_end=start,
        created_at=start,
    )
    truth["log"] = write_log(log_dir, rng, start, end)
    return truth


def line(when: datetime, level: str, logger: str, event: str, **fields: Any) -> bytes:
    """A line as the service's formatter writes it (bizlogic.telemetry.logging)."""
    stamp = when.isoformat(timespec="microseconds").replace("+00:00", "Z")
    record = {
        "timestamp": stamp,
        "level": level,
        "logger": logger,
        "event": event,
        "message": fields.pop("message", event),
        **fields,
        "module": "m",
        "function": "f",
        "line": 1,
    }
    return orjson.dumps(record) + b"\n"


def write_log(log_dir: Path, rng: np.random.Generator, start: datetime, end: datetime) -> list:
    """api.log.1 (older) and api.log: access lines, analyses, errors, in and out of window."""
    entries: list[dict[str, Any]] = []
    paths = [
        ("GET", "/api/records?page=2", "/api/records"),
        ("POST", "/analysis", "/analysis"),
        ("GET", "/healthz", "/healthz"),
        ("GET", "/api/rules", "/api/rules"),
    ]
    for index in range(400):
        inside = index % 10 != 0
        when = (
            start + timedelta(seconds=int(rng.integers(60, 7 * 86400 - 60)))
            if inside
            else start - timedelta(seconds=int(rng.integers(60, 86400)))
        )
        kind = int(rng.integers(0, 10))
        if kind < 7:
            method, raw, clean = paths[int(rng.integers(0, 4))]
            status = (200, 201, 404, 500, 503)[int(rng.integers(0, 5))] if kind < 3 else 200
            entry = {"when": when, "inside": inside, "level": "INFO"}
            if index % 2:  # the service's access line, with its duration
                duration_ms = round(((index * 37) % 1000) / 3, 3)
                entry["text"] = line(
                    when, "INFO", "bizlogic.http", "http_request", method=method,
                    path=raw.split("?")[0], route=clean, status=status, duration_ms=duration_ms,
                    client="127.0.0.1", request_id=f"r{index}",
                )  # fmt: skip
                entry["duration_s"] = duration_ms / 1000
            else:  # uvicorn's, as logs of earlier versions hold: no duration
                event = f'127.0.0.1:{50000 + index} - "{method} {raw} HTTP/1.1" {status}'
                entry["text"] = line(when, "INFO", "uvicorn.access", event)
            entry["request"] = (f"{method} {clean}", status)
            entries.append(entry)
        elif kind < 9:
            algorithm = ("apriori", "fpgrowth")[int(rng.integers(0, 2))]
            duration = round(float(rng.uniform(0.1, 60)), 3)
            text = line(
                when,
                "INFO",
                "bizlogic.analysis",
                "analysis_complete",
                algorithm=algorithm,
                project_id="alpha",
                duration=duration,
            )
            entries.append(
                {
                    "when": when,
                    "inside": inside,
                    "level": "INFO",
                    "text": text,
                    "complete": (algorithm, duration),
                }
            )
        else:
            error = ("timeout: ran past 1800 s", "MemoryError: out of memory")[index % 2]
            text = line(
                when,
                "ERROR",
                "bizlogic.analysis",
                "analysis_error",
                algorithm="apriori",
                project_id="beta",
                error=error,
                duration=1.0,
            )
            entries.append(
                {
                    "when": when,
                    "inside": inside,
                    "level": "ERROR",
                    "text": text,
                    "error": error.split(":")[0],
                }
            )
    entries.sort(key=lambda e: e["when"])
    half = len(entries) // 2
    (log_dir / "api.log.1").write_bytes(b"".join(e["text"] for e in entries[:half]))
    (log_dir / "api.log").write_bytes(b"".join(e["text"] for e in entries[half:]))
    return entries


# -- the expectations, computed here -------------------------------------------------------


def expected(truth: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    def inside(when: datetime | None) -> bool:
        return when is not None and start <= when < end

    days = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        days.append(day.date().isoformat())
        day += DAY
    jobs = [j for j in truth["jobs"] if inside(j["created"])]
    by_status = Counter(j["status"] for j in jobs)
    by_alg: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        by_alg[job["algorithms"]].append(job)
    records: dict[str, int] = {}
    for job in jobs:
        if job["status"] == "completed":
            records[job["project"]] = max(records.get(job["project"], 0), job["records"])
    failed = sorted(
        (j for j in jobs if j["status"] == "failed"), key=lambda j: j["finished"], reverse=True
    )
    log = [e for e in truth["log"] if e["inside"]]
    requests = [e["request"] for e in log if "request" in e]
    errors_5xx = [r for r in requests if r[1] >= 500]
    per_endpoint = Counter(r[0] for r in requests)
    durations = [e["complete"][1] for e in log if "complete" in e]
    runs = [r for r in truth["runs"] if inside(r["started"])]
    step_durations: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for step in run["steps"]:
            step_durations[step["name"]].append(step["duration_s"])
    actions = [
        r for r in truth["recovery"] if inside(r[0]) and r[1] not in (None, "pause", "resume")
    ]
    alert_rows = [r for r in truth["recovery"] if inside(r[0]) and r[4] == "alertmanager"]
    audit = [a for a in truth["audit"] if inside(a[0]) and a[1] != "job.cancel"]
    return {
        "days": days,
        "analyses": {
            "total": len(jobs),
            "by_status": dict(by_status),
            "success_rate": by_status["completed"] / (by_status["completed"] + by_status["failed"]),
            "by_algorithm": {
                key: (
                    len(group),
                    sum(j["status"] == "completed" for j in group),
                    sum(j["status"] == "failed" for j in group),
                    pct([j["duration"] for j in group if j["status"] == "completed"], 50),
                    pct([j["duration"] for j in group if j["status"] == "completed"], 95),
                )
                for key, group in by_alg.items()
            },
            "largest": sorted(records.items(), key=lambda i: (-i[1], i[0]))[:5],
            "failures": [(j["id"], j["error"]) for j in failed],
            "per_day": [sum(1 for j in jobs if j["created"].date().isoformat() == d) for d in days],
        },
        "rules": (
            sum(inside(c) for c, _ in truth["rules"]),
            sum(c < start and inside(u) for c, u in truth["rules"]),
        ),
        "insights": (
            sum(inside(c) for c, _, _ in truth["insights"]),
            sum(inside(a) for _, _, a in truth["insights"]),
        ),
        "curation": (len(audit), Counter(a[1] for a in audit), Counter(a[2] for a in audit)),
        "maintenance": {
            "runs": len(runs),
            "dry_runs": sum(r["dry_run"] for r in runs),
            "failed": sum(r["status"] == "failed" for r in runs),
            "steps": {name: (len(v), pct(v, 50), max(v)) for name, v in step_durations.items()},
        },
        "recovery": {
            "actions": len(actions),
            "dry_run": sum(a[3] for a in actions),
            "escalations": sum(a[2] == "escalated" for a in actions),
            "pairs": Counter((a[1], a[2]) for a in actions),
            "detections": sum(
                1
                for r in truth["recovery"]
                if inside(r[0]) and r[1] is None and r[4] != "alertmanager"
            ),
        },
        "alerts": Counter(
            (r[5][0], r[5][1], "resolved" if r[5][2] == "resolved" else "fired") for r in alert_rows
        ),
        "service": {
            "requests": len(requests),
            "errors": len(errors_5xx),
            "endpoints": sorted(per_endpoint.items(), key=lambda i: (-i[1], i[0]))[:5],
            "errors_by_endpoint": Counter(r[0] for r in errors_5xx),
            "per_day": [
                sum(1 for e in log if "request" in e and e["when"].date().isoformat() == d) or None
                for d in days
            ],
            "durations": [e["duration_s"] for e in log if "duration_s" in e],
            "durations_by_endpoint": {
                name: [
                    e["duration_s"] for e in log if "duration_s" in e and e["request"][0] == name
                ]
                for name in per_endpoint
            },
            "p95_per_day": [
                pct(
                    [
                        e["duration_s"]
                        for e in log
                        if "duration_s" in e and e["when"].date().isoformat() == d
                    ],
                    95,
                )
                for d in days
            ],
        },
        "logs": {
            "lines": len(truth["log"]),
            "in_window": len(log),
            "levels": Counter(e["level"] for e in log),
            "completed": len(durations),
            "p50": pct(durations, 50),
            "p95": pct(durations, 95),
            "max": max(durations),
            "errors": Counter(e["error"] for e in log if "error" in e),
        },
    }


def check(body: dict[str, Any], truth: dict[str, Any]) -> None:
    """Every figure of the report against the expectations."""
    start = datetime.fromisoformat(body["window"]["start"])
    end = datetime.fromisoformat(body["window"]["end"])
    want = expected(truth, start, end)
    an = body["analyses"]
    assert an["total"] == want["analyses"]["total"]
    assert an["by_status"] == want["analyses"]["by_status"]
    assert an["success_rate"] == pytest.approx(want["analyses"]["success_rate"])
    got = {
        x["algorithms"]: (
            x["runs"],
            x["completed"],
            x["failed"],
            x["duration_p50_s"],
            x["duration_p95_s"],
        )
        for x in an["by_algorithm"]
    }
    assert got.keys() == want["analyses"]["by_algorithm"].keys()
    for key, figures in want["analyses"]["by_algorithm"].items():
        assert got[key] == pytest.approx(figures), key
    assert [(p["project_id"], p["records"]) for p in an["largest_projects"]] == want["analyses"][
        "largest"
    ]
    assert [(f["job_id"], f["error"]) for f in an["failures"]] == want["analyses"]["failures"]
    assert [d["day"] for d in an["per_day"]] == want["days"]
    assert [d["count"] for d in an["per_day"]] == want["analyses"]["per_day"]
    cur = body["curation"]
    assert (cur["rules"]["created"], cur["rules"]["updated"]) == want["rules"]
    assert (cur["insights"]["created"], cur["insights"]["acknowledged"]) == want["insights"]
    total, by_action, by_user = want["curation"]
    assert cur["curation"]["total"] == total
    assert cur["curation"]["by_action"] == dict(by_action)
    assert cur["curation"]["by_user"] == dict(by_user)
    m = body["maintenance"]
    assert (m["runs"], m["dry_runs"], len(m["failed_runs"])) == (
        want["maintenance"]["runs"],
        want["maintenance"]["dry_runs"],
        want["maintenance"]["failed"],
    )
    steps = {s["name"]: (s["runs"], s["duration_p50_s"], s["duration_max_s"]) for s in m["steps"]}
    assert steps.keys() == want["maintenance"]["steps"].keys()
    for name, figures in want["maintenance"]["steps"].items():
        assert steps[name] == pytest.approx(figures), name
    assert m["failing_steps"] == (["database"] if want["maintenance"]["failed"] else [])
    r = body["recovery"]
    assert r["actions"] == want["recovery"]["actions"]
    assert r["dry_run"] == want["recovery"]["dry_run"]
    assert r["acted"] == r["actions"] - r["dry_run"]
    assert r["escalations"] == want["recovery"]["escalations"]
    assert r["detections"] == want["recovery"]["detections"]
    assert {(x["action"], x["status"]): x["count"] for x in r["by_action_status"]} == dict(
        want["recovery"]["pairs"]
    )
    alerts = body["alerts"]
    if alerts["source"] == "recovery_events":
        got = Counter()
        for x in alerts["by_alert"]:
            got[(x["alert_name"], x["severity"], "fired")] += x["fired"]
            got[(x["alert_name"], x["severity"], "resolved")] += x["resolved"]
        assert +got == want["alerts"]
        assert alerts["fired"] == sum(v for k, v in want["alerts"].items() if k[2] == "fired")
    t = body["tuner"]
    assert t["open"] == 3 and t["by_priority"] == {"high": 1, "medium": 1, "low": 1}
    assert [x["id"] for x in t["recommendations"]] == ["workers", "db_pool", "cache_ttl"]
    assert t["recommendations"][0]["why"] == "queue grows"
    d = body["drills"]
    assert (d["total"], d["passed"], d["failed"], d["lost_jobs"], d["lost_records"]) == (
        2,
        1,
        1,
        2,
        150,
    )
    assert [{k: x[k] for k in truth["drills"][0]} for x in d["drills"]] == truth["drills"]
    lg = body["logs"]
    assert lg["lines"] == want["logs"]["lines"]
    assert lg["lines_in_window"] == want["logs"]["in_window"]
    assert lg["levels"] == dict(want["logs"]["levels"])
    assert lg["analyses"]["completed"] == want["logs"]["completed"]
    assert lg["analysis_duration_s"]["p50"] == want["logs"]["p50"]
    assert lg["analysis_duration_s"]["p95"] == want["logs"]["p95"]
    assert lg["analysis_duration_s"]["max"] == want["logs"]["max"]
    assert lg["analysis_errors"] == sum(want["logs"]["errors"].values())
    assert lg["errors_by_type"] == dict(want["logs"]["errors"])
    s = body["service"]
    if s["source"] == "log":
        w = want["service"]
        assert s["requests"] == w["requests"] and s["errors_5xx"] == w["errors"]
        assert s["error_rate"] == pytest.approx(w["errors"] / w["requests"])
        assert [(e["endpoint"], e["requests"]) for e in s["endpoints"]] == w["endpoints"]
        assert [e["errors_5xx"] for e in s["endpoints"]] == [
            w["errors_by_endpoint"][e["endpoint"]] for e in s["endpoints"]
        ]
        assert [d["requests"] for d in s["per_day"]] == w["per_day"]
        assert s["availability"] == pytest.approx(1 - w["errors"] / w["requests"])
        assert s["availability_basis"] == "non_5xx_share"
        assert s["latency_s"] == {f"p{q}": pct(w["durations"], q) for q in (50, 95, 99)}
        assert [e["p95_s"] for e in s["endpoints"]] == [
            pct(w["durations_by_endpoint"][e["endpoint"]], 95) for e in s["endpoints"]
        ]
        assert [d["p95_s"] for d in s["per_day"]] == w["p95_per_day"]
        assert s["latency_note"] is None
    h = body["headline"]
    assert h["analyses"] == an["total"] and h["rules_created"] == cur["rules"]["created"]
    assert h["requests"] == s["requests"] and h["open_recommendations"] == 3
    ch = body["changes"]
    prev = truth["previous"]
    assert ch["previous"]["name"] == "weekly"
    for name, figure in ch["figures"].items():
        before, now = prev[name], h[name]
        assert figure["before"] == before and figure["now"] == now
        assert figure["delta"] == (None if before is None or now is None else now - before)
    assert ch["new"]["failing_steps"] == h["failing_steps"]
    assert ch["cleared"]["failing_steps"] == ["logs"]
    assert ch["new"]["open_recommendation_ids"] == ["cache_ttl", "workers"]
    assert ch["cleared"]["open_recommendation_ids"] == ["old_one"]
    assert ch["new"]["failed_drills"] == ["worker_kill"]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.db'}"
        migrations.upgrade(url)
        db = Database(url)
        yield db
        db.dispose()
        return
    with fresh_pg_database("bl_report") as (_, _, url):
        migrations.upgrade(url)
        db = Database(url)
        yield db
        db.dispose()


def settings_for(db: Database, tmp_path: Path, **extra: Any) -> Settings:
    url = db.url.render_as_string(hide_password=False)
    return Settings(data_dir=tmp_path, database_url=url, jwt_secret="s" * 48, **extra)


def test_gather_computes_every_figure(database: Database, tmp_path: Path) -> None:
    truth = seed(database, END, tmp_path)
    settings = settings_for(database, tmp_path, log_file=tmp_path / "api.log")
    body = gather(database, settings, Window(END - 7 * DAY, END))
    assert body["status"] == "ok" and body["errors"] == []
    assert body["service"]["source"] == "log" and body["alerts"]["source"] == "recovery_events"
    check(body, truth)
    json.dumps(body)  # JSON as it is stored


def test_html_and_markdown_hold_the_figures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    db = Database(url)
    try:
        seed(db, END, tmp_path)
        with db.scope() as session:  # a connections series growing 5 a day towards 100
            session.add_all(
                CapacitySample(
                    taken_at=END - (12 - day) * DAY,
                    scope="deployment",
                    resource="db_connections",
                    item="",
                    value=10.0 + 5 * day,
                    limit_value=100.0,
                )
                for day in range(12)
            )
        settings = settings_for(db, tmp_path, log_file=tmp_path / "api.log")
        body = gather(db, settings, Window(END - 7 * DAY, END))
        from bizlogic.ops.capacity.project import projections

        assert body["capacity"] == projections(db, settings, now=END)  # shown as projected
    finally:
        db.dispose()
    [series] = body["capacity"]["series"]
    assert series["resource"] == "db_connections" and series["current"] == 65.0
    page = render_html(body, "en")
    assert "<h2>Capacity</h2>" in page and "db_connections" in page
    assert f"{series['days_left']:.0f}" in page
    assert page.count("<svg") >= 2 and "<style>" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "@import" not in page
    for figure in (
        f"{body['service']['requests']:,}",
        f"{body['analyses']['success_rate'] * 100:.1f}%",
        "Service availability and latency",
        "Drills",
        "worker_kill",
        "More workers",
        "timeout: ran past",
    ):
        assert figure in page, figure
    zh = render_html(body, "zh")
    for heading in ("服务可用性与延迟", "告警触发与恢复", "分析任务", "维护运行及其步骤", "演练"):
        assert f"<h2>{heading}</h2>" in zh
    assert 'lang="zh-CN"' in zh
    for lang in ("en", "zh"):
        text = render_markdown(body, lang)
        assert len(text.encode()) <= MAX_BYTES
        assert f"{body['service']['requests']:,}" in text
        assert f"{body['analyses']['total']}" in text


# -- the command -----------------------------------------------------------------------------


def _cli_setup(tmp_path: Path, **extra: str) -> tuple[dict[str, str], dict[str, Any]]:
    """A migrated SQLite database seeded around the real now (the command's window ends
    at the moment it runs), and the environment to run the command with."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    db = Database(url)
    try:
        truth = seed(db, datetime.now(UTC), tmp_path)
    finally:
        db.dispose()
    env = clean_env(
        tmp_path,
        BL_DATABASE_URL=url,
        BL_LOG_FILE=str(tmp_path / "api.log"),
        BL_JWT_SECRET="s" * 48,
        **extra,
    )
    return env, truth


def test_cli_json_matches_and_is_saved(tmp_path: Path) -> None:
    env, truth = _cli_setup(tmp_path)
    done = bizlogic(env, "report", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert set(body) == {
        "schema",
        "generated_at",
        "window",
        "service",
        "alerts",
        "analyses",
        "curation",
        "maintenance",
        "recovery",
        "logs",
        "tuner",
        "drills",
        "capacity",
        "headline",
        "changes",
        "errors",
        "status",
    }
    check(body, truth)
    db = Database(env["BL_DATABASE_URL"])
    try:
        stored = ops_reports.latest(db, "report")
    finally:
        db.dispose()
    assert stored is not None and stored["name"] == "weekly"
    assert stored["summary"] == body["headline"] and stored["body"] == body
    assert datetime.fromisoformat(stored["window_start"]) == datetime.fromisoformat(
        body["window"]["start"]
    )
    again = bizlogic(env, "report", "--json", "--no-save")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["changes"]["previous"]["id"] == stored["id"]


def test_cli_terminal_files_and_zh(tmp_path: Path) -> None:
    env, _ = _cli_setup(tmp_path)
    shown = bizlogic(env, "report", "--hours", "24", "--no-save")
    assert shown.returncode == 0, shown.stderr
    assert "Daily operations report" in shown.stdout and "Analyses" in shown.stdout
    out = tmp_path / "out"
    out.mkdir()
    done = bizlogic(
        env,
        "report",
        "--lang",
        "zh",
        "--no-save",
        "--html",
        str(out / "{date}-{name}.html"),
        "--md",
        str(out / "r.md"),
    )
    assert done.returncode == 0, done.stderr
    today = datetime.now(UTC).date().isoformat()
    assert sorted(p.name for p in out.iterdir()) == [f"{today}-weekly.html", "r.md"]
    assert "<h2>服务可用性与延迟</h2>" in (out / f"{today}-weekly.html").read_text()
    assert "运维周报" in (out / "r.md").read_text()


def test_cli_bad_options(tmp_path: Path) -> None:
    env, _ = _cli_setup(tmp_path)
    bad = bizlogic(env, "report", "--since", "3x")
    assert bad.returncode == 2 and "--since" in bad.stderr and "'3x'" in bad.stderr
    both = bizlogic(env, "report", "--since", "7d", "--hours", "3")
    assert both.returncode == 2 and "--since and --hours" in both.stderr
    lang = bizlogic(env, "report", "--lang", "fr")
    assert lang.returncode == 2 and "--lang" in lang.stderr
    target = tmp_path / "taken"
    target.mkdir()  # a directory where the file should go: the rename fails
    (target / "keep").write_text("x")
    failed = bizlogic(env, "report", "--html", str(target))
    assert failed.returncode == 1 and f"--html: cannot write {target}" in failed.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".taken")) == []
    assert [p.name for p in target.iterdir()] == ["keep"]
    missing = bizlogic(env, "report", "--md", str(tmp_path / "no" / "such" / "r.md"))
    assert missing.returncode == 1 and "--md: cannot write" in missing.stderr
    db = Database(env["BL_DATABASE_URL"])
    try:  # a report that could not be written is not stored either: only the seeded one
        stored = ops_reports.made_between(db, "report", END - 400 * DAY, END + 400 * DAY)
    finally:
        db.dispose()
    assert [doc["name"] for doc in stored] == ["weekly"] and stored[0]["summary"]["requests"] == 40


# -- --send ----------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's documented signing: HmacSHA256(key=secret, timestamp + "\\n" + secret)."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class Robots:
    """A local DingTalk-like webhook: checks the token and signature, answers as DingTalk."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        robots = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ok = query.get("access_token") == DING_TOKEN and query.get("sign") == dingtalk_sign(
                    DING_SECRET, query.get("timestamp", "")
                )
                robots.received.append({"query": query, "body": body, "ok": ok})
                answer = json.dumps(
                    {"errcode": 0 if ok else 310000, "errmsg": "ok" if ok else "sign not match"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/robot/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[tuple[Inbox, Controller, Robots]]:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    robots = Robots()
    try:
        yield inbox, smtp, robots
    finally:
        robots.close()
        smtp.stop()


def test_send_delivers_html_mail_and_signed_chat(tmp_path: Path, receivers) -> None:
    inbox, smtp, robots = receivers
    (tmp_path / "ding-secret").write_text(DING_SECRET + "\n")
    config = tmp_path / "notify.yml"
    config.write_text(
        f"channels:\n  ops-ding:\n    kind: dingtalk\n"
        f"    url: {robots.url}?access_token={DING_TOKEN}\n    secret_file: ding-secret\n"
        f"  wrong-ding:\n    kind: dingtalk\n    url: {robots.url}?access_token={DING_TOKEN}\n"
        f"    secret: SECwrong-secret-value\n"
        f"reports:\n  email:\n    host: 127.0.0.1\n    port: {smtp.port}\n    security: none\n"
        f"    from: bizlogic@example.test\n    to: [ops@example.test, lead@example.test]\n"
        f"  chat: [ops-ding]\n"
    )
    env, _ = _cli_setup(tmp_path, BL_NOTIFY_CONFIG=str(config))
    done = bizlogic(env, "report", "--send", "--no-save")
    assert done.returncode == 0, done.stderr
    assert "sent to email (127.0.0.1" in done.stderr and "sent to channel 'ops-ding'" in done.stderr
    [mail] = inbox.messages
    assert mail["To"] == "ops@example.test, lead@example.test"
    assert mail["Subject"].startswith("Weekly operations report")
    kinds = {part.get_content_type(): part for part in mail.walk()}
    html = kinds["text/html"].get_payload(decode=True).decode()
    plain = kinds["text/plain"].get_payload(decode=True).decode()
    assert "<svg" in html and "Service availability and latency" in html
    assert "**Analyses**" in plain
    [chat] = robots.received
    assert chat["ok"]
    assert chat["query"]["sign"] == dingtalk_sign(DING_SECRET, chat["query"]["timestamp"])
    assert chat["body"]["msgtype"] == "markdown"
    assert chat["body"]["markdown"]["text"].startswith("## Weekly operations report")
    # A channel that refuses: exit 1, the channel named, no secret shown.
    config.write_text(config.read_text().replace("chat: [ops-ding]", "chat: [wrong-ding]"))
    refused = bizlogic(env, "report", "--send", "--no-save")
    assert refused.returncode == 1
    assert "channel 'wrong-ding' (dingtalk" in refused.stderr and "310000" in refused.stderr
    for secret in ("SECwrong-secret-value", DING_TOKEN, DING_SECRET):
        assert secret not in refused.stderr + refused.stdout
    assert len(inbox.messages) == 2  # the e-mail still went


def test_send_config_errors_name_the_field(tmp_path: Path) -> None:
    config = tmp_path / "notify.yml"
    config.write_text(
        "channels:\n  sms1:\n    kind: sms\n    url: https://sms.example/send\n"
        "    recipients: ['+100']\n    body: {to: '{recipients}', text: '{message}'}\n"
        "reports:\n  email:\n    host: mail.example\n    password: hunter2-secret\n"
        "    from: a@example.test\n    to: []\n  chat: [sms1]\n"
    )
    env, _ = _cli_setup(tmp_path, BL_NOTIFY_CONFIG=str(config))
    done = bizlogic(env, "report", "--send")
    assert done.returncode == 2
    assert f"{config}: reports.email.to:" in done.stderr and "hunter2" not in done.stderr
    config.write_text(config.read_text().replace("to: []", "to: [b@example.test]"))
    done = bizlogic(env, "report", "--send")
    assert done.returncode == 2 and "reports.chat[0]: channel 'sms1' is sms" in done.stderr
    unset = {k: v for k, v in env.items() if k != "BL_NOTIFY_CONFIG"}
    done = bizlogic(unset, "report", "--send")
    assert done.returncode == 2 and "BL_NOTIFY_CONFIG is not set" in done.stderr


# -- Prometheus as the source ----------------------------------------------------------------


class FakePrometheus:
    """Answers /api/v1/query in Prometheus' documented response format with known values,
    chosen by the query's shape; records every query."""

    ROUTES: ClassVar = {
        ("GET", "/api/records"): (900.0, 6.0, 0.25),
        ("POST", "/analysis"): (300.0, 9.0, 2.5),
    }
    FIRED: ClassVar = [
        {"alertname": "BusinessLogicServiceDown", "severity": "critical", "instance": "a"},
        {"alertname": "BusinessLogicServiceDown", "severity": "critical", "instance": "b"},
        {"alertname": "RedisDown", "severity": "critical", "instance": "r"},
    ]

    def __init__(self) -> None:
        self.queries: list[tuple[str, float]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                at = float(params["time"])
                fake.queries.append((params["query"], at))
                result = fake.answer(params["query"], at)
                data = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": result}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def per_day(at: float) -> float:
        return float(int(at) // 3600 % 97)

    def answer(self, query: str, at: float) -> list[dict[str, Any]]:
        def one(value: float, metric: dict[str, str] | None = None) -> dict[str, Any]:
            return {"metric": metric or {}, "value": [at, repr(value)]}

        whole = "[604800s]" in query
        if query.startswith('avg(avg_over_time(up{job="business_logic"}'):
            return [one(0.9975)]
        if query.startswith("histogram_quantile(") and "method, route" in query:
            return [one(v[2], {"method": m, "route": r}) for (m, r), v in self.ROUTES.items()]
        if query.startswith("histogram_quantile("):
            q = float(query.split("(", 1)[1].split(",", 1)[0])
            return [one({0.5: 0.05, 0.95: 0.4, 0.99: 1.5}[q] if whole else 0.01 * self.per_day(at))]
        if query.startswith("sum by (method, route)") and "5.." in query:
            return [one(v[1], {"method": m, "route": r}) for (m, r), v in self.ROUTES.items()]
        if query.startswith("sum by (method, route)"):
            return [one(v[0], {"method": m, "route": r}) for (m, r), v in self.ROUTES.items()]
        if query.startswith('sum(increase(bl_http_requests_total{status=~"5.."}'):
            return [one(15.0)]
        if query.startswith("sum(increase(bl_http_requests_total["):
            return [one(1200.0 if whole else self.per_day(at))]
        if query.startswith('max_over_time(ALERTS{alertstate="firing"}'):
            return [
                one(1.0, {"__name__": "ALERTS", "alertstate": "firing", **m}) for m in self.FIRED
            ]
        if query == 'ALERTS{alertstate="firing"}':
            return [one(1.0, {"__name__": "ALERTS", "alertstate": "firing", **self.FIRED[1]})]
        raise AssertionError(f"unexpected query {query!r}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_prometheus_is_the_source_when_configured(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    db = Database(url)
    prom = FakePrometheus()
    try:
        truth = seed(db, END, tmp_path)
        settings = settings_for(
            db, tmp_path, log_file=tmp_path / "api.log", prometheus_url=prom.url
        )
        window = Window(END - 7 * DAY, END)
        body = gather(db, settings, window)
    finally:
        prom.close()
        db.dispose()
    s = body["service"]
    assert s["source"] == "prometheus" and s["source_detail"] == prom.url
    assert (s["availability"], s["requests"], s["errors_5xx"]) == (0.9975, 1200.0, 15.0)
    assert s["error_rate"] == pytest.approx(15 / 1200)
    assert s["latency_s"] == {"p50": 0.05, "p95": 0.4, "p99": 1.5}
    assert [
        (e["endpoint"], e["requests"], e["errors_5xx"], e["p95_s"]) for e in s["endpoints"]
    ] == [(f"{m} {r}", v[0], v[1], v[2]) for (m, r), v in FakePrometheus.ROUTES.items()]
    day_ends = [
        min(datetime.fromisoformat(d["day"]).replace(tzinfo=UTC) + DAY, END) for d in s["per_day"]
    ]
    assert [d["requests"] for d in s["per_day"]] == [
        FakePrometheus.per_day(e.timestamp()) for e in day_ends
    ]
    assert [d["p95_s"] for d in s["per_day"]] == pytest.approx(
        [0.01 * FakePrometheus.per_day(e.timestamp()) for e in day_ends]
    )
    alerts = body["alerts"]
    assert alerts["source"] == "prometheus" and (alerts["fired"], alerts["resolved"]) == (3, 2)
    assert [(a["alert_name"], a["fired"], a["resolved"]) for a in alerts["by_alert"]] == [
        ("BusinessLogicServiceDown", 2, 1),
        ("RedisDown", 1, 1),
    ]
    queries = {q for q, _ in prom.queries}
    assert 'avg(avg_over_time(up{job="business_logic"}[604800s]))' in queries
    assert (
        "histogram_quantile(0.95, sum by (le) (increase("
        "bl_http_request_duration_seconds_bucket[604800s])))"
    ) in queries
    assert all(at == END.timestamp() for q, at in prom.queries if "[604800s]" in q)
    check({**body, "service": {**body["service"], "source": "prometheus"}}, truth)
    assert "0.400 s" in render_html(body, "en")


def test_prometheus_down_falls_back_to_the_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    db = Database(url)
    try:
        truth = seed(db, END, tmp_path)
        dead = f"http://127.0.0.1:{free_port()}"
        settings = settings_for(db, tmp_path, log_file=tmp_path / "api.log", prometheus_url=dead)
        body = gather(db, settings, Window(END - 7 * DAY, END))
    finally:
        db.dispose()
    assert body["status"] == "partial" and len(body["errors"]) == 1
    assert "did not answer" in body["errors"][0] and body["service"]["source"] == "log"
    check(body, truth)


def test_the_examples_of_reports_md_run(tmp_path: Path) -> None:
    """The first shell block of docs/reports.md, line by line, as written."""
    import shlex

    env, _ = _cli_setup(tmp_path)
    text = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    work = tmp_path / "work"
    work.mkdir()
    for line in block.strip().splitlines():
        command, _, _comment = line.partition("#")
        args = shlex.split(command)
        target = None
        if ">" in args:  # a redirection: standard output to that file
            target = work / args[args.index(">") + 1]
            args = args[: args.index(">")]
        assert args[0] == "bizlogic"
        done = bizlogic(
            {**env, "PWD": str(work)},
            *[str(work / a) if a.endswith((".md", ".html")) else a for a in args[1:]],
        )
        assert done.returncode == 0, (line, done.stderr)
        if target is not None:
            target.write_text(done.stdout)
    today = datetime.now(UTC).date().isoformat()
    assert sorted(p.name for p in work.iterdir()) == sorted(
        [
            "daily.md",
            "month.html",
            "report.json",
            f"reports-{today}-weekly.html",
            f"reports-{today}-weekly.md",
        ]
    )
    assert json.loads((work / "report.json").read_text())["schema"] == "bizlogic-report/1"
