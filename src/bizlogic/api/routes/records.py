"""POST /projects/{project_id}/records: the same importers as the CLI, over HTTP."""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

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
IMPORT_BATCH = 5_000  # records parsed, tokenised and written at a time
SPOOL_IN_MEMORY_BYTES = 1024 * 1024  # larger bodies go to a temporary file in BL_DATA_DIR
EMPTY_PROBE_BYTES = 4096
_SUFFIXES = {"jsonl": "jsonl", "csv": "csv"}  # format detection reads the upload's name
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


async def _body_chunks(request: Request, limit_bytes: int) -> AsyncIterator[bytes]:
    """The body as it arrives; 413 once it passes the limit (a declared Content-Length
    over it was already refused by api/body_limits.py)."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            details = {"limit_bytes": limit_bytes}
            raise ApiError(413, ErrorCode.INVALID_REQUEST, "request body too large", details)
        yield chunk


async def _read_body(request: Request, limit_bytes: int) -> bytes:
    return b"".join([chunk async for chunk in _body_chunks(request, limit_bytes)])


class _Upload(io.RawIOBase):
    """The spooled body, named so that format detection sees the right extension."""

    def __init__(self, spool: IO[bytes], name: str) -> None:
        self._spool = spool
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._spool.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


async def _spool_body(request: Request, limit_bytes: int, directory: Path) -> IO[bytes]:
    """The body in a temporary file (memory only while small), counted against the limit.

    An upload of 100 MB then costs the server batches of records, not the
    body plus every record of it at once (3.3× its idle memory before).
    """
    # Closed by the caller's with-block, or below when the body is refused.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, dir=directory)  # noqa: SIM115
    try:
        async for chunk in _body_chunks(request, limit_bytes):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


@dataclass
class _Tally:
    received: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _store_batch(
    session: Any, project_id: str, batch: list[Record], tokenizer: Tokenizer, tally: _Tally
) -> None:
    tokens = [tokenizer.record_tokens(r.text, r.keywords) for r in batch]
    result = upsert_records(session, project_id, batch, tokens)
    tally.inserted += result.inserted
    tally.updated += result.updated
    # Re-submitted records whose content did not change count as "unchanged".
    tally.unchanged += len({r.id for r in batch}) - result.inserted - result.updated
    batch.clear()


def _import(
    state: AppState, project_id: str, upload: _Upload, options: ImportOptions, strict: bool
) -> dict[str, Any]:
    """Read and store in batches, in one transaction: a bad document or a strict
    import with a bad row rolls everything back."""
    tally = _Tally()
    tokenizer = Tokenizer()
    batch: list[Record] = []
    with state.db.scope() as session:
        try:
            importer = iter_import(upload, options)
            for item in importer:
                tally.received += 1
                if isinstance(item, Reject):
                    tally.rejected += 1
                    if len(tally.errors) < MAX_ERRORS_RETURNED:
                        tally.errors.append(item.to_dict())
                elif not (strict and tally.rejected):  # strict: only count once a row failed
                    batch.append(item)
                    if len(batch) >= IMPORT_BATCH:
                        _store_batch(session, project_id, batch, tokenizer, tally)
        except ValueError as exc:
            raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
        summary = {
            "project_id": project_id,
            "format": importer.format,
            "received": tally.received,
            "rejected": tally.rejected,
            "skipped_cancelled": importer.skipped_cancelled,
            "errors": tally.errors,
        }
        if strict and tally.rejected:
            raise ApiError(
                422,
                ErrorCode.INVALID_REQUEST,
                f"strict import: {tally.rejected} bad row(s); nothing was imported",
                {**summary, "imported": 0, "updated": 0},
            )
        if batch:
            _store_batch(session, project_id, batch, tokenizer, tally)
    if tally.inserted or tally.updated:
        state.cache.invalidate_project(project_id)
    return {
        **summary,
        "imported": tally.inserted,
        "updated": tally.updated,
        "unchanged": tally.unchanged,
    }


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
    spool = await _spool_body(
        request, state.settings.max_upload_mb * 1024 * 1024, state.settings.data_dir
    )
    options = ImportOptions(
        fmt=_format(request.headers.get("content-type"), fmt),
        max_depth=state.settings.max_json_depth,
        max_csv_columns=state.settings.max_csv_columns,
        max_csv_header_bytes=state.settings.max_csv_header_kb * 1024,
    )
    with spool:
        if not spool.read(EMPTY_PROBE_BYTES).strip() and not spool.read(1):
            raise ApiError(422, ErrorCode.INVALID_REQUEST, "body: empty upload")
        spool.seek(0)
        upload = _Upload(spool, f"upload.{_SUFFIXES.get(options.fmt, 'json')}")
        result = await run_in_threadpool(_import, state, project_id, upload, options, strict)
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
