"""The canonical annotation record and its validation.

Every importer produces plain dicts and funnels them through
:func:`record_from_mapping`, so one place decides what a valid record is and
every error names the offending field.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

FIELDS = (
    "id",
    "project_id",
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
)


class RecordError(ValueError):
    """A record that cannot be accepted; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(slots=True)
class Record:
    id: str
    text: str
    project_id: str | None = None
    sentiment: str | None = None
    rating: float | None = None
    label: str | None = None
    annotator: str | None = None
    task_id: str | None = None
    lead_time: float | None = None
    status: str | None = None
    created_at: datetime | None = None
    keywords: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.created_at is not None:
            data["created_at"] = format_timestamp(self.created_at)
        return data


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


MAX_FIELD_CHARS = 256  # ids, annotators, classes: indexed columns have a byte budget


def _stored(text: str, field: str) -> str | None:
    """Text PostgreSQL can store and index: no NUL character, bounded length."""
    if "\x00" in text:
        raise RecordError(field, "contains a NUL character (\\u0000)")
    if len(text) > MAX_FIELD_CHARS:
        raise RecordError(field, f"longer than {MAX_FIELD_CHARS} characters")
    return text or None


def normalize_class(value: Any, field: str) -> str | None:
    """Class values (sentiment, label) compare case-insensitively, so store them lower-cased."""
    if type(value) is str:  # fast path: the common case on million-row imports
        return _stored(value.strip().lower(), field)
    if value is None:
        return None
    if isinstance(value, list):
        # Label Studio multi-choice answers: keep the first choice, deterministic.
        if not value:
            return None
        value = value[0]
    if not isinstance(value, str | int):
        raise RecordError(field, f"expected a string, got {type(value).__name__}")
    return _stored(str(value).strip().lower(), field)


def parse_timestamp(value: Any, field: str = "created_at") -> datetime | None:
    """ISO-8601 strings or epoch seconds; naive values are taken as UTC."""
    if type(value) is str and len(value) == 20 and value[-1] == "Z":
        # Fast path for the canonical "YYYY-MM-DDTHH:MM:SSZ" form; anything odd
        # falls through to the full parser, which names the error.
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise RecordError(field, f"not a timestamp: {value!r}")
        # Values this large are milliseconds (Label Studio and JS clients send them).
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            parsed = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise RecordError(field, f"not a timestamp: {value!r}") from exc
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise RecordError(field, f"not an ISO-8601 timestamp: {value!r}") from exc
    else:
        raise RecordError(field, f"not a timestamp: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_float(value: Any, field: str) -> float | None:
    if type(value) is float and math.isfinite(value):  # fast path
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RecordError(field, f"not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(field, f"not a number: {value!r}") from exc
    if not math.isfinite(number):
        raise RecordError(field, f"not a finite number: {value!r}")
    return number


def _optional_str(value: Any, field: str) -> str | None:
    if type(value) is str:  # fast path
        return _stored(value.strip(), field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError(field, f"expected a string, got {type(value).__name__}")
    return _stored(str(value).strip(), field)


def _keywords(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        # CSV cells carry keyword lists as "a;b;c" or "a,b,c".
        sep = ";" if ";" in value else ","
        value = [part for part in value.split(sep)]
    if not isinstance(value, list):
        raise RecordError("keywords", f"expected a list of strings, got {type(value).__name__}")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise RecordError("keywords", f"expected strings, got {type(item).__name__}")
        word = _stored(item.strip().lower(), "keywords")
        if word and word not in out:
            out.append(word)
    return out


def derived_id(text: str, annotator: str | None, task_id: str | None, created_at: Any) -> str:
    """A stable id for records that arrive without one, so re-imports stay idempotent."""
    key = "\x1f".join([text, annotator or "", task_id or "", str(created_at or "")])
    return "h" + hashlib.blake2b(key.encode("utf-8"), digest_size=10).hexdigest()


def record_from_mapping(data: dict[str, Any], project_id: str | None = None) -> Record:
    """Validate one raw mapping into a :class:`Record` or raise :class:`RecordError`."""
    if not isinstance(data, dict):
        raise RecordError("record", f"expected an object, got {type(data).__name__}")
    text = data.get("text")
    if text is None:
        raise RecordError("text", "missing")
    if not isinstance(text, str):
        raise RecordError("text", f"expected a string, got {type(text).__name__}")
    if not text.strip():
        raise RecordError("text", "empty")
    if "\x00" in text:
        raise RecordError("text", "contains a NUL character (\\u0000)")
    annotator = _optional_str(data.get("annotator"), "annotator")
    task_id = _optional_str(data.get("task_id"), "task_id")
    created_at = parse_timestamp(data.get("created_at"))
    lead_time = parse_float(data.get("lead_time"), "lead_time")
    if lead_time is not None and lead_time < 0:
        raise RecordError("lead_time", f"negative: {lead_time}")
    record_id = _optional_str(data.get("id"), "id")
    if record_id is None:
        record_id = derived_id(
            text, annotator, task_id, created_at and format_timestamp(created_at)
        )
    return Record(
        id=record_id,
        text=text,
        project_id=_optional_str(data.get("project_id"), "project_id") or project_id,
        sentiment=normalize_class(data.get("sentiment"), "sentiment"),
        rating=parse_float(data.get("rating"), "rating"),
        label=normalize_class(data.get("label"), "label"),
        annotator=annotator,
        task_id=task_id,
        lead_time=lead_time,
        status=_optional_str(data.get("status"), "status"),
        created_at=created_at,
        keywords=_keywords(data.get("keywords")),
    )
