"""One drill from start to stored report: bring the deployment up (the sandbox), take
the "before" state, run the scenario, take the "after" state, judge and store.

A drill passes when it recovered within its timeout with no lost job and no lost
record. The report goes to the deployment's own database (``ops_reports``) before
a sandbox is torn down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from bizlogic.ops.drills import scenarios
from bizlogic.ops.drills.catalogue import DRILLS
from bizlogic.ops.drills.measure import FINAL, Probe, Timeline, recovery_summary, wait_for
from bizlogic.ops.drills.report import DrillReport, clean_body
from bizlogic.ops.drills.scenarios import Outcome, Scenario
from bizlogic.ops.drills.target import Deployment
from bizlogic.store import clock
from bizlogic.store.db import Database

READY_TIMEOUT_S = 60.0
SETTLE_S = 30.0  # after the scenario: how long other jobs of the window may take to end


def _drill_url(url: str) -> str:
    """The database URL the drill measures with: on PostgreSQL its connections carry
    application_name=bizlogic-drill, so the pg-terminate drill can tell them apart."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    return parsed.update_query_dict({"application_name": "bizlogic-drill"}).render_as_string(
        hide_password=False
    )


def lost_jobs(
    jobs: list[dict[str, Any]], own: list[str], expected_cancelled: list[str]
) -> list[dict[str, Any]]:
    """Each job of the window, marked lost when it did not end, or ended failed, or —
    for the drill's own analyses — ended other than as expected (completed; cancelled
    for a runaway analysis)."""
    marked = []
    for job in jobs:
        status = job["status"]
        if job["job_id"] in own:
            expected = "cancelled" if job["job_id"] in expected_cancelled else "completed"
            lost = status != expected
        else:
            lost = status not in FINAL or status == "failed"
        marked.append(
            {
                "job_id": job["job_id"],
                "project_id": job["project_id"],
                "status": status,
                "attempts": job["attempts"],
                "error": job["error"],
                "drill_job": job["job_id"] in own,
                "lost": lost,
            }
        )
    return marked


def run(
    drill: str,
    deployment: Deployment,
    timeout_s: float,
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[DrillReport, int | None]:
    """Run the drill; (report, ops_reports id — None when it could not be stored)."""
    timeline = Timeline()
    started = clock.utcnow()
    outcome = Outcome()
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    jobs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    window_start = started
    db: Database | None = None
    probe: Probe | None = None
    report_id: int | None = None
    try:
        if deployment.kind == "sandbox":
            progress("starting the sandbox deployment")
            began = time.monotonic()
            deployment.start()
            timeline.add("sandbox up", took_s=round(time.monotonic() - began, 2))
        db = Database(_drill_url(deployment.settings.effective_database_url), pooled=False)
        probe = Probe(deployment.api_url, deployment.secret(), db)
        if not wait_for(probe.all_up, READY_TIMEOUT_S):
            outcome.failure = "the deployment was not ready (/readyz) before the drill"
            timeline.add("drill failed", reason=outcome.failure)
        else:
            progress("importing the drill project's records")
            probe.import_records(scenarios.PROJECT, scenarios.RECORDS, scenarios.SEED)
            probe.import_records(
                scenarios.SMALL_PROJECT, scenarios.SMALL_RECORDS, scenarios.SEED + 1
            )
            before = {"records": probe.record_count(), "jobs": probe.job_counts()}
            window_start = clock.utcnow()
            timeline.add("before", **before)
            progress(f"running {drill}")
            outcome = Scenario(drill, deployment, probe, timeline, timeout_s, window_start).run()
            # other jobs of the window get a little longer to end, then count as they are
            wait_for(
                lambda: all(j["status"] in FINAL for j in probe.jobs_since(window_start)),  # type: ignore[union-attr]
                SETTLE_S,
            )
            after = {"records": probe.record_count(), "jobs": probe.job_counts()}
            timeline.add("after", **after)
            jobs = lost_jobs(
                probe.jobs_since(window_start), outcome.jobs, outcome.expected_cancelled
            )
            events = probe.recovery_events(window_start)
    except Exception as exc:  # the drill itself broke: a failed drill, with the reason
        outcome.failure = f"{type(exc).__name__}: {exc}"
        timeline.add("drill error", reason=outcome.failure)
    except BaseException:  # Ctrl-C: nothing to report, but nothing left running either
        if probe is not None:
            probe.close()
        if db is not None:
            db.dispose()
        deployment.close()
        raise
    window_end = clock.utcnow()
    lost_job_count = sum(1 for j in jobs if j["lost"])
    lost_records = max(0, before.get("records", 0) - after.get("records", 0))
    passed = (
        outcome.failure is None
        and outcome.recover_s is not None
        and outcome.recover_s <= timeout_s
        and lost_job_count == 0
        and lost_records == 0
    )
    if outcome.failure is None and not passed:
        outcome.failure = (
            f"{lost_job_count} lost job(s), {lost_records} lost record(s)"
            if outcome.recover_s is not None
            else "not recovered within the timeout"
        )
    definition = DRILLS[drill]
    body: dict[str, Any] = {
        "target_kind": deployment.kind,
        "timeout_s": timeout_s,
        "definitions": {
            "injection": definition.injection,
            "detected": definition.detected,
            "recovered": definition.recovered,
        },
        "failure": outcome.failure,
        "timeline": timeline.events,
        "before": before,
        "after": after,
        "jobs": jobs,
        "recovery_events": [
            {
                k: e[k]
                for k in (
                    "id",
                    "created_at",
                    "trigger",
                    "failure_type",
                    "action",
                    "outcome",
                    "dry_run",
                    "host",
                )
            }
            for e in events
        ],
        "evidence": outcome.evidence,
        "settings": deployment.settings_shown(),
        "logs": deployment.log_excerpts() if not passed else {},
    }
    report = DrillReport(
        drill=drill,
        target=deployment.label,
        passed=passed,
        detect_s=outcome.detect_s,
        recover_s=outcome.recover_s,
        recovery_acted=recovery_summary(
            [e for e in events if e["failure_type"] in definition.recovery_types]
        ),
        lost_jobs=lost_job_count,
        lost_records=lost_records,
        window_start=started,
        window_end=window_end,
        body=clean_body(body),
    )
    try:
        if db is not None:
            report_id = report.save(db)
    except Exception as exc:  # the database may be what broke; the report is still printed
        report.body["store_error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if probe is not None:
            probe.close()
        if db is not None:
            db.dispose()
        deployment.close()
    return report, report_id
