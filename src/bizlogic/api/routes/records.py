"""POST /projects/{project_id}/records: the same importers as the CLI, over HTTP."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from bizlogic.api.auth import Permission, Principal, require_project
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.records.importers import ImportOptions, Reject, iter_import
from bizlogic.records.schema import Record
from bizlogic.records.tokenizer import Tokenizer
from bizlogic.store.annotations import upsert_records
from bizlogic.store.projects import validate_project_id
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["records"])
MAX_ERRORS_RETURNED = 100
_CONTENT_TYPES = {
    "application/json": "auto",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/ndjson": "jsonl",
    "text/csv": "csv",
}


def _format(content_type: str | None, requested: str | None) -> str:
    if requested:
        return requested
    media = (content_type or "").split(";")[0].strip().lower()
    return _CONTENT_TYPES.get(media, "auto")


async def _read_body(request: Request, limit_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit_bytes:
        raise ApiError(
            413, ErrorCode.INVALID_REQUEST, "request body too large", {"limit_bytes": limit_bytes}
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise ApiError(
                413,
                ErrorCode.INVALID_REQUEST,
                "request body too large",
                {"limit_bytes": limit_bytes},
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _import(
    state: AppState, project_id: str, body: bytes, options: ImportOptions, strict: bool
) -> dict[str, Any]:
    stream = io.BytesIO(body)
    stream.name = f"upload.{ {'jsonl': 'jsonl', 'csv': 'csv'}.get(options.fmt, 'json') }"
    tokenizer = Tokenizer()
    records: list[Record] = []
    tokens: list[list[str]] = []
    rejects: list[Reject] = []
    try:
        importer = iter_import(stream, options)
        for item in importer:
            if isinstance(item, Reject):
                rejects.append(item)
            else:
                records.append(item)
                tokens.append(tokenizer.record_tokens(item.text, item.keywords))
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
    summary = {
        "project_id": project_id,
        "format": importer.format,
        "received": len(records) + len(rejects),
        "rejected": len(rejects),
        "skipped_cancelled": importer.skipped_cancelled,
        "errors": [r.to_dict() for r in rejects[:MAX_ERRORS_RETURNED]],
    }
    if strict and rejects:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            f"strict import: {len(rejects)} bad row(s); nothing was imported",
            {**summary, "imported": 0, "updated": 0},
        )
    inserted = updated = 0
    if records:
        with state.db.scope() as session:
            result = upsert_records(session, project_id, records, tokens)
            inserted, updated = result.inserted, result.updated
        state.cache.invalidate_project(project_id)
    # Re-submitted records whose content did not change count as "unchanged".
    unchanged = len({r.id for r in records}) - inserted - updated
    return {**summary, "imported": inserted, "updated": updated, "unchanged": unchanged}


@router.post("/projects/{project_id}/records", status_code=200)
async def import_records(
    project_id: str,
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require_project(Permission.IMPORT_DATA))],
    fmt: Annotated[
        str | None, Query(alias="format", pattern="^(auto|json|jsonl|csv|labelstudio)$")
    ] = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Import records (JSON array, NDJSON, CSV, Label Studio); idempotent on record id."""
    try:
        validate_project_id(project_id)
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
    body = await _read_body(request, state.settings.max_upload_mb * 1024 * 1024)
    if not body.strip():
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "body: empty upload")
    options = ImportOptions(
        fmt=_format(request.headers.get("content-type"), fmt),
        max_depth=state.settings.max_json_depth,
        max_csv_columns=state.settings.max_csv_columns,
        max_csv_header_bytes=state.settings.max_csv_header_kb * 1024,
    )
    result = await run_in_threadpool(_import, state, project_id, body, options, strict)
    log_user_action(
        principal.user_id,
        "import_records",
        f"project:{project_id}",
        {
            "imported": result["imported"],
            "updated": result["updated"],
            "rejected": result["rejected"],
        },
    )
    return result
