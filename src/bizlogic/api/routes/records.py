"""POST /projects/{project_id}/records: the same importers as the CLI, over HTTP.

The import's audit event is written in its transaction: a strict import that
fails, or a document error, rolls both back.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from bizlogic.api.auth import Permission, Principal, require_project
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.records.import_request import ImportOptionError, import_options
from bizlogic.records.importers import ImportOptions, Reject, iter_import
from bizlogic.store import audit
from bizlogic.store.ingest import StrictImportFailed, ingest
from bizlogic.store.projects import validate_project_id
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["records"])
MAX_ERRORS_RETURNED = 100
SPOOL_IN_MEMORY_BYTES = 1024 * 1024  # larger bodies go to a temporary file in BL_DATA_DIR
EMPTY_PROBE_BYTES = 4096
# Content types that say "delimited text" (Label Studio's download says application/.csv).
# The content still decides comma or tab, and plain or Label Studio; JSON is told by its
# first byte whatever the header says (curl --data-binary sends a form type).
_DELIMITED_TYPES = frozenset(
    {
        "text/csv",
        "application/csv",
        "application/.csv",
        "text/tab-separated-values",
        "text/tsv",
        "application/.tsv",
    }
)
_NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/ndjson"})


def _upload_name(content_type: str | None, head: bytes) -> str:
    """The name format detection sees: 'body', with a suffix only where the content type
    settles what the first bytes cannot (a one-column CSV, NDJSON)."""
    media = (content_type or "").split(";")[0].strip().lower()
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if media in _NDJSON_TYPES:
        return "body.jsonl"
    if media in _DELIMITED_TYPES and first not in (b"[", b"{"):
        return "body.csv"
    return "body"


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


def _import(
    state: AppState,
    principal: Principal,
    project_id: str,
    upload: _Upload,
    options: ImportOptions,
    strict: bool,
) -> dict[str, Any]:
    """Read and store in batches, in one transaction: a bad document or a strict
    import with a bad row rolls everything back."""
    errors: list[dict[str, Any]] = []

    def keep(reject: Reject) -> None:
        if len(errors) < MAX_ERRORS_RETURNED:
            errors.append(reject.to_dict())

    try:
        stream = iter_import(upload, options)
        with state.db.scope() as session:
            tally = ingest(session, project_id, stream, strict=strict, on_reject=keep)
            counts = tally.as_dict()
            audit.record(
                session,
                principal,
                "records.import",
                project_id=project_id,
                details={
                    "format": counts["format"],
                    "strict": strict,
                    **{k: counts[k] for k in ("received", "imported", "updated", "rejected")},
                },
            )
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
    except StrictImportFailed as exc:
        summary = {"project_id": project_id, **exc.tally.as_dict(), "errors": errors}
        summary.update(imported=0, updated=0, unchanged=0)
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc), summary) from None
    if tally.inserted or tally.updated:
        state.cache.invalidate_project(project_id)
    return {"project_id": project_id, **tally.as_dict(), "errors": errors}


@router.post("/projects/{project_id}/records", status_code=200)
async def import_records(
    project_id: str,
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require_project(Permission.IMPORT_DATA))],
    fmt: Annotated[str | None, Query(alias="format")] = None,
    strict: bool = False,
    control: Annotated[list[str] | None, Query()] = None,
    text_key: str = "text",
    csv_map: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """Import records (JSON array, NDJSON, CSV/TSV, Label Studio); idempotent on record id.

    The same options as `bizlogic import`: `format`, `strict`, `control=NAME=TARGET` and
    `csv_map=FIELD=COLUMN` (repeatable), `text_key`. The format is read from the content.
    """
    try:
        validate_project_id(project_id)
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
    spool = await _spool_body(
        request, state.settings.max_upload_mb * 1024 * 1024, state.settings.data_dir
    )
    settings = state.settings
    try:
        options = import_options(
            fmt or "auto",
            csv_map,
            control,
            text_key,
            max_depth=settings.max_json_depth,
            max_csv_columns=settings.max_csv_columns,
            max_csv_header_bytes=settings.max_csv_header_kb * 1024,
        )
    except ImportOptionError as exc:
        raise ApiError(
            422, ErrorCode.INVALID_REQUEST, str(exc), {"parameter": exc.option}
        ) from None
    with spool:
        head = spool.read(EMPTY_PROBE_BYTES)
        if not head.strip() and not spool.read(1):
            raise ApiError(422, ErrorCode.INVALID_REQUEST, "body: empty upload")
        spool.seek(0)
        upload = _Upload(spool, _upload_name(request.headers.get("content-type"), head))
        result = await run_in_threadpool(
            _import, state, principal, project_id, upload, options, strict
        )
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
