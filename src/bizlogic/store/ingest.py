"""Storing an import stream in batches: the one path behind `bizlogic import` and
POST /projects/{id}/records, so a file gives the same records whichever way it arrives.

Records are parsed, tokenised and written 5,000 at a time inside the caller's
transaction, so memory stays flat whatever the file's size, and a strict import
with a bad row (or an unreadable document) rolls back everything already written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bizlogic.records.importers import ImportStream, Reject
from bizlogic.records.schema import Record
from bizlogic.records.tokenizer import Tokenizer
from bizlogic.store.annotations import label_studio_annotator_kinds, upsert_records

IMPORT_BATCH = 5_000


@dataclass
class IngestTally:
    """What an import read and what it changed."""

    format: str = ""
    received: int = 0  # records and rejects; cancelled annotations are counted apart
    rejected: int = 0
    skipped_cancelled: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.received - self.rejected

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "received": self.received,
            "rejected": self.rejected,
            "skipped_cancelled": self.skipped_cancelled,
            "imported": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "notes": list(self.notes),
        }


class StrictImportFailed(Exception):
    """A strict import met bad rows; raised after the whole input was read so the
    count is complete, and inside the transaction so nothing stays written."""

    def __init__(self, tally: IngestTally) -> None:
        super().__init__(f"strict import: {tally.rejected} bad row(s); nothing was imported")
        self.tally = tally


def ingest(
    session: Any,
    project_id: str,
    stream: ImportStream,
    *,
    strict: bool = False,
    on_reject: Callable[[Reject], None] | None = None,
    batch_size: int = IMPORT_BATCH,
) -> IngestTally:
    """Read ``stream`` (from ``iter_import``, which already checked the format and header,
    so a file that cannot be read fails before the caller opens a database) and upsert
    its records into ``project_id`` through ``session``.

    Raises ValueError when the document turns out unreadable part-way and
    StrictImportFailed for a strict import with a bad row; in both cases the caller's
    transaction must be rolled back.
    """
    tally = IngestTally()
    stored_kinds = (
        label_studio_annotator_kinds(session, project_id)
        if stream.format.startswith("labelstudio")
        else set()
    )
    tokenizer = Tokenizer()
    batch: list[Record] = []
    tally.format = stream.format
    with stream:
        for item in stream:
            tally.received += 1
            if isinstance(item, Reject):
                tally.rejected += 1
                if on_reject is not None:
                    on_reject(item)
            elif not (strict and tally.rejected):  # strict: only count once a row failed
                batch.append(item)
                if len(batch) >= batch_size:
                    _store(session, project_id, batch, tokenizer, tally)
        tally.skipped_cancelled = stream.skipped_cancelled
        tally.notes = stream.notes + _mixed_names(stored_kinds, stream.annotator_kinds)
    if strict and tally.rejected:
        raise StrictImportFailed(tally)
    if batch:
        _store(session, project_id, batch, tokenizer, tally)
    return tally


def _mixed_names(stored: set[str], incoming: set[str]) -> list[str]:
    """A warning when this import names annotators differently from the project's
    earlier Label Studio records (user ids vs e-mails)."""
    new = incoming - stored
    if not stored or not new:
        return []
    return [
        f"this project's earlier Label Studio records name annotators by "
        f"{' and '.join(sorted(stored))}, this import by {' and '.join(sorted(new))}: "
        "the same people now have two names each in annotator statistics; import "
        "exports of one kind (Label Studio's default export names them by user id)"
    ]


def _store(
    session: Any, project_id: str, batch: list[Record], tokenizer: Tokenizer, tally: IngestTally
) -> None:
    tokens = [tokenizer.record_tokens(r.text, r.keywords) for r in batch]
    result = upsert_records(session, project_id, batch, tokens)
    tally.inserted += result.inserted
    tally.updated += result.updated
    # Re-submitted records whose content did not change count as "unchanged".
    tally.unchanged += len({r.id for r in batch}) - result.inserted - result.updated
    batch.clear()
