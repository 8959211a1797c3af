from datetime import UTC, datetime, timedelta, timezone

import pytest

from bizlogic.records.schema import Record, RecordError, derived_id, record_from_mapping


def test_full_record_is_normalised():
    record = record_from_mapping(
        {
            "id": 17,
            "text": "  Great phone ",
            "sentiment": " Positive ",
            "rating": "4.5",
            "label": "PRODUCT",
            "annotator": "ann01",
            "task_id": 3,
            "lead_time": 12,
            "status": "completed",
            "created_at": "2026-03-14T08:00:00+08:00",
            "keywords": ["Phone", "great", "phone"],
        },
        project_id="p1",
    )
    assert record == Record(
        id="17",
        text="  Great phone ",
        project_id="p1",
        sentiment="positive",
        rating=4.5,
        label="product",
        annotator="ann01",
        task_id="3",
        lead_time=12.0,
        status="completed",
        created_at=datetime(2026, 3, 14, 0, 0, tzinfo=UTC),
        keywords=["phone", "great"],
    )
    assert record.to_dict()["created_at"] == "2026-03-14T00:00:00Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # naive = UTC
        (1767323045, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (1767323045000, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # milliseconds
    ],
)
def test_timestamps(value, expected):
    assert record_from_mapping({"text": "x", "created_at": value}).created_at == expected


def test_timezone_is_kept_as_instant():
    tz = timezone(timedelta(hours=-5))
    record = record_from_mapping({"text": "x", "created_at": datetime(2026, 1, 1, tzinfo=tz)})
    assert record.created_at.astimezone(UTC) == datetime(2026, 1, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({}, "text", "missing"),
        ({"text": "   "}, "text", "empty"),
        ({"text": 5}, "text", "expected a string, got int"),
        ({"text": "x", "rating": "five"}, "rating", "not a number: 'five'"),
        ({"text": "x", "rating": True}, "rating", "not a number: True"),
        ({"text": "x", "rating": "nan"}, "rating", "not a finite number: 'nan'"),
        (
            {"text": "x", "created_at": "yesterday"},
            "created_at",
            "not an ISO-8601 timestamp: 'yesterday'",
        ),
        ({"text": "x", "created_at": [1]}, "created_at", "not a timestamp: [1]"),
        ({"text": "x", "lead_time": -3}, "lead_time", "negative: -3.0"),
        ({"text": "x", "keywords": [1]}, "keywords", "expected strings, got int"),
        ({"text": "x", "sentiment": {"a": 1}}, "sentiment", "expected a string, got dict"),
        ({"text": "x", "annotator": ["a"]}, "annotator", "expected a string, got list"),
    ],
)
def test_invalid_fields_are_named(data, field, reason):
    with pytest.raises(RecordError) as info:
        record_from_mapping(data)
    assert (info.value.field, info.value.reason) == (field, reason)


def test_not_an_object():
    with pytest.raises(RecordError, match="record: expected an object, got list"):
        record_from_mapping([1, 2])  # type: ignore[arg-type]


def test_missing_id_is_derived_stably():
    a = record_from_mapping(
        {"text": "hello", "annotator": "x", "created_at": "2026-01-01T00:00:00Z"}
    )
    b = record_from_mapping(
        {"text": "hello", "annotator": "x", "created_at": "2026-01-01T00:00:00Z"}
    )
    c = record_from_mapping(
        {"text": "hello", "annotator": "y", "created_at": "2026-01-01T00:00:00Z"}
    )
    assert a.id == b.id != c.id
    assert a.id == derived_id("hello", "x", None, "2026-01-01T00:00:00Z")
    assert a.id.startswith("h") and len(a.id) == 21


def test_keywords_from_csv_cell_and_multichoice_sentiment():
    record = record_from_mapping({"text": "x", "keywords": "A; b ;a", "sentiment": ["Neg", "Pos"]})
    assert record.keywords == ["a", "b"]
    assert record.sentiment == "neg"
