"""Annotation records: idempotent bulk upsert and streaming reads for the miner.

Imports are idempotent on ``(project_id, record id)``: a re-import updates,
never duplicates. Counts are exact (``updated`` means the stored row really
changed) and unchanged records are not rewritten at all, which makes
re-importing a file cheap. The write is ``INSERT … ON CONFLICT DO UPDATE`` on
both backends, so a concurrent import of the same ids cannot create
duplicates. How a batch tells new from changed rows differs per backend (see
the two writers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from bizlogic.records.dataset import Dataset, DatasetBuilder
from bizlogic.records.schema import Record
from bizlogic.store import clock
from bizlogic.store.dialect import upsert_insert
from bizlogic.store.projects import get_or_create_project, touch_project
from bizlogic.store.tables import AnnotationRow

# Rows per write. SQLite binds every value (14 per row; its limit is 32 766);
# PostgreSQL binds one array per column, so bigger batches only cost memory.
BATCH_SIZES = {"sqlite": 1000, "postgresql": 5000}
READ_BATCH_SIZE = 5000

_TABLE = AnnotationRow.__table__
# Everything an import may change; compared to decide inserted / updated / unchanged.
_CONTENT = (
    "text",
    "sentiment",
    "rating",
    "label",
    "annotator",
    "task_id",
    "lead_time",
    "status",
    "created_at",
    "keywords",
    "tokens",
)
_JSON = ("keywords", "tokens")
_PG_ARRAY_TYPES = {
    "id": "text",
    "text": "text",
    "sentiment": "text",
    "rating": "float8",
    "label": "text",
    "annotator": "text",
    "task_id": "text",
    "lead_time": "float8",
    "status": "text",
    "created_at": "timestamptz",
    "keywords": "text",  # JSON travels as text and is cast per row
    "tokens": "text",
}


class UpsertCounts(NamedTuple):
    """``inserted`` new ids; ``updated`` stored records whose content changed.

    Records re-submitted unchanged count as neither, so ``distinct ids −
    inserted − updated`` of a batch were already stored exactly as given.
    """

    inserted: int
    updated: int


def _utc(value: datetime | None) -> datetime | None:
    """Naive timestamps are UTC (DESIGN §5); aware ones are compared and sent as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _content(record: Record, tokens: Sequence[str]) -> tuple[Any, ...]:
    return (
        record.text,
        record.sentiment,
        record.rating,
        record.label,
        record.annotator,
        record.task_id,
        record.lead_time,
        record.status,
        _utc(record.created_at),
        record.keywords,
        list(tokens),
    )


def _upsert(session: Session) -> Any:
    insert = upsert_insert(session, _TABLE)
    return insert, {name: insert.excluded[name] for name in (*_CONTENT, "updated_at")}


def _write_sqlite(session: Session, project_id: str, rows: list[dict[str, Any]]) -> UpsertCounts:
    """Read the stored versions of the batch's ids, then write only new or changed rows.

    SQLite answers the ``id IN (…)`` lookup from the primary key in any state,
    and has no way to tell an inserted row from an updated one in RETURNING.
    """
    stored = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            select(_TABLE.c.id, *(_TABLE.c[name] for name in _CONTENT)).where(
                _TABLE.c.project_id == project_id, _TABLE.c.id.in_([r["id"] for r in rows])
            )
        )
    }
    inserted = updated = 0
    changed = []
    for row in rows:
        previous = stored.get(row["id"])
        if previous is None:
            inserted += 1
        elif previous != tuple(row[name] for name in _CONTENT):
            updated += 1
        else:
            continue
        changed.append(row)
    if changed:
        insert, excluded = _upsert(session)
        statement = insert.on_conflict_do_update(
            index_elements=[_TABLE.c.project_id, _TABLE.c.id], set_=excluded
        )
        session.execute(statement, changed)
    return UpsertCounts(inserted, updated)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _pg_upsert_sql() -> str:
    columns = ", ".join(_CONTENT)
    # %(name)b: psycopg sends the arrays in binary, ~15x faster than escaping them as text.
    arrays = ", ".join(
        f"CAST(%({name})b AS {_PG_ARRAY_TYPES[name]}[])" for name in ("id", *_CONTENT)
    )
    values = ", ".join(f"CAST(u.{n} AS json)" if n in _JSON else f"u.{n}" for n in _CONTENT)
    assignments = ", ".join(f"{n} = excluded.{n}" for n in (*_CONTENT, "updated_at"))

    def comparable(prefix: str) -> str:
        return ", ".join(
            f"CAST({prefix}.{n} AS jsonb)" if n in _JSON else f"{prefix}.{n}" for n in _CONTENT
        )

    return (
        f"INSERT INTO annotations (project_id, id, {columns}, updated_at) "
        f"SELECT %(project_id)s, u.id, {values}, %(updated_at)s "
        f"FROM unnest({arrays}) AS u(id, {columns}) "
        "ON CONFLICT (project_id, id) DO UPDATE SET "
        f"{assignments} "
        f"WHERE ({comparable('annotations')}) IS DISTINCT FROM ({comparable('excluded')}) "
        "RETURNING xmax = 0"
    )


_PG_UPSERT = _pg_upsert_sql()


def _write_postgresql(
    session: Session, project_id: str, rows: list[dict[str, Any]]
) -> UpsertCounts:
    """One statement per batch: columns travel as arrays and are ``unnest``-ed server-side.

    Arrays keep the statement short and cheap to bind (a multi-row VALUES of
    70 000 parameters spends most of its time being parsed by the driver). The
    ``WHERE … IS DISTINCT FROM`` skips unchanged rows, and ``xmax = 0`` holds
    exactly for the row versions this statement inserted (an ON CONFLICT
    update leaves the locker's xid there). A pre-read like SQLite's is no
    option: without fresh statistics (the first big import) PostgreSQL plans
    ``id IN (…)`` as a sequential scan per batch.
    """
    params: dict[str, Any] = {"project_id": project_id, "updated_at": rows[0]["updated_at"]}
    params["id"] = [r["id"] for r in rows]
    for name in _CONTENT:
        column = [r[name] for r in rows]
        if name in _JSON:
            column = [None if v is None else _json_text(v) for v in column]
        elif _PG_ARRAY_TYPES[name] == "float8":
            column = [None if v is None else float(v) for v in column]
        params[name] = column
    result = session.connection().exec_driver_sql(_PG_UPSERT, params)
    flags = [bool(flag) for (flag,) in result]
    inserted = sum(flags)
    return UpsertCounts(inserted, len(flags) - inserted)


def upsert_records(
    session: Session,
    project_id: str,
    records: Sequence[Record],
    tokens: Sequence[Sequence[str]],
    *,
    batch_size: int | None = None,
) -> UpsertCounts:
    """Store ``records`` (with their precomputed ``tokens``) under ``project_id``.

    The ``project_id`` argument wins over ``Record.project_id``; the project row
    is created if missing. Duplicate ids within ``records``: the last one wins.
    Nothing is committed here — the caller's unit of work makes the whole
    import one transaction.
    """
    if len(records) != len(tokens):
        raise ValueError(f"got {len(records)} records but {len(tokens)} token lists")
    dialect = session.get_bind().dialect.name
    batch_size = batch_size or BATCH_SIZES.get(dialect, 1000)
    if batch_size < 1:
        raise ValueError("batch_size: must be at least 1")
    get_or_create_project(session, project_id)
    latest: dict[str, int] = {}
    for position, record in enumerate(records):
        latest[record.id] = position
    order = list(latest.values())
    write = _write_postgresql if dialect == "postgresql" else _write_sqlite
    inserted = updated = 0
    for start in range(0, len(order), batch_size):
        now = clock.utcnow()
        rows = []
        for i in order[start : start + batch_size]:
            row = dict(zip(_CONTENT, _content(records[i], tokens[i]), strict=True))
            row.update(project_id=project_id, id=records[i].id, updated_at=now)
            rows.append(row)
        counts = write(session, project_id, rows)
        inserted += counts.inserted
        updated += counts.updated
    if inserted or updated:
        touch_project(session, project_id)
    return UpsertCounts(inserted, updated)


def has_records(session: Session, project_id: str) -> bool:
    """Cheaper than a count on a million-record project: stops at the first row."""
    first = select(_TABLE.c.id).where(_TABLE.c.project_id == project_id).limit(1)
    return session.scalar(first) is not None


def label_studio_annotator_kinds(session: Session, project_id: str) -> set[str]:
    """How the project's Label Studio records name annotators: "email", "id" or both.

    Two indexed probes, so an import can warn before one person gets two names.
    """
    kinds = set()
    base = (_TABLE.c.project_id == project_id) & _TABLE.c.id.like("ls-%")
    for kind, condition in (
        ("email", _TABLE.c.annotator.like("%@%")),
        ("id", _TABLE.c.annotator.not_like("%@%")),
    ):
        probe = select(_TABLE.c.id).where(base & condition).limit(1)
        if session.scalar(probe) is not None:
            kinds.add(kind)
    return kinds


def count_records(session: Session, project_id: str) -> int:
    return int(session.scalar(select(func.count()).where(_TABLE.c.project_id == project_id)) or 0)


def _rows(session: Session, project_id: str, batch_size: int) -> Iterator[Row[Any]]:
    statement = (
        select(_TABLE)
        .where(_TABLE.c.project_id == project_id)
        .order_by(_TABLE.c.id)  # byte order on both backends (see tables.py)
        .execution_options(yield_per=batch_size)
    )
    yield from session.execute(statement)


def _record(row: Row[Any], keywords: list[str] | None) -> Record:
    return Record(
        id=row.id,
        text=row.text,
        project_id=row.project_id,
        sentiment=row.sentiment,
        rating=row.rating,
        label=row.label,
        annotator=row.annotator,
        task_id=row.task_id,
        lead_time=row.lead_time,
        status=row.status,
        created_at=row.created_at,
        keywords=keywords,
    )


def iter_project_records(
    session: Session, project_id: str, *, batch_size: int = READ_BATCH_SIZE
) -> Iterator[tuple[Record, list[str]]]:
    """Stream ``(record, stored tokens)`` in record-id order without loading the project."""
    for row in _rows(session, project_id, batch_size):
        yield _record(row, row.keywords), row.tokens


def build_project_dataset(
    session: Session, project_id: str, *, batch_size: int = READ_BATCH_SIZE
) -> Dataset:
    """The project's :class:`Dataset` from the stored tokens, without tokenizing again.

    The stored tokens are handed to the builder as the record's ``keywords``,
    the field that already overrides tokenization, so ``DatasetBuilder``
    needs no second entry point. Tokens the tokenizer made (not a record's own
    ``keywords``) pass today's filter again: numbers and stop words stored by
    earlier versions are dropped.
    """
    builder = DatasetBuilder()
    tokenizer = builder.tokenizer
    verdicts: dict[str, bool] = {}

    def current(token: str) -> bool:
        verdict = verdicts.get(token)
        if verdict is None:
            verdict = verdicts[token] = tokenizer.is_keyword(token)
        return verdict

    for row in _rows(session, project_id, batch_size):
        tokens = row.tokens if row.keywords is not None else [t for t in row.tokens if current(t)]
        builder.add(_record(row, tokens))
    return builder.build()
