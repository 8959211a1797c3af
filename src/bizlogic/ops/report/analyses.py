"""Analyses of the window, from ``business_logic_analysis_history``: the jobs requested in
it (``created_at``), by status, their durations and sizes, and the failures.

A job runs one or more algorithms at once and has one duration (``finished_at -
started_at``), so durations are grouped by the job's set of algorithms (``apriori+fpgrowth``):
giving the same duration to each of them would count it twice. The records a run
analysed are ``results.n_records`` of completed jobs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select

from bizlogic.ops.report.stats import day_of, nearest_rank, share
from bizlogic.ops.report.window import Window
from bizlogic.store.db import Database
from bizlogic.store.tables import AnalysisJob

TOP_PROJECTS = 5
TOP_FAILURES = 10
MAX_ERROR = 300  # characters of a failure's error shown


def algorithm_key(algorithms: list[str] | None) -> str:
    return "+".join(sorted(algorithms or [])) or "(none)"


def analyses(db: Database, window: Window) -> dict[str, Any]:
    with db.scope() as session:
        jobs = list(
            session.scalars(
                select(AnalysisJob)
                .where(AnalysisJob.created_at >= window.start, AnalysisJob.created_at < window.end)
                .order_by(AnalysisJob.created_at, AnalysisJob.job_id)
            )
        )
        rows = [
            (
                j.job_id,
                j.project_id,
                j.status,
                j.algorithms,
                j.started_at,
                j.finished_at,
                j.error,
                j.results,
                j.created_at,
            )
            for j in jobs
        ]
    by_status = Counter(row[2] for row in rows)
    durations: dict[str, list[float]] = defaultdict(list)
    runs: dict[str, Counter[str]] = defaultdict(Counter)
    records: dict[str, int] = {}
    project_runs: Counter[str] = Counter()
    failures = []
    for job_id, project, status, algorithms, started, finished, error, results, _ in rows:
        key = algorithm_key(algorithms)
        runs[key][status] += 1
        project_runs[project] += 1
        if status == "completed" and started is not None and finished is not None:
            durations[key].append((finished - started).total_seconds())
        if status == "completed" and isinstance(results, dict):
            size = results.get("n_records")
            if isinstance(size, int):
                records[project] = max(records.get(project, 0), size)
        if status == "failed":
            failures.append(
                {
                    "job_id": job_id,
                    "project_id": project,
                    "algorithms": key,
                    "finished_at": finished.isoformat() if finished else None,
                    "error": (error or "")[:MAX_ERROR] or None,
                }
            )
    failures.sort(key=lambda f: f["finished_at"] or "", reverse=True)
    ended = by_status["completed"] + by_status["failed"]
    largest = sorted(records.items(), key=lambda item: (-item[1], item[0]))[:TOP_PROJECTS]
    per_day = Counter(day_of(row[8]) for row in rows)
    return {
        "source": "business_logic_analysis_history",
        "total": len(rows),
        "by_status": dict(sorted(by_status.items())),
        "success_rate": share(by_status["completed"], ended),
        "by_algorithm": [
            {
                "algorithms": key,
                "runs": sum(runs[key].values()),
                "completed": runs[key]["completed"],
                "failed": runs[key]["failed"],
                "duration_p50_s": nearest_rank(durations[key], 50),
                "duration_p95_s": nearest_rank(durations[key], 95),
            }
            for key in sorted(runs)
        ],
        "largest_projects": [
            {"project_id": project, "records": size, "analyses": project_runs[project]}
            for project, size in largest
        ],
        "failures": failures[:TOP_FAILURES],
        "failed_total": len(failures),
        "per_day": [
            {"day": day_of(day), "count": per_day.get(day_of(day), 0)} for day in window.days()
        ],
    }
