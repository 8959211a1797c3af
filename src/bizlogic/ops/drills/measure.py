"""What a drill observes: the service's /readyz, the drill's own analyses (submitted
through the API like any client's), counts in the database and auto-recovery's events.

Everything is read, never changed, except the analyses and the drill project's records
the drill submits itself. Times are measured with the monotonic clock; the timeline
also keeps wall-clock timestamps.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select

from bizlogic.api.auth import create_token
from bizlogic.jobs.identity import parse_worker_id
from bizlogic.ops.recovery import history
from bizlogic.records.synthetic import generate
from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.store.tables import AnalysisJob, AnnotationRow

BASE = "/api/business-logic"
FINAL = ("completed", "failed", "cancelled")
POLL_S = 0.2
TOKEN_TTL_S = 3600
DRILL_USER = "bizlogic-drill"
T = TypeVar("T")


@dataclass
class Timeline:
    """Events with wall-clock time and seconds since the drill began."""

    started: float = field(default_factory=time.monotonic)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, event: str, **details: Any) -> float:
        at = time.monotonic() - self.started
        self.events.append(
            {"at": clock.utcnow().isoformat(), "t_s": round(at, 3), "event": event, **details}
        )
        return at


def wait_for(check: Callable[[], T], timeout_s: float, interval_s: float = POLL_S) -> T | None:
    """``check()``'s first truthy result, or None once ``timeout_s`` has passed; a check
    that raises a transport or database error counts as "not yet"."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    while True:
        try:
            result = check()
        except (httpx.HTTPError, OSError):
            result = None
        except Exception as exc:  # a database outage is what some drills cause
            if "OperationalError" not in type(exc).__name__ and "Interface" not in repr(exc):
                raise
            result = None
        if result:
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval_s)


class Probe:
    """The drill's view of one deployment: its API (as an admin client) and its database."""

    def __init__(self, api_url: str, secret: str, db: Database) -> None:
        token = create_token(secret, DRILL_USER, "system_admin", ttl_s=TOKEN_TTL_S)
        self.api_url = api_url
        self.db = db
        self.http = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def close(self) -> None:
        self.http.close()

    # -- the API ----------------------------------------------------------------------

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """(ready, checks) of /readyz; not ready when it does not answer."""
        try:
            response = self.http.get("/readyz", timeout=5)
        except httpx.HTTPError as exc:
            return False, {"error": type(exc).__name__}
        try:
            checks = response.json().get("checks", {})
        except ValueError:
            checks = {}
        return response.status_code == 200, checks

    def all_up(self) -> bool:
        """Ready with every check "up" (a degraded cache or queue still counts as ready)."""
        ready, checks = self.readiness()
        return ready and all(c.get("status") == "up" for c in checks.values())

    def import_records(self, project: str, records: int, seed: int) -> int:
        """The drill project's synthetic records (the same ids every time: re-imported,
        they replace themselves, so repeated drills do not grow the database)."""
        with tempfile.TemporaryDirectory(prefix="bizlogic-drill-") as tmp:
            path = Path(tmp) / f"{project}.jsonl"
            generate(path, records, seed=seed, project_id=project)
            response = self.http.post(
                f"{BASE}/projects/{project}/records",
                content=path.read_bytes(),
                headers={"Content-Type": "application/x-ndjson"},
                timeout=600,
            )
        if response.status_code != 200:
            raise RuntimeError(f"importing the drill records: HTTP {response.status_code}")
        return records

    def analyze(self, project: str, **parameters: Any) -> str:
        response = self.http.post(
            f"{BASE}/analyze", json={"project_id": project, **parameters}, timeout=60
        )
        if response.status_code != 202:
            raise RuntimeError(f"submitting the drill analysis: HTTP {response.status_code}")
        return str(response.json()["job_id"])

    def cancel(self, job_id: str) -> int:
        return self.http.delete(f"{BASE}/jobs/{job_id}", timeout=30).status_code

    # -- the database -----------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self.db.scope() as session:
            row = session.get(AnalysisJob, job_id)
            return None if row is None else row.as_dict()

    def record_count(self) -> int:
        with self.db.scope() as session:
            return int(session.scalar(select(func.count()).select_from(AnnotationRow)) or 0)

    def jobs_since(self, since: datetime) -> list[dict[str, Any]]:
        with self.db.scope() as session:
            rows = session.scalars(
                select(AnalysisJob)
                .where(AnalysisJob.created_at >= since)
                .order_by(AnalysisJob.created_at)
            )
            return [row.as_dict() for row in rows]

    def job_counts(self) -> dict[str, int]:
        with self.db.scope() as session:
            rows = session.execute(
                select(AnalysisJob.status, func.count()).group_by(AnalysisJob.status)
            ).all()
        return {status: int(count) for status, count in rows}

    def recovery_events(self, since: datetime) -> list[dict[str, Any]]:
        """Auto-recovery's events since ``since``, oldest first."""
        return history.events_since(self.db, since)[::-1]


def worker_pid(job: dict[str, Any]) -> int | None:
    holder = parse_worker_id(job.get("worker_id") or "")
    return None if holder is None else holder.pid


def recovery_summary(events: list[dict[str, Any]]) -> bool | None:
    """Whether auto-recovery acted in the window: True when an action really ran or is
    under way (not a dry run, not refused), False when it only detected, planned or was
    refused, None when it recorded nothing at all (not running, or it saw nothing)."""
    if not events:
        return None
    acting = (*history.EXECUTED, "running")  # "running": an action under way
    return any(e["action"] and not e["dry_run"] and e["outcome"] in acting for e in events)
