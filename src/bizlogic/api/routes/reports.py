"""Derived views of stored runs: change detection between runs, and exports.

An export changes nothing, so its audit event is a transaction of its own,
written once the data was read and before the file streams.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

import orjson
import yaml
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bizlogic.api.auth import Permission, Principal, require, require_project_access
from bizlogic.api.cached import cached_json
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.api.types import ProjectIdField
from bizlogic.csv_safe import safe_cell
from bizlogic.mining import visualization
from bizlogic.mining.changes import detect_changes
from bizlogic.mining.model import InsightLang
from bizlogic.store import audit
from bizlogic.store.insights import list_insights
from bizlogic.store.jobs import get_job, list_jobs
from bizlogic.store.patterns import list_patterns
from bizlogic.store.results import load_job_result
from bizlogic.store.rules import list_rules
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["reports"])
EXPORT_PAGE = 1000


class DetectChangesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: ProjectIdField
    before_job_id: str | None = None  # default: the second most recent completed run
    after_job_id: str | None = None  # default: the most recent completed run
    threshold: float = Field(default=0.1, gt=0.0, le=1.0)


def _snapshots(state: AppState, body: DetectChangesRequest) -> tuple[str, str, list]:
    with state.db.scope() as session:
        before_id, after_id = body.before_job_id, body.after_job_id
        if before_id is None or after_id is None:
            jobs, _ = list_jobs(session, body.project_id, status="completed", limit=2)
            recent = [job.job_id for job in jobs]
            if after_id is None:
                after_id = recent[0] if recent else None
            if before_id is None:
                before_id = next((j for j in recent if j != after_id), None)
        if before_id is None or after_id is None:
            raise ApiError(
                409,
                ErrorCode.CONFLICT,
                f"project {body.project_id!r} needs two completed analyses to compare",
            )
        results = []
        for job_id in (before_id, after_id):
            job = get_job(session, job_id)
            snapshot = load_job_result(session, job_id) if job is not None else None
            if snapshot is None or job.project_id != body.project_id:
                raise ApiError(
                    404, ErrorCode.NOT_FOUND, f"no stored result of job {job_id!r} in this project"
                )
            results.append(snapshot)
    return before_id, after_id, results


@router.post("/detect-changes")
async def detect(
    body: DetectChangesRequest,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.VIEW_RULES))],
) -> dict[str, Any]:
    """New and vanished rules, confidence shifts and new change points between two runs."""
    require_project_access(principal, body.project_id)
    before_id, after_id, (before, after) = await run_in_threadpool(_snapshots, state, body)
    changes = detect_changes(before, after, body.threshold)
    return {
        "project_id": body.project_id,
        "before_job_id": before_id,
        "after_job_id": after_id,
        **changes.to_dict(),
    }


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: ProjectIdField
    format: Literal["json", "csv", "yaml"] = "json"
    include: list[Literal["rules", "patterns", "insights"]] = Field(
        default_factory=lambda: ["rules", "patterns", "insights"], min_length=1
    )


def _collect(
    state: AppState, body: ExportRequest, lang: InsightLang | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every stored row of each kind in ``body.include``; with ``lang``, insights worded in it."""
    readers = {"rules": list_rules, "patterns": list_patterns, "insights": list_insights}
    out: dict[str, list[dict[str, Any]]] = {}
    with state.db.scope() as session:
        for kind in body.include:
            rows, offset = [], 0
            while True:
                page, total = readers[kind](
                    session, body.project_id, limit=EXPORT_PAGE, offset=offset
                )
                if kind == "insights" and lang is not None:
                    rows.extend(row.as_dict_in(lang) for row in page)
                else:
                    rows.extend(row.as_dict() for row in page)
                offset += len(page)
                if not page or offset >= total:
                    break
            out[kind] = rows
    return out


def _audit_export(
    state: AppState, principal: Principal, body: ExportRequest, data: dict[str, list[Any]]
) -> None:
    with state.db.scope() as session:
        audit.record(
            session,
            principal,
            "data.export",
            project_id=body.project_id,
            details={
                "format": body.format,
                "include": list(body.include),
                "counts": {kind: len(rows) for kind, rows in data.items()},
            },
        )


def _csv_rows(data: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    """One CSV: a `kind` column, scalar fields as they are, nested ones as JSON.

    Every cell goes through ``safe_cell``: the values come from records and
    imported rules, and must not run as formulas in the analyst's spreadsheet.
    """
    columns = sorted({key for rows in data.values() for row in rows for key in row})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kind", *(safe_cell(c) for c in columns)])
    for kind, rows in data.items():
        for row in rows:
            writer.writerow([kind, *(safe_cell(_cell(row.get(c))) for c in columns)])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return "" if value is None else value


@router.post("/export")
async def export(
    body: ExportRequest,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.EXPORT_DATA))],
) -> StreamingResponse:
    """The project's stored rules/patterns/insights as a downloadable JSON, CSV or YAML file."""
    require_project_access(principal, body.project_id)
    data = await run_in_threadpool(_collect, state, body)
    await run_in_threadpool(_audit_export, state, principal, body, data)
    # Header values must be latin-1: an ASCII file name, the real one RFC 5987-encoded.
    name = f"bizlogic-{body.project_id}.{body.format}"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    if body.format == "csv":
        content: Iterator[str] | Iterator[bytes] = _csv_rows(data)
        media = "text/csv; charset=utf-8"
    elif body.format == "yaml":
        document = {"project_id": body.project_id, **data}
        content = iter([yaml.safe_dump(document, allow_unicode=True, sort_keys=False)])
        media = "application/yaml"
    else:
        document = {"project_id": body.project_id, **data}
        content = iter([orjson.dumps(document, option=orjson.OPT_INDENT_2)])
        media = "application/json"
    log_user_action(
        principal.user_id,
        "export",
        f"project:{body.project_id}",
        {"format": body.format, "include": body.include},
    )
    return StreamingResponse(
        content,
        media_type=media,
        headers={"Content-Disposition": disposition},
    )


class VisualizationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: ProjectIdField
    visualization_type: Literal[
        "rule_network", "pattern_timeline", "insight_dashboard", "correlation_matrix"
    ]
    active_only: bool = True  # rules: leave out rules switched off by curation
    lang: InsightLang | None = None  # insight_dashboard: titles in this language


_SOURCES = {
    "rule_network": ("rules", Permission.VIEW_RULES),
    "correlation_matrix": ("rules", Permission.VIEW_RULES),
    "pattern_timeline": ("patterns", Permission.VIEW_PATTERNS),
    "insight_dashboard": ("insights", Permission.VIEW_INSIGHTS),
}


def _visualize(state: AppState, body: VisualizationRequest) -> dict[str, Any]:
    kind, _ = _SOURCES[body.visualization_type]
    request = ExportRequest(project_id=body.project_id, include=[kind])
    collected = _collect(state, request, body.lang)[kind]
    if kind == "rules" and body.active_only:
        collected = [r for r in collected if r["is_active"]]
    build = getattr(visualization, body.visualization_type)
    return {
        "project_id": body.project_id,
        "visualization_type": body.visualization_type,
        **build(collected),
    }


@router.post("/visualization")
async def visualize(
    body: VisualizationRequest,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.VIEW_RULES))],
) -> dict[str, Any]:
    """Chart-ready data computed from the stored rules, patterns or insights."""
    require_project_access(principal, body.project_id)
    needed = _SOURCES[body.visualization_type][1]
    if needed not in principal.permissions:
        raise ApiError(403, ErrorCode.FORBIDDEN, f"this view needs permission {needed.value}")
    params = body.model_dump(mode="json")
    return await cached_json(
        state, body.project_id, "visualization", params, lambda: _visualize(state, body)
    )
