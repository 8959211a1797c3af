"""Every repository function in one namespace, for the API and the job runner.

Each function works in the caller's session and never commits: one call
inside ``session_scope`` (``bizlogic.store.db``) is one transaction, and an
exception leaves nothing behind once the scope rolls back.
"""

from __future__ import annotations

from bizlogic.store.annotations import (
    UpsertCounts,
    build_project_dataset,
    count_records,
    iter_project_records,
    upsert_records,
)
from bizlogic.store.errors import ConflictError, NotFoundError, StoreError
from bizlogic.store.insights import acknowledge_insight, get_insight, list_insights
from bizlogic.store.jobs import (
    cancel_job,
    count_active_jobs,
    create_job,
    fail_job,
    finish_job,
    get_job,
    jobs_left_unfinished,
    list_jobs,
    mark_running,
    requeue_job,
    require_job,
    update_progress,
)
from bizlogic.store.patterns import list_patterns
from bizlogic.store.projects import get_or_create_project, project_stats
from bizlogic.store.results import (
    SaveCounts,
    insight_key,
    load_job_result,
    results_summary,
    save_results,
)
from bizlogic.store.rules import (
    delete_rule,
    get_rule,
    list_rule_applications,
    list_rules,
    record_rule_application,
    set_rule_confidence,
    toggle_rule,
)

__all__ = [
    "ConflictError",
    "NotFoundError",
    "SaveCounts",
    "StoreError",
    "UpsertCounts",
    "acknowledge_insight",
    "build_project_dataset",
    "cancel_job",
    "count_active_jobs",
    "count_records",
    "create_job",
    "delete_rule",
    "fail_job",
    "finish_job",
    "get_insight",
    "get_job",
    "get_or_create_project",
    "get_rule",
    "insight_key",
    "iter_project_records",
    "jobs_left_unfinished",
    "list_insights",
    "list_jobs",
    "list_patterns",
    "list_rule_applications",
    "list_rules",
    "load_job_result",
    "mark_running",
    "project_stats",
    "record_rule_application",
    "requeue_job",
    "require_job",
    "results_summary",
    "save_results",
    "set_rule_confidence",
    "toggle_rule",
    "update_progress",
    "upsert_records",
]
