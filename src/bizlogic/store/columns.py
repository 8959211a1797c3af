"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no timezone-aware timestamps and PostgreSQL returns them in the
session time zone; :class:`UTCDateTime` stores UTC on both and always hands
back aware UTC datetimes, so comparisons and JSON output never depend on the
backend or the server's ``TimeZone`` setting.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` holding UTC; naive input is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite stores text; drop the offset so every stored value has one format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_column_type() -> JSON:
    """Portable JSON; Python ``None`` becomes SQL NULL rather than the JSON literal null."""
    return JSON(none_as_null=True)
